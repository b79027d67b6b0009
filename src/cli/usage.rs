//! Parsing the command line as Docker's flag parser does: a flag that
//! takes a value takes the next word, even one starting with '-'
//! (`--memory -1`, `--stop-timeout -5`, `--name -x`, which then get the
//! flag's own error), and a command line that does not parse is one line
//! naming the flag and the verb's help, without clap's `-- -1` tips.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, Command, CommandFactory, FromArgMatches};

use super::Cli;

/// Docker `run`/`create` flags rcorch does not implement: named as such
/// rather than as a typo of a flag that happens to look alike.
const DOCKER_ONLY: &[&str] = &[
    "--attach",
    "--blkio-weight-device",
    "--cgroupns",
    "--cpu-period",
    "--cpu-quota",
    "--cpu-rt-period",
    "--cpu-rt-runtime",
    "--device-cgroup-rule",
    "--device-read-bps",
    "--device-read-iops",
    "--device-write-bps",
    "--device-write-iops",
    "--disable-content-trust",
    "--dns-option",
    "--dns-search",
    "--domainname",
    "--expose",
    "--gpus",
    "--ip6",
    "--ipc",
    "--isolation",
    "--kernel-memory",
    "--label-file",
    "--link",
    "--link-local-ip",
    "--mac-address",
    "--memory-swappiness",
    "--oom-kill-disable",
    "--pid",
    "--runtime",
    "--storage-opt",
    "--uts",
    "--volume-driver",
    "--volumes-from",
];

/// The command line, parsed.
pub(super) fn parse_from<I, T>(argv: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut matches = docker_values(Cli::command()).try_get_matches_from(argv)?;
    Cli::from_arg_matches_mut(&mut matches)
}

/// Every option of `cmd` and its subcommands that takes exactly one value
/// accepts one starting with '-'. Flags without a value, optional values
/// and positionals keep clap's rule, so an unknown flag is still one.
fn docker_values(cmd: Command) -> Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    let mut cmd = cmd.mut_args(|a| {
        if takes_one_value(&a) {
            a.allow_hyphen_values(true)
        } else {
            a
        }
    });
    for name in names {
        cmd = cmd.mut_subcommand(name, docker_values);
    }
    cmd
}

fn takes_one_value(a: &Arg) -> bool {
    let one = a
        .get_num_args()
        .is_none_or(|r| r.min_values() == 1 && r.max_values() == 1);
    !a.is_positional() && one && matches!(a.get_action(), ArgAction::Set | ArgAction::Append)
}

/// One line for a command line that does not parse: what is wrong, and
/// where the verb's flags are listed.
pub(super) fn one_line(e: &clap::Error) -> String {
    let verb = verb_of(e);
    let help = format!(
        "see 'rcorch {verb}{}--help'",
        if verb.is_empty() { "" } else { " " }
    );
    // main() prints "rcorch: " first; a verb's name goes after it.
    let verb = if verb.is_empty() {
        String::new()
    } else {
        format!("{verb}: ")
    };
    if e.kind() == ErrorKind::UnknownArgument {
        if let Some(ContextValue::String(flag)) = e.get(ContextKind::InvalidArg) {
            let flag = flag.split('=').next().unwrap_or(flag);
            if DOCKER_ONLY.contains(&flag) {
                return format!("{verb}docker's {flag} flag is not implemented by rcorch ({help})");
            }
            let hint = match e.get(ContextKind::SuggestedArg) {
                Some(ContextValue::String(s)) => format!("; did you mean {s}?"),
                _ => String::new(),
            };
            return format!("{verb}unknown flag {flag}{hint} ({help})");
        }
    }
    let rendered = e.render().to_string();
    let what: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty())
        .filter(|l| !l.starts_with("tip:"))
        .collect();
    let what = what.join(" ");
    let what = what.strip_prefix("error: ").unwrap_or(&what);
    format!("{verb}{what} ({help})")
}

/// `run` or `network create`, from the usage line clap puts in the error.
fn verb_of(e: &clap::Error) -> String {
    let Some(ContextValue::StyledStr(usage)) = e.get(ContextKind::Usage) else {
        return String::new();
    };
    let usage = usage.to_string();
    let usage = usage.trim().strip_prefix("Usage:").unwrap_or(&usage);
    usage
        .split_whitespace()
        .skip(1)
        .take_while(|w| {
            w.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !w.starts_with('-')
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(argv: &[&str]) -> String {
        match parse_from(argv) {
            Ok(cli) => panic!("{argv:?} parsed: {cli:?}"),
            Err(e) => one_line(&e),
        }
    }

    #[test]
    fn a_value_may_start_with_a_hyphen_as_in_docker() {
        let cli = parse_from([
            "rcorch",
            "run",
            "--stop-timeout",
            "-5",
            "--memory",
            "-1",
            "img",
        ]);
        let err = cli.map(|_| ()).unwrap_err();
        // The number's own parser refuses -5, not clap's "unexpected argument".
        assert_eq!(err.kind(), ErrorKind::ValueValidation, "{err}");
        let line = one_line(&err);
        assert!(line.contains("'-5'") && !line.contains('\n'), "{line}");
        let cli = parse_from([
            "rcorch", "run", "--memory", "-1", "--name", "-x", "img", "ls", "-l",
        ]);
        let cli = cli.unwrap();
        let super::super::Command::Run(args) = cli.command else {
            panic!("not run")
        };
        assert_eq!(args.name.as_deref(), Some("-x"));
        assert_eq!(args.command, ["ls", "-l"]);
    }

    #[test]
    fn an_unknown_flag_is_still_refused_on_verbs_with_positionals() {
        let line = refused(&["rcorch", "rm", "--bogus", "c1"]);
        assert_eq!(line, "rm: unknown flag --bogus (see 'rcorch rm --help')");
    }

    #[test]
    fn errors_are_one_line_without_clap_tips() {
        let line = refused(&["rcorch", "run", "--ipc", "host", "img"]);
        assert_eq!(
            line,
            "run: docker's --ipc flag is not implemented by rcorch (see 'rcorch run --help')"
        );
        let line = refused(&["rcorch", "run", "--detatch", "img"]);
        assert!(line.contains("did you mean --detach?"), "{line}");
        assert!(!line.contains("'--'"), "{line}");
        let line = refused(&["rcorch", "run", "-d"]);
        assert_eq!(
            line,
            "run: the following required arguments were not provided: <IMAGE> (see 'rcorch run --help')"
        );
        let line = refused(&["rcorch", "network", "create"]);
        assert!(line.starts_with("network create: "), "{line}");
        assert!(
            line.ends_with("(see 'rcorch network create --help')"),
            "{line}"
        );
        assert!(!line.contains('\n'), "{line}");
        let line = refused(&["rcorch", "nosuchverb"]);
        assert!(!line.starts_with("rcorch"), "main() prefixes it: {line}");
        assert!(line.contains("nosuchverb"), "{line}");
    }
}
