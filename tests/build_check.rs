//! `rcorch build --check` through the binary: no root, no store created,
//! findings with file:line on stderr, exit code by severity.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_rcorch");

fn check(dir: &Path, dockerfile: &str) -> (i32, String) {
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    let root = dir.join("root");
    let out = Command::new(BIN)
        .arg("--root")
        .arg(&root)
        .args(["build", "--check"])
        .arg(dir)
        .output()
        .unwrap();
    assert!(!root.exists(), "--check created the instance root");
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn warnings_exit_zero_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = check(dir.path(), "FROM busybox AS Build\nCMD echo hi\n");
    assert_eq!(code, 0, "{err}");
    let file = dir.path().join("Dockerfile").display().to_string();
    assert!(
        err.contains(&format!("{file}:1: warning: StageNameCasing")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{file}:2: warning: JSONArgsRecommended")),
        "{err}"
    );
    assert!(err.contains("2 warnings have been found"), "{err}");
}

#[test]
fn error_directive_makes_warnings_fail() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = check(
        dir.path(),
        "# check=error=true\nFROM busybox\nMAINTAINER me\n",
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(":3: error: MaintainerDeprecated"), "{err}");
}

#[test]
fn parse_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = check(dir.path(), "FROM busybox\nRUN true\nFROBNICATE x\n");
    assert_eq!(code, 1, "{err}"); // as docker build
    assert!(
        err.contains("Dockerfile:3: unknown instruction: FROBNICATE"),
        "{err}"
    );
}

#[test]
fn a_clean_multi_stage_file_passes() {
    let dir = tempfile::tempdir().unwrap();
    let text = "# syntax=docker/dockerfile:1.4\nARG TAG=1\nFROM busybox:${TAG} AS build\nRUN --mount=type=cache,target=/c <<EOF\necho hi > /out\nEOF\nFROM scratch\nCOPY --from=build /out /out\n";
    let (code, err) = check(dir.path(), text);
    assert_eq!(
        (code, err.trim()),
        (0, "Check complete, no warnings found.")
    );
}

#[test]
fn copy_of_an_ignored_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".dockerignore"), "*/tmp/*\n").unwrap();
    let df = "FROM scratch\nCOPY ./a/tmp/hello.txt /hello.txt\nCOPY ./forever/h.txt /h\n";
    let (code, err) = check(dir.path(), df);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "Dockerfile:2: warning: CopyIgnoredFile: Attempting to Copy file \"./a/tmp/hello.txt\" that is excluded by .dockerignore"
        ),
        "{err}"
    );
    assert_eq!(err.matches("CopyIgnoredFile").count(), 1, "{err}");
}
