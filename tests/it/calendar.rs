//! Calendar dates and local time: schedules in a region's or policy's UTC offset, day 0's
//! weekday from `simulation.start`, monthly retention in calendar months.

use std::path::Path;

use super::common::{base, run_sampled, run_src};

const HOUR: u64 = 3_600_000_000;

/// A policy at 01:00 in a region at +09:00 fires at 16:00 UTC (local 01:00 of day 1; local
/// day 0's 01:00 was before the run); a policy offset of −05:00 overrides the region's:
/// 01:00 local is 06:00 UTC.
#[test]
fn region_utc_offset_shifts_schedules() {
    let src = base("2d", "", "", "").replace(
        "name = \"r1\"\npaired",
        "name = \"r1\"\nutc_offset = \"+09:00\"\npaired",
    );
    let (_, rows) = run_src(&src);
    let first: Vec<u64> = rows.iter().map(|r| r.scheduled_us).collect();
    assert_eq!(first[..2], [16 * HOUR, 40 * HOUR], "{first:?}");
    let src = src.replace(
        "start_within = \"0s\"",
        "start_within = \"0s\"\nutc_offset = \"-05:00\"",
    );
    let (_, rows) = run_src(&src);
    assert_eq!(rows[0].scheduled_us, 6 * HOUR);
}

/// 2015-11-01 was a Sunday: a Sunday schedule fires on day 0. A `start_weekday` that
/// contradicts the date is an error naming the key and both weekdays.
#[test]
fn start_date_sets_day_0s_weekday() {
    let src = base("3d", "", "", "")
        .replace("seed = 7\n", "seed = 7\nstart = \"2015-11-01\"\n")
        .replace(
            "schedule = { daily = \"01:00\" }",
            "schedule = { weekly = [\"sun\"], at = \"01:00\" }",
        );
    let (out, rows) = run_src(&src);
    assert_eq!(rows[0].scheduled_us, HOUR);
    // nights.csv dates each night: the Sunday of day 0.
    let text =
        String::from_utf8(backupsim::outputs::results::nights::nights_csv(&out.nights)).unwrap();
    let first = text.lines().nth(1).expect("a night");
    assert!(
        first.ends_with(",2015-11-01") && first.contains(",Sun,"),
        "{first}"
    );
    let bad = src.replace("start = ", "start_weekday = \"mon\"\nstart = ");
    let Err(e) = backupsim::scenario::load_str(&bad, Path::new("cal.toml"), &[]) else {
        panic!("a contradiction is an error");
    };
    let e = e.to_string();
    assert!(
        e.contains("simulation.start_weekday") && e.contains("\"sun\"") && e.contains("\"mon\""),
        "{e}"
    );
}

/// From 2016-01-31, `monthly = 1` keeps January's point 29 days (to February 29) and
/// February 1's point as February's: at day 28 12:00 three points are held (Jan 31,
/// Feb 1, the newest). With 30-day months (no date) Feb 1 is not a new month: two.
#[test]
fn monthly_retention_counts_calendar_months() {
    let src = base("29d", "", "", "")
        .replace(
            "retention = { daily = 30 }",
            "retention = { daily = 1, monthly = 1 }",
        )
        .replace("seed = 7\n", "seed = 7\nsample_every = \"12h\"\n");
    let points_at = |src: &str| {
        let (_, _, samples) = run_sampled(src);
        samples
            .iter()
            .find(|s| s.0 == 28 * 24 * HOUR + 12 * HOUR)
            .expect("a sample at day 28 12:00")
            .2
    };
    let dated = src.replace("seed = 7\n", "seed = 7\nstart = \"2016-01-31\"\n");
    assert_eq!(points_at(&dated), 3);
    assert_eq!(points_at(&src), 2);
}
