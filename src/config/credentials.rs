//! The Cloudreve password and the credentials directory: `server.password_file`,
//! `server.password`, `$CLOUDREVE_AUTOSELECT_PASSWORD`, and `$CREDENTIALS_DIRECTORY` (systemd's
//! `LoadCredential=`, Docker secrets) with or without systemd's `<id>_` prefix.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::{EnvLookup, PASSWORD_ENV, PasswordSetting};

/// The password could not be found or read.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// A password file could not be read.
    #[error("could not read the password from {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A password file was empty.
    #[error("the password file {path} is empty")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// No source holds a password.
    #[error(
        "no password configured: set server.password_file, or ${PASSWORD_ENV}, or put a file `password` or `refresh-token` into $CREDENTIALS_DIRECTORY (systemd: /etc/credstore/cloudreve-autoselect/; Docker: a secret of that name)"
    )]
    Missing,
}

/// The id the systemd unit loads its credential directory under
/// (`LoadCredential=cloudreve-autoselect:/etc/credstore/cloudreve-autoselect`): each file of the
/// directory arrives as `$CREDENTIALS_DIRECTORY/cloudreve-autoselect_<file name>`.
pub const CREDENTIAL_ID: &str = "cloudreve-autoselect";
/// The credential holding the password.
pub const PASSWORD_CREDENTIAL: &str = "password";
/// The credential holding a refresh token (accounts with two-factor sign-in or a login captcha).
pub const REFRESH_TOKEN_CREDENTIAL: &str = "refresh-token";

/// The file of credential `name` in `$CREDENTIALS_DIRECTORY`, if there is one: `name` itself
/// (Docker secrets, `LoadCredential=name:FILE`) or `cloudreve-autoselect_name` (a systemd
/// directory credential).
pub fn credential_file(name: &str, env: EnvLookup<'_>) -> Option<PathBuf> {
    let dir = env("CREDENTIALS_DIRECTORY").filter(|v| !v.is_empty())?;
    let dir = Path::new(&dir);
    [dir.join(name), dir.join(format!("{CREDENTIAL_ID}_{name}"))]
        .into_iter()
        .find(|path| path.exists())
}

/// Finds the password, in this order: `server.password_file`, `server.password`,
/// `$CLOUDREVE_AUTOSELECT_PASSWORD`, the `password` credential (see [`credential_file`]).
pub fn resolve_password(
    setting: &PasswordSetting,
    env: EnvLookup<'_>,
) -> Result<SecretString, PasswordError> {
    match setting {
        PasswordSetting::File(path) => read_password_file(path),
        PasswordSetting::Inline(secret) => Ok(secret.clone()),
        PasswordSetting::FromEnvironment => {
            if let Some(value) = env(PASSWORD_ENV).filter(|v| !v.is_empty()) {
                return Ok(SecretString::from(value));
            }
            match credential_file(PASSWORD_CREDENTIAL, env) {
                Some(path) => read_password_file(&path),
                None => Err(PasswordError::Missing),
            }
        }
    }
}

fn read_password_file(path: &Path) -> Result<SecretString, PasswordError> {
    let mut text = std::fs::read_to_string(path).map_err(|source| PasswordError::Read {
        path: path.to_owned(),
        source,
    })?;
    // One trailing newline is what `echo` and editors add; it is not part of the password.
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err(PasswordError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(SecretString::from(text))
}
