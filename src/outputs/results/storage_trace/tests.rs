use super::*;

fn write_with(path: &Path, width: u64, records: &[(u64, u64)]) {
    let mut w = TraceWriter::with_width(path, width).unwrap();
    for &(t, b) in records {
        w.push(t, b).unwrap();
    }
    w.finish().unwrap();
}

fn write(path: &Path, records: &[(u64, u64)]) {
    write_with(path, WINDOW_MICROS, records);
}

/// What `peak_of_sum` says of `path` written as `bytes`: its error (it must refuse it).
fn refused(path: &Path, bytes: &[u8]) -> String {
    std::fs::write(path, bytes).unwrap();
    peak_of_sum(&[path]).unwrap_err().to_string()
}

/// Every window's records, in order.
fn read_back(path: &Path) -> Vec<(u64, u64)> {
    let mut t = Trace::open(path).unwrap();
    (0..t.windows.len())
        .flat_map(|i| t.records(i).unwrap())
        .collect()
}

#[test]
fn records_read_back_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(STORAGE_TRACE);
    // Numbers of 1 to 10 bytes, windows far apart and at the end of time.
    let recs = [(0, 5), (7, u64::MAX), (8, 0), (u64::MAX - 1, 1 << 40)];
    let mut many: Vec<(u64, u64)> = (0..30_000u64).map(|i| (i * i, i * i * 977)).collect();
    many[1000].1 = u64::MAX;
    many[20_000].1 = u64::MAX - 1;
    for width in [1, 1000, WINDOW_MICROS] {
        for recs in [&recs[..], &many[..], &[]] {
            write_with(&p, width, recs);
            assert_eq!(read_back(&p), recs, "width {width}");
        }
    }
    // One entry per window with records, each starting where the one before ended.
    write_with(&p, 10, &[(3, 1), (5, 2), (40, 7), (41, 3)]);
    let t = Trace::open(&p).unwrap();
    let got: Vec<_> = t
        .windows
        .iter()
        .map(|w| (w.number, w.records, w.first, w.most, w.last))
        .collect();
    assert_eq!(got, [(0, 2, 0, 2, 2), (4, 2, 2, 7, 3)]);
}

/// Part a holds 10 until 1 µs, part b 20 from 2 µs: the sum's peak is 20, not the 30 of
/// the parts' peaks added; at 3 µs both hold something: 5 + 20.
#[test]
fn the_peak_of_a_sum_is_taken_at_each_instant() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for width in [1, 2, WINDOW_MICROS] {
        write_with(&a, width, &[(0, 10), (1, 0), (3, 5)]);
        write_with(&b, width, &[(2, 20), (4, 0)]);
        assert_eq!(peak_of_sum(&[&a, &b]).unwrap(), 25, "width {width}");
        write_with(&a, width, &[(0, 10), (1, 0)]);
        assert_eq!(peak_of_sum(&[&a, &b]).unwrap(), 20, "width {width}");
    }
    assert_eq!(peak_of_sum(&[]).unwrap(), 0);
}

/// A part that does not change in a window still holds what it held before: part a
/// rises to 30 in window 0 and keeps it; part b changes only in window 5.
#[test]
fn the_bytes_carried_into_a_window_count() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    write_with(&a, 10, &[(1, 30)]);
    write_with(&b, 10, &[(55, 20), (56, 2)]);
    assert_eq!(peak_of_sum(&[&a, &b]).unwrap(), 50);
}

/// The windows an upper bound leaves out are not read: a trace whose only growing
/// window is last gives its peak even with an earlier window's records damaged (which a
/// window read would refuse).
#[test]
fn windows_below_the_peak_found_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a");
    write_with(&p, 10, &[(1, 5), (2, 3), (15, 4), (25, 9)]);
    let mut bytes = std::fs::read(&p).unwrap();
    // Window 0's second record's change (3 − 5 = −2, zigzag 3) made −1 (zigzag 1).
    assert_eq!(&bytes[8..12], &[1, 10, 1, 3]);
    bytes[11] = 1;
    std::fs::write(&p, &bytes).unwrap();
    assert_eq!(peak_of_sum(&[&p]).unwrap(), 9);
    // The window read is checked against its index.
    write_with(&p, 10, &[(1, 5), (2, 3), (15, 4), (25, 9)]);
    let mut bytes = std::fs::read(&p).unwrap();
    let last = bytes.len() - FOOTER - 8 * ENTRY_WORDS;
    // The last window's most bytes, 9, said to be 10.
    bytes[last + 8 * 5] = 10;
    let e = refused(&p, &bytes);
    assert!(e.contains("do not match its index"), "{e}");
}

/// The peak of the sum the slow way: every part's bytes at every instant any changes.
fn naive_peak(parts: &[Vec<(u64, u64)>]) -> u64 {
    let mut instants: Vec<u64> = parts.iter().flatten().map(|r| r.0).collect();
    instants.sort_unstable();
    instants.dedup();
    let maps: Vec<std::collections::BTreeMap<u64, u64>> =
        parts.iter().map(|p| p.iter().copied().collect()).collect();
    let held =
        |m: &std::collections::BTreeMap<u64, u64>, t| m.range(..=t).next_back().map_or(0, |r| *r.1);
    instants
        .iter()
        .map(|&t| maps.iter().map(|m| held(m, t)).sum::<u64>())
        .max()
        .unwrap_or(0)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// Parts of up to 600 records, stored bytes walking up and down, part `k` changing
    /// every 1..4 × 4^k µs (so that one part often changes many times between two changes
    /// of another, and instants often coincide), windows of 1 to 200 µs: the merge's peak
    /// is the slow way's.
    #[test]
    fn the_peak_of_a_sum_over_windows_is_the_slow_ways(
        width in 1u64..200,
        parts in proptest::collection::vec(
            proptest::collection::vec((1u64..4, -(1i64 << 20)..1 << 20), 0..600),
            1..4,
        )
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut traces = Vec::new();
        for (k, steps) in parts.iter().enumerate() {
            let mut t = 0;
            // Stored bytes as they go: a walk up and down from 1 TB.
            let mut b = 1u64 << 40;
            let recs: Vec<(u64, u64)> = steps
                .iter()
                .map(|&(dt, db)| {
                    t += dt << (2 * k);
                    b = b.saturating_add_signed(db);
                    (t, b)
                })
                .collect();
            write_with(&dir.path().join(k.to_string()), width, &recs);
            traces.push(recs);
        }
        let paths: Vec<_> = (0..parts.len()).map(|k| dir.path().join(k.to_string())).collect();
        let paths: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
        proptest::prop_assert_eq!(peak_of_sum(&paths).unwrap(), naive_peak(&traces));
    }
}

/// An instant out of order is refused in a window read: two records at one instant, in
/// one part and where two parts' records interleave.
#[test]
fn instants_out_of_order_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    write(&a, &[(10, 1), (20, 5), (20, 6)]);
    let e = peak_of_sum(&[&a]).unwrap_err().to_string();
    assert!(e.contains("increasing order"), "{e}");
    write(&b, &[(5, 1), (15, 2)]);
    let e = peak_of_sum(&[&a, &b]).unwrap_err().to_string();
    assert!(e.contains("increasing order"), "two parts: {e}");
}

#[test]
fn a_file_that_is_not_a_trace_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(STORAGE_TRACE);
    // A trace of the format before windows.
    let e = refused(&p, b"BSSTOR01\x85");
    assert!(
        e.contains("marker") && e.contains("run the part again"),
        "{e}"
    );
    let e = refused(&p, b"hello");
    assert!(e.contains("marker"), "{e}");
    // Cut short: the footer is gone.
    write(&p, &[(1, 5), (2, 3)]);
    let whole = std::fs::read(&p).unwrap();
    let e = refused(&p, &whole[..whole.len() - 3]);
    assert!(e.contains("cut short or damaged"), "{e}");
    // A record cut short inside its window (the index still says where it ends).
    let mut bytes = whole.clone();
    bytes[8 + 3] |= 0x80;
    let e = refused(&p, &bytes);
    assert!(e.contains("cut short or too long"), "{e}");
    // Parts of windows of different widths are not one run's.
    write_with(&p, 10, &[(1, 5)]);
    let q = dir.path().join("q");
    write(&q, &[(1, 5)]);
    let e = peak_of_sum(&[&q, &p]).unwrap_err().to_string();
    assert!(e.contains("windows are not those"), "{e}");
}

/// An index whose lengths add up past `u64::MAX` is refused (they were added unchecked).
#[test]
fn an_index_whose_lengths_overflow_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(STORAGE_TRACE);
    write(&p, &[(1, 5), (2, 3)]);
    let mut bytes = std::fs::read(&p).unwrap();
    let len_at = bytes.len() - FOOTER - 8 * ENTRY_WORDS + 16;
    bytes[len_at..len_at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    let e = refused(&p, &bytes);
    assert!(e.contains("does not describe its records"), "{e}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// A trace with any of its bytes changed is refused or read, never a panic: the index
    /// is checked before it is followed.
    #[test]
    fn a_damaged_trace_is_refused_not_a_panic(
        at in proptest::collection::vec((0usize..1000, proptest::prelude::any::<u8>()), 1..6),
        cut in 0usize..8,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        let recs: Vec<(u64, u64)> = (0..40u64).map(|i| (i * 7, i * i * 1000)).collect();
        write_with(&p, 50, &recs);
        let mut bytes = std::fs::read(&p).unwrap();
        for &(i, b) in &at {
            let i = i % bytes.len();
            bytes[i] = b;
        }
        bytes.truncate(bytes.len() - cut);
        std::fs::write(&p, &bytes).unwrap();
        let _ = peak_of_sum(&[&p]);
    }
}

/// A varint reads back as written at the edges of its byte counts, up to the largest
/// value a record holds (a zigzagged 128-bit delta), in exactly as many bytes as seven
/// bits a byte need.
#[test]
fn varints_round_trip_at_their_edges() {
    let mut values = vec![0u128, 1, u128::MAX];
    for bits in (7..128).step_by(7) {
        values.extend([(1u128 << bits) - 1, 1u128 << bits]);
    }
    for x in values {
        let mut buf = vec![0xAA; 1 + MAX_VARINT];
        let end = put_varint(&mut buf, 1, x);
        let len = (128 - x.leading_zeros() as usize).div_ceil(7).max(1);
        assert_eq!(end, 1 + len, "{x}");
        assert_eq!(buf[0], 0xAA, "{x}: the byte before is kept");
        assert_eq!(varint(&buf[..end], 1), Some((x, 1 + len)), "{x}");
    }
}
