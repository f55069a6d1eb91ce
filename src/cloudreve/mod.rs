//! The Cloudreve v4 client: the only module that speaks HTTP and JSON.
//!
//! It owns the `{code, msg, data}` envelope check (a non-zero `code` is an error even on
//! HTTP 200), sign-in, token refresh, retries with backoff, the response-size cap and the
//! correlation id. Wire types stay in `wire`; callers get domain types from `crate::task`.
//!
//! Token handling follows Cloudreve's source: the access token is refreshed ahead of
//! `access_expires`; a body code 401 triggers one refresh and one retry; a refresh answered with
//! 40020 falls back to password sign-in for a password account, and is an error naming what to do
//! for a refresh-token or OAuth account (which has no password to fall back to); the refresh token
//! is never sent as `Authorization`. OAuth (`oauth`) adds the code exchange and the token store.

mod auth;
mod client;
mod document;
mod error;
mod fetch;
mod oauth;
mod receive;
mod token_store;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use url::Url;

pub use error::{
    DecodeCategory, DecodeProblem, Delivery, Error, JsonKind, ListProblem, SignInProblem,
};
pub use fetch::{DownloadError, DownloadOptions, Downloader, redacted};
pub use oauth::{Authorization, CodeExchange, ExchangeError, OAuthSupport, RandomError, SCOPES};
pub use token_store::{EXPIRY_WARNING_DAYS, StoreError, TokenStore};

use client::missing_data;
pub use client::{Client, PatchError};
pub use document::{DocumentError, decode_task_document};
use receive::AnswerHead;
pub use receive::decode_list_answer;
pub use wire::{draw_patch, patch_body};

/// The current time, injectable so tests can move the client's clock.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Called after every HTTP request to Cloudreve with its route template (e.g.
/// `PATCH /workflow/download/{id}`, never a task id) and its outcome (`ok` or
/// [`Error::label`]); the metrics count requests with it.
pub type RequestObserver = Arc<dyn Fn(&'static str, &'static str) + Send + Sync>;

/// How the client signs in.
#[derive(Clone)]
pub enum Credentials {
    /// Email and password (`POST /session/token`).
    Password(SecretString),
    /// A refresh token taken from a signed-in browser (for accounts with two-factor sign-in or
    /// sites with a login captcha). Every rotated token is written to `store` (mode 0600), so a
    /// restart continues from the newest one.
    RefreshToken {
        /// The token to start from.
        token: SecretString,
        /// Where the rotated tokens are kept.
        store: Option<std::path::PathBuf>,
        /// The file the operator puts a new token into (named in the error when it is rejected).
        source_file: std::path::PathBuf,
    },
    /// A scoped OAuth token obtained by `login` ([`TokenStore`]). Every rotation is written back
    /// to `store` with its new expiry; a rejected token is never replaced by a password.
    OAuth {
        /// The grant to start from.
        token: TokenStore,
        /// Where the rotations are kept (mode 0600).
        store: std::path::PathBuf,
        /// The account, named in the error when the token is rejected.
        account: String,
    },
}

/// Everything the client needs to know.
#[derive(Clone)]
pub struct ClientOptions {
    /// API base, ending in `/api/v4/`.
    pub api_base: Url,
    /// The account's email.
    pub email: String,
    /// How to sign in.
    pub credentials: Credentials,
    /// Extra trusted CA certificates, PEM.
    pub extra_roots_pem: Vec<u8>,
    /// Accept any certificate (dangerous; the config demands `allow_insecure`).
    pub accept_invalid_certs: bool,
    /// Whole-request deadline.
    pub timeout: Duration,
    /// Connect deadline.
    pub connect_timeout: Duration,
    /// Retries of an idempotent request after a transient failure.
    pub retries: u32,
    /// First backoff delay; later delays double, with jitter.
    pub retry_min_delay: Duration,
    /// Longest backoff delay.
    pub retry_max_delay: Duration,
    /// Cap on a response body.
    pub max_body_bytes: usize,
    /// Refresh the access token this long before it expires (at most half its lifetime).
    pub refresh_margin: Duration,
    /// Wait this long after a refused sign-in before trying again (doubles up to an hour).
    pub sign_in_backoff: Duration,
    /// The clock.
    pub clock: Clock,
    /// Told about every request (metrics).
    pub on_request: Option<RequestObserver>,
    /// Where the password came from, named when Cloudreve refuses it (`server.password_file
    /// /etc/...`, `$CLOUDREVE_AUTOSELECT_PASSWORD`, a credential's path); never the password.
    pub credential_source: String,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The config refuses a URL with a password; options built otherwise never show one.
        let mut api_base = self.api_base.clone();
        let _ = api_base.set_password(None);
        f.debug_struct("ClientOptions")
            .field("api_base", &api_base.as_str())
            .field("email", &self.email)
            .field("credentials", &"[REDACTED]")
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

impl ClientOptions {
    /// Defaults for everything but the server and the account.
    pub fn new(api_base: Url, email: String, password: SecretString) -> Self {
        Self {
            api_base,
            email,
            credentials: Credentials::Password(password),
            extra_roots_pem: Vec::new(),
            accept_invalid_certs: false,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retries: 3,
            retry_min_delay: Duration::from_millis(500),
            retry_max_delay: Duration::from_secs(10),
            max_body_bytes: 64 * 1024 * 1024,
            refresh_margin: Duration::from_secs(300),
            sign_in_backoff: Duration::from_secs(60),
            clock: Arc::new(Utc::now),
            on_request: None,
            credential_source: "the configured source".to_owned(),
        }
    }
}

/// Building the HTTP client failed (TLS set-up).
pub use crate::http::BuildError;

pub use crate::http::install_crypto_provider;

#[cfg(test)]
mod tests;
