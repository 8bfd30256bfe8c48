//! `record_ages`: the RPO ages a point is sampled at, hand-computed.

use super::*;

fn ages(since: u64, from: u64, until: u64, every: u64) -> Latency {
    let mut h = Latency::default();
    record_ages(&mut h, SimTime(since), SimTime(from), SimTime(until), every);
    h
}

/// A point made at 1 h 30 min, newest from 2 h, sampled hourly until 5 h: ages 30 min,
/// 1 h 30 min and 2 h 30 min (samples at 2, 3 and 4 h).
#[test]
fn record_ages_hand_computed() {
    let h = 3_600_000_000u64;
    let mut expect = Latency::default();
    for age in [h / 2, 3 * h / 2, 5 * h / 2] {
        expect.record(SimDuration(age));
    }
    assert_eq!(ages(3 * h / 2, 2 * h, 5 * h, h), expect);
    assert_eq!(ages(3 * h / 2, 2 * h, 2 * h, h), Latency::default());
}
