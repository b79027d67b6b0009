//! Evaluating the instructions that only change a stage's config (ENV,
//! LABEL, WORKDIR, USER, EXPOSE, VOLUME, CMD, ENTRYPOINT, HEALTHCHECK,
//! STOPSIGNAL, SHELL, ONBUILD, MAINTAINER, ARG), with variables expanded
//! as the reference says. Pure.

use std::collections::BTreeMap;

use super::config::{self, ImageFile};
use super::dockerfile::shell::{expand_word, expand_words, Used};
use super::dockerfile::{Command, Instruction};

/// A stage being built: its image so far and the ARGs in scope.
#[derive(Debug, Clone)]
pub struct StageState {
    pub image: ImageFile,
    /// Layer blob digests, bottom first.
    pub layers: Vec<String>,
    /// Unpacked layer dirs, bottom first.
    pub dirs: Vec<std::path::PathBuf>,
    pub args: BTreeMap<String, String>,
    /// CMD was set in this stage (ENTRYPOINT then keeps it).
    pub cmd_set: bool,
    /// Build-cache key of the stage so far.
    pub key: String,
}

/// Build-wide inputs to evaluation.
pub struct Scope<'a> {
    pub build_args: &'a BTreeMap<String, String>,
    pub global_args: &'a BTreeMap<String, String>,
    pub escape: char,
}

impl StageState {
    /// A stage that is not built (not needed by the target).
    pub fn empty() -> StageState {
        StageState {
            image: ImageFile {
                author: None,
                created: String::new(),
                architecture: String::new(),
                os: String::new(),
                config: Default::default(),
                rootfs: super::config::RootFs {
                    kind: "layers".into(),
                    diff_ids: vec![],
                },
                history: vec![],
            },
            layers: vec![],
            dirs: vec![],
            args: BTreeMap::new(),
            cmd_set: false,
            key: String::new(),
        }
    }

    /// Variables an instruction sees: ENV first, then ARGs.
    pub fn lookup(&self, name: &str) -> Option<String> {
        let env = self.image.config.env.as_deref().unwrap_or(&[]);
        config::env_value(env, name)
            .map(str::to_string)
            .or_else(|| self.args.get(name).cloned())
    }

    pub fn expand(&self, word: &str, esc: char) -> Result<String, String> {
        expand_word(word, &|n: &str| self.lookup(n), esc, &mut Used::default())
            .map_err(|e| e.to_string())
    }

    fn expand_all(&self, text: &str, esc: char) -> Result<Vec<String>, String> {
        expand_words(text, &|n: &str| self.lookup(n), esc, &mut Used::default())
            .map_err(|e| e.to_string())
    }
}

/// Applies a config-only instruction; returns false for RUN/COPY/ADD/FROM,
/// which the builder executes.
pub fn apply(s: &mut StageState, i: &Instruction, scope: &Scope) -> Result<bool, String> {
    let esc = scope.escape;
    let c = &mut s.image.config;
    match &i.command {
        Command::Arg(decls) => {
            for d in decls {
                let value = match (scope.build_args.get(&d.name), &d.default) {
                    (Some(v), _) => Some(v.clone()),
                    (None, Some(def)) => Some(s.expand(def, esc)?),
                    (None, None) => scope.global_args.get(&d.name).cloned(),
                };
                if let Some(v) = value {
                    s.args.insert(d.name.clone(), v);
                }
            }
        }
        Command::Env(kvs) => {
            for kv in kvs {
                let value = s.expand(&kv.value, esc)?;
                let key = s.expand(&kv.key, esc)?;
                let env = s.image.config.env.get_or_insert_with(Vec::new);
                config::set_env(env, &key, &value);
            }
        }
        Command::Label(kvs) => {
            for kv in kvs {
                let (key, value) = (s.expand(&kv.key, esc)?, s.expand(&kv.value, esc)?);
                s.image
                    .config
                    .labels
                    .get_or_insert_with(BTreeMap::new)
                    .insert(key, value);
            }
        }
        Command::Workdir(w) => {
            let w = s.expand(w, esc)?;
            let joined = config::join_workdir(s.image.config.working_dir.as_deref(), &w);
            s.image.config.working_dir = Some(joined);
        }
        Command::User(u) => s.image.config.user = Some(s.expand(u, esc)?),
        Command::StopSignal(sig) => s.image.config.stop_signal = Some(s.expand(sig, esc)?),
        Command::Expose(ports) => {
            let mut keys = Vec::new();
            for p in ports {
                for word in s.expand_all(p, esc)? {
                    keys.extend(config::exposed_ports(&word)?);
                }
            }
            let map = s
                .image
                .config
                .exposed_ports
                .get_or_insert_with(BTreeMap::new);
            for k in keys {
                map.insert(k, serde_json::json!({}));
            }
        }
        Command::Volume(paths) => {
            let mut expanded = Vec::new();
            for p in paths {
                expanded.extend(s.expand_all(p, esc)?);
            }
            let map = s.image.config.volumes.get_or_insert_with(BTreeMap::new);
            for p in expanded {
                map.insert(p, serde_json::json!({}));
            }
        }
        Command::Cmd(line) => {
            c.cmd = Some(config::argv(c, line));
            s.cmd_set = true;
        }
        Command::Entrypoint(line) => {
            c.entrypoint = Some(config::argv(c, line));
            if !s.cmd_set {
                c.cmd = None;
            }
        }
        Command::Healthcheck(h) => c.healthcheck = Some(config::healthcheck_json(c, h)),
        Command::Shell(v) => c.shell = Some(v.clone()),
        Command::Onbuild(t) => c.on_build.get_or_insert_with(Vec::new).push(format!(
            "{} {}",
            t.keyword.to_ascii_uppercase(),
            t.text
        )),
        Command::Maintainer(m) => s.image.author = Some(m.clone()),
        Command::From(_) | Command::Run(_) | Command::Copy(_) | Command::Add(_) => {
            return Ok(false)
        }
    }
    Ok(true)
}

/// `created_by` as BuildKit writes it.
pub fn created_by(i: &Instruction) -> String {
    let kw = i.command.name();
    match &i.command {
        Command::Run(_) => format!("RUN {} # buildkit", i.text),
        Command::Copy(_) | Command::Add(_) => format!("{kw} {} # buildkit", i.text),
        _ => format!("{kw} {}", i.text),
    }
}

#[cfg(test)]
mod tests;
