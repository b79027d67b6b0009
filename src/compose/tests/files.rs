//! Top-level secrets/configs and the services' references to them.

use super::*;
use crate::compose::model::*;

const DEFS: &str = "secrets:
  db_pw:
    file: ./pw.txt
  token:
    environment: SECRET
configs:
  nginx:
    content: |
      server {}
  app:
    file: /etc/app.conf
";

fn with_service(body: &str) -> Loaded {
    ok(&format!("services:\n  s:\n    image: x\n{body}{DEFS}"))
}

#[test]
fn definitions_keep_their_source() {
    let p = with_service("").project;
    let file = FileSource::File("/srv/My App/pw.txt".into());
    assert_eq!(p.secrets["db_pw"].source, Some(file));
    let env = FileSource::Environment("SECRET".into());
    assert_eq!(p.secrets["token"].source, Some(env));
    let inline = FileSource::Content("server {}\n".into());
    assert_eq!(p.configs["nginx"].source, Some(inline));
    assert!(with_service("").warnings.is_empty());
}

#[test]
fn short_syntax_lands_at_compose_defaults() {
    let s = &with_service("    secrets: [db_pw]\n    configs: [nginx]\n")
        .project
        .services["s"];
    assert_eq!(s.secrets[0].target, "/run/secrets/db_pw");
    assert_eq!((s.secrets[0].uid, s.secrets[0].mode), (None, 0o444));
    assert_eq!(s.configs[0].target, "/nginx");
}

#[test]
fn long_syntax_targets_owner_and_mode() {
    let body = "    secrets:
      - source: db_pw
        target: pw
        uid: '103'
        gid: 104
        mode: 0o440
      - {source: token, target: /etc/token, mode: '0400'}
    configs:
      - {source: app, target: conf/app.conf}
";
    let s = &with_service(body).project.services["s"];
    let pw = &s.secrets[0];
    assert_eq!(
        (pw.target.as_str(), pw.uid, pw.gid, pw.mode),
        ("/run/secrets/pw", Some(103), Some(104), 0o440)
    );
    assert_eq!(
        (s.secrets[1].target.as_str(), s.secrets[1].mode),
        ("/etc/token", 0o400)
    );
    assert_eq!(s.configs[0].target, "/conf/app.conf");
}

#[test]
fn bare_leading_zero_mode_is_octal_as_in_compose() {
    let body = "    secrets:\n      - {source: db_pw, mode: 0440}\n";
    assert_eq!(
        with_service(body).project.services["s"].secrets[0].mode,
        0o440
    );
}

#[test]
fn config_prints_mode_in_octal_and_no_secret_value() {
    let body = "    secrets: [token]\n";
    let yaml = serde_norway::to_string(&with_service(body).project).unwrap();
    assert!(yaml.contains("mode: '0444'"), "{yaml}");
    assert!(yaml.contains("environment: SECRET"), "{yaml}");
    assert!(!yaml.contains("s3cret"), "{yaml}");
}

#[test]
fn bad_definitions_and_references() {
    let svc = "services:\n  s:\n    image: x\n";
    assert_err(
        &format!("{svc}    secrets: [nope]\n"),
        4,
        "undefined secret \"nope\"",
    );
    assert_err(
        &format!("{svc}secrets:\n  a: {{}}\n"),
        5,
        "exactly one of file",
    );
    assert_err(
        &format!("{svc}secrets:\n  a: {{file: x, environment: Y}}\n"),
        5,
        "exactly one of file",
    );
    assert_err(
        &format!("{svc}secrets:\n  a:\n    content: x\n"),
        6,
        "content",
    );
    let mode = format!("{svc}    secrets: [{{source: a, mode: '9'}}]\n{DEFS}");
    assert_err(&mode.replace("db_pw:", "a:"), 4, "octal file mode");
    let traversal = format!("{svc}secrets:\n  ../../etc/x: {{file: ./x}}\n");
    assert_err(&traversal, 5, "a name of letters");
    assert_err(
        &format!("{svc}configs:\n  '..': {{file: ./x}}\n"),
        5,
        "a name of letters",
    );
    let setuid = format!("{svc}    secrets: [{{source: a, mode: '4755'}}]\n{DEFS}");
    assert_err(&setuid.replace("db_pw:", "a:"), 4, "at most 0777");
}
