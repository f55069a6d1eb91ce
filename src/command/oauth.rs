//! OAuth accounts in the commands: where an account's token store is (its `token_file`, the
//! `oauth-token` credential, or beside the state file), the credentials the client starts
//! from, what `check` says about each account's credential, and the server-version check at
//! start (no OAuth before 4.12; scopes not enforced before 4.16.1).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::credentials::{SetupError, fingerprint, refresh_token_store};
use crate::cloudreve::{Client, Credentials, OAuthSupport, TokenStore};
use crate::config::{self, Account, EnvLookup, OAuthSettings};

/// Where an account's OAuth grant is read from and its rotations written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenLocation {
    /// The file read at start.
    pub read: PathBuf,
    /// The file every rotation is written to (the same file, except for a read-only
    /// credential, whose rotations are kept beside the state file).
    pub write: PathBuf,
}

/// The credential name of an account's token store.
fn token_credential(account: &str) -> String {
    if account == config::DEFAULT_ACCOUNT {
        config::TOKEN_CREDENTIAL.to_owned()
    } else {
        format!("{account}.{}", config::TOKEN_CREDENTIAL)
    }
}

/// Where `login` writes an account's token store: its `token_file`, else beside its state file.
pub fn login_token_file(account: &Account, settings: &OAuthSettings) -> PathBuf {
    settings
        .token_file
        .clone()
        .unwrap_or_else(|| config::default_token_file(&account.state_file))
}

/// Where the daemon reads the grant: `token_file`; else the `oauth-token` credential (systemd
/// `LoadCredential=`, a Docker secret), whose rotations are kept under a name derived from the
/// delivered token, as for the `refresh-token` credential; else the file `login` writes beside
/// the state file.
pub fn token_location(
    account: &Account,
    settings: &OAuthSettings,
    env: EnvLookup<'_>,
) -> Result<TokenLocation, SetupError> {
    if let Some(file) = &settings.token_file {
        return Ok(TokenLocation {
            read: file.clone(),
            write: file.clone(),
        });
    }
    if let Some(delivered) = config::credential_file(&token_credential(&account.name), env) {
        let grant = TokenStore::read(&delivered)?;
        let mut kept = refresh_token_store(&account.state_file).into_os_string();
        kept.push(format!(
            ".oauth-{:016x}.json",
            fingerprint(secrecy::ExposeSecret::expose_secret(&grant.refresh_token))
        ));
        let kept = PathBuf::from(kept);
        return Ok(TokenLocation {
            read: if kept.exists() {
                kept.clone()
            } else {
                delivered
            },
            write: kept,
        });
    }
    let file = config::default_token_file(&account.state_file);
    Ok(TokenLocation {
        read: file.clone(),
        write: file,
    })
}

/// The credentials of an OAuth account: its stored grant, checked against the configured
/// client and site.
pub fn oauth_credentials(
    account: &Account,
    settings: &OAuthSettings,
    env: EnvLookup<'_>,
) -> Result<Credentials, SetupError> {
    let location = token_location(account, settings, env)?;
    let token = TokenStore::read(&location.read)?;
    check_grant(account, settings, &token, &location.read)?;
    Ok(Credentials::OAuth {
        token,
        store: location.write,
        account: account.name.clone(),
    })
}

/// [`oauth_credentials`] for an account whose table names an OAuth client.
pub fn credentials_of(account: &Account, env: EnvLookup<'_>) -> Result<Credentials, SetupError> {
    match &account.server.oauth {
        Some(settings) => oauth_credentials(account, settings, env),
        None => Err(SetupError::AccountCredentials {
            account: account.name.clone(),
        }),
    }
}

/// A grant issued to another client or site is not this account's.
fn check_grant(
    account: &Account,
    settings: &OAuthSettings,
    token: &TokenStore,
    path: &Path,
) -> Result<(), SetupError> {
    let what = if token.client_id != settings.client_id {
        format!(
            "was issued to OAuth client {}, not the configured {}",
            token.client_id, settings.client_id
        )
    } else if token.site != account.server.url.as_str() {
        format!(
            "is for the site {}, not the configured {}",
            token.site, account.server.url
        )
    } else {
        return Ok(());
    };
    Err(SetupError::OAuthMismatch {
        path: path.to_owned(),
        what,
        account: account.name.clone(),
    })
}

/// For `check`: `; sign-in: NAME by KIND, ...` appended to `out`, and a warning line per
/// credential that needs attention (an unusable or nearly expired OAuth token).
pub fn describe_credentials(
    config: &config::Config,
    env: EnvLookup<'_>,
    out: &mut String,
    warnings: &mut String,
) {
    let now = Utc::now();
    let mut lines = Vec::new();
    for account in &config.accounts {
        let (line, warning) = describe_credential(account, env, now);
        lines.push(line);
        if let Some(warning) = warning {
            warnings.push_str("warning: ");
            warnings.push_str(&warning);
            warnings.push('\n');
        }
    }
    out.push_str("; sign-in: ");
    out.push_str(&lines.join(", "));
}

/// How `check` describes an account's credential, and a warning when it needs attention soon.
pub fn describe_credential(
    account: &Account,
    env: EnvLookup<'_>,
    now: DateTime<Utc>,
) -> (String, Option<String>) {
    let server = &account.server;
    let Some(settings) = &server.oauth else {
        return (
            format!("{} by {}", account.name, plain_kind(account, env)),
            None,
        );
    };
    let grant = token_location(account, settings, env).and_then(|location| {
        let token = TokenStore::read(&location.read)?;
        check_grant(account, settings, &token, &location.read)?;
        Ok(token)
    });
    match grant {
        Ok(token) => {
            let expires = token.refresh_expires.map_or_else(
                || "expiry unknown".to_owned(),
                |t| format!("expires {}", t.format("%Y-%m-%d %H:%M UTC")),
            );
            let warning = token.expiry_warning(&account.name, now);
            (
                format!(
                    "{} by OAuth token (scopes {}; {expires})",
                    account.name,
                    token.scope_text()
                ),
                warning,
            )
        }
        Err(e) => (
            format!("{} by OAuth token (not usable)", account.name),
            Some(format!("account {}: {e}", account.name)),
        ),
    }
}

/// Which full-access credential an account without an OAuth client signs in with, found as
/// [`super::account_client_options`] finds it, without reading any secret.
fn plain_kind(account: &Account, env: EnvLookup<'_>) -> &'static str {
    let server = &account.server;
    if server.refresh_token_file.is_some() {
        return "refresh token (full access)";
    }
    if !matches!(server.password, config::PasswordSetting::FromEnvironment) {
        return "password (full access)";
    }
    let (password, token) = if account.name == config::DEFAULT_ACCOUNT {
        if env(config::PASSWORD_ENV).is_some_and(|v| !v.is_empty()) {
            return "password (full access)";
        }
        (
            config::PASSWORD_CREDENTIAL.to_owned(),
            config::REFRESH_TOKEN_CREDENTIAL.to_owned(),
        )
    } else {
        (
            format!("{}.password", account.name),
            format!("{}.refresh-token", account.name),
        )
    };
    if config::credential_file(&password, env).is_some() {
        "password (full access)"
    } else if config::credential_file(&token, env).is_some() {
        "refresh token (full access)"
    } else {
        "no credential found"
    }
}

/// At start: the server's version for an OAuth account. Before 4.12 there is no OAuth (an
/// error); before 4.16.1 the token is not limited (a warning, at every start).
pub async fn check_server(client: &Client, account: &str) -> Result<(), String> {
    if client.oauth_grant().is_none() {
        return Ok(());
    }
    match client.oauth_support().await {
        Ok(support @ OAuthSupport::Unavailable { .. }) => {
            Err(format!("account {account}: {support}"))
        }
        Ok(support @ OAuthSupport::NotEnforced { .. }) => {
            tracing::warn!(account, "{support}");
            Ok(())
        }
        Ok(OAuthSupport::Enforced { version }) => {
            tracing::info!(account, version, "OAuth scopes are enforced by this server");
            Ok(())
        }
        Err(e) => {
            // The ticks will report an unreachable server; the version is asked again at the
            // next start.
            tracing::warn!(account, error = %e, "could not ask the server its version (GET /site/ping); whether it enforces OAuth scopes is unknown");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accounts(text: &str) -> Vec<Account> {
        config::parse(text, Path::new("/etc/cra/rules.toml"), &|_: &str| None)
            .unwrap()
            .accounts
    }

    #[test]
    fn check_names_each_accounts_kind_of_credential() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bob.refresh-token"), "t").unwrap();
        let dir_text = dir.path().to_string_lossy().into_owned();
        let env = |name: &str| (name == "CREDENTIALS_DIRECTORY").then(|| dir_text.clone());
        let accounts = accounts(&format!(
            "[server]\nurl = \"https://a.example\"\nemail = \"a@example.com\"\n[daemon]\nstate_file = \"{dir_text}/state.json\"\n[[account]]\nname = \"bob\"\nurl = \"https://a.example\"\nemail = \"b@example.com\"\n[[account]]\nname = \"carol\"\nurl = \"https://a.example\"\nemail = \"c@example.com\"\noauth_client_id = \"5b0e1f5e-3f7a-4c43-9d44-6f6a8a0f4b1e\"\n[[rule]]\nname = \"j\"\naction = \"skip\"\nglob = \"*.exe\"\n"
        ));
        let now = Utc::now();
        let lines: Vec<(String, Option<String>)> = accounts
            .iter()
            .map(|a| describe_credential(a, &env, now))
            .collect();
        assert_eq!(lines[0].0, "default by no credential found");
        assert_eq!(lines[1].0, "bob by refresh token (full access)");
        assert_eq!(lines[2].0, "carol by OAuth token (not usable)");
        let warning = lines[2].1.as_deref().unwrap();
        assert!(
            warning.contains("state.carol.json.oauth-token.json") && warning.contains("login"),
            "{warning}"
        );
    }
}
