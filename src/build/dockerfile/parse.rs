//! From logical lines to typed instructions, checking arity and flags.

use super::flags::{self, parse_duration, parse_mount, take_flags, Allowed, Flag};
use super::lines::{self, LogicalLine};
use super::shell::split_raw;
use super::{
    ArgDecl, Command, CommandLine, Copy, Dockerfile, ErrorKind, From, HealthOptions, Healthcheck,
    Instruction, KeyValue, ParseError, Run, RunNetwork,
};

/// Parses a whole Dockerfile; `name` is how errors name the file.
pub fn parse(text: &str, name: &str) -> Result<Dockerfile, ParseError> {
    let err = |line, kind| ParseError {
        file: name.to_string(),
        line,
        kind,
    };
    let (directives, logical) = lines::split(text).map_err(|(line, kind)| err(line, kind))?;
    let mut instructions = Vec::new();
    let mut empty_continuations = Vec::new();
    let mut seen_from = false;
    for line in &logical {
        empty_continuations.extend(&line.empty_continuations);
        let instruction =
            instruction(line, directives.escape).map_err(|kind| err(line.start, kind))?;
        match &instruction.command {
            Command::From(_) => seen_from = true,
            Command::Arg(_) => {}
            other if !seen_from => return Err(err(line.start, ErrorKind::NoStage(other.name()))),
            _ => {}
        }
        instructions.push(instruction);
    }
    if !seen_from {
        return Err(err(
            logical.last().map_or(1, |l| l.start),
            ErrorKind::NoFrom,
        ));
    }
    Ok(Dockerfile {
        name: name.to_string(),
        directives,
        instructions,
        empty_continuations,
    })
}

fn instruction(line: &LogicalLine, escape: char) -> Result<Instruction, ErrorKind> {
    let text = line.text.trim();
    let (keyword, rest) = match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], text[i..].trim()),
        None => (text, ""),
    };
    let command = command(keyword, rest, line, escape)?;
    Ok(Instruction {
        line: line.start,
        end_line: line.end,
        keyword: keyword.to_string(),
        text: rest.to_string(),
        command,
    })
}

fn command(keyword: &str, rest: &str, line: &LogicalLine, esc: char) -> Result<Command, ErrorKind> {
    let upper = keyword.to_ascii_uppercase();
    let (flag_list, args) = if matches!(
        upper.as_str(),
        "FROM" | "RUN" | "COPY" | "ADD" | "HEALTHCHECK"
    ) {
        take_flags(rest)
    } else {
        (Vec::new(), rest)
    };
    let no_args = |instruction| ErrorKind::Arguments {
        instruction,
        what: "at least one argument",
    };
    Ok(match upper.as_str() {
        "FROM" => Command::From(from(&flag_list, args)?),
        "RUN" => Command::Run(run(&flag_list, args, line)?),
        "COPY" => Command::Copy(copy("COPY", &flag_list, args, line, esc)?),
        "ADD" => Command::Add(copy("ADD", &flag_list, args, line, esc)?),
        "ENV" => Command::Env(key_values("ENV", args, esc)?),
        "LABEL" => Command::Label(key_values("LABEL", args, esc)?),
        "ARG" => Command::Arg(arg(args, esc)?),
        "WORKDIR" => Command::Workdir(single("WORKDIR", args)?),
        "USER" => Command::User(single("USER", args)?),
        "STOPSIGNAL" => Command::StopSignal(single("STOPSIGNAL", args)?),
        "MAINTAINER" => Command::Maintainer(nonempty("MAINTAINER", args)?),
        "EXPOSE" => Command::Expose(words_or(no_args("EXPOSE"), args, esc)?),
        "VOLUME" => Command::Volume(volume(args, esc)?),
        "CMD" => Command::Cmd(command_line(args)),
        "ENTRYPOINT" => Command::Entrypoint(command_line(args)),
        "SHELL" => match command_line(args) {
            CommandLine::Exec(v) if !v.is_empty() => Command::Shell(v),
            _ => return Err(ErrorKind::JsonRequired("SHELL")),
        },
        "HEALTHCHECK" => Command::Healthcheck(healthcheck(&flag_list, args)?),
        "ONBUILD" => Command::Onbuild(Box::new(onbuild(args, line, esc)?)),
        _ => return Err(ErrorKind::UnknownInstruction(keyword.to_string())),
    })
}

fn nonempty(instruction: &'static str, args: &str) -> Result<String, ErrorKind> {
    if args.is_empty() {
        return Err(ErrorKind::Arguments {
            instruction,
            what: "exactly one argument",
        });
    }
    Ok(args.to_string())
}

/// WORKDIR, USER, STOPSIGNAL: one argument (spaces allowed if quoted).
fn single(instruction: &'static str, args: &str) -> Result<String, ErrorKind> {
    let value = nonempty(instruction, args)?;
    if instruction != "WORKDIR" && split_raw(&value, '\\').len() > 1 {
        return Err(ErrorKind::Arguments {
            instruction,
            what: "exactly one argument",
        });
    }
    Ok(value)
}

fn words_or(e: ErrorKind, args: &str, esc: char) -> Result<Vec<String>, ErrorKind> {
    let words = split_raw(args, esc);
    if words.is_empty() {
        return Err(e);
    }
    Ok(words)
}

/// JSON array of strings, else shell form.
pub fn command_line(args: &str) -> CommandLine {
    if args.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(args) {
            return CommandLine::Exec(v);
        }
    }
    CommandLine::Shell(args.to_string())
}

fn from(flag_list: &[Flag], args: &str) -> Result<From, ErrorKind> {
    flags::check("FROM", flag_list, Allowed(&[("platform", true)]))?;
    let words: Vec<&str> = args.split_whitespace().collect();
    let (name, as_keyword) = match words.as_slice() {
        [_] => (None, None),
        [_, kw, name] if kw.eq_ignore_ascii_case("as") => {
            (Some(name.to_string()), Some(kw.to_string()))
        }
        _ => {
            return Err(ErrorKind::Arguments {
                instruction: "FROM",
                what: "either one argument, or three: FROM <image> AS <name>",
            })
        }
    };
    if let Some(n) = &name {
        let ok = n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !ok {
            return Err(ErrorKind::Invalid {
                instruction: "FROM",
                message: format!("invalid stage name {n:?}: letters, digits, '-', '_', '.', starting with a letter"),
            });
        }
    }
    Ok(From {
        image: words[0].to_string(),
        platform: flags::value(flag_list, "platform"),
        name,
        as_keyword,
    })
}

fn run(flag_list: &[Flag], args: &str, line: &LogicalLine) -> Result<Run, ErrorKind> {
    flags::check(
        "RUN",
        flag_list,
        Allowed(&[("mount", true), ("network", true), ("security", true)]),
    )?;
    let mut mounts = Vec::new();
    for flag in flag_list.iter().filter(|f| f.name == "mount") {
        mounts.push(parse_mount(flag.value.as_deref().unwrap_or(""))?);
    }
    let network = match flags::value(flag_list, "network").as_deref() {
        None => None,
        Some("default") => Some(RunNetwork::Default),
        Some("none") => Some(RunNetwork::None),
        Some("host") => Some(RunNetwork::Host),
        Some(other) => {
            return Err(ErrorKind::BadFlag {
                instruction: "RUN",
                flag: "network".into(),
                message: format!("{other:?}: use default, none or host"),
            })
        }
    };
    let security_insecure = match flags::value(flag_list, "security").as_deref() {
        None | Some("sandbox") => false,
        Some("insecure") => true,
        Some(other) => {
            return Err(ErrorKind::BadFlag {
                instruction: "RUN",
                flag: "security".into(),
                message: format!("{other:?}: use sandbox or insecure"),
            })
        }
    };
    if args.is_empty() {
        return Err(ErrorKind::Arguments {
            instruction: "RUN",
            what: "a command",
        });
    }
    let command = if line.heredocs.is_empty() {
        command_line(args)
    } else {
        CommandLine::Shell(args.to_string())
    };
    Ok(Run {
        command,
        mounts,
        network,
        security_insecure,
        heredocs: line.heredocs.clone(),
    })
}

fn copy(
    instruction: &'static str,
    flag_list: &[Flag],
    args: &str,
    line: &LogicalLine,
    esc: char,
) -> Result<Copy, ErrorKind> {
    let allowed: &[(&str, bool)] = if instruction == "COPY" {
        &[
            ("from", true),
            ("chown", true),
            ("chmod", true),
            ("link", false),
            ("parents", false),
            ("exclude", true),
        ]
    } else {
        &[
            ("chown", true),
            ("chmod", true),
            ("link", false),
            ("exclude", true),
            ("checksum", true),
            ("keep-git-dir", false),
            ("unpack", false),
        ]
    };
    flags::check(instruction, flag_list, Allowed(allowed))?;
    let mut words = match command_line(args) {
        CommandLine::Exec(v) => v,
        CommandLine::Shell(s) => split_raw(&s, esc),
    };
    // Heredoc markers are sources whose content follows the instruction.
    words.retain(|w| lines::heredoc_marker(w).is_none());
    let Some(dest) = words.pop() else {
        return Err(ErrorKind::Arguments {
            instruction,
            what: "at least two arguments: source(s) and destination",
        });
    };
    if words.is_empty() && line.heredocs.is_empty() {
        return Err(ErrorKind::Arguments {
            instruction,
            what: "at least two arguments: source(s) and destination",
        });
    }
    Ok(Copy {
        sources: words,
        dest,
        heredocs: line.heredocs.clone(),
        from: flags::value(flag_list, "from"),
        chown: flags::value(flag_list, "chown"),
        chmod: flags::value(flag_list, "chmod"),
        link: flags::boolean(instruction, flag_list, "link")?,
        parents: flags::boolean(instruction, flag_list, "parents")?,
        excludes: flag_list
            .iter()
            .filter(|f| f.name == "exclude")
            .filter_map(|f| f.value.clone())
            .collect(),
        checksum: flags::value(flag_list, "checksum"),
        keep_git_dir: flags::boolean(instruction, flag_list, "keep-git-dir")?,
    })
}

/// ENV and LABEL: `K=V K2="v 2"`, or the legacy `K value with spaces`.
fn key_values(
    instruction: &'static str,
    args: &str,
    esc: char,
) -> Result<Vec<KeyValue>, ErrorKind> {
    let words = split_raw(args, esc);
    if words.is_empty() {
        return Err(ErrorKind::Arguments {
            instruction,
            what: "at least one KEY=VALUE pair",
        });
    }
    if !words[0].contains('=') {
        let value = args[args.find(char::is_whitespace).unwrap_or(args.len())..].trim();
        if value.is_empty() {
            return Err(ErrorKind::Arguments {
                instruction,
                what: "two arguments: KEY VALUE (or KEY=VALUE)",
            });
        }
        return Ok(vec![KeyValue {
            key: words[0].clone(),
            value: value.to_string(),
            legacy: true,
        }]);
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok(KeyValue {
                key: k.to_string(),
                value: v.to_string(),
                legacy: false,
            }),
            _ => Err(ErrorKind::Invalid {
                instruction,
                message: format!("{w:?} is not KEY=VALUE (a later pair may not drop the '=')"),
            }),
        })
        .collect()
}

fn arg(args: &str, esc: char) -> Result<Vec<ArgDecl>, ErrorKind> {
    let words = split_raw(args, esc);
    if words.is_empty() {
        return Err(ErrorKind::Arguments {
            instruction: "ARG",
            what: "at least one argument",
        });
    }
    Ok(words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => ArgDecl {
                name: k.to_string(),
                default: Some(v.to_string()),
            },
            None => ArgDecl {
                name: w,
                default: None,
            },
        })
        .collect())
}

fn volume(args: &str, esc: char) -> Result<Vec<String>, ErrorKind> {
    let err = ErrorKind::Arguments {
        instruction: "VOLUME",
        what: "at least one path",
    };
    match command_line(args) {
        CommandLine::Exec(v) if v.is_empty() => Err(err),
        CommandLine::Exec(v) => Ok(v),
        CommandLine::Shell(s) => words_or(err, &s, esc),
    }
}

fn healthcheck(flag_list: &[Flag], args: &str) -> Result<Healthcheck, ErrorKind> {
    let allowed = [
        ("interval", true),
        ("timeout", true),
        ("start-period", true),
        ("start-interval", true),
        ("retries", true),
    ];
    flags::check("HEALTHCHECK", flag_list, Allowed(&allowed))?;
    let (kind, rest) = match args.find(char::is_whitespace) {
        Some(i) => (&args[..i], args[i..].trim()),
        None => (args, ""),
    };
    if kind.eq_ignore_ascii_case("NONE") {
        if !rest.is_empty() || !flag_list.is_empty() {
            return Err(ErrorKind::Invalid {
                instruction: "HEALTHCHECK",
                message: "NONE takes no arguments or options".into(),
            });
        }
        return Ok(Healthcheck::None);
    }
    if !kind.eq_ignore_ascii_case("CMD") || rest.is_empty() {
        return Err(ErrorKind::Arguments {
            instruction: "HEALTHCHECK",
            what: "NONE or CMD followed by a command",
        });
    }
    let duration = |name: &str| -> Result<Option<std::time::Duration>, ErrorKind> {
        flags::value(flag_list, name)
            .map(|v| {
                parse_duration(&v).ok_or_else(|| ErrorKind::BadFlag {
                    instruction: "HEALTHCHECK",
                    flag: name.to_string(),
                    message: format!("{v:?} is not a duration like 30s or 1m30s"),
                })
            })
            .transpose()
    };
    let retries = flags::value(flag_list, "retries")
        .map(|v| {
            v.parse::<u32>().map_err(|_| ErrorKind::BadFlag {
                instruction: "HEALTHCHECK",
                flag: "retries".into(),
                message: format!("{v:?} is not a whole number"),
            })
        })
        .transpose()?;
    let options = HealthOptions {
        interval: duration("interval")?,
        timeout: duration("timeout")?,
        start_period: duration("start-period")?,
        start_interval: duration("start-interval")?,
        retries,
    };
    Ok(Healthcheck::Check {
        test: command_line(rest),
        options,
    })
}

fn onbuild(args: &str, line: &LogicalLine, esc: char) -> Result<Instruction, ErrorKind> {
    let trigger = LogicalLine {
        text: args.to_string(),
        ..line.clone()
    };
    let inner = instruction(&trigger, esc)?;
    match &inner.command {
        Command::Onbuild(_) => Err(ErrorKind::BadTrigger("ONBUILD".into())),
        Command::From(_) | Command::Maintainer(_) => {
            Err(ErrorKind::BadTrigger(inner.command.name().into()))
        }
        _ => Ok(inner),
    }
}
