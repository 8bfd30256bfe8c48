//! The model against queueing theory, on scenarios that reduce to textbook queues.
//!
//! Each estimate comes with a confidence interval from batch means (20 batches of
//! consecutive jobs, Student t): the test passes when the theoretical value lies inside
//! the 99.9 % interval. Seeds are fixed, so the outcome is reproducible; the runs are long
//! enough that the intervals are a few percent wide.

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
