//! The event queue's tests: order, cancels, far entries, renumbering and trimming against
//! sorted references.

use super::*;
use crate::engine::SimDuration;

/// Pops every event left, as (time in µs, event).
fn drain(q: &mut EventQueue<u64>) -> Vec<(u64, u64)> {
    std::iter::from_fn(|| q.pop().map(|(t, e)| (t.0, e))).collect()
}

#[test]
fn equal_times_pop_in_insertion_order() {
    let mut q = EventQueue::new();
    for i in 0..100u32 {
        q.schedule(SimTime(10), i);
    }
    q.schedule(SimTime(5), 1000);
    assert_eq!(q.pop(), Some((SimTime(5), 1000)));
    for i in 0..100u32 {
        assert_eq!(q.pop(), Some((SimTime(10), i)));
    }
    assert_eq!(q.pop(), None);
}

#[test]
fn peek_shows_the_next_live_event_without_removing_it() {
    let mut q = EventQueue::new();
    assert_eq!(q.peek(), None);
    let a = q.schedule(SimTime(1), "a");
    q.schedule(SimTime(2), "b");
    q.schedule(SimTime(2), "c");
    assert_eq!(q.peek(), Some(&"a"));
    q.cancel(a);
    assert_eq!(q.peek(), Some(&"b"), "a cancelled event is skipped");
    assert_eq!(q.len(), 2);
    assert_eq!(q.pop(), Some((SimTime(2), "b")));
    assert_eq!(q.peek(), Some(&"c"));
    assert_eq!(q.now(), SimTime(2));
}

#[test]
fn cancelled_events_never_fire() {
    let mut q = EventQueue::new();
    let a = q.schedule(SimTime(1), "a");
    let _b = q.schedule(SimTime(2), "b");
    let c = q.schedule(SimTime(3), "c");
    assert_eq!(q.cancel(a), Some("a"));
    assert_eq!(q.cancel(a), None, "double cancel is a no-op");
    assert_eq!(q.len(), 2);
    assert_eq!(q.pop(), Some((SimTime(2), "b")));
    assert_eq!(q.cancel(c), Some("c"));
    assert_eq!(q.pop(), None);
    assert!(q.is_empty());
}

#[test]
fn stale_key_does_not_cancel_a_reused_slot() {
    let mut q = EventQueue::new();
    let a = q.schedule(SimTime(1), 1);
    assert_eq!(q.pop(), Some((SimTime(1), 1)));
    let _b = q.schedule(SimTime(2), 2); // reuses a's slot
    assert_eq!(q.cancel(a), None);
    assert_eq!(q.pop(), Some((SimTime(2), 2)));
}

#[test]
fn external_events_interleave_by_insertion_number() {
    let mut q = EventQueue::new();
    q.schedule(SimTime(5), "a");
    let ext = (SimTime(5), q.reserve_seq());
    q.schedule(SimTime(5), "b");
    assert_eq!(q.peek_key().map(|k| k < ext), Some(true));
    assert_eq!(q.pop(), Some((SimTime(5), "a")));
    assert!(
        ext < q.peek_key().unwrap(),
        "the external event comes before b"
    );
    q.fire_external(ext.0);
    assert_eq!(q.events_processed(), 2);
    assert_eq!(q.pop(), Some((SimTime(5), "b")));
    assert_eq!(q.peek_key(), None);
}

/// The last bucket of time (events at and just before `u64::MAX`) is reached and
/// popped in order, including an event scheduled there after the bucket was reached.
#[test]
fn the_end_of_time_is_a_bucket_too() {
    let mut q = EventQueue::new();
    q.schedule(SimTime(u64::MAX), 1);
    q.schedule(SimTime(u64::MAX - 1), 2);
    q.schedule(SimTime(5), 3);
    q.schedule(SimTime(u64::MAX), 4);
    assert_eq!(q.pop(), Some((SimTime(5), 3)));
    assert_eq!(q.pop(), Some((SimTime(u64::MAX - 1), 2)));
    q.schedule(SimTime(u64::MAX), 5);
    let rest: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
    assert_eq!(
        rest,
        [
            (SimTime(u64::MAX), 1),
            (SimTime(u64::MAX), 4),
            (SimTime(u64::MAX), 5)
        ]
    );
    assert!(q.is_empty());
}

#[test]
fn rank_renumbering_keeps_the_order() {
    // Force the 32-bit rank counter to run out while events are pending, with ties.
    let mut q = EventQueue::new();
    let mut expect = Vec::new();
    // Times over several buckets, so that entries out of the heap are renumbered too.
    let t = |i: u64| (i % 7) * 5;
    for i in 0..50u64 {
        q.schedule(SimTime(t(i)), i);
        expect.push((t(i), i));
    }
    q.next_rank = u32::MAX - 10;
    for i in 50..100u64 {
        let k = q.schedule(SimTime(t(i)), i);
        expect.push((t(i), i));
        if i == 60 {
            assert_eq!(q.cancel(k), Some(60));
            expect.pop();
        }
    }
    assert!(q.next_rank <= 100, "renumbered");
    expect.sort();
    assert_eq!(drain(&mut q), expect);
}

/// A bucket of far entries large enough for the radix sort (hundreds, few distinct
/// times), scheduled out of time order and across a renumbering of the ranks, pops in
/// (time, schedule) order.
#[test]
fn a_large_far_bucket_pops_in_time_then_schedule_order() {
    let mut q = EventQueue::new();
    let mut expect = Vec::new();
    // All in the second bucket of the tests' 8 µs (times 8..16), none in the first.
    let t = |i: u64| 8 + (i * 5) % 8;
    for i in 0..600u64 {
        if i == 300 {
            q.next_rank = u32::MAX - 3;
        }
        q.schedule(SimTime(t(i)), i);
        expect.push((t(i), i));
    }
    assert!(q.next_rank < 1_000, "renumbered");
    assert_eq!(q.far.len(), 600, "all wait out of the heap");
    expect.sort();
    assert_eq!(drain(&mut q), expect);
}

#[test]
fn matches_a_sorted_reference() {
    // A deterministic pseudo-random interleaving of schedules, cancels and pops,
    // checked against sorting by (time, seq).
    let mut q = EventQueue::new();
    let mut reference: Vec<(u64, u64)> = Vec::new();
    let mut keys = Vec::new();
    let mut x: u64 = 12345;
    let mut seq = 0u64;
    for _ in 0..5000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let op = (x >> 60) % 4;
        let now = q.now().0;
        if op < 2 {
            let t = now + (x >> 40) % 50;
            keys.push((q.schedule(SimTime(t), seq), t, seq));
            reference.push((t, seq));
            seq += 1;
        } else if op == 2 && !keys.is_empty() {
            let (k, t, s) = keys.swap_remove(((x >> 20) as usize) % keys.len());
            if q.cancel(k).is_some() {
                reference.retain(|&e| e != (t, s));
            }
        } else {
            reference.sort();
            let expect = if reference.is_empty() {
                None
            } else {
                Some(reference.remove(0))
            };
            assert_eq!(q.pop().map(|(t, s)| (t.0, s)), expect);
        }
    }
}

#[test]
fn a_drained_peak_gives_its_slots_back() {
    // A backlog of 10 000 (the earliest scheduled last, so that it drains from the
    // top slots down) while one event in 100 schedules another 50 later, which reuses
    // a low slot. A slot cannot move while its event is pending, so what can be given
    // back is above the highest pending one.
    let mut q = EventQueue::new();
    let keys: Vec<_> = (0..10_000u64)
        .map(|i| q.schedule(SimTime(9_999 - i), 9_999 - i))
        .collect();
    let mut popped = Vec::new();
    let mut most = 0;
    while q.len() > 3 {
        let (t, e) = q.pop().expect("pending");
        popped.push(e);
        if e < 10_000 && e % 100 == 0 {
            q.schedule(t + SimDuration(50), 20_000 + e);
        }
        most = most.max(q.slots.len());
    }
    assert_eq!(most, 10_000);
    assert!(
        q.slots.len() <= 2 * KEEP,
        "{} slots for 3 events",
        q.slots.len()
    );
    assert!(q.slots.capacity() <= 4 * KEEP && q.heap.capacity() <= 4 * KEEP);
    // In time order, the late events among the others.
    assert_eq!(popped[..51], (0..51).collect::<Vec<u64>>()[..]);
    assert_eq!(popped[50..53], [50, 20_000, 51]);
    // The handle of an event left still cancels it; that of an event gone does
    // nothing, even where its slot was cut or reused.
    assert_eq!(q.cancel(keys[1]), Some(9_998));
    assert_eq!(q.cancel(keys[9_990]), None);
    let rest: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
    assert_eq!(rest, [9_997, 9_999]);
}

proptest::proptest! {
    /// Backlogs that build up and drain in waves (so that slots are cut and reused),
    /// with cancels of live and of stale handles, against a sorted reference. Times
    /// within 100 µs of the clock cross a bucket every 8 µs (the tests' bucket); within
    /// 10^6, most entries wait out of the heap, across gaps of empty buckets.
    #[test]
    fn waves_of_peaks_match_a_sorted_reference(
        waves in proptest::collection::vec((1usize..400, 0usize..400), 1..8),
        seed in proptest::prelude::any::<u64>(),
        span in proptest::prop_oneof![proptest::prelude::Just(100u64), proptest::prelude::Just(1_000_000)],
    ) {
        let mut q = EventQueue::new();
        let mut reference = std::collections::BTreeSet::new();
        let mut keys = Vec::new();
        let mut x = seed | 1;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut seq = 0u64;
        for (grow, drain) in waves {
            for _ in 0..grow {
                let t = q.now().0 + next() % span;
                keys.push((q.schedule(SimTime(t), seq), t, seq));
                reference.insert((t, seq));
                seq += 1;
                if next() % 4 == 0 {
                    let (k, t, s) = keys[next() as usize % keys.len()];
                    let live = reference.remove(&(t, s));
                    proptest::prop_assert_eq!(q.cancel(k).is_some(), live);
                }
            }
            for _ in 0..drain {
                let want = reference.pop_first();
                proptest::prop_assert_eq!(q.pop().map(|(t, s)| (t.0, s)), want);
            }
            proptest::prop_assert_eq!(q.len(), reference.len());
        }
    }
}
