use super::*;
use proptest::prelude::*;
use std::collections::VecDeque;

#[test]
fn point_packs_time_tier_and_bytes_in_16_bytes() {
    assert_eq!(std::mem::size_of::<Point>(), 16);
    // daily 30, weekly 12, monthly 0, yearly 10, on-demand 45 (days: 30, 84, 0, 3650, 45).
    let days = [30, 84, 0, 3650, 45];
    let t = SimTime(3 * MICROS_PER_DAY + 7);
    for (tier, d) in days.iter().enumerate() {
        let p = Point::new(t, tier, u64::MAX - 1);
        assert_eq!(p.time(), t);
        assert_eq!(p.bytes, u64::MAX - 1);
        assert_eq!(
            p.expires(&days),
            SimTime(t.as_micros() + d * MICROS_PER_DAY)
        );
    }
    // The largest time that fits, and an expiry past u64 that saturates to never.
    let last = SimTime(TIME_BITS);
    let p = Point::new(last, ON_DEMAND_TIER, 0);
    assert_eq!(p.time(), last);
    assert_eq!(p.expires(&[0, 0, 0, 0, u64::MAX]), SimTime::NEVER);
}

/// The ring the store replaced, with the same removal: the model it must match.
fn model_remove(m: &mut VecDeque<Point>, i: usize) -> u64 {
    let gone = if i == 0 {
        let base = m[0].bytes;
        std::mem::replace(&mut m[1].bytes, base)
    } else {
        m[i].bytes
    };
    m.remove(i);
    gone
}

fn no_expiry(_: &Point) -> SimTime {
    SimTime::NEVER
}

fn pts(s: &PointStore, vi: usize) -> Vec<Point> {
    s.iter(vi).collect()
}

#[test]
fn a_vm_takes_40_bytes_and_a_daily_point_10() {
    assert_eq!(std::mem::size_of::<Held>(), 40);
    let mut s = PointStore::new(1);
    s.push(0, Point::new(SimTime(0), 0, 1 << 36), |_| 0, no_expiry);
    s.push(
        0,
        Point::new(SimTime(MICROS_PER_DAY + 123_456_789), 1, 700 << 20),
        |_| 0,
        no_expiry,
    );
    // 1 + 0 + 5, then 1 + 5 (a day and a bit, times 8, plus the tier) + 4.
    assert_eq!(s.vms[0].used, 6 + 10);
}

#[test]
fn round_trip_of_the_largest_time_and_bytes() {
    let mut s = PointStore::new(1);
    let ps = [
        Point::new(SimTime(0), 0, 0),
        Point::new(SimTime(0), 4, u64::MAX),
        Point::new(SimTime(1), 3, 1),
        Point::new(SimTime(TIME_BITS - 1), 2, 255),
        Point::new(SimTime(TIME_BITS), 4, u64::MAX),
    ];
    for p in ps {
        s.push(0, p, |_| 0, no_expiry);
    }
    assert_eq!(pts(&s, 0), ps);
    assert_eq!(s.len(0), 5);
    assert_eq!(s.newest_time(0), Some(SimTime(TIME_BITS)));
    // The oldest goes: the next takes its base (0), its own u64::MAX leaves.
    assert_eq!(s.remove(0, 0), u64::MAX);
    assert_eq!(pts(&s, 0)[0], Point::new(SimTime(0), 4, 0));
    // From the middle: the delta to TIME_BITS − 1 from 0 fills 8 bytes with the tier.
    assert_eq!(s.remove(0, 1), 1);
    assert_eq!(pts(&s, 0), [Point::new(SimTime(0), 4, 0), ps[3], ps[4]]);
}

#[test]
fn removal_in_the_middle_merges_the_deltas() {
    let mut s = PointStore::new(1);
    let day = MICROS_PER_DAY;
    for d in 0..5 {
        let p = Point::new(SimTime(d * day + d), d as usize % 2, 100 + d);
        s.push(0, p, |_| 0, no_expiry);
    }
    assert_eq!(s.remove(0, 2), 102);
    assert_eq!(s.remove(0, 2), 103);
    let got: Vec<(u64, usize, u64)> = s
        .iter(0)
        .map(|p| (p.time().as_micros(), p.tier(), p.bytes))
        .collect();
    assert_eq!(got, [(0, 0, 100), (day + 1, 1, 101), (4 * day + 4, 0, 104)]);
    // The newest is never removed.
    assert!(std::panic::catch_unwind(move || s.remove(0, 2)).is_err());
}

/// Expiry removes exactly the due points but the newest, reports the next expiry, and
/// answers from its cached earliest expiry while nothing is due.
#[test]
fn expire_removes_the_due_points_and_reports_the_next() {
    let day = MICROS_PER_DAY;
    let days = [2, 7, 0, 0, 0];
    let exp = |p: &Point| p.expires(&days);
    let mut s = PointStore::new(1);
    for d in 0..4 {
        s.push(
            0,
            Point::new(SimTime(d * day), usize::from(d == 0), 10 + d),
            |_| 0,
            exp,
        );
    }
    // Day 2: the daily point of day 1 expires on day 3, the weekly oldest on day 7.
    assert_eq!(
        s.expire(0, SimTime(2 * day), exp, false),
        (0, 0, SimTime(3 * day))
    );
    // Day 4: the points of days 1 and 2 go, the weekly oldest stays.
    let got = s.expire(0, SimTime(4 * day), exp, false);
    assert_eq!(got, (11 + 12, 2, SimTime(7 * day)));
    // Day 7: the oldest goes; the newest takes its base, its own 13 leaves.
    assert_eq!(
        s.expire(0, SimTime(7 * day), exp, false),
        (13, 1, SimTime::NEVER)
    );
    assert_eq!(pts(&s, 0), [Point::new(SimTime(3 * day), 0, 10)]);
}

/// A VM whose region fills past [`ROOM_FROM`] records grows once to the room asked for,
/// at its records' mean size, and never moves again while its points fit.
#[test]
fn vms_given_room_for_their_points_move_no_more() {
    let (vms, days) = (20, 31usize);
    let mut s = PointStore::new(vms);
    let mut settled = vec![None; vms];
    for d in 0..days as u64 {
        for (vi, settled) in settled.iter_mut().enumerate() {
            let p = Point::new(SimTime((d + 1) * MICROS_PER_DAY), 0, (1 << 30) + vi as u64);
            s.push(vi, p, |_| days, no_expiry);
            if s.len(vi) > ROOM_FROM {
                let at = *settled.get_or_insert(s.vms[vi].at);
                assert_eq!(s.vms[vi].at, at, "VM {vi} moved at its point {}", d + 1);
            }
        }
    }
    // 31 records of 10 bytes each (the first's delta is a day, as the others'): the
    // room is exactly theirs.
    for vi in 0..vms {
        assert_eq!(s.len(vi), days);
        assert_eq!(usize::from(s.vms[vi].cap), days * 10);
    }
}

/// VMs growing in turn move to the end of the arena; the regions they leave are
/// reclaimed, and every VM keeps its points.
#[test]
fn growing_vms_move_and_the_arena_is_compacted() {
    let vms = 50;
    let mut s = PointStore::new(vms);
    s.floor = 0;
    let mut peak = 0;
    for d in 0..60u64 {
        for vi in 0..vms {
            let p = Point::new(SimTime(d * MICROS_PER_DAY), 0, (1 << 30) + vi as u64);
            s.push(vi, p, |_| 0, no_expiry);
            peak = peak.max(s.arena.len());
        }
    }
    for vi in 0..vms {
        let want: Vec<_> = (0..60)
            .map(|d| Point::new(SimTime(d * MICROS_PER_DAY), 0, (1 << 30) + vi as u64))
            .collect();
        let got: Vec<_> = s.iter(vi).collect();
        assert_eq!(got, want);
    }
    // 60 records of 10 bytes (the first 5: no delta) per VM; the arena at most their
    // room to grow (an eighth, at least 16 bytes) and the garbage allowed (a 32nd).
    let records: usize = (0..vms).map(|vi| usize::from(s.vms[vi].used)).sum();
    assert_eq!(records, vms * (5 + 59 * 10));
    assert!(
        peak <= records * 9 / 8 * GARBAGE_SHARE / (GARBAGE_SHARE - 1) + vms * 16,
        "{peak} of {records}"
    );
}

#[derive(Debug, Clone)]
enum Op {
    Push(usize, u64, usize, u64),
    PopFront(usize),
    Remove(usize, usize),
    Expire(usize, u64),
}

fn op() -> impl Strategy<Value = Op> {
    let big = prop_oneof![0..300u64, 0..1u64 << 40, any::<u64>()];
    let delta = prop_oneof![0..3u64, 0..MICROS_PER_DAY * 2, 0..1u64 << 58];
    prop_oneof![
        4 => (0..3usize, delta, 0..TIERS, big).prop_map(|(v, d, t, b)| Op::Push(v, d, t, b)),
        1 => (0..3usize).prop_map(Op::PopFront),
        2 => (0..3usize, any::<usize>()).prop_map(|(v, i)| Op::Remove(v, i)),
        1 => (0..3usize, 0..40u64).prop_map(|(v, d)| Op::Expire(v, d)),
    ]
}

/// Model expiry on the ring: remove due points one by one from the oldest.
fn model_expire(
    m: &mut VecDeque<Point>,
    at: SimTime,
    exp: impl Fn(&Point) -> SimTime,
) -> (u64, u64, SimTime) {
    let (mut bytes, mut points, mut i) = (0u64, 0u64, 0);
    while i + 1 < m.len() {
        if exp(&m[i]) <= at {
            bytes = bytes.saturating_add(model_remove(m, i));
            points += 1;
        } else {
            i += 1;
        }
    }
    let n = m.len().saturating_sub(1);
    let next = m.iter().take(n).map(exp).min().unwrap_or(SimTime::NEVER);
    (bytes, points, next)
}

/// Applies `ops` to a store of three VMs sharing the arena and to a ring of points per VM,
/// checking after each that they hold the same points and that removals and expiries
/// return the same. Points are kept `days` by tier; with `one_span` (every tier used
/// kept as long) they are pushed daily or on-demand and expire oldest first.
fn check_against_the_ring(
    ops: Vec<Op>,
    days: [u64; TIERS],
    one_span: bool,
) -> Result<(), TestCaseError> {
    let exp = |p: &Point| p.expires(&days);
    let mut s = PointStore::new(3);
    s.floor = 0;
    let mut m = vec![VecDeque::<Point>::new(); 3];
    let mut now = [0u64; 3];
    for o in ops {
        match o {
            Op::Push(v, d, t, b) => {
                now[v] = (now[v] + d).min(TIME_BITS);
                let tier = match (one_span, t % 2) {
                    (false, _) => t,
                    (true, 0) => 0,
                    (true, _) => ON_DEMAND_TIER,
                };
                let p = Point::new(SimTime(now[v]), tier, b);
                // Room for none, a few and more than most cases push.
                s.push(v, p, |_| [0, 3, 40][v], exp);
                m[v].push_back(p);
            }
            Op::PopFront(v) if m[v].len() > 1 => {
                prop_assert_eq!(s.remove(v, 0), model_remove(&mut m[v], 0));
            }
            Op::Remove(v, i) if m[v].len() > 1 => {
                let i = i % (m[v].len() - 1);
                prop_assert_eq!(s.remove(v, i), model_remove(&mut m[v], i));
            }
            Op::Expire(v, d) => {
                let at = SimTime(now[v].saturating_sub(d * MICROS_PER_DAY / 4));
                let want = model_expire(&mut m[v], at, exp);
                prop_assert_eq!(s.expire(v, at, exp, one_span), want);
            }
            _ => {}
        }
        for (v, m) in m.iter().enumerate() {
            prop_assert_eq!(pts(&s, v), m.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(s.len(v), m.len());
            prop_assert_eq!(s.newest_time(v), m.back().map(|p| p.time()));
        }
    }
    Ok(())
}

proptest! {
    /// Against the ring it replaced, for three VMs sharing the arena: the same points
    /// in the same order, the same bytes leaving, under pushes, removals from the front
    /// and the middle, and expiry.
    #[test]
    fn store_matches_a_ring_of_points_per_vm(ops in proptest::collection::vec(op(), 0..150)) {
        check_against_the_ring(ops, [1, 7, 30, 365, 3], false)?;
    }

    /// Points of one span (daily only, or on-demand kept as long), expired oldest
    /// first: the same as the ring's expiry, which asks every point.
    #[test]
    fn points_of_one_span_expire_oldest_first_as_the_ring(
        ops in proptest::collection::vec(op(), 0..150)
    ) {
        check_against_the_ring(ops, [2, 0, 0, 0, 2], true)?;
    }
}

/// `records_at` names where a VM's oldest record starts, through its region's moves: the
/// expiry event's hint loads the record the expiry decodes first.
#[test]
fn records_at_is_where_the_oldest_record_starts() {
    let mut s = PointStore::new(2);
    for d in 0..40u64 {
        for vi in 0..2 {
            let p = Point::new(SimTime((d + 1) * MICROS_PER_DAY), 0, 1000 + d);
            s.push(vi, p, |_| 0, no_expiry);
            let at = s.records_at(vi);
            let (oldest, _) = decode(&s.arena, at, 0);
            assert_eq!(
                oldest,
                Point::new(SimTime(MICROS_PER_DAY), 0, 1000),
                "VM {vi}, day {d}"
            );
        }
    }
}
