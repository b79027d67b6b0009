//! `login`'s check that the registry takes the credentials before they are
//! kept, as Docker's: `GET /v2/` with them; a registry that hands out
//! tokens (`WWW-Authenticate: Bearer realm=…`) must give one for them.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("login to {registry} refused: {status} (wrong username or password?)")]
    Refused { registry: String, status: String },
    #[error("login to {registry}: {url} answered {status}")]
    Unexpected {
        registry: String,
        url: String,
        status: String,
    },
    #[error("cannot start the I/O runtime: {0}")]
    Runtime(std::io::Error),
}

/// A bearer challenge's `realm` and `service`.
pub fn bearer_challenge(header: &str) -> Option<(String, Option<String>)> {
    let params = header.strip_prefix("Bearer ")?;
    let mut realm = None;
    let mut service = None;
    for part in params.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        let v = v.trim_matches('"').to_string();
        match k {
            "realm" => realm = Some(v),
            "service" => service = Some(v),
            _ => {}
        }
    }
    Some((realm?, service))
}

/// `text` as a URL query value.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Checks `user`/`password` against the registry at `host`.
pub fn verify(host: &str, insecure: bool, user: &str, password: &str) -> Result<(), LoginError> {
    // reqwest is built without a default crypto provider; ring is ours.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LoginError::Runtime)?;
    let scheme = if insecure { "http" } else { "https" };
    let url = format!("{scheme}://{host}/v2/");
    runtime.block_on(check(host, &url, user, password))
}

async fn check(registry: &str, url: &str, user: &str, password: &str) -> Result<(), LoginError> {
    let unreachable = |e: reqwest::Error| LoginError::Unreachable {
        url: url.to_string(),
        reason: e.to_string(),
    };
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .build()
        .map_err(unreachable)?;
    let answer = client
        .get(url)
        .basic_auth(user, Some(password))
        .send()
        .await
        .map_err(unreachable)?;
    let status = answer.status();
    if status.is_success() {
        return Ok(());
    }
    let challenge = answer
        .headers()
        .get(http::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_challenge);
    let refused = |status: reqwest::StatusCode| LoginError::Refused {
        registry: registry.to_string(),
        status: status.to_string(),
    };
    match (status.as_u16(), challenge) {
        (401, Some((realm, service))) => {
            let mut token_url = format!("{realm}?account={}", percent_encode(user));
            if let Some(service) = service {
                token_url += &format!("&service={}", percent_encode(&service));
            }
            let token = client
                .get(&token_url)
                .basic_auth(user, Some(password))
                .send()
                .await
                .map_err(|e| LoginError::Unreachable {
                    url: realm.clone(),
                    reason: e.to_string(),
                })?;
            match token.status() {
                s if s.is_success() => Ok(()),
                s => Err(refused(s)),
            }
        }
        (401, None) => Err(refused(status)),
        _ => Err(LoginError::Unexpected {
            registry: registry.to_string(),
            url: url.to_string(),
            status: status.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::{bearer_challenge, percent_encode};

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(percent_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(percent_encode("Az09-_.~"), "Az09-_.~");
    }

    #[test]
    fn bearer_challenges_give_realm_and_service() {
        let hub = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io""#;
        assert_eq!(
            bearer_challenge(hub),
            Some((
                "https://auth.docker.io/token".into(),
                Some("registry.docker.io".into())
            ))
        );
        assert_eq!(
            bearer_challenge(r#"Bearer realm="https://t/x""#),
            Some(("https://t/x".into(), None))
        );
        assert_eq!(bearer_challenge(r#"Basic realm="r""#), None);
        assert_eq!(bearer_challenge("Bearer service=\"s\""), None);
    }
}
