//! Runs a planner can trust: every run ends, no file that is not ours is touched, and a
//! closed pipe or a full device never turns into a panic.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_backupsim"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// The quickstart shrunk to a few VMs and two days.
fn tiny(dir: &Path) -> PathBuf {
    let src = std::fs::read_to_string("scenarios/quickstart.toml")
        .unwrap()
        .replace("count = 240", "count = 6")
        .replace("count = 60", "count = 3")
        .replace("duration = \"7d\"", "duration = \"2d\"")
        .replace("at = \"5d 10h\"", "at = \"1d 10h\"")
        .replace("count = 10\nkind", "count = 2\nkind");
    let p = dir.join("tiny.toml");
    std::fs::write(&p, src).unwrap();
    p
}

fn no_panic(o: &Output) {
    let e = stderr(o);
    assert!(!e.contains("panicked"), "panic: {e}");
    assert_ne!(o.status.code(), Some(101), "{e}");
}

#[test]
fn midnight_schedule_terminates() {
    let t = tempfile::tempdir().unwrap();
    let sc = tiny(t.path());
    let out = t.path().join("out");
    let mut child = bin()
        .args([
            "run",
            sc.to_str().unwrap(),
            "--quiet",
            "--no-plots",
            "--out",
        ])
        .arg(&out)
        .args(["--set", "policy.nightly.schedule={daily=\"00:00\"}"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("a policy at 00:00 did not finish within 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success());
    // Two nights at 00:00 (t = 0 and t = 1 d) for 9 VMs, of which some are unsupported.
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&summary).unwrap();
    let total =
        v["backup.jobs.total"].as_f64().unwrap() + v["backup.jobs.unsupported"].as_f64().unwrap();
    assert!(
        total >= 18.0,
        "two occurrences of 9 VMs, found {total} jobs"
    );
}

#[test]
fn out_dir_with_foreign_files_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let sc = tiny(t.path());
    let out = t.path().join("mine");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("thesis.tex"), "precious").unwrap();
    let o = run(&[
        "run",
        sc.to_str().unwrap(),
        "--quiet",
        "--no-plots",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("thesis.tex"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(out.join("thesis.tex")).unwrap(),
        "precious"
    );
    let left: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "nothing else written: {left:?}");
    // The same rule for sweeps and merges.
    for args in [
        vec![
            "sweep",
            sc.to_str().unwrap(),
            "--vary",
            "fleet.web.count=2,3",
            "--replications",
            "1",
            "--quiet",
            "--no-plots",
            "--out",
            out.to_str().unwrap(),
        ],
        vec![
            "merge",
            out.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-plots",
            "--quiet",
        ],
        vec!["plot", out.to_str().unwrap()],
    ] {
        let o = run(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let inside: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            inside,
            vec![std::ffi::OsString::from("thesis.tex")],
            "{args:?}"
        );
    }
}

#[test]
fn out_dir_that_is_a_file_or_the_working_directory_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let sc = tiny(t.path());
    let file = t.path().join("notes.txt");
    std::fs::write(&file, "mine").unwrap();
    let o = run(&[
        "run",
        sc.to_str().unwrap(),
        "--quiet",
        "--no-plots",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    for out in [".", ""] {
        let dir = if out.is_empty() {
            t.path().to_str().unwrap()
        } else {
            out
        };
        let o = bin()
            .current_dir(t.path())
            .args(["run", "tiny.toml", "--quiet", "--no-plots", "--out", dir])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "--out {dir}: {}", stderr(&o));
        assert!(stderr(&o).contains("working directory"), "{}", stderr(&o));
    }
    let mut left: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("notes.txt"), "tiny.toml".into()]
    );
}

#[test]
fn replacing_a_results_directory_says_so() {
    let t = tempfile::tempdir().unwrap();
    let sc = tiny(t.path());
    let out = t.path().join("r");
    let args = [
        "run",
        sc.to_str().unwrap(),
        "--no-plots",
        "--out",
        out.to_str().unwrap(),
    ];
    let first = run(&args);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(!stderr(&first).contains("replacing"));
    let second = run(&args);
    assert!(second.status.success(), "{}", stderr(&second));
    let e = stderr(&second);
    assert!(
        e.contains(&format!("replacing {}, written 2", out.display())),
        "{e}"
    );
    assert!(e.contains(" UTC"), "{e}");
}

#[test]
fn broken_pipe_exits_quietly() {
    let t = tempfile::tempdir().unwrap();
    let sc = tiny(t.path());
    for args in [vec!["schema"], vec!["validate", sc.to_str().unwrap()]] {
        let mut child = bin()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end at once, as `| head -c0` would.
        drop(child.stdout.take());
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?} printed: {err}");
    }
}

#[test]
fn full_device_is_an_error_not_a_panic() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let sc = tiny(t.path());
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let o = bin()
        .args(["validate", sc.to_str().unwrap()])
        .stdout(full())
        .output()
        .unwrap();
    no_panic(&o);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("standard output"), "{}", stderr(&o));
    // A full stderr: the run still completes and reports success.
    let out = t.path().join("r");
    let o = bin()
        .args([
            "run",
            sc.to_str().unwrap(),
            "--no-plots",
            "--out",
            out.to_str().unwrap(),
        ])
        .stderr(full())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(out.join("summary.json").is_file());
}

#[test]
fn sample_interval_longer_than_the_run_is_rejected() {
    let t = tempfile::tempdir().unwrap();
    let sc = tiny(t.path());
    for key in ["sample_every", "rpo_sample_every"] {
        let set = format!("simulation.{key}=3d");
        let o = run(&["validate", sc.to_str().unwrap(), "--set", &set]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains(&format!("simulation.{key}")) && e.contains("at most the run's duration"),
            "{e}"
        );
    }
}

#[test]
fn check_without_expectations_is_bad_input() {
    let t = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(tiny(t.path())).unwrap();
    let cut = src.find("[[expect]]").map_or(src.as_str(), |i| &src[..i]);
    let sc = t.path().join("plain.toml");
    std::fs::write(&sc, cut).unwrap();
    let o = run(&["check", sc.to_str().unwrap(), "--quiet"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("[[expect]]"), "{}", stderr(&o));
    assert!(!Path::new("results/quickstart-plain").exists());
    let left: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "no run was simulated: {left:?}");
}

#[cfg(unix)]
#[test]
fn written_files_follow_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let sc = tiny(t.path());
    let out = t.path().join("sw");
    let o = bin()
        .args([
            "sweep",
            sc.to_str().unwrap(),
            "--vary",
            "fleet.web.count=2,3",
            "--replications",
            "1",
            "--threads",
            "1",
            "--quiet",
            "--no-plots",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // The test harness runs with the usual umask 022; compare with a file made plainly.
    let probe = t.path().join("probe");
    std::fs::write(&probe, "").unwrap();
    let want = std::fs::metadata(&probe).unwrap().permissions().mode() & 0o777;
    for f in ["sweep.json", "sweep.csv", "runs.csv", "points.csv"] {
        let mode = std::fs::metadata(out.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, want, "{f}: {mode:o} vs {want:o}");
    }
    let dir_mode = std::fs::metadata(out.join("points"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(
        dir_mode,
        want | ((want & 0o444) >> 2),
        "points/: {dir_mode:o}"
    );
}
