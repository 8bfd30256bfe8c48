//! The searched key's quantity: how the range's form decides it, and how its values are
//! stepped, printed in the range's unit and written back for `--set`.

use crate::error::{Error, Result};
use crate::units::{Bandwidth, Duration, Size, TimeOfDay};

/// What kind of quantity the key holds: how its values are parsed, stepped and printed.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Quantity {
    /// A whole count (VMs, jobs at once): bisection ends exactly.
    Count,
    /// A plain number.
    Number,
    /// A bandwidth, printed in the unit the range used (`unit`, bytes/s per unit).
    Bandwidth(String, f64),
    /// A size, printed in the unit the range used.
    Size(String, f64),
    /// A duration, printed in the unit the range used (seconds per unit).
    Duration(String, f64),
    /// A time of day in whole seconds (not monotone by nature: a warning is printed).
    TimeOfDay,
}

impl Quantity {
    /// The unit values are shown in, and base units per shown unit (for plots).
    pub(super) fn display_unit(&self) -> (&str, f64) {
        match self {
            Quantity::Count | Quantity::Number => ("", 1.0),
            Quantity::Bandwidth(u, k) | Quantity::Size(u, k) | Quantity::Duration(u, k) => {
                (u.as_str(), *k)
            }
            Quantity::TimeOfDay => ("h after midnight", 3600.0),
        }
    }

    pub(super) fn integral(&self) -> bool {
        matches!(self, Quantity::Count | Quantity::TimeOfDay)
    }

    /// The value as the scenario would write it.
    pub(super) fn text(&self, v: f64) -> String {
        // Five significant digits: finer than any resolution a search is asked for
        // (the probe runs exactly the value this text reads back as).
        let short = |x: f64| {
            let digits = 5 - (x.abs().max(1e-300).log10().floor() as i32 + 1);
            let s = format!("{:.*}", digits.clamp(0, 12) as usize, x);
            if s.contains('.') {
                s.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                s
            }
        };
        match self {
            Quantity::Count => format!("{}", v.round() as u64),
            Quantity::Number => short(v),
            Quantity::Bandwidth(u, k) | Quantity::Size(u, k) => format!("{} {u}", short(v / k)),
            Quantity::Duration(u, k) => format!("{}{u}", short(v / k)),
            Quantity::TimeOfDay => {
                let s = v.round() as u32;
                format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
            }
        }
    }

    /// The value's text as a TOML value for `--set` (strings quoted).
    pub(super) fn toml(&self, v: f64) -> String {
        match self {
            Quantity::Count | Quantity::Number => self.text(v),
            _ => format!("\"{}\"", self.text(v)),
        }
    }
}

/// Parses one end of the range; the quantity is decided by its form.
pub(super) fn parse_end(text: &str) -> std::result::Result<(Quantity, f64), String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<u64>() {
        return Ok((Quantity::Count, n as f64));
    }
    if let Ok(x) = t.parse::<f64>() {
        if x.is_finite() {
            return Ok((Quantity::Number, x));
        }
    }
    if t.contains(':') {
        return TimeOfDay::parse(t).map(|d| (Quantity::TimeOfDay, f64::from(d.0)));
    }
    let unit: String = t
        .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '_')
        .trim()
        .to_string();
    let number: f64 = t[..t.len() - unit.len()].trim().parse().unwrap_or(1.0);
    if let Ok(b) = Bandwidth::parse(t) {
        return Ok((Quantity::Bandwidth(unit, b.0 / number), b.0));
    }
    if let Ok(s) = Size::parse(t) {
        return Ok((Quantity::Size(unit, s.0 as f64 / number), s.0 as f64));
    }
    if let Ok(d) = Duration::parse(t) {
        let secs = d.secs();
        let single = unit.chars().all(|c| c.is_ascii_alphabetic()) && !unit.is_empty();
        return Ok(if single && number > 0.0 {
            (Quantity::Duration(unit, secs / number), secs)
        } else {
            (Quantity::Duration("s".into(), 1.0), secs)
        });
    }
    Err(format!(
        "expected a number, a count, a bandwidth, a size, a duration or a time of day, found \"{text}\""
    ))
}

/// `LOW..HIGH` → the quantity and both ends in base units.
pub(super) fn parse_range(range: &str) -> Result<(Quantity, f64, f64)> {
    let usage = |m: String| Error::Usage(format!("--range {range}: {m}"));
    let (lo, hi) = range
        .split_once("..")
        .ok_or_else(|| usage("expected LOW..HIGH, e.g. \"1 Gbit/s..40 Gbit/s\"".into()))?;
    let (q, a) = parse_end(lo).map_err(usage)?;
    let (q2, b) = parse_end(hi).map_err(usage)?;
    let same = std::mem::discriminant(&q) == std::mem::discriminant(&q2)
        || matches!(
            (&q, &q2),
            (Quantity::Count, Quantity::Number) | (Quantity::Number, Quantity::Count)
        );
    if !same {
        return Err(usage(format!(
            "both ends must be of one kind, found {lo} and {hi}"
        )));
    }
    let q = if matches!((&q, &q2), (Quantity::Count, Quantity::Count)) {
        Quantity::Count
    } else if matches!(q, Quantity::Count) {
        Quantity::Number
    } else {
        q
    };
    if a.partial_cmp(&b) != Some(std::cmp::Ordering::Less) {
        return Err(usage(format!(
            "expected LOW below HIGH, found {lo} and {hi}"
        )));
    }
    Ok((q, a, b))
}

/// `1%` or `0.01` → a fraction in (0, 0.5].
pub(super) fn parse_resolution(text: &str) -> Result<f64> {
    let t = text.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
        None => t.parse::<f64>(),
    };
    match v {
        Ok(x) if x > 0.0 && x <= 0.5 => Ok(x),
        _ => Err(Error::Usage(format!(
            "--resolution: expected a relative step such as 1% (above 0, at most 50%), found \"{text}\""
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_by_form() {
        assert_eq!(
            parse_range("10..200").unwrap(),
            (Quantity::Count, 10.0, 200.0)
        );
        let (q, a, b) = parse_range("1 Gbit/s..40 Gbit/s").unwrap();
        assert_eq!(q, Quantity::Bandwidth("Gbit/s".into(), 125e6));
        assert_eq!((a, b), (125e6, 5e9));
        assert_eq!(q.text(2.9375e9), "23.5 Gbit/s");
        let (q, a, b) = parse_range("4h..12h").unwrap();
        assert_eq!((a, b), (14_400.0, 43_200.0));
        assert_eq!(q.text(23_400.0), "6.5h");
        let (q, a, _) = parse_range("21:00..23:30").unwrap();
        assert_eq!((q.clone(), a), (Quantity::TimeOfDay, 75_600.0));
        assert_eq!(q.text(81_000.0), "22:30:00");
        assert!(parse_range("5..1").is_err());
        assert!(parse_range("1 GB..2h").is_err());
        assert!(parse_range("fast..slow").is_err());
        assert_eq!(parse_resolution("1%").unwrap(), 0.01);
        assert!(parse_resolution("0").is_err());
    }
}
