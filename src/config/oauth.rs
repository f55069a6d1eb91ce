//! OAuth keys of `[server]` and `[[account]]`: the admin-registered client (`oauth_client_id`;
//! its secret from `oauth_client_secret_file` or the `oauth-client-secret` credential, never
//! the command line), the loopback port of its redirect URI (`oauth_redirect_port`) and the
//! token store `login` writes and the daemon reads (`token_file`).

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::{Checker, EnvLookup, RawServer, credential_file};

/// The redirect port when none is configured (rclone's, a port rarely taken).
pub const DEFAULT_REDIRECT_PORT: u16 = 53682;
/// The credential holding the OAuth client secret (a Docker secret or a systemd credential).
pub const CLIENT_SECRET_CREDENTIAL: &str = "oauth-client-secret";
/// The credential holding a token store written by `login` (read-only: rotations are kept
/// beside the state file).
pub const TOKEN_CREDENTIAL: &str = "oauth-token";

/// How an account signs in with a scoped OAuth token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSettings {
    /// The client id Cloudreve generated (a UUID).
    pub client_id: String,
    /// The file holding the client secret, if configured.
    pub client_secret_file: Option<PathBuf>,
    /// The loopback port of the redirect URI registered with the client.
    pub redirect_port: u16,
    /// The token store, if configured (else [`default_token_file`] or the credential).
    pub token_file: Option<PathBuf>,
}

impl OAuthSettings {
    /// The redirect URI to register with the client: `http://127.0.0.1:PORT/callback`.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.redirect_port)
    }
}

/// The token store beside an account's state file: `state.json.oauth-token.json`.
pub fn default_token_file(state_file: &Path) -> PathBuf {
    let mut name = state_file.as_os_str().to_owned();
    name.push(".oauth-token.json");
    PathBuf::from(name)
}

/// The client secret could not be found or read.
#[derive(Debug, thiserror::Error)]
pub enum ClientSecretError {
    /// The file could not be read.
    #[error("could not read the OAuth client secret from {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("the OAuth client secret file {path} is empty")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// No source holds it.
    #[error(
        "no OAuth client secret for account {account}: set oauth_client_secret_file, or put the file {credential} into $CREDENTIALS_DIRECTORY (it is never read from the command line)"
    )]
    Missing {
        /// The account.
        account: String,
        /// The credential name looked for.
        credential: String,
    },
}

/// Reads the client secret: `oauth_client_secret_file`, else the credential
/// `<account>.oauth-client-secret` (named accounts) or `oauth-client-secret`.
pub fn resolve_client_secret(
    settings: &OAuthSettings,
    account: &str,
    env: EnvLookup<'_>,
) -> Result<SecretString, ClientSecretError> {
    let credential = if account == super::DEFAULT_ACCOUNT {
        CLIENT_SECRET_CREDENTIAL.to_owned()
    } else {
        format!("{account}.{CLIENT_SECRET_CREDENTIAL}")
    };
    let path = match &settings.client_secret_file {
        Some(path) => path.clone(),
        None => credential_file(&credential, env).ok_or_else(|| ClientSecretError::Missing {
            account: account.to_owned(),
            credential,
        })?,
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ClientSecretError::Read {
        path: path.clone(),
        source,
    })?;
    let secret = text.trim();
    if secret.is_empty() {
        return Err(ClientSecretError::Empty { path });
    }
    Ok(SecretString::from(secret.to_owned()))
}

impl Checker<'_> {
    /// The OAuth keys: a UUID client id, a port, and no password beside them.
    pub(super) fn oauth(&mut self, raw: &RawServer) -> Option<OAuthSettings> {
        let Some(client_id) = &raw.oauth_client_id else {
            for (key, span) in [
                (
                    "server.oauth_client_secret_file",
                    raw.oauth_client_secret_file
                        .as_ref()
                        .map(toml::Spanned::span),
                ),
                (
                    "server.oauth_redirect_port",
                    raw.oauth_redirect_port.as_ref().map(toml::Spanned::span),
                ),
                (
                    "server.token_file",
                    raw.token_file.as_ref().map(toml::Spanned::span),
                ),
            ] {
                if let Some(span) = span {
                    self.problem(
                        span,
                        key,
                        "",
                        "needs server.oauth_client_id: the OAuth client registered in Cloudreve's dashboard".to_owned(),
                    );
                }
            }
            return None;
        };
        for (key, span) in [
            (
                "server.password",
                raw.password.as_ref().map(toml::Spanned::span),
            ),
            (
                "server.password_file",
                raw.password_file.as_ref().map(toml::Spanned::span),
            ),
            (
                "server.refresh_token_file",
                raw.refresh_token_file.as_ref().map(toml::Spanned::span),
            ),
        ] {
            if let Some(span) = span {
                self.problem(
                    span,
                    key,
                    "",
                    "an OAuth account signs in with its scoped token only; remove this key or server.oauth_client_id".to_owned(),
                );
            }
        }
        let id = client_id.get_ref().trim();
        let client_id_ok = uuid::Uuid::parse_str(id).is_ok();
        if !client_id_ok {
            self.problem(
                client_id.span(),
                "server.oauth_client_id",
                id,
                "not a client id: copy the UUID Cloudreve shows for the client (Dashboard, OAuth clients)".to_owned(),
            );
        }
        let redirect_port = match &raw.oauth_redirect_port {
            None => Some(DEFAULT_REDIRECT_PORT),
            Some(port) => match u16::try_from(*port.get_ref()) {
                Ok(p) if p > 0 => Some(p),
                _ => {
                    self.problem(
                        port.span(),
                        "server.oauth_redirect_port",
                        &port.get_ref().to_string(),
                        "a port is 1 to 65535 (the redirect URI registered with the client is http://127.0.0.1:PORT/callback)".to_owned(),
                    );
                    None
                }
            },
        };
        let client_secret_file = self.path(
            raw.oauth_client_secret_file.as_ref(),
            "server.oauth_client_secret_file",
        );
        let token_file = self.path(raw.token_file.as_ref(), "server.token_file");
        Some(OAuthSettings {
            client_id: id.to_owned(),
            client_secret_file,
            redirect_port: redirect_port?,
            token_file,
        })
        .filter(|_| client_id_ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<crate::config::Config, String> {
        let none = |_: &str| None;
        crate::config::parse(text, Path::new("/etc/cra/rules.toml"), &none)
            .map_err(|e| e.to_string())
    }

    const RULE: &str = "[[rule]]\nname = \"j\"\naction = \"skip\"\nglob = \"*.exe\"\n";
    const ID: &str = "5b0e1f5e-3f7a-4c43-9d44-6f6a8a0f4b1e";

    #[test]
    fn oauth_keys_are_read_with_their_defaults() {
        let text = format!(
            "[server]\nurl = \"https://a.example\"\nemail = \"a@example.com\"\noauth_client_id = \"{ID}\"\noauth_client_secret_file = \"/etc/cra/secret\"\n{RULE}"
        );
        let config = parse(&text).unwrap();
        let oauth = config.server.oauth.unwrap();
        assert_eq!(oauth.client_id, ID);
        assert_eq!(oauth.redirect_port, DEFAULT_REDIRECT_PORT);
        assert_eq!(oauth.redirect_uri(), "http://127.0.0.1:53682/callback");
        assert_eq!(
            oauth.client_secret_file.as_deref(),
            Some(Path::new("/etc/cra/secret"))
        );
    }

    #[test]
    fn oauth_problems_name_file_line_column_and_key() {
        let text = format!(
            "[server]\nurl = \"https://a.example\"\nemail = \"a@example.com\"\noauth_client_id = \"not-a-uuid\"\npassword_file = \"/p\"\noauth_redirect_port = 70000\n[[account]]\nname = \"bob\"\nurl = \"https://b.example\"\nemail = \"b@example.com\"\ntoken_file = \"/t.json\"\n{RULE}"
        );
        let err = parse(&text).unwrap_err();
        assert!(
            err.contains("rules.toml:4:19: server.oauth_client_id"),
            "{err}"
        );
        assert!(err.contains("not-a-uuid"), "{err}");
        assert!(
            err.contains("rules.toml:5:17: server.password_file: an OAuth account"),
            "{err}"
        );
        assert!(
            err.contains("rules.toml:6:23: server.oauth_redirect_port"),
            "{err}"
        );
        assert!(
            err.contains(
                "rules.toml:11:14: account[0].token_file: needs account[0].oauth_client_id"
            ),
            "{err}"
        );
    }

    #[test]
    fn the_client_secret_comes_from_a_file_or_a_credential() {
        use secrecy::ExposeSecret as _;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bob.oauth-client-secret"), "s3cret\n").unwrap();
        let settings = OAuthSettings {
            client_id: ID.to_owned(),
            client_secret_file: None,
            redirect_port: 1,
            token_file: None,
        };
        let dir_text = dir.path().to_string_lossy().into_owned();
        let env = |name: &str| (name == "CREDENTIALS_DIRECTORY").then(|| dir_text.clone());
        let secret = resolve_client_secret(&settings, "bob", &env).unwrap();
        assert_eq!(secret.expose_secret(), "s3cret");
        let err = resolve_client_secret(&settings, "default", &env).unwrap_err();
        assert!(err.to_string().contains("oauth-client-secret"), "{err}");
    }
}
