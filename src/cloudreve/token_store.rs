//! The OAuth token store: the refresh token `login` obtained, with its expiry, its granted
//! scopes, the client and the site it belongs to. A small JSON file, written atomically with
//! mode 0600 by `login` and again by the daemon after every rotation.
//!
//! The token never reaches a log or `Debug` output, and no error quotes a value of the file.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// A token within this many days of its expiry is a warning (`check`, the heartbeat, a
/// notification).
pub const EXPIRY_WARNING_DAYS: i64 = 7;

/// The format version this build writes and reads.
const STORE_VERSION: u32 = 1;

/// A stored OAuth grant.
#[derive(Clone)]
pub struct TokenStore {
    /// The site the token is for (the configured `url`).
    pub site: String,
    /// The OAuth client it was issued to.
    pub client_id: String,
    /// The scopes the server granted.
    pub scopes: Vec<String>,
    /// The newest refresh token.
    pub refresh_token: SecretString,
    /// When the refresh token expires, if the server said.
    pub refresh_expires: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore")
            .field("site", &self.site)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .field("refresh_token", &"[REDACTED]")
            .field("refresh_expires", &self.refresh_expires)
            .finish()
    }
}

/// The file as written. Not `Debug`: it holds the token.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreFile {
    version: u32,
    site: String,
    client_id: String,
    scopes: Vec<String>,
    refresh_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_expires: Option<String>,
}

/// The token store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be read.
    #[error(
        "could not read the OAuth token store {path}: {source}; run `cloudreve-autoselect login`"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a token store.
    #[error(
        "the OAuth token store {path} is not valid ({problem} at line {line}, column {column}); run `cloudreve-autoselect login` to write it again"
    )]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, without any value from the file.
        problem: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A format this build does not know.
    #[error(
        "the OAuth token store {path} has format version {version}; this build reads version {STORE_VERSION}"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// The version found.
        version: u32,
    },
    /// The file holds no refresh token.
    #[error(
        "the OAuth token store {path} holds no refresh token; run `cloudreve-autoselect login`"
    )]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The file could not be written.
    #[error("could not write the OAuth token store {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl TokenStore {
    /// Reads a store written by [`TokenStore::write`].
    pub fn read(path: &Path) -> Result<Self, StoreError> {
        let text = std::fs::read_to_string(path).map_err(|source| StoreError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses a store's text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, StoreError> {
        let file: StoreFile = serde_json::from_str(text).map_err(|e| StoreError::Malformed {
            path: path.to_owned(),
            // serde's own message may quote a value, and a value may be the token.
            problem: match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    "not JSON"
                }
                _ => "a missing, unknown or mistyped field",
            },
            line: e.line(),
            column: e.column(),
        })?;
        if file.version != STORE_VERSION {
            return Err(StoreError::Version {
                path: path.to_owned(),
                version: file.version,
            });
        }
        if file.refresh_token.trim().is_empty() {
            return Err(StoreError::Empty {
                path: path.to_owned(),
            });
        }
        Ok(Self {
            site: file.site,
            client_id: file.client_id,
            scopes: file.scopes,
            refresh_token: SecretString::from(file.refresh_token.trim().to_owned()),
            refresh_expires: file
                .refresh_expires
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc)),
        })
    }

    /// The file's text.
    fn to_json(&self) -> String {
        let file = StoreFile {
            version: STORE_VERSION,
            site: self.site.clone(),
            client_id: self.client_id.clone(),
            scopes: self.scopes.clone(),
            refresh_token: self.refresh_token.expose_secret().to_owned(),
            refresh_expires: self.refresh_expires.map(|t| t.to_rfc3339()),
        };
        let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Writes the store atomically, readable by its owner only (0600).
    pub fn write(&self, path: &Path) -> Result<(), StoreError> {
        crate::durable::write_atomically_with_mode(path, self.to_json().as_bytes(), 0o600).map_err(
            |source| StoreError::Write {
                path: path.to_owned(),
                source,
            },
        )
    }

    /// Whether the token expires within `days` of `now` (or has expired).
    pub fn expires_within(&self, now: DateTime<Utc>, days: i64) -> bool {
        self.refresh_expires
            .is_some_and(|expires| expires <= now + TimeDelta::days(days))
    }

    /// The warning for a token within [`EXPIRY_WARNING_DAYS`] of its expiry, if it is.
    pub fn expiry_warning(&self, account: &str, now: DateTime<Utc>) -> Option<String> {
        if !self.expires_within(now, EXPIRY_WARNING_DAYS) {
            return None;
        }
        let left = self
            .refresh_expires
            .map_or(0, |t| t.signed_duration_since(now).num_hours().max(0));
        Some(format!(
            "account {account}: the OAuth token expires in {} days {} hours (each refresh renews it, but only for the client's refresh-token lifetime, and a stopped daemon renews nothing); run `cloudreve-autoselect login --account {account}` before then, or lengthen the client's refresh-token lifetime",
            left / 24,
            left % 24
        ))
    }

    /// The scopes, space-separated, as OAuth writes them.
    pub fn scope_text(&self) -> String {
        self.scopes.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> TokenStore {
        TokenStore {
            site: "https://cloud.example/".to_owned(),
            client_id: "5b0e1f5e-3f7a-4c43-9d44-6f6a8a0f4b1e".to_owned(),
            scopes: vec![
                "openid".into(),
                "offline_access".into(),
                "Workflow.Write".into(),
            ],
            refresh_token: SecretString::from("secret-refresh".to_owned()),
            refresh_expires: DateTime::parse_from_rfc3339("2027-03-01T00:00:00Z")
                .ok()
                .map(|t| t.with_timezone(&Utc)),
        }
    }

    #[test]
    fn a_store_round_trips_with_mode_0600_and_never_shows_its_token() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.json");
        store().write(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let read = TokenStore::read(&path).unwrap();
        assert_eq!(read.refresh_token.expose_secret(), "secret-refresh");
        assert_eq!(read.scope_text(), "openid offline_access Workflow.Write");
        assert_eq!(read.refresh_expires, store().refresh_expires);
        assert!(!format!("{read:?}").contains("secret-refresh"));
    }

    #[test]
    fn a_malformed_store_is_named_without_its_values() {
        let path = Path::new("/s/token.json");
        let err = TokenStore::parse(
            r#"{"version":1,"site":"s","client_id":"c","scopes":"secret-value","refresh_token":"t"}"#,
            path,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("/s/token.json"), "{err}");
        assert!(err.contains("line 1"), "{err}");
        assert!(!err.contains("secret-value"), "{err}");
        let err = TokenStore::parse(
            r#"{"version":2,"site":"s","client_id":"c","scopes":[],"refresh_token":"t"}"#,
            path,
        )
        .unwrap_err();
        assert!(matches!(err, StoreError::Version { version: 2, .. }));
    }

    #[test]
    fn expiry_within_a_week_is_seen() {
        let s = store();
        let expires = s.refresh_expires.unwrap();
        assert!(s.expires_within(expires - TimeDelta::days(6), 7));
        assert!(!s.expires_within(expires - TimeDelta::days(8), 7));
    }
}
