//! `backupsim status`: how far a sweep got, across its shard directories, while it runs.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::outputs::results::{staging_owner, Owner};
use crate::outputs::sweeps::*;

/// What `backupsim status` found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusReport {
    /// Complete runs (in any of the directories).
    pub done: usize,
    /// Runs being written now (a staging directory of a running process).
    pub running: usize,
    /// Runs started by a process that ended before finishing them (a staging directory
    /// left behind): the next sweep of their shard runs them again.
    pub failed: usize,
    /// Runs not started. With targets: those known to be needed.
    pub remaining: usize,
    /// With targets: replications that points still short of their targets may add
    /// beyond `remaining`, at most.
    pub more_at_most: usize,
    /// Shard locks held, with their holders.
    pub shards: Vec<String>,
    /// Estimated seconds left (remaining, running and failed runs at the mean cost of
    /// the complete ones, as many at once as are running now).
    pub eta_seconds: Option<f64>,
    /// The report, as printed.
    pub text: String,
}

/// How a run that is not complete stands, from the staging directories in `dirs`.
fn run_progress(dirs: &[PathBuf], r: &Run, held: &[(u32, Option<String>)]) -> Option<bool> {
    let prefix = format!(".rep-{}.partial-", r.replication);
    let mut found = None;
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(d.join("runs").join(&r.point.id)) else {
            continue;
        };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().to_string();
            let Some(rest) = n.strip_prefix(&prefix) else {
                continue;
            };
            let running = match staging_owner(rest) {
                Owner::Running(_) => true,
                Owner::Gone(_) => false,
                // Another host: running while its writer holds a shard lock.
                Owner::Unknown(_) => rest.split_once('@').is_some_and(|(pid, host)| {
                    held.iter().any(|(p, h)| {
                        pid == p.to_string()
                            && h.as_deref()
                                .is_some_and(|h| host.starts_with(&format!("{h}-")))
                    })
                }),
            };
            found = Some(found.unwrap_or(false) || running);
        }
    }
    found
}

/// The one sweep the directories hold (an error if they hold none, or different ones).
fn one_definition(dirs: &[PathBuf]) -> Result<Definition> {
    let mut def: Option<Definition> = None;
    for d in dirs {
        let Some(this) = read_definition(d)? else {
            return Err(Error::Usage(format!(
                "{}: not a sweep directory (expected sweep.json, written by `backupsim sweep`)",
                d.display()
            )));
        };
        if let Some(first) = &def {
            let diff = first.differences(&this);
            if !diff.is_empty() {
                return Err(Error::Usage(format!(
                    "{} and {} hold different sweeps (they differ in: {})",
                    dirs[0].display(),
                    d.display(),
                    diff.join(", ")
                )));
            }
        } else {
            def = Some(this);
        }
    }
    def.ok_or_else(|| Error::Usage("status: expected at least one sweep directory".into()))
}

/// `backupsim status SWEEP_DIR [SHARD_DIR...]`: how far a sweep is, over the given
/// directories (shards writing into separate directories, or one shared directory),
/// while it runs or after. Reads only; a lock file whose holder is gone is removed, as
/// any sweep command does.
pub fn status(dirs: &[PathBuf]) -> Result<StatusReport> {
    let def = one_definition(dirs)?;
    let mut rep = StatusReport::default();
    let mut held = Vec::new();
    for d in dirs {
        for (s, h) in held_shards(d)? {
            rep.shards.push(format!(
                "shard {}/{} in {}: {h}",
                s.index,
                s.count,
                d.display()
            ));
            if let Some(pid) = h.pid {
                held.push((pid, h.host.clone()));
            }
        }
    }
    if let Some(d) = dirs.iter().find(|d| runs_dropped(d)) {
        // Finished and aggregated: runs.csv lists every run, their directories are gone.
        rep.done = read_runs(d, &def)?.len();
        rep.text = format!(
            "sweep {}: finished ({} aggregated, run directories removed)\ndone: {}\nrunning: 0\nfailed: 0\nremaining: 0\nestimated time left: none\n",
            def.scenario_name,
            d.display(),
            rep.done
        );
        return Ok(rep);
    }
    let locate = |r: &Run| {
        dirs.iter()
            .map(|d| d.join(r.rel_dir()))
            .find(|d| complete(d))
    };
    let mut cache = SummaryCache::default();
    let mut walls = Vec::new();
    for p in def.points() {
        let (needed, extra) = match point_state(&def, &p, &locate, &mut cache)? {
            PointState::Done(n) => (Vec::new(), n..n),
            PointState::Need(v) if def.targets.is_empty() => (v, 0..0),
            PointState::Need(v) => {
                let next = v.last().map_or(0, |r| r + 1).max(def.replications);
                (v, next..def.cap())
            }
        };
        for r in 0..def.cap() {
            let run = def.run(&p, r);
            if let Some(d) = locate(&run) {
                rep.done += 1;
                if let Ok(w) = run_costs(&d)[0].parse::<f64>() {
                    walls.push(w);
                }
                continue;
            }
            if needed.contains(&r) {
                match run_progress(dirs, &run, &held) {
                    Some(true) => rep.running += 1,
                    Some(false) => rep.failed += 1,
                    None => rep.remaining += 1,
                }
            } else if extra.contains(&r) {
                rep.more_at_most += 1;
            }
        }
    }
    rep.text = render(&def, &mut rep, &walls);
    Ok(rep)
}

/// The report's text; sets its time left from the walls of the complete runs.
fn render(def: &Definition, rep: &mut StatusReport, walls: &[f64]) -> String {
    let points = def.points().len();
    let mut text = if def.targets.is_empty() {
        format!(
            "sweep {}: {points} point(s) x {} replication(s) = {} runs\n",
            def.scenario_name,
            def.replications,
            points * def.replications as usize
        )
    } else {
        format!(
            "sweep {}: {points} point(s), {} to {} replication(s) each until the targets are met\n",
            def.scenario_name,
            def.replications,
            def.cap()
        )
    };
    text += &format!("done: {}\n", rep.done);
    text += &format!("running: {}\n", rep.running);
    for s in &rep.shards {
        text += &format!("  {s}\n");
    }
    text += &format!(
        "failed: {}{}\n",
        rep.failed,
        if rep.failed > 0 {
            " (left unfinished by a process that ended; the next sweep of their shard runs them again)"
        } else {
            ""
        }
    );
    if def.targets.is_empty() {
        text += &format!("remaining: {}\n", rep.remaining);
    } else {
        text += &format!(
            "remaining: {} now, and up to {} more while points are short of their targets\n",
            rep.remaining, rep.more_at_most
        );
    }
    let left = rep.remaining + rep.running + rep.failed;
    if left == 0 && rep.more_at_most == 0 {
        text += "estimated time left: none\n";
    } else if walls.is_empty() {
        text += "estimated time left: unknown (no run is complete yet)\n";
    } else {
        let mean = walls.iter().sum::<f64>() / walls.len() as f64;
        let at_once = rep.running.max(1);
        let eta = left as f64 * mean / at_once as f64;
        rep.eta_seconds = Some(eta);
        text += &format!(
            "estimated time left: about {} ({left} run(s) at the mean {} of {} complete run(s), {at_once} at a time{})\n",
            crate::units::fmt_duration(eta),
            crate::units::fmt_duration(mean),
            walls.len(),
            if def.targets.is_empty() { "" } else { "; more if targets add replications" }
        );
    }
    text
}
