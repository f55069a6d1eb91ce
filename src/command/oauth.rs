//! OAuth accounts in the commands: what `check` says about each account's credential, and the
//! server-version check at start (no OAuth before 4.12; scopes not enforced before 4.16.1).
//! Where a grant is read is [`crate::account::oauth`]'s.

use chrono::{DateTime, Utc};

use crate::account::oauth::{check_grant, token_location};
use crate::cloudreve::{Client, OAuthSupport, TokenStore};
use crate::config::{self, Account, EnvLookup};

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
/// [`crate::account::account_client_options`] finds it, without reading any secret.
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
    use std::path::Path;

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
