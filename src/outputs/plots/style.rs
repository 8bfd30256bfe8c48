//! What every figure draws with: the bundled font, text sizes, colours and legends.

use std::error::Error;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::{register_font, FontDesc, FontFamily, FontStyle};

use super::FONT_FAMILY;

static FONT_BYTES: &[u8] = include_bytes!("../../../assets/DejaVuSans.ttf");
static REGISTER_FONT: Once = Once::new();

/// Registers the bundled font with plotters (once per process).
pub(super) fn ensure_font() {
    REGISTER_FONT.call_once(|| {
        // The bundled file is a valid TrueType font; a unit test checks it.
        register_font(FONT_FAMILY, FontStyle::Normal, FONT_BYTES)
            .unwrap_or_else(|_| panic!("bundled {FONT_FAMILY} font is invalid"));
    });
}

/// The bundled font at `size` pixels.
pub(super) fn font(size: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::Name(FONT_FAMILY), size, FontStyle::Normal)
}

// Font sizes are even on purpose: plotters' ab_glyph rasterizer places each
// glyph at `(size / 2 + glyph top) as i32`, so with an odd size glyphs of
// different heights are truncated in opposite directions and e.g. a decimal
// point floats a pixel above the baseline.
pub(super) const TITLE_PX: f64 = 28.0;
pub(super) const DESC_PX: f64 = 20.0;
pub(super) const LABEL_PX: f64 = 16.0;
pub(super) const NOTE_PX: f64 = 16.0;

/// Line colors (Tableau 10), picked in order.
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The `i`-th line colour (cycling).
pub(super) fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

/// Shade for open backup windows.
pub(super) const WINDOW_SHADE: RGBColor = RGBColor(255, 214, 102);

/// What drawing a figure returns (plotters' errors, boxed).
pub(super) type DrawResult = Result<(), Box<dyn Error + Send + Sync>>;

/// Draws a legend box for the chart's labelled series.
pub(super) fn legend<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    pos: SeriesLabelPosition,
) -> DrawResult
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    X: plotters::coord::ranged1d::Ranged,
    Y: plotters::coord::ranged1d::Ranged,
{
    chart
        .configure_series_labels()
        .position(pos)
        .label_font(font(NOTE_PX))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.5))
        .draw()?;
    Ok(())
}

/// A legend sample for a line series.
pub(super) fn legend_line(c: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(3))
}

/// A legend sample for bars or a shaded area.
pub(super) fn legend_box(c: RGBAColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 6), (x + 22, y + 6)], c.filled())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_font_registers_and_measures() {
        ensure_font();
        let (w, h) = font(20.0).box_size("Backup").unwrap();
        assert!(w > 20 && h > 5, "{w}x{h}");
        // Registration is idempotent.
        ensure_font();
    }

    /// plotters' `ttf` feature would resolve fonts through font-kit and
    /// fontconfig; it must stay off so rendering never needs system fonts.
    #[test]
    fn no_system_font_backend_in_lockfile() {
        let lock = include_str!("../../../Cargo.lock");
        for pkg in ["font-kit", "yeslogic-fontconfig-sys", "servo-fontconfig"] {
            assert!(
                !lock.contains(&format!("name = \"{pkg}\"")),
                "{pkg} in Cargo.lock: is plotters' `ttf` feature enabled?"
            );
        }
    }
}
