use super::*;
use serde_json::json;

fn run(t: &str, data: &Value) -> String {
    Template::parse(t)
        .unwrap_or_else(|e| panic!("{t}: {e}"))
        .execute(data)
        .unwrap_or_else(|e| panic!("{t}: {e}"))
}

fn inspect() -> Value {
    json!({
        "Id": "abc123",
        "Name": "/web",
        "State": {"Status": "running", "Running": true, "Pid": 42, "ExitCode": 0},
        "Config": {
            "Env": ["PATH=/bin", "A=1"],
            "Cmd": ["sleep", "100"],
            "Labels": {"tier": "front", "com.example.v": "2"},
            "Entrypoint": null,
        },
        "NetworkSettings": {
            "IPAddress": "10.88.0.2",
            "Networks": {"bridge": {"IPAddress": "10.88.0.2"}, "back": {"IPAddress": "10.89.0.5"}},
            "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]},
        },
        "Mounts": [{"Source": "/a", "Destination": "/data"}, {"Source": "/b", "Destination": "/etc/x"}],
    })
}

#[test]
fn fields_nest_and_print_as_go_prints_them() {
    let v = inspect();
    assert_eq!(run("{{.State.Pid}}", &v), "42");
    assert_eq!(run("{{.State.Running}} {{.Name}}", &v), "true /web");
    assert_eq!(run("{{.Config.Env}}", &v), "[PATH=/bin A=1]");
    assert_eq!(
        run("{{.Config.Labels}}", &v),
        "map[com.example.v:2 tier:front]"
    );
    assert_eq!(run("{{.Config.Entrypoint}}", &v), "<no value>");
    assert_eq!(run("{{ .Id }}", &v), "abc123");
}

#[test]
fn json_of_anything_and_in_a_pipeline() {
    let v = inspect();
    assert_eq!(run("{{json .Config.Cmd}}", &v), r#"["sleep","100"]"#);
    assert_eq!(run("{{.Config.Cmd | json}}", &v), r#"["sleep","100"]"#);
    let whole: Value = serde_json::from_str(&run("{{json .}}", &v)).unwrap();
    assert_eq!(whole, v);
}

#[test]
fn range_over_lists_and_maps_with_variables() {
    let v = inspect();
    assert_eq!(
        run("{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}", &v),
        "/a:/data /b:/etc/x "
    );
    assert_eq!(
        run(
            "{{range $name, $n := .NetworkSettings.Networks}}{{$name}}={{$n.IPAddress}};{{end}}",
            &v
        ),
        "back=10.89.0.5;bridge=10.88.0.2;"
    );
    assert_eq!(
        run("{{range $i, $e := .Config.Env}}{{$i}}{{end}}", &v),
        "01"
    );
    assert_eq!(
        run("{{range $p, $conf := .NetworkSettings.Ports}}{{$p}} -> {{(index $conf 0).HostPort}}{{end}}", &v),
        "80/tcp -> 8080"
    );
    assert_eq!(
        run("{{range .Config.Entrypoint}}x{{else}}none{{end}}", &v),
        "none"
    );
    assert_eq!(
        run("{{$x := .Name}}{{range .Mounts}}{{$x}}{{end}}", &v),
        "/web/web"
    );
}

#[test]
fn index_reads_maps_and_lists() {
    let v = inspect();
    assert_eq!(run(r#"{{index .Config.Labels "tier"}}"#, &v), "front");
    assert_eq!(
        run(r#"{{index .Config.Labels "missing"}}"#, &v),
        "",
        "as Docker's typed labels"
    );
    assert_eq!(run("{{index .Config.Cmd 1}}", &v), "100");
    assert_eq!(
        run(
            r#"{{(index .NetworkSettings.Networks "back").IPAddress}}"#,
            &v
        ),
        "10.89.0.5"
    );
    assert_eq!(
        run(r#"{{.NetworkSettings.Networks.bridge.IPAddress}}"#, &v),
        "10.88.0.2"
    );
}

#[test]
fn conditions_comparisons_and_else_if() {
    let v = inspect();
    let t = r#"{{if eq .State.Status "exited"}}dead{{else if .State.Running}}up {{.State.Pid}}{{else}}?{{end}}"#;
    assert_eq!(run(t, &v), "up 42");
    assert_eq!(
        run(r#"{{if ne .State.ExitCode 0}}bad{{else}}ok{{end}}"#, &v),
        "ok"
    );
    assert_eq!(
        run(r#"{{if and .State.Running (gt .State.Pid 1)}}y{{end}}"#, &v),
        "y"
    );
    assert_eq!(
        run(
            r#"{{if or (not .State.Running) false}}y{{else}}n{{end}}"#,
            &v
        ),
        "n"
    );
    assert_eq!(run(r#"{{eq .State.Status "a" "running"}}"#, &v), "true");
    assert_eq!(
        run(r#"{{with .Config.Labels}}{{.tier}}{{end}}"#, &v),
        "front"
    );
    assert_eq!(
        run(
            r#"{{with .Config.Entrypoint}}x{{else}}no entrypoint{{end}}"#,
            &v
        ),
        "no entrypoint"
    );
}

#[test]
fn dockers_string_functions() {
    let v = json!({"Names": "web,db", "Image": "Busybox", "L": ["a", "b"], "S": "hello world"});
    assert_eq!(
        run("{{upper .Image}} {{lower .Image}}", &v),
        "BUSYBOX busybox"
    );
    assert_eq!(run("{{title .S}}", &v), "Hello World");
    assert_eq!(run(r#"{{join .L ","}}"#, &v), "a,b");
    assert_eq!(run(r#"{{split .Names ","}}"#, &v), "[web db]");
    assert_eq!(run(r#"{{len (split .Names ",")}} {{len .S}}"#, &v), "2 11");
    assert_eq!(run(r#"{{index (split .Names ",") 1}}"#, &v), "db");
    assert_eq!(
        run(r#"{{.Image | lower | printf "%-8s|"}}"#, &v),
        "busybox |"
    );
    assert_eq!(
        run(r#"{{truncate .S 5}}{{pad "x" 1 2}}|"#, &v),
        "hello x  |"
    );
    assert_eq!(
        run(r#"{{println .Image}}{{print 1 2 "a"}}"#, &v),
        "Busybox\n1 2a"
    );
    assert_eq!(
        run(r#"{{printf "%s=%d %q %v%%" "a" 3 "b" .L}}"#, &v),
        r#"a=3 "b" [a b]%"#
    );
    assert_eq!(run(r#"{{slice .S 0 5}}"#, &v), "hello");
}

#[test]
fn whitespace_trimming_comments_and_raw_strings() {
    let v = inspect();
    assert_eq!(run("a  {{- .Name -}}  b{{/* why */}}", &v), "a/webb");
    assert_eq!(run("{{`raw \\n`}}", &v), "raw \\n");
    assert_eq!(run(r#"{{"tab\there"}}"#, &v), "tab\there");
}

#[test]
fn a_missing_field_names_the_field_and_what_exists() {
    let t = Template::parse("{{.State.Pdi}}").unwrap();
    let e = t.execute(&inspect()).unwrap_err();
    assert!(
        matches!(&e.problem, Problem::UnknownField { field, known } if field == "Pdi" && known.contains("Pid")),
        "{e}"
    );
    assert!(e.to_string().contains("{{.State.Pdi}}"), "{e}");
    let e = run_err("{{.Name.X}}");
    assert!(e.contains("can't evaluate field X in type string"), "{e}");
    let e = run_err("{{.Name 1}}");
    assert!(e.contains("non-function"), "{e}");
}

fn run_err(t: &str) -> String {
    Template::parse(t)
        .unwrap()
        .execute(&inspect())
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_templates_are_refused_when_parsed() {
    for bad in [
        "{{.Names",
        "{{range .X}}no end",
        "{{end}}",
        "{{else}}",
        "{{nosuch .X}}",
        "{{if}}{{end}}",
        "{{template \"x\"}}",
        r#"{{"unterminated}}"#,
        "{{(.X}}",
        "{{.X | }}",
    ] {
        let e = Template::parse(bad).unwrap_err();
        assert!(matches!(e.problem, Problem::Parse { .. }), "{bad}: {e:?}");
    }
    let e = Template::parse("{{nosuch .X}}").unwrap_err().to_string();
    assert!(e.contains("function \"nosuch\" not defined"), "{e}");
}

#[test]
fn comparisons_of_different_kinds_are_errors() {
    let e = run_err(r#"{{if eq .State.Pid "42"}}x{{end}}"#);
    assert!(e.contains("incompatible types"), "{e}");
}

const FIELDS: &[Field] = &[
    Field {
        name: "ID",
        header: "CONTAINER ID",
    },
    Field {
        name: "Names",
        header: "NAMES",
    },
    Field {
        name: "Status",
        header: "STATUS",
    },
    Field {
        name: "Label",
        header: "",
    },
];

fn rows() -> Vec<Value> {
    vec![
        json!({"ID": "abc", "Names": "web", "Status": "Up 2 seconds", "Label": {"tier": "front"}}),
        json!({"ID": "defghi", "Names": "db", "Status": "Exited (0)", "Label": {}}),
    ]
}

fn render(t: &str) -> String {
    Format::parse(t).unwrap().render(&rows(), FIELDS).unwrap()
}

#[test]
fn a_row_per_line() {
    assert_eq!(render("{{.Names}}"), "web\ndb\n");
    assert_eq!(render("{{ .ID }}: {{.Names}}"), "abc: web\ndefghi: db\n");
    assert_eq!(render(r#"{{.Label "tier"}}"#), "front\n\n");
}

#[test]
fn table_adds_headers_and_aligns_tabs() {
    assert_eq!(
        render("table {{.ID}}\\t{{.Status}}"),
        "CONTAINER ID   STATUS\nabc            Up 2 seconds\ndefghi         Exited (0)\n"
    );
    // Docker's tabwriter: columns at least 10 wide.
    assert_eq!(
        render("table {{.Names}}\\t{{.ID}}"),
        "NAMES     CONTAINER ID\nweb       abc\ndb        defghi\n"
    );
}

#[test]
fn a_listing_checks_field_names_even_without_rows() {
    let f = Format::parse("{{.Nmes}}").unwrap();
    let e = f.render(&[], FIELDS).unwrap_err().to_string();
    assert!(
        e.contains("unknown field \"Nmes\"") && e.contains("Names"),
        "{e}"
    );
    assert_eq!(
        Format::parse("{{.Names}}")
            .unwrap()
            .render(&[], FIELDS)
            .unwrap(),
        ""
    );
}
