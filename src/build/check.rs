//! `rcorch build --check`: BuildKit's build checks over a parsed Dockerfile,
//! with their names, messages and file:line. Pure; the base images' ENV
//! arrives through a lookup so `UndefinedVar` knows what an image defines.

mod context_rules;
mod rules;

use std::fmt;

use crate::build::dockerfile::Dockerfile;

/// One violated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static str,
    pub message: String,
    pub line: usize,
    /// The file's `# check=error=true`, or a rule that is always an error.
    pub error: bool,
}

impl Finding {
    /// Docker's documentation page for the rule.
    pub fn url(&self) -> String {
        let chars: Vec<char> = self.rule.chars().collect();
        let mut kebab = String::new();
        for (i, &c) in chars.iter().enumerate() {
            // A word starts at an upper case letter after a lower case one,
            // or at the last capital of an acronym ("JSONArgs").
            let prev_lower = i > 0 && chars[i - 1].is_ascii_lowercase();
            let acronym_end = i > 0
                && chars[i - 1].is_ascii_uppercase()
                && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if c.is_ascii_uppercase() && (prev_lower || acronym_end) {
                kebab.push('-');
            }
            kebab.push(c.to_ascii_lowercase());
        }
        format!("https://docs.docker.com/go/dockerfile/rule/{kebab}/")
    }
}

/// The findings of a check, in line order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub file: String,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.error)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for x in &self.findings {
            let level = if x.error { "error" } else { "warning" };
            writeln!(
                f,
                "{}:{}: {level}: {}: {}",
                self.file, x.line, x.rule, x.message
            )?;
            writeln!(f, "  see {}", x.url())?;
        }
        match self.findings.len() {
            0 => write!(f, "Check complete, no warnings found."),
            n => write!(
                f,
                "Check complete, {n} warning{} found!",
                if n == 1 { " has been" } else { "s have been" }
            ),
        }
    }
}

/// What the checker may know about base images: their ENV, when the
/// image is in the local store (None: unknown, so no UndefinedVar there).
pub type BaseEnv<'a> = &'a dyn Fn(&str) -> Option<Vec<String>>;

/// What the checker may know beyond the file.
pub struct Known<'a> {
    pub base_env: BaseEnv<'a>,
    /// A stored base image's platform (`linux/amd64`), for InvalidBaseImagePlatform.
    pub base_platform: &'a dyn Fn(&str) -> Option<String>,
    /// The build's target platform (a stage without `--platform` wants it).
    pub target_platform: &'a str,
    /// The context's `.dockerignore`, for CopyIgnoredFile.
    pub ignore: Option<&'a crate::build::ignore::Ignore>,
}

/// Runs every rule the file does not skip.
pub fn check(df: &Dockerfile, base_env: BaseEnv) -> Report {
    let known = Known {
        base_env,
        base_platform: &|_| None,
        target_platform: "",
        ignore: None,
    };
    check_known(df, &known)
}

/// `check`, with the rules that need the context and the store.
pub fn check_known(df: &Dockerfile, known: &Known) -> Report {
    let mut findings = rules::all(df, known.base_env);
    context_rules::all(df, known, &mut findings);
    let d = &df.directives;
    let skip_all = d.check_skip.iter().any(|s| s.eq_ignore_ascii_case("all"));
    findings.retain(|f| !skip_all && !d.check_skip.iter().any(|s| s == f.rule));
    for f in &mut findings {
        f.error |= d.check_error;
    }
    findings.sort_by_key(|f| f.line);
    Report {
        file: df.name.clone(),
        findings,
    }
}

#[cfg(test)]
mod tests;

/// The global ARGs (before the first FROM) and each stage's instructions.
pub fn split_for_build(
    instructions: &[crate::build::dockerfile::Instruction],
) -> (
    &[crate::build::dockerfile::Instruction],
    Vec<&[crate::build::dockerfile::Instruction]>,
) {
    let first = instructions
        .iter()
        .position(|i| matches!(i.command, crate::build::dockerfile::Command::From(_)))
        .unwrap_or(instructions.len());
    (&instructions[..first], rules::split_stages(instructions))
}
