//! Which stages a target needs: its base stage and every stage a
//! `COPY --from` or `RUN --mount=from=` names, transitively. Pure.

use std::collections::BTreeSet;

use super::dockerfile::{Command, Instruction};

/// Indices of the stages `target` needs, target included.
pub fn needed(
    stages: &[&[Instruction]],
    target: usize,
    base_of: &dyn Fn(usize) -> String,
) -> BTreeSet<usize> {
    let names: Vec<Option<String>> = stages
        .iter()
        .map(|s| match &s[0].command {
            Command::From(f) => f.name.as_ref().map(|n| n.to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    let find = |r: &str, before: usize| -> Option<usize> {
        let lower = r.to_ascii_lowercase();
        (0..before)
            .rev()
            .find(|&k| names[k].as_deref() == Some(&lower))
            .or_else(|| r.parse::<usize>().ok().filter(|&n| n < before))
    };
    let mut out = BTreeSet::new();
    let mut todo = vec![target];
    while let Some(n) = todo.pop() {
        if !out.insert(n) {
            continue;
        }
        let mut refs: Vec<String> = vec![base_of(n)];
        for i in &stages[n][1..] {
            match &i.command {
                Command::Copy(c) | Command::Add(c) => refs.extend(c.from.clone()),
                Command::Run(r) => refs.extend(r.mounts.iter().filter_map(|m| m.from.clone())),
                _ => {}
            }
        }
        // A FROM naming a stage is by name only; indices come from --from.
        for (k, r) in refs.iter().enumerate() {
            let dep = if k == 0 {
                (0..n)
                    .rev()
                    .find(|&j| names[j].as_deref() == Some(&r.to_ascii_lowercase()))
            } else {
                find(r, n)
            };
            todo.extend(dep);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::check::split_for_build;
    use crate::build::dockerfile::parse;

    fn plan(text: &str, target: usize) -> Vec<usize> {
        let df = parse(text, "Dockerfile").unwrap();
        let (_, stages) = split_for_build(&df.instructions);
        let base = |n: usize| match &stages[n][0].command {
            Command::From(f) => f.image.clone(),
            _ => unreachable!(),
        };
        needed(&stages, target, &base).into_iter().collect()
    }

    #[test]
    fn only_the_stages_the_target_uses() {
        let text = "FROM busybox AS a\nFROM busybox AS unused\nFROM a AS b\nFROM scratch\nCOPY --from=b /x /x\nCOPY --from=0 /y /y\n";
        assert_eq!(plan(text, 3), vec![0, 2, 3]);
        assert_eq!(plan(text, 1), vec![1]);
        let mount = "FROM busybox AS tools\nFROM busybox\nRUN --mount=from=tools,target=/t true\n";
        assert_eq!(plan(mount, 1), vec![0, 1]);
    }

    #[test]
    fn a_later_stage_name_is_an_image_not_a_cycle() {
        assert_eq!(plan("FROM b AS a\nFROM a AS b\n", 0), vec![0]);
    }
}
