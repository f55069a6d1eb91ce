//! A scoped OAuth token (issue 27): `login` through the loopback listener with the test as the
//! browser, the pasted address and `login --code`, a wrong state, a reused code, a token
//! without `Workflow.Write` (40089), rotation across a restart, revocation, the server version,
//! the credential directory and the expiry warning.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cloudreve_autoselect::cloudreve::{Client, CodeExchange, ExchangeError, SCOPES, TokenStore};
use cloudreve_autoselect::command::login::{self, Interaction, LoginError};
use cloudreve_autoselect::config::{self, Config};
use cloudreve_autoselect::daemon::Daemon;
use cloudreve_autoselect::state::StateStore;
use cloudreve_autoselect::task::TaskId;
use cloudreve_emulator::{Backend, Emulator};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::{mpsc, oneshot};

use crate::support::{self, EMAIL, RULES};

const FULL: [&str; 4] = [
    "openid",
    "offline_access",
    "Workflow.Read",
    "Workflow.Write",
];

/// A port free a moment ago (the redirect URI names a fixed port, as an admin registers it).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

struct Site {
    emu: Emulator,
    dir: tempfile::TempDir,
    config_path: PathBuf,
    client_id: String,
    secret: String,
}

impl Site {
    async fn new(allowed: &[&str]) -> Self {
        let emu = support::emulator().await;
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let (client_id, secret) =
            emu.register_oauth_client(&format!("http://127.0.0.1:{port}/callback"), allowed);
        let secret_file = dir.path().join("client-secret");
        std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
        std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let config_path = dir.path().join("rules.toml");
        let text = format!(
            "[server]\nurl = \"{}\"\nemail = \"{EMAIL}\"\noauth_client_id = \"{client_id}\"\noauth_client_secret_file = \"{}\"\noauth_redirect_port = {port}\n[daemon]\nstate_file = \"{}\"\n{RULES}",
            emu.base_url(),
            secret_file.display(),
            dir.path().join("state.json").display(),
        );
        std::fs::write(&config_path, text).unwrap();
        std::fs::set_permissions(&config_path, std::fs::Permissions::from_mode(0o600)).unwrap();
        Self {
            emu,
            dir,
            config_path,
            client_id,
            secret,
        }
    }

    fn config(&self) -> Config {
        config::load(&self.config_path, &|_: &str| None).unwrap()
    }

    fn store_path(&self) -> PathBuf {
        self.dir.path().join("state.json.oauth-token.json")
    }

    fn args<'a>(&'a self, command: &'a str) -> [&'a str; 3] {
        ["--config", self.config_path.to_str().unwrap(), command]
    }

    /// A daemon in this process on the stored token.
    fn daemon(&self) -> Daemon {
        let config = self.config();
        let account = &config.accounts[0];
        let mut options =
            cloudreve_autoselect::account::account_client_options(account, &|_: &str| None)
                .unwrap();
        options.retries = 0;
        let client = Client::new(options).unwrap();
        let (state, _) = StateStore::open(&account.state_file).unwrap();
        Daemon::new(client, support::settings(RULES, false), state, None)
    }
}

/// A login running in this process: the URL it shows, a sender for pasted lines, its end.
struct Running {
    url: String,
    paste: mpsc::Sender<String>,
    done: tokio::task::JoinHandle<Result<String, LoginError>>,
}

async fn start_login(site: &Site, wait: Duration) -> Running {
    let config = site.config();
    let (url_sender, url_receiver) = oneshot::channel();
    let mut url_sender = Some(url_sender);
    let (paste, pasted) = mpsc::channel(4);
    let secret = login::client_secret(&config, None, &|_: &str| None).unwrap();
    let done = tokio::spawn(async move {
        login::login(
            &config,
            None,
            secret,
            Interaction {
                tell: Box::new(move |prompt| {
                    if let login::Prompt::Url(url) = prompt
                        && let Some(sender) = url_sender.take()
                    {
                        let _ = sender.send(url.to_string());
                    }
                }),
                pasted,
                wait,
            },
        )
        .await
    });
    let url = url_receiver.await.unwrap();
    Running { url, paste, done }
}

/// The browser: follows the authorize page's redirect (to the loopback listener), or not.
fn browser(follow: bool) -> reqwest::Client {
    let policy = if follow {
        reqwest::redirect::Policy::limited(3)
    } else {
        reqwest::redirect::Policy::none()
    };
    #[allow(clippy::disallowed_methods, reason = "the test's browser")]
    reqwest::Client::builder()
        .redirect(policy)
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Where the authorize page sends the browser.
async fn redirect_of(url: &str) -> String {
    let answer = browser(false).get(url).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 302, "{url}");
    answer.headers()["location"].to_str().unwrap().to_owned()
}

fn requests_to(
    emu: &Emulator,
    method: &str,
    path: &str,
) -> Vec<cloudreve_emulator::RecordedRequest> {
    emu.requests()
        .into_iter()
        .filter(|r| r.method == method && r.path == path)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_through_the_loopback_listener_gives_a_token_the_daemon_runs_on_and_rotates() {
    let site = Site::new(&FULL).await;
    site.emu.add_task(support::show(Backend::Aria2));
    let running = start_login(&site, Duration::from_secs(60)).await;
    let url = url::Url::parse(&running.url).unwrap();
    assert_eq!(url.path(), "/session/authorize");
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["scope"], SCOPES.join(" "));
    assert_eq!(query["code_challenge_method"], "S256");
    // The browser follows the redirect to the loopback listener, which ends the login.
    let page = browser(true).get(&running.url).send().await.unwrap();
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("you can close this tab")
    );
    let said = running.done.await.unwrap().unwrap();
    assert!(
        said.contains("scopes openid offline_access Workflow.Write"),
        "{said}"
    );
    let store = site.store_path();
    assert_eq!(
        std::fs::metadata(&store).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let first = TokenStore::read(&store).unwrap();
    assert_eq!(first.client_id, site.client_id);
    assert!(first.refresh_expires.is_some());
    assert!(
        !login::pending_file(&store).exists(),
        "the pending login is spent"
    );
    let exchange = requests_to(&site.emu, "POST", "/api/v4/session/oauth/token");
    assert_eq!(exchange.len(), 1);
    assert!(exchange[0].body.contains("code_verifier="));
    assert!(!said.contains(&site.secret));

    // `check` names the credential, its scopes and expiry.
    let output = support::run_binary(&site.args("check"), &[]).await;
    support::assert_exit(&output, 0);
    assert!(
        support::stdout(&output).contains(
            "sign-in: default by OAuth token (scopes openid offline_access Workflow.Write; expires "
        ),
        "{}",
        support::stdout(&output)
    );

    // The daemon: refresh without Authorization, never a password, rotation kept.
    let output = support::run_binary(
        &site.args("once"),
        &[("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)],
    )
    .await;
    support::assert_exit(&output, 0);
    assert_eq!(support::patches(&site.emu).len(), 1);
    assert_eq!(
        requests_to(&site.emu, "POST", "/api/v4/session/token").len(),
        0,
        "no password sign-in"
    );
    let refreshes = requests_to(&site.emu, "POST", "/api/v4/session/token/refresh");
    assert_eq!(refreshes.len(), 1);
    assert!(!refreshes[0].had_authorization);
    let rotated = TokenStore::read(&store).unwrap();
    assert_ne!(
        rotated.refresh_token.expose_secret(),
        first.refresh_token.expose_secret()
    );
    assert_eq!(rotated.scopes, first.scopes);
    assert_eq!(
        site.emu
            .oauth_scopes_of(rotated.refresh_token.expose_secret()),
        Some(first.scopes.clone()),
        "a refresh keeps the grant's scopes"
    );
    let log = support::stderr(&output);
    assert!(
        !log.contains(rotated.refresh_token.expose_secret())
            && !log.contains(first.refresh_token.expose_secret())
    );

    // A restart continues from the rotated token, even once the first one is gone.
    site.emu.expire_token(first.refresh_token.expose_secret());
    site.emu.add_task(support::all_junk(Backend::Qbittorrent));
    let output = support::run_binary(&site.args("once"), &[]).await;
    support::assert_exit(&output, 0);
    assert_eq!(
        requests_to(&site.emu, "POST", "/api/v4/session/token").len(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pasted_address_finishes_the_login_as_does_login_code_after_a_timeout() {
    let site = Site::new(&FULL).await;
    let running = start_login(&site, Duration::from_secs(60)).await;
    // A browser elsewhere: its redirect to 127.0.0.1 never arrives here; the user pastes it.
    let location = redirect_of(&running.url).await;
    running
        .paste
        .send("not an address".to_owned())
        .await
        .unwrap();
    running.paste.send(location).await.unwrap();
    running.done.await.unwrap().unwrap();
    let first = TokenStore::read(&site.store_path()).unwrap();

    // `login --code` finishes a login that stopped waiting, within the code's 10 minutes.
    let running = start_login(&site, Duration::from_millis(200)).await;
    let location = redirect_of(&running.url).await;
    let error = running.done.await.unwrap().unwrap_err();
    assert!(matches!(error, LoginError::TimedOut { .. }), "{error}");
    let output = support::run_binary(
        &[
            "--config",
            site.config_path.to_str().unwrap(),
            "login",
            "--code",
            &location,
        ],
        &[],
    )
    .await;
    support::assert_exit(&output, 0);
    let second = TokenStore::read(&site.store_path()).unwrap();
    assert_ne!(
        second.refresh_token.expose_secret(),
        first.refresh_token.expose_secret()
    );
    // The same address again: the login is spent.
    let output = support::run_binary(
        &[
            "--config",
            site.config_path.to_str().unwrap(),
            "login",
            "--code",
            &location,
        ],
        &[],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        support::stderr(&output).contains("no login is waiting"),
        "{}",
        support::stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_with_another_state_is_refused_and_its_code_never_exchanged() {
    let site = Site::new(&FULL).await;
    let running = start_login(&site, Duration::from_secs(60)).await;
    let mut forged = url::Url::parse(&running.url).unwrap();
    let pairs: Vec<(String, String)> = forged
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "state" {
                (k, "forged".to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    browser(true).get(forged.as_str()).send().await.unwrap();
    let error = running.done.await.unwrap().unwrap_err();
    assert!(matches!(error, LoginError::StateMismatch), "{error}");
    assert!(requests_to(&site.emu, "POST", "/api/v4/session/oauth/token").is_empty());
    assert!(!site.store_path().exists());
}

#[tokio::test]
async fn a_code_works_once_even_when_its_exchange_fails_and_scopes_are_checked() {
    let site = Site::new(&FULL).await;
    let config = site.config();
    let account = &config.accounts[0];
    let oauth = account.server.oauth.clone().unwrap();
    let client =
        Client::new(cloudreve_autoselect::account::connection_options(account).unwrap()).unwrap();
    let secret = SecretString::from(site.secret.clone());
    let authorize = |a: &cloudreve_autoselect::cloudreve::Authorization| {
        a.url(&account.server.url, &site.client_id, &oauth.redirect_uri())
            .to_string()
    };
    let code_of = |location: &str| {
        url::Url::parse(location)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned()
    };
    let redirect_uri = oauth.redirect_uri();
    let exchange = |code: &str, verifier: &SecretString| {
        let (client, secret, site_url) = (&client, &secret, &account.server.url);
        let (code, verifier, redirect_uri, client_id) = (
            code.to_owned(),
            verifier.clone(),
            redirect_uri.clone(),
            site.client_id.clone(),
        );
        async move {
            client
                .exchange_code(
                    &CodeExchange {
                        client_id: &client_id,
                        client_secret: secret,
                        code: &code,
                        verifier: &verifier,
                        redirect_uri: &redirect_uri,
                    },
                    site_url,
                )
                .await
        }
    };
    // A reused code.
    let a = cloudreve_autoselect::cloudreve::Authorization::new().unwrap();
    let code = code_of(&redirect_of(&authorize(&a)).await);
    exchange(&code, &a.verifier).await.unwrap();
    let again = exchange(&code, &a.verifier).await.unwrap_err();
    assert!(
        matches!(&again, ExchangeError::Refused { error, .. } if error == "invalid_grant"),
        "{again}"
    );
    assert!(again.to_string().contains("run login again"), "{again}");
    // A failed exchange (wrong verifier) spends the code too.
    let b = cloudreve_autoselect::cloudreve::Authorization::new().unwrap();
    let code = code_of(&redirect_of(&authorize(&b)).await);
    assert!(exchange(&code, &a.verifier).await.is_err());
    let spent = exchange(&code, &b.verifier).await.unwrap_err();
    assert!(
        matches!(&spent, ExchangeError::Refused { error, .. } if error == "invalid_grant"),
        "{spent}"
    );
    // A server granting less than asked: refused by the scope check, nothing stored.
    site.emu.grant_only(Some(&["openid", "offline_access"]));
    let c = cloudreve_autoselect::cloudreve::Authorization::new().unwrap();
    let code = code_of(&redirect_of(&authorize(&c)).await);
    let narrow = exchange(&code, &c.verifier).await.unwrap_err();
    assert!(
        matches!(&narrow, ExchangeError::ScopesMissing { missing, .. } if missing == "Workflow.Write"),
        "{narrow}"
    );
    // A wrong secret.
    site.emu.grant_only(None);
    let d = cloudreve_autoselect::cloudreve::Authorization::new().unwrap();
    let code = code_of(&redirect_of(&authorize(&d)).await);
    let wrong = Client::new(cloudreve_autoselect::account::connection_options(account).unwrap())
        .unwrap()
        .exchange_code(
            &CodeExchange {
                client_id: &site.client_id,
                client_secret: &SecretString::from("wrong".to_owned()),
                code: &code,
                verifier: &d.verifier,
                redirect_uri: &redirect_uri,
            },
            &account.server.url,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&wrong, ExchangeError::Refused { error, .. } if error == "invalid_client"),
        "{wrong}"
    );
}

fn write_store(site: &Site, refresh_token: String, scopes: &[&str]) {
    TokenStore {
        site: site.config().server.url.to_string(),
        client_id: site.client_id.clone(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        refresh_token: SecretString::from(refresh_token),
        refresh_expires: None,
    }
    .write(&site.store_path())
    .unwrap();
}

#[tokio::test]
async fn a_token_without_workflow_write_is_refused_with_40089_naming_it_and_decides_nothing() {
    let site = Site::new(&FULL).await;
    let id = site.emu.add_task(support::show(Backend::Aria2));
    let read_only = ["openid", "offline_access", "Workflow.Read"];
    write_store(
        &site,
        site.emu.issue_oauth_token(&site.client_id, &read_only),
        &read_only,
    );
    let daemon = site.daemon();
    let report = daemon.tick().await;
    assert_eq!(report.patched(), 0, "{report:?}");
    let patch = requests_to(
        &site.emu,
        "PATCH",
        &format!("/api/v4/workflow/download/{id}"),
    );
    assert_eq!(patch.len(), 1, "the PATCH was tried once");
    let text = format!("{:?}", report.tasks);
    assert!(
        text.contains("lacks the scope Workflow.Write (40089"),
        "{text}"
    );
    drop(daemon);
    let state = StateStore::read_only(&site.dir.path().join("state.json")).unwrap();
    let decided = state.decided(&TaskId::new(&id));
    let body: serde_json::Value = serde_json::from_str(&patch[0].body).unwrap();
    let refused: Vec<u64> = body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["index"].as_u64().unwrap())
        .collect();
    assert!(!refused.is_empty());
    assert!(
        refused.iter().all(|index| !decided.contains_key(index)),
        "nothing the refused PATCH carried is marked decided: {decided:?}"
    );
    assert!(
        support::selected(&site.emu, &id)
            .iter()
            .all(|(_, download)| *download)
    );

    // Without even Workflow.Read, the list itself is refused, naming the scope.
    let bare = ["openid", "offline_access"];
    write_store(
        &site,
        site.emu.issue_oauth_token(&site.client_id, &bare),
        &bare,
    );
    let report = site.daemon().tick().await;
    let error = report.error.unwrap().to_string();
    assert!(
        error.contains("GET /workflow: the OAuth token lacks the scope Workflow.Read"),
        "{error}"
    );

    // Before 4.16.1 scopes are not enforced: the same token changes downloads, with a warning
    // at every start.
    site.emu.set_version("4.16.0");
    let output = support::run_binary(&site.args("once"), &[]).await;
    support::assert_exit(&output, 0);
    assert!(
        support::stderr(&output).contains("does not enforce OAuth scopes"),
        "{}",
        support::stderr(&output)
    );
    assert!(
        support::selected(&site.emu, &id)
            .iter()
            .any(|(_, download)| !download),
        "the junk is deselected now"
    );
    // Before 4.12 there is no OAuth at all: a configuration error.
    site.emu.set_version("4.11.2");
    let output = support::run_binary(&site.args("once"), &[]).await;
    support::assert_exit(&output, 78);
    assert!(support::stderr(&output).contains("has no OAuth clients (they arrived in 4.12)"));
}

#[tokio::test]
async fn a_revoked_token_gives_one_clear_error_naming_login_and_no_hammering() {
    let site = Site::new(&FULL).await;
    site.emu.add_task(support::show(Backend::Aria2));
    let token = site.emu.issue_oauth_token(&site.client_id, &SCOPES);
    write_store(&site, token.clone(), &SCOPES);
    // The user signs the token family out (`DELETE /session/token`).
    let answer = browser(false)
        .delete(format!("{}api/v4/session/token", site.emu.base_url()))
        .json(&serde_json::json!({ "refresh_token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let daemon = site.daemon();
    let first = daemon.tick().await;
    let error = first.error.as_ref().unwrap().to_string();
    assert!(
        error.contains("run `cloudreve-autoselect login --account default`"),
        "{error}"
    );
    assert_eq!(first.events.len(), 1, "one incident: {:?}", first.events);
    let refreshes = requests_to(&site.emu, "POST", "/api/v4/session/token/refresh").len();
    for _ in 0..3 {
        let report = daemon.tick().await;
        assert!(report.error.is_some());
        assert!(report.events.is_empty(), "the incident is not repeated");
    }
    assert_eq!(
        requests_to(&site.emu, "POST", "/api/v4/session/token/refresh").len(),
        refreshes,
        "a rejected token is not tried again"
    );
    assert!(requests_to(&site.emu, "POST", "/api/v4/session/token").is_empty());

    // A disabled client cuts a fresh grant off the same way.
    let token = site.emu.issue_oauth_token(&site.client_id, &SCOPES);
    write_store(&site, token, &SCOPES);
    site.emu.disable_oauth_client(&site.client_id);
    drop(daemon);
    let error = site.daemon().tick().await.error.unwrap().to_string();
    assert!(error.contains("login --account default"), "{error}");
}

#[tokio::test]
async fn the_credential_directory_delivers_the_store_and_expiry_is_warned_a_week_ahead() {
    let site = Site::new(&FULL).await;
    site.emu.add_task(support::show(Backend::Aria2));
    let token = site.emu.issue_oauth_token(&site.client_id, &SCOPES);
    write_store(&site, token, &SCOPES);
    let credentials = site.dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    // systemd's directory credential: `<id>_oauth-token`.
    let delivered = credentials.join("cloudreve-autoselect_oauth-token");
    std::fs::rename(site.store_path(), &delivered).unwrap();
    let before = std::fs::read(&delivered).unwrap();
    let env = [("CREDENTIALS_DIRECTORY", credentials.to_str().unwrap())];
    let output = support::run_binary(&site.args("once"), &env).await;
    support::assert_exit(&output, 0);
    assert_eq!(support::patches(&site.emu).len(), 1);
    assert_eq!(
        std::fs::read(&delivered).unwrap(),
        before,
        "the credential is never written"
    );
    let kept: Vec<PathBuf> = std::fs::read_dir(site.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".oauth-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let rotated = TokenStore::read(&kept[0]).unwrap();
    // The next start reads the kept rotation, not the spent delivered token.
    site.emu.expire_token(
        TokenStore::read(&delivered)
            .unwrap()
            .refresh_token
            .expose_secret(),
    );
    let output = support::run_binary(&site.args("once"), &env).await;
    support::assert_exit(&output, 0);
    assert!(rotated.refresh_expires.is_some());

    // A token within 7 days of its expiry: a warning in `check`.
    let mut soon = TokenStore::read(&kept[0]).unwrap();
    soon.refresh_expires = Some(chrono::Utc::now() + chrono::TimeDelta::days(3));
    soon.write(&kept[0]).unwrap();
    let output = support::run_binary(&site.args("check"), &env).await;
    support::assert_exit(&output, 0);
    assert!(
        support::stderr(&output)
            .contains("warning: account default: the OAuth token expires in 2 days"),
        "{}",
        support::stderr(&output)
    );
}

#[tokio::test]
async fn a_token_near_its_expiry_warns_in_the_heartbeat_and_notifies_once() {
    let site = Site::new(&FULL).await;
    site.emu.add_task(support::show(Backend::Aria2));
    // The admin gave the client a short refresh-token lifetime: each rotation lasts 3 days.
    site.emu
        .update_options(|o| o.refresh_ttl = Duration::from_secs(3 * 86_400));
    write_store(
        &site,
        site.emu.issue_oauth_token(&site.client_id, &SCOPES),
        &SCOPES,
    );
    let daemon = site.daemon();
    let first = daemon.tick().await;
    assert_eq!(first.patched(), 1, "{first:?}");
    assert_eq!(first.warnings.len(), 1, "{first:?}");
    assert!(
        first.warnings[0].contains("the OAuth token expires in 2 days"),
        "{:?}",
        first.warnings
    );
    let kinds: Vec<&str> = first
        .events
        .iter()
        .map(cloudreve_autoselect::outcome::OperatorEvent::kind)
        .collect();
    assert_eq!(kinds, ["token_expiring"]);
    let line = cloudreve_autoselect::daemon::heartbeat_line(&first, chrono::Utc::now());
    assert!(
        line.contains(" warning: account default: the OAuth token expires"),
        "{line}"
    );
    // Still near: no second notification, and no recovery either.
    site.emu.expire_access_tokens();
    let second = daemon.tick().await;
    assert_eq!(second.warnings.len(), 1);
    assert!(second.events.is_empty(), "{:?}", second.events);
    // A rotation with a long lifetime clears it.
    site.emu
        .update_options(|o| o.refresh_ttl = Duration::from_secs(90 * 86_400));
    site.emu.expire_access_tokens();
    let third = daemon.tick().await;
    assert!(third.warnings.is_empty(), "{:?}", third.warnings);
    let kinds: Vec<&str> = third
        .events
        .iter()
        .map(cloudreve_autoselect::outcome::OperatorEvent::kind)
        .collect();
    assert_eq!(kinds, ["recovered"]);
}

#[tokio::test]
async fn login_for_an_account_without_a_client_or_secret_is_a_config_error() {
    let emu = support::emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    std::fs::write(&path, support::config_text(&emu.base_url(), RULES)).unwrap();
    let output = support::run_binary(&["--config", path.to_str().unwrap(), "login"], &[]).await;
    assert_eq!(output.status.code(), Some(78));
    assert!(
        support::stderr(&output).contains("account default names no OAuth client"),
        "{}",
        support::stderr(&output)
    );
    // A client without its secret: never asked for on the command line.
    let site = Site::new(&FULL).await;
    std::fs::remove_file(site.dir.path().join("client-secret")).unwrap();
    let output = support::run_binary(&site.args("login"), &[]).await;
    assert_eq!(output.status.code(), Some(78));
    assert!(
        support::stderr(&output).contains("could not read the OAuth client secret"),
        "{}",
        support::stderr(&output)
    );
    // And the daemon without a token store says to log in.
    let output = support::run_binary(&site.args("once"), &[]).await;
    assert_eq!(output.status.code(), Some(78));
    assert!(
        support::stderr(&output).contains("run `cloudreve-autoselect login`"),
        "{}",
        support::stderr(&output)
    );
}

#[test]
fn store_paths_do_not_clash_with_the_refresh_token_store() {
    let state = Path::new("/s/state.json");
    assert_eq!(
        config::default_token_file(state),
        Path::new("/s/state.json.oauth-token.json")
    );
    assert_eq!(
        login::pending_file(&config::default_token_file(state)),
        Path::new("/s/state.json.oauth-token.json.pending")
    );
}

/// `login --open` hands the address to `xdg-open` (here a stand-in on `PATH` that records it, with
/// its output going nowhere), and the browser coming back ends the login as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_open_hands_the_address_to_xdg_open() {
    cloudreve_autoselect::cloudreve::install_crypto_provider();
    let site = Site::new(&FULL).await;
    let bin = tempfile::tempdir().unwrap();
    let seen = bin.path().join("seen");
    let script = bin.path().join("xdg-open");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ -t 1 ] && exit 9\nprintf '%s' \"$1\" > '{}.tmp' && mv '{0}.tmp' '{0}'\n",
            seen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = tokio::process::Command::new(support::binary())
        .args(site.args("login"))
        .arg("--open")
        .env("PATH", path)
        .env_remove("CREDENTIALS_DIRECTORY")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // A bounded poll on another process's file: xdg-open runs as soon as login prints.
    let started = std::time::Instant::now();
    let url = loop {
        if let Ok(url) = std::fs::read_to_string(&seen) {
            break url;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "xdg-open was never run"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(url.contains("/session/authorize?"), "{url}");
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    browser(true).get(&url).send().await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(TokenStore::read(&site.store_path()).is_ok());
}
