//! Shards: which runs of a sweep one process (or one Slurm array task) owns.

use crate::error::{Error, Result};

// ---------------------------------------------------------------------------------------
// Sharding.

/// `--shard I/N`: this process runs the runs whose index `% N == I`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u32,
    /// Number of shards.
    pub count: u32,
}

impl Shard {
    /// Whether the run with global index `run` belongs to this shard. Round-robin, so
    /// every shard gets a similar mix of points (runs of one point cost about the same).
    pub fn owns(&self, run: usize) -> bool {
        run % self.count as usize == self.index as usize
    }
}

/// Parses `--shard I/N` or `--shard auto` (with `--shards N` for Kubernetes).
///
/// `auto` reads, in order: Slurm's `SLURM_ARRAY_TASK_ID` with `SLURM_ARRAY_TASK_COUNT`
/// (or `SLURM_ARRAY_TASK_MIN`/`MAX`), the index being relative to `SLURM_ARRAY_TASK_MIN`
/// (arrays must be contiguous, no `:step`); then Kubernetes' `JOB_COMPLETION_INDEX`, whose
/// total must come from `--shards N` (Kubernetes does not export it).
pub fn parse_shard(
    spec: &str,
    shards: Option<u32>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Shard> {
    let usage = |m: String| Error::Usage(format!("--shard {spec}: {m}"));
    let num = |name: &str, v: String| -> Result<u32> {
        v.trim().parse::<u32>().map_err(|_| {
            usage(format!(
                "expected a non-negative integer in {name}, found \"{v}\""
            ))
        })
    };
    let shard = if spec.trim() == "auto" {
        if let Some(id) = env("SLURM_ARRAY_TASK_ID") {
            let id = num("SLURM_ARRAY_TASK_ID", id)?;
            let min = env("SLURM_ARRAY_TASK_MIN")
                .map(|v| num("SLURM_ARRAY_TASK_MIN", v))
                .transpose()?
                .unwrap_or(0);
            let count = match (env("SLURM_ARRAY_TASK_COUNT"), env("SLURM_ARRAY_TASK_MAX")) {
                (Some(c), _) => num("SLURM_ARRAY_TASK_COUNT", c)?,
                (None, Some(max)) => num("SLURM_ARRAY_TASK_MAX", max)?.saturating_sub(min) + 1,
                (None, None) => {
                    return Err(usage("SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX is".into()))
                }
            };
            if let Some(n) = shards.filter(|n| *n != count) {
                return Err(usage(format!(
                    "--shards {n} disagrees with the Slurm array's {count} tasks"
                )));
            }
            Shard {
                index: id.saturating_sub(min),
                count,
            }
        } else if let Some(i) = env("JOB_COMPLETION_INDEX") {
            let index = num("JOB_COMPLETION_INDEX", i)?;
            let Some(count) = shards else {
                return Err(usage("JOB_COMPLETION_INDEX is set (Kubernetes): give the number of completions with --shards N".into()));
            };
            Shard { index, count }
        } else {
            return Err(usage(
                "expected a Slurm array task (SLURM_ARRAY_TASK_ID) or a Kubernetes indexed job (JOB_COMPLETION_INDEX), found neither; use --shard I/N outside a scheduler".into(),
            ));
        }
    } else {
        let Some((i, n)) = spec.split_once('/') else {
            return Err(usage("expected I/N (e.g. 0/4) or auto".into()));
        };
        let i = i
            .trim()
            .parse::<u32>()
            .map_err(|_| usage(format!("expected a shard index before `/`, found \"{i}\"")))?;
        let n = n
            .trim()
            .parse::<u32>()
            .map_err(|_| usage(format!("expected a shard count after `/`, found \"{n}\"")))?;
        if shards.is_some() {
            return Err(usage("--shards only goes with --shard auto".into()));
        }
        Shard { index: i, count: n }
    };
    if shard.count == 0 || shard.index >= shard.count {
        return Err(usage(format!(
            "expected 0 <= I < N, found shard {} of {}",
            shard.index, shard.count
        )));
    }
    Ok(shard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_assignment() {
        let none = |_: &str| None;
        let s = parse_shard("1/3", None, &none).unwrap();
        let owned: Vec<usize> = (0..10).filter(|&i| s.owns(i)).collect();
        assert_eq!(owned, [1, 4, 7]);
        // Every run belongs to exactly one shard.
        let shards: Vec<Shard> = (0..3).map(|i| Shard { index: i, count: 3 }).collect();
        for i in 0..100 {
            assert_eq!(shards.iter().filter(|s| s.owns(i)).count(), 1);
        }
        for bad in ["3/3", "1/0", "x/2", "1", "-1/2", "auto"] {
            assert!(
                matches!(parse_shard(bad, None, &none), Err(Error::Usage(_))),
                "{bad}"
            );
        }
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
        ]);
        assert_eq!(
            parse_shard("auto", None, &slurm).unwrap(),
            Shard { index: 2, count: 4 }
        );
        let minmax = env(&[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "4"),
            ("SLURM_ARRAY_TASK_MAX", "7"),
        ]);
        assert_eq!(
            parse_shard("auto", None, &minmax).unwrap(),
            Shard { index: 1, count: 4 }
        );
        assert!(parse_shard("auto", Some(3), &slurm).is_err());
        let k8s = env(&[("JOB_COMPLETION_INDEX", "3")]);
        assert_eq!(
            parse_shard("auto", Some(5), &k8s).unwrap(),
            Shard { index: 3, count: 5 }
        );
        assert!(parse_shard("auto", None, &k8s)
            .unwrap_err()
            .to_string()
            .contains("--shards"));
    }
}
