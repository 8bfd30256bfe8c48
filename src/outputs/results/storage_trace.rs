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
use std::io::{BufRead, BufReader, Read, Write};
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

/// Reads a trace record by record.
pub struct TraceReader {
    r: BufReader<File>,
    at: u64,
    bytes: u64,
}

impl TraceReader {
    /// Opens the trace at `path`, checking its first bytes.
    pub fn open(path: &Path) -> Result<TraceReader> {
        let f = io(path, File::open(path))?;
        let mut r = BufReader::with_capacity(1 << 16, f);
        let mut magic = [0u8; 8];
        if r.read_exact(&mut magic).is_err() || &magic != MAGIC {
            return Err(bad(path, "it does not start with the trace's marker"));
        }
        Ok(TraceReader { r, at: 0, bytes: 0 })
    }

    /// The next record `(µs, bytes)`, `None` at the end of the file.
    pub fn next_record(&mut self, path: &Path) -> Result<Option<(u64, u64)>> {
        let Some(dt) = self.varint(path, true)? else {
            return Ok(None);
        };
        let z = self.varint(path, false)?.expect("not at the end");
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
                Ok(Some((at, bytes)))
            }
            _ => Err(bad(path, "a record is out of range")),
        }
    }

    fn varint(&mut self, path: &Path, end_ok: bool) -> Result<Option<u128>> {
        // A number of up to 9 bytes (63 bits: every time step and nearly every change)
        // whole in the buffer (all but one in 65 536 bytes): decoded in place, without a
        // read call per byte; longer ones, and one across the buffer's end, byte by byte.
        let buf = self.r.buffer();
        if let Some(last) = buf.iter().take(9).position(|b| b & 0x80 == 0) {
            let x = buf[..=last]
                .iter()
                .enumerate()
                .fold(0u64, |x, (i, &b)| x | u64::from(b & 0x7f) << (7 * i));
            self.r.consume(last + 1);
            return Ok(Some(u128::from(x)));
        }
        let mut x: u128 = 0;
        for shift in (0..).step_by(7) {
            let mut b = [0u8; 1];
            match self.r.read(&mut b) {
                Ok(0) if shift == 0 && end_ok => return Ok(None),
                Ok(0) => return Err(bad(path, "it ends inside a record")),
                Ok(_) => {}
                Err(e) => return Err(Error::io(path.to_path_buf(), e)),
            }
            if shift >= 7 * MAX_VARINT {
                return Err(bad(path, "a number is too long"));
            }
            x |= u128::from(b[0] & 0x7f) << shift;
            if b[0] & 0x80 == 0 {
                break;
            }
        }
        Ok(Some(x))
    }
}

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
/// the files (a trace may hold a record per backup).
pub fn peak_of_sum(paths: &[&Path]) -> Result<u64> {
    let mut readers = paths
        .iter()
        .map(|p| TraceReader::open(p))
        .collect::<Result<Vec<_>>>()?;
    // Each part's next instant (`u64::MAX` past its end) and the bytes from it on.
    let (mut at, mut next) = (vec![u64::MAX; paths.len()], vec![0u128; paths.len()]);
    for (k, (r, p)) in readers.iter_mut().zip(paths).enumerate() {
        if let Some((t, b)) = r.next_record(p)? {
            (at[k], next[k]) = (t, u128::from(b));
        }
    }
    let mut held = vec![0u128; paths.len()];
    let (mut total, mut peak): (u128, u128) = (0, 0);
    loop {
        let t = at.iter().copied().min().unwrap_or(u64::MAX);
        if t == u64::MAX {
            break;
        }
        for k in 0..paths.len() {
            if at[k] == t {
                total = total - held[k] + next[k];
                held[k] = next[k];
                match readers[k].next_record(paths[k])? {
                    Some((a, _)) if a <= t => {
                        return Err(bad(paths[k], "its instants are not in increasing order"))
                    }
                    Some((a, b)) => (at[k], next[k]) = (a, u128::from(b)),
                    None => at[k] = u64::MAX,
                }
            }
        }
        peak = peak.max(total);
    }
    Ok(u64::try_from(peak).unwrap_or(u64::MAX))
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
        // Numbers of 1 to 10 bytes, and at the end of a buffer (read byte by byte).
        let mut recs = vec![(0, 5), (7, u64::MAX), (8, 0), (u64::MAX - 1, 1 << 40)];
        let many: Vec<(u64, u64)> = (0..30_000u64).map(|i| (i, i * i * 977)).collect();
        for recs in [&recs[..], &many[..]] {
            write(&p, recs);
            let mut r = TraceReader::open(&p).unwrap();
            let mut got = Vec::new();
            while let Some(x) = r.next_record(&p).unwrap() {
                got.push(x);
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
