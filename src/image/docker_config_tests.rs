use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::image::registry::{credentials, decode_base64, Credentials};

#[test]
fn the_file_is_under_docker_config_else_home() {
    let p = config_path(Some(OsStr::new("/etc/dc")), Some(OsStr::new("/home/u")));
    assert_eq!(p, Path::new("/etc/dc/config.json"));
    let p = config_path(None, Some(OsStr::new("/home/u")));
    assert_eq!(p, Path::new("/home/u/.docker/config.json"));
    let p = config_path(Some(OsStr::new("")), Some(OsStr::new("/home/u")));
    assert_eq!(
        p,
        Path::new("/home/u/.docker/config.json"),
        "empty is unset"
    );
}

#[test]
fn servers_are_filed_as_docker_files_them() {
    assert_eq!(server_key(None), DOCKER_HUB);
    assert_eq!(server_key(Some("docker.io")), DOCKER_HUB);
    assert_eq!(server_key(Some("https://index.docker.io/v1/")), DOCKER_HUB);
    assert_eq!(server_key(Some("localhost:5000")), "localhost:5000");
    assert_eq!(server_key(Some("https://reg.example/v2/")), "reg.example");
    assert_eq!(server_host(DOCKER_HUB), "registry-1.docker.io");
    assert_eq!(server_host("reg.example:443"), "reg.example:443");
}

#[test]
fn base64_round_trips_every_length() {
    assert_eq!(encode_base64(b"user:pass"), "dXNlcjpwYXNz");
    assert_eq!(encode_base64(b"a"), "YQ==");
    assert_eq!(encode_base64(b"ab"), "YWI=");
    assert_eq!(encode_base64(b""), "");
    for n in 0..40u8 {
        let data: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
        assert_eq!(decode_base64(&encode_base64(&data)).unwrap(), data);
    }
}

#[test]
fn login_sets_one_entry_and_keeps_the_rest() {
    let doc = json!({"auths": {"other": {"auth": "eDp5"}}, "psFormat": "x"});
    let doc = with_login(doc, "reg:5000", "u", "p:w");
    assert_eq!(doc["auths"]["reg:5000"], json!({"auth": "dTpwOnc="}));
    assert_eq!(doc["auths"]["other"]["auth"], "eDp5");
    assert_eq!(doc["psFormat"], "x");
    let (doc, removed) = without_login(doc, "reg:5000");
    assert!(removed);
    assert!(doc["auths"].get("reg:5000").is_none());
    assert_eq!(doc["auths"]["other"]["auth"], "eDp5");
    let (_, again) = without_login(doc, "reg:5000");
    assert!(!again, "logging out twice removes nothing");
    let fresh = with_login(json!({}), DOCKER_HUB, "u", "p");
    assert_eq!(fresh["auths"][DOCKER_HUB]["auth"], "dTpw");
}

#[test]
fn the_written_file_is_private_and_read_back_by_pull() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new/config.json");
    assert_eq!(read_doc(&path).unwrap(), json!({}), "missing: empty");
    let doc = with_login(read_doc(&path).unwrap(), "reg:5000", "u", "pw");
    write_doc(&path, &doc).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    let config = merged(RegistryConfig::default(), &path).unwrap();
    let basic = Credentials::Basic {
        username: "u".into(),
        password: "pw".into(),
    };
    assert_eq!(credentials(&config, "reg:5000", None, None).unwrap(), basic);
}

#[test]
fn rcorchs_own_config_wins_over_dockers_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let doc = with_login(json!({}), "reg", "docker", "d");
    let doc = with_login(doc, "only-docker", "x", "y");
    write_doc(&path, &doc).unwrap();
    let own: RegistryConfig =
        serde_json::from_str(r#"{"auths":{"reg":{"username":"own","password":"o"}}}"#).unwrap();
    let config = merged(own, &path).unwrap();
    let user = |r: &str| match credentials(&config, r, None, None).unwrap() {
        Credentials::Basic { username, .. } => username,
        Credentials::Anonymous => String::new(),
    };
    assert_eq!(
        (user("reg"), user("only-docker")),
        ("own".into(), "x".into())
    );
}

#[test]
fn a_broken_file_is_one_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, "[1]").unwrap();
    let err = read_doc(&path).unwrap_err().to_string();
    assert!(
        err.contains("config.json") && err.contains("not a JSON object"),
        "{err}"
    );
    std::fs::write(&path, "{").unwrap();
    let err = read_doc(&path).unwrap_err().to_string();
    assert!(err.contains("config.json"), "{err}");
}
