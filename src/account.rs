//! An account's client options, built from the config: its credentials (a password, or a
//! refresh token continued from its rotation kept beside the state file, or OAuth) and its
//! connection settings. Part of the shell (it reads files); the commands and `login` build
//! their clients through it. Its leaves: `oauth` (where an OAuth grant is read and kept) and
//! `source` (naming a password's source); neither imports a command.

use std::path::PathBuf;

use secrecy::SecretString;

use crate::cloudreve::{ClientOptions, Credentials};
use crate::config::{self, Config, EnvLookup};

pub mod oauth;
mod source;

/// The client could not be set up from the config.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// No usable password.
    #[error(transparent)]
    Password(#[from] config::PasswordError),
    /// A named account has no credential.
    #[error(
        "no password or refresh token for account {account}: set password_file or refresh_token_file in its [[account]] table, or put {account}.password or {account}.refresh-token into $CREDENTIALS_DIRECTORY"
    )]
    AccountCredentials {
        /// The account.
        account: String,
    },
    /// A file named in the config could not be read.
    #[error("could not read {key} {path}: {source}")]
    Read {
        /// The config key.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The OAuth token store is missing or unreadable.
    #[error(transparent)]
    OAuthStore(#[from] crate::cloudreve::StoreError),
    /// The OAuth token store is not this account's.
    #[error(
        "the OAuth token store {path} {what}; run `cloudreve-autoselect login --account {account}`"
    )]
    OAuthMismatch {
        /// The store.
        path: PathBuf,
        /// What differs.
        what: String,
        /// The account.
        account: String,
    },
    /// The refresh-token file is empty.
    #[error(
        "server.refresh_token_file {path} is empty; paste the refresh token from the browser's local storage into it"
    )]
    EmptyToken {
        /// The file.
        path: PathBuf,
    },
}

/// Where the rotated refresh tokens are kept: beside the state file, mode 0600.
pub fn refresh_token_store(state_file: &std::path::Path) -> PathBuf {
    let mut name = state_file.as_os_str().to_owned();
    name.push(".refresh-token");
    PathBuf::from(name)
}

pub(super) fn modified(path: &std::path::Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The refresh token to start from: the newest of the configured file and the kept rotation.
pub(super) fn initial_refresh_token(
    configured: &std::path::Path,
    store: &std::path::Path,
) -> Result<SecretString, CredentialError> {
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path).map_err(|source| CredentialError::Read {
            key: "server.refresh_token_file",
            path: path.to_owned(),
            source,
        })
    };
    let use_store = matches!((modified(store), modified(configured)), (Some(kept), Some(given)) if kept >= given)
        || (store.exists() && !configured.exists());
    let text = if use_store {
        read_kept_token(store)?
    } else {
        read(configured)?
    };
    let token = text.trim();
    if token.is_empty() {
        return Err(CredentialError::EmptyToken {
            path: configured.to_owned(),
        });
    }
    Ok(SecretString::from(token.to_owned()))
}

/// The refresh token the daemon kept: its own file, so never through a link, and small.
pub(super) fn read_kept_token(path: &std::path::Path) -> Result<String, CredentialError> {
    crate::durable::read_capped(path, 64 * 1024)
        .and_then(|bytes| {
            String::from_utf8(bytes)
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
        })
        .map_err(|source| CredentialError::Read {
            key: "server.refresh_token_file",
            path: path.to_owned(),
            source,
        })
}

/// Sign-in from a `refresh-token` credential (systemd `LoadCredential=`, a Docker secret).
///
/// systemd copies a credential afresh at every start, so its modification time says nothing
/// about its age and [`initial_refresh_token`]'s comparison cannot work. Instead the rotated
/// tokens are kept under a name derived from the delivered token: a restart with the same
/// credential continues from the newest rotation, and a new credential starts afresh.
pub(super) fn delivered_refresh_token(
    file: &std::path::Path,
    state_file: &std::path::Path,
) -> Result<Credentials, CredentialError> {
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path)
            .map(|text| text.trim().to_owned())
            .map_err(|source| CredentialError::Read {
                key: "refresh-token credential",
                path: path.to_owned(),
                source,
            })
    };
    let delivered = read(file)?;
    if delivered.is_empty() {
        return Err(CredentialError::EmptyToken {
            path: file.to_owned(),
        });
    }
    let mut store = refresh_token_store(state_file).into_os_string();
    store.push(format!("-{:016x}", fingerprint(&delivered)));
    let store = PathBuf::from(store);
    let token = match read_kept_token(&store) {
        Ok(kept) if !kept.trim().is_empty() => kept.trim().to_owned(),
        _ => delivered,
    };
    // Name the file the operator edits rather than systemd's private copy.
    let prefix = format!("{}_", config::CREDENTIAL_ID);
    let name = file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let source_file = match name.strip_prefix(&prefix) {
        Some(credential) => PathBuf::from(format!(
            "/etc/credstore/{}/{credential} (the unit's LoadCredential= directory; delivered as {})",
            config::CREDENTIAL_ID,
            file.display()
        )),
        None => file.to_owned(),
    };
    Ok(Credentials::RefreshToken {
        token: SecretString::from(token),
        store: Some(store),
        source_file,
    })
}

/// FNV-1a, 64 bits: a stable name for a token (not a secret-keeping hash; the store it names
/// holds a live token anyway and is readable only by the daemon's user).
pub(super) fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Client options from a config for its first account: credentials, CA certificates, timeouts.
pub fn client_options(
    config: &Config,
    env: EnvLookup<'_>,
) -> Result<ClientOptions, CredentialError> {
    match config.accounts.first() {
        Some(account) => account_client_options(account, env),
        None => Err(CredentialError::Password(config::PasswordError::Missing)),
    }
}

/// The credentials of a named (non-default) account whose table sets no password: its own
/// credentials `<name>.password`, else `<name>.refresh-token`, found as every credential is
/// ([`config::credential_file`]: a Docker secret, or a systemd directory credential with its
/// `<id>_` prefix).
pub(super) fn named_account_credentials(
    account: &config::Account,
    env: EnvLookup<'_>,
) -> Result<Option<Credentials>, CredentialError> {
    if let Some(password) = config::credential_file(&format!("{}.password", account.name), env) {
        let setting = config::PasswordSetting::File(password);
        return Ok(Some(Credentials::Password(config::resolve_password(
            &setting, env,
        )?)));
    }
    match config::credential_file(&format!("{}.refresh-token", account.name), env) {
        Some(token) => delivered_refresh_token(&token, &account.state_file).map(Some),
        None => Ok(None),
    }
}

/// Client options for one account: credentials, CA certificates, timeouts.
pub fn account_client_options(
    account: &config::Account,
    env: EnvLookup<'_>,
) -> Result<ClientOptions, CredentialError> {
    let server = &account.server;
    let named = account.name != config::DEFAULT_ACCOUNT;
    let credentials = match &server.refresh_token_file {
        // An OAuth account uses its token only, never a password found in the environment.
        _ if server.oauth.is_some() => oauth::credentials_of(account, env)?,
        Some(file) => {
            let store = refresh_token_store(&account.state_file);
            Credentials::RefreshToken {
                token: initial_refresh_token(file, &store)?,
                store: Some(store),
                source_file: file.clone(),
            }
        }
        None if named && matches!(server.password, config::PasswordSetting::FromEnvironment) => {
            named_account_credentials(account, env)?.ok_or_else(|| {
                CredentialError::AccountCredentials {
                    account: account.name.clone(),
                }
            })?
        }
        // A password from any source wins over a `refresh-token` credential.
        None => match config::resolve_password(&server.password, env) {
            Ok(password) => Credentials::Password(password),
            Err(config::PasswordError::Missing) => {
                match config::credential_file(config::REFRESH_TOKEN_CREDENTIAL, env) {
                    Some(file) => delivered_refresh_token(&file, &account.state_file)?,
                    None => return Err(config::PasswordError::Missing.into()),
                }
            }
            Err(e) => return Err(e.into()),
        },
    };
    let mut options = connection_options(account)?;
    options.credentials = credentials;
    options.credential_source = source::password_source(account, env);
    Ok(options)
}

/// Client options for one account without its credentials: CA certificates, timeouts.
pub fn connection_options(account: &config::Account) -> Result<ClientOptions, CredentialError> {
    let server = &account.server;
    let mut options = ClientOptions::new(
        server.api_base.clone(),
        server.email.clone(),
        SecretString::from(String::new()),
    );
    if let Some(ca_file) = &server.ca_file {
        options.extra_roots_pem =
            std::fs::read(ca_file).map_err(|source| CredentialError::Read {
                key: "server.ca_file",
                path: ca_file.clone(),
                source,
            })?;
    }
    options.accept_invalid_certs = server.accept_invalid_certs;
    options.timeout = server.timeout;
    options.connect_timeout = server.connect_timeout;
    options.retries = server.retries;
    Ok(options)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    fn refresh_token_of(options: &ClientOptions) -> (String, PathBuf) {
        match &options.credentials {
            Credentials::RefreshToken { token, store, .. } => (
                token.expose_secret().to_owned(),
                store.clone().unwrap_or_default(),
            ),
            _ => panic!("expected a refresh token"),
        }
    }

    #[test]
    fn refresh_token_credential_continues_from_its_rotation_and_password_wins() {
        let dir = tempfile::tempdir().unwrap();
        let credentials = dir.path().join("credentials");
        std::fs::create_dir(&credentials).unwrap();
        let token_file = credentials.join("cloudreve-autoselect_refresh-token");
        std::fs::write(&token_file, "first\n").unwrap();
        let text = format!(
            "[server]\nurl = \"https://cloud.example.com\"\nemail = \"bot@example.com\"\n[daemon]\nstate_file = \"{}\"\n",
            dir.path().join("state.json").display()
        );
        let creds_dir = credentials.to_str().unwrap().to_owned();
        let env = move |key: &str| (key == "CREDENTIALS_DIRECTORY").then(|| creds_dir.clone());
        let config = config::parse(&text, std::path::Path::new("rules.toml"), &env).unwrap();

        let (token, store) = refresh_token_of(&client_options(&config, &env).unwrap());
        assert_eq!(token, "first");
        // The client rotates the token; systemd copies the credential again at the next start,
        // newer than the rotation: the rotation still wins.
        std::fs::write(&store, "rotated").unwrap();
        std::fs::write(&token_file, "first\n").unwrap();
        assert_eq!(
            refresh_token_of(&client_options(&config, &env).unwrap()),
            ("rotated".to_owned(), store.clone())
        );
        // The operator delivers a new token: it starts afresh.
        std::fs::write(&token_file, "second\n").unwrap();
        let (token, new_store) = refresh_token_of(&client_options(&config, &env).unwrap());
        assert_eq!(token, "second");
        assert_ne!(new_store, store);
        // A password beside it wins.
        std::fs::write(credentials.join("cloudreve-autoselect_password"), "pw\n").unwrap();
        assert!(matches!(
            client_options(&config, &env).unwrap().credentials,
            Credentials::Password(_)
        ));
    }

    #[test]
    fn fingerprint_is_fnv1a() {
        // Published FNV-1a 64 test vectors: the name must not change between builds.
        assert_eq!(fingerprint(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fingerprint("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fingerprint("foobar"), 0x8594_4171_f739_67e8);
    }
}
