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

mod base_step;
mod cache_steps;
mod copy_step;
mod run_step;
pub use copy_step::match_sources;

/// What to build.
pub struct BuildRequest {
    pub context: PathBuf,
    pub dockerfile: String,
    pub dockerfile_name: String,
    /// The Dockerfile on disk, if it is a file: its `NAME.dockerignore`
    /// takes precedence over the context's `.dockerignore`.
    pub dockerfile_path: Option<PathBuf>,
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub network: RunNetwork,
    /// Plain lines, the live view, or nothing (`-q`).
    pub progress: super::progress::Mode,
    pub no_cache: bool,
    /// `--secret id=ID,src=PATH`.
    pub secrets: BTreeMap<String, PathBuf>,
    /// SOURCE_DATE_EPOCH: creation time and clamp for file times.
    pub epoch: Option<i64>,
    /// `--pull`: pull every base image even when the store has it.
    pub pull: bool,
    /// How to reach registries for base images; `None` never pulls.
    pub registry: Option<crate::image::registry_io::Access>,
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
    /// The live view, when `progress` is `Tty`.
    live: Option<super::live::Live>,
    step: usize,
    work: PathBuf,
    ignore: Ignore,
    cache: cache::CacheIndex,
    /// Base images pulled in this build (each is pulled once).
    pulled: std::collections::BTreeSet<String>,
    /// `ADD URL` downloads, fetched once for the key and the copy.
    fetched: BTreeMap<String, super::fetch::Fetched>,
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
    let ignore =
        super::ignore::read(&req.context, req.dockerfile_path.as_deref()).unwrap_or_default();
    let mut b = Builder {
        instance,
        req,
        out,
        live: (req.progress == super::progress::Mode::Tty).then(Default::default),
        step: 0,
        work: work.clone(),
        ignore,
        cache: cache::load(&instance.root),
        pulled: Default::default(),
        fetched: BTreeMap::new(),
    };
    let result = b.all(&df);
    if let Some(live) = &b.live {
        live.finish(result.is_ok());
    }
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// Removes step dirs and step containers of builds whose process is gone.
fn sweep(instance: &Instance, build_root: &Path) {
    // Entries are `<pid>` (step work) or `<pid>-context` (a stdin context).
    let alive = |name: &str| {
        let pid = name.split('-').next().unwrap_or(name);
        pid.parse::<i32>()
            .is_ok_and(|p| Path::new(&format!("/proc/{p}")).exists())
    };
    if let Ok(rd) = std::fs::read_dir(build_root) {
        for e in rd.flatten() {
            if !alive(&e.file_name().to_string_lossy()) {
                run_mounts::unmount_under(&e.path());
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
        let _ = cache::insert(&self.instance.root, &image_key, &record.id);
        self.cache.steps.insert(image_key, record.id.clone());
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
        // The base's ONBUILD triggers run first, as if written after FROM.
        let triggers = onbuild_triggers(&mut state, &df.name, insts[0].line)
            .map_err(|m| fail(&insts[0], m))?;
        let body: Vec<&Instruction> = std::iter::once(&insts[0])
            .chain(triggers.iter())
            .chain(insts[1..].iter())
            .collect();
        let total = body.len();
        let stage = (n, from.name.as_deref());
        let label = |k| super::progress::step_label(stage, count, (k, total));
        self.progress(&format!("{} FROM {image}", label(1)));
        let scope = Scope {
            build_args: &self.req.build_args,
            global_args: global,
            escape: esc,
        };
        for (k, &i) in body.iter().enumerate().skip(1) {
            let started = Instant::now();
            let changed_fs = !stage::apply(&mut state, i, &scope).map_err(|m| fail(i, m))?;
            if changed_fs {
                self.progress(&format!("{} {} {}", label(k + 1), i.command.name(), i.text));
                let inputs = self
                    .step_inputs(&state, i, done, esc)
                    .map_err(|m| fail(i, m))?;
                state.key = self.key(&state, i, &inputs);
                if self.cached(&mut state) {
                    self.step_cached();
                } else {
                    self.filesystem_step(&mut state, i, done, esc)
                        .map_err(|m| fail(i, m))?;
                    self.remember(&state);
                    self.step_done(started.elapsed().as_secs_f64());
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

    fn created(&self) -> String {
        match self.req.epoch {
            Some(e) => crate::util::time::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(e.max(0) as u64),
            ),
            None => crate::util::time::format_rfc3339_seconds(std::time::SystemTime::now()),
        }
    }

    /// A step starts: `#N TEXT`, or a new row of the live view.
    fn progress(&mut self, text: &str) {
        self.step += 1;
        match &self.live {
            Some(live) => live.start(text),
            None => self.line(&format!("#{} {text}", self.step)),
        }
    }

    fn step_cached(&mut self) {
        match &self.live {
            Some(live) => live.cached(),
            None => self.line(&format!("#{} CACHED", self.step)),
        }
    }

    fn step_done(&mut self, secs: f64) {
        match &self.live {
            Some(live) => live.done(),
            None => self.line(&format!("#{} DONE {secs:.1}s", self.step)),
        }
    }

    /// A note about the running step (a pull, a download).
    fn note(&mut self, text: &str) {
        match &self.live {
            Some(live) => live.note(text),
            None => self.line(text),
        }
    }

    fn line(&mut self, text: &str) {
        if self.req.progress != super::progress::Mode::Quiet {
            let _ = writeln!(self.out, "{text}");
        }
    }

    /// Where a RUN step's output goes besides its log.
    fn echo(&self) -> crate::runtime::echo::Echo {
        use crate::runtime::echo::Echo;
        match (&self.live, self.req.progress) {
            (Some(live), _) => Echo::lines(live.sink()),
            (None, super::progress::Mode::Quiet) => Echo::Off,
            (None, _) => Echo::step(&format!("#{}", self.step)),
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
            Command::Run(r) => self.run(s, r, done)?,
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
        // The tar is written and stored with the step's clock still moving.
        let tick = super::live::Live::ticker(self.live.as_ref());
        let file = crate::util::ticked::Ticked::new(file, &tick);
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
        let (digest, rootfs) = store
            .add_layer_file(&tar, &tick)
            .map_err(|e| e.to_string())?;
        let _ = std::fs::remove_dir_all(&dir);
        s.image.rootfs.diff_ids.push(digest.clone());
        s.layers.push(digest);
        s.dirs.push(rootfs);
        Ok(())
    }
}

/// Takes the base image's ONBUILD triggers off the config, parsed.
fn onbuild_triggers(
    s: &mut StageState,
    file: &str,
    line: usize,
) -> Result<Vec<Instruction>, String> {
    let Some(triggers) = s.image.config.on_build.take() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for t in triggers {
        let df = dockerfile::parse(&format!("FROM scratch\n{t}\n"), file)
            .map_err(|e| format!("base image ONBUILD {t:?}: {}", e.kind))?;
        let mut i = df
            .instructions
            .into_iter()
            .nth(1)
            .ok_or_else(|| format!("base image ONBUILD {t:?} is empty"))?;
        (i.line, i.end_line) = (line, line);
        out.push(i);
    }
    Ok(out)
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
