//! The builder's use of the build cache: step keys and reusing layers.

use super::*;
use crate::build::dockerfile::MountType;

impl Builder<'_> {
    pub(super) fn key(&self, s: &StageState, i: &Instruction, inputs: &str) -> String {
        let config = serde_json::to_string(&s.image.config).expect("config serialises");
        let args = serde_json::to_string(&s.args).expect("args serialise");
        cache::next_key(&s.key, &[&stage::created_by(i), &config, &args, inputs])
    }

    /// What a filesystem step reads besides its text: heredoc bodies, the
    /// copied context files, the source stage's key, RUN mounts.
    pub(super) fn step_inputs(
        &self,
        s: &StageState,
        i: &Instruction,
        done: &[(Option<String>, StageState)],
        esc: char,
    ) -> Result<String, String> {
        let mut parts: Vec<String> = Vec::new();
        match &i.command {
            Command::Run(r) => {
                parts.extend(r.heredocs.iter().map(|h| h.content.clone()));
                parts.push(format!(
                    "{:?}{:?}",
                    r.mounts,
                    r.network.unwrap_or(self.req.network)
                ));
                // What a bind shows the step is an input too.
                for m in r.mounts.iter().filter(|m| m.kind == MountType::Bind) {
                    let source = m.source.as_deref().unwrap_or(".").trim_start_matches('/');
                    match &m.from {
                        Some(f) => parts.push(self.source_key(&s.expand(f, esc)?, done)),
                        None => parts.push(cache::hash_sources(
                            &self.req.context,
                            &[source.trim_start_matches("./").to_string()],
                            &self.ignore,
                        )),
                    }
                }
            }
            Command::Copy(c) | Command::Add(c) => {
                parts.extend(c.heredocs.iter().map(|h| h.content.clone()));
                match &c.from {
                    Some(f) => parts.push(self.source_key(&s.expand(f, esc)?, done)),
                    None => {
                        let mut sources = Vec::new();
                        for src in &c.sources {
                            let src = s.expand(src, esc)?;
                            if !src.contains("://") {
                                sources.extend(match_sources(
                                    &self.req.context,
                                    &src,
                                    &self.ignore,
                                )?);
                            }
                        }
                        parts.push(cache::hash_sources(
                            &self.req.context,
                            &sources,
                            &self.ignore,
                        ));
                    }
                }
            }
            _ => {}
        }
        Ok(parts.join("\n"))
    }

    /// What a `--from=` source contributes to a key: the stage's key or the image's id.
    fn source_key(&self, f: &str, done: &[(Option<String>, StageState)]) -> String {
        let lower = f.to_ascii_lowercase();
        let by_name = done.iter().find(|(n, _)| n.as_deref() == Some(&lower));
        let by_index = f.parse::<usize>().ok().and_then(|n| done.get(n));
        match by_name.or(by_index) {
            Some((_, st)) => st.key.clone(),
            None => format!(
                "image {f} {:?}",
                self.instance
                    .images()
                    .ok()
                    .and_then(|st| st.resolve(f).ok())
                    .map(|r| r.id)
            ),
        }
    }

    /// Reuses the layer the cache has for the stage's key.
    pub(super) fn cached(&mut self, s: &mut StageState) -> bool {
        if self.req.no_cache {
            return false;
        }
        let Some(digest) = self.cache.steps.get(&s.key).cloned() else {
            return false;
        };
        let Some(dir) = self
            .instance
            .images()
            .ok()
            .and_then(|st| st.existing_layer(&digest))
        else {
            return false;
        };
        s.image.rootfs.diff_ids.push(digest.clone());
        s.layers.push(digest);
        s.dirs.push(dir);
        true
    }

    pub(super) fn remember(&mut self, s: &StageState) {
        if let Some(d) = s.layers.last() {
            let _ = cache::insert(&self.instance.root, &s.key, d);
            self.cache.steps.insert(s.key.clone(), d.clone());
        }
    }
}
