//! `--filter KEY=VALUE` as Docker reads it: the same key given twice
//! matches either value (OR), different keys must all match (AND), except
//! `label`, where every label asked for must be there (Docker's rule too).
//! Each listing says which keys it takes; any other is one clear error.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("bad format of filter {filter:?}: expected KEY=VALUE")]
    Format { filter: String },
    #[error("invalid filter {key:?}: {verb} filters by {known}")]
    UnknownKey {
        key: String,
        verb: &'static str,
        known: String,
    },
    #[error("invalid filter {key}={value}: {expected}")]
    Value {
        key: String,
        value: String,
        expected: String,
    },
}

/// Parsed `--filter` flags: each key with the values given for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    by_key: BTreeMap<String, Vec<String>>,
}

impl Filters {
    /// `verb` and `keys`: the listing and the keys it takes, for the error.
    pub fn parse(
        args: &[String],
        verb: &'static str,
        keys: &[&str],
    ) -> Result<Filters, FilterError> {
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for arg in args {
            let (key, value) = arg.split_once('=').ok_or_else(|| FilterError::Format {
                filter: arg.clone(),
            })?;
            let key = key.trim().to_lowercase();
            if !keys.contains(&key.as_str()) {
                return Err(FilterError::UnknownKey {
                    key,
                    verb,
                    known: keys.join(", "),
                });
            }
            by_key.entry(key).or_default().push(value.to_string());
        }
        Ok(Filters { by_key })
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.by_key.contains_key(key)
    }

    pub fn values(&self, key: &str) -> &[String] {
        self.by_key.get(key).map_or(&[], Vec::as_slice)
    }

    /// True when `key` was not given, or any of its values satisfies `pred`.
    pub fn any(&self, key: &str, pred: impl Fn(&str) -> bool) -> bool {
        self.by_key
            .get(key)
            .is_none_or(|values| values.iter().any(|v| pred(v)))
    }

    /// Every `label=KEY` / `label=KEY=VALUE` given is in `labels`.
    pub fn labels_match(&self, labels: &BTreeMap<String, String>) -> bool {
        self.values("label")
            .iter()
            .all(|spec| match spec.split_once('=') {
                Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
                None => labels.contains_key(spec.as_str()),
            })
    }

    /// A `true`/`false` key (`dangling`): its single value, checked.
    pub fn boolean(&self, key: &str) -> Result<Option<bool>, FilterError> {
        let Some(value) = self.values(key).last() else {
            return Ok(None);
        };
        match value.to_lowercase().as_str() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(FilterError::Value {
                key: key.to_string(),
                value: value.clone(),
                expected: "expected true or false".into(),
            }),
        }
    }

    /// Every value of `key` is one of `allowed`.
    pub fn check_values(&self, key: &str, allowed: &[&str]) -> Result<(), FilterError> {
        match self
            .values(key)
            .iter()
            .find(|v| !allowed.contains(&v.as_str()))
        {
            Some(bad) => Err(FilterError::Value {
                key: key.to_string(),
                value: bad.clone(),
                expected: format!("expected one of {}", allowed.join(", ")),
            }),
            None => Ok(()),
        }
    }
}

/// Docker's `name` filter is a regular expression over the name; rcorch
/// takes the forms scripts use: a substring, anchored by `^` and/or `$`.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let (start, rest) = match pattern.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    let (end, core) = match rest.strip_suffix('$') {
        Some(core) => (true, core),
        None => (false, rest),
    };
    match (start, end) {
        (true, true) => name == core,
        (true, false) => name.starts_with(core),
        (false, true) => name.ends_with(core),
        (false, false) => name.contains(core),
    }
}

/// Shell-style glob: `*` any run of characters, `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(args: &[&str]) -> Result<Filters, FilterError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Filters::parse(&args, "ps", &["name", "label", "status", "dangling"])
    }

    #[test]
    fn same_key_is_or_and_keys_absent_match_everything() {
        let f = filters(&["name=web", "name=db"]).unwrap();
        assert!(f.any("name", |v| v == "db"));
        assert!(!f.any("name", |v| v == "cache"));
        assert!(f.any("status", |_| false), "status not given");
    }

    #[test]
    fn labels_must_all_be_present() {
        let labels: BTreeMap<String, String> =
            [("a".into(), "1".into()), ("b".into(), "2".into())].into();
        assert!(filters(&["label=a", "label=b=2"])
            .unwrap()
            .labels_match(&labels));
        assert!(!filters(&["label=a", "label=c"])
            .unwrap()
            .labels_match(&labels));
        assert!(!filters(&["label=a=2"]).unwrap().labels_match(&labels));
        assert!(filters(&[]).unwrap().labels_match(&labels));
    }

    #[test]
    fn bad_filters_name_the_input_and_the_keys() {
        let e = filters(&["colour=red"]).unwrap_err().to_string();
        assert!(
            e.contains("\"colour\"") && e.contains("name, label, status"),
            "{e}"
        );
        let e = filters(&["name"]).unwrap_err().to_string();
        assert!(e.contains("KEY=VALUE"), "{e}");
        let f = filters(&["dangling=maybe"]).unwrap();
        assert!(f.boolean("dangling").is_err());
        let f = filters(&["status=sleeping"]).unwrap();
        let e = f
            .check_values("status", &["running", "exited"])
            .unwrap_err();
        assert!(e.to_string().contains("status=sleeping"), "{e}");
    }

    #[test]
    fn names_match_as_substrings_with_anchors() {
        assert!(name_matches("web", "my-web-1"));
        assert!(name_matches("^my", "my-web-1") && !name_matches("^web", "my-web-1"));
        assert!(name_matches("-1$", "my-web-1") && name_matches("^db$", "db"));
        assert!(!name_matches("^db$", "db2"));
    }

    #[test]
    fn globs() {
        assert!(glob("busy*", "busybox:latest"));
        assert!(glob("*:latest", "busybox:latest"));
        assert!(glob("b?sybox", "busybox"));
        assert!(!glob("alpine*", "busybox"));
        assert!(glob("*a*b", "xaxxb") && !glob("*a*b", "xaxxbc"));
    }
}
