//! `backupsim init`: writes a commented scenario for a planner to edit, from the
//! template `assets/init.toml`.

use std::path::Path;

use crate::error::{Error, Result};

/// The template: `@NAME@`, `@VMS@`, `@REGION@`, `@PAIR@`, `@DRILL@` and `@FILE@` are
/// filled in.
const TEMPLATE: &str = include_str!("../../assets/init.toml");

/// Regions and their pairs, as `--region` knows them.
const PAIRS: [(&str, &str); 16] = [
    ("japan-east", "japan-west"),
    ("japan-west", "japan-east"),
    ("east-us", "west-us"),
    ("west-us", "east-us"),
    ("east-us-2", "central-us"),
    ("central-us", "east-us-2"),
    ("north-central-us", "south-central-us"),
    ("south-central-us", "north-central-us"),
    ("north-europe", "west-europe"),
    ("west-europe", "north-europe"),
    ("east-asia", "southeast-asia"),
    ("southeast-asia", "east-asia"),
    ("australia-east", "australia-southeast"),
    ("australia-southeast", "australia-east"),
    ("central-india", "south-india"),
    ("south-india", "central-india"),
];

/// The paired region of `region`, if `--region` knows it.
pub fn paired_region(region: &str) -> Option<&'static str> {
    PAIRS.iter().find(|(r, _)| *r == region).map(|(_, p)| *p)
}

/// The scenario text `init` writes for `vms` VMs in `region`, saved as `file`.
pub fn template(vms: u32, region: &str, file: &Path) -> Result<String> {
    if vms == 0 {
        return Err(Error::Usage(
            "--vms: expected at least 1 VM, found 0".to_string(),
        ));
    }
    let pair = paired_region(region).ok_or_else(|| {
        let known: Vec<&str> = PAIRS.iter().map(|(r, _)| *r).collect();
        Error::Usage(format!(
            "--region: expected one of {}, found \"{region}\" (write another region into the file by hand)",
            known.join(", ")
        ))
    })?;
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "scenario".to_string())
        .replace('"', "");
    Ok(TEMPLATE
        .replace("@NAME@", &name)
        .replace("@VMS@", &vms.to_string())
        .replace("@REGION@", region)
        .replace("@PAIR@", pair)
        .replace("@DRILL@", &vms.min(10).to_string())
        .replace("@FILE@", &file.display().to_string()))
}

/// `backupsim init`: writes the template to `out`, refusing to replace an existing file.
pub fn init(vms: u32, region: &str, out: &Path) -> Result<String> {
    let text = template(vms, region, out)?;
    let mut f = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(Error::input(
            out.display().to_string(),
            "the file already exists; init does not overwrite it: remove it or give another --out",
        )),
        Err(e) => return Err(Error::io(out.display().to_string(), e)),
    };
    use std::io::Write;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(out.display().to_string(), e))?;
    Ok(format!(
        "{}: wrote a scenario of {vms} VM(s) in {region}; edit it, then `backupsim validate {}`",
        out.display(),
        out.display()
    ))
}
