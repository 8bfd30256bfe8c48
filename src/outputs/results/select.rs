//! Which files a run writes (`--outputs`): the choice, its names and its defaults.

/// The names `--outputs` accepts, in the order they are written back.
pub const OUTPUT_NAMES: [&str; 5] = ["summary", "histograms", "timeseries", "jobs", "nights"];

/// The optional files of a results directory. `summary.json`, `run.json` and
/// `scenario.resolved.toml` are always written: every command that reads a results
/// directory (check, compare, the sweep's aggregates, resume) needs them, so `summary`
/// is accepted in a list but cannot be left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outputs {
    /// `histograms/*.hdr` (a sweep's merged per-point histograms and `.merged` columns).
    pub histograms: bool,
    /// `timeseries.csv`.
    pub timeseries: bool,
    /// `jobs.csv` (`--jobs-csv` and the scenario's `jobs_csv` are aliases of it).
    pub jobs: bool,
    /// `nights.csv`, one row per night, where the run writes one.
    pub nights: bool,
}

impl Default for Outputs {
    fn default() -> Self {
        Outputs::RUN_DEFAULT
    }
}

impl Outputs {
    /// What `run` writes by default (`jobs.csv` as the scenario's `jobs_csv` decides).
    pub const RUN_DEFAULT: Outputs = Outputs {
        histograms: true,
        timeseries: true,
        jobs: true,
        nights: true,
    };

    /// What a sweep's runs write by default: what the aggregates read (`summary.json`
    /// for sweep.csv and runs.csv, `run.json` for costs.csv, histograms for the merged
    /// per-point histograms), nothing else.
    pub const SWEEP_DEFAULT: Outputs = Outputs {
        histograms: true,
        timeseries: false,
        jobs: false,
        nights: false,
    };

    /// Reads a comma-separated list of [`OUTPUT_NAMES`]; the message names the unknown
    /// name and the valid ones.
    pub fn parse(s: &str) -> Result<Outputs, String> {
        let mut o = Outputs {
            histograms: false,
            timeseries: false,
            jobs: false,
            nights: false,
        };
        for name in s.split(',').map(str::trim) {
            match name {
                "summary" => {}
                "histograms" => o.histograms = true,
                "timeseries" => o.timeseries = true,
                "jobs" => o.jobs = true,
                "nights" => o.nights = true,
                _ => {
                    return Err(format!(
                        "unknown output \"{name}\"; expected a comma-separated list of {} (summary.json, run.json and scenario.resolved.toml are always written)",
                        OUTPUT_NAMES.join(", ")
                    ))
                }
            }
        }
        Ok(o)
    }

    /// The canonical list (`summary` first, then the chosen names in [`OUTPUT_NAMES`]
    /// order), as recorded in `sweep.json` and `run.json`.
    pub fn names(&self) -> String {
        let on = [
            true,
            self.histograms,
            self.timeseries,
            self.jobs,
            self.nights,
        ];
        OUTPUT_NAMES
            .iter()
            .zip(on)
            .filter(|(_, on)| *on)
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_print_canonically() {
        let o = Outputs::parse("jobs, summary,histograms").unwrap();
        assert!(o.jobs && o.histograms && !o.timeseries && !o.nights);
        assert_eq!(o.names(), "summary,histograms,jobs");
        assert_eq!(Outputs::parse("summary").unwrap().names(), "summary");
        assert_eq!(
            Outputs::parse(&Outputs::RUN_DEFAULT.names()).unwrap(),
            Outputs::RUN_DEFAULT
        );
        let e = Outputs::parse("summary,bogus").unwrap_err();
        assert!(
            e.contains("\"bogus\"") && e.contains("timeseries, jobs, nights"),
            "{e}"
        );
        assert!(Outputs::parse("").is_err());
    }
}
