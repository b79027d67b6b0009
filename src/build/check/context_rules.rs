//! The checks that need more than the file: CopyIgnoredFile (the context's
//! `.dockerignore`) and InvalidBaseImagePlatform (the platform of a base
//! image the store has).

use std::collections::BTreeSet;

use super::rules::warn;
use super::{Finding, Known};
use crate::build::dockerfile::{Command, Dockerfile};

pub fn all(df: &Dockerfile, known: &Known, out: &mut Vec<Finding>) {
    if let Some(ignore) = known.ignore {
        copy_ignored(df, ignore, out);
    }
    base_platform(df, known, out);
}

/// CopyIgnoredFile: a context source the `.dockerignore` leaves out.
fn copy_ignored(df: &Dockerfile, ignore: &crate::build::ignore::Ignore, out: &mut Vec<Finding>) {
    for i in &df.instructions {
        let (verb, c) = match &i.command {
            Command::Copy(c) => ("Copy", c),
            Command::Add(c) => ("Add", c),
            _ => continue,
        };
        if c.from.is_some() {
            continue;
        }
        for src in &c.sources {
            if src.contains("://") || src.starts_with("git@") || src.contains('$') {
                continue;
            }
            let rel = src.trim_start_matches('/');
            let rel = rel.strip_prefix("./").unwrap_or(rel).trim_end_matches('/');
            if !rel.is_empty() && ignore.excluded(rel) {
                out.push(warn(
                    "CopyIgnoredFile",
                    i.line,
                    format!("Attempting to {verb} file {src:?} that is excluded by .dockerignore"),
                ));
            }
        }
    }
}

/// InvalidBaseImagePlatform: a stored base whose platform is not the one
/// the stage asks for (its `--platform`, else the build's target).
fn base_platform(df: &Dockerfile, known: &Known, out: &mut Vec<Finding>) {
    let mut stages = BTreeSet::new();
    for i in &df.instructions {
        let Command::From(f) = &i.command else {
            continue;
        };
        let image = &f.image;
        let is_stage = stages.contains(&image.to_ascii_lowercase());
        if let Some(n) = &f.name {
            stages.insert(n.to_ascii_lowercase());
        }
        if is_stage || image == "scratch" || image.contains('$') {
            continue;
        }
        let expected = match f.platform.as_deref() {
            Some(p) if !p.contains('$') => p.to_string(),
            Some(_) => continue,
            None => known.target_platform.to_string(),
        };
        let Some(actual) = (known.base_platform)(image) else {
            continue;
        };
        if !same_platform(&actual, &expected) {
            out.push(warn(
                "InvalidBaseImagePlatform",
                i.line,
                format!(
                    "Base image {image} was pulled with platform {actual:?}, expected {expected:?} for current build"
                ),
            ));
        }
    }
}

/// `linux/amd64` matches `linux/amd64/v1`-less spellings; a variant only
/// counts when both name one.
fn same_platform(a: &str, b: &str) -> bool {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.split('/').collect(), b.split('/').collect());
    a.len() >= 2 && b.len() >= 2 && a[..2] == b[..2] && (a.len() < 3 || b.len() < 3 || a[2] == b[2])
}
