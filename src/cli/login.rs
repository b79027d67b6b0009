//! `login` and `logout`: credentials checked against the registry, then
//! kept in Docker's `config.json` (where `pull` and `push` find them).

use std::io::{BufRead, IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;

use clap::Args;
use nix::sys::termios::{self, LocalFlags, SetArg};

use super::{CliResult, Failure};
use crate::image::docker_config::{self, server_host, server_key};
use crate::image::registry::{self, is_insecure, read_config, Credentials, RegistryConfig};
use crate::image::registry_login;
use crate::instance::Instance;

#[derive(Args, Debug)]
#[command(
    after_help = "Example: echo \"$TOKEN\" | rcorch login -u me --password-stdin registry.example:5000"
)]
pub struct LoginArgs {
    #[arg(short, long)]
    username: Option<String>,
    /// Password (shows in the process list: prefer --password-stdin)
    #[arg(short, long)]
    password: Option<String>,
    /// Read the password from stdin
    #[arg(long)]
    password_stdin: bool,
    /// Registry (default: Docker Hub)
    server: Option<String>,
}

#[derive(Args, Debug)]
#[command(after_help = "Example: rcorch logout registry.example:5000")]
pub struct LogoutArgs {
    /// Registry (default: Docker Hub)
    server: Option<String>,
}

/// The username and password the flags, stdin or the terminal give.
fn credentials(args: &LoginArgs) -> Result<(String, String), Failure> {
    if args.password.is_some() && args.password_stdin {
        return Err("--password and --password-stdin are mutually exclusive".into());
    }
    if args.password_stdin && args.username.is_none() {
        return Err("--password-stdin needs --username (-u)".into());
    }
    let interactive = std::io::stdin().is_terminal();
    let no_tty = || {
        Failure::from("cannot perform an interactive login from a non TTY device: give -u and --password-stdin")
    };
    let username = match &args.username {
        Some(u) => u.clone(),
        None if interactive => prompt_line("Username: ")?,
        None => return Err(no_tty()),
    };
    let password = if let Some(p) = &args.password {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        p.clone()
    } else if args.password_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text.trim_end_matches(['\n', '\r']).to_string()
    } else if interactive {
        prompt_secret("Password: ")?
    } else {
        return Err(no_tty());
    };
    if username.is_empty() || password.is_empty() {
        return Err("login needs a username and a password".into());
    }
    Ok((username, password))
}

fn prompt_line(prompt: &str) -> Result<String, Failure> {
    print!("{prompt}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}

/// Reads a line with the terminal's echo off (restored even on error).
fn prompt_secret(prompt: &str) -> Result<String, Failure> {
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(stdin.as_fd()).map_err(std::io::Error::from)?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &quiet).map_err(std::io::Error::from)?;
    let line = prompt_line(prompt);
    let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &saved);
    println!();
    line
}

/// The credentials the file already holds for `host`.
fn stored(doc: &serde_json::Value, host: &str) -> Option<(String, String)> {
    let config: RegistryConfig = serde_json::from_value(doc.clone()).ok()?;
    match registry::credentials(&config, host, None, None).ok()? {
        Credentials::Basic { username, password } => Some((username, password)),
        Credentials::Anonymous => None,
    }
}

/// rcorch's registry config: which registries speak plain HTTP.
fn registry_config_path(instance: &Instance) -> PathBuf {
    std::env::var_os("RCORCH_REGISTRY_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| instance.root.join("registries.json"))
}

pub fn login(instance: &Instance, args: &LoginArgs) -> CliResult {
    let key = server_key(args.server.as_deref());
    let host = server_host(&key);
    let path = docker_config::path_from_env();
    // A broken file fails before the registry is asked.
    let doc = docker_config::read_doc(&path)?;
    let insecure = is_insecure(&read_config(&registry_config_path(instance))?, host, false);
    let no_flags = args.username.is_none() && args.password.is_none() && !args.password_stdin;
    if let Some((user, password)) = stored(&doc, host).filter(|_| no_flags) {
        // As Docker: kept credentials are tried first, and kept if they work.
        eprintln!("Authenticating with existing credentials...");
        match registry_login::verify(host, insecure, &user, &password) {
            Ok(()) => {
                println!("Login Succeeded");
                return Ok(0);
            }
            Err(e) if !std::io::stdin().is_terminal() => return Err(e.into()),
            Err(e) => eprintln!("rcorch: {e}"),
        }
    }
    let (username, password) = credentials(args)?;
    registry_login::verify(host, insecure, &username, &password)?;
    let doc = docker_config::with_login(doc, &key, &username, &password);
    docker_config::write_doc(&path, &doc)?;
    eprintln!(
        "WARNING! Your password will be stored unencrypted in {}.",
        path.display()
    );
    println!("Login Succeeded");
    Ok(0)
}

pub fn logout(args: &LogoutArgs) -> CliResult {
    let key = server_key(args.server.as_deref());
    let path = docker_config::path_from_env();
    let (doc, removed) = docker_config::without_login(docker_config::read_doc(&path)?, &key);
    if !removed {
        println!("Not logged in to {key}");
        return Ok(0);
    }
    docker_config::write_doc(&path, &doc)?;
    println!("Removing login credentials for {key}");
    Ok(0)
}
