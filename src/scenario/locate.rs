//! Mapping between byte offsets in a scenario file and dotted key paths.
//!
//! serde reports errors as byte spans and validation reports them as key paths; users
//! want both, with a line and column. [`KeyIndex`] walks the TOML document once and
//! records the span of every key and value under its dotted path, where elements of an
//! array of tables are addressed by their `name` (the same form as `--set`).

use std::ops::Range;

use toml_edit::{ImDocument, Item, Table, Value};

/// Every key path in a document with the spans of its key and value.
pub struct KeyIndex {
    entries: Vec<(String, Range<usize>, Range<usize>)>,
}

impl KeyIndex {
    /// Indexes `src`; returns an empty index if it does not parse as TOML.
    pub fn new(src: &str) -> KeyIndex {
        let mut entries = Vec::new();
        if let Ok(doc) = ImDocument::parse(src) {
            walk_table(doc.as_table(), "", &mut entries);
        }
        KeyIndex { entries }
    }

    /// The span of the value at `path` (or of its key when the value has none).
    pub fn span_of(&self, path: &str) -> Option<Range<usize>> {
        self.entries
            .iter()
            .find(|(p, _, _)| p == path)
            .map(|(_, _, v)| v.clone())
    }

    /// The deepest key path whose key or value span contains `offset`.
    pub fn path_at(&self, offset: usize) -> Option<&str> {
        self.entries
            .iter()
            .filter(|(_, k, v)| {
                k.contains(&offset) || v.contains(&offset) || (v.start == offset && v.is_empty())
            })
            .min_by_key(|(p, k, v)| {
                (
                    v.end.max(k.end) - v.start.min(k.start),
                    usize::MAX - p.len(),
                )
            })
            .map(|(p, _, _)| p.as_str())
    }

    /// Whether a path exists.
    pub fn has(&self, path: &str) -> bool {
        self.entries.iter().any(|(p, _, _)| p == path)
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn element_name(t: &Table, index: usize) -> String {
    match t.get("name").and_then(|i| i.as_str()) {
        Some(n) => n.to_string(),
        None => index.to_string(),
    }
}

fn walk_table(t: &Table, prefix: &str, out: &mut Vec<(String, Range<usize>, Range<usize>)>) {
    for (k, _) in t.iter() {
        let Some((key, item)) = t.get_key_value(k) else {
            continue;
        };
        let path = join(prefix, k);
        let kspan = key.span().unwrap_or(0..0);
        walk_item(item, path, kspan, out);
    }
}

fn walk_item(
    item: &Item,
    path: String,
    kspan: Range<usize>,
    out: &mut Vec<(String, Range<usize>, Range<usize>)>,
) {
    match item {
        Item::Table(t) => {
            out.push((path.clone(), kspan.clone(), t.span().unwrap_or(kspan)));
            walk_table(t, &path, out);
        }
        Item::ArrayOfTables(a) => {
            out.push((
                path.clone(),
                kspan.clone(),
                a.span().unwrap_or(kspan.clone()),
            ));
            for (i, t) in a.iter().enumerate() {
                let p = join(&path, &element_name(t, i));
                let span = t.span().unwrap_or(kspan.clone());
                out.push((p.clone(), span.clone(), span));
                walk_table(t, &p, out);
            }
        }
        Item::Value(v) => walk_value(v, path, kspan, out),
        Item::None => {}
    }
}

fn walk_value(
    v: &Value,
    path: String,
    kspan: Range<usize>,
    out: &mut Vec<(String, Range<usize>, Range<usize>)>,
) {
    out.push((path.clone(), kspan.clone(), v.span().unwrap_or(kspan)));
    match v {
        Value::InlineTable(t) => {
            for (k, _) in t.iter() {
                if let Some((key, item)) = t.get_key_value(k) {
                    walk_item(item, join(&path, k), key.span().unwrap_or(0..0), out);
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                let span = v.span().unwrap_or(0..0);
                walk_value(v, format!("{path}.{i}"), span, out);
            }
        }
        _ => {}
    }
}

/// 1-based line and column of a byte offset, and the text of that line.
pub fn line_col(src: &str, offset: usize) -> (usize, usize, &str) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
    let col = src[start..offset].chars().count() + 1;
    (line, col, &src[start..end])
}

/// A two-line excerpt: the source line and carets under the span.
pub fn excerpt(src: &str, span: &Range<usize>) -> String {
    let (line, col, text) = line_col(src, span.start);
    let width = src[span.start.min(src.len())..span.end.min(src.len())]
        .split('\n')
        .next()
        .map_or(1, |s| s.chars().count().max(1));
    let gutter = line.to_string().len();
    format!(
        "{:gutter$} |\n{line} | {text}\n{:gutter$} | {}{}",
        "",
        "",
        " ".repeat(col - 1),
        "^".repeat(width)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "[simulation]\nname = \"x\"\n\n[[fleet]]\nname = \"web\"\nagent = { installed = 0.5 }\n\n[[fleet]]\nname = \"db\"\ncount = 3\n";

    #[test]
    fn paths_and_spans() {
        let k = KeyIndex::new(SRC);
        let s = k.span_of("fleet.db.count").unwrap();
        assert_eq!(&SRC[s.clone()], "3");
        assert_eq!(k.path_at(s.start), Some("fleet.db.count"));
        let s = k.span_of("fleet.web.agent.installed").unwrap();
        assert_eq!(&SRC[s.clone()], "0.5");
        assert_eq!(k.path_at(s.start + 1), Some("fleet.web.agent.installed"));
        assert_eq!(line_col(SRC, s.start).0, 6);
    }
}
