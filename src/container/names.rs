//! Container ids and default names.

use std::fs::File;
use std::io::Read;

const ADJECTIVES: &[&str] = &[
    "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry",
    "nifty", "proud", "quick", "sharp", "swift", "tender", "vivid", "witty", "zealous", "bold",
];
const NOUNS: &[&str] = &[
    "turing",
    "hopper",
    "lovelace",
    "ritchie",
    "thompson",
    "torvalds",
    "knuth",
    "dijkstra",
    "liskov",
    "hamilton",
    "kernighan",
    "pike",
    "wozniak",
    "babbage",
    "shannon",
    "curie",
    "noether",
    "euler",
    "gauss",
    "bell",
];

/// 32 random bytes from the kernel, hex-encoded: a 64-character id like Docker's.
pub fn random_id() -> String {
    let mut bytes = [0u8; 32];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("/dev/urandom is readable");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A readable default name derived from the id, so it needs no extra entropy.
pub fn default_name(id: &str) -> String {
    let byte = |i: usize| usize::from_str_radix(&id[i..i + 2], 16).unwrap_or(0);
    format!(
        "{}_{}_{}",
        ADJECTIVES[byte(0) % ADJECTIVES.len()],
        NOUNS[byte(2) % NOUNS.len()],
        &id[4..8]
    )
}

/// Docker's rule for names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_and_distinct() {
        let (a, b) = (random_id(), random_id());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn default_names_are_valid() {
        let id = random_id();
        assert!(valid_name(&default_name(&id)));
    }

    #[test]
    fn name_rules_follow_docker() {
        assert!(valid_name("web-1.a_b"));
        assert!(!valid_name("-web"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
        assert!(!valid_name("a/b"));
    }
}
