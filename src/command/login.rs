//! `login`: a scoped OAuth token, obtained once in a browser.
//!
//! It binds a listener on `127.0.0.1:oauth_redirect_port` (the redirect URI registered with the
//! client must match exactly), prints the authorize URL with a random `state` and a PKCE S256
//! challenge, and waits, at most 10 minutes (the life of a code), for the browser's redirect
//! or for the redirected address pasted on standard input (the browser ran on another
//! machine, where `127.0.0.1` is not this one). It checks `state`, exchanges the code, checks
//! the granted scopes and writes the token store (0600, atomically) where the daemon reads it.
//!
//! The state and the PKCE verifier are also kept in `<token store>.pending` (0600), so that
//! `login --code URL`, run separately within the 10 minutes, can finish the same login.
//!
//! Unlike the other commands, `login` talks to the user while it runs: the URL is printed
//! before the wait, on standard error.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use url::Url;

use super::{Exit, Output, load};
use crate::account::{CredentialError, connection_options, oauth::login_token_file};
use crate::cloudreve::{
    Authorization, BuildError, Client, CodeExchange, ExchangeError, RandomError, StoreError,
};
use crate::config::{self, Account, ClientSecretError, Config, EnvLookup, OAuthSettings};

/// How long a login waits: the life of an authorization code.
pub const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// `login` failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// No such account.
    #[error("no account named {0} in the rules file")]
    UnknownAccount(String),
    /// The account has no OAuth client.
    #[error(
        "account {0} names no OAuth client: set oauth_client_id (and the client secret) in its table; see the README's OAuth section"
    )]
    NotOAuth(String),
    /// The client secret is unavailable.
    #[error(transparent)]
    Secret(#[from] ClientSecretError),
    /// The connection settings are unusable.
    #[error(transparent)]
    Setup(#[from] CredentialError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// Randomness failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The redirect port is taken.
    #[error(
        "could not listen on 127.0.0.1:{port}, the redirect URI's port: {source}; stop what uses it, or change oauth_redirect_port and the client's redirect URI together"
    )]
    Listen {
        /// The port.
        port: u16,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Nothing came back in time.
    #[error(
        "no redirect within {minutes} minutes (a code lives 10); run login again, and paste the address the browser was sent to if it could not reach 127.0.0.1"
    )]
    TimedOut {
        /// The wait.
        minutes: u64,
    },
    /// The redirect belongs to another login (or was forged).
    #[error(
        "the redirect's state does not match this login's, so its code was not used (a stale tab, or a forged link); run login again"
    )]
    StateMismatch,
    /// The user or the server refused.
    #[error("Cloudreve did not authorize the client: {error}: {description}")]
    Denied {
        /// The OAuth error code.
        error: String,
        /// Its description.
        description: String,
    },
    /// The address holds no code.
    #[error(
        "that address holds no code: paste the whole address the browser was sent to, http://127.0.0.1:…/callback?code=…&state=…"
    )]
    NoCode,
    /// `--code` without a login waiting.
    #[error("no login is waiting ({path}: {source}); run `cloudreve-autoselect login` first")]
    NoPending {
        /// The pending file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `--code` too late.
    #[error(
        "the login started at {started} is older than 10 minutes, and so is its code; run login again"
    )]
    PendingExpired {
        /// When it started.
        started: String,
    },
    /// The pending file could not be written or read.
    #[error("the pending login file {path}: {problem}")]
    Pending {
        /// The file.
        path: PathBuf,
        /// What failed.
        problem: String,
    },
    /// The code exchange failed.
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    /// The token could not be stored.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LoginError {
    fn exit(&self) -> Exit {
        match self {
            Self::UnknownAccount(_) | Self::NotOAuth(_) | Self::Secret(_) | Self::Setup(_) => {
                Exit::Config
            }
            _ => Exit::Failure,
        }
    }
}

/// What a login started: kept so that `login --code` can finish it. Not `Debug`: it holds the
/// verifier.
#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    verifier: String,
    redirect_uri: String,
    started: String,
}

/// The file of a waiting login.
pub fn pending_file(token_file: &Path) -> PathBuf {
    let mut name = token_file.as_os_str().to_owned();
    name.push(".pending");
    PathBuf::from(name)
}

/// What a running login tells its user.
#[derive(Debug)]
pub enum Prompt<'a> {
    /// The authorize URL, once the listener is ready.
    Url(&'a Url),
    /// A pasted line that is not an address with a code (the login keeps waiting).
    NotAnAddress,
}

/// How a running login meets its user.
pub struct Interaction {
    /// Told what the user must know.
    pub tell: Box<dyn FnMut(Prompt<'_>) + Send>,
    /// Addresses the user pastes (the browser ran elsewhere).
    pub pasted: mpsc::Receiver<String>,
    /// The longest wait.
    pub wait: Duration,
}

/// An account's login settings.
struct Target<'a> {
    account: &'a Account,
    settings: &'a OAuthSettings,
    token_file: PathBuf,
}

fn target<'a>(config: &'a Config, name: Option<&str>) -> Result<Target<'a>, LoginError> {
    let account = match name {
        Some(name) => config
            .accounts
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| LoginError::UnknownAccount(name.to_owned()))?,
        None => config
            .accounts
            .first()
            .ok_or_else(|| LoginError::UnknownAccount(config::DEFAULT_ACCOUNT.to_owned()))?,
    };
    let settings = account
        .server
        .oauth
        .as_ref()
        .ok_or_else(|| LoginError::NotOAuth(account.name.clone()))?;
    Ok(Target {
        account,
        settings,
        token_file: login_token_file(account, settings),
    })
}

/// What the redirect carried.
#[derive(Deserialize, Default)]
struct Redirect {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

impl Redirect {
    fn of_url(text: &str) -> Option<Self> {
        let url = Url::parse(text.trim()).ok()?;
        let mut redirect = Self::default();
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "code" => redirect.code = Some(value.into_owned()),
                "state" => redirect.state = Some(value.into_owned()),
                "error" => redirect.error = Some(value.into_owned()),
                "error_description" => redirect.error_description = Some(value.into_owned()),
                _ => {}
            }
        }
        (redirect.code.is_some() || redirect.error.is_some()).then_some(redirect)
    }

    /// The code, once the state is checked.
    fn code_for(self, state: &str) -> Result<String, LoginError> {
        if self.state.as_deref() != Some(state) {
            return Err(LoginError::StateMismatch);
        }
        if let Some(error) = self.error {
            return Err(LoginError::Denied {
                error,
                description: self.error_description.unwrap_or_default(),
            });
        }
        self.code
            .filter(|c| !c.is_empty())
            .ok_or(LoginError::NoCode)
    }
}

/// The client secret of an account's OAuth client (from its file or credential, never the
/// command line).
pub fn client_secret(
    config: &Config,
    account: Option<&str>,
    env: EnvLookup<'_>,
) -> Result<SecretString, LoginError> {
    let target = target(config, account)?;
    Ok(config::resolve_client_secret(
        target.settings,
        &target.account.name,
        env,
    )?)
}

/// Runs a login to its end: listen, show the URL, wait, check, exchange, store. Returns what to
/// tell the user.
pub async fn login(
    config: &Config,
    account: Option<&str>,
    secret: SecretString,
    interaction: Interaction,
) -> Result<String, LoginError> {
    let target = target(config, account)?;
    let client = Client::new(connection_options(target.account)?)?;
    let authorization = Authorization::new()?;
    let redirect_uri = target.settings.redirect_uri();
    let port = target.settings.redirect_port;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| LoginError::Listen { port, source })?;
    write_pending(&target.token_file, &authorization, &redirect_uri)?;
    let (sender, mut received) = mpsc::channel::<Redirect>(4);
    let app = Router::new()
        .route("/callback", get(callback))
        .with_state(sender);
    let stop = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(stop.clone().cancelled_owned())
            .into_future(),
    );
    let url = authorization.url(
        &target.account.server.url,
        &target.settings.client_id,
        &redirect_uri,
    );
    let mut tell = interaction.tell;
    tell(Prompt::Url(&url));
    let mut pasted = interaction.pasted;
    let redirect = tokio::time::timeout(interaction.wait, async {
        loop {
            tokio::select! {
                Some(redirect) = received.recv() => return redirect,
                Some(line) = pasted.recv() => match Redirect::of_url(&line) {
                    Some(redirect) => return redirect,
                    None if line.trim().is_empty() => {}
                    None => tell(Prompt::NotAnAddress),
                },
            }
        }
    })
    .await;
    stop.cancel();
    let _ = server.await;
    let redirect = redirect.map_err(|_| LoginError::TimedOut {
        minutes: interaction.wait.as_secs() / 60,
    })?;
    let code = redirect.code_for(&authorization.state)?;
    let done = finish(
        &client,
        &target,
        &secret,
        &code,
        &authorization.verifier,
        &redirect_uri,
    )
    .await;
    let _ = std::fs::remove_file(pending_file(&target.token_file));
    done
}

/// Finishes a login started earlier with the address its browser was sent to
/// (`login --code URL`).
pub async fn finish_with_code(
    config: &Config,
    account: Option<&str>,
    secret: SecretString,
    address: &str,
) -> Result<String, LoginError> {
    let target = target(config, account)?;
    let path = pending_file(&target.token_file);
    let text = std::fs::read_to_string(&path).map_err(|source| LoginError::NoPending {
        path: path.clone(),
        source,
    })?;
    let pending: Pending = serde_json::from_str(&text).map_err(|_| LoginError::Pending {
        path: path.clone(),
        problem: "not a pending login".to_owned(),
    })?;
    let started = DateTime::parse_from_rfc3339(&pending.started)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| LoginError::Pending {
            path: path.clone(),
            problem: "unreadable start time".to_owned(),
        })?;
    let lifetime = TimeDelta::from_std(CODE_LIFETIME).unwrap_or(TimeDelta::MAX);
    if Utc::now() - started > lifetime {
        let _ = std::fs::remove_file(&path);
        return Err(LoginError::PendingExpired {
            started: pending.started,
        });
    }
    let code = Redirect::of_url(address)
        .ok_or(LoginError::NoCode)?
        .code_for(&pending.state)?;
    let client = Client::new(connection_options(target.account)?)?;
    let verifier = SecretString::from(pending.verifier);
    let done = finish(
        &client,
        &target,
        &secret,
        &code,
        &verifier,
        &pending.redirect_uri,
    )
    .await;
    // A code is single-use, even when its exchange fails: the pending login is spent.
    let _ = std::fs::remove_file(&path);
    done
}

async fn finish(
    client: &Client,
    target: &Target<'_>,
    secret: &SecretString,
    code: &str,
    verifier: &SecretString,
    redirect_uri: &str,
) -> Result<String, LoginError> {
    let exchange = CodeExchange {
        client_id: &target.settings.client_id,
        client_secret: secret,
        code,
        verifier,
        redirect_uri,
    };
    let token = client
        .exchange_code(&exchange, &target.account.server.url)
        .await?;
    token.write(&target.token_file)?;
    let expires = token.refresh_expires.map_or_else(
        || "expiry not given".to_owned(),
        |t| format!("expires {}", t.format("%Y-%m-%d %H:%M UTC")),
    );
    let support = match client.oauth_support().await {
        Ok(support) => format!("\n{support}"),
        Err(_) => String::new(),
    };
    Ok(format!(
        "logged in: account {} holds an OAuth token with scopes {} ({expires}), stored in {} (mode 0600); restart the daemon to use it{support}\n",
        target.account.name,
        token.scope_text(),
        target.token_file.display(),
    ))
}

fn write_pending(
    token_file: &Path,
    authorization: &Authorization,
    redirect_uri: &str,
) -> Result<(), LoginError> {
    let path = pending_file(token_file);
    let pending = Pending {
        state: authorization.state.clone(),
        verifier: authorization.verifier.expose_secret().to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        started: Utc::now().to_rfc3339(),
    };
    let text = serde_json::to_string(&pending).unwrap_or_default();
    crate::durable::write_atomically_with_mode(&path, text.as_bytes(), 0o600).map_err(|e| {
        LoginError::Pending {
            path: path.clone(),
            problem: e.to_string(),
        }
    })
}

async fn callback(
    State(sender): State<mpsc::Sender<Redirect>>,
    Query(redirect): Query<Redirect>,
) -> Html<&'static str> {
    let _ = sender.send(redirect).await;
    Html(
        "<!doctype html><title>cloudreve-autoselect</title><p>cloudreve-autoselect received the answer; you can close this tab and return to the terminal.</p>",
    )
}

/// `login` from the command line: stdin lines are pasted addresses, the URL goes to stderr.
pub async fn command(
    config_path: &Path,
    account: Option<&str>,
    open: bool,
    code: Option<String>,
    env: EnvLookup<'_>,
) -> Output {
    let config = match load(config_path, env) {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    let secret = match client_secret(&config, account, env) {
        Ok(secret) => secret,
        Err(e) => return failure(&e),
    };
    let result = if let Some(address) = code {
        finish_with_code(&config, account, secret, &address).await
    } else {
        let (sender, pasted) = mpsc::channel(4);
        // A blocking reader: it ends with the process.
        let _ = std::thread::Builder::new()
            .name("login-stdin".to_owned())
            .spawn(move || {
                for line in std::io::stdin().lines() {
                    let Ok(line) = line else { break };
                    if sender.blocking_send(line).is_err() {
                        break;
                    }
                }
            });
        let tell = Box::new(move |prompt: Prompt<'_>| tell_terminal(&prompt, open));
        login(
            &config,
            account,
            secret,
            Interaction {
                tell,
                pasted,
                wait: CODE_LIFETIME,
            },
        )
        .await
    };
    match result {
        Ok(stdout) => Output {
            exit: Exit::Success,
            stdout,
            stderr: String::new(),
        },
        Err(e) => failure(&e),
    }
}

/// Asks `xdg-open` to show `url`, its output sent to /dev/null; failing quietly, since the
/// address is printed anyway. Through `posix_spawnp`, not `std::process::Command`: with
/// Debian's Rust, std's spawn links `pidfd_spawnp@GLIBC_2.39`, which would make the arm64
/// package refuse to load on Debian 12 (glibc 2.36), where `ci/arm64` checks it must run.
fn open_in_browser(url: &str) {
    use nix::fcntl::OFlag;
    use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, posix_spawnp};
    use nix::sys::stat::Mode;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStringExt as _;

    let (Ok(program), Ok(address)) = (CString::new("xdg-open"), CString::new(url)) else {
        return;
    };
    let Ok(mut actions) = PosixSpawnFileActions::init() else {
        return;
    };
    for fd in 0..3 {
        let flags = if fd == 0 {
            OFlag::O_RDONLY
        } else {
            OFlag::O_WRONLY
        };
        if actions
            .add_open(fd, c"/dev/null", flags, Mode::empty())
            .is_err()
        {
            return;
        }
    }
    let Ok(attr) = PosixSpawnAttr::init() else {
        return;
    };
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(key, value)| {
            let mut pair = key.into_vec();
            pair.push(b'=');
            pair.extend(value.into_vec());
            CString::new(pair).ok()
        })
        .collect();
    let _ = posix_spawnp(&program, &actions, &attr, &[program.clone(), address], &env);
}

/// Tells the terminal's user (the one place `login` prints before it ends).
#[expect(
    clippy::print_stderr,
    reason = "login talks to its user while it waits; its result goes through main as usual"
)]
fn tell_terminal(prompt: &Prompt<'_>, open: bool) {
    match prompt {
        Prompt::Url(url) => {
            eprintln!(
                "Open this address in a browser, sign in to Cloudreve and allow the access:\n\n  {url}\n\nWaiting up to 10 minutes for the browser to come back to 127.0.0.1. If the browser runs on another machine, its last page will not load: copy that page's address (http://127.0.0.1:…/callback?code=…) and paste it here, or run `cloudreve-autoselect login --code 'ADDRESS'`."
            );
            if open {
                open_in_browser(url.as_str());
            }
        }
        Prompt::NotAnAddress => eprintln!("{}", LoginError::NoCode),
    }
}

fn failure(error: &LoginError) -> Output {
    Output {
        exit: error.exit(),
        stdout: String::new(),
        stderr: format!("error: {error}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pasted_address_gives_its_code_only_with_the_right_state() {
        let redirect =
            Redirect::of_url("http://127.0.0.1:53682/callback?code=abc&state=s1").unwrap();
        assert_eq!(redirect.code_for("s1").unwrap(), "abc");
        let redirect =
            Redirect::of_url(" http://127.0.0.1:53682/callback?code=abc&state=s2\n").unwrap();
        assert!(matches!(
            redirect.code_for("s1"),
            Err(LoginError::StateMismatch)
        ));
        assert!(Redirect::of_url("not an address").is_none());
        assert!(Redirect::of_url("http://127.0.0.1:1/callback?state=s").is_none());
        let denied = Redirect::of_url("http://x/callback?error=access_denied&state=s").unwrap();
        assert!(matches!(
            denied.code_for("s"),
            Err(LoginError::Denied { .. })
        ));
    }
}
