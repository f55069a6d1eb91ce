//! Errors of the Cloudreve client, each naming the endpoint and, where the server sent one, the
//! correlation id to look up in Cloudreve's own log.

use std::fmt;

/// What an operator must fix when Cloudreve refuses to sign the daemon in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInProblem {
    /// 40080: wrong email or password.
    WrongCredentials,
    /// 40017: the account is banned.
    Banned,
    /// 40018: the account is not activated.
    NotActivated,
    /// 40026: the site requires a login captcha.
    Captcha,
    /// 203: the account has two-factor sign-in.
    TwoFactor,
    /// 40001: the server rejected the email or password format.
    BadParameters,
    /// 40020 on the configured refresh token.
    RefreshTokenRejected,
}

impl SignInProblem {
    /// Maps a sign-in answer code to a problem, if it is one an operator must fix.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            40080 => Some(Self::WrongCredentials),
            40017 => Some(Self::Banned),
            40018 => Some(Self::NotActivated),
            40026 | 40027 => Some(Self::Captcha),
            203 => Some(Self::TwoFactor),
            40001 => Some(Self::BadParameters),
            _ => None,
        }
    }
}

impl fmt::Display for SignInProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::WrongCredentials => {
                "wrong email or password (40080); check server.email and the password source"
            }
            Self::Banned => "the account is blocked (40017); unblock it in Cloudreve's admin panel",
            Self::NotActivated => {
                "the account is not activated (40018); activate it in Cloudreve's admin panel"
            }
            Self::Captcha => {
                "the site requires a login captcha (40026), which a daemon cannot solve; turn off login captcha in Cloudreve's admin settings"
            }
            Self::TwoFactor => {
                "the account has two-factor sign-in (203), which a daemon cannot complete; use a dedicated account without 2FA"
            }
            Self::RefreshTokenRejected => {
                "the refresh token was rejected (40020); put a fresh one into server.refresh_token_file or the refresh-token credential"
            }
            Self::BadParameters => {
                "Cloudreve rejected the email or password format (40001); check server.email and that the password has 4 to 128 characters"
            }
        })
    }
}

/// A failed call to Cloudreve.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The TCP/TLS connection could not be made.
    #[error("{endpoint}: could not connect to Cloudreve: {detail}")]
    Connect {
        /// e.g. `GET /workflow`.
        endpoint: String,
        /// The whole cause chain, e.g. the TLS verification failure.
        detail: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The request timed out.
    #[error("{endpoint}: request timed out (correlation id {correlation_id})")]
    Timeout {
        /// e.g. `GET /workflow`.
        endpoint: String,
        /// The id sent in `X-Cr-Correlation-Id`.
        correlation_id: String,
    },
    /// Another transport failure (connection reset, bad TLS, ...).
    #[error("{endpoint}: transport error (correlation id {correlation_id}): {detail}")]
    Transport {
        /// e.g. `GET /workflow`.
        endpoint: String,
        /// The whole cause chain.
        detail: String,
        /// The id sent in `X-Cr-Correlation-Id`.
        correlation_id: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with a body that is not Cloudreve's JSON envelope.
    #[error(
        "{endpoint}: HTTP {status} without a Cloudreve JSON answer (correlation id {correlation_id}): {snippet:?}"
    )]
    NotJson {
        /// e.g. `GET /workflow`.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// The id sent in `X-Cr-Correlation-Id`.
        correlation_id: String,
        /// The start of the body.
        snippet: String,
    },
    /// The body exceeded the configured cap.
    #[error(
        "{endpoint}: response body exceeds the {limit}-byte cap (correlation id {correlation_id})"
    )]
    BodyTooLarge {
        /// e.g. `GET /workflow`.
        endpoint: String,
        /// The cap.
        limit: usize,
        /// The id sent in `X-Cr-Correlation-Id`.
        correlation_id: String,
    },
    /// The envelope was JSON, but its `data` did not have the expected shape.
    #[error("{endpoint}: could not decode the answer (correlation id {correlation_id}): {source}")]
    Decode {
        /// e.g. `GET /workflow`.
        endpoint: String,
        /// The id sent in `X-Cr-Correlation-Id`.
        correlation_id: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// Cloudreve answered with a non-zero `code`.
    #[error(
        "{endpoint}: Cloudreve answered code {code}: {msg:?} (correlation id {correlation_id})"
    )]
    Api {
        /// e.g. `PATCH /workflow/download/kku7`.
        endpoint: String,
        /// The envelope's `code`.
        code: i64,
        /// The envelope's `msg`.
        msg: String,
        /// The server's correlation id, or ours if it sent none.
        correlation_id: String,
    },
    /// Sign-in was refused for a reason the operator must fix.
    #[error("sign-in as {email} refused: {problem}")]
    SignIn {
        /// The account.
        email: String,
        /// What to fix.
        problem: SignInProblem,
        /// The server's correlation id, or ours.
        correlation_id: String,
    },
    /// The refresh token the daemon signs in with was rejected (expired, revoked, or the
    /// password changed).
    #[error(
        "the refresh token was rejected by Cloudreve (40020): it expired, was revoked, or the account's password changed; sign in to Cloudreve's web UI, copy the refresh token from the browser's local storage into {file} and restart the daemon"
    )]
    RefreshTokenRejected {
        /// The file the operator must update.
        file: std::path::PathBuf,
    },
    /// An earlier sign-in was refused; the daemon waits before trying again.
    #[error(
        "sign-in as {email} was refused {seconds_ago}s ago ({problem}); next attempt in {retry_in_secs}s"
    )]
    SignInBackoff {
        /// The account.
        email: String,
        /// The last refusal.
        problem: SignInProblem,
        /// Seconds since that refusal.
        seconds_ago: i64,
        /// Seconds until the next attempt.
        retry_in_secs: i64,
    },
}

/// An error and its causes on one line: `a: b: c`.
pub(crate) fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

impl Error {
    /// Transient errors may succeed if the same request is sent again.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Timeout { .. } | Self::Transport { .. } => true,
            Self::NotJson { status, .. } => *status >= 500,
            Self::BodyTooLarge { .. }
            | Self::Decode { .. }
            | Self::Api { .. }
            | Self::SignIn { .. }
            | Self::RefreshTokenRejected { .. }
            | Self::SignInBackoff { .. } => false,
        }
    }

    /// A short label, stable for metrics: what kind of failure this is.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Connect { .. } => "connect_error",
            Self::Timeout { .. } => "timeout",
            Self::Transport { .. } => "transport_error",
            Self::NotJson { .. } => "http_error",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::Decode { .. } => "decode_error",
            Self::Api { .. } => "api_error",
            Self::SignIn { .. }
            | Self::RefreshTokenRejected { .. }
            | Self::SignInBackoff { .. } => "sign_in_refused",
        }
    }

    /// Whether the request certainly never reached the server.
    pub fn is_connect(&self) -> bool {
        matches!(self, Self::Connect { .. })
    }

    /// The Cloudreve `code`, if the server answered with one.
    pub fn api_code(&self) -> Option<i64> {
        match self {
            Self::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the operator must act (sign-in refused), rather than wait for the server.
    pub fn needs_operator(&self) -> bool {
        matches!(
            self,
            Self::SignIn { .. } | Self::SignInBackoff { .. } | Self::RefreshTokenRejected { .. }
        )
    }
}
