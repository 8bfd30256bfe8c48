//! In-memory metrics of a run: counters and HDR latency histograms.
//!
//! Names are dotted strings (the keys of `summary.json`), but the hot path never touches a
//! string: histograms live in fixed fields and per-entity arrays of the model, and only
//! the end of a run (`model::Outcome`) builds the name → value map, in sorted order.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::engine::SimDuration;

mod buckets;
use buckets::{bucket_span, index, lowest_value, Buckets};

/// Highest value a latency histogram tracks.
pub const HIST_MAX_MICROS: u64 = HIGHEST_US;

/// Bytes a [`Latency`] keeps per bucket of the standard layout (its counts' width; the
/// memory estimate's histogram size).
pub const LATENCY_COUNT_BYTES: u64 = std::mem::size_of::<u32>() as u64;

/// Lowest discernible value of the standard histogram: 1 µs.
pub const LOWEST_US: u64 = 1;
/// Highest trackable value of the standard histogram: 2^45 µs ≈ 35.2 million
/// seconds ≈ 407 days (about 1.1 years).
pub const HIGHEST_US: u64 = 1 << 45;
/// Significant decimal digits kept by the standard histogram (relative error
/// at most 0.1 %).
pub const SIGFIG: u8 = 3;

/// Microseconds per second, for converting histogram values.
const US_PER_S: f64 = 1e6;

/// The project's standard histogram.
///
/// Values are **microseconds**, trackable from 1 µs up to 2^45 µs (≈ 407 days,
/// about 1.1 years) with 3 significant digits, so any value is stored with a
/// relative error of at most 0.1 %. The range is fixed (no auto-resize) so
/// that histograms from different runs always have the same layout and can be
/// merged with [`Histogram::add`]; record with
/// [`Histogram::saturating_record`] if a value could exceed the range.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGFIG)
        .expect("constant histogram bounds are valid")
}

/// Summary statistics of a microsecond histogram, in **seconds**.
///
/// Keys are exactly `"mean"`, `"p50"`, `"p90"`, `"p95"`, `"p99"`, `"p999"`
/// (99.9th percentile) and `"max"`. Percentiles are HdrHistogram's
/// `value_at_quantile` (the highest value equivalent to the sample at that
/// rank), so they are within the histogram's 0.1 % precision. An empty
/// histogram gives 0 for every key.
pub fn stats(h: &Histogram<u64>) -> BTreeMap<&'static str, f64> {
    let q = |q: f64| h.value_at_quantile(q) as f64 / US_PER_S;
    BTreeMap::from([
        ("mean", h.mean() / US_PER_S),
        ("p50", q(0.50)),
        ("p90", q(0.90)),
        ("p95", q(0.95)),
        ("p99", q(0.99)),
        ("p999", q(0.999)),
        ("max", h.max() as f64 / US_PER_S),
    ])
}

/// A latency histogram in microseconds, in the exact bucket layout of [`new_histogram`]
/// (1 µs to 2^45 µs, 3 significant digits), kept as a plain counts array.
///
/// Recording is a shift and an add (HdrHistogram's general path costs several times
/// that, once per job and phase), and the statistics come from one pass over the counts
/// between the lowest and highest recorded buckets, summed in the order HdrHistogram
/// sums them, so every statistic is bit for bit HdrHistogram's ([`stats`] of
/// [`Latency::to_histogram`]) and the `.hdr` file is the same. The counts (4 bytes each;
/// the rare wider ones kept apart) are allocated zeroed by the system (`calloc`), and
/// reading, adding, copying or clearing them visits only the pages recorded into (see
/// `buckets`): the others are never touched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Latency {
    counts: Buckets,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            counts: Buckets::new(),
        }
    }
}

impl Latency {
    /// Records one duration (clamped into the tracked range).
    #[inline]
    pub fn record(&mut self, d: SimDuration) {
        self.record_n(d, 1);
    }

    /// Records `n` occurrences of one duration.
    #[inline]
    pub fn record_n(&mut self, d: SimDuration, n: u64) {
        self.record_us_n(d.as_micros(), n);
    }

    /// Records `n` occurrences of `us` microseconds (clamped into the tracked range).
    #[inline(always)]
    fn record_us_n(&mut self, us: u64, n: u64) {
        self.counts.bump(index(us), n);
    }

    /// Records `first`, `first + step`, `first + 2 step`, … below `below` (µs, clamped
    /// into the tracked range; `step` > 0): as many records of one value each, for values
    /// recorded by the hundred million (RPO ages: one per protected VM per sample hour).
    #[inline]
    pub fn record_every(&mut self, first: u64, step: u64, below: u64) {
        self.counts.bump_every(first, step, below);
    }

    /// Hints that `d` will be recorded soon (see `engine::prefetch`): its count's cache
    /// line loads meanwhile. Records nothing.
    #[inline]
    pub fn prefetch(&self, d: SimDuration) {
        self.counts.prefetch(index(d.as_micros()));
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.counts.total()
    }

    /// Adds every count of `other` to these (as [`Histogram::add`]).
    pub fn add(&mut self, other: &Latency) {
        self.counts.add(&other.counts);
    }

    /// Empties the histogram, keeping its memory.
    pub fn clear(&mut self) {
        self.counts.clear();
    }

    /// The same counts read from an HdrHistogram of the standard layout (a merged or
    /// read `.hdr` file).
    pub fn from_histogram(h: &Histogram<u64>) -> Latency {
        let mut l = Latency::default();
        for v in h.iter_recorded() {
            l.record_us_n(v.value_iterated_to(), v.count_at_value());
        }
        l
    }

    /// The HdrHistogram of these counts: each bucket's count recorded at its lowest
    /// value, which gives the histogram that recording each value would have given
    /// (counts, total, min, max, statistics and the `.hdr` bytes).
    pub fn to_histogram(&self) -> Histogram<u64> {
        let mut h = new_histogram();
        for (i, c) in self.nonzero() {
            h.saturating_record_n(lowest_value(i), c);
        }
        h
    }

    /// The counts by bucket (HdrHistogram's index order) up to and including the highest
    /// recorded bucket; just the first bucket's when nothing was recorded. This is the
    /// span HdrHistogram's V2 encoding writes. In consecutive slices (of zeros where
    /// no page of the counts was recorded into), of 4-byte entries: zero is a zero count,
    /// and a nonzero entry's count is [`Latency::count_of`] (the entry itself but for a
    /// count too large for 4 bytes).
    pub fn counts(&self) -> impl Iterator<Item = &[u32]> + '_ {
        self.counts.up_to(self.counts.highest().unwrap_or(0))
    }

    /// The count of the bucket at index `i` whose entry in [`Latency::counts`] is `c`.
    #[inline]
    pub fn count_of(&self, i: usize, c: u32) -> u64 {
        self.counts.read(i, c)
    }

    /// The count of the bucket at index `i` (HdrHistogram's index order).
    pub fn count_at(&self, i: usize) -> u64 {
        self.counts.get(i)
    }

    /// The recorded buckets, lowest first, with their counts.
    fn nonzero(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.counts.nonzero()
    }

    /// [`stats`] of these counts, bit for bit: the mean sums each recorded bucket's
    /// middle value times its share in bucket order (as `Histogram::mean`), each
    /// percentile is the highest value of the bucket where the running count reaches
    /// `ceil(q × total)` (at least 1, as `Histogram::value_at_quantile`), and the maximum
    /// is the highest value of the highest bucket. An empty histogram gives 0 for every key.
    pub fn stats(&self) -> BTreeMap<&'static str, f64> {
        const QS: [(&str, f64); 5] = [
            ("p50", 0.50),
            ("p90", 0.90),
            ("p95", 0.95),
            ("p99", 0.99),
            ("p999", 0.999),
        ];
        let mut out = BTreeMap::new();
        let total = self.count();
        let (mut mean, mut max) = (0.0_f64, 0);
        let mut qv = [0u64; 5];
        if total > 0 {
            let targets = QS.map(|(_, q)| ((q * total as f64).ceil() as u64).max(1));
            let (mut run, mut k) = (0u64, 0);
            self.counts.for_each_nonzero(|i, c| {
                let (low, width) = bucket_span(i);
                mean += (low + (width >> 1)) as f64 * c as f64 / total as f64;
                run = run.saturating_add(c);
                while k < targets.len() && run >= targets[k] {
                    qv[k] = low + width - 1;
                    k += 1;
                }
            });
            let hi = self.counts.highest().unwrap_or(0);
            let (low, width) = bucket_span(hi);
            max = low + width - 1;
        }
        out.insert("mean", mean / US_PER_S);
        for ((name, _), v) in QS.iter().zip(qv) {
            out.insert(*name, v as f64 / US_PER_S);
        }
        out.insert("max", max as f64 / US_PER_S);
        out
    }

    /// Adds the summary statistics, in seconds, under `prefix.{mean,p50,...,max}`.
    /// An empty histogram adds nothing: a statistic of no value is not zero.
    pub fn summarize(&self, prefix: &str, out: &mut BTreeMap<String, f64>) {
        if self.count() == 0 {
            return;
        }
        for (name, v) in self.stats() {
            // The mean is rounded so that summing in another order (a merge) prints the same.
            let v = if name == "mean" { round6(v) } else { v };
            out.insert(format!("{prefix}.{name}"), v);
        }
    }
}

/// Rounds to 6 decimals so that a mean computed by summing in a different order (e.g.
/// after a merge) prints the same.
pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Named counters in a sorted map: for outcome codes and reasons, which are few and
/// counted once per job (not per event).
#[derive(Clone, Debug, Default)]
pub struct Counters(pub BTreeMap<String, u64>);

impl Counters {
    /// Adds `n` to `name`.
    pub fn add(&mut self, name: &str, n: u64) {
        match self.0.get_mut(name) {
            Some(v) => *v += n,
            None => {
                self.0.insert(name.to_string(), n);
            }
        }
    }
    /// The value of `name` (0 if never counted).
    pub fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }
}

/// The metrics estimated by batch means (`run --batches K`), in summary-key order.
pub const BATCH_METRICS: [&str; 3] = ["backup.duration.mean", "backup.success_rate", "rpo.mean"];

/// Per-batch sums of the steady-state metrics of one long run, for batch means: the span
/// `[from, end)` after the warm-up is split into `k` equal batches of simulated time. A
/// backup belongs to the batch of its scheduled time (as the warm-up decides by it), an
/// RPO sample to the batch of its sample time. With `k = 0` every call is a no-op.
#[derive(Clone, Debug, Default)]
pub struct Batches {
    from: u64,
    span: u64,
    /// Per batch: `[duration sum µs, durations, succeeded, failed, rpo sum µs, rpo samples]`.
    sums: Vec<[u128; 6]>,
}

impl Batches {
    /// `k` batches over `[from, end)` (µs); off when `k < 2` or the span is empty.
    pub fn new(k: u32, from: u64, end: u64) -> Batches {
        let on = k >= 2 && end > from;
        Batches {
            from,
            span: end.saturating_sub(from),
            sums: if on {
                vec![[0; 6]; k as usize]
            } else {
                Vec::new()
            },
        }
    }

    /// Batches with the given per-batch sums (the sum of a partitioned run's parts'
    /// [`Batches::sums`]): their [`Batches::values`] are the whole run's.
    pub fn from_sums(sums: Vec<[u128; 6]>) -> Batches {
        Batches {
            from: 0,
            span: 0,
            sums,
        }
    }

    /// Per batch: `[duration sum µs, durations, succeeded, failed, rpo sum µs, rpo
    /// samples]` (empty when off).
    pub fn sums(&self) -> &[[u128; 6]] {
        &self.sums
    }

    /// The batch of time `t` (µs): `None` before the warm-up or when off; times at or
    /// after the end (a drained run) belong to the last batch.
    #[inline]
    fn at(&mut self, t: u64) -> Option<&mut [u128; 6]> {
        if self.sums.is_empty() || t < self.from {
            return None;
        }
        let k = self.sums.len() as u128;
        let i = (u128::from(t - self.from) * k / u128::from(self.span)).min(k - 1);
        self.sums.get_mut(i as usize)
    }

    /// A successful backup scheduled at `scheduled` (µs) that took `d` µs.
    #[inline]
    pub fn succeeded(&mut self, scheduled: u64, d: u64) {
        if let Some(b) = self.at(scheduled) {
            b[0] += u128::from(d.min(HIST_MAX_MICROS));
            b[1] += 1;
            b[2] += 1;
        }
    }

    /// A backup scheduled at `scheduled` (µs) that failed for good.
    #[inline]
    pub fn failed(&mut self, scheduled: u64) {
        if let Some(b) = self.at(scheduled) {
            b[3] += 1;
        }
    }

    /// The RPO samples [`Latency::record_every`] gets for one VM between two points: the
    /// ages at the sample times (multiples of `every`, from `from`) in `[since, until)`.
    pub fn rpo(&mut self, since: u64, until: u64, from: u64, every: u64) {
        if self.sums.is_empty() {
            return;
        }
        let mut t = since.max(from).div_ceil(every) * every;
        while t < until {
            if let Some(b) = self.at(t) {
                b[4] += u128::from((t - since).min(HIST_MAX_MICROS));
                b[5] += 1;
            }
            t += every;
        }
    }

    /// Each metric of [`BATCH_METRICS`] with its value in every batch (seconds for
    /// durations); `None` for a batch without an observation of it. Empty when off.
    pub fn values(&self) -> BTreeMap<String, Vec<Option<f64>>> {
        if self.sums.is_empty() {
            return BTreeMap::new();
        }
        let ratio = |num: u128, den: u128, scale: f64| {
            (den > 0).then(|| round6(num as f64 / den as f64 / scale))
        };
        let cols: [Vec<Option<f64>>; 3] = [
            self.sums
                .iter()
                .map(|b| ratio(b[0], b[1], US_PER_S))
                .collect(),
            self.sums
                .iter()
                .map(|b| ratio(b[2], b[2] + b[3], 1.0))
                .collect(),
            self.sums
                .iter()
                .map(|b| ratio(b[4], b[5], US_PER_S))
                .collect(),
        ];
        BATCH_METRICS
            .iter()
            .map(|m| m.to_string())
            .zip(cols)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An HdrHistogram of the standard layout with each value recorded directly.
    fn direct(values: &[u64]) -> Histogram<u64> {
        let mut h = new_histogram();
        for &v in values {
            h.saturating_record(v.min(HIST_MAX_MICROS));
        }
        h
    }

    /// `stats` as bits, to compare floats exactly.
    fn bits(s: &BTreeMap<&'static str, f64>) -> Vec<(&'static str, u64)> {
        s.iter().map(|(k, v)| (*k, v.to_bits())).collect()
    }

    fn log_uniform_values(n: usize) -> Vec<u64> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut values: Vec<u64> = (0..5000u64).collect();
        values.extend([0, 1, 2047, 2048, 4095, 4096, HIST_MAX_MICROS, u64::MAX / 2]);
        for _ in 0..n {
            x = crate::engine::rng::mix64(x);
            // Log-uniform over the whole range.
            values.push((x >> 20) >> (x % 46));
        }
        values
    }

    /// Values recorded in progressions (`record_every`, as RPO ages are) give the
    /// histogram HdrHistogram gets recording each: counts, total, min, max, mean, file.
    #[test]
    fn progressions_equal_direct_recording() {
        let values = log_uniform_values(200_000);
        let mut direct = direct(&values);
        let mut bulk = Latency::default();
        for &v in &values {
            // A progression of one value (`v + 1` saturates at the top of u64).
            bulk.record_every(v, 1, v.saturating_add(1));
            let i = index(v);
            assert_eq!(
                lowest_value(i),
                direct.lowest_equivalent(v.min(HIST_MAX_MICROS)),
                "{v}"
            );
        }
        // Hourly ages from 17 µs to 30 days, and progressions past the tracked range.
        let hour = 3_600_000_000;
        bulk.record_every(17, hour, 30 * 24 * hour);
        bulk.record_every(HIST_MAX_MICROS - 5, 3, HIST_MAX_MICROS + 7);
        for k in 0..30 * 24 {
            direct.saturating_record(17 + k * hour);
        }
        for v in (HIST_MAX_MICROS - 5..HIST_MAX_MICROS + 7).step_by(3) {
            direct.saturating_record(v.min(HIST_MAX_MICROS));
        }
        assert_eq!(bulk.count(), direct.len());
        let via = bulk.to_histogram();
        assert!(via == direct);
        assert_eq!(via.max(), direct.max());
        assert_eq!(via.min(), direct.min());
        assert_eq!(via.mean().to_bits(), direct.mean().to_bits());
        use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
        let (mut a, mut b) = (Vec::new(), Vec::new());
        V2DeflateSerializer::new().serialize(&via, &mut a).unwrap();
        V2DeflateSerializer::new()
            .serialize(&direct, &mut b)
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn latency_stats_equal_hdrhistogram_bit_for_bit() {
        let values = log_uniform_values(50_000);
        let mut l = Latency::default();
        for &v in &values {
            l.record(SimDuration(v));
        }
        let h = direct(&values);
        assert_eq!(l.count(), h.len());
        assert_eq!(bits(&l.stats()), bits(&stats(&h)));
        assert!(l.to_histogram() == h);
        assert_eq!(bits(&Latency::from_histogram(&h).stats()), bits(&stats(&h)));
        // Durations of a few minutes to hours, as job durations are.
        let mins: Vec<u64> = (0..10_000u64)
            .map(|i| 60_000_000 + crate::engine::rng::mix64(i) % 7_200_000_000)
            .collect();
        let mut m = Latency::default();
        for &v in &mins {
            m.record(SimDuration(v));
        }
        assert_eq!(bits(&m.stats()), bits(&stats(&direct(&mins))));
        // Only zeros, and empty.
        let mut z = Latency::default();
        z.record_n(SimDuration(0), 3);
        assert_eq!(bits(&z.stats()), bits(&stats(&direct(&[0, 0, 0]))));
        assert_eq!(
            bits(&Latency::default().stats()),
            bits(&stats(&new_histogram()))
        );
    }

    #[test]
    fn latency_add_and_clear_equal_hdrhistogram() {
        let a = [5u64, 70_000, 3_600_000_000];
        let b = [1u64, 70_001, 9_000_000_000_000];
        let (mut la, mut lb) = (Latency::default(), Latency::default());
        a.iter().for_each(|&v| la.record(SimDuration(v)));
        b.iter().for_each(|&v| lb.record(SimDuration(v)));
        la.add(&lb);
        let mut h = direct(&a);
        h.add(direct(&b)).unwrap();
        assert!(la.to_histogram() == h);
        assert_eq!(bits(&la.stats()), bits(&stats(&h)));
        la.clear();
        assert_eq!(la.count(), 0);
        assert!(la.to_histogram() == new_histogram());
        la.record(SimDuration(42));
        assert!(la.to_histogram() == direct(&[42]));
        assert_eq!(bits(&la.stats()), bits(&stats(&direct(&[42]))));
    }

    /// Counts past 32 bits (kept apart from the 4-byte counts) read back, add, copy,
    /// clear and give the statistics as HdrHistogram's 8-byte counts do.
    #[test]
    fn latency_counts_past_32_bits_equal_hdrhistogram() {
        let big = (1u64 << 32) + 7;
        let mut la = Latency::default();
        la.record_n(SimDuration(5), big);
        la.record_n(SimDuration(70_000), u64::from(u32::MAX) - 3);
        // Four more records take the second count to 2^32 exactly, one at a time.
        la.record_every(70_000, 1 << 40, 70_001);
        la.record_every(70_000, 1 << 40, 70_001);
        (0..2).for_each(|_| la.record(SimDuration(70_000)));
        la.record(SimDuration(3_600_000_000));
        let mut h = new_histogram();
        h.record_n(5, big).unwrap();
        h.record_n(70_000, 1 << 32).unwrap();
        h.record(3_600_000_000).unwrap();
        assert!(la.to_histogram() == h);
        assert_eq!(la.count(), h.len());
        assert_eq!(bits(&la.stats()), bits(&stats(&h)));
        let mut lb = la.clone();
        assert!(lb == la);
        lb.add(&la);
        let mut h2 = h.clone();
        h2.add(&h).unwrap();
        assert!(lb.to_histogram() == h2);
        assert_eq!(bits(&lb.stats()), bits(&stats(&h2)));
        // Small histograms whose sum passes 2^32 records: counts summed one by one.
        let (mut lc, mut ld) = (Latency::default(), Latency::default());
        lc.record_n(SimDuration(9), 3 << 30);
        ld.record_n(SimDuration(9), 3 << 30);
        lc.add(&ld);
        assert_eq!(lc.count_at(9), 6 << 30);
        assert_eq!(lc.count(), 6 << 30);
        lb.clear();
        assert_eq!(lb.count(), 0);
        assert!(lb.to_histogram() == new_histogram());
        lb.record(SimDuration(70_000));
        assert!(lb.to_histogram() == direct(&[70_000]));
        // Counts saturate at u64::MAX, as HdrHistogram's saturating records do.
        let mut le = Latency::default();
        le.record_n(SimDuration(1), u64::MAX - 1);
        le.record_n(SimDuration(1), 5);
        assert_eq!(le.count_at(1), u64::MAX);
        assert_eq!(le.count(), u64::MAX);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn prop_latency_stats_equal_hdrhistogram(
            v in proptest::collection::vec(0u64..=HIST_MAX_MICROS, 1..300),
            shift in 0u32..40,
        ) {
            let v: Vec<u64> = v.iter().map(|x| x >> (shift % 40)).collect();
            let mut l = Latency::default();
            v.iter().for_each(|&x| l.record(SimDuration(x)));
            let h = direct(&v);
            proptest::prop_assert_eq!(bits(&l.stats()), bits(&stats(&h)));
            proptest::prop_assert!(l.to_histogram() == h);
        }
    }

    #[test]
    fn batches_split_the_span_after_the_warm_up() {
        // Warm-up 100 µs, end 500 µs, 4 batches of 100 µs.
        let mut b = Batches::new(4, 100, 500);
        b.succeeded(50, 1_000_000); // before the warm-up: left out
        b.succeeded(100, 2_000_000);
        b.succeeded(199, 4_000_000);
        b.failed(250);
        b.succeeded(250, 1_000_000);
        b.succeeded(700, 3_000_000); // after the end (drained): the last batch
                                     // Samples every 100 µs from the warm-up: ages at 200 and 300 since 150.
        b.rpo(150, 350, 100, 100);
        let v = b.values();
        assert_eq!(
            v["backup.duration.mean"],
            [Some(3.0), Some(1.0), None, Some(3.0)]
        );
        assert_eq!(
            v["backup.success_rate"],
            [Some(1.0), Some(0.5), None, Some(1.0)]
        );
        assert_eq!(v["rpo.mean"], [None, Some(5e-5), Some(1.5e-4), None]);
        assert!(Batches::new(1, 0, 10).values().is_empty());
        assert!(Batches::new(0, 0, 10).values().is_empty());
    }

    #[test]
    fn summary_in_seconds() {
        let mut l = Latency::default();
        for s in 1..=100u64 {
            l.record(SimDuration::from_secs(s));
        }
        let mut m = BTreeMap::new();
        l.summarize("x", &mut m);
        assert!((m["x.mean"] - 50.5).abs() < 0.05);
        assert!((m["x.p50"] - 50.0).abs() < 0.05);
        assert!((m["x.max"] - 100.0).abs() < 0.1);
        let mut e = BTreeMap::new();
        Latency::default().summarize("y", &mut e);
        assert!(e.is_empty());
    }
}
