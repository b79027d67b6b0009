//! `--log-driver json-file|none` and json-file's `--log-opt max-size=…`,
//! `max-file=…` (Docker's rotation: the log is moved to `.1`, `.1` to
//! `.2`, … once it reaches max-size, keeping max-file files in all).

use serde::{Deserialize, Serialize};

use crate::cgroups::convert::{parse_memory, ConvertError};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogDriver {
    #[default]
    JsonFile,
    /// No log is kept; `logs` cannot read one.
    None,
}

/// How a container's output is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    pub driver: LogDriver,
    /// Bytes after which the log rotates (none: it grows whole).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// Files kept, the current one included (Docker's default: 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_file: Option<u32>,
}

impl LogConfig {
    pub fn is_default(&self) -> bool {
        *self == LogConfig::default()
    }

    /// `(max_size, files)` when the log rotates.
    pub fn rotation(&self) -> Option<(u64, u32)> {
        let size = self
            .max_size
            .filter(|_| self.driver == LogDriver::JsonFile)?;
        Some((size, self.max_file.unwrap_or(1)))
    }

    /// Docker's name for the driver (inspect's `HostConfig.LogConfig.Type`).
    pub fn driver_name(&self) -> &'static str {
        match self.driver {
            LogDriver::JsonFile => "json-file",
            LogDriver::None => "none",
        }
    }
}

/// The flags as Docker reads them: one `KEY=VALUE` per `--log-opt` (a
/// comma-joined list is taken too). `local` is kept as json-file.
pub fn parse(driver: Option<&str>, opts: &[String]) -> Result<LogConfig, String> {
    let driver = match driver.unwrap_or("json-file") {
        "json-file" | "local" => LogDriver::JsonFile,
        "none" => LogDriver::None,
        other => {
            return Err(format!(
                "--log-driver {other} is not supported yet: use json-file (the default) or none"
            ))
        }
    };
    let mut config = LogConfig {
        driver,
        ..LogConfig::default()
    };
    let name = config.driver_name();
    for opt in opts.iter().flat_map(|o| o.split(',')) {
        let (key, value) = opt.split_once('=').ok_or_else(|| {
            format!("invalid --log-opt {opt:?}: use KEY=VALUE, e.g. max-size=10m")
        })?;
        match (driver, key) {
            (LogDriver::JsonFile, "max-size") => config.max_size = Some(size(value)?),
            (LogDriver::JsonFile, "max-file") => config.max_file = Some(files(value)?),
            (LogDriver::JsonFile, "compress" | "labels" | "env" | "env-regex" | "tag") => {
                return Err(format!(
                    "--log-opt {key} is not supported yet: json-file takes max-size and max-file"
                ))
            }
            _ => return Err(format!("unknown log opt '{key}' for {name} log driver")),
        }
    }
    if config.max_file.is_some_and(|n| n > 1) && config.max_size.is_none() {
        return Err("--log-opt max-file needs max-size (without it the log never rotates)".into());
    }
    Ok(config)
}

fn size(value: &str) -> Result<u64, String> {
    let bytes = match parse_memory(value) {
        Ok(b) | Err(ConvertError::MemoryTooSmall { bytes: b, .. }) => b,
        Err(_) => {
            return Err(format!(
                "invalid --log-opt max-size={value}: use bytes or 10k, 10m, 1g"
            ))
        }
    };
    if bytes == 0 {
        return Err(format!(
            "invalid --log-opt max-size={value}: it must be more than 0"
        ));
    }
    Ok(bytes)
}

fn files(value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "invalid --log-opt max-file={value}: use a number of files, 1 or more"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sizes_and_files_as_docker_reads_them() {
        let c = parse(None, &opts(&["max-size=10k", "max-file=3"])).unwrap();
        assert_eq!((c.max_size, c.max_file), (Some(10 * 1024), Some(3)));
        assert_eq!(c.rotation(), Some((10 * 1024, 3)));
        let joined = parse(Some("json-file"), &opts(&["max-size=1m,max-file=2"])).unwrap();
        assert_eq!(joined.rotation(), Some((1 << 20, 2)));
        let one = parse(None, &opts(&["max-size=100"])).unwrap();
        assert_eq!(one.rotation(), Some((100, 1)), "max-file defaults to 1");
        assert!(parse(None, &[]).unwrap().is_default());
        assert_eq!(parse(None, &[]).unwrap().rotation(), None);
    }

    #[test]
    fn the_none_driver_keeps_nothing_and_takes_no_options() {
        let c = parse(Some("none"), &[]).unwrap();
        assert_eq!((c.driver, c.driver_name()), (LogDriver::None, "none"));
        let err = parse(Some("none"), &opts(&["max-size=1m"])).unwrap_err();
        assert_eq!(err, "unknown log opt 'max-size' for none log driver");
    }

    #[test]
    fn bad_input_is_one_error_naming_it() {
        let err = |d: Option<&str>, o: &[&str]| parse(d, &opts(o)).unwrap_err();
        assert!(err(Some("syslog"), &[]).contains("--log-driver syslog"));
        assert!(err(None, &["max-size=lots"]).contains("max-size=lots"));
        assert!(err(None, &["max-size=0"]).contains("more than 0"));
        assert!(err(None, &["max-size=1m", "max-file=0"]).contains("max-file=0"));
        assert!(err(None, &["max-file=3"]).contains("needs max-size"));
        assert!(err(None, &["maxsize"]).contains("KEY=VALUE"));
        assert!(err(None, &["colour=red"]).contains("unknown log opt 'colour'"));
        assert!(err(None, &["compress=true"]).contains("not supported yet"));
    }

    #[test]
    fn an_old_record_without_the_field_is_json_file() {
        let c: LogConfig = serde_json::from_str("{}").unwrap();
        assert!(c.is_default());
        let none = serde_json::to_string(&LogConfig {
            driver: LogDriver::None,
            ..LogConfig::default()
        })
        .unwrap();
        assert_eq!(none, r#"{"driver":"none"}"#);
    }
}
