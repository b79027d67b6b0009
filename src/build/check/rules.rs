//! The rules themselves, one small function per BuildKit check.

use std::collections::{BTreeMap, BTreeSet};

use super::{BaseEnv, Finding};
use crate::build::dockerfile::shell::{expand_word, Used};
use crate::build::dockerfile::{Command, CommandLine, Dockerfile, Instruction};

/// Build args BuildKit defines without an ARG in the global scope.
pub const PREDEFINED_ARGS: &[&str] = &[
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
];

pub(super) fn warn(rule: &'static str, line: usize, message: String) -> Finding {
    Finding {
        rule,
        message,
        line,
        error: false,
    }
}

pub fn all(df: &Dockerfile, base_env: BaseEnv) -> Vec<Finding> {
    let mut out = Vec::new();
    for &line in &df.empty_continuations {
        out.push(warn(
            "NoEmptyContinuation",
            line,
            "Empty continuation line".into(),
        ));
    }
    casing(df, &mut out);
    stages(df, &mut out);
    variables(df, base_env, &mut out);
    for i in &df.instructions {
        per_instruction(i, &mut out);
    }
    out
}

/// ConsistentInstructionCasing: keywords follow the file's majority case.
fn casing(df: &Dockerfile, out: &mut Vec<Finding>) {
    let upper = df
        .instructions
        .iter()
        .filter(|i| i.keyword == i.keyword.to_ascii_uppercase())
        .count();
    let lower = df
        .instructions
        .iter()
        .filter(|i| i.keyword == i.keyword.to_ascii_lowercase())
        .count();
    let (majority, want_upper) = if upper >= lower {
        ("uppercase", true)
    } else {
        ("lowercase", false)
    };
    for i in &df.instructions {
        let ok = if want_upper {
            i.keyword == i.keyword.to_ascii_uppercase()
        } else {
            i.keyword == i.keyword.to_ascii_lowercase()
        };
        if !ok {
            let m = format!(
                "Command '{}' should match the case of the command majority ({majority})",
                i.keyword
            );
            out.push(warn("ConsistentInstructionCasing", i.line, m));
        }
    }
}

/// Stage names, FROM flags and per-stage duplicates.
fn stages(df: &Dockerfile, out: &mut Vec<Finding>) {
    let mut names: BTreeSet<String> = BTreeSet::new();
    for i in &df.instructions {
        let Command::From(from) = &i.command else {
            continue;
        };
        if let (Some(name), Some(kw)) = (&from.name, &from.as_keyword) {
            if *name != name.to_ascii_lowercase() {
                out.push(warn(
                    "StageNameCasing",
                    i.line,
                    format!("Stage name '{name}' should be lowercase"),
                ));
            }
            let from_upper = i.keyword == i.keyword.to_ascii_uppercase();
            let as_upper = *kw == kw.to_ascii_uppercase();
            let from_lower = i.keyword == i.keyword.to_ascii_lowercase();
            if (from_upper && !as_upper) || (from_lower && *kw != kw.to_ascii_lowercase()) {
                out.push(warn(
                    "FromAsCasing",
                    i.line,
                    format!("'{kw}' and '{}' keywords' casing do not match", i.keyword),
                ));
            }
            let lower = name.to_ascii_lowercase();
            if lower == "scratch" || lower == "context" {
                out.push(warn(
                    "ReservedStageName",
                    i.line,
                    format!(
                        "Stage name should not use the same name as reserved stage \"{lower}\""
                    ),
                ));
            }
            if !names.insert(lower) {
                out.push(warn(
                    "DuplicateStageName",
                    i.line,
                    format!("Duplicate stage name \"{name}\", stage names should be unique"),
                ));
            }
        }
        if let Some(p) = &from.platform {
            if p == "$TARGETPLATFORM" || p == "${TARGETPLATFORM}" {
                out.push(warn("RedundantTargetPlatform", i.line, "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior".into()));
            } else if !p.contains('$') {
                let named_for_it = from
                    .name
                    .as_deref()
                    .is_some_and(|n| p.split('/').skip(1).any(|part| n.contains(part)));
                if !named_for_it {
                    out.push(warn(
                        "FromPlatformFlagConstDisallowed",
                        i.line,
                        format!("FROM --platform flag should not use constant value \"{p}\""),
                    ));
                }
            }
        }
    }
    for stage in split_stages(&df.instructions) {
        multiple(stage, out);
    }
}

/// The instructions of each stage (FROM first); global ARGs are left out.
pub fn split_stages(instructions: &[Instruction]) -> Vec<&[Instruction]> {
    let starts: Vec<usize> = instructions
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i.command, Command::From(_)))
        .map(|(n, _)| n)
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| &instructions[s..starts.get(k + 1).copied().unwrap_or(instructions.len())])
        .collect()
}

/// MultipleInstructionsDisallowed (CMD, ENTRYPOINT, HEALTHCHECK), JSONArgsRecommended.
fn multiple(stage: &[Instruction], out: &mut Vec<Finding>) {
    let has_shell = stage.iter().any(|i| matches!(i.command, Command::Shell(_)));
    for name in ["CMD", "ENTRYPOINT", "HEALTHCHECK"] {
        let of: Vec<&Instruction> = stage.iter().filter(|i| i.command.name() == name).collect();
        for i in of.iter().take(of.len().saturating_sub(1)) {
            out.push(warn("MultipleInstructionsDisallowed", i.line, format!("Multiple {name} instructions should not be used in the same stage because only the last one will be used")));
        }
    }
    for i in stage {
        if let Command::Cmd(CommandLine::Shell(_)) | Command::Entrypoint(CommandLine::Shell(_)) =
            &i.command
        {
            if !has_shell {
                let m = format!("JSON arguments recommended for {} to prevent unintended behavior related to OS signals", i.command.name());
                out.push(warn("JSONArgsRecommended", i.line, m));
            }
        }
    }
}

fn per_instruction(i: &Instruction, out: &mut Vec<Finding>) {
    match &i.command {
        Command::Maintainer(_) => out.push(warn(
            "MaintainerDeprecated",
            i.line,
            "Maintainer instruction is deprecated in favor of using label".into(),
        )),
        Command::Env(kvs) | Command::Label(kvs) if kvs.iter().any(|kv| kv.legacy) => {
            let n = i.command.name();
            out.push(warn(
                "LegacyKeyValueFormat",
                i.line,
                format!(
                    "\"{n} key=value\" should be used instead of legacy \"{n} key value\" format"
                ),
            ));
        }
        Command::Expose(ports) => {
            // Only what is written literally: `${PORT:-80}` is not a mapping.
            for p in ports.iter().filter(|p| !p.contains('$')) {
                if p.contains(':') {
                    out.push(warn("ExposeInvalidFormat", i.line, format!("EXPOSE instruction should not define an IP address or host-port mapping, found '{p}'")));
                }
                if let Some((_, proto)) = p.split_once('/') {
                    if proto != proto.to_ascii_lowercase() {
                        out.push(warn(
                            "ExposeProtoCasing",
                            i.line,
                            format!(
                                "Defined protocol '{p}' in EXPOSE instruction should be lowercase"
                            ),
                        ));
                    }
                }
            }
        }
        _ => {}
    }
    let names: Vec<&str> = match &i.command {
        Command::Arg(a) => a.iter().map(|d| d.name.as_str()).collect(),
        Command::Env(kv) => kv.iter().map(|k| k.key.as_str()).collect(),
        _ => Vec::new(),
    };
    for name in names {
        if looks_secret(name) {
            let m = format!(
                "Do not use ARG or ENV instructions for sensitive data ({} \"{name}\")",
                i.command.name()
            );
            out.push(warn("SecretsUsedInArgOrEnv", i.line, m));
        }
    }
}

/// BuildKit's heuristic: a `_`-separated word of the name is a secret word.
fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let words: Vec<&str> = upper.split('_').collect();
    let secret = [
        "APIKEY",
        "AUTH",
        "CREDENTIAL",
        "CREDENTIALS",
        "KEY",
        "PASSWORD",
        "PWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
    ];
    words.iter().any(|w| secret.contains(w)) && !words.contains(&"PUBLIC")
}

/// Scope of names an instruction can see, or unknown (a base not in the store).
struct Scope {
    names: BTreeSet<String>,
    known: bool,
}

/// UndefinedVar, UndefinedArgInFrom, InvalidDefaultArgInFrom, WorkdirRelativePath.
fn variables(df: &Dockerfile, base_env: BaseEnv, out: &mut Vec<Finding>) {
    let esc = df.directives.escape;
    let mut global: BTreeMap<String, Option<String>> = PREDEFINED_ARGS
        .iter()
        .map(|a| (a.to_string(), Some(String::new())))
        .collect();
    let mut stage_scopes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut scope: Option<Scope> = None;
    let mut workdir_abs = false;
    let mut current: Option<String> = None;
    for i in &df.instructions {
        match (&i.command, scope.as_mut()) {
            (Command::Arg(decls), None) => {
                for d in decls {
                    global.insert(d.name.clone(), d.default.clone());
                }
            }
            (Command::From(from), _) => {
                from_args(i, &from.image, &global, esc, out);
                let image = expand_word(
                    &from.image,
                    &|n: &str| global.get(n).cloned().flatten(),
                    esc,
                    &mut Used::default(),
                )
                .unwrap_or_default();
                scope = Some(match stage_scopes.get(&image.to_ascii_lowercase()) {
                    Some(names) => Scope {
                        names: names.clone(),
                        known: true,
                    },
                    None if image == "scratch" => Scope {
                        names: BTreeSet::new(),
                        known: true,
                    },
                    None => match base_env(&image) {
                        Some(env) => Scope {
                            names: env
                                .iter()
                                .map(|e| e.split('=').next().unwrap_or("").to_string())
                                .collect(),
                            known: true,
                        },
                        None => Scope {
                            names: BTreeSet::new(),
                            known: false,
                        },
                    },
                });
                workdir_abs = false;
                current = from.name.as_ref().map(|n| n.to_ascii_lowercase());
                if let (Some(name), Some(s)) = (&from.name, &scope) {
                    stage_scopes.insert(name.to_ascii_lowercase(), s.names.clone());
                }
            }
            (cmd, Some(s)) => {
                undefined(i, s, esc, out);
                match cmd {
                    Command::Arg(d) => s.names.extend(d.iter().map(|d| d.name.clone())),
                    Command::Env(kv) => s.names.extend(kv.iter().map(|k| k.key.clone())),
                    Command::Workdir(w) => {
                        if !w.starts_with('/') && !w.starts_with('$') && !workdir_abs {
                            out.push(warn("WorkdirRelativePath", i.line, format!("Relative workdir \"{w}\" can have unexpected results if the base image changes")));
                        }
                        workdir_abs |= w.starts_with('/');
                    }
                    _ => {}
                }
                if let Some(name) = &current {
                    stage_scopes.insert(name.clone(), s.names.clone());
                }
            }
            (_, None) => {}
        }
    }
}

fn from_args(
    i: &Instruction,
    image: &str,
    global: &BTreeMap<String, Option<String>>,
    esc: char,
    out: &mut Vec<Finding>,
) {
    let mut used = Used::default();
    let lookup = |n: &str| global.get(n).map(|v| v.clone().unwrap_or_default());
    let value = expand_word(image, &lookup, esc, &mut used).unwrap_or_default();
    for name in &used.unset {
        out.push(warn(
            "UndefinedArgInFrom",
            i.line,
            format!("FROM argument '{name}' is not declared"),
        ));
    }
    let defaults_only = |n: &str| global.get(n).cloned().flatten();
    let with_defaults =
        expand_word(image, &defaults_only, esc, &mut Used::default()).unwrap_or_default();
    if used.unset.is_empty()
        && image.contains('$')
        && (with_defaults.is_empty()
            || with_defaults.ends_with(':')
            || with_defaults.starts_with(':')
            || value.contains(char::is_whitespace))
    {
        out.push(warn(
            "InvalidDefaultArgInFrom",
            i.line,
            format!("Default value for ARG {image} results in empty or invalid base image name"),
        ));
    }
}

/// The words of an instruction the builder expands, checked for unset names.
fn undefined(i: &Instruction, s: &Scope, esc: char, out: &mut Vec<Finding>) {
    if !s.known {
        return;
    }
    let words: Vec<&str> = match &i.command {
        Command::Env(kv) | Command::Label(kv) => kv.iter().map(|k| k.value.as_str()).collect(),
        Command::Arg(d) => d.iter().filter_map(|d| d.default.as_deref()).collect(),
        Command::Workdir(w) | Command::User(w) | Command::StopSignal(w) => vec![w.as_str()],
        Command::Expose(v) | Command::Volume(v) => v.iter().map(String::as_str).collect(),
        Command::Copy(c) | Command::Add(c) => c
            .sources
            .iter()
            .chain([&c.dest])
            .chain(c.chown.iter())
            .map(String::as_str)
            .collect(),
        _ => Vec::new(),
    };
    let mut used = Used::default();
    let mut local: BTreeSet<String> = s.names.clone();
    for w in words {
        let _ = expand_word(
            w,
            &|n: &str| local.contains(n).then(String::new),
            esc,
            &mut used,
        );
        // ENV a=1 b=$a sees a.
        if let Command::Env(kv) = &i.command {
            local.extend(kv.iter().map(|k| k.key.clone()));
        }
    }
    for name in used.unset {
        out.push(warn(
            "UndefinedVar",
            i.line,
            format!("Usage of undefined variable '${name}'"),
        ));
    }
}
