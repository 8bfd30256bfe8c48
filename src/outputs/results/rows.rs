//! CSV rows of the streaming writers (`jobs.csv`, `timeseries.csv`), formatted into one
//! reused buffer: a run writes a `jobs.csv` row per job, and a row formatted field by
//! field through a CSV writer cost more than the job it records.
//!
//! The bytes are the `csv` crate's with its default settings (`,` between fields, `\n`
//! after a row, a field quoted only when it must be): a test holds them to it.

use super::{push_secs, push_u64};

/// One row being formatted into a caller's buffer: fields are appended in order, then
/// [`Row::end`] terminates it.
pub(super) struct Row<'b> {
    buf: &'b mut Vec<u8>,
    first: bool,
}

impl<'b> Row<'b> {
    /// A row formatted into `buf` (cleared).
    pub(super) fn new(buf: &'b mut Vec<u8>) -> Self {
        buf.clear();
        Row { buf, first: true }
    }

    fn sep(&mut self) -> &mut Vec<u8> {
        if !std::mem::take(&mut self.first) {
            self.buf.push(b',');
        }
        self.buf
    }

    /// A text field, quoted as the `csv` crate quotes it when it must be: when it holds a
    /// comma, a double quote, a carriage return or a line feed (the inner quotes doubled).
    /// Scenario names never do, so in practice this is a copy.
    pub(super) fn str(&mut self, s: &str) {
        let buf = self.sep();
        if !s.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n')) {
            buf.extend_from_slice(s.as_bytes());
            return;
        }
        buf.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                buf.push(b'"');
            }
            buf.push(b);
        }
        buf.push(b'"');
    }

    /// An integer field.
    pub(super) fn u64(&mut self, x: u64) {
        push_u64(self.sep(), x);
    }

    /// Microseconds as seconds with six decimals ([`super::secs`]).
    pub(super) fn secs(&mut self, us: u64) {
        push_secs(self.sep(), us);
    }

    /// Any other field, as `format!("{x}")` writes it (`{x:.3}` and the like through
    /// `format_args!`).
    pub(super) fn display(&mut self, x: std::fmt::Arguments<'_>) {
        use std::io::Write;
        write!(self.sep(), "{x}").expect("writing to a Vec");
    }

    /// Terminates the row: the formatted bytes, to write out.
    pub(super) fn end(self) -> &'b [u8] {
        self.buf.push(b'\n');
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the `csv` crate writes for these fields.
    fn by_csv(fields: &[String]) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(fields).unwrap();
        w.into_inner().unwrap()
    }

    fn by_row(fields: &[String]) -> Vec<u8> {
        let mut buf = vec![b'x'];
        let mut row = Row::new(&mut buf);
        for f in fields {
            row.str(f);
        }
        row.end().to_vec()
    }

    #[test]
    fn rows_are_the_csv_crates_bytes_for_awkward_fields() {
        let fields: Vec<String> = [
            "plain",
            "",
            "a,b",
            "say \"hi\"",
            "cr\r",
            "lf\n",
            " sp ",
            "é",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(by_row(&fields), by_csv(&fields));
        let mut buf = Vec::new();
        let mut row = Row::new(&mut buf);
        row.u64(42);
        row.secs(1_500_000);
        row.display(format_args!("{:.3}", 2.0f64 / 3.0));
        row.str("");
        assert_eq!(row.end(), b"42,1.500000,0.667,\n");
    }

    proptest! {
        #[test]
        fn prop_rows_are_the_csv_crates_bytes(
            fields in prop::collection::vec("[a-z,\" \r\n_-]{0,6}", 2..6),
        ) {
            prop_assert_eq!(by_row(&fields), by_csv(&fields));
        }
    }
}
