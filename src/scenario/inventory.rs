//! Fleet inventories: a CSV file listing a fleet's VMs, one row each, read into the
//! model's per-VM table ([`Inventory`]). Row `i` (in file order, from 0) is VM `i` of the
//! fleet, the `vm` of its rows in `jobs.csv`. Columns come in any order and all are
//! optional; a column left out, or a blank cell, leaves that attribute to the fleet's
//! distribution for that VM.
//!
//! Errors name the file, the line and the column number (1-based, counting the CSV's
//! fields), the column's name, what was expected and what was found.

use std::collections::BTreeMap;
use std::path::Path;

use super::schema::Scenario;
use super::validate::Problem;
use super::warnings::closest;
use super::warnings::Warning;
use crate::error::{Error, InputError};
use crate::model::config::{Inventory, Support};
use crate::model::vm::{classify_os, OsClass, WINDOWS_VERSIONS};
use crate::units::{fmt_size, Size};

/// The columns an inventory may have, in the order the documentation lists them.
pub const COLUMNS: [&str; 10] = [
    "name",
    "os",
    "disks",
    "used",
    "daily_churn",
    "power",
    "agent",
    "connectivity",
    "cloud_service",
    "storage_account",
];

/// Most disks of one VM: the OS disk and 64 data disks (the most the model draws).
pub const MAX_DISKS: usize = 65;

/// Largest inventory file read (256 MiB, as an empirical data file).
pub const MAX_INVENTORY_BYTES: u64 = super::load::MAX_EMPIRICAL_BYTES;

/// Why the inventories did not load: a scenario key is wrong (the file is missing, the
/// count disagrees), or a cell of the file is.
#[derive(Debug)]
pub enum Failure {
    /// Located at a key of the scenario file.
    Key(Problem),
    /// Located in the inventory file.
    File(Error),
}

/// An inventory as read: the per-VM table and its number of rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    /// The per-VM table (cloud services and storage accounts not yet resolved: see
    /// [`resolve_groups`]).
    pub table: Inventory,
    /// Data rows: the fleet's VMs.
    pub rows: u32,
    /// Per row, the cloud service's and storage account's name (`None`: blank or no
    /// such column).
    groups: [Option<Vec<Option<String>>>; 2],
    /// Per row, its line in the file.
    lines: Vec<u64>,
    /// Per column of [`COLUMNS`], its number in the file (1-based), 0 if absent.
    column_numbers: [usize; COLUMNS.len()],
}

/// Reads the inventory of every fleet that names one (paths relative to `base`, the
/// scenario file's directory): sets the fleet's `count` to its rows and its
/// `inventory_table`. `has_count(fleet)` says whether the scenario wrote the fleet's
/// `count` key: without an inventory it is required. Returns the warnings about rows the
/// support rules turn away (see [`row_warnings`]).
pub fn load_inventories(
    s: &mut Scenario,
    base: &Path,
    has_count: impl Fn(&str) -> bool,
) -> Result<Vec<Warning>, Failure> {
    let support = super::build::support(&s.support);
    let mut warnings = Vec::new();
    for f in &mut s.fleet {
        let Some(file) = f.inventory.clone() else {
            if !has_count(&f.name) {
                return Err(Failure::Key(Problem {
                    key: format!("fleet.{}", f.name),
                    message: "missing required key count: write the number of VMs (count = 100), or list them in an inventory file (inventory = \"vms.csv\")".into(),
                }));
            }
            continue;
        };
        let key = format!("fleet.{}.inventory", f.name);
        let path = base.join(&file);
        let text = read(&path).map_err(|m| {
            Failure::Key(Problem {
                key: key.clone(),
                message: m,
            })
        })?;
        let shown = path.display().to_string();
        let mut p = parse(&text, &shown).map_err(Failure::File)?;
        if has_count(&f.name) && f.count != p.rows {
            return Err(Failure::Key(Problem {
                key: format!("fleet.{}.count", f.name),
                message: format!(
                    "expected {} (the VM rows of {shown}), found {}: remove count (the inventory sets it) or make the two agree",
                    p.rows, f.count
                ),
            }));
        }
        warnings.extend(row_warnings(&p, &shown, &key, &support));
        resolve_groups(
            &mut p,
            f.vms_per_cloud_service.max(1),
            f.vms_per_storage_account.max(1),
        );
        f.count = p.rows;
        // The resolved scenario names the file absolutely, so that it loads from anywhere
        // (a results directory, a sweep's runs).
        let absolute = std::fs::canonicalize(&path).map_or(shown, |a| a.display().to_string());
        f.inventory = Some(absolute);
        f.inventory_table = Some(std::sync::Arc::new(p.table));
    }
    Ok(warnings)
}

/// Most rows named per rule in warnings (the others are counted in one more).
const WARNED_ROWS: usize = 5;

/// Rows the support rules turn away, located at their cell, as the scenario's warnings
/// are for a fleet whose every VM is turned away: a disk over `support.max_disk_size`
/// (every backup fails), more data disks than `support.max_data_disks` or a Windows older
/// than `support.min_windows` (never backed up).
pub fn row_warnings(p: &Parsed, file: &str, key: &str, support: &Support) -> Vec<Warning> {
    let t = &p.table;
    let mut out = Vec::new();
    let mut rule = |column: &str, bad: &dyn Fn(u32) -> Option<String>| {
        let col = COLUMNS.iter().position(|c| *c == column).unwrap_or(0);
        let rows: Vec<(u32, String)> = (0..p.rows).filter_map(|i| bad(i).map(|m| (i, m))).collect();
        for (i, m) in rows.iter().take(WARNED_ROWS) {
            out.push(Warning {
                file: file.to_string(),
                line: p.lines.get(*i as usize).map(|&l| l as usize),
                column: Some(p.column_numbers[col]),
                key: key.to_string(),
                message: format!("column {column}: VM {i} {m}"),
            });
        }
        if rows.len() > WARNED_ROWS {
            out.push(Warning {
                file: file.to_string(),
                line: None,
                column: None,
                key: key.to_string(),
                message: format!(
                    "column {column}: {} more VMs like the {WARNED_ROWS} above",
                    rows.len() - WARNED_ROWS
                ),
            });
        }
    };
    rule("disks", &|i| {
        let d = Inventory::cell(&t.disks, i)?;
        let (n, &big) = d.iter().enumerate().max_by_key(|&(_, b)| *b)?;
        (big > support.max_disk_size).then(|| {
            format!(
                "has a disk (number {}) of {}, over support.max_disk_size = {}: every backup of it fails with UserErrorUnsupportedDiskSize",
                n + 1,
                fmt_size(big as f64),
                Size(support.max_disk_size)
            )
        })
    });
    rule("disks", &|i| {
        let d = Inventory::cell(&t.disks, i)?;
        let data = d.len().saturating_sub(1) as u32;
        (data > support.max_data_disks).then(|| {
            format!(
                "has {data} data disks, over support.max_data_disks = {}: it is unsupported (TooManyDataDisks) and never backed up",
                support.max_data_disks
            )
        })
    });
    rule("os", &|i| {
        let os = Inventory::cell(&t.os, i)?;
        match classify_os(os) {
            Ok(OsClass::Windows(v)) if v < support.min_windows => Some(format!(
                "runs {os}, older than support.min_windows = windows-{}: it is unsupported (WindowsVersionTooOld) and never backed up",
                WINDOWS_VERSIONS[support.min_windows as usize]
            )),
            _ => None,
        }
    });
    out
}

/// The file's text, refusing devices, directories and files over the size limit.
fn read(path: &Path) -> Result<String, String> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => {
            return Err(format!(
                "expected a regular CSV file, found {}, which is not one; point `inventory` at a CSV file",
                path.display()
            ))
        }
        Ok(m) if m.len() > MAX_INVENTORY_BYTES => {
            return Err(format!(
                "expected a CSV file of at most {} MiB, found {} of {} MiB",
                MAX_INVENTORY_BYTES >> 20,
                path.display(),
                m.len() >> 20
            ))
        }
        Ok(_) => {}
        Err(e) => {
            return Err(format!(
                "expected a readable CSV file, found {}: {e}",
                path.display()
            ))
        }
    }
    let bytes = std::fs::read(path).map_err(|e| {
        format!(
            "expected a readable CSV file, found {}: {e}",
            path.display()
        )
    })?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "expected a UTF-8 text file, found {} with a byte that is not UTF-8 at offset {}",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// A located error in the inventory file `file`.
fn at(file: &str, line: u64, column: usize, message: String) -> Error {
    InputError {
        file: file.to_string(),
        line: Some(line as usize),
        column: Some(column),
        key: None,
        message,
        excerpt: None,
    }
    .into()
}

/// Parses an inventory's text (`file` names it in errors). Never panics, whatever the
/// text.
pub fn parse(text: &str, file: &str) -> Result<Parsed, Error> {
    // Spreadsheet exports often start with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let csv_error = |e: csv::Error| {
        let line = e.position().map_or(1, |p| p.line());
        at(
            file,
            line,
            1,
            format!("expected CSV rows with one cell per column, found: {e}"),
        )
    };
    let headers = rdr.headers().map_err(csv_error)?.clone();
    let mut cols: Vec<usize> = Vec::new();
    for (j, h) in headers.iter().enumerate() {
        let Some(c) = COLUMNS.iter().position(|c| *c == h) else {
            let names: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
            return Err(at(
                file,
                1,
                j + 1,
                format!(
                    "unknown column \"{h}\": expected one of {}; did you mean {}?",
                    COLUMNS.join(", "),
                    closest(h, &names).join(" or ")
                ),
            ));
        };
        if cols.contains(&c) {
            return Err(at(file, 1, j + 1, format!("column {h} appears twice")));
        }
        cols.push(c);
    }
    let mut b = Builder::new(&cols);
    for (j, &c) in cols.iter().enumerate() {
        b.column_numbers[c] = j + 1;
    }
    for rec in rdr.records() {
        let rec = rec.map_err(csv_error)?;
        let line = rec.position().map_or(0, |p| p.line());
        if b.rows >= u32::MAX as usize {
            return Err(at(file, line, 1, "expected fewer VM rows".into()));
        }
        (b.disks_total, b.used) = (None, None);
        b.lines.push(line);
        for (j, cell) in rec.iter().enumerate() {
            let col = cols[j];
            b.cell(col, cell, line)
                .map_err(|m| at(file, line, j + 1, format!("column {}: {m}", COLUMNS[col])))?;
        }
        if let (Some(total), Some(used)) = (b.disks_total, b.used) {
            if used > total {
                let j = cols.iter().position(|&c| COLUMNS[c] == "used").unwrap_or(0);
                return Err(at(
                    file,
                    line,
                    j + 1,
                    format!(
                        "column used: expected at most the row's disks' total of {} ({total} bytes), found {} ({used} bytes)",
                        fmt_size(total as f64),
                        fmt_size(used as f64)
                    ),
                ));
            }
        }
        b.rows += 1;
    }
    if b.rows == 0 {
        return Err(at(
            file,
            1,
            1,
            "expected a header line and at least one VM row, found no VM rows".into(),
        ));
    }
    Ok(b.finish())
}

/// The columns being filled, row by row.
struct Builder {
    rows: usize,
    table: Inventory,
    groups: [Option<Vec<Option<String>>>; 2],
    /// Names seen, with their lines (names must be unique).
    names: BTreeMap<String, u64>,
    lines: Vec<u64>,
    column_numbers: [usize; COLUMNS.len()],
    /// The row's disks' total and used bytes: used must not exceed the total.
    disks_total: Option<u64>,
    used: Option<u64>,
}

impl Builder {
    fn new(cols: &[usize]) -> Builder {
        let has = |name: &str| cols.iter().any(|&c| COLUMNS[c] == name);
        fn col<T>(on: bool) -> Option<Vec<T>> {
            on.then(Vec::new)
        }
        Builder {
            rows: 0,
            table: Inventory {
                os: col(has("os")),
                disks: col(has("disks")),
                used: col(has("used")),
                daily_churn: col(has("daily_churn")),
                running: col(has("power")),
                agent: col(has("agent")),
                blocked: col(has("connectivity")),
                cloud_service: None,
                storage_account: None,
            },
            groups: [col(has("cloud_service")), col(has("storage_account"))],
            names: BTreeMap::new(),
            lines: Vec::new(),
            column_numbers: [0; COLUMNS.len()],
            disks_total: None,
            used: None,
        }
    }

    /// Reads one cell of column `col` (an index into [`COLUMNS`]); a blank cell is `None`.
    fn cell(&mut self, col: usize, cell: &str, line: u64) -> Result<(), String> {
        fn push<T>(c: &mut Option<Vec<Option<T>>>, v: Option<T>) {
            if let Some(c) = c {
                c.push(v);
            }
        }
        let blank = cell.is_empty();
        let t = &mut self.table;
        match COLUMNS[col] {
            "name" if !blank => {
                if let Some(first) = self.names.insert(cell.to_string(), line) {
                    return Err(format!(
                        "expected a name of its own, found \"{cell}\", already the name on line {first}"
                    ));
                }
            }
            "name" => {}
            "os" => push(&mut t.os, (!blank).then(|| os(cell)).transpose()?),
            "disks" => {
                let d = (!blank).then(|| disks(cell)).transpose()?;
                self.disks_total = d.as_ref().map(|d| d.iter().sum());
                push(&mut self.table.disks, d.map(Vec::into_boxed_slice));
            }
            "used" => {
                let u = (!blank).then(|| size(cell)).transpose()?;
                self.used = u;
                push(&mut self.table.used, u);
            }
            "daily_churn" => push(
                &mut t.daily_churn,
                (!blank).then(|| churn(cell)).transpose()?,
            ),
            "power" => push(
                &mut t.running,
                (!blank)
                    .then(|| {
                        // Azure shows power states as "VM running", "VM deallocated".
                        word(
                            cell.strip_prefix("VM ").unwrap_or(cell),
                            &[
                                ("running", true),
                                ("stopped", false),
                                ("deallocated", false),
                            ],
                        )
                    })
                    .transpose()?,
            ),
            "agent" => push(
                &mut t.agent,
                (!blank)
                    .then(|| word(cell, &[("installed", true), ("missing", false)]))
                    .transpose()?,
            ),
            "connectivity" => push(
                &mut t.blocked,
                (!blank)
                    .then(|| word(cell, &[("open", false), ("blocked", true)]))
                    .transpose()?,
            ),
            "cloud_service" => push(&mut self.groups[0], (!blank).then(|| cell.to_string())),
            _ => push(&mut self.groups[1], (!blank).then(|| cell.to_string())),
        }
        Ok(())
    }

    fn finish(self) -> Parsed {
        Parsed {
            table: self.table,
            rows: self.rows as u32,
            groups: self.groups,
            lines: self.lines,
            column_numbers: self.column_numbers,
        }
    }
}

fn os(cell: &str) -> Result<Box<str>, String> {
    classify_os(cell).map(|_| cell.into())
}

fn size(cell: &str) -> Result<u64, String> {
    Size::parse(cell).map(|s| s.0)
}

/// `127 GiB;1023 GiB`: the OS disk first, then the data disks.
fn disks(cell: &str) -> Result<Vec<u64>, String> {
    let parts: Result<Vec<u64>, _> = cell
        .split(';')
        .map(|p| Size::parse(p.trim()))
        .map(|r| r.map(|s| s.0))
        .collect();
    let parts = parts.map_err(|_| {
        format!("expected sizes separated by ';' (e.g. \"127 GiB;1 TB\"), the OS disk first, found \"{cell}\"")
    })?;
    if parts.len() > MAX_DISKS {
        return Err(format!(
            "expected at most {MAX_DISKS} disks (the OS disk and 64 data disks), found {}",
            parts.len()
        ));
    }
    if parts
        .iter()
        .try_fold(0u64, |a, &b| a.checked_add(b))
        .is_none()
    {
        return Err(format!(
            "expected disks totalling below 16 EiB, found \"{cell}\""
        ));
    }
    Ok(parts)
}

fn churn(cell: &str) -> Result<f64, String> {
    cell.parse::<f64>()
        .ok()
        .filter(|v| (0.0..=1.0).contains(v))
        .ok_or_else(|| {
            format!(
                "expected a share of the used data between 0 and 1 (e.g. 0.03), found \"{cell}\""
            )
        })
}

fn word(cell: &str, words: &[(&str, bool)]) -> Result<bool, String> {
    words
        .iter()
        .find(|(w, _)| *w == cell)
        .map(|&(_, v)| v)
        .ok_or_else(|| {
            let list: Vec<&str> = words.iter().map(|(w, _)| *w).collect();
            format!("expected one of {}, found \"{cell}\"", list.join(", "))
        })
}

/// Numbers the cloud services and storage accounts: named ones by first appearance, then
/// a blank cell's VM `i` in group `named + i / per` (the fleet's grouping by index).
pub fn resolve_groups(p: &mut Parsed, per_cloud_service: u32, per_storage_account: u32) {
    let [cs, sa] = std::mem::take(&mut p.groups);
    p.table.cloud_service = cs.map(|c| numbered(&c, per_cloud_service));
    p.table.storage_account = sa.map(|c| numbered(&c, per_storage_account));
}

fn numbered(cells: &[Option<String>], per: u32) -> Vec<u32> {
    let mut ids: BTreeMap<&str, u32> = BTreeMap::new();
    for c in cells.iter().flatten() {
        let next = ids.len() as u32;
        ids.entry(c.as_str()).or_insert(next);
    }
    let named = ids.len() as u32;
    cells
        .iter()
        .enumerate()
        .map(|(i, c)| match c {
            Some(n) => ids[n.as_str()],
            None => named + i as u32 / per.max(1),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text, "vms.csv").unwrap_err().to_string()
    }

    #[test]
    fn cells_fill_their_columns_and_blanks_fall_back() {
        let p = parse(
            "name,disks,used,power,agent,connectivity,os,daily_churn\n\
             a,127 GiB;1 TB,100 GiB,stopped,missing,blocked,windows-2016,0.05\n\
             b,,,,,,,\n",
            "vms.csv",
        )
        .unwrap();
        assert_eq!(p.rows, 2);
        let t = &p.table;
        assert_eq!(
            t.disks,
            Some(vec![Some(vec![127 << 30, 1_000_000_000_000].into()), None])
        );
        assert_eq!(t.used, Some(vec![Some(100 << 30), None]));
        assert_eq!(t.running, Some(vec![Some(false), None]));
        assert_eq!(t.agent, Some(vec![Some(false), None]));
        assert_eq!(t.blocked, Some(vec![Some(true), None]));
        assert_eq!(t.os, Some(vec![Some("windows-2016".into()), None]));
        assert_eq!(t.daily_churn, Some(vec![Some(0.05), None]));
        assert_eq!(t.cloud_service, None);
    }

    #[test]
    fn bad_cells_are_located() {
        assert_eq!(
            err("name,os,disks\na,ubuntu,127 GiB\nb,ubuntu,12x\n"),
            "vms.csv:3:3: column disks: expected sizes separated by ';' (e.g. \"127 GiB;1 TB\"), the OS disk first, found \"12x\""
        );
        assert!(err("name,dsks\na,1 GB\n").starts_with("vms.csv:1:2: unknown column \"dsks\""));
        assert!(err("name,dsks\na,1 GB\n").contains("did you mean disks?"));
        assert!(err("power\nasleep\n")
            .contains("vms.csv:2:1: column power: expected one of running, stopped, deallocated"));
        assert!(
            err("disks,used\n1 GB,2 GB\n").contains("vms.csv:2:2: column used: expected at most")
        );
        assert!(
            err("used,disks\n2 GB,1 GB\n").contains("vms.csv:2:1: column used: expected at most")
        );
        assert!(
            err("name\na\na\n").contains("vms.csv:3:1: column name: expected a name of its own")
        );
        assert!(err("name\n").contains("no VM rows"));
        assert!(
            err("os\nwindows-95\n").contains("vms.csv:2:1: column os: expected windows-<version>")
        );
        assert!(err("name,os\na\n").starts_with("vms.csv:2:1: expected CSV rows"));
    }

    #[test]
    fn a_spreadsheet_export_reads() {
        let p = parse(
            "\u{feff}name,power\r\na,stopped\r\nb,running\r\n",
            "vms.csv",
        )
        .unwrap();
        assert_eq!(p.table.running, Some(vec![Some(false), Some(true)]));
    }

    #[test]
    fn groups_number_names_then_blanks_by_index() {
        let mut p = parse("cloud_service\nweb\n\nweb\ndb\n\n", "vms.csv").unwrap();
        // The csv reader skips empty lines: a blank single-column cell needs quotes.
        assert_eq!(p.rows, 3);
        resolve_groups(&mut p, 2, 10);
        assert_eq!(p.table.cloud_service, Some(vec![0, 0, 1]));
        let mut p = parse("name,cloud_service\na,web\nb,\nc,web\nd,\n", "vms.csv").unwrap();
        resolve_groups(&mut p, 2, 10);
        assert_eq!(p.table.cloud_service, Some(vec![0, 1, 0, 2]));
    }
}
