//! Docker's `--detach-keys` (default `ctrl-p,ctrl-q`): parsed into bytes,
//! and matched in the user's input, holding back a partial match until it
//! completes (detach) or breaks (the bytes go on to the container).

/// Docker's default sequence.
pub const DEFAULT: &str = "ctrl-p,ctrl-q";

/// `ctrl-p,ctrl-q`, `ctrl-a,d`, `a`: each key a single character or
/// `ctrl-` with a letter or one of `@[\]^_`.
pub fn parse(spec: &str) -> Result<Vec<u8>, String> {
    let bad = |why: &str| {
        Err(format!(
            "invalid --detach-keys {spec:?}: {why}; use keys like ctrl-p,ctrl-q (ctrl- with a-z, @, [, \\, ], ^ or _, or a single character)"
        ))
    };
    let mut keys = Vec::new();
    for key in spec.split(',') {
        let key = key.trim();
        if let Some(c) = key.strip_prefix("ctrl-") {
            let byte = match c.as_bytes() {
                [b] if b.is_ascii_alphabetic() => b.to_ascii_lowercase() - b'a' + 1,
                [b'@'] => 0,
                [b @ (b'[' | b'\\' | b']' | b'^' | b'_')] => b - b'[' + 27,
                _ => return bad(&format!("{key:?} is not a control key")),
            };
            keys.push(byte);
        } else if key.len() == 1 && key.is_ascii() {
            keys.push(key.as_bytes()[0]);
        } else {
            return bad(&format!("{key:?} is not a key"));
        }
    }
    Ok(keys)
}

/// What to do with a chunk of input.
#[derive(Debug, PartialEq, Eq)]
pub struct Fed {
    /// Bytes for the container (a broken partial match included).
    pub forward: Vec<u8>,
    /// The whole sequence was typed: detach (what followed it is dropped).
    pub detach: bool,
}

/// Follows the input across reads (a sequence may span two of them).
#[derive(Debug, Clone)]
pub struct Matcher {
    keys: Vec<u8>,
    matched: usize,
}

impl Matcher {
    pub fn new(keys: Vec<u8>) -> Matcher {
        Matcher { keys, matched: 0 }
    }

    pub fn feed(&mut self, input: &[u8]) -> Fed {
        let mut forward = Vec::with_capacity(input.len());
        for &byte in input {
            if self.keys.is_empty() {
                forward.push(byte);
                continue;
            }
            if byte == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return Fed {
                        forward,
                        detach: true,
                    };
                }
                continue;
            }
            // The held-back prefix was ordinary input after all.
            forward.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            if byte == self.keys[0] {
                self.matched = 1;
            } else {
                forward.push(byte);
            }
        }
        Fed {
            forward,
            detach: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_key_names_parse() {
        assert_eq!(parse(DEFAULT).unwrap(), [16, 17]);
        assert_eq!(parse("ctrl-a,d").unwrap(), [1, b'd']);
        assert_eq!(
            parse("ctrl-@,ctrl-[,ctrl-\\,ctrl-_").unwrap(),
            [0, 27, 28, 31]
        );
        assert_eq!(parse("ctrl-X").unwrap(), [24]);
    }

    #[test]
    fn bad_keys_name_the_key() {
        for (spec, key) in [("ctrl-1", "ctrl-1"), ("ctrl-p,qq", "qq"), ("", "\"\"")] {
            let err = parse(spec).unwrap_err();
            assert!(err.contains(key), "{spec}: {err}");
        }
    }

    #[test]
    fn the_sequence_detaches_and_what_came_before_goes_on() {
        let mut m = Matcher::new(vec![16, 17]);
        assert_eq!(
            m.feed(b"ls\n\x10\x11rest"),
            Fed {
                forward: b"ls\n".to_vec(),
                detach: true
            }
        );
    }

    #[test]
    fn a_partial_match_is_held_across_reads_then_released_if_broken() {
        let mut m = Matcher::new(vec![16, 17]);
        assert_eq!(m.feed(b"a\x10").forward, b"a");
        let fed = m.feed(b"b");
        assert_eq!((fed.forward, fed.detach), (b"\x10b".to_vec(), false));
        assert!(!m.feed(b"\x10").detach);
        assert!(m.feed(b"\x11").detach);
        // A repeated first key keeps the match going.
        let mut m = Matcher::new(vec![16, 17]);
        let fed = m.feed(b"\x10\x10\x11");
        assert_eq!((fed.forward, fed.detach), (b"\x10".to_vec(), true));
    }
}
