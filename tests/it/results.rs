//! A results directory as users consume it: counts agree across files, `check` and
//! `compare` exit codes, plots are real images.

use std::path::Path;

use super::common::{bin, quickstart};

fn small(dir: &Path, extra_expect: &str) -> std::path::PathBuf {
    let p = quickstart(dir, "small.toml", 60, 15, 6);
    let src = std::fs::read_to_string(&p).unwrap() + extra_expect;
    std::fs::write(&p, src).unwrap();
    p
}

fn run(scenario: &Path, out: &Path, plots: bool) {
    let mut c = bin();
    c.args([
        "run",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    if !plots {
        c.arg("--no-plots");
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn summary(dir: &Path) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn jobs_csv_rows_match_summary_counts() {
    let t = tempfile::tempdir().unwrap();
    let sc = small(t.path(), "");
    let out = t.path().join("r");
    run(&sc, &out, false);
    let s = summary(&out);
    let n = |k: &str| s[k].as_f64().unwrap() as usize;
    let mut rdr = csv::Reader::from_path(out.join("jobs.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    let kind = |r: &csv::StringRecord| r[1].to_string();
    let backups: Vec<_> = rows
        .iter()
        .filter(|r| !kind(r).starts_with("restore"))
        .collect();
    let restores: Vec<_> = rows
        .iter()
        .filter(|r| kind(r).starts_with("restore"))
        .collect();
    assert_eq!(backups.len(), n("backup.attempts"));
    assert_eq!(restores.len(), n("restore.jobs.total"));
    let succeeded = backups.iter().filter(|r| &r[16] == "succeeded").count();
    assert_eq!(succeeded, n("backup.jobs.succeeded"));
    assert_eq!(
        backups.len() - succeeded,
        n("backup.jobs.failed") + n("backup.retries") + n("backup.jobs.in_flight")
    );
    // Without retries, every job in flight at the end has its row.
    let in_flight =
        |rows: &[&csv::StringRecord]| rows.iter().filter(|r| &r[16] == "in-flight").count();
    assert_eq!(in_flight(&backups), n("backup.jobs.in_flight"));
    assert_eq!(in_flight(&restores), n("restore.jobs.in_flight"));
    let misses = backups.iter().filter(|r| &r[19] == "1").count();
    assert_eq!(misses, n("backup.window.misses"));
    // Every time-series row is one sample interval.
    let ts = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    assert_eq!(ts.lines().count() - 1, 6 * 24 * 4);
}

#[test]
fn check_fails_with_exit_1_naming_the_metric() {
    let t = tempfile::tempdir().unwrap();
    let sc = small(
        t.path(),
        "\n[[expect]]\nmetric = \"backup.duration.p50\"\nmax = \"1s\"\n",
    );
    let out = t.path().join("r");
    run(&sc, &out, false);
    let o = bin()
        .args(["check", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("backup.duration.p50") && text.contains("FAIL"),
        "{text}"
    );
    assert!(text.contains("backup.success_rate"), "{text}");
    // A scenario whose bounds hold passes with 0 (run then check).
    let ok = small(t.path(), "");
    let o = bin()
        .args([
            "check",
            ok.to_str().unwrap(),
            "--quiet",
            "--set",
            "simulation.name=okcheck",
        ])
        .current_dir(t.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("backup.success_rate"), "{text}");
}

#[test]
fn compare_flags_regressions() {
    let t = tempfile::tempdir().unwrap();
    let sc = small(t.path(), "");
    let a = t.path().join("a");
    let b = t.path().join("b");
    run(&sc, &a, false);
    run(&sc, &b, false);
    let o = bin()
        .args(["compare", a.to_str().unwrap(), b.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "identical runs compare equal");
    // A slower link is a regression of durations.
    let c = t.path().join("c");
    let o = bin()
        .args([
            "run",
            sc.to_str().unwrap(),
            "--out",
            c.to_str().unwrap(),
            "--quiet",
            "--no-plots",
            "--set",
            "link.je-storage.bandwidth=1 Gbit/s",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    let o = bin()
        .args([
            "compare",
            a.to_str().unwrap(),
            c.to_str().unwrap(),
            "--tolerance",
            "5",
            "--markdown",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("| metric") && text.contains("backup.phase.transfer"),
        "{text}"
    );
}

#[test]
fn plots_are_real_images_and_rerender() {
    let t = tempfile::tempdir().unwrap();
    let sc = small(t.path(), "");
    let out = t.path().join("r");
    run(&sc, &out, true);
    check_plot_files(&out);
    check_plot_sizes_and_labels(&out);

    // A p99 mark at the far right of the axis (p99 ≈ 9700 s on an axis ending at 10^4 s):
    // its label must stay on the canvas.
    let mut h = backupsim::outputs::results::histio::new_histogram();
    for s in (100..=9800).step_by(10) {
        h.record(s * 1_000_000).unwrap();
    }
    let hdr = out.join("histograms/backup.duration.hdr");
    backupsim::outputs::results::histio::write_hdr(&hdr, &h).unwrap();
    std::fs::remove_dir_all(out.join("plots")).unwrap();
    // Re-rendering needs no system fonts: the font is bundled.
    let o = bin()
        .args(["plot", out.to_str().unwrap()])
        .env("FONTCONFIG_FILE", "/nonexistent")
        .env("FONTCONFIG_PATH", "/nonexistent")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.join("plots/timeline.png").exists());
    let cdf = std::fs::read_to_string(out.join("plots/backup_duration_cdf.svg")).unwrap();
    let p99 = svg_texts(&cdf)
        .into_iter()
        .find(|t| t.text.starts_with("p99 = "))
        .expect("p99 label");
    let (lo, hi) = text_extent(&p99);
    assert!(
        hi > 1000.0,
        "the p99 mark is at the right end ({lo:.0}..{hi:.0})"
    );
    assert!(
        lo >= 0.0 && hi <= 1200.0,
        "p99 label spans x = {lo:.0}..{hi:.0} of 1200"
    );
    assert_labels_within(&cdf, 1200, "backup_duration_cdf (p99 at the right end)");

    let o = bin()
        .args(["plot", t.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "not a results directory");
}

/// Each plot: a complete SVG, and a PNG that decodes to the same size with something
/// drawn; no label reaches past the canvas.
fn check_plot_files(out: &Path) {
    for name in backupsim::outputs::plots::PLOT_NAMES {
        // The cost plot exists only for a scenario with prices.
        if name == "cost" && !out.join("plots/cost.svg").exists() {
            continue;
        }
        let svg = std::fs::read_to_string(out.join(format!("plots/{name}.svg"))).unwrap();
        assert!(
            svg.contains("<svg") && svg.trim_end().ends_with("</svg>"),
            "{name}.svg"
        );
        let size = svg_size(&svg);
        let png = decode_png(&out.join(format!("plots/{name}.png")));
        assert_eq!((png.width, png.height), size, "{name}.png size");
        assert!(
            (0.01..0.6).contains(&png.ink),
            "{name}.png: {:.3} of the pixels drawn",
            png.ink
        );
        assert_labels_within(&svg, size.0, name);
    }
}

/// Texts each plot must show: title, axis descriptions, series names.
const EXPECTED_LABELS: [(&str, &[&str]); 6] = [
    (
        "backup_duration_cdf",
        &[
            "Backup job duration CDF — quickstart",
            "job duration (s)",
            "fraction of jobs ≤ x",
            "empirical CDF",
        ],
    ),
    (
        "phase_breakdown",
        &[
            "backup phase",
            "duration (s)",
            "mean",
            "p99",
            "queue",
            "transfer",
        ],
    ),
    (
        "timeline",
        &[
            "time since start (days)",
            "jobs (count)",
            "link throughput (MB/s)",
            "running backup jobs",
            "queued backup jobs",
            "link je-storage",
            "backup window open",
        ],
    ),
    (
        "outcomes",
        &[
            "count (backup jobs, restores or VMs)",
            "outcome",
            "backup.jobs.succeeded",
        ],
    ),
    (
        "vault_storage",
        &[
            "stored data (GiB)",
            "recovery points (count)",
            "vault vault-je",
        ],
    ),
    (
        "rpo",
        &["recovery point age (hours)", "fraction of samples ≤ x"],
    ),
];

/// The canvas sizes, and the axis descriptions, series names and percentile labels.
fn check_plot_sizes_and_labels(out: &Path) {
    let svg = |n: &str| std::fs::read_to_string(out.join(format!("plots/{n}.svg"))).unwrap();
    for (name, height) in [
        ("backup_duration_cdf", 700),
        ("phase_breakdown", 700),
        ("timeline", 860),
        ("vault_storage", 860),
        ("rpo", 700),
    ] {
        assert_eq!(svg_size(&svg(name)), (1200, height), "{name}");
    }
    let (w, h) = svg_size(&svg("outcomes"));
    assert!(w == 1200 && h >= 420, "outcomes {w}x{h}");
    for (name, labels) in EXPECTED_LABELS {
        let texts: Vec<String> = svg_texts(&svg(name)).into_iter().map(|t| t.text).collect();
        for l in labels {
            assert!(texts.iter().any(|t| t == l), "{name}: no label {l:?}");
        }
    }
    for name in ["backup_duration_cdf", "rpo"] {
        let texts = svg_texts(&svg(name));
        for q in ["p50 = ", "p90 = ", "p99 = "] {
            assert!(texts.iter().any(|t| t.text.starts_with(q)), "{name}: {q}");
        }
    }
}

/// A `<text>` element of a plot's SVG.
struct SvgText {
    /// Anchor x position in pixels.
    x: f64,
    /// `start`, `middle` or `end`.
    anchor: String,
    /// Font size in pixels.
    px: f64,
    /// Rotated (the vertical axis descriptions): its x extent is not its width.
    rotated: bool,
    text: String,
}

/// The `(width, height)` of an SVG document.
fn svg_size(svg: &str) -> (u32, u32) {
    let tag = &svg[svg.find("<svg").expect("<svg")..];
    let tag = &tag[..tag.find('>').unwrap()];
    let num = |name: &str| svg_attr(tag, name).and_then(|v| v.parse().ok());
    (num("width").expect("width"), num("height").expect("height"))
}

fn svg_attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(&tag[start..start + tag[start..].find('"')?])
}

/// Every `<text>` element, with its text unescaped.
fn svg_texts(svg: &str) -> Vec<SvgText> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find("<text ") {
        rest = &rest[i..];
        let tag_end = rest.find('>').unwrap();
        let tag = &rest[..tag_end];
        let body_end = rest.find("</text>").unwrap();
        let text = rest[tag_end + 1..body_end]
            .trim()
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&");
        let num = |name: &str| svg_attr(tag, name).and_then(|v| v.parse::<f64>().ok());
        out.push(SvgText {
            x: num("x").expect("x"),
            anchor: svg_attr(tag, "text-anchor").unwrap_or("start").to_string(),
            // plotters writes the size in pixels divided by 1.24 (its pt-to-px factor).
            px: num("font-size").expect("font-size") * 1.24,
            rotated: tag.contains("transform="),
            text,
        });
        rest = &rest[body_end..];
    }
    out
}

/// The horizontal pixels a label covers, measured with the bundled font.
fn text_extent(t: &SvgText) -> (f64, f64) {
    use plotters::style::{FontDesc, FontFamily, FontStyle};
    static REGISTER: std::sync::Once = std::sync::Once::new();
    let family = backupsim::outputs::plots::FONT_FAMILY;
    REGISTER.call_once(|| {
        let font: &'static [u8] = include_bytes!("../../assets/DejaVuSans.ttf");
        plotters::style::register_font(family, FontStyle::Normal, font)
            .unwrap_or_else(|_| panic!("bundled font"));
    });
    let (w, _) = FontDesc::new(FontFamily::Name(family), t.px, FontStyle::Normal)
        .box_size(&t.text)
        .unwrap();
    let w = f64::from(w);
    match t.anchor.as_str() {
        "start" => (t.x, t.x + w),
        "end" => (t.x - w, t.x),
        _ => (t.x - w / 2.0, t.x + w / 2.0),
    }
}

/// Every unrotated label of `svg` lies within `width` pixels.
fn assert_labels_within(svg: &str, width: u32, name: &str) {
    for t in svg_texts(svg).iter().filter(|t| !t.rotated) {
        let (lo, hi) = text_extent(t);
        assert!(
            lo >= -0.5 && hi <= f64::from(width) + 0.5,
            "{name}: {:?} spans x = {lo:.0}..{hi:.0}, outside 0..{width}",
            t.text
        );
    }
}

/// A decoded PNG: its size and the fraction of pixels that are not white.
struct Png {
    width: u32,
    height: u32,
    ink: f64,
}

fn decode_png(path: &Path) -> Png {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "{}", path.display());
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let total = pixels.len() / channels;
    let drawn = pixels
        .chunks(channels)
        .filter(|p| p.iter().take(3).any(|&c| c != 255))
        .count();
    Png {
        width: info.width,
        height: info.height,
        ink: drawn as f64 / total as f64,
    }
}

#[test]
fn histograms_in_the_results_merge_losslessly() {
    let t = tempfile::tempdir().unwrap();
    let sc = small(t.path(), "");
    let a = t.path().join("a");
    run(&sc, &a, false);
    let h =
        backupsim::outputs::results::histio::read_hdr(&a.join("histograms/backup.duration.hdr"))
            .unwrap();
    let s = summary(&a);
    assert_eq!(h.len() as f64, s["backup.jobs.succeeded"].as_f64().unwrap());
    let mut twice = h.clone();
    twice.add(&h).unwrap();
    assert_eq!(twice.len(), 2 * h.len());
    assert_eq!(twice.value_at_quantile(0.99), h.value_at_quantile(0.99));
}

/// Results from different model versions (rules, defaults, metric meanings) compare with a
/// warning naming both versions; the same version compares quietly.
#[test]
fn compare_warns_across_model_versions() {
    let t = tempfile::tempdir().unwrap();
    let s = super::common::quickstart(t.path(), "small.toml", 8, 2, 2);
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    run(&s, &a, false);
    run(&s, &b, false);
    let cmp = || super::common::run_bin(&["compare", a.to_str().unwrap(), b.to_str().unwrap()]);
    let o = cmp();
    assert_eq!(o.status.code(), Some(0));
    assert!(!super::common::stderr(&o).contains("model versions"));
    // Both run.json and summary.json record it; compare reads summary.json's.
    let want = format!("\"model_version\": {}", backupsim::model::MODEL_VERSION);
    for f in ["run.json", "summary.json"] {
        let p = b.join(f);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(&want), "{f}: {text}");
        std::fs::write(&p, text.replace(&want, "\"model_version\": 1")).unwrap();
    }
    let e = super::common::stderr(&cmp());
    assert!(
        e.contains(&format!(
            "come from different model versions ({} and 1)",
            backupsim::model::MODEL_VERSION
        )),
        "{e}"
    );
}
