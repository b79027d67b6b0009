//! The builder's use of the build cache: step keys and reusing layers.

use super::*;
use crate::build::dockerfile::MountType;
use crate::build::fetch;
use crate::image::sha256::digest_hex;

impl Builder<'_> {
    pub(super) fn key(&self, s: &StageState, i: &Instruction, inputs: &str) -> String {
        let config = serde_json::to_string(&s.image.config).expect("config serialises");
        let args = serde_json::to_string(&s.args).expect("args serialise");
        cache::next_key(&s.key, &[&stage::created_by(i), &config, &args, inputs])
    }

    /// What a filesystem step reads besides its text: heredoc bodies, the
    /// copied context files, the source stage's key, RUN mounts.
    pub(super) fn step_inputs(
        &mut self,
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
                        None => parts.push(cache::hash_sources_ticking(
                            &self.req.context,
                            &[source.trim_start_matches("./").to_string()],
                            &self.ignore,
                            &crate::build::live::Live::ticker(self.live.as_ref()),
                        )),
                    }
                }
            }
            Command::Copy(c) | Command::Add(c) => {
                let add = i.command.name() == "ADD";
                parts.extend(c.heredocs.iter().map(|h| h.content.clone()));
                match &c.from {
                    Some(f) => parts.push(self.source_key(&s.expand(f, esc)?, done)),
                    None => {
                        let mut sources = Vec::new();
                        for src in &c.sources {
                            let src = s.expand(src, esc)?;
                            if fetch::is_git(&src) && add {
                                parts.push(git_head(&src));
                            } else if fetch::is_url(&src) && add {
                                // The download's content and time key the step.
                                let f = self.fetch(&src, c.checksum.as_deref())?;
                                parts.push(format!("{} {:?}", digest_hex(&f.data), f.mtime));
                            } else if !src.contains("://") && !src.starts_with("git@") {
                                sources.extend(match_sources(
                                    &self.req.context,
                                    &src,
                                    &self.ignore,
                                )?);
                            }
                        }
                        let tick = crate::build::live::Live::ticker(self.live.as_ref());
                        parts.push(cache::hash_sources_ticking(
                            &self.req.context,
                            &sources,
                            &self.ignore,
                            &tick,
                        ));
                    }
                }
            }
            _ => {}
        }
        Ok(parts.join("\n"))
    }

    /// An `ADD URL` download, fetched once per build.
    pub(super) fn fetch(
        &mut self,
        url: &str,
        checksum: Option<&str>,
    ) -> Result<fetch::Fetched, String> {
        let f = match self.fetched.get(url) {
            Some(f) => f.clone(),
            None => {
                self.note(&format!("fetching {url}"));
                let tick = crate::build::live::Live::ticker(self.live.as_ref());
                let f = fetch::fetch(url, &tick)?;
                self.fetched.insert(url.to_string(), f.clone());
                f
            }
        };
        if let Some(c) = checksum {
            fetch::verify(&f.data, c).map_err(|e| format!("ADD {url}: {e}"))?;
        }
        Ok(f)
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

/// What keys an `ADD` of a git repository: the refs it has now (`git
/// ls-remote`); unresolvable, a value no other build has (always a miss).
fn git_head(src: &str) -> String {
    let url = src.split('#').next().unwrap_or(src);
    let out = std::process::Command::new("git")
        .args(["ls-remote", url])
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => format!("{src} {}", String::from_utf8_lossy(&o.stdout)),
        _ => format!("{src} unresolved {:?}", std::time::SystemTime::now()),
    }
}
