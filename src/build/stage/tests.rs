use super::*;
use crate::build::config::RunConfig;
use crate::build::dockerfile::parse;

fn state() -> StageState {
    let mut s = StageState::empty();
    s.image.architecture = "amd64".into();
    s.image.os = "linux".into();
    s.image.config = RunConfig {
        env: Some(vec!["PATH=/bin".into()]),
        cmd: Some(vec!["sh".into()]),
        ..Default::default()
    };
    s
}

fn eval(text: &str, build_args: &[(&str, &str)]) -> StageState {
    let df = parse(&format!("FROM x\n{text}"), "Dockerfile").unwrap();
    let mut s = state();
    let ba: BTreeMap<String, String> = build_args
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let scope = Scope {
        build_args: &ba,
        global_args: &BTreeMap::new(),
        escape: '\\',
    };
    for i in &df.instructions[1..] {
        assert!(apply(&mut s, i, &scope).unwrap(), "{i:?}");
    }
    s
}

#[test]
fn env_and_args_expand() {
    let s = eval(
        "ARG V=1\nARG W\nENV A=$V B=\"${W:-none} x\" PATH=$PATH:/opt\nLABEL \"k\"=\"$A\"\n",
        &[("W", "w")],
    );
    let env = s.image.config.env.clone().unwrap();
    assert_eq!(env, vec!["PATH=/bin:/opt", "A=1", "B=w x"]);
    assert_eq!(s.image.config.labels.unwrap()["k"], "1");
}

#[test]
fn entrypoint_resets_inherited_cmd_only() {
    let s = eval("ENTRYPOINT [\"/ep\"]\n", &[]);
    assert_eq!(
        (
            s.image.config.entrypoint.clone().unwrap(),
            s.image.config.cmd.clone()
        ),
        (vec!["/ep".to_string()], None)
    );
    let s = eval("CMD [\"a\"]\nENTRYPOINT /ep\n", &[]);
    assert_eq!(
        s.image.config.entrypoint.unwrap(),
        vec!["/bin/sh", "-c", "/ep"]
    );
    assert_eq!(s.image.config.cmd.unwrap(), vec!["a"]);
}

#[test]
fn shell_changes_later_shell_forms() {
    let s = eval(
        "SHELL [\"/bin/ash\", \"-eo\", \"pipefail\", \"-c\"]\nCMD run me\n",
        &[],
    );
    assert_eq!(
        s.image.config.cmd.unwrap(),
        vec!["/bin/ash", "-eo", "pipefail", "-c", "run me"]
    );
}

#[test]
fn metadata_fields() {
    let s = eval("WORKDIR /a\nWORKDIR b\nUSER 1000:1000\nEXPOSE 80 53/udp\nVOLUME /data [\"/x\"]\nSTOPSIGNAL SIGINT\nHEALTHCHECK NONE\nONBUILD RUN make\nMAINTAINER me\n", &[]);
    let c = &s.image.config;
    assert_eq!(c.working_dir.as_deref(), Some("/a/b"));
    assert_eq!(c.user.as_deref(), Some("1000:1000"));
    assert_eq!(
        c.exposed_ports
            .as_ref()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
        vec!["53/udp", "80/tcp"]
    );
    assert!(c.volumes.as_ref().unwrap().contains_key("/data"));
    assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(c.on_build.clone().unwrap(), vec!["RUN make"]);
    assert_eq!(s.image.author.as_deref(), Some("me"));
}

#[test]
fn bad_expose_is_an_error() {
    let df = parse("FROM x\nEXPOSE http\n", "Dockerfile").unwrap();
    let mut s = state();
    let none = BTreeMap::new();
    let scope = Scope {
        build_args: &none,
        global_args: &none,
        escape: '\\',
    };
    assert!(apply(&mut s, &df.instructions[1], &scope).is_err());
}
