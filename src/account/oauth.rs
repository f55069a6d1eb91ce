//! An OAuth account's grant: where its token store is (its `token_file`, the `oauth-token`
//! credential, or beside the state file) and the credentials the client starts from, checked
//! against the configured client and site.

use std::path::{Path, PathBuf};

use super::{CredentialError, fingerprint, refresh_token_store};
use crate::cloudreve::{Credentials, TokenStore};
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
) -> Result<TokenLocation, CredentialError> {
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
) -> Result<Credentials, CredentialError> {
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
pub fn credentials_of(
    account: &Account,
    env: EnvLookup<'_>,
) -> Result<Credentials, CredentialError> {
    match &account.server.oauth {
        Some(settings) => oauth_credentials(account, settings, env),
        None => Err(CredentialError::AccountCredentials {
            account: account.name.clone(),
        }),
    }
}

/// A grant issued to another client or site is not this account's.
pub fn check_grant(
    account: &Account,
    settings: &OAuthSettings,
    token: &TokenStore,
    path: &Path,
) -> Result<(), CredentialError> {
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
    Err(CredentialError::OAuthMismatch {
        path: path.to_owned(),
        what,
        account: account.name.clone(),
    })
}
