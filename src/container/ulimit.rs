//! `--ulimit NAME=SOFT[:HARD]` and compose `ulimits`: resource limits set
//! with setrlimit in the container's init before it drops privileges.
//! `-1` (or `unlimited`) is RLIM_INFINITY, as in Docker and compose.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

/// Docker's names and the kernel's resources.
const RESOURCES: &[(&str, libc::__rlimit_resource_t)] = &[
    ("as", libc::RLIMIT_AS),
    ("core", libc::RLIMIT_CORE),
    ("cpu", libc::RLIMIT_CPU),
    ("data", libc::RLIMIT_DATA),
    ("fsize", libc::RLIMIT_FSIZE),
    ("locks", libc::RLIMIT_LOCKS),
    ("memlock", libc::RLIMIT_MEMLOCK),
    ("msgqueue", libc::RLIMIT_MSGQUEUE),
    ("nice", libc::RLIMIT_NICE),
    ("nofile", libc::RLIMIT_NOFILE),
    ("nproc", libc::RLIMIT_NPROC),
    ("rss", libc::RLIMIT_RSS),
    ("rtprio", libc::RLIMIT_RTPRIO),
    ("rttime", libc::RLIMIT_RTTIME),
    ("sigpending", libc::RLIMIT_SIGPENDING),
    ("stack", libc::RLIMIT_STACK),
];

impl Ulimit {
    /// The kernel resource this limit sets (the name was checked when parsed).
    pub fn resource(&self) -> libc::__rlimit_resource_t {
        resource(&self.name).expect("ulimit names are validated when parsed")
    }
}

fn resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    RESOURCES.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// A limit value: a number, or -1/`unlimited` for no limit.
pub fn value(text: &str) -> Option<u64> {
    match text {
        "-1" | "unlimited" => Some(libc::RLIM_INFINITY),
        n => n.parse().ok(),
    }
}

/// Builds a limit from a name and values; Err says what is wrong.
pub fn new(name: &str, soft: u64, hard: u64) -> Result<Ulimit, String> {
    if resource(name).is_none() {
        let names: Vec<&str> = RESOURCES.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "unknown ulimit {name:?}; known: {}",
            names.join(", ")
        ));
    }
    if soft > hard {
        return Err(format!(
            "ulimit {name}: soft limit {soft} exceeds hard limit {hard}"
        ));
    }
    Ok(Ulimit {
        name: name.to_string(),
        soft,
        hard,
    })
}

/// `NAME=SOFT[:HARD]` (HARD defaults to SOFT).
pub fn parse(spec: &str) -> Result<Ulimit, String> {
    let bad = || format!("expected NAME=SOFT[:HARD], got {spec:?}");
    let (name, values) = spec.split_once('=').ok_or_else(bad)?;
    let (soft, hard) = values.split_once(':').unwrap_or((values, values));
    new(
        name,
        value(soft).ok_or_else(bad)?,
        value(hard).ok_or_else(bad)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_and_hard() {
        let u = parse("nofile=1024:2048").unwrap();
        assert_eq!((u.name.as_str(), u.soft, u.hard), ("nofile", 1024, 2048));
        assert_eq!(u.resource(), libc::RLIMIT_NOFILE);
        let same = parse("nproc=64").unwrap();
        assert_eq!((same.soft, same.hard), (64, 64));
        assert_eq!(parse("core=-1").unwrap().hard, libc::RLIM_INFINITY);
    }

    #[test]
    fn bad_specs_are_refused_by_name() {
        assert!(parse("nofiles=1").unwrap_err().contains("nofiles"));
        assert!(parse("nofile=2048:1024").unwrap_err().contains("exceeds"));
        assert!(parse("nofile").is_err());
        assert!(parse("nofile=lots").is_err());
    }
}
