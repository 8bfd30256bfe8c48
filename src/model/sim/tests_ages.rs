//! `record_ages` (RPO ages counted per bucket range) against the age-by-age loop it
//! replaced.

use super::*;

/// `record_ages` as it was, age by age: the reference for the bulk version.
fn ages_one_by_one(since: u64, from: u64, until: u64, every: u64) -> BulkCounts {
    let mut h = BulkCounts::default();
    let mut age = since.max(from).div_ceil(every) * every - since;
    let span = until.saturating_sub(since);
    while age < span {
        h.record(age);
        age += every;
    }
    h
}

fn ages_in_bulk(since: u64, from: u64, until: u64, every: u64) -> BulkCounts {
    let mut h = BulkCounts::default();
    record_ages(&mut h, SimTime(since), SimTime(from), SimTime(until), every);
    h
}

/// A point made at 1 h 30 min, newest from 2 h, sampled hourly until 5 h: ages 30 min,
/// 1 h 30 min and 2 h 30 min (samples at 2, 3 and 4 h).
#[test]
fn record_ages_hand_computed() {
    let h = 3_600_000_000u64;
    let mut expect = BulkCounts::default();
    for age in [h / 2, 3 * h / 2, 5 * h / 2] {
        expect.record(age);
    }
    assert_eq!(ages_in_bulk(3 * h / 2, 2 * h, 5 * h, h), expect);
    assert_eq!(
        ages_in_bulk(3 * h / 2, 2 * h, 2 * h, h),
        BulkCounts::default()
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// The bulk RPO ages equal the age-by-age loop, for sample intervals from 1 µs to
    /// days, points up to years old and any offset of the first sample.
    #[test]
    fn prop_record_ages_equals_age_by_age(
        since in 0u64..1 << 44,
        offset in 0u64..1 << 40,
        every in 1u64..1 << 37,
        every_shift in 0u32..37,
        samples in 0u64..3_000,
    ) {
        let every = (every >> every_shift).max(1);
        let from = since + offset % (every * 4);
        let until = from + every * samples + offset % every;
        proptest::prop_assert_eq!(
            ages_in_bulk(since, from, until, every),
            ages_one_by_one(since, from, until, every)
        );
    }
}
