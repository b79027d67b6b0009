use super::*;
use crate::build::dockerfile::parse;

fn run(text: &str) -> Report {
    let df = parse(text, "Dockerfile").unwrap();
    check(&df, &|image: &str| match image {
        "busybox" => Some(vec!["PATH=/bin".to_string()]),
        _ => None,
    })
}

fn rules(text: &str) -> Vec<(&'static str, usize)> {
    run(text)
        .findings
        .iter()
        .map(|f| (f.rule, f.line))
        .collect()
}

#[test]
fn clean_file_has_no_findings() {
    let r = run("FROM busybox AS build\nENV A=1\nWORKDIR /app\nCMD [\"sh\"]\n");
    assert_eq!(r.findings, vec![]);
    assert_eq!(r.to_string(), "Check complete, no warnings found.");
}

#[test]
fn stage_name_and_as_casing() {
    assert_eq!(
        rules("FROM busybox AS Build\n"),
        vec![("StageNameCasing", 1)]
    );
    assert_eq!(rules("FROM busybox as build\n"), vec![("FromAsCasing", 1)]);
    assert_eq!(rules("from busybox as build\n"), vec![]);
}

#[test]
fn duplicate_and_reserved_stage_names() {
    assert_eq!(
        rules("FROM busybox AS a\nFROM busybox AS A\nFROM busybox AS scratch\n"),
        vec![
            ("StageNameCasing", 2),
            ("DuplicateStageName", 2),
            ("ReservedStageName", 3)
        ]
    );
}

#[test]
fn instruction_casing_follows_the_majority() {
    assert_eq!(
        rules("FROM busybox\nrun true\nRUN true\n"),
        vec![("ConsistentInstructionCasing", 2)]
    );
}

#[test]
fn json_args_recommended_unless_shell_is_set() {
    let r = run("FROM busybox\nCMD echo hi\nENTRYPOINT exec x\n");
    assert_eq!(
        r.findings[0].message,
        "JSON arguments recommended for CMD to prevent unintended behavior related to OS signals"
    );
    assert_eq!(r.findings.len(), 2);
    assert_eq!(
        rules("FROM busybox\nSHELL [\"/bin/sh\", \"-c\"]\nCMD echo hi\n"),
        vec![]
    );
}

#[test]
fn maintainer_legacy_and_multiple() {
    assert_eq!(
        rules("FROM busybox\nMAINTAINER me\nENV A b\nCMD [\"a\"]\nCMD [\"b\"]\n"),
        vec![
            ("MaintainerDeprecated", 2),
            ("LegacyKeyValueFormat", 3),
            ("MultipleInstructionsDisallowed", 4)
        ]
    );
}

#[test]
fn undefined_vars_against_scope() {
    let r = run("FROM busybox\nARG V\nENV P=$PATH:/x Q=$V R=$NOPE\nCOPY $MISSING /x\n");
    let got: Vec<_> = r
        .findings
        .iter()
        .map(|f| (f.rule, f.line, f.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("UndefinedVar", 3, "Usage of undefined variable '$NOPE'"),
            ("UndefinedVar", 4, "Usage of undefined variable '$MISSING'"),
        ]
    );
    // A base image not in the store: its ENV is unknown, so nothing is reported.
    assert_eq!(rules("FROM unknown:1\nENV P=$PATH\n"), vec![]);
    // A stage inherits its parent's names.
    assert_eq!(
        rules("FROM busybox AS a\nENV X=1\nFROM a\nENV Y=$X\n"),
        vec![]
    );
    assert_eq!(rules("FROM scratch\nENV Y=$X\n"), vec![("UndefinedVar", 2)]);
}

#[test]
fn from_args() {
    assert_eq!(
        rules("FROM busybox:$TAG\n"),
        vec![("UndefinedArgInFrom", 1)]
    );
    assert_eq!(rules("ARG TAG=1\nFROM busybox:$TAG\n"), vec![]);
    assert_eq!(
        rules("ARG TAG\nFROM busybox:$TAG\n"),
        vec![("InvalidDefaultArgInFrom", 2)]
    );
    assert_eq!(rules("ARG TAG\nFROM busybox:${TAG:-latest}\n"), vec![]);
    assert_eq!(rules("FROM --platform=$BUILDPLATFORM busybox\n"), vec![]);
}

#[test]
fn platform_flags() {
    assert_eq!(
        rules("FROM --platform=$TARGETPLATFORM busybox\n"),
        vec![("RedundantTargetPlatform", 1)]
    );
    assert_eq!(
        rules("FROM --platform=linux/amd64 busybox\n"),
        vec![("FromPlatformFlagConstDisallowed", 1)]
    );
    assert_eq!(
        rules("FROM --platform=linux/amd64 busybox AS build-amd64\n"),
        vec![]
    );
}

#[test]
fn expose_workdir_secrets() {
    assert_eq!(
        rules("FROM busybox\nEXPOSE 80/TCP 127.0.0.1:80:80\nWORKDIR app\nARG GITHUB_TOKEN\nENV PUBLIC_KEY=x\n"),
        vec![("ExposeProtoCasing", 2), ("ExposeInvalidFormat", 2), ("WorkdirRelativePath", 3), ("SecretsUsedInArgOrEnv", 4)]
    );
    assert_eq!(rules("FROM busybox\nWORKDIR /a\nWORKDIR b\n"), vec![]);
    assert_eq!(
        rules("FROM busybox\nARG PORT\nEXPOSE ${PORT:-8080}/tcp\n"),
        vec![]
    );
}

#[test]
fn empty_continuation_line() {
    assert_eq!(
        rules("FROM busybox\nRUN a \\\n\n  b\n"),
        vec![("NoEmptyContinuation", 3)]
    );
}

#[test]
fn check_directive_skips_and_escalates() {
    let skipped = run("# check=skip=JSONArgsRecommended\nFROM busybox\nCMD x\n");
    assert!(skipped.findings.is_empty());
    assert!(run("# check=skip=all\nFROM busybox AS X\n")
        .findings
        .is_empty());
    let strict = run("# check=error=true\nFROM busybox\nCMD x\n");
    assert!(strict.has_errors());
    assert!(!run("FROM busybox\nCMD x\n").has_errors());
}

#[test]
fn report_format_names_file_line_rule_and_url() {
    let r = run("FROM busybox AS Build\n");
    assert_eq!(
        r.to_string(),
        "Dockerfile:1: warning: StageNameCasing: Stage name 'Build' should be lowercase\n  see https://docs.docker.com/go/dockerfile/rule/stage-name-casing/\nCheck complete, 1 warning has been found!"
    );
}

#[test]
fn corpus_has_no_errors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/build/testdata/corpus");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let df = parse(&text, "x").unwrap();
        let report = check(&df, &|_: &str| None);
        assert!(!report.has_errors(), "{}: {report}", path.display());
    }
}

#[test]
fn urls_are_kebab_case() {
    let f = |rule| {
        Finding {
            rule,
            message: String::new(),
            line: 1,
            error: false,
        }
        .url()
    };
    assert_eq!(
        f("JSONArgsRecommended"),
        "https://docs.docker.com/go/dockerfile/rule/json-args-recommended/"
    );
    assert_eq!(
        f("UndefinedVar"),
        "https://docs.docker.com/go/dockerfile/rule/undefined-var/"
    );
}

#[test]
fn copy_ignored_file_and_invalid_base_platform() {
    let df = parse(
        "FROM busybox AS b\nCOPY ./tmp/x /x\nCOPY keep /k\nADD --chmod=644 secret/ /s\n\
         FROM --platform=linux/arm64 busybox\nCOPY --from=b /x /x\nFROM b\n",
        "Dockerfile",
    )
    .unwrap();
    let ignore = crate::build::ignore::Ignore::parse("tmp\nsecret\n");
    let platform = |image: &str| (image == "busybox").then(|| "linux/amd64".to_string());
    let known = Known {
        base_env: &|_: &str| None,
        base_platform: &platform,
        target_platform: "linux/amd64",
        ignore: Some(&ignore),
    };
    let mut report = check_known(&df, &known);
    report
        .findings
        .retain(|f| f.rule != "FromPlatformFlagConstDisallowed");
    let got: Vec<(&str, usize)> = report.findings.iter().map(|f| (f.rule, f.line)).collect();
    assert_eq!(
        got,
        [
            ("CopyIgnoredFile", 2),
            ("CopyIgnoredFile", 4),
            ("InvalidBaseImagePlatform", 5)
        ]
    );
    assert_eq!(
        report.findings[0].message,
        "Attempting to Copy file \"./tmp/x\" that is excluded by .dockerignore"
    );
    assert!(report.findings[2]
        .message
        .contains("expected \"linux/arm64\""));
    // Without the context and store, neither rule can speak.
    let plain = check(&df, &|_: &str| None);
    assert!(plain
        .findings
        .iter()
        .all(|f| f.rule == "FromPlatformFlagConstDisallowed"));
}
