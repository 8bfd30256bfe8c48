//! The model against queueing theory, on scenarios that reduce to textbook queues.
//!
//! Each estimate comes with a confidence interval from batch means (20 batches of
//! consecutive jobs, Student t): the test passes when the theoretical value lies inside
//! the 99.9 % interval. Seeds are fixed, so the outcome is reproducible; the runs are long
//! enough that the intervals are a few percent wide. The warm-up test is about short runs
//! instead: its intervals come from independent replications (seeds).

use super::common::*;

/// t quantile for 0.9995 with 19 degrees of freedom.
const T_19_9995: f64 = 3.883;

fn batch_ci(xs: &[f64]) -> (f64, f64) {
    let k = 20;
    let n = xs.len() / k;
    assert!(n >= 50, "too few samples: {}", xs.len());
    let means: Vec<f64> = (0..k)
        .map(|b| xs[b * n..(b + 1) * n].iter().sum::<f64>() / n as f64)
        .collect();
    let m = means.iter().sum::<f64>() / k as f64;
    let var = means.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (k - 1) as f64;
    (m, T_19_9995 * (var / k as f64).sqrt())
}

fn assert_in_ci(what: &str, xs: &[f64], theory: f64) {
    let (m, half) = batch_ci(xs);
    eprintln!(
        "{what}: estimate {m:.4} ± {half:.4} (99.9%), theory {theory:.4}, n = {}",
        xs.len()
    );
    assert!(
        (m - theory).abs() <= half,
        "{what}: theory {theory} outside {m} ± {half}"
    );
    assert!(
        half < 0.1 * theory,
        "{what}: interval too wide to be a test ({half} vs {theory})"
    );
}

/// A fleet whose only work is on-demand transfers of exponential size: every other step
/// takes no time and never fails. `vms` is large so that two requests rarely hit the
/// same VM (which the service refuses while a job runs).
fn transfer_world(
    days: u32,
    vms: u32,
    per_vm_per_day: f64,
    mean_size: &str,
    link_bw: &str,
    fleet_extra: &str,
    vault_extra: &str,
) -> String {
    format!(
        r#"
[simulation]
name = "theory"
seed = 11
duration = "{days}d"
rpo_sample_every = "7d"
sample_every = "1d"

[[region]]
name = "r"

[[link]]
name = "link"
bandwidth = "{link_bw}"

[[vault]]
name = "v"
region = "r"
redundancy = "LRS"
create_time = "0s"
{vault_extra}

[[policy]]
name = "adhoc"
vault = "v"

[[fleet]]
name = "f"
count = {vms}
region = "r"
policy = "adhoc"
path = ["link"]
extension = {{ installed = 1.0 }}
# One disk: one flow per job, so a job is one customer of the link's processor sharing.
data_disks = 0
backup_size = {{ dist = "exponential", mean = "{mean_size}" }}
on_demand = {{ per_vm_per_day = {per_vm_per_day} }}
{fleet_extra}

[timing]
extension_upgrade = 0.0
snapshot_per_disk = "0s"
snapshot_task_failure = 0.0
transient_failure = 0.0
full_throughput_per_disk = "100 GB/s"
incremental_throughput_per_disk = "100 GB/s"
"#
    )
}

/// M/M/1-PS at load `rho` (E[S] = 7 s: 700 MB at 100 MB/s) from `vms` VMs over 2 h after
/// `warmup`, drained: the finite-source closed form of its mean sojourn, and the scenario.
fn ps_two_hours(rho: f64, vms: u32, warmup: &str) -> (f64, String) {
    let (lambda, service) = (rho / 7.0, 7.0);
    let per_vm_per_day = lambda * 86_400.0 / vms as f64;
    let src = transfer_world(1, vms, per_vm_per_day, "700 MB", "100 MB/s", "", "")
        .replace(
            "duration = \"1d\"",
            &format!("duration = \"2h\"\nwarmup = \"{warmup}\"\ndrain = true"),
        )
        .replace("rpo_sample_every = \"7d\"", "rpo_sample_every = \"1h\"")
        .replace("sample_every = \"1d\"", "sample_every = \"1h\"");
    (finite_source_ps_sojourn(lambda, service, vms), src)
}

fn in_progress_share(out: &backupsim::model::Outcome) -> f64 {
    out.summary
        .get("backup.failures.UserErrorBackupOperationInProgress")
        .copied()
        .unwrap_or(0.0)
        / get(&out.summary, "backup.attempts")
}

/// M/M/1 with processor sharing: one link of capacity C shared equally by all transfers,
/// Poisson arrivals, exponential sizes. Mean sojourn = E[S]/C / (1 − ρ).
#[test]
fn mm1_processor_sharing_mean_transfer_time() {
    // λ = 200 000 × 0.0432/day = 0.1 /s; E[S] = 700 MB at 100 MB/s → 7 s; ρ = 0.7.
    let src = transfer_world(30, 200_000, 0.0432, "700 MB", "100 MB/s", "", "");
    let (out, rows) = run_src(&src);
    assert!(in_progress_share(&out) < 1e-3);
    let xs: Vec<f64> = rows
        .iter()
        .filter(|r| r.outcome == "succeeded")
        .map(|r| r.phases_us[3] as f64 / 1e6)
        .collect();
    assert_in_ci("M/M/1-PS mean transfer time (s)", &xs, 7.0 / (1.0 - 0.7));
}

/// Erlang C: probability of waiting in an M/M/c queue.
fn erlang_c(c: u32, a: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..c {
        term *= a / k as f64;
        sum += term;
    }
    let last = term * a / c as f64 * (c as f64 / (c as f64 - a));
    last / (sum + last)
}

/// M/M/c FIFO: a vault admitting `c` jobs at once, each transfer at its VM's fixed cap
/// (no shared bottleneck), exponential sizes. Mean wait = C(c, a) / (cμ − λ).
fn mmc_case(c: u32, rho: f64, days: u32) {
    // Service: E[S] = 1 GB at 100 MB/s → 10 s, μ = 0.1 /s. λ = ρ c μ.
    let lambda = rho * c as f64 * 0.1;
    let vms = 200_000u32;
    let per_vm_per_day = lambda * 86_400.0 / vms as f64;
    let src = transfer_world(
        days,
        vms,
        per_vm_per_day,
        "1 GB",
        "1 TB/s",
        "max_throughput = \"100 MB/s\"",
        &format!("max_concurrent_jobs = {c}"),
    );
    let (out, rows) = run_src(&src);
    assert!(in_progress_share(&out) < 1e-3);
    let waits: Vec<f64> = rows
        .iter()
        .filter(|r| r.outcome == "succeeded")
        .map(|r| r.phases_us[0] as f64 / 1e6)
        .collect();
    let a = lambda / 0.1;
    let theory = erlang_c(c, a) / (c as f64 * 0.1 - lambda);
    assert_in_ci(
        &format!("M/M/{c} ρ={rho} mean queue wait (s)"),
        &waits,
        theory,
    );
}

#[test]
fn mmc_erlang_c_two_servers_half_load() {
    mmc_case(2, 0.5, 20);
}

#[test]
fn mmc_erlang_c_four_servers_high_load() {
    mmc_case(4, 0.8, 40);
}

#[test]
fn erlang_c_reference_values() {
    // Textbook values: C(1, ρ) = ρ; C(2, 1) = 1/3.
    assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
    assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
}

/// Little's law on link occupancy: the time-average number of transfers on a link equals
/// the transfers' total time on it divided by the run length, on a multi-path network.
#[test]
fn littles_law_on_link_occupancy() {
    let mut src = transfer_world(10, 100_000, 0.04, "2 GB", "400 MB/s", "", "");
    src = src.replace("path = [\"link\"]", "path = [\"access-a\", \"link\"]");
    src.push_str(
        r#"
[[link]]
name = "access-a"
bandwidth = "150 MB/s"

[[link]]
name = "access-b"
bandwidth = "300 MB/s"

[[fleet]]
name = "g"
count = 100000
region = "r"
policy = "adhoc"
path = ["access-b", "link"]
extension = { installed = 1.0 }
data_disks = 0
backup_size = { dist = "exponential", mean = "3 GB" }
on_demand = { per_vm_per_day = 0.03 }
"#,
    );
    let (out, rows) = run_src(&src);
    let total = 10.0 * 86_400.0;
    let transfer_secs = |fleet: Option<&str>| -> f64 {
        rows.iter()
            .filter(|r| r.outcome == "succeeded" && fleet.is_none_or(|f| r.fleet == f))
            .map(|r| r.phases_us[3] as f64 / 1e6)
            .sum::<f64>()
            / total
    };
    for (link, fleet) in [
        ("link", None),
        ("access-a", Some("f")),
        ("access-b", Some("g")),
    ] {
        let l = get(&out.summary, &format!("link.{link}.mean_flows"));
        let w = transfer_secs(fleet);
        eprintln!("{link}: time-average flows {l:.4}, Σ sojourn / T {w:.4}");
        // Equal up to the transfers still running at the end of the run.
        assert!((l - w).abs() <= 0.01 * w, "{link}: {l} vs {w}");
    }
}

/// Mean sojourn of the accepted jobs of an M/M/1-PS queue whose arrivals come from `vms`
/// VMs at rate λ/`vms` each while idle (the service refuses a second job on a busy VM):
/// the number in system is the finite-source birth–death chain with birth rate
/// λ(V − n)/V and death rate 1/E[S], and Little's law gives E[T] = E[N] / λ_accepted. As
/// V → ∞ it tends to the textbook E[S] / (1 − ρ).
fn finite_source_ps_sojourn(lambda: f64, mean_service: f64, vms: u32) -> f64 {
    let v = vms as f64;
    let (mut p, mut n_sum, mut accepted) = (1.0, 0.0, 0.0);
    for n in 0..=vms {
        let birth = lambda * (v - n as f64) / v;
        n_sum += n as f64 * p;
        accepted += birth * p;
        p *= birth * mean_service;
        if p < 1e-300 {
            break;
        }
    }
    n_sum / accepted
}

#[test]
fn finite_source_reference_values() {
    // One VM: never more than one job, so no sharing.
    assert!((finite_source_ps_sojourn(0.1, 7.0, 1) - 7.0).abs() < 1e-12);
    // Many VMs: the M/M/1-PS value.
    let t = finite_source_ps_sojourn(0.9 / 7.0, 7.0, 10_000_000);
    assert!((t - 70.0).abs() < 1e-3 * 70.0, "{t}");
}

/// Sums of the transfer times of the successful jobs of a run: all of them, and those
/// scheduled at or after `from`.
struct TransferSums {
    from: u64,
    all: (f64, f64),
    after: (f64, f64),
}

impl backupsim::model::Observer for TransferSums {
    fn wants_jobs(&self) -> bool {
        true
    }
    fn job(&mut self, r: &backupsim::model::JobRecord<'_>) {
        if r.outcome == "succeeded" {
            let t = r.phases[3].as_micros() as f64 / 1e6;
            self.all.0 += t;
            self.all.1 += 1.0;
            if r.scheduled.as_micros() >= self.from {
                self.after.0 += t;
                self.after.1 += 1.0;
            }
        }
    }
}

/// Ratio estimate Σ sᵢ / Σ nᵢ over independent runs `(sᵢ, nᵢ)` with the half-width of
/// its 95 % confidence interval (delta method, Student t).
fn ratio_ci(runs: &[(f64, f64)]) -> (f64, f64) {
    let r = runs.len() as f64;
    let (s, n): (f64, f64) = runs
        .iter()
        .fold((0.0, 0.0), |(a, b), (s, n)| (a + s, b + n));
    let m = s / n;
    let var = runs.iter().map(|(s, n)| (s - m * n).powi(2)).sum::<f64>() / (r - 1.0);
    // t quantile for 0.975 with several hundred degrees of freedom.
    (m, 1.965 * (var / r).sqrt() / (n / r))
}

/// A run starts empty, so at high load a short run is biased low: its first jobs find the
/// link idle. M/M/1-PS at ρ = 0.9 (E[S] = 7 s; 2 000 VMs, whose closed form is the
/// finite-source one: 65.0 s rather than 70 s) over 2 h, run to completion (`drain`), with
/// the first hour as warm-up, over 800 seeds: the jobs after the warm-up (the metrics)
/// give a 95 % interval that covers the closed form, while all the jobs of the same runs
/// (the metrics of a run without warm-up) give one that misses it. The seeds run on two
/// threads; the estimates do not depend on which thread ran which seed.
#[test]
fn warm_up_removes_the_empty_start_bias() {
    const VMS: u32 = 2_000;
    const RUNS: u64 = 800;
    let (truth, src) = ps_two_hours(0.9, VMS, "1h");
    let mut config = backupsim::scenario::load_str(&src, std::path::Path::new("t.toml"), &[])
        .unwrap()
        .config;
    // Per seed: (transfer-time sum, jobs) after the warm-up, from the metrics; and of all
    // the jobs, from the rows.
    let one = |config: &mut backupsim::model::Config, seed: u64| {
        config.simulation.seed = seed;
        let mut sums = TransferSums {
            from: 3600 * SEC,
            all: (0.0, 0.0),
            after: (0.0, 0.0),
        };
        let out = backupsim::model::simulate(config, &mut sums).unwrap();
        let m = &out.summary;
        let n = get(m, "backup.jobs.succeeded");
        // The metrics count exactly the jobs scheduled after the warm-up.
        assert_eq!(n, sums.after.1, "seed {seed}");
        approx(get(m, "backup.phase.transfer.mean"), sums.after.0 / n, 1e-3);
        assert_eq!(get(m, "backup.jobs.in_flight"), 0.0);
        (
            seed,
            (get(m, "backup.phase.transfer.mean") * n, n),
            sums.all,
        )
    };
    let mut runs: Vec<_> = std::thread::scope(|threads| {
        let workers: Vec<_> = (0..2)
            .map(|t| {
                let mut config = config.clone();
                threads.spawn(move || {
                    (1..=RUNS)
                        .filter(|seed| seed % 2 == t)
                        .map(|seed| one(&mut config, seed))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    runs.sort_by_key(|r| r.0);
    let warm: Vec<(f64, f64)> = runs.iter().map(|r| r.1).collect();
    let cold: Vec<(f64, f64)> = runs.iter().map(|r| r.2).collect();
    // Without the warm-up, the metrics are those of all the jobs.
    config.simulation.warmup = Default::default();
    config.simulation.seed = RUNS;
    let out = backupsim::model::run(&config).unwrap();
    let (s, n) = cold[RUNS as usize - 1];
    assert_eq!(get(&out.summary, "backup.jobs.succeeded"), n);
    approx(get(&out.summary, "backup.phase.transfer.mean"), s / n, 1e-3);

    let (w, w_half) = ratio_ci(&warm);
    let (c, c_half) = ratio_ci(&cold);
    eprintln!(
        "M/M/1-PS ρ = 0.9, 2 h, {RUNS} seeds: closed form {truth:.2} s; 1 h warm-up: {w:.2} ± {w_half:.2} s; none: {c:.2} ± {c_half:.2} s"
    );
    assert!(
        (w - truth).abs() <= w_half,
        "with a warm-up: {truth} outside {w} ± {w_half}"
    );
    assert!(
        c + c_half < truth,
        "without a warm-up the estimate should be biased low: {truth} inside {c} ± {c_half}"
    );
}

/// Coverage of the 95 % interval over replications (Student t, as sweep.csv computes it):
/// M/M/1-PS at ρ = 0.5 (E[S] = 7 s, 50 VMs: the finite-source closed form) over 2 h with a
/// 30 min warm-up, drained. 200 independent experiments of 5 replications each (seeds
/// 1..=1000, fixed): the interval of each experiment's per-run means covers the closed form
/// in 90 % to 99 % of them (the binomial band around 95 % for 200 trials is about 92 % to
/// 98 %; the per-run means are close to normal but not exactly).
#[test]
fn replication_intervals_cover_the_closed_form() {
    const VMS: u32 = 50;
    const EXPERIMENTS: u64 = 200;
    const REPS: u64 = 5;
    let (truth, src) = ps_two_hours(0.5, VMS, "30m");
    let config = backupsim::scenario::load_str(&src, std::path::Path::new("t.toml"), &[])
        .unwrap()
        .config;
    let mean_of = |config: &mut backupsim::model::Config, seed: u64| {
        config.simulation.seed = seed;
        let out = backupsim::model::run(config).unwrap();
        get(&out.summary, "backup.phase.transfer.mean")
    };
    let mut means: Vec<(u64, f64)> = std::thread::scope(|threads| {
        let workers: Vec<_> = (0..2)
            .map(|t| {
                let mut config = config.clone();
                threads.spawn(move || {
                    (1..=EXPERIMENTS * REPS)
                        .filter(|seed| seed % 2 == t)
                        .map(|seed| (seed, mean_of(&mut config, seed)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    means.sort_by_key(|m| m.0);
    let covered = means
        .chunks(REPS as usize)
        .filter(|reps| {
            let xs: Vec<f64> = reps.iter().map(|r| r.1).collect();
            let s = backupsim::outputs::sweeps::stats(&xs).unwrap();
            let (lo, hi) = s.ci95.unwrap();
            lo <= truth && truth <= hi
        })
        .count() as u64;
    eprintln!(
        "M/M/1-PS ρ = 0.5: closed form {truth:.3} s; {covered} of {EXPERIMENTS} intervals of {REPS} replications cover it"
    );
    assert!(
        (180..=198).contains(&covered),
        "95% intervals covered the closed form in {covered} of {EXPERIMENTS} experiments, outside 90-99%"
    );
}

/// Batch means of one long run (`run --batches 20`): M/M/1-PS at ρ = 0.5 (50 VMs, the
/// finite-source closed form) over 10 days after a 1 h warm-up. The 95 % interval of
/// `batches.backup.duration.mean` from 20 batches covers the closed form and is a few
/// percent wide. The success rate (below 1: a request for a busy VM fails) has an
/// interval around the run's own rate.
#[test]
fn batch_means_of_one_long_run_cover_the_closed_form() {
    const VMS: u32 = 50;
    let (lambda, service) = (0.5 / 7.0, 7.0);
    let truth = finite_source_ps_sojourn(lambda, service, VMS);
    let per_vm_per_day = lambda * 86_400.0 / VMS as f64;
    let src = transfer_world(10, VMS, per_vm_per_day, "700 MB", "100 MB/s", "", "")
        .replace("duration = \"10d\"", "duration = \"10d\"\nwarmup = \"1h\"")
        .replace("rpo_sample_every = \"7d\"", "rpo_sample_every = \"1h\"");
    let mut config = backupsim::scenario::load_str(&src, std::path::Path::new("t.toml"), &[])
        .unwrap()
        .config;
    config.simulation.batches = 20;
    let out = backupsim::model::run(&config).unwrap();
    let batches = &out.batches["backup.duration.mean"];
    assert_eq!(batches.len(), 20);
    let s = backupsim::outputs::sweeps::batch_summary(&out.batches);
    let (m, half) = (
        s["batches.backup.duration.mean"],
        s["batches.backup.duration.mean.ci95"],
    );
    eprintln!("M/M/1-PS ρ = 0.5, 20 batches: {m:.3} ± {half:.3} s, closed form {truth:.3} s");
    assert!((m - truth).abs() <= half, "{truth} outside {m} ± {half}");
    assert!(
        half < 0.05 * truth,
        "interval too wide to be a test: {half}"
    );
    // The batches' mean is close to the run's own mean (batches hold similar counts).
    approx(m, get(&out.summary, "backup.duration.mean"), 0.01);
    let (r, r_half) = (
        s["batches.backup.success_rate"],
        s["batches.backup.success_rate.ci95"],
    );
    let run_rate = get(&out.summary, "backup.success_rate");
    assert!(
        r < 1.0 && r_half > 0.0 && (r - run_rate).abs() <= r_half,
        "{r} ± {r_half}"
    );
    assert!(s.contains_key("batches.rpo.mean.ci95"));
}

/// `sweep --target`: M/M/1-PS at ρ = 0.5 (50 VMs, the finite-source closed form), 2 h
/// after a 30 min warm-up, drained. Replications are added until the 95 % interval of the
/// mean transfer time is within 5 % of its mean; the sweep stops there (neither at the
/// start nor at the cap), and the interval it stops with covers the closed form.
#[test]
fn adaptive_sweep_stops_within_its_target_and_covers_the_closed_form() {
    const VMS: u32 = 50;
    let (truth, src) = ps_two_hours(0.5, VMS, "30m");
    let t = tempfile::tempdir().unwrap();
    let sc = t.path().join("mm1ps.toml");
    std::fs::write(&sc, src).unwrap();
    let out = t.path().join("sweep");
    let o = super::common::bin()
        .args(["sweep", sc.to_str().unwrap(), "--replications", "3"])
        .args([
            "--target",
            "backup.phase.transfer.mean=5%",
            "--max-replications",
            "60",
        ])
        .args([
            "--threads",
            "2",
            "--no-plots",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", super::common::stderr(&o));
    let mut rdr = csv::Reader::from_path(out.join("sweep.csv")).unwrap();
    let head = rdr.headers().unwrap().clone();
    let row = rdr.records().next().unwrap().unwrap();
    let col = |name: &str| -> &str { &row[head.iter().position(|h| h == name).unwrap()] };
    let n: u32 = col("replications").parse().unwrap();
    let m: f64 = col("backup.phase.transfer.mean.mean").parse().unwrap();
    let lo: f64 = col("backup.phase.transfer.mean.ci95_lo").parse().unwrap();
    let hi: f64 = col("backup.phase.transfer.mean.ci95_hi").parse().unwrap();
    eprintln!("M/M/1-PS ρ = 0.5, adaptive: {n} replications, {m:.3} s in [{lo:.3}, {hi:.3}], closed form {truth:.3} s");
    assert_eq!(col("target.backup.phase.transfer.mean.met"), "true");
    assert!(
        n > 3 && n < 60,
        "{n} replications: neither the start nor the cap"
    );
    assert!(
        (hi - lo) / 2.0 <= 0.05 * m,
        "half-width {} over 5 %",
        (hi - lo) / 2.0
    );
    assert!(lo <= truth && truth <= hi, "{truth} outside [{lo}, {hi}]");
}
