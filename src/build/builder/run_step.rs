//! RUN steps: a container of rcorch's runtime on the stage's layers.

use super::*;

/// Where a `#!` heredoc script is bound for its RUN (never in a layer).
const SCRIPT: &str = "/.rcorch-heredoc-script";

impl Builder<'_> {
    /// Runs a RUN step; returns the container's upper dir.
    pub(super) fn run(
        &mut self,
        s: &StageState,
        r: &Run,
        done: &[(Option<String>, StageState)],
    ) -> Result<PathBuf, String> {
        let c = &s.image.config;
        let argv = match (&r.command, r.heredocs.as_slice()) {
            (CommandLine::Shell(cmd), [h])
                if cmd.trim() == format!("<<{}", h.name)
                    || cmd.trim() == format!("<<-{}", h.name) =>
            {
                if h.content.starts_with("#!") {
                    // A script with its own interpreter runs as a file, as in BuildKit.
                    vec![SCRIPT.to_string()]
                } else {
                    let mut v = config::shell_of(c);
                    v.push(h.content.clone());
                    v
                }
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
        let from_dirs = |from: &str| self.source_stage(from, done);
        let mctx = run_mounts::MountCtx {
            root: &self.instance.root,
            context: &self.req.context,
            secrets: &self.req.secrets,
            step_dir: &step_dir,
            workdir: &workdir,
            from_dirs: &from_dirs,
        };
        let mut setup = run_mounts::prepare(&r.mounts, &mctx)?;
        if argv == [SCRIPT] {
            let script = step_dir.join("script");
            std::fs::write(&script, &r.heredocs[0].content).map_err(|e| e.to_string())?;
            std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .map_err(|e| e.to_string())?;
            setup
                .volumes
                .push(format!("{}:{SCRIPT}:ro", script.display()));
            setup.targets.push(SCRIPT.to_string());
        }
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
        let code =
            crate::runtime::run::run_step(self.instance, &request, image, id.clone(), self.echo());
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
}
