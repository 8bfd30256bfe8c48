//! HdrHistogram files of a results directory.
//!
//! Every latency-like metric of the simulator (job durations, phase durations,
//! recovery point age, geo-replication lag) is recorded in an HdrHistogram of
//! **microseconds** built by [`new_histogram`], and written to
//! `histograms/<metric>.hdr` in the V2 + DEFLATE ("compressed") encoding that
//! other HdrHistogram implementations (Java, Go, Python, `hdr-plot`) read too.

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::Path;

use flate2::{Compress, Compression, FlushCompress, Status};
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;

use crate::model::metrics::Latency;
pub use crate::model::metrics::{new_histogram, stats, HIGHEST_US, LOWEST_US, SIGFIG};

/// The cookie of the V2 + DEFLATE encoding (HdrHistogram's V2 compressed cookie with the
/// 8-byte word size), written big-endian first.
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;

/// Writes `h` to `path` in the HdrHistogram V2 + DEFLATE encoding, replacing
/// any existing file (see [`HdrWriter`]).
///
/// Encoding errors are reported as [`io::ErrorKind::Other`].
pub fn write_hdr(path: &Path, h: &Histogram<u64>) -> io::Result<()> {
    HdrWriter::new().write(path, h)
}

/// Writes histograms in HdrHistogram's V2 + DEFLATE encoding, reusing its buffers and
/// its compressor from one file to the next (setting up a compressor costs more than
/// compressing one of these small payloads).
///
/// The layout is HdrHistogram's `V2DeflateSerializer`'s (cookie, compressed length, a
/// zlib stream of the V2 encoding), compressed at zlib's fastest level: these payloads
/// are a few kilobytes of mostly run-length-encoded zeros, where the default level
/// spends several times the CPU for files about 5 % smaller. Any zlib reader
/// decompresses either level to the same V2 bytes, so every HdrHistogram reader reads
/// the same histogram.
pub struct HdrWriter {
    v2: Vec<u8>,
    out: Vec<u8>,
    serializer: V2Serializer,
    z: Compress,
    /// Whether `z` has compressed a file since it was made (it is reset before the next:
    /// a reset clears some hundreds of KiB of tables, which a new one already has clear).
    z_used: bool,
    /// The bytes of an empty [`Latency`] once encoded (empty until then): a run often
    /// writes several (no restores, no failures), and each would cost a reset.
    empty: Vec<u8>,
}

impl Default for HdrWriter {
    fn default() -> Self {
        HdrWriter::new()
    }
}

impl HdrWriter {
    /// A writer with empty buffers.
    pub fn new() -> HdrWriter {
        HdrWriter {
            v2: Vec::new(),
            out: Vec::new(),
            serializer: V2Serializer::new(),
            z: Compress::new(Compression::fast(), true),
            z_used: false,
            empty: Vec::new(),
        }
    }

    /// The `.hdr` bytes of `h`.
    pub fn encode(&mut self, h: &Histogram<u64>) -> io::Result<&[u8]> {
        self.v2.clear();
        self.serializer
            .serialize(h, &mut self.v2)
            .map_err(|e| io::Error::other(format!("encoding histogram: {e:?}")))?;
        self.compress()
    }

    /// The `.hdr` bytes of `l`: the same bytes as [`HdrWriter::encode`] of
    /// [`Latency::to_histogram`], encoded from the counts directly (building the
    /// HdrHistogram would zero and fill another 0.3 MB array per file).
    pub fn encode_latency(&mut self, l: &Latency) -> io::Result<&[u8]> {
        let empty = l.count() == 0;
        if empty && !self.empty.is_empty() {
            return Ok(&self.empty);
        }
        self.v2.clear();
        v2_encode(l.counts(), |i, c| l.count_of(i, c), &mut self.v2);
        self.compress()?;
        if empty {
            self.empty = self.out.clone();
        }
        Ok(&self.out)
    }

    /// Compresses the V2 bytes in `self.v2` behind the V2 + DEFLATE header.
    fn compress(&mut self) -> io::Result<&[u8]> {
        self.out.clear();
        self.out
            .extend_from_slice(&V2_COMPRESSED_COOKIE.to_be_bytes());
        self.out.extend_from_slice(&[0; 4]);
        if self.z_used {
            self.z.reset();
        }
        self.z_used = true;
        loop {
            // A zlib stream is at most a few bytes per 16 KiB block longer than its input.
            self.out.reserve(self.v2.len() + 64);
            let read = self.z.total_in() as usize;
            let status = self
                .z
                .compress_vec(&self.v2[read..], &mut self.out, FlushCompress::Finish)
                .map_err(io::Error::other)?;
            if status == Status::StreamEnd {
                break;
            }
        }
        let len = u32::try_from(self.out.len() - 8)
            .map_err(|_| io::Error::other("encoded histogram over 4 GiB"))?;
        self.out[4..8].copy_from_slice(&len.to_be_bytes());
        Ok(&self.out)
    }

    /// Writes `h` to `path`, replacing any existing file.
    pub fn write(&mut self, path: &Path, h: &impl HdrSource) -> io::Result<()> {
        let bytes = h.encode_with(self)?;
        File::create(path)?.write_all(bytes)
    }
}

/// A histogram [`HdrWriter`] can write: an HdrHistogram (merged or read from files) or
/// a run's [`Latency`] counts.
pub trait HdrSource {
    /// Its `.hdr` bytes, encoded by `w`.
    fn encode_with<'w>(&self, w: &'w mut HdrWriter) -> io::Result<&'w [u8]>;
}

impl HdrSource for Histogram<u64> {
    fn encode_with<'w>(&self, w: &'w mut HdrWriter) -> io::Result<&'w [u8]> {
        w.encode(self)
    }
}

impl HdrSource for Latency {
    fn encode_with<'w>(&self, w: &'w mut HdrWriter) -> io::Result<&'w [u8]> {
        w.encode_latency(self)
    }
}

/// The cookie of the uncompressed V2 encoding (with the 8-byte word size).
const V2_COOKIE: u32 = 0x1c84_9313;

/// HdrHistogram's V2 encoding of a histogram of the standard layout ([`new_histogram`])
/// whose counts up to its highest recorded bucket are `counts`: a 40-byte header (cookie,
/// payload length, normalizing offset 0, significant digits, lowest and highest
/// trackable values, conversion ratio 1.0), then each count zig-zag LEB128-encoded, a
/// run of two or more zeros as its negated length (as `V2Serializer`). A nonzero entry
/// `c` of bucket `i` is the count `count(i, c)` ([`Latency::count_of`]).
fn v2_encode<'a>(
    counts: impl Iterator<Item = &'a [u32]>,
    count: impl Fn(usize, u32) -> u64,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(&V2_COOKIE.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&u32::from(SIGFIG).to_be_bytes());
    out.extend_from_slice(&LOWEST_US.to_be_bytes());
    out.extend_from_slice(&HIGHEST_US.to_be_bytes());
    out.extend_from_slice(&1.0f64.to_be_bytes());
    let header = out.len();
    // Zig-zag LEB128 of a count or of a negated run length.
    let put = |v: i64, out: &mut Vec<u8>| varint(((v << 1) ^ (v >> 63)) as u64, out);
    // A single zero is written as the count 0, a run of several as its negated length.
    let run = |zeros: i64, out: &mut Vec<u8>| match zeros {
        0 => {}
        1 => put(0, out),
        n => put(-n, out),
    };
    let mut zeros = 0i64;
    // The entry `c` of bucket `i`.
    let one = |i: usize, c: u32, zeros: &mut i64, out: &mut Vec<u8>| {
        if c == 0 {
            *zeros += 1;
        } else {
            run(*zeros, out);
            *zeros = 0;
            // Counts past i64::MAX cannot occur (a run records far fewer values).
            put(count(i, c) as i64, out);
        }
    };
    let mut at = 0;
    for slice in counts {
        // Most of the layout's 37 000 counts are zero: eight at a time are skipped with
        // one test (an OR of the eight).
        let mut blocks = slice.chunks_exact(8);
        for block in &mut blocks {
            if block.iter().fold(0, |a, &c| a | c) == 0 {
                zeros += 8;
            } else {
                for (j, &c) in block.iter().enumerate() {
                    one(at + j, c, &mut zeros, out);
                }
            }
            at += 8;
        }
        for &c in blocks.remainder() {
            one(at, c, &mut zeros, out);
            at += 1;
        }
    }
    run(zeros, out);
    let len = (out.len() - header) as u32;
    out[4..8].copy_from_slice(&len.to_be_bytes());
}

/// HdrHistogram's LEB128 variant: 7 bits per byte for the first 8 bytes, then a 9th
/// byte with the last 8 bits.
#[inline]
fn varint(mut v: u64, out: &mut Vec<u8>) {
    for _ in 0..8 {
        if v < 0x80 {
            out.push(v as u8);
            return;
        }
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a histogram written by [`write_hdr`] (or any V2 / V2 + DEFLATE
/// HdrHistogram file).
///
/// A file that is not a valid histogram gives [`io::ErrorKind::InvalidData`].
pub fn read_hdr(path: &Path) -> io::Result<Histogram<u64>> {
    let mut r = BufReader::new(File::open(path)?);
    Deserializer::new().deserialize(&mut r).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("decoding histogram {}: {e:?}", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hist_of(values: &[u64]) -> Histogram<u64> {
        let mut h = new_histogram();
        for &v in values {
            h.record(v).unwrap();
        }
        h
    }

    fn roundtrip(h: &Histogram<u64>) -> Histogram<u64> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.hdr");
        write_hdr(&path, h).unwrap();
        read_hdr(&path).unwrap()
    }

    #[test]
    fn bounds_are_documented_range() {
        let h = new_histogram();
        assert_eq!(h.low(), 1);
        assert!(h.high() >= 1 << 45);
        assert_eq!(h.sigfig(), 3);
        // 2^45 µs is a bit over a year.
        let years = HIGHEST_US as f64 / 1e6 / 86_400.0 / 365.0;
        assert!((1.0..1.2).contains(&years), "{years}");
    }

    #[test]
    fn file_is_v2_deflate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.hdr");
        write_hdr(&path, &hist_of(&[1, 2, 3])).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        // V2 compressed cookie (0x1c849304 | 0x10 word size), big-endian.
        assert_eq!(&bytes[..4], &[0x1c, 0x84, 0x93, 0x14]);
    }

    #[test]
    fn fast_level_file_holds_the_default_serializers_v2_payload() {
        use flate2::read::ZlibDecoder;
        use hdrhistogram::serialization::V2DeflateSerializer;
        use std::io::Read;
        let h = hist_of(&[0, 1, 7, 999, 1_000_000, 3_600_000_000, HIGHEST_US]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.hdr");
        write_hdr(&path, &h).unwrap();
        let ours = std::fs::read(&path).unwrap();
        let mut theirs = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&h, &mut theirs)
            .unwrap();
        let unpack = |b: &[u8]| {
            let len = u32::from_be_bytes(b[4..8].try_into().unwrap()) as usize;
            assert_eq!(len, b.len() - 8);
            let mut v2 = Vec::new();
            ZlibDecoder::new(&b[8..]).read_to_end(&mut v2).unwrap();
            v2
        };
        assert_eq!(ours[..4], theirs[..4]);
        assert_eq!(unpack(&ours), unpack(&theirs));
        // A writer reused across histograms writes each as a fresh one does.
        let mut w = HdrWriter::new();
        let other = hist_of(&(1..3000).map(|i| i * i).collect::<Vec<_>>());
        for x in [&other, &h, &new_histogram(), &h] {
            let reused = w.encode(x).unwrap().to_vec();
            assert_eq!(reused, HdrWriter::new().encode(x).unwrap());
            assert!(!unpack(&reused).is_empty());
        }
        assert_eq!(w.encode(&h).unwrap(), &ours[..]);
    }

    #[test]
    fn latency_files_are_byte_identical_to_their_hdrhistograms() {
        use crate::engine::SimDuration;
        let mut w = HdrWriter::new();
        let mut x: u64 = 7;
        // Counts in far apart chunks, with chunks never recorded into between them.
        let mut cases: Vec<Vec<u64>> = vec![vec![], vec![0], vec![0, 0, 5], vec![HIGHEST_US]];
        cases.push(vec![3, 1 << 30, (1 << 30) + 1, HIGHEST_US]);
        // Runs of zeros of every length, counts needing 1 to 9 varint bytes.
        cases.push((0..5000).map(|i| i * 3).collect());
        cases.push(
            (0..20_000)
                .map(|_| {
                    x = crate::engine::rng::mix64(x);
                    (x >> 20) >> (x % 46)
                })
                .collect(),
        );
        // An empty histogram again, after others: the bytes kept from the first.
        cases.push(vec![]);
        for values in &cases {
            let mut l = Latency::default();
            values.iter().for_each(|&v| l.record(SimDuration(v)));
            let h = l.to_histogram();
            let direct = w.encode_latency(&l).unwrap().to_vec();
            assert_eq!(direct, w.encode(&h).unwrap(), "{} values", values.len());
            // A copy holds the same counts (it copies only the chunks recorded into).
            let copy = w.encode_latency(&l.clone()).unwrap().to_vec();
            assert_eq!(copy, direct, "copy of {} values", values.len());
        }
        // Large counts (past 32 bits, several varint bytes), beside small ones.
        let mut l = Latency::default();
        l.record_n(SimDuration(1_000), 1 << 50);
        l.record_n(SimDuration(999), 3);
        l.record_n(SimDuration(1_001), u64::from(u32::MAX));
        l.record_n(SimDuration(2_000), u64::from(u32::MAX) - 1);
        let direct = w.encode_latency(&l).unwrap().to_vec();
        assert_eq!(direct, w.encode(&l.to_histogram()).unwrap());
    }

    #[test]
    fn roundtrip_is_exact() {
        let h = hist_of(&[0, 1, 7, 999, 1_000_000, 3_600_000_000, HIGHEST_US]);
        let back = roundtrip(&h);
        assert_eq!(back, h);
        assert_eq!(back.len(), 7);
        assert_eq!(back.max(), h.max());
        assert_eq!(back.low(), h.low());
        assert_eq!(back.high(), h.high());
        assert_eq!(back.sigfig(), h.sigfig());
        assert_eq!(stats(&back), stats(&h));
    }

    #[test]
    fn empty_roundtrip_and_stats() {
        let h = new_histogram();
        let back = roundtrip(&h);
        assert_eq!(back, h);
        assert!(stats(&back).values().all(|&v| v == 0.0));
    }

    #[test]
    fn merge_of_read_histograms_equals_union() {
        let a: Vec<u64> = (1..500).map(|i| i * 37).collect();
        let b: Vec<u64> = (1..300).map(|i| i * i * 1013).collect();
        let mut merged = roundtrip(&hist_of(&a));
        merged.add(roundtrip(&hist_of(&b))).unwrap();
        let union: Vec<u64> = a.iter().chain(&b).copied().collect();
        assert_eq!(merged, hist_of(&union));
    }

    #[test]
    fn stats_keys_and_units() {
        // 1..=1000 seconds, one sample each.
        let v: Vec<u64> = (1..=1000).map(|s| s * 1_000_000).collect();
        let s = stats(&hist_of(&v));
        let keys: Vec<_> = s.keys().copied().collect();
        assert_eq!(keys, ["max", "mean", "p50", "p90", "p95", "p99", "p999"]);
        let close = |k: &str, want: f64| {
            let got = s[k];
            assert!(
                (got - want).abs() <= want * 0.001 + 1e-9,
                "{k}: {got} vs {want}"
            );
        };
        close("mean", 500.5);
        close("p50", 500.0);
        close("p90", 900.0);
        close("p95", 950.0);
        close("p99", 990.0);
        close("p999", 999.0);
        close("max", 1000.0);
    }

    #[test]
    fn read_garbage_is_invalid_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.hdr");
        std::fs::write(&path, b"not a histogram").unwrap();
        assert_eq!(
            read_hdr(&path).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        assert_eq!(
            read_hdr(&dir.path().join("absent.hdr")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn prop_roundtrip_and_merge(
            a in proptest::collection::vec(0u64..=HIGHEST_US, 0..200),
            b in proptest::collection::vec(0u64..=HIGHEST_US, 0..200),
        ) {
            let ha = hist_of(&a);
            let hb = hist_of(&b);
            let ra = roundtrip(&ha);
            let rb = roundtrip(&hb);
            prop_assert_eq!(&ra, &ha);
            prop_assert_eq!(&rb, &hb);
            let mut merged = ra.clone();
            merged.add(&rb).unwrap();
            let union: Vec<u64> = a.iter().chain(&b).copied().collect();
            prop_assert_eq!(merged, hist_of(&union));
        }
    }
}
