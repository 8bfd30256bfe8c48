//! `scripts/slurm-sweep.sh`: it submits a 4-task job array and a dependent merge job; the
//! merged directory must equal a single-machine sweep byte for byte (run.json aside), and a
//! failed array task must fail the script, naming the task and its log.
//!
//! The tests on a real Slurm cluster run only where `sbatch` is on PATH and `sinfo`
//! answers; elsewhere they print why they are skipping and pass. `scripts/ci-slurm.sh` sets
//! up a one-node cluster and runs them with `BACKUPSIM_SLURM=1`, which turns "Slurm not
//! available" into a failure. The same script is also run everywhere against a stand-in
//! `sbatch` and `squeue` (shell scripts put first on PATH) that run each job at once on
//! this machine.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::common::tree;

const BIN: &str = env!("CARGO_BIN_EXE_backupsim");

const SCENARIO: &str = super::common::TINY_SWEEP;

/// Why Slurm cannot be used here, if it cannot.
fn unavailable() -> Option<String> {
    match Command::new("sbatch")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Err(_) => return Some("sbatch is not on PATH".into()),
        Ok(s) if !s.success() => return Some("`sbatch --version` failed".into()),
        Ok(_) => {}
    }
    let mut child = match Command::new("sinfo")
        .arg("-h")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return Some(format!("cannot run sinfo: {e}")),
    };
    // sinfo can hang for a long time when slurmctld is down; do not wait for it.
    let t0 = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(s)) if s.success() => return None,
            Ok(Some(_)) => {
                let mut err = String::new();
                use std::io::Read;
                let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
                return Some(format!("sinfo does not answer: {}", err.trim()));
            }
            Ok(None) if t0.elapsed() > Duration::from_secs(10) => {
                let _ = child.kill();
                return Some("sinfo did not answer within 10 s".into());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Some(format!("sinfo: {e}")),
        }
    }
}

/// Whether the tests on a real cluster must skip (saying why on stderr).
fn skip_without_slurm() -> bool {
    let Some(why) = unavailable() else {
        return false;
    };
    if std::env::var("BACKUPSIM_SLURM").as_deref() == Ok("1") {
        panic!("BACKUPSIM_SLURM=1 but Slurm is not available: {why}");
    }
    eprintln!("skipping: Slurm not available ({why}); run scripts/ci-slurm.sh as root to set up a one-node cluster and run this test");
    true
}

/// Every file of a Slurm log directory, named, for a failure message.
fn all_logs(logs: &Path) -> String {
    let mut names: Vec<_> = std::fs::read_dir(logs)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .map(|p| {
            format!(
                "--- {}\n{}",
                p.display(),
                std::fs::read_to_string(p).unwrap_or_default()
            )
        })
        .collect()
}

/// The job id the script printed after `what` ("array job", "merge job").
fn job_id(stdout: &str, what: &str) -> String {
    let at = stdout
        .find(&format!("{what} "))
        .unwrap_or_else(|| panic!("no {what:?} in: {stdout}"));
    stdout[at + what.len() + 1..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

#[test]
fn job_array_and_merge_equal_a_single_machine_sweep() {
    if skip_without_slurm() {
        return;
    }
    let t0 = Instant::now();
    // Under the target directory rather than /tmp: Slurm jobs must see it, and on a real
    // cluster the build tree is more likely to be on a shared filesystem than /tmp is.
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let tmp = tempfile::tempdir_in(base).unwrap();
    let scenario = tmp.path().join("slurm-tiny.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let sweep_flags = [
        "--vary",
        "fleet.web.count=20,40",
        "--vary",
        "link.wan.bandwidth=1 Gbit/s,200 Mbit/s",
        "--replications",
        "3",
    ];

    let out = tmp.path().join("slurm");
    let head = [
        "-n",
        "4",
        "--wait",
        "--bin",
        BIN,
        "--out",
        out.to_str().unwrap(),
        "--",
    ];
    let o = script(
        &[&head[..], &[scenario.to_str().unwrap()], &sweep_flags].concat(),
        &[],
        None,
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    let logs = tmp.path().join("slurm.slurm");
    let log = |n: &str| std::fs::read_to_string(logs.join(n)).unwrap_or_default();
    assert!(
        o.status.success(),
        "slurm-sweep.sh failed: {stdout}{}\nlogs:\n{}",
        String::from_utf8_lossy(&o.stderr),
        all_logs(&logs)
    );
    eprint!("{stdout}");
    assert!(stdout.contains("all 4 array tasks of job"), "{stdout}");
    let array = job_id(&stdout, "array job");
    let merge = job_id(&stdout, "merge job");
    for i in 0..4 {
        let l = log(&format!("shard-{array}_{i}.out"));
        assert!(
            l.contains(&format!("shard {i}/4: 3 of 12 runs")),
            "shard {i} log: {l}"
        );
        eprint!("shard-{array}_{i}.out: {l}");
    }
    eprint!("merge-{merge}.out: {}", log(&format!("merge-{merge}.out")));

    let single = tmp.path().join("single");
    let o = Command::new(BIN)
        .args(["sweep", scenario.to_str().unwrap()])
        .args(sweep_flags)
        .args(["--out", single.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let (a, b) = (tree(&single), tree(&out));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "file lists differ"
    );
    for (k, v) in &a {
        assert!(
            v == &b[k],
            "{k} differs between the single-machine and the Slurm sweep"
        );
    }
    eprintln!(
        "slurm: 4-task array + merge == single-machine sweep: {} files compared byte for byte (run.json excluded) in {:.1} s",
        a.len(),
        t0.elapsed().as_secs_f64()
    );
}

/// A stand-in for `sbatch`: runs the job at once, on this machine (array tasks one after
/// another), with Slurm's environment variables and `--output` pattern, and records in
/// `$FAKE_SLURM_STATE` whether it failed, so that a job with `--dependency=afterok` on it
/// is cancelled without running, as `--kill-on-invalid-dep=yes` makes Slurm do.
const FAKE_SBATCH: &str = r#"#!/usr/bin/env bash
set -u
state=${FAKE_SLURM_STATE:?}
array="" output="slurm-%j.out" dep="" chdir="" script=""
for a in "$@"; do
    case "$a" in
        --version) echo "slurm 0.0 (stand-in)"; exit 0 ;;
        --array=*) array=${a#--array=} ;;
        --output=*) output=${a#--output=} ;;
        --dependency=*) dep=${a#--dependency=} ;;
        --chdir=*) chdir=${a#--chdir=} ;;
        -*) ;;
        *) script=$a ;;
    esac
done
echo "$*" >> "$state/submitted"
id=$(cat "$state/next-id" 2>/dev/null || echo 1000)
echo $((id + 1)) > "$state/next-id"
[ -n "$chdir" ] && cd "$chdir"
if [ -n "$dep" ] && [ -e "$state/${dep#afterok:}.failed" ]; then
    touch "$state/$id.failed"
    echo "$id"
    exit 0
fi
if [ -n "$array" ]; then
    lo=${array%-*} hi=${array#*-}
    for ((t = lo; t <= hi; t++)); do
        log=${output//%A/$id}; log=${log//%a/$t}
        ( SLURM_JOB_ID=$((id + 1 + t)) SLURM_ARRAY_JOB_ID=$id SLURM_ARRAY_TASK_ID=$t \
            SLURM_ARRAY_TASK_MIN=$lo SLURM_ARRAY_TASK_MAX=$hi SLURM_ARRAY_TASK_COUNT=$((hi - lo + 1)) \
            bash "$script" > "$log" 2>&1 ) 2>/dev/null || touch "$state/$id.failed"
    done
    echo $((id + 2 + hi)) > "$state/next-id"
else
    log=${output//%j/$id}
    ( SLURM_JOB_ID=$id bash "$script" > "$log" 2>&1 ) 2>/dev/null || touch "$state/$id.failed"
fi
echo "$id"
"#;

/// A stand-in for `squeue`: the stand-in `sbatch` has run every job already.
const FAKE_SQUEUE: &str = "#!/bin/sh\nexit 0\n";

/// A directory holding the stand-in `sbatch` and `squeue`, and their state directory.
fn stand_in_slurm(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("stand-in-slurm");
    let state = dir.join("stand-in-state");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    for (name, text) in [("sbatch", FAKE_SBATCH), ("squeue", FAKE_SQUEUE)] {
        let p = bin.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (bin, state)
}

/// A `--bin` for the script that is backupsim, except that array task 1's sweep fails
/// (exit 1) and array task 2 kills its own job script (as a time or memory limit would:
/// the job ends without recording an exit status).
fn failing_bin(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("backupsim-failing");
    std::fs::write(
        &p,
        format!(
            r#"#!/bin/sh
if [ "$1" = sweep ] && [ "${{SLURM_ARRAY_TASK_ID:-}}" = 1 ]; then
    echo "injected failure in task 1" >&2
    exit 1
fi
if [ "$1" = sweep ] && [ "${{SLURM_ARRAY_TASK_ID:-}}" = 2 ]; then
    echo "task 2 kills its job script" >&2
    # Never Slurm's own step daemon (should the job script ever exec this binary).
    if [ "$(cat /proc/$PPID/comm 2>/dev/null)" != slurmstepd ]; then kill -9 "$PPID"; fi
    exit 1
fi
exec {BIN} "$@"
"#
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// Runs `scripts/slurm-sweep.sh` with `args`, `path_first` (if any) first on PATH.
fn script(args: &[&str], env: &[(&str, &str)], path_first: Option<&Path>) -> std::process::Output {
    let mut c = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm-sweep.sh"));
    c.args(args).env_remove("SLURM_ARRAY_TASK_ID");
    if let Some(p) = path_first {
        let path = std::env::var("PATH").unwrap_or_default();
        c.env("PATH", format!("{}:{path}", p.display()));
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// Submits a 4-task sweep whose tasks 1 and 2 fail, with `-w`: the script must exit 1,
/// naming each failed task with its log, and say the merge did not run. Submitting again
/// with a working binary resumes and completes the sweep (equal to a single-machine one)
/// without overwriting the first submission's logs.
fn failed_task_is_reported(base: &Path, env: &[(&str, &str)], path_first: Option<&Path>) {
    let scenario = base.join("slurm-tiny.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let out = base.join("sw");
    let logs = base.join("sw.slurm");
    let bad = failing_bin(base);
    let flags = ["--vary", "fleet.web.count=20,40", "--replications", "2"];
    let submit = |bin: &Path| {
        let mut a = vec!["-n", "4", "-w", "--bin", bin.to_str().unwrap()];
        a.extend([
            "--out",
            out.to_str().unwrap(),
            "--",
            scenario.to_str().unwrap(),
        ]);
        a.extend(flags);
        script(&a, env, path_first)
    };

    let o = submit(&bad);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    );
    let all = format!("{stdout}{stderr}\nlogs:\n{}", all_logs(&logs));
    assert_eq!(o.status.code(), Some(1), "{all}");
    let array = job_id(&stdout, "array job");
    let merge = job_id(&stdout, "merge job");
    let log1 = logs.join(format!("shard-{array}_1.out"));
    let log2 = logs.join(format!("shard-{array}_2.out"));
    assert!(
        stderr.contains(&format!(
            "array task 1 of job {array} (shard 1/4) failed with exit status 1; log: {}",
            log1.display()
        )),
        "{all}"
    );
    assert!(
        std::fs::read_to_string(&log1)
            .unwrap()
            .contains("injected failure in task 1"),
        "{all}"
    );
    assert!(
        stderr.contains(&format!(
            "array task 2 of job {array} (shard 2/4) ended without an exit status"
        )) && stderr.contains(&format!("log: {}", log2.display())),
        "{all}"
    );
    assert!(
        !stderr.contains("array task 0") && !stderr.contains("array task 3"),
        "{all}"
    );
    assert!(
        stderr.contains(&format!(
            "merge job {merge} did not run: an array task failed"
        )),
        "{all}"
    );
    assert!(
        stderr.contains("submit the same command again to resume"),
        "{all}"
    );
    assert!(!out.join("sweep.csv").exists());

    // Resubmitted with a working binary: the failed shards run, the merge completes.
    let o = submit(Path::new(BIN));
    let stdout2 = String::from_utf8_lossy(&o.stdout).to_string();
    let all = format!(
        "{stdout2}{}\nlogs:\n{}",
        String::from_utf8_lossy(&o.stderr),
        all_logs(&logs)
    );
    assert!(o.status.success(), "{all}");
    assert!(stdout2.contains("all 4 array tasks of job"), "{all}");
    let array2 = job_id(&stdout2, "array job");
    assert_ne!(array, array2);
    assert!(
        std::fs::read_to_string(&log1)
            .unwrap()
            .contains("injected failure in task 1"),
        "the first submission's log was overwritten"
    );
    let l = std::fs::read_to_string(logs.join(format!("shard-{array2}_1.out"))).unwrap();
    assert!(l.contains("1 run now"), "{l}");

    let single = base.join("single");
    let o = Command::new(BIN)
        .args(["sweep", scenario.to_str().unwrap()])
        .args(flags)
        .args(["--out", single.to_str().unwrap(), "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (a, b) = (tree(&single), tree(&out));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert!(
        a == b,
        "the resumed Slurm sweep differs from a single-machine sweep"
    );
}

/// On a real Slurm cluster (skipped, saying why, without one).
#[test]
fn failed_array_task_fails_the_script() {
    if skip_without_slurm() {
        return;
    }
    let base = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    failed_task_is_reported(base.path(), &[("SLURM_SWEEP_POLL", "1")], None);
}

/// The same, against the stand-in `sbatch` and `squeue`: runs everywhere.
#[test]
fn failed_array_task_fails_the_script_under_a_stand_in_slurm() {
    let base = tempfile::tempdir().unwrap();
    let (path, state) = stand_in_slurm(base.path());
    failed_task_is_reported(
        base.path(),
        &[("FAKE_SLURM_STATE", state.to_str().unwrap())],
        Some(&path),
    );
}

/// The pre-flight check runs the sweep's own flags over every point of the grid: a value
/// that only one point gets, or a --set that breaks every point, stops the script (exit
/// 2) before anything is submitted.
#[test]
fn preflight_checks_every_point_with_the_sweeps_flags() {
    let base = tempfile::tempdir().unwrap();
    let (path, state) = stand_in_slurm(base.path());
    let scenario = base.path().join("slurm-tiny.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let out = base.path().join("sw");
    let env = [("FAKE_SLURM_STATE", state.to_str().unwrap())];
    for (flags, want) in [
        (
            &["--vary", "fleet.web.count=20,many"][..],
            "point p001 (fleet.web.count=many) is not a valid scenario",
        ),
        (
            &["--set", "fleet.web.policy=weekly"][..],
            "fleet.web.policy",
        ),
    ] {
        let mut a = vec![
            "-n",
            "2",
            "--bin",
            BIN,
            "--out",
            out.to_str().unwrap(),
            "--",
        ];
        a.push(scenario.to_str().unwrap());
        a.extend(flags);
        let o = script(&a, &env, Some(&path));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {err}");
        assert!(err.contains(want), "{flags:?}: expected {want:?} in {err}");
        assert!(
            !state.join("submitted").exists(),
            "{flags:?}: a job was submitted"
        );
        assert!(
            !out.exists(),
            "{flags:?}: the pre-flight check created {}",
            out.display()
        );
    }
    // A valid sweep is submitted; without -w the script says how to check on it.
    let mut a = vec![
        "-n",
        "2",
        "--bin",
        BIN,
        "--out",
        out.to_str().unwrap(),
        "--",
    ];
    a.push(scenario.to_str().unwrap());
    a.extend(["--vary", "fleet.web.count=20,40"]);
    let o = script(&a, &env, Some(&path));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("--status --out"), "{stdout}");
    let st = script(
        &["--status", "--out", out.to_str().unwrap()],
        &env,
        Some(&path),
    );
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(String::from_utf8_lossy(&st.stdout).contains("all 2 array tasks of job"));
}

/// Without `-n`, the array is sized from the grid: 8 runs per CPU without a pilot, and
/// from a pilot sweep's costs.csv (runs per task = task minutes × CPUs / mean wall
/// seconds per run) with `--pilot`; the sized array completes the sweep.
#[test]
fn array_is_sized_from_the_grid_and_a_pilot() {
    let base = tempfile::tempdir().unwrap();
    let (path, state) = stand_in_slurm(base.path());
    let scenario = base.path().join("slurm-tiny.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let env = [("FAKE_SLURM_STATE", state.to_str().unwrap())];
    let flags = ["--vary", "fleet.web.count=20,40,60", "--replications", "6"];
    let submit = |out: &Path, extra: &[&str]| {
        let mut a = vec!["-w", "--bin", BIN, "--out", out.to_str().unwrap()];
        a.extend(extra);
        a.extend(["--", scenario.to_str().unwrap()]);
        a.extend(flags);
        let o = script(&a, &env, Some(&path));
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(
            o.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        text
    };
    // 18 runs, 8 per CPU on 1 CPU: 3 tasks.
    let out = base.path().join("sw");
    let text = submit(&out, &[]);
    assert!(
        text.contains("sizing: 18 runs, 8 per task") && text.contains("-> 3 array task(s)"),
        "{text}"
    );
    assert!(out.join("sweep.csv").is_file());
    // A pilot whose runs took 60 s each: 30 min per task on 2 CPUs = 60 runs per task.
    let pilot = base.path().join("pilot");
    std::fs::create_dir_all(&pilot).unwrap();
    std::fs::write(
        pilot.join("costs.csv"),
        "point,replication,wall_seconds,events,events_per_second,peak_memory_bytes\np000,0,50,1,1,1\np000,1,70,1,1,1\n",
    )
    .unwrap();
    let out = base.path().join("sw2");
    let text = submit(
        &out,
        &["--pilot", pilot.to_str().unwrap(), "-c", "2", "-t", "9"],
    );
    // 9 min x 2 CPUs / 60 s = 18 runs per task: 1 task.
    assert!(
        text.contains("18 per task (60.000000 s per run in") && text.contains("-> 1 array task(s)"),
        "{text}"
    );
    // A pilot without costs.csv is refused before anything is submitted.
    let mut a = vec!["--bin", BIN, "--pilot", "/nonexistent", "--out"];
    let o3 = base.path().join("sw3");
    a.extend([o3.to_str().unwrap(), "--", scenario.to_str().unwrap()]);
    let o = script(&a, &env, Some(&path));
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no costs.csv"));
}

/// `slurm-sweep.sh --parts 2`: one run split into two parts as a job array, merged by the
/// dependent job into a directory whose summary, histograms, nights and time series are
/// byte-identical to the run in one process.
#[test]
fn partitioned_run_as_an_array_merges_to_the_whole_run() {
    if skip_without_slurm() {
        return;
    }
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let tmp = tempfile::tempdir_in(base).unwrap();
    let scenario = tmp.path().join("regions.toml");
    std::fs::write(&scenario, super::partition::regions_src()).unwrap();
    let out = tmp.path().join("merged");
    let o = script(
        &[
            "--parts",
            "2",
            "--wait",
            "--bin",
            BIN,
            "--out",
            out.to_str().unwrap(),
            "--",
            scenario.to_str().unwrap(),
        ],
        &[("SLURM_SWEEP_POLL", "1")],
        None,
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}\nlogs:\n{}",
        String::from_utf8_lossy(&o.stderr),
        all_logs(&tmp.path().join("merged.slurm"))
    );
    assert!(stdout.contains("all 2 array tasks of job"), "{stdout}");
    let whole = tmp.path().join("whole");
    let o = Command::new(BIN)
        .args(["run", scenario.to_str().unwrap(), "--quiet", "--no-plots"])
        .args(["--out", whole.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "summary.json",
        "histograms/backup.duration.hdr",
        "histograms/rpo.hdr",
        "nights.csv",
        "timeseries.csv",
    ] {
        assert!(
            std::fs::read(whole.join(f)).unwrap() == std::fs::read(out.join(f)).unwrap(),
            "{f} differs"
        );
    }
}
