//! The figures of a results directory (see the table in the `plots` module doc): which
//! inputs give which figure, and each figure family in its own module.

use std::path::Path;

use super::emit::Figure;
use super::input::{load_hist, Table};
use super::{PlotError, PLOT_NAMES};
use crate::outputs::results::read::read_summary;

mod cdf;
mod nights;
mod outcomes;
mod panels;
mod phases;
mod storage;
#[cfg(test)]
mod tests;
mod timeline;

pub(super) use cdf::CdfFig;
pub(super) use nights::NightsFig;
pub(super) use outcomes::OutcomesFig;
pub(super) use phases::PhaseFig;
pub(super) use storage::VaultFig;
pub(super) use timeline::TimelineFig;

/// The figures of the results directory `dir` whose input exists, in the order of
/// [`PLOT_NAMES`], titled with `scenario`. Missing inputs skip their figure; unreadable or
/// malformed inputs are errors.
pub(super) fn figures(
    dir: &Path,
    scenario: &str,
) -> Result<Vec<(&'static str, Figure)>, PlotError> {
    let summary_path = dir.join("summary.json");
    let summary = if summary_path.exists() {
        Some(read_summary(dir).map_err(|source| PlotError::Summary {
            path: summary_path,
            source,
        })?)
    } else {
        None
    };
    let ts_path = dir.join("timeseries.csv");
    let timeseries = if ts_path.exists() {
        Some(Table::read(&ts_path)?)
    } else {
        None
    };

    let start = crate::outputs::results::read::start_date(dir);
    let mut figures: Vec<(&str, Figure)> = Vec::new();
    if let Some(h) = load_hist(&dir.join("histograms/backup.duration.hdr"))? {
        figures.push((
            PLOT_NAMES[0],
            Figure::Cdf(CdfFig::backup_duration(&h, scenario)),
        ));
    }
    if let Some(f) = summary
        .as_ref()
        .and_then(|s| PhaseFig::from_summary(s, scenario))
    {
        figures.push((PLOT_NAMES[1], Figure::Phase(f)));
    }
    if let Some(f) = from_series(&timeseries, |t| TimelineFig::from_table(t, scenario, start))? {
        figures.push((PLOT_NAMES[2], Figure::Timeline(f)));
    }
    if let Some(f) = summary
        .as_ref()
        .and_then(|s| OutcomesFig::from_summary(s, scenario))
    {
        figures.push((PLOT_NAMES[3], Figure::Outcomes(f)));
    }
    if let Some(f) = from_series(&timeseries, |t| VaultFig::from_table(t, scenario, start))? {
        figures.push((PLOT_NAMES[4], Figure::Vault(f)));
    }
    if let Some(h) = load_hist(&dir.join("histograms/rpo.hdr"))? {
        figures.push((PLOT_NAMES[5], Figure::Cdf(CdfFig::rpo(&h, scenario))));
    }
    let nights = crate::outputs::results::nights::read_nights(dir).map_err(|e| PlotError::Io {
        path: dir.join("nights.csv"),
        source: std::io::Error::other(e.to_string()),
    })?;
    if let Some(f) = nights
        .as_deref()
        .and_then(|rows| NightsFig::from_rows(rows, scenario))
    {
        figures.push((PLOT_NAMES[6], Figure::Nights(f)));
    }
    if let Some(f) = from_series(&timeseries, |t| {
        VaultFig::cost_from_table(t, scenario, start)
    })? {
        figures.push((PLOT_NAMES[7], Figure::Vault(f)));
    }
    Ok(figures)
}

/// The figure `make` draws from the time series, if the run has one and `make` finds its
/// columns in it.
fn from_series<F>(
    t: &Option<Table>,
    make: impl FnOnce(&Table) -> Result<Option<F>, PlotError>,
) -> Result<Option<F>, PlotError> {
    Ok(t.as_ref().map(make).transpose()?.flatten())
}

/// Upper end of a linear axis showing values up to `max`.
fn headroom(max: f64) -> f64 {
    if max > 0.0 {
        max * 1.1
    } else {
        1.0
    }
}
