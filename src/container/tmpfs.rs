//! `--tmpfs DST[:OPTIONS]` options, as Docker takes them: `ro`/`rw`,
//! `exec`/`noexec`, `suid`/`nosuid`, `dev`/`nodev`, `size=`, `mode=`,
//! `uid=`, `gid=`, `nr_inodes=`. Like Docker, a tmpfs is `noexec,nosuid,nodev`
//! unless told otherwise. Any other option is refused.

use serde::{Deserialize, Serialize};

/// How one tmpfs is mounted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TmpfsOptions {
    pub read_only: bool,
    pub noexec: bool,
    pub nosuid: bool,
    pub nodev: bool,
    /// The filesystem data string (`size=1m,mode=1777`), validated.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub data: String,
}

impl Default for TmpfsOptions {
    fn default() -> Self {
        TmpfsOptions {
            read_only: false,
            noexec: true,
            nosuid: true,
            nodev: true,
            data: String::new(),
        }
    }
}

/// Parses the comma-separated options; Err names the option refused.
pub fn parse(options: &str) -> Result<TmpfsOptions, String> {
    let mut o = TmpfsOptions::default();
    let mut data = Vec::new();
    for opt in options.split(',').filter(|s| !s.is_empty()) {
        match opt {
            "ro" => o.read_only = true,
            "rw" => o.read_only = false,
            "exec" => o.noexec = false,
            "noexec" => o.noexec = true,
            "suid" => o.nosuid = false,
            "nosuid" => o.nosuid = true,
            "dev" => o.nodev = false,
            "nodev" => o.nodev = true,
            _ => data.push(data_option(opt)?),
        }
    }
    o.data = data.join(",");
    Ok(o)
}

fn data_option(opt: &str) -> Result<String, String> {
    let (key, value) = opt
        .split_once('=')
        .ok_or_else(|| format!("unknown tmpfs option {opt:?}"))?;
    let valid = match key {
        "size" => valid_size(value),
        "mode" => !value.is_empty() && u32::from_str_radix(value, 8).is_ok_and(|m| m <= 0o7777),
        "uid" | "gid" | "nr_inodes" => value.parse::<u64>().is_ok(),
        _ => return Err(format!("unknown tmpfs option {key:?}")),
    };
    if valid {
        Ok(opt.to_string())
    } else {
        Err(format!("invalid tmpfs {key} {value:?}"))
    }
}

/// Bytes with an optional k/m/g suffix, or a percentage of memory, as tmpfs(5).
fn valid_size(v: &str) -> bool {
    let digits = v.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G', '%']);
    let suffix_len = v.len() - digits.len();
    suffix_len <= 1 && !digits.is_empty() && digits.parse::<u64>().is_ok_and(|n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_dockers() {
        let o = parse("").unwrap();
        assert!(!o.read_only && o.noexec && o.nosuid && o.nodev && o.data.is_empty());
    }

    #[test]
    fn flags_and_data_are_kept() {
        let o = parse("ro,size=1m,mode=1770,exec,uid=1000").unwrap();
        assert!(o.read_only && !o.noexec && o.nosuid);
        assert_eq!(o.data, "size=1m,mode=1770,uid=1000");
    }

    #[test]
    fn unknown_or_bad_options_are_refused_by_name() {
        assert!(parse("sise=1m").unwrap_err().contains("sise"));
        assert!(parse("size=big").unwrap_err().contains("size"));
        assert!(parse("mode=999").unwrap_err().contains("mode"));
        assert!(parse("noatime").unwrap_err().contains("noatime"));
    }
}
