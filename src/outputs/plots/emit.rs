//! Writing figures: each as SVG and PNG, at its size, into a `plots/` directory.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use super::run_figs::{CdfFig, NightsFig, OutcomesFig, PhaseFig, TimelineFig, VaultFig};
use super::solve_figs::SolveFig;
use super::style::DrawResult;
use super::sweep_figs::SweepFig;
use super::PlotError;

/// Any figure [`super::render`] or [`super::render_sweep`] draws.
pub(super) enum Figure {
    Cdf(CdfFig),
    Phase(PhaseFig),
    Timeline(TimelineFig),
    Outcomes(OutcomesFig),
    Vault(VaultFig),
    Nights(NightsFig),
    Sweep(SweepFig),
    Solve(SolveFig),
}

impl Figure {
    /// Canvas size in pixels.
    fn size(&self) -> (u32, u32) {
        match self {
            Figure::Outcomes(f) => f.size(),
            Figure::Nights(f) => f.size(),
            Figure::Timeline(_) | Figure::Vault(_) => (1200, 860),
            Figure::Sweep(f) => f.size(),
            Figure::Solve(f) => f.size(),
            _ => (1200, 700),
        }
    }

    /// Draws the figure on a white background.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        match self {
            Figure::Cdf(f) => f.draw(root),
            Figure::Phase(f) => f.draw(root),
            Figure::Timeline(f) => f.draw(root),
            Figure::Outcomes(f) => f.draw(root),
            Figure::Vault(f) => f.draw(root),
            Figure::Nights(f) => f.draw(root),
            Figure::Sweep(f) => f.draw(root),
            Figure::Solve(f) => f.draw(root),
        }
    }
}

/// Writes each figure as SVG and PNG into `out` (created when there is any figure) and
/// returns the written paths in order, SVG before PNG for each figure.
///
/// The figures are drawn in parallel (each file's bytes depend on its figure alone;
/// rasterizing and compressing the PNGs doubled a small run's time); of several
/// failures, the first figure's is reported.
pub(super) fn write_figures<N: AsRef<str> + Sync>(
    out: &Path,
    figures: &[(N, Figure)],
) -> Result<Vec<PathBuf>, PlotError> {
    use rayon::prelude::*;
    if !figures.is_empty() {
        std::fs::create_dir_all(out).map_err(|source| PlotError::Io {
            path: out.to_path_buf(),
            source,
        })?;
    }
    let each: Vec<Result<Vec<PathBuf>, PlotError>> = figures
        .par_iter()
        .map(|(name, fig)| {
            let mut written = Vec::new();
            emit(fig, out, name.as_ref(), &mut written).map(|()| written)
        })
        .collect();
    let mut written = Vec::new();
    for paths in each {
        written.extend(paths?);
    }
    Ok(written)
}

/// Removes the sweep plots (`sweep_*.svg`, `sweep_*.png`) an earlier drawing left in `out`.
pub(super) fn remove_sweep_plots(out: &Path) -> Result<(), PlotError> {
    if let Ok(rd) = std::fs::read_dir(out) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("sweep_") && (name.ends_with(".svg") || name.ends_with(".png")) {
                std::fs::remove_file(e.path()).map_err(|source| PlotError::Io {
                    path: e.path(),
                    source,
                })?;
            }
        }
    }
    Ok(())
}

/// Writes `fig` as SVG and PNG into `out`, appending the paths to `written`.
fn emit(fig: &Figure, out: &Path, name: &str, written: &mut Vec<PathBuf>) -> Result<(), PlotError> {
    let size = fig.size();
    let draw_err = |path: &Path, e: &dyn std::fmt::Display| PlotError::Draw {
        path: path.to_path_buf(),
        message: e.to_string(),
    };

    let svg = out.join(format!("{name}.svg"));
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        fig.draw(&root).map_err(|e| draw_err(&svg, &e))?;
        root.present().map_err(|e| draw_err(&svg, &e))?;
    }
    written.push(svg);

    let png = out.join(format!("{name}.png"));
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        fig.draw(&root).map_err(|e| draw_err(&png, &e))?;
        root.present().map_err(|e| draw_err(&png, &e))?;
    }
    written.push(png);
    Ok(())
}
