//! `part-storage.bin`: the stored bytes of a part of a partitioned run over time, its one
//! writer and its one reader, and the peak of the parts' sum the merge takes from them.
//!
//! The peak over time of a sum is not determined by each part's peak, so each part
//! records the bytes it stores from every instant at which they change (after every change
//! at that instant, as the model's peak counts them). The records are grouped by window of
//! simulated time (an hour; the same grid in every part of a run), and an index at the
//! end of the file gives each window's place, the bytes it starts from, ends with and
//! holds at most. The merge adds the parts' most bytes window by window, an upper bound of
//! the sum's peak in that window, and decodes only the windows whose bound passes the
//! largest sum found so far, highest bound first: stored bytes mostly grow, so that is
//! usually the last night's windows, whatever the run's length.
//!
//! The file: the 8 bytes [`MAGIC`]; each window's records in time order, each the
//! microseconds since the previous record (the window's start for the first) and the
//! change of the bytes (from the window's starting bytes for the first; zigzag-encoded),
//! as LEB128 varints; the index, `ENTRY_WORDS` little-endian `u64` per window with
//! records (its number, its records' place, length and count, its starting, most and last
//! bytes); then the window's width in µs, the number of entries, the index's place, and
//! `END`.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{io_at as io, Error, Result};

/// The file's name in a part directory.
pub const STORAGE_TRACE: &str = "part-storage.bin";

/// The file's first bytes (format version 2: windows and an index).
pub const MAGIC: &[u8; 8] = b"BSSTOR02";

/// The file's last bytes.
const END: &[u8; 8] = b"BSSTEND2";

/// The windows' width: an hour of simulated time, in µs.
pub const WINDOW_MICROS: u64 = 3_600_000_000;

/// `u64` words per index entry: window number, place, length, records, first, most, last.
const ENTRY_WORDS: usize = 7;

/// The footer's bytes: width, entries, index place, [`END`].
const FOOTER: usize = 32;

/// The bytes [`TraceWriter`] gathers before a write.
const BLOCK: usize = 1 << 16;

/// The longest number a trace holds, in bytes: 19 of 7 bits cover 128.
const MAX_VARINT: usize = 19;

/// The room [`TraceWriter`] starts with, doubled as records come up to a block's.
const FIRST_ROOM: usize = 1 << 10;

/// One window's entry in the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Window {
    /// Its number: it covers `[number × width, (number + 1) × width)` µs.
    number: u64,
    /// Where its records are in the file, and their bytes.
    at: u64,
    len: u64,
    /// How many records it has (at least one).
    records: u64,
    /// The bytes stored before its first record, the most at its start or after any of its
    /// records, and after its last.
    first: u64,
    most: u64,
    last: u64,
}

/// Writes a trace as the run reports it.
pub struct TraceWriter {
    file: File,
    width: u64,
    /// Records not yet written: encoded into `buf[..len]` (a record per change of the
    /// stored bytes, at fleet scale millions), written out a block at a time. `buf` has
    /// room for a whole record past `len` (grown to a block and a record's room as
    /// records come), so a number's bytes are written without a check of the room each.
    buf: Vec<u8>,
    len: usize,
    /// Bytes written to the file before `buf`.
    written: u64,
    /// The window being written, if any.
    open: Option<Window>,
    index: Vec<Window>,
    at: u64,
    bytes: u64,
}

/// Writes `x` as a varint (seven bits a byte, low first, the high bit set on all but
/// the last) at `buf[at..]` and gives the place after it; `buf` must have
/// [`MAX_VARINT`] bytes of room after `at` (checked once, not per byte). A record is two
/// numbers, millions at fleet scale, nearly all below 2^64: those bytes are taken from a
/// 64-bit word.
#[inline(always)]
fn put_varint(buf: &mut [u8], at: usize, mut x: u128) -> usize {
    let out = &mut buf[at..at + MAX_VARINT];
    let mut n = 0;
    while x > u128::from(u64::MAX) {
        out[n] = (x & 0x7f) as u8 | 0x80;
        x >>= 7;
        n += 1;
    }
    let mut y = x as u64;
    while y >= 0x80 {
        out[n] = (y & 0x7f) as u8 | 0x80;
        y >>= 7;
        n += 1;
    }
    out[n] = y as u8;
    at + n + 1
}

impl TraceWriter {
    /// Creates the file at `path`, windows of [`WINDOW_MICROS`].
    pub fn create(path: &Path) -> Result<TraceWriter> {
        TraceWriter::with_width(path, WINDOW_MICROS)
    }

    /// Creates the file at `path`, windows of `width` µs (> 0).
    fn with_width(path: &Path, width: u64) -> Result<TraceWriter> {
        assert!(width > 0, "windows have a width");
        let file = io(path, File::create(path))?;
        // Grown to a block as records come (a small run's trace touches a page or two).
        let mut buf = vec![0; FIRST_ROOM];
        buf[..MAGIC.len()].copy_from_slice(MAGIC);
        Ok(TraceWriter {
            file,
            width,
            buf,
            len: MAGIC.len(),
            written: 0,
            open: None,
            index: Vec::new(),
            at: 0,
            bytes: 0,
        })
    }

    /// The bytes stored from `at` (µs, after the previous record's) on.
    pub fn push(&mut self, at: u64, bytes: u64) -> std::io::Result<()> {
        let number = at / self.width;
        if self.open.map_or(true, |w| w.number != number) {
            self.close();
            self.open = Some(Window {
                number,
                at: self.written + self.len as u64,
                len: 0,
                records: 0,
                first: self.bytes,
                most: self.bytes,
                last: self.bytes,
            });
            self.at = number * self.width;
        }
        let dt = at.saturating_sub(self.at);
        let delta = i128::from(bytes) - i128::from(self.bytes);
        let zigzag = ((delta << 1) ^ (delta >> 127)) as u128;
        self.at = at;
        self.bytes = bytes;
        // `len` < BLOCK here: at most a block and two numbers' room is needed.
        if self.len + 2 * MAX_VARINT > self.buf.len() {
            let room = (2 * self.buf.len()).min(BLOCK + 2 * MAX_VARINT);
            self.buf.resize(room, 0);
        }
        self.len = put_varint(&mut self.buf, self.len, u128::from(dt));
        self.len = put_varint(&mut self.buf, self.len, zigzag);
        if let Some(w) = self.open.as_mut() {
            w.records += 1;
            w.most = w.most.max(bytes);
            w.last = bytes;
        }
        if self.len >= BLOCK {
            self.written += self.len as u64;
            self.file.write_all(&self.buf[..self.len])?;
            self.len = 0;
        }
        Ok(())
    }

    /// Ends the window being written (if any) in the index.
    fn close(&mut self) {
        if let Some(mut w) = self.open.take() {
            w.len = self.written + self.len as u64 - w.at;
            self.index.push(w);
        }
    }

    /// Writes what is left, the index and the footer, and flushes the file.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.close();
        let index_at = self.written + self.len as u64;
        self.buf.truncate(self.len);
        for w in &self.index {
            for x in [w.number, w.at, w.len, w.records, w.first, w.most, w.last] {
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
        }
        for x in [self.width, self.index.len() as u64, index_at] {
            self.buf.extend_from_slice(&x.to_le_bytes());
        }
        self.buf.extend_from_slice(END);
        self.file.write_all(&self.buf)?;
        self.file.flush()
    }
}

/// A part's trace as the merge reads it: its index, and its windows' records on demand.
struct Trace<'a> {
    path: &'a Path,
    file: File,
    width: u64,
    windows: Vec<Window>,
}

impl<'a> Trace<'a> {
    /// Opens the trace at `path` and reads its index, checking that it describes records
    /// that fit the file and follow on from each other.
    fn open(path: &'a Path) -> Result<Trace<'a>> {
        let mut file = io(path, File::open(path))?;
        let size = io(path, file.metadata())?.len();
        let mut head = [0u8; 8];
        let short = size < (MAGIC.len() + FOOTER) as u64;
        if short || io(path, file.read_exact(&mut head)).is_err() || &head != MAGIC {
            return Err(bad(
                path,
                "it does not start with the marker of this version's traces",
            ));
        }
        let mut foot = [0u8; FOOTER];
        io(path, file.seek(SeekFrom::End(-(FOOTER as i64))))?;
        io(path, file.read_exact(&mut foot))?;
        let word = |b: &[u8], i: usize| {
            u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().expect("8 bytes"))
        };
        let (width, n, index_at) = (word(&foot, 0), word(&foot, 1), word(&foot, 2));
        let entry = (8 * ENTRY_WORDS) as u64;
        let fits = n
            .checked_mul(entry)
            .and_then(|b| b.checked_add(index_at))
            .is_some_and(|end| end == size - FOOTER as u64);
        if &foot[24..] != END || width == 0 || index_at < MAGIC.len() as u64 || !fits {
            return Err(bad(path, "its index is cut short or damaged"));
        }
        let mut raw = vec![0u8; (n * entry) as usize];
        io(path, file.seek(SeekFrom::Start(index_at)))?;
        io(path, file.read_exact(&mut raw))?;
        let windows: Vec<Window> = raw
            .chunks_exact(8 * ENTRY_WORDS)
            .map(|e| Window {
                number: word(e, 0),
                at: word(e, 1),
                len: word(e, 2),
                records: word(e, 3),
                first: word(e, 4),
                most: word(e, 5),
                last: word(e, 6),
            })
            .collect();
        let (mut end, mut bytes, mut number) = (MAGIC.len() as u64, 0, None);
        for w in &windows {
            let follows = w.at == end
                && number.map_or(true, |n| w.number > n)
                && w.first == bytes
                && w.records > 0
                && w.most >= w.first.max(w.last)
                && w.number.checked_mul(width).is_some();
            let next = w.at.checked_add(w.len);
            let (true, Some(next)) = (follows, next) else {
                return Err(bad(path, "its index does not describe its records"));
            };
            (end, bytes, number) = (next, w.last, Some(w.number));
        }
        if end != index_at {
            return Err(bad(path, "its index does not describe its records"));
        }
        Ok(Trace {
            path,
            file,
            width,
            windows,
        })
    }

    /// The records `(µs, bytes)` of window `i`, checked against its entry: instants
    /// increasing inside the window, the count, the bytes it ends with and holds at most.
    fn records(&mut self, i: usize) -> Result<Vec<(u64, u64)>> {
        let w = self.windows[i];
        let mut buf = vec![0u8; w.len as usize];
        io(self.path, self.file.seek(SeekFrom::Start(w.at)))?;
        io(self.path, self.file.read_exact(&mut buf))?;
        let start = w.number * self.width;
        let end = start.saturating_add(self.width);
        let (mut pos, mut at, mut bytes, mut most) = (0, start, w.first, w.first);
        let mut out = Vec::with_capacity(w.records.min(1 << 20) as usize);
        while pos < buf.len() {
            let (dt, p) = varint(&buf, pos).ok_or_else(|| self.bad_record())?;
            let (z, p) = varint(&buf, p).ok_or_else(|| self.bad_record())?;
            pos = p;
            let delta = (z >> 1) as i128 ^ -((z & 1) as i128);
            let next_at = u64::try_from(dt).ok().and_then(|dt| at.checked_add(dt));
            let next_bytes = u64::try_from(i128::from(bytes) + delta).ok();
            let (Some(a), Some(b)) = (next_at, next_bytes) else {
                return Err(bad(self.path, "a record is out of range"));
            };
            let first = out.is_empty();
            if a >= end || (!first && a <= at) {
                return Err(bad(self.path, "its instants are not in increasing order"));
            }
            (at, bytes, most) = (a, b, most.max(b));
            out.push((at, bytes));
        }
        if out.len() as u64 != w.records || bytes != w.last || most != w.most {
            return Err(bad(self.path, "a window's records do not match its index"));
        }
        Ok(out)
    }

    fn bad_record(&self) -> Error {
        bad(self.path, "a record is cut short or too long")
    }
}

/// The number at `buf[pos..]` and the place after it, if it ends within the buffer and
/// [`MAX_VARINT`] bytes.
#[inline]
fn varint(buf: &[u8], pos: usize) -> Option<(u128, usize)> {
    let mut x: u128 = 0;
    for (i, &b) in buf.get(pos..)?.iter().take(MAX_VARINT).enumerate() {
        x |= u128::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((x, pos + i + 1));
        }
    }
    None
}

fn bad(path: &Path, what: &str) -> Error {
    Error::input(
        path.display().to_string(),
        format!(
            "{what}: not a stored-bytes trace written by this version's `run --partition`; run the part again"
        ),
    )
}

/// The peak over time of the sum of the parts' traces at `paths`: at each instant at
/// which any part changes, the sum of every part's bytes from that instant on.
///
/// Window by window (the windows any part has records in), the parts' most bytes added
/// bound the sum's peak there; the windows are taken highest bound first, each decoded
/// and walked exactly, until the next bound is no more than the largest sum found. (A
/// window left out cannot hold the peak: its sums are at most its bound.)
pub fn peak_of_sum(paths: &[&Path]) -> Result<u64> {
    let mut parts = paths
        .iter()
        .map(|&path| Trace::open(path))
        .collect::<Result<Vec<_>>>()?;
    if let Some(p) = parts.iter().find(|p| p.width != parts[0].width) {
        return Err(bad(p.path, "its windows are not those of the other parts"));
    }
    let mut numbers: Vec<u64> = parts
        .iter()
        .flat_map(|p| p.windows.iter().map(|w| w.number))
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    // For each part, window by window of `numbers`: its entry there, if any, and the
    // bytes it carries into it.
    let mut places: Vec<Vec<(Option<usize>, u64)>> = Vec::with_capacity(parts.len());
    // Each window's bound, and its place in `numbers`.
    let mut bounds: Vec<(u128, usize)> = (0..numbers.len()).map(|k| (0, k)).collect();
    for p in &parts {
        let (mut next, mut carried) = (0, 0);
        let mut row = Vec::with_capacity(numbers.len());
        for (k, &n) in numbers.iter().enumerate() {
            let mine = p.windows.get(next).filter(|w| w.number == n);
            let (place, most) = match mine {
                Some(w) => (Some(next), w.most),
                None => (None, carried),
            };
            row.push((place, carried));
            bounds[k].0 += u128::from(most);
            if let Some(w) = mine {
                (next, carried) = (next + 1, w.last);
            }
        }
        places.push(row);
    }
    // Highest bound first; among equals the earliest window (any order gives the peak).
    bounds.sort_unstable_by_key(|&(b, k)| (std::cmp::Reverse(b), k));
    let mut peak: u128 = 0;
    for (bound, k) in bounds {
        if bound <= peak {
            break;
        }
        peak = peak.max(window_peak(&mut parts, &places, k)?);
    }
    Ok(u64::try_from(peak).unwrap_or(u64::MAX))
}

/// The largest sum of the parts' bytes after an instant of the `k`-th window of
/// [`peak_of_sum`], each part starting from the bytes it carries into the window.
fn window_peak(
    parts: &mut [Trace],
    places: &[Vec<(Option<usize>, u64)>],
    k: usize,
) -> Result<u128> {
    let mut held: Vec<u128> = places.iter().map(|row| u128::from(row[k].1)).collect();
    let mut records = Vec::with_capacity(parts.len());
    for (p, row) in parts.iter_mut().zip(places) {
        records.push(match row[k].0 {
            Some(i) => p.records(i)?,
            None => Vec::new(),
        });
    }
    let mut next = vec![0usize; parts.len()];
    let (mut total, mut peak): (u128, u128) = (held.iter().sum(), 0);
    loop {
        let t = (0..parts.len())
            .filter_map(|j| records[j].get(next[j]).map(|r| r.0))
            .min();
        let Some(t) = t else { break };
        for j in 0..parts.len() {
            if let Some(&(a, b)) = records[j].get(next[j]) {
                if a == t {
                    total = total - held[j] + u128::from(b);
                    held[j] = u128::from(b);
                    next[j] += 1;
                }
            }
        }
        peak = peak.max(total);
    }
    Ok(peak)
}

#[cfg(test)]
mod tests;
