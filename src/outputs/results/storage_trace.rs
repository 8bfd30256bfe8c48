//! `part-storage.bin`: the stored bytes of a part of a partitioned run over time, its one
//! writer and its one reader, and the peak of the parts' sum the merge takes from them.
//!
//! The peak over time of a sum is not determined by each part's peak, so each part
//! records the bytes it stores from every instant at which they change (after every change
//! at that instant, as the model's peak counts them). The file is the 8 bytes
//! [`MAGIC`], then one record per instant, in time order: the microseconds since the
//! previous instant and the change of the bytes (zigzag-encoded), each as an LEB128
//! varint, usually 5–8 bytes per record.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use crate::error::{io_at as io, Error, Result};

/// The file's name in a part directory.
pub const STORAGE_TRACE: &str = "part-storage.bin";

/// The file's first bytes (format version 1).
pub const MAGIC: &[u8; 8] = b"BSSTOR01";

/// Writes a trace as the run reports it.
pub struct TraceWriter {
    file: File,
    /// Records not yet written: encoded here byte by byte (a record per change of the
    /// stored bytes, at fleet scale millions), written out a block at a time.
    buf: Vec<u8>,
    at: u64,
    bytes: u64,
}

/// The bytes [`TraceWriter`] gathers before a write.
const BLOCK: usize = 1 << 16;

fn put_varint(buf: &mut Vec<u8>, mut x: u128) {
    while x >= 0x80 {
        buf.push((x & 0x7f) as u8 | 0x80);
        x >>= 7;
    }
    buf.push(x as u8);
}

impl TraceWriter {
    /// Creates the file at `path`.
    pub fn create(path: &Path) -> Result<TraceWriter> {
        let file = io(path, File::create(path))?;
        let mut buf = Vec::with_capacity(BLOCK + 2 * MAX_VARINT);
        buf.extend_from_slice(MAGIC);
        Ok(TraceWriter {
            file,
            buf,
            at: 0,
            bytes: 0,
        })
    }

    /// The bytes stored from `at` (µs, not before the previous record's) on.
    pub fn push(&mut self, at: u64, bytes: u64) -> std::io::Result<()> {
        let dt = at.saturating_sub(self.at);
        let delta = i128::from(bytes) - i128::from(self.bytes);
        let zigzag = ((delta << 1) ^ (delta >> 127)) as u128;
        self.at = at;
        self.bytes = bytes;
        put_varint(&mut self.buf, u128::from(dt));
        put_varint(&mut self.buf, zigzag);
        if self.buf.len() >= BLOCK {
            self.file.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes what is left and flushes the file.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.file.write_all(&self.buf)?;
        self.file.flush()
    }
}

/// The longest number a trace holds, in bytes: 19 of 7 bits cover 128.
const MAX_VARINT: usize = 19;

/// The bytes [`TraceReader`] reads at a time.
const READ_BLOCK: usize = 1 << 16;

/// Reads a trace record by record, or a block of records at a time.
pub struct TraceReader {
    file: File,
    /// Bytes read, `buf[pos..]` not yet decoded.
    buf: Vec<u8>,
    pos: usize,
    /// Whether the file's end has been read.
    eof: bool,
    at: u64,
    bytes: u64,
}

impl TraceReader {
    /// Opens the trace at `path`, checking its first bytes.
    pub fn open(path: &Path) -> Result<TraceReader> {
        let file = io(path, File::open(path))?;
        let mut r = TraceReader {
            file,
            buf: Vec::with_capacity(READ_BLOCK + 2 * MAX_VARINT),
            pos: 0,
            eof: false,
            at: 0,
            bytes: 0,
        };
        r.fill(path, MAGIC.len())?;
        if r.buf.len() < MAGIC.len() || &r.buf[..MAGIC.len()] != MAGIC {
            return Err(bad(path, "it does not start with the trace's marker"));
        }
        r.pos = MAGIC.len();
        Ok(r)
    }

    /// Reads until at least `want` bytes are left to decode or the file ends.
    fn fill(&mut self, path: &Path, want: usize) -> Result<()> {
        if self.buf.len() - self.pos >= want || self.eof {
            return Ok(());
        }
        self.buf.drain(..self.pos);
        self.pos = 0;
        while self.buf.len() < want && !self.eof {
            // Appended to the buffer's room as read, without zeroing it first.
            let limit = READ_BLOCK as u64;
            match (&mut self.file).take(limit).read_to_end(&mut self.buf) {
                Ok(n) => self.eof = n == 0,
                Err(e) => return Err(Error::io(path.to_path_buf(), e)),
            }
        }
        Ok(())
    }

    /// The next record `(µs, bytes)`, `None` at the end of the file.
    pub fn next_record(&mut self, path: &Path) -> Result<Option<(u64, u64)>> {
        // Two numbers of at most `MAX_VARINT` bytes each: with that many left (all but the
        // last few records), decoded without a check of the file's end per byte.
        self.fill(path, 2 * MAX_VARINT)?;
        if self.pos == self.buf.len() {
            return Ok(None);
        }
        let dt = self.varint(path)?;
        let z = self.varint(path)?;
        self.apply(path, dt, z).map(Some)
    }

    /// Replaces `out` with the next records, up to [`BLOCK_RECORDS`] of them; none at the
    /// end of the file. The records a merge walks: decoded here in one loop over the bytes
    /// read, where a call per record cost the merge (a serial step after the parts' runs)
    /// three times as much.
    pub fn next_block(&mut self, path: &Path, out: &mut Vec<(u64, u64)>) -> Result<()> {
        out.clear();
        while out.len() < BLOCK_RECORDS {
            self.fill(path, 2 * MAX_VARINT)?;
            // Records whole before `limit` need no check of the bytes' end; those of two
            // numbers of at most 9 bytes and in range (all but the rarest) are decoded in
            // 64 bits, the rest one at a time the long way (`next_record`), which also
            // reports what is wrong with a record.
            let limit = self.buf.len().saturating_sub(2 * MAX_VARINT);
            let (mut pos, mut at, mut bytes) = (self.pos, self.at, self.bytes);
            while pos < limit && out.len() < BLOCK_RECORDS {
                let Some((dt, p)) = short(&self.buf, pos) else {
                    break;
                };
                let Some((z, p)) = short(&self.buf, p) else {
                    break;
                };
                // The change is `z / 2` for an even `z`, `−(z / 2 + 1)` for an odd one.
                let next = match z & 1 {
                    0 => bytes.checked_add(z >> 1),
                    _ => bytes.checked_sub((z >> 1) + 1),
                };
                match (at.checked_add(dt).filter(|&a| a < u64::MAX), next) {
                    (Some(a), Some(b)) => (pos, at, bytes) = (p, a, b),
                    _ => break,
                }
                out.push((at, bytes));
            }
            (self.pos, self.at, self.bytes) = (pos, at, bytes);
            if out.len() < BLOCK_RECORDS {
                match self.next_record(path)? {
                    Some(r) => out.push(r),
                    None => break,
                }
            }
        }
        Ok(())
    }

    /// The record of a time step `dt` and a zigzag-encoded change `z`.
    #[inline]
    fn apply(&mut self, path: &Path, dt: u128, z: u128) -> Result<(u64, u64)> {
        let delta = (z >> 1) as i128 ^ -((z & 1) as i128);
        // `u64::MAX` marks a part's end in `peak_of_sum`: no instant (1 000 years are
        // far below it).
        let at = u64::try_from(dt)
            .ok()
            .and_then(|dt| self.at.checked_add(dt))
            .filter(|&at| at < u64::MAX);
        let bytes = u64::try_from(i128::from(self.bytes) + delta).ok();
        match (at, bytes) {
            (Some(at), Some(bytes)) => {
                self.at = at;
                self.bytes = bytes;
                Ok((at, bytes))
            }
            _ => Err(bad(path, "a record is out of range")),
        }
    }

    /// The number at `pos`, from the bytes already read (`fill` keeps a record's worth).
    #[inline]
    fn varint(&mut self, path: &Path) -> Result<u128> {
        let rest = &self.buf[self.pos..];
        let mut x: u128 = 0;
        for (i, &b) in rest.iter().take(MAX_VARINT).enumerate() {
            x |= u128::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                self.pos += i + 1;
                return Ok(x);
            }
        }
        if rest.len() >= MAX_VARINT {
            return Err(bad(path, "a number is too long"));
        }
        Err(bad(path, "it ends inside a record"))
    }
}

/// The number at `buf[pos..]` and the place after it, if it takes at most 9 bytes (63
/// bits: every time step and nearly every change) and `buf` holds them.
#[inline(always)]
fn short(buf: &[u8], pos: usize) -> Option<(u64, usize)> {
    let mut x = 0u64;
    for (i, &b) in buf.get(pos..pos + 9)?.iter().enumerate() {
        x |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((x, pos + i + 1));
        }
    }
    None
}

/// The records [`TraceReader::next_block`] decodes at a time (64 KiB of them).
pub const BLOCK_RECORDS: usize = 1 << 12;

fn bad(path: &Path, what: &str) -> Error {
    Error::input(
        path.display().to_string(),
        format!(
            "{what}: not a stored-bytes trace written by `run --partition`; run the part again"
        ),
    )
}

/// The peak over time of the sum of the parts' traces at `paths`: at each instant at
/// which any part changes, the sum of every part's bytes from that instant on. Streams
/// the files a block at a time (a trace may hold a record per backup). It runs after the
/// parts, alone, so its cost is wall time: where one part changes alone until another's
/// next instant (most of a trace), its records are passed over in one loop that keeps
/// their largest bytes, instead of a merge step each.
pub fn peak_of_sum(paths: &[&Path]) -> Result<u64> {
    let mut parts = paths
        .iter()
        .map(|&path| Part::open(path))
        .collect::<Result<Vec<_>>>()?;
    // Each part's bytes from its last instant passed on, and their sum.
    let mut held = vec![0u128; parts.len()];
    let (mut total, mut peak): (u128, u128) = (0, 0);
    loop {
        // The part whose next instant comes first (the first of equals), and the next
        // instant of any other.
        let (mut k, mut t, mut t2) = (0, u64::MAX, u64::MAX);
        for (j, p) in parts.iter().enumerate() {
            let a = p.at();
            if a < t {
                (k, t, t2) = (j, a, t);
            } else if a < t2 {
                t2 = a;
            }
        }
        if t == u64::MAX {
            break;
        }
        if t < t2 {
            // Part `k` alone changes before `t2`: the sum is the others' bytes plus its
            // own, which need no merge step per record.
            let others = total - held[k];
            let (last, most) = parts[k].run_before(t2)?;
            held[k] = u128::from(last);
            total = others + held[k];
            peak = peak.max(others + u128::from(most));
            continue;
        }
        for (j, p) in parts.iter_mut().enumerate() {
            if p.at() == t {
                let b = u128::from(p.bytes());
                total = total - held[j] + b;
                held[j] = b;
                p.step()?;
            }
        }
        peak = peak.max(total);
    }
    Ok(u64::try_from(peak).unwrap_or(u64::MAX))
}

/// A part's trace as [`peak_of_sum`] walks it: a block of records and the place of the
/// next one.
struct Part<'a> {
    path: &'a Path,
    reader: TraceReader,
    block: Vec<(u64, u64)>,
    next: usize,
}

impl<'a> Part<'a> {
    fn open(path: &'a Path) -> Result<Part<'a>> {
        let mut p = Part {
            path,
            reader: TraceReader::open(path)?,
            block: Vec::with_capacity(BLOCK_RECORDS),
            next: 0,
        };
        p.reader.next_block(path, &mut p.block)?;
        Ok(p)
    }

    /// The next record's instant, `u64::MAX` past the end.
    #[inline]
    fn at(&self) -> u64 {
        self.block.get(self.next).map_or(u64::MAX, |r| r.0)
    }

    /// The next record's bytes (with one left).
    #[inline]
    fn bytes(&self) -> u64 {
        self.block[self.next].1
    }

    /// Moves past the next record, checking that the one after comes later.
    #[inline]
    fn step(&mut self) -> Result<()> {
        let t = self.block[self.next].0;
        self.next += 1;
        if self.next == self.block.len() {
            self.reader.next_block(self.path, &mut self.block)?;
            self.next = 0;
        }
        match self.block.get(self.next) {
            Some(&(a, _)) if a <= t => {
                Err(bad(self.path, "its instants are not in increasing order"))
            }
            _ => Ok(()),
        }
    }

    /// Moves past every record before `end` (at least the next one): the bytes of the
    /// last of them and the most bytes among them.
    fn run_before(&mut self, end: u64) -> Result<(u64, u64)> {
        let (mut last, mut most) = (0, 0);
        loop {
            let mut prev = 0;
            let mut i = self.next;
            while let Some(&(a, b)) = self.block.get(i) {
                // (The next record was checked against its predecessor when it became
                // the next; each after it is checked here, the one at `end` too.)
                if i > self.next && a <= prev {
                    return Err(bad(self.path, "its instants are not in increasing order"));
                }
                if a >= end {
                    break;
                }
                (prev, last, most) = (a, b, most.max(b));
                i += 1;
            }
            if i < self.block.len() || i == self.next {
                self.next = i;
                return Ok((last, most));
            }
            // The block ran out before `end`: the records of the next.
            self.next = i - 1;
            self.step()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, records: &[(u64, u64)]) {
        let mut w = TraceWriter::create(path).unwrap();
        for &(t, b) in records {
            w.push(t, b).unwrap();
        }
        w.finish().unwrap();
    }

    #[test]
    fn records_read_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(STORAGE_TRACE);
        // Numbers of 1 to 10 bytes (among many records, so that long ones also come in
        // the middle of a block), and at the end of a buffer (read byte by byte).
        let mut recs = vec![(0, 5), (7, u64::MAX), (8, 0), (u64::MAX - 1, 1 << 40)];
        let mut many: Vec<(u64, u64)> = (0..30_000u64).map(|i| (i, i * i * 977)).collect();
        many[1000].1 = u64::MAX;
        many[20_000].1 = u64::MAX - 1;
        for recs in [&recs[..], &many[..]] {
            write(&p, recs);
            let mut r = TraceReader::open(&p).unwrap();
            let mut got = Vec::new();
            while let Some(x) = r.next_record(&p).unwrap() {
                got.push(x);
            }
            assert_eq!(got, recs);
            // A block at a time.
            let (mut r, mut block) = (TraceReader::open(&p).unwrap(), Vec::new());
            got.clear();
            loop {
                r.next_block(&p, &mut block).unwrap();
                if block.is_empty() {
                    break;
                }
                got.extend_from_slice(&block);
            }
            assert_eq!(got, recs);
        }
        // The end marker of `peak_of_sum` is no instant.
        recs.push((u64::MAX, 0));
        write(&p, &recs);
        let e = peak_of_sum(&[&p]).unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
    }

    /// Part a holds 10 until 1 µs, part b 20 from 2 µs: the sum's peak is 20, not the 30 of
    /// the parts' peaks added; at 3 µs both hold something: 5 + 20.
    #[test]
    fn the_peak_of_a_sum_is_taken_at_each_instant() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        write(&a, &[(0, 10), (1, 0), (3, 5)]);
        write(&b, &[(2, 20), (4, 0)]);
        assert_eq!(peak_of_sum(&[&a, &b]).unwrap(), 25);
        write(&a, &[(0, 10), (1, 0)]);
        assert_eq!(peak_of_sum(&[&a, &b]).unwrap(), 20);
        assert_eq!(peak_of_sum(&[]).unwrap(), 0);
    }

    /// The peak of the sum the slow way: every part's bytes at every instant any changes.
    fn naive_peak(parts: &[Vec<(u64, u64)>]) -> u64 {
        let mut instants: Vec<u64> = parts.iter().flatten().map(|r| r.0).collect();
        instants.sort_unstable();
        instants.dedup();
        let maps: Vec<std::collections::BTreeMap<u64, u64>> =
            parts.iter().map(|p| p.iter().copied().collect()).collect();
        let held = |m: &std::collections::BTreeMap<u64, u64>, t| {
            m.range(..=t).next_back().map_or(0, |r| *r.1)
        };
        instants
            .iter()
            .map(|&t| maps.iter().map(|m| held(m, t)).sum::<u64>())
            .max()
            .unwrap_or(0)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Parts of up to three blocks of records, stored bytes walking up and down, part
        /// `k` changing every 1..4 × 16^k µs (so that one part often changes many times
        /// between two changes of another, and instants often coincide): the merge's peak
        /// is the slow way's.
        #[test]
        fn the_peak_of_a_sum_across_blocks_is_the_slow_ways(
            parts in proptest::collection::vec(
                proptest::collection::vec((1u64..4, -(1i64 << 20)..1 << 20), 0..3 * BLOCK_RECORDS),
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
                        t += dt << (4 * k);
                        b = b.saturating_add_signed(db);
                        (t, b)
                    })
                    .collect();
                write(&dir.path().join(k.to_string()), &recs);
                traces.push(recs);
            }
            let paths: Vec<_> = (0..parts.len()).map(|k| dir.path().join(k.to_string())).collect();
            let paths: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
            proptest::prop_assert_eq!(peak_of_sum(&paths).unwrap(), naive_peak(&traces));
        }
    }

    /// An instant out of order is refused wherever it lies: inside a part's run of
    /// records, at a block's start, and where two parts' records interleave.
    #[test]
    fn instants_out_of_order_are_refused_across_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        for at in [10, BLOCK_RECORDS, BLOCK_RECORDS + 1] {
            let mut recs: Vec<(u64, u64)> =
                (0..2 * BLOCK_RECORDS as u64).map(|i| (10 * i, i)).collect();
            recs[at].0 = recs[at - 1].0;
            write(&a, &recs);
            let e = peak_of_sum(&[&a]).unwrap_err().to_string();
            assert!(e.contains("increasing order"), "{at}: {e}");
            write(
                &b,
                &(0..2 * BLOCK_RECORDS as u64)
                    .map(|i| (10 * i + 5, i))
                    .collect::<Vec<_>>(),
            );
            let e = peak_of_sum(&[&a, &b]).unwrap_err().to_string();
            assert!(e.contains("increasing order"), "{at}, two parts: {e}");
        }
    }

    #[test]
    fn a_file_that_is_not_a_trace_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(STORAGE_TRACE);
        std::fs::write(&p, b"BSSTOR01\x85").unwrap();
        let e = peak_of_sum(&[&p]).unwrap_err().to_string();
        assert!(e.contains("ends inside a record"), "{e}");
        std::fs::write(&p, b"hello").unwrap();
        let e = peak_of_sum(&[&p]).unwrap_err().to_string();
        assert!(e.contains("marker"), "{e}");
    }
}
