//! `rcorch build`: runs a Dockerfile's stages up to the target. RUN steps
//! are containers of rcorch's own runtime whose upper dir becomes the layer;
//! COPY/ADD write into a step upper dir (see `copy`); the image is committed
//! to the store once every step succeeded. Step work lives under
//! `<root>/build/<pid>-<n>`, swept by the next build once that pid is gone.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::cache;
use super::config::{self, History, ImageFile, RootFs, RunConfig};
use super::copy::{self, CopyJob, Placement};
use super::dockerfile::{self, Command, CommandLine, Copy, Instruction, Run, RunNetwork};
use super::ignore::{has_wildcards, Ignore};
use super::layer_tar;
use super::run_mounts;
use super::stage::{self, Scope, StageState};
use crate::container::build::{ImageDefaults, RunRequest};
use crate::image::ImageRecord;
use crate::instance::Instance;

/// What to build.
pub struct BuildRequest {
    pub context: PathBuf,
    pub dockerfile: String,
    pub dockerfile_name: String,
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub network: RunNetwork,
    pub quiet: bool,
    pub no_cache: bool,
    /// `--secret id=ID,src=PATH`.
    pub secrets: BTreeMap<String, PathBuf>,
    /// SOURCE_DATE_EPOCH: creation time and clamp for file times.
    pub epoch: Option<i64>,
}

/// A failed build, with the instruction's place when one failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildFailure {
    #[error(transparent)]
    Parse(#[from] dockerfile::ParseError),
    #[error("{file}:{line}: {instruction}: {message}")]
    Step {
        file: String,
        line: usize,
        instruction: String,
        message: String,
    },
    #[error("{0}")]
    Other(String),
}

struct Builder<'a> {
    instance: &'a Instance,
    req: &'a BuildRequest,
    out: &'a mut dyn Write,
    step: usize,
    work: PathBuf,
    ignore: Ignore,
    cache: cache::CacheIndex,
}

pub fn build(
    instance: &Instance,
    req: &BuildRequest,
    out: &mut dyn Write,
) -> Result<ImageRecord, BuildFailure> {
    let df = dockerfile::parse(&req.dockerfile, &req.dockerfile_name)?;
    let build_root = instance.root.join("build");
    sweep(instance, &build_root);
    let work = build_root.join(std::process::id().to_string());
    std::fs::create_dir_all(&work)
        .map_err(|e| BuildFailure::Other(format!("{}: {e}", work.display())))?;
    let ignore = std::fs::read_to_string(req.context.join(".dockerignore"))
        .map(|t| Ignore::parse(&t))
        .unwrap_or_default();
    let mut b = Builder {
        instance,
        req,
        out,
        step: 0,
        work: work.clone(),
        ignore,
        cache: cache::load(&instance.root),
    };
    let result = b.all(&df);
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// Removes step dirs and step containers of builds whose process is gone.
fn sweep(instance: &Instance, build_root: &Path) {
    let alive = |pid: &str| {
        pid.parse::<i32>()
            .is_ok_and(|p| Path::new(&format!("/proc/{p}")).exists())
    };
    if let Ok(rd) = std::fs::read_dir(build_root) {
        for e in rd.flatten() {
            if !alive(&e.file_name().to_string_lossy()) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    for c in instance.containers.configs().unwrap_or_default() {
        if c.labels.get("rcorch.build.pid").is_some_and(|p| !alive(p)) {
            let _ = crate::runtime::control::remove(instance, &c.id, true);
        }
    }
}

impl Builder<'_> {
    fn all(&mut self, df: &dockerfile::Dockerfile) -> Result<ImageRecord, BuildFailure> {
        let esc = df.directives.escape;
        let mut global = predefined();
        let mut stages: Vec<(Option<String>, StageState)> = Vec::new();
        let parts = super::check::split_for_build(&df.instructions);
        for i in parts.0 {
            if let Command::Arg(decls) = &i.command {
                for d in decls {
                    let v = self
                        .req
                        .build_args
                        .get(&d.name)
                        .cloned()
                        .or_else(|| d.default.as_ref().map(|x| expand(x, &global, esc)));
                    if let Some(v) = v {
                        global.insert(d.name.clone(), v);
                    }
                }
            }
        }
        let target = match &self.req.target {
            None => parts.1.len() - 1,
            Some(t) => parts
                .1
                .iter()
                .position(|s| from_name(&s[0]).is_some_and(|n| n.eq_ignore_ascii_case(t)))
                .ok_or_else(|| {
                    BuildFailure::Other(format!(
                        "target stage {t:?} could not be found in {}",
                        df.name
                    ))
                })?,
        };
        let count = parts.1.len();
        let base_of = |n: usize| match &parts.1[n][0].command {
            Command::From(f) => expand(&f.image, &global, esc),
            _ => String::new(),
        };
        let needed = super::plan::needed(&parts.1, target, &base_of);
        for (n, insts) in parts.1.iter().enumerate().take(target + 1) {
            let name = from_name(&insts[0]).map(str::to_ascii_lowercase);
            if !needed.contains(&n) {
                // Kept as a placeholder so indices still match stage numbers.
                stages.push((None, StageState::empty()));
                continue;
            }
            let state = self.stage(df, insts, &stages, &global, (n, count))?;
            stages.push((name, state));
        }
        let (_, mut last) = stages.pop().expect("one stage at least");
        for (k, v) in &self.req.labels {
            last.image
                .config
                .labels
                .get_or_insert_with(BTreeMap::new)
                .insert(k.clone(), v.clone());
        }
        let store = self
            .instance
            .images()
            .map_err(|e| BuildFailure::Other(e.to_string()))?;
        // An unchanged rebuild gives the same image (same config, so same id).
        let labels = serde_json::to_string(&self.req.labels).expect("labels serialise");
        let image_key = format!("image:{}", cache::next_key(&last.key, &[&labels]));
        let cached = self
            .cache
            .steps
            .get(&image_key)
            .filter(|_| !self.req.no_cache);
        let json = match cached.and_then(|id| std::fs::read(store.blob_path(id)).ok()) {
            Some(bytes) => bytes,
            None => serde_json::to_vec(&last.image).expect("config serialises"),
        };
        let record = store
            .commit_built(&json, &last.layers, &self.req.tags)
            .map_err(|e| BuildFailure::Other(e.to_string()))?;
        self.cache.steps.insert(image_key, record.id.clone());
        let _ = cache::save(&self.instance.root, &self.cache);
        Ok(record)
    }

    fn stage(
        &mut self,
        df: &dockerfile::Dockerfile,
        insts: &[Instruction],
        done: &[(Option<String>, StageState)],
        global: &BTreeMap<String, String>,
        (n, count): (usize, usize),
    ) -> Result<StageState, BuildFailure> {
        let Command::From(from) = &insts[0].command else {
            unreachable!("stages start at FROM")
        };
        let esc = df.directives.escape;
        let image = expand(&from.image, global, esc);
        let fail = |i: &Instruction, message: String| BuildFailure::Step {
            file: df.name.clone(),
            line: i.line,
            instruction: format!("{} {}", i.command.name(), i.text),
            message,
        };
        let mut state = self.base(&image, done).map_err(|m| fail(&insts[0], m))?;
        let total = insts.len();
        let label = if count > 1 {
            format!("stage-{n} ")
        } else {
            String::new()
        };
        self.progress(&format!("[{label}1/{total}] FROM {image}"));
        let scope = Scope {
            build_args: &self.req.build_args,
            global_args: global,
            escape: esc,
        };
        for (k, i) in insts.iter().enumerate().skip(1) {
            let started = Instant::now();
            let label = if count > 1 {
                format!("stage-{n} ")
            } else {
                String::new()
            };
            let changed_fs = !stage::apply(&mut state, i, &scope).map_err(|m| fail(i, m))?;
            if changed_fs {
                self.progress(&format!(
                    "[{label}{}/{total}] {} {}",
                    k + 1,
                    i.command.name(),
                    i.text
                ));
                let inputs = self
                    .step_inputs(&state, i, done, esc)
                    .map_err(|m| fail(i, m))?;
                state.key = self.key(&state, i, &inputs);
                if self.cached(&mut state) {
                    self.line(&format!("#{} CACHED", self.step));
                } else {
                    self.filesystem_step(&mut state, i, done, esc)
                        .map_err(|m| fail(i, m))?;
                    self.remember(&state);
                    self.line(&format!(
                        "#{} DONE {:.1}s",
                        self.step,
                        started.elapsed().as_secs_f64()
                    ));
                }
            } else {
                state.key = self.key(&state, i, "");
            }
            if !matches!(i.command, Command::Arg(_)) {
                state.image.history.push(History {
                    created: Some(state.image.created.clone()),
                    created_by: Some(stage::created_by(i)),
                    author: None,
                    comment: Some("buildkit.dockerfile.v0".into()),
                    empty_layer: !changed_fs,
                });
            }
        }
        Ok(state)
    }

    fn key(&self, s: &StageState, i: &Instruction, inputs: &str) -> String {
        let config = serde_json::to_string(&s.image.config).expect("config serialises");
        let args = serde_json::to_string(&s.args).expect("args serialise");
        cache::next_key(&s.key, &[&stage::created_by(i), &config, &args, inputs])
    }

    /// What a filesystem step reads besides its text: heredoc bodies, the
    /// copied context files, the source stage's key, RUN mounts.
    fn step_inputs(
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
            }
            Command::Copy(c) | Command::Add(c) => {
                parts.extend(c.heredocs.iter().map(|h| h.content.clone()));
                match &c.from {
                    Some(f) => {
                        let f = s.expand(f, esc)?;
                        let lower = f.to_ascii_lowercase();
                        let by_name = done.iter().find(|(n, _)| n.as_deref() == Some(&lower));
                        let by_index = f.parse::<usize>().ok().and_then(|n| done.get(n));
                        match by_name.or(by_index) {
                            Some((_, st)) => parts.push(st.key.clone()),
                            None => parts.push(format!(
                                "image {f} {:?}",
                                self.instance
                                    .images()
                                    .ok()
                                    .and_then(|st| st.resolve(&f).ok())
                                    .map(|r| r.id)
                            )),
                        }
                    }
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

    /// Reuses the layer the cache has for the stage's key.
    fn cached(&mut self, s: &mut StageState) -> bool {
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

    fn remember(&mut self, s: &StageState) {
        if let Some(d) = s.layers.last() {
            self.cache.steps.insert(s.key.clone(), d.clone());
            let _ = cache::save(&self.instance.root, &self.cache);
        }
    }

    fn base(
        &self,
        image: &str,
        done: &[(Option<String>, StageState)],
    ) -> Result<StageState, String> {
        let created = self.created();
        if let Some((_, s)) = done
            .iter()
            .find(|(name, _)| name.as_deref() == Some(&image.to_ascii_lowercase()))
        {
            // The key carries on from the parent stage's.
            let mut s = s.clone();
            s.image.created = created;
            s.cmd_set = false;
            return Ok(s);
        }
        let mut file = ImageFile {
            author: None,
            created,
            architecture: crate::image::oci::host_arch().into(),
            os: "linux".into(),
            config: RunConfig::default(),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: vec![],
            },
            history: vec![],
        };
        if image == "scratch" {
            return Ok(StageState {
                image: file,
                layers: vec![],
                dirs: vec![],
                args: BTreeMap::new(),
                cmd_set: false,
                key: cache::next_key("", &["scratch"]),
            });
        }
        let store = self.instance.images().map_err(|e| e.to_string())?;
        let record = store
            .resolve(image)
            .map_err(|e| format!("base image: {e}"))?;
        let blob = std::fs::read(store.blob_path(&record.id)).map_err(|e| e.to_string())?;
        let base: serde_json::Value = serde_json::from_slice(&blob).map_err(|e| e.to_string())?;
        file.config = serde_json::from_value(base["config"].clone()).unwrap_or_default();
        file.rootfs = serde_json::from_value(base["rootfs"].clone())
            .map_err(|e| format!("base image config: {e}"))?;
        file.history = serde_json::from_value(base["history"].clone()).unwrap_or_default();
        let mut dirs = store.layer_dirs(&record);
        dirs.reverse();
        Ok(StageState {
            image: file,
            layers: record.layers.clone(),
            dirs,
            args: BTreeMap::new(),
            cmd_set: false,
            key: cache::next_key("", &["image", &record.id]),
        })
    }

    fn created(&self) -> String {
        match self.req.epoch {
            Some(e) => crate::util::time::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(e.max(0) as u64),
            ),
            None => crate::util::time::format_rfc3339_seconds(std::time::SystemTime::now()),
        }
    }

    fn progress(&mut self, text: &str) {
        self.step += 1;
        let line = format!("#{} {text}", self.step);
        self.line(&line);
    }

    fn line(&mut self, text: &str) {
        if !self.req.quiet {
            let _ = writeln!(self.out, "{text}");
        }
    }

    fn filesystem_step(
        &mut self,
        s: &mut StageState,
        i: &Instruction,
        done: &[(Option<String>, StageState)],
        esc: char,
    ) -> Result<(), String> {
        let dir = self.work.join(self.step.to_string());
        let (upper, workdir, merged) = (dir.join("upper"), dir.join("work"), dir.join("merged"));
        for d in [&upper, &workdir, &merged] {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let layer_upper = match &i.command {
            Command::Run(r) => self.run(s, r)?,
            Command::Copy(c) | Command::Add(c) => {
                self.copy(
                    s,
                    c,
                    i.command.name() == "ADD",
                    esc,
                    done,
                    (&upper, &workdir, &merged),
                )?;
                upper.clone()
            }
            _ => unreachable!("only RUN, COPY and ADD change files"),
        };
        let tar = dir.join("layer.tar");
        let file = std::fs::File::create(&tar).map_err(|e| e.to_string())?;
        layer_tar::write_layer(&layer_upper, std::io::BufWriter::new(file), self.req.epoch)
            .map_err(|e| format!("cannot write the layer: {e}"))?;
        if let Some(id) = layer_upper
            .parent()
            .and_then(|p| p.file_name())
            .filter(|_| layer_upper != upper)
        {
            let _ = crate::runtime::control::remove(self.instance, &id.to_string_lossy(), true);
        }
        let store = self.instance.images().map_err(|e| e.to_string())?;
        let (digest, rootfs) = store.add_layer_file(&tar).map_err(|e| e.to_string())?;
        let _ = std::fs::remove_dir_all(&dir);
        s.image.rootfs.diff_ids.push(digest.clone());
        s.layers.push(digest);
        s.dirs.push(rootfs);
        Ok(())
    }

    /// Runs a RUN step; returns the container's upper dir.
    fn run(&mut self, s: &StageState, r: &Run) -> Result<PathBuf, String> {
        let c = &s.image.config;
        let argv = match (&r.command, r.heredocs.as_slice()) {
            (CommandLine::Shell(cmd), [h])
                if cmd.trim() == format!("<<{}", h.name)
                    || cmd.trim() == format!("<<-{}", h.name) =>
            {
                let mut v = config::shell_of(c);
                v.push(h.content.clone());
                v
            }
            (CommandLine::Shell(cmd), docs) if !docs.is_empty() => {
                let mut script = format!("{cmd}\n");
                for h in docs {
                    script.push_str(&h.content);
                    script.push_str(&h.name);
                    script.push('\n');
                }
                let mut v = config::shell_of(c);
                v.push(script);
                v
            }
            (line, _) => config::argv(c, line),
        };
        let mut env = c
            .env
            .clone()
            .unwrap_or_else(|| vec![crate::image::DEFAULT_PATH_ENV.to_string()]);
        for (k, v) in &s.args {
            if config::env_value(&env, k).is_none() {
                env.push(format!("{k}={v}"));
            }
        }
        let mut dirs = s.dirs.clone();
        dirs.reverse();
        let mut image = ImageDefaults {
            reference: "build".into(),
            id: String::new(),
            cmd: argv.clone(),
            env,
            working_dir: c.working_dir.clone(),
            user: c.user.clone(),
            layers: dirs,
            ..Default::default()
        };
        let network = match r.network.unwrap_or(self.req.network) {
            RunNetwork::None => Some("none".to_string()),
            RunNetwork::Host => Some("host".to_string()),
            RunNetwork::Default => None,
        };
        let step_dir = self.work.join(self.step.to_string());
        let workdir = c.working_dir.clone().unwrap_or_else(|| "/".into());
        let mctx = run_mounts::MountCtx {
            root: &self.instance.root,
            context: &self.req.context,
            secrets: &self.req.secrets,
            step_dir: &step_dir,
            workdir: &workdir,
        };
        let setup = run_mounts::prepare(&r.mounts, &mctx)?;
        image.env.extend(setup.env.iter().cloned());
        let request = RunRequest {
            image: "build".into(),
            command: argv,
            network,
            volumes: setup.volumes.clone(),
            tmpfs: setup.tmpfs.clone(),
            labels: vec![format!("rcorch.build.pid={}", std::process::id())],
            ..Default::default()
        };
        let id = crate::container::names::random_id();
        let dir = self.instance.containers.container_dir(&id);
        let code = crate::runtime::run::run_step(
            self.instance,
            &request,
            image,
            id.clone(),
            !self.req.quiet,
        );
        let code = match code {
            Ok(c) => c,
            Err(e) => {
                let _ = crate::runtime::control::remove(self.instance, &id, true);
                return Err(e.to_string());
            }
        };
        if code != 0 {
            let tail =
                crate::runtime::logs::read_entries(&dir.join("log.json")).unwrap_or_default();
            let lines: Vec<String> = tail
                .iter()
                .rev()
                .take(10)
                .rev()
                .map(|e| e.log.trim_end().to_string())
                .collect();
            let _ = crate::runtime::control::remove(self.instance, &id, true);
            return Err(format!(
                "did not complete successfully: exit code: {code}\n{}",
                lines.join("\n")
            ));
        }
        run_mounts::remove_stubs(&dir.join("upper"), &setup.targets, &s.dirs);
        Ok(dir.join("upper"))
    }

    fn copy(
        &mut self,
        s: &StageState,
        c: &Copy,
        add: bool,
        esc: char,
        done: &[(Option<String>, StageState)],
        (upper, work, merged): (&Path, &Path, &Path),
    ) -> Result<(), String> {
        let from = match &c.from {
            None => None,
            Some(f) => Some(self.source_stage(&s.expand(f, esc)?, done)?),
        };
        let dest = s.expand(&c.dest, esc)?;
        let workdir = s
            .image
            .config
            .working_dir
            .clone()
            .unwrap_or_else(|| "/".into());
        let dest_dir = dest.ends_with('/') || dest == "." || dest.ends_with("/.");
        let dest_abs = config::join_workdir(Some(&workdir), &dest);
        let mut sources = Vec::new();
        for src in &c.sources {
            let src = s.expand(src, esc)?;
            if add
                && (src.starts_with("http://")
                    || src.starts_with("https://")
                    || src.starts_with("git@"))
            {
                return Err(format!(
                    "ADD {src}: remote sources are not supported yet; download it and COPY it"
                ));
            }
            match &from {
                None => sources.extend(match_sources(&self.req.context, &src, &self.ignore)?),
                Some(_) => sources.push(src.trim_start_matches('/').to_string()),
            }
        }
        let multiple = sources.len() > 1 || c.sources.iter().any(|s| has_wildcards(s));
        if multiple && !dest_dir {
            return Err("when using COPY with more than one source file, the destination must be a directory and end with a /".into());
        }
        let placements = sources
            .into_iter()
            .map(|src| {
                let path = self.req.context.join(&src);
                let extract = add && from.is_none() && !path.is_dir() && is_archive(&path);
                Placement {
                    source: src,
                    dest: dest_abs.clone(),
                    into_dir: dest_dir,
                    extract,
                }
            })
            .collect();
        let inline = heredoc_files(s, c, &dest_abs, dest_dir, esc);
        let owner = match &c.chown {
            None => (0, 0),
            Some(spec) => owner(&s.expand(spec, esc)?, &s.dirs)?,
        };
        let chmod = match &c.chmod {
            None => None,
            Some(m) => Some(
                u32::from_str_radix(m, 8)
                    .map_err(|_| format!("--chmod={m}: expected an octal mode like 0755"))?,
            ),
        };
        let mut layers = s.dirs.clone();
        layers.reverse();
        let empty = Ignore::default();
        let source_mount = merged.with_file_name("source");
        std::fs::create_dir_all(&source_mount).map_err(|e| e.to_string())?;
        let from_layers = from.map(|mut d| {
            d.reverse();
            d
        });
        let ignore = if from_layers.is_some() {
            &empty
        } else {
            &self.ignore
        };
        copy::run(&CopyJob {
            context: &self.req.context,
            placements,
            inline,
            owner,
            chmod,
            ignore,
            from_layers: from_layers.as_deref(),
            source_mount: &source_mount,
            layers: &layers,
            upper,
            work,
            merged,
        })
    }

    /// `--from=`: an earlier stage by name or index, else an image in the store.
    fn source_stage(
        &self,
        from: &str,
        done: &[(Option<String>, StageState)],
    ) -> Result<Vec<PathBuf>, String> {
        let lower = from.to_ascii_lowercase();
        if let Some((_, s)) = done.iter().find(|(n, _)| n.as_deref() == Some(&lower)) {
            return Ok(s.dirs.clone());
        }
        if let Ok(n) = from.parse::<usize>() {
            return done
                .get(n)
                .map(|(_, s)| s.dirs.clone())
                .ok_or_else(|| format!("--from={from}: no stage {n} before this one"));
        }
        let store = self.instance.images().map_err(|e| e.to_string())?;
        let record = store
            .resolve(from)
            .map_err(|e| format!("--from={from}: not a stage of this file, and {e}"))?;
        let mut dirs = store.layer_dirs(&record);
        dirs.reverse();
        Ok(dirs)
    }
}

/// COPY heredocs as (path, content): expanded unless the delimiter was quoted.
fn heredoc_files(
    s: &StageState,
    c: &Copy,
    dest_abs: &str,
    dest_dir: bool,
    esc: char,
) -> Vec<(String, String)> {
    let content = |h: &dockerfile::Heredoc| {
        if !h.expand {
            return h.content.clone();
        }
        let quoted = format!("\"{}\"", h.content.replace('"', "\\\""));
        s.expand(&quoted, esc).unwrap_or_else(|_| h.content.clone())
    };
    if c.heredocs.len() == 1 && !dest_dir {
        return vec![(dest_abs.to_string(), content(&c.heredocs[0]))];
    }
    c.heredocs
        .iter()
        .map(|h| {
            (
                format!("{}/{}", dest_abs.trim_end_matches('/'), h.name),
                content(h),
            )
        })
        .collect()
}

fn is_archive(path: &Path) -> bool {
    let mut head = [0u8; 512];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    (n >= 2 && head[..2] == [0x1f, 0x8b]) || (n >= 262 && &head[257..262] == b"ustar")
}

/// Context-relative sources a COPY source names (wildcards expanded).
pub fn match_sources(context: &Path, src: &str, ignore: &Ignore) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    for p in src.split('/') {
        match p {
            "" | "." => {}
            ".." if parts.pop().is_none() => {
                return Err(format!(
                    "{src}: outside the build context (COPY cannot read '..' above it)"
                ))
            }
            ".." => {}
            p => parts.push(p.to_string()),
        }
    }
    let mut found = vec![String::new()];
    for part in &parts {
        let mut next = Vec::new();
        for base in &found {
            if has_wildcards(part) {
                let dir = context.join(base);
                let mut names: Vec<String> = std::fs::read_dir(&dir)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| super::ignore::glob(part, n))
                    .collect();
                names.sort();
                next.extend(names.into_iter().map(|n| join(base, &n)));
            } else {
                next.push(join(base, part));
            }
        }
        found = next;
    }
    found.retain(|p| p.is_empty() || !ignore.excluded(p));
    found.retain(|p| context.join(p).symlink_metadata().is_ok());
    if found.is_empty() {
        return Err(format!(
            "{src}: not found in the build context (or excluded by .dockerignore)"
        ));
    }
    Ok(found)
}

fn join(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}/{name}")
    }
}

/// `--chown=USER[:GROUP]` with names looked up in the stage's files.
fn owner(spec: &str, dirs: &[PathBuf]) -> Result<(u32, u32), String> {
    let mut top: Vec<PathBuf> = dirs.to_vec();
    top.reverse();
    let read = |f: &str| {
        crate::container::build::find_in_layers(&top, Path::new(f))
            .and_then(|p| std::fs::read_to_string(p).ok())
    };
    let user = crate::container::build::parse_user(
        spec,
        read("etc/passwd").as_deref(),
        read("etc/group").as_deref(),
    )
    .map_err(|e| format!("--chown={spec}: {e}"))?;
    Ok((user.uid, user.gid))
}

fn expand(word: &str, vars: &BTreeMap<String, String>, esc: char) -> String {
    dockerfile::shell::expand_word(
        word,
        &|n: &str| vars.get(n).cloned(),
        esc,
        &mut Default::default(),
    )
    .unwrap_or_else(|_| word.to_string())
}

fn from_name(i: &Instruction) -> Option<&str> {
    match &i.command {
        Command::From(f) => f.name.as_deref(),
        _ => None,
    }
}

/// The platform ARGs every build defines.
fn predefined() -> BTreeMap<String, String> {
    let arch = crate::image::oci::host_arch();
    let mut m = BTreeMap::new();
    for (prefix, _) in [("BUILD", ()), ("TARGET", ())] {
        m.insert(format!("{prefix}PLATFORM"), format!("linux/{arch}"));
        m.insert(format!("{prefix}OS"), "linux".into());
        m.insert(format!("{prefix}ARCH"), arch.into());
        m.insert(format!("{prefix}VARIANT"), String::new());
    }
    m
}
