//! `ADD URL`: fetching a remote file over HTTP(S) (reqwest, as oci-client
//! uses it) with its Last-Modified time as the file's mtime, and the
//! `--checksum=sha256:…` check. Parsing is pure; `fetch` is the only I/O.

use crate::image::sha256::digest_hex;

/// A fetched remote file.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub data: Vec<u8>,
    /// Last-Modified, as seconds since the epoch.
    pub mtime: Option<i64>,
    /// The name it gets in a destination directory.
    pub name: String,
}

pub fn is_url(src: &str) -> bool {
    src.starts_with("http://") || src.starts_with("https://")
}

/// A git source as `ADD` takes it: `git@host:repo`, `ssh://`, `git://`,
/// or an http(s)/file URL ending in `.git` (a `#ref` may follow).
pub fn is_git(src: &str) -> bool {
    let base = src.split('#').next().unwrap_or(src);
    src.starts_with("git@")
        || src.starts_with("git://")
        || src.starts_with("ssh://")
        || ((is_url(base) || base.starts_with("file://")) && base.ends_with(".git"))
}

/// The file name of a URL: its last path segment, else "index".
pub fn file_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split(['?', '#']).next().unwrap_or("");
    let path = path.split_once('/').map_or("", |(_, p)| p);
    match path.rsplit('/').next() {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => "index".to_string(),
    }
}

/// `--checksum=sha256:HEX` against the data.
pub fn verify(data: &[u8], checksum: &str) -> Result<(), String> {
    let want = checksum
        .strip_prefix("sha256:")
        .ok_or_else(|| format!("--checksum={checksum}: only sha256:HEX checksums are supported"))?;
    let got = digest_hex(data);
    if !got.eq_ignore_ascii_case(want) {
        return Err(format!(
            "--checksum mismatch: expected sha256:{want}, got sha256:{got}"
        ));
    }
    Ok(())
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`) as epoch seconds.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let mut it = s.split_whitespace().skip(1);
    let day: i64 = it.next()?.parse().ok()?;
    let month = match it.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = it.next()?.parse().ok()?;
    let hms: Vec<i64> = it
        .next()?
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    if hms.len() != 3 || it.next()? != "GMT" {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86400 + hms[0] * 3600 + hms[1] * 60 + hms[2])
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// GETs `url` (following redirects); any failure is one message naming
/// it. `tick` is called after each chunk received (a build's clock).
pub fn fetch(url: &str, tick: &dyn Fn()) -> Result<Fetched, String> {
    let fail = |e: &dyn std::fmt::Display| format!("ADD {url}: cannot fetch it: {e}");
    // reqwest is built without a default crypto provider; ring is ours.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(&e))?;
    let (data, modified) = rt.block_on(async {
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| fail(&e))?;
        let mut resp = client.get(url).send().await.map_err(|e| fail(&e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("ADD {url}: the server answered {status}"));
        }
        let modified = resp
            .headers()
            .get(http::header::LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date);
        let mut data = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| fail(&e))? {
            data.extend_from_slice(&chunk);
            tick();
        }
        Ok::<_, String>((data, modified))
    })?;
    Ok(Fetched {
        data,
        mtime: modified,
        name: file_name(url),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_become_epoch_seconds() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784111777)
        );
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2000 12:00:00 GMT"),
            Some(951825600)
        );
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST"), None);
    }

    #[test]
    fn url_names_and_kinds() {
        assert_eq!(file_name("http://h/a/b.tar.gz?x=1"), "b.tar.gz");
        assert_eq!(file_name("https://h/"), "index");
        assert_eq!(file_name("https://h"), "index");
        assert!(is_url("https://h/x"));
        assert!(is_git("git@github.com:moby/moby.git"));
        assert!(is_git("https://github.com/moby/moby.git#v1"));
        assert!(is_git("file:///srv/repo.git"));
        assert!(!is_git("https://h/x.tar"));
    }

    #[test]
    fn checksums_are_verified() {
        let sum = format!("sha256:{}", digest_hex(b"hi"));
        assert!(verify(b"hi", &sum).is_ok());
        let e = verify(b"ho", &sum).unwrap_err();
        assert!(e.contains("mismatch"), "{e}");
        assert!(verify(b"hi", "md5:00").unwrap_err().contains("sha256"));
    }
}
