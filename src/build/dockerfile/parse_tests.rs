use std::time::Duration;

use super::*;

fn p(text: &str) -> Dockerfile {
    parse(text, "Dockerfile").unwrap()
}

fn err(text: &str) -> ParseError {
    parse(text, "Dockerfile").unwrap_err()
}

fn cmd(df: &Dockerfile, n: usize) -> &Command {
    &df.instructions[n].command
}

#[test]
fn directives_at_the_top_only() {
    let df = p("# syntax=docker/dockerfile:1.4\n# escape=`\n# check=skip=A,B;error=true\nFROM x\n");
    assert_eq!(
        df.directives.syntax.as_deref(),
        Some("docker/dockerfile:1.4")
    );
    assert_eq!(df.directives.escape, '`');
    assert_eq!(df.directives.check_skip, vec!["A", "B"]);
    assert!(df.directives.check_error);
    let late = p("FROM x\n# escape=`\n");
    assert_eq!(late.directives.escape, '\\');
    let after_comment = p("# hello\n# escape=`\nFROM x\n");
    assert_eq!(after_comment.directives.escape, '\\');
}

#[test]
fn bad_directives_name_the_line() {
    assert_eq!(err("# escape=x\nFROM a").line, 1);
    let e = err("# escape=`\n# escape=\\\nFROM a");
    assert_eq!(
        (e.line, e.kind),
        (2, ErrorKind::DuplicateDirective("escape".into()))
    );
    assert!(matches!(
        err("# check=foo\nFROM a").kind,
        ErrorKind::BadCheckDirective(_)
    ));
}

#[test]
fn continuations_comments_and_line_numbers() {
    let df = p("FROM a\n\nRUN echo one \\\n# inner comment\n    two \\\n\n    three\nCMD x\n");
    let i = &df.instructions[1];
    assert_eq!((i.line, i.end_line), (3, 7));
    assert_eq!(
        cmd(&df, 1),
        &Command::Run(Run {
            command: CommandLine::Shell("echo one     two     three".into()),
            mounts: vec![],
            network: None,
            security_insecure: false,
            heredocs: vec![],
        })
    );
    assert_eq!(df.empty_continuations, vec![6]);
    assert_eq!(df.instructions[2].line, 8);
}

#[test]
fn escape_backtick_continues_and_keeps_backslashes() {
    let df = p("# escape=`\nFROM a\nCOPY . C:\\app\\\nRUN a `\n  b\n");
    let Command::Copy(c) = cmd(&df, 1) else {
        panic!()
    };
    assert_eq!(c.dest, "C:\\app\\");
    assert_eq!(
        cmd(&df, 2),
        &Command::Run(Run {
            command: CommandLine::Shell("a   b".into()),
            mounts: vec![],
            network: None,
            security_insecure: false,
            heredocs: vec![],
        })
    );
}

#[test]
fn json_and_shell_forms() {
    let df = p("FROM a\nCMD [\"a\", \"b c\"]\nENTRYPOINT echo hi\nCMD [not json\nSHELL [\"/bin/bash\", \"-c\"]\n");
    assert_eq!(
        cmd(&df, 1),
        &Command::Cmd(CommandLine::Exec(vec!["a".into(), "b c".into()]))
    );
    assert_eq!(
        cmd(&df, 2),
        &Command::Entrypoint(CommandLine::Shell("echo hi".into()))
    );
    assert_eq!(
        cmd(&df, 3),
        &Command::Cmd(CommandLine::Shell("[not json".into()))
    );
    assert_eq!(
        cmd(&df, 4),
        &Command::Shell(vec!["/bin/bash".into(), "-c".into()])
    );
    assert_eq!(
        err("FROM a\nSHELL /bin/sh -c\n").kind,
        ErrorKind::JsonRequired("SHELL")
    );
}

#[test]
fn heredocs_in_run_and_copy() {
    let text = "FROM a\nRUN <<EOF\necho $HOME\nEOF\nCOPY <<-\"X\" <<Y /dst/\n\tliteral $A\n\tX\nexpanded $A\nY\nRUN <<A cat >/a && <<'B' cat >/b\n1\nA\n2\nB\nCMD done\n";
    let df = p(text);
    let Command::Run(r) = cmd(&df, 1) else {
        panic!()
    };
    assert_eq!(r.command, CommandLine::Shell("<<EOF".into()));
    assert_eq!(
        r.heredocs,
        vec![Heredoc {
            name: "EOF".into(),
            content: "echo $HOME\n".into(),
            expand: true,
            chomp: false
        }]
    );
    let Command::Copy(c) = cmd(&df, 2) else {
        panic!()
    };
    assert!(c.sources.is_empty());
    assert_eq!(c.dest, "/dst/");
    assert_eq!(
        c.heredocs[0],
        Heredoc {
            name: "X".into(),
            content: "literal $A\n".into(),
            expand: false,
            chomp: true
        }
    );
    assert_eq!(c.heredocs[1].content, "expanded $A\n");
    let Command::Run(r2) = cmd(&df, 3) else {
        panic!()
    };
    assert_eq!(r2.heredocs.len(), 2);
    assert_eq!(
        (r2.heredocs[0].content.as_str(), r2.heredocs[1].expand),
        ("1\n", false)
    );
    assert_eq!(
        (df.instructions[3].line, df.instructions[3].end_line),
        (10, 14)
    );
    assert_eq!(df.instructions[4].line, 15);
}

#[test]
fn unterminated_heredoc_is_an_error() {
    let e = err("FROM a\nRUN <<EOF\necho\n");
    assert_eq!(
        (e.line, e.kind),
        (2, ErrorKind::UnterminatedHeredoc("EOF".into()))
    );
}

#[test]
fn from_forms_and_stage_names() {
    let df = p("ARG V=1\nFROM --platform=$BUILDPLATFORM img:$V AS Build\nfrom scratch as out\n");
    assert_eq!(
        cmd(&df, 1),
        &Command::From(From {
            image: "img:$V".into(),
            platform: Some("$BUILDPLATFORM".into()),
            name: Some("Build".into()),
            as_keyword: Some("AS".into()),
        })
    );
    assert!(matches!(err("FROM a b").kind, ErrorKind::Arguments { .. }));
    assert!(matches!(
        err("FROM a AS 1x").kind,
        ErrorKind::Invalid { .. }
    ));
    assert!(matches!(
        err("FROM --foo=1 a").kind,
        ErrorKind::UnknownFlag { .. }
    ));
}

#[test]
fn only_arg_precedes_from() {
    assert_eq!(
        err("ARG X\nRUN true\nFROM a").kind,
        ErrorKind::NoStage("RUN")
    );
    assert_eq!(err("# just a comment\n").kind, ErrorKind::NoFrom);
}

#[test]
fn unknown_instruction_names_file_and_line() {
    let e = err("FROM a\n\nFOO bar\n");
    assert_eq!(e.to_string(), "Dockerfile:3: unknown instruction: FOO");
}

#[test]
fn run_flags_and_mounts() {
    let df = p("FROM a\nRUN --mount=type=cache,target=/c,id=x,sharing=locked,uid=1,gid=2,mode=0700 --mount=type=bind,from=b,source=/s,target=/t,rw --mount=type=secret,id=tok,env=TOKEN,required --mount=type=tmpfs,target=/tmp,size=64m --network=none --security=sandbox make\n");
    let Command::Run(r) = cmd(&df, 1) else {
        panic!()
    };
    assert_eq!(r.network, Some(RunNetwork::None));
    let [cache, bind, secret, tmpfs] = r.mounts.as_slice() else {
        panic!()
    };
    assert_eq!(
        (cache.kind, cache.sharing, cache.mode, cache.uid, cache.gid),
        (
            MountType::Cache,
            Sharing::Locked,
            Some(0o700),
            Some(1),
            Some(2)
        )
    );
    assert_eq!(
        (bind.from.as_deref(), bind.source.as_deref(), bind.readonly),
        (Some("b"), Some("/s"), false)
    );
    assert_eq!(
        (secret.id.as_deref(), secret.env.as_deref(), secret.required),
        (Some("tok"), Some("TOKEN"), true)
    );
    assert_eq!(tmpfs.size, Some(64 << 20));
    assert_eq!(r.command, CommandLine::Shell("make".into()));
    let ro = p("FROM a\nRUN --mount=target=/x true\n");
    let Command::Run(r) = cmd(&ro, 1) else {
        panic!()
    };
    assert!(r.mounts[0].readonly && r.mounts[0].kind == MountType::Bind);
}

#[test]
fn bad_run_flags() {
    assert!(matches!(
        err("FROM a\nRUN --mount=type=nfs,target=/x true").kind,
        ErrorKind::BadMount { .. }
    ));
    assert!(matches!(
        err("FROM a\nRUN --mount=type=cache true").kind,
        ErrorKind::BadMount { .. }
    ));
    assert!(matches!(
        err("FROM a\nRUN --mount=type=cache,target=/x,color=red true").kind,
        ErrorKind::BadMount { .. }
    ));
    assert!(matches!(
        err("FROM a\nRUN --network=bridge true").kind,
        ErrorKind::BadFlag { .. }
    ));
    assert!(matches!(
        err("FROM a\nRUN --chown=1 true").kind,
        ErrorKind::UnknownFlag { .. }
    ));
    assert!(matches!(
        err("FROM a\nRUN").kind,
        ErrorKind::Arguments { .. }
    ));
}

#[test]
fn copy_and_add_flags() {
    let df = p("FROM a\nCOPY --from=build --chown=1:2 --chmod=755 --link --exclude=*.md --exclude=x a b /d/\nADD --checksum=sha256:abc --keep-git-dir=true https://x/y /z\nCOPY [\"a b\", \"/c d/\"]\n");
    let Command::Copy(c) = cmd(&df, 1) else {
        panic!()
    };
    assert_eq!(
        (
            c.from.as_deref(),
            c.chown.as_deref(),
            c.chmod.as_deref(),
            c.link
        ),
        (Some("build"), Some("1:2"), Some("755"), true)
    );
    assert_eq!(c.excludes, vec!["*.md", "x"]);
    assert_eq!(
        (c.sources.clone(), c.dest.clone()),
        (vec!["a".to_string(), "b".into()], "/d/".to_string())
    );
    let Command::Add(a) = cmd(&df, 2) else {
        panic!()
    };
    assert_eq!(
        (a.checksum.as_deref(), a.keep_git_dir),
        (Some("sha256:abc"), true)
    );
    let Command::Copy(j) = cmd(&df, 3) else {
        panic!()
    };
    assert_eq!(
        (j.sources.clone(), j.dest.clone()),
        (vec!["a b".to_string()], "/c d/".to_string())
    );
    assert!(matches!(
        err("FROM a\nCOPY onlyone").kind,
        ErrorKind::Arguments { .. }
    ));
    assert!(matches!(
        err("FROM a\nADD --from=x a b").kind,
        ErrorKind::UnknownFlag { .. }
    ));
}

#[test]
fn env_label_arg_forms() {
    let df = p("FROM a\nENV A=1 B=\"two words\" C=a\\ b\nENV LEGACY some value\nLABEL \"com.x\"=y z=\"\"\nARG X Y=2\n");
    let Command::Env(e) = cmd(&df, 1) else {
        panic!()
    };
    assert_eq!(
        e.iter()
            .map(|kv| (kv.key.as_str(), kv.value.as_str()))
            .collect::<Vec<_>>(),
        vec![("A", "1"), ("B", "\"two words\""), ("C", "a\\ b")]
    );
    let Command::Env(l) = cmd(&df, 2) else {
        panic!()
    };
    assert_eq!(
        (l[0].key.as_str(), l[0].value.as_str(), l[0].legacy),
        ("LEGACY", "some value", true)
    );
    let Command::Label(lb) = cmd(&df, 3) else {
        panic!()
    };
    assert_eq!(lb[0].key, "\"com.x\"");
    let Command::Arg(a) = cmd(&df, 4) else {
        panic!()
    };
    assert_eq!(
        a,
        &vec![
            ArgDecl {
                name: "X".into(),
                default: None
            },
            ArgDecl {
                name: "Y".into(),
                default: Some("2".into())
            }
        ]
    );
    assert!(matches!(
        err("FROM a\nENV ONLY").kind,
        ErrorKind::Arguments { .. }
    ));
    assert!(matches!(
        err("FROM a\nENV A=1 B").kind,
        ErrorKind::Invalid { .. }
    ));
}

#[test]
fn healthcheck_forms() {
    let df = p("FROM a\nHEALTHCHECK --interval=1m30s --timeout=500ms --start-period=5s --start-interval=1s --retries=4 CMD [\"curl\", \"-f\", \"x\"]\nHEALTHCHECK NONE\n");
    let Command::Healthcheck(Healthcheck::Check { test, options }) = cmd(&df, 1) else {
        panic!()
    };
    assert_eq!(
        test,
        &CommandLine::Exec(vec!["curl".into(), "-f".into(), "x".into()])
    );
    assert_eq!(options.interval, Some(Duration::from_secs(90)));
    assert_eq!(options.timeout, Some(Duration::from_millis(500)));
    assert_eq!(options.retries, Some(4));
    assert_eq!(cmd(&df, 2), &Command::Healthcheck(Healthcheck::None));
    assert!(matches!(
        err("FROM a\nHEALTHCHECK --interval=soon CMD x").kind,
        ErrorKind::BadFlag { .. }
    ));
    assert!(matches!(
        err("FROM a\nHEALTHCHECK echo").kind,
        ErrorKind::Arguments { .. }
    ));
}

#[test]
fn onbuild_triggers() {
    let df = p("FROM a\nONBUILD RUN make\n");
    let Command::Onbuild(t) = cmd(&df, 1) else {
        panic!()
    };
    assert_eq!(t.command.name(), "RUN");
    assert_eq!(
        err("FROM a\nONBUILD ONBUILD RUN x").kind,
        ErrorKind::BadTrigger("ONBUILD".into())
    );
    assert_eq!(
        err("FROM a\nONBUILD FROM x").kind,
        ErrorKind::BadTrigger("FROM".into())
    );
}

#[test]
fn single_argument_instructions() {
    let df = p("FROM a\nWORKDIR /my dir\nUSER app:app\nSTOPSIGNAL SIGQUIT\nEXPOSE 80 443/udp\nVOLUME /a /b\nVOLUME [\"/c\"]\nMAINTAINER me\n");
    assert_eq!(cmd(&df, 1), &Command::Workdir("/my dir".into()));
    assert_eq!(
        cmd(&df, 5),
        &Command::Volume(vec!["/a".into(), "/b".into()])
    );
    assert_eq!(cmd(&df, 6), &Command::Volume(vec!["/c".into()]));
    assert!(matches!(
        err("FROM a\nUSER a b").kind,
        ErrorKind::Arguments { .. }
    ));
    assert!(matches!(
        err("FROM a\nEXPOSE").kind,
        ErrorKind::Arguments { .. }
    ));
}

#[test]
fn crlf_and_bom_are_accepted() {
    let df = p("\u{feff}FROM a\r\nRUN echo \\\r\n  hi\r\n");
    assert_eq!(df.instructions.len(), 2);
}

#[test]
fn every_corpus_file_parses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/build/testdata/corpus");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        parse(&text, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
        n += 1;
    }
    assert!(n >= 6);
}
