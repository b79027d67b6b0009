//! A Dockerfile parser covering the reference and the BuildKit syntax real
//! files use (heredocs, `--mount`, `--link`, `--exclude`, parser directives).
//! Pure: text in, typed instructions out. Values stay as written; they are
//! expanded when a stage is evaluated, with the variables in scope there.

pub(crate) mod flags;
pub mod lines;
mod parse;
pub mod shell;

use std::time::Duration;

use thiserror::Error;

pub use lines::Directives;
pub use parse::parse;

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq)]
pub struct Dockerfile {
    pub name: String,
    pub directives: Directives,
    pub instructions: Vec<Instruction>,
    /// Lines of empty continuation lines (a warning, not an error).
    pub empty_continuations: Vec<usize>,
}

/// One instruction with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Instruction {
    pub line: usize,
    pub end_line: usize,
    /// The keyword as written (for casing checks).
    pub keyword: String,
    /// The instruction's text after the keyword, continuations joined.
    pub text: String,
    pub command: Command,
}

/// A heredoc body (`<<EOF` ... `EOF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    pub content: String,
    /// False for a quoted delimiter: the body is taken literally.
    pub expand: bool,
    /// `<<-`: leading tabs were stripped.
    pub chomp: bool,
}

/// Exec (JSON) or shell form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    Exec(Vec<String>),
    Shell(String),
}

/// `KEY=VALUE` as written (ENV, LABEL); `legacy` for `ENV KEY VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
    pub legacy: bool,
}

/// `ARG NAME[=DEFAULT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    pub image: String,
    pub platform: Option<String>,
    pub name: Option<String>,
    /// The `AS` keyword as written.
    pub as_keyword: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountType {
    Bind,
    Cache,
    Tmpfs,
    Secret,
    Ssh,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    Shared,
    Private,
    Locked,
}

/// `RUN --mount=...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub kind: MountType,
    pub target: Option<String>,
    pub source: Option<String>,
    pub from: Option<String>,
    pub readonly: bool,
    pub id: Option<String>,
    pub sharing: Sharing,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub required: bool,
    pub env: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunNetwork {
    Default,
    None,
    Host,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub command: CommandLine,
    pub mounts: Vec<Mount>,
    pub network: Option<RunNetwork>,
    pub security_insecure: bool,
    pub heredocs: Vec<Heredoc>,
}

/// COPY and ADD.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Copy {
    /// Sources as written; heredoc sources are in `heredocs` instead.
    pub sources: Vec<String>,
    pub dest: String,
    pub heredocs: Vec<Heredoc>,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub parents: bool,
    pub excludes: Vec<String>,
    /// ADD only.
    pub checksum: Option<String>,
    pub keep_git_dir: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HealthOptions {
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub start_period: Option<Duration>,
    pub start_interval: Option<Duration>,
    pub retries: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    None,
    Check {
        test: CommandLine,
        options: HealthOptions,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    From(From),
    Run(Run),
    Copy(Copy),
    Add(Copy),
    Env(Vec<KeyValue>),
    Arg(Vec<ArgDecl>),
    Label(Vec<KeyValue>),
    Workdir(String),
    User(String),
    Expose(Vec<String>),
    Volume(Vec<String>),
    Cmd(CommandLine),
    Entrypoint(CommandLine),
    Healthcheck(Healthcheck),
    StopSignal(String),
    Shell(Vec<String>),
    /// The trigger, parsed (kept for the image's `OnBuild` list as written).
    Onbuild(Box<Instruction>),
    Maintainer(String),
}

impl Command {
    /// The instruction's name in upper case.
    pub fn name(&self) -> &'static str {
        match self {
            Command::From(_) => "FROM",
            Command::Run(_) => "RUN",
            Command::Copy(_) => "COPY",
            Command::Add(_) => "ADD",
            Command::Env(_) => "ENV",
            Command::Arg(_) => "ARG",
            Command::Label(_) => "LABEL",
            Command::Workdir(_) => "WORKDIR",
            Command::User(_) => "USER",
            Command::Expose(_) => "EXPOSE",
            Command::Volume(_) => "VOLUME",
            Command::Cmd(_) => "CMD",
            Command::Entrypoint(_) => "ENTRYPOINT",
            Command::Healthcheck(_) => "HEALTHCHECK",
            Command::StopSignal(_) => "STOPSIGNAL",
            Command::Shell(_) => "SHELL",
            Command::Onbuild(_) => "ONBUILD",
            Command::Maintainer(_) => "MAINTAINER",
        }
    }
}

/// A Dockerfile that cannot be parsed, with where.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}:{line}: {kind}")]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub kind: ErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ErrorKind {
    #[error("unknown instruction: {0}")]
    UnknownInstruction(String),
    #[error("{instruction} requires {what}")]
    Arguments {
        instruction: &'static str,
        what: &'static str,
    },
    #[error("unknown flag --{flag} for {instruction}")]
    UnknownFlag {
        instruction: &'static str,
        flag: String,
    },
    #[error("flag --{flag} of {instruction}: {message}")]
    BadFlag {
        instruction: &'static str,
        flag: String,
        message: String,
    },
    #[error("invalid --mount {spec:?}: {message}")]
    BadMount { spec: String, message: String },
    #[error("unterminated heredoc <<{0}: no line {0} closes it")]
    UnterminatedHeredoc(String),
    #[error("only one {0} parser directive can be used")]
    DuplicateDirective(String),
    #[error("invalid escape character {0:?}: use \\ or `")]
    BadEscape(String),
    #[error("invalid check directive {0:?}: expected skip=RULE[,RULE] or error=true|false")]
    BadCheckDirective(String),
    #[error("{0} requires the arguments in JSON form, e.g. SHELL [\"/bin/sh\", \"-c\"]")]
    JsonRequired(&'static str),
    #[error("{0} isn't allowed as an ONBUILD trigger")]
    BadTrigger(String),
    #[error("{instruction}: {message}")]
    Invalid {
        instruction: &'static str,
        message: String,
    },
    #[error(
        "no build stage in current context: {0} must come after FROM (only ARG may precede it)"
    )]
    NoStage(&'static str),
    #[error("the file has no FROM instruction")]
    NoFrom,
}

#[cfg(test)]
mod parse_tests;
#[cfg(test)]
mod shell_tests;
