//! Root-only: `-p` ranges, `-p 80` and `-p IP::80` (random host ports that
//! `port` shows), each reached through the published port.

mod networld;

use networld::{value, world};

#[test]
fn ranges_and_random_host_ports_are_published_and_served() {
    let Some(w) = world("publish-forms") else {
        return;
    };
    let out = w.run(
        r#"
id=$($R run -d -p 18290-18291:80-81 -p 80 -p 127.0.0.1::81 busybox sh -c 'httpd -p 80 -h /; httpd -p 81 -h /; sleep 30')
$R port $id
random=$($R port $id | grep '^80/tcp' | grep -v 18290 | sed 's/.*://')
local=$($R port $id | grep '127.0.0.1' | sed 's/.*://')
echo "random-set=$([ -n "$random" ] && [ "$random" != 0 ] && echo yes || echo no)"
code() { for i in $(seq 100); do c=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$1/); [ $c = 404 ] && break; sleep 0.05; done; echo $c; }
echo "range=$(code 18290),$(code 18291)"
echo "random=$(code $random) local=$(code $local)"
$R run -d -p 18292-18293:80 busybox true; echo "mismatch=$?"
"#,
    );
    assert_eq!(value(&out, "random-set"), "yes", "{out}");
    assert_eq!(value(&out, "range"), "404,404", "{out}");
    assert_eq!(value(&out, "random"), "404 local=404", "{out}");
    assert_eq!(value(&out, "mismatch"), "125", "{out}");
    assert!(out.contains("ranges must be as long"), "{out}");
}
