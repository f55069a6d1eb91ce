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
                "the site requires a login captcha (40026), which a daemon cannot solve; sign in with a refresh token instead (server.refresh_token_file, or a refresh-token credential: README, \"Two-factor sign-in\"), or turn off login captcha in Cloudreve's admin settings"
            }
            Self::TwoFactor => {
                "the account has two-factor sign-in (203), which a daemon cannot complete; sign in with a refresh token instead (server.refresh_token_file, or a refresh-token credential: README, \"Two-factor sign-in\"), or use a dedicated account without 2FA"
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

/// How far a failed select-files PATCH got, judged from its error: what the daemon may do
/// with its decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// It certainly never reached the server (connect error, or sign-in failed first).
    NotSent,
    /// The server answered that nothing was done: a proxy's 502 or 503 (Cloudreve was not
    /// reached), or Cloudreve's envelope with a non-zero code other than 404 (50005: its call to
    /// aria2 or qBittorrent failed). Sending it again is safe.
    NotApplied,
    /// Cloudreve answered 404: the task finished or left the monitor phase.
    Gone,
    /// It may have been applied: timed out or reset after it was sent, HTTP 500 or 504, or an
    /// answer that is not Cloudreve's envelope.
    Unknown,
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
    /// The server answered with a redirect the trust policy refuses (see `crate::http`).
    #[error("{endpoint}: {refused}")]
    Redirect {
        /// e.g. `POST /session/token`.
        endpoint: String,
        /// Both addresses, why, and what to put in `server.url`.
        refused: crate::http::RefusedRedirect,
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
        "{endpoint}: HTTP {status} without a Cloudreve JSON answer (correlation id {correlation_id}): {snippet}"
    )]
    NotJson {
        /// e.g. `GET /workflow`.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// The id sent in `X-Cr-Correlation-Id`.
        correlation_id: String,
        /// What the body was, safe to log: the start of a text body
        /// with anything token-like masked, or where a JSON body broke off, never its values.
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
    #[error("{endpoint}: could not decode the answer (correlation id {correlation_id}): {problem}")]
    Decode {
        /// e.g. `GET /workflow`.
        endpoint: String,
        /// The id sent in `X-Cr-Correlation-Id`.
        correlation_id: String,
        /// What did not decode, and where; never a value from the answer.
        problem: DecodeProblem,
    },
    /// A list answer with code 0 that is not a complete list: acting on it could forget
    /// tasks that are still there.
    #[error("{endpoint}: incomplete list answer (correlation id {correlation_id}): {problem}")]
    ListIncomplete {
        /// e.g. `GET /workflow`.
        endpoint: String,
        /// The server's correlation id, or ours if it sent none.
        correlation_id: String,
        /// What is missing.
        problem: ListProblem,
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
    #[error("sign-in as {email} with the password from {password_source} refused: {problem}")]
    SignIn {
        /// The account.
        email: String,
        /// Where the password came from (a file, a variable, a credential).
        password_source: String,
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
    /// The OAuth token of an account was rejected: revoked, expired, or cut off by a password or
    /// email change, a removed grant or a disabled client. Only a new `login` helps.
    #[error(
        "the OAuth token of account {account} was rejected by Cloudreve (40020): it expired or was revoked (a password or email change, the app's access removed, or the client disabled); run `cloudreve-autoselect login --account {account}` and restart the daemon"
    )]
    OAuthTokenRejected {
        /// The account whose token it is.
        account: String,
    },
    /// The OAuth token lacks the scope a route needs (40089, Cloudreve 4.16.1 and later).
    #[error(
        "{endpoint}: the OAuth token lacks the scope {scope} (40089, correlation id {correlation_id}); add {scope} to the OAuth client's scopes in Cloudreve's dashboard (Admin, OAuth clients) and run `cloudreve-autoselect login` again"
    )]
    ScopeMissing {
        /// e.g. `PATCH /workflow/download/kku7`.
        endpoint: String,
        /// The scope to add.
        scope: &'static str,
        /// The server's correlation id, or ours.
        correlation_id: String,
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

/// The JSON kind of a value: what problems name instead of the value itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl fmt::Display for JsonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Null => "null",
            Self::Bool => "a boolean",
            Self::Number => "a number",
            Self::String => "a string",
            Self::Array => "an array",
            Self::Object => "an object",
        })
    }
}

/// Why a JSON text did not decode: the category and the position, never the offending value
/// (`serde_json`'s own messages quote values, and a value may be a token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeProblem {
    /// Syntax, truncation, or a value of an unexpected type or shape.
    pub category: DecodeCategory,
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column of the problem.
    pub column: usize,
}

/// The category of a [`DecodeProblem`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeCategory {
    /// Not valid JSON.
    Syntax,
    /// The text ends in the middle of a value.
    Truncated,
    /// Valid JSON, but a value has an unexpected type or shape.
    Shape,
}

impl From<&serde_json::Error> for DecodeProblem {
    fn from(error: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        Self {
            category: match error.classify() {
                Category::Eof => DecodeCategory::Truncated,
                Category::Data => DecodeCategory::Shape,
                Category::Syntax | Category::Io => DecodeCategory::Syntax,
            },
            line: error.line(),
            column: error.column(),
        }
    }
}

impl fmt::Display for DecodeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.category {
            DecodeCategory::Syntax => "malformed JSON",
            DecodeCategory::Truncated => "JSON cut off",
            DecodeCategory::Shape => "a value of an unexpected type or shape",
        };
        write!(f, "{what} at line {} column {}", self.line, self.column)
    }
}

/// What makes a list answer with code 0 unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListProblem {
    /// `data` is absent.
    DataMissing,
    /// `data` is `null`.
    DataNull,
    /// `data` is not an object.
    DataNotObject(JsonKind),
    /// `data.tasks` is absent.
    TasksMissing,
    /// `data.tasks` is `null`.
    TasksNull,
    /// `data.tasks` is not an array.
    TasksNotArray(JsonKind),
    /// `data.pagination.next_token` is not a string.
    CursorNotString(JsonKind),
    /// The server handed out the cursor it had just been given.
    CursorRepeated,
    /// The server kept handing out a next page; the list was not read to its end.
    PageCap {
        /// Pages read before giving up.
        pages: usize,
    },
    /// The pages together exceed the cap of one answer.
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
}

impl fmt::Display for ListProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DataMissing => f.write_str("code 0 without data"),
            Self::DataNull => f.write_str("data is null"),
            Self::DataNotObject(kind) => write!(f, "data is {kind}, not an object"),
            Self::TasksMissing => f.write_str("data has no tasks"),
            Self::TasksNull => f.write_str("data.tasks is null"),
            Self::TasksNotArray(kind) => write!(f, "data.tasks is {kind}, not an array"),
            Self::CursorNotString(kind) => {
                write!(f, "data.pagination.next_token is {kind}, not a string")
            }
            Self::CursorRepeated => {
                f.write_str("the next page's cursor is the one just used; the list never ends")
            }
            Self::PageCap { pages } => write!(f, "still more pages after {pages} pages"),
            Self::TooLarge { limit } => write!(
                f,
                "the pages together exceed the {limit}-byte cap of the whole list"
            ),
        }
    }
}

/// Describes a body that is not Cloudreve's JSON envelope without quoting values from it:
/// a body that looks like JSON (it may hold tokens) is described only by where it broke off;
/// the start of any other body (an HTML error page from a proxy, say) is quoted with every run
/// of token-like characters masked.
pub(crate) fn body_excerpt(bytes: &[u8]) -> String {
    const SHOWN: usize = 120;
    /// Runs of this many letters, digits and `-_.+/=` are masked: no word of an error page is
    /// that long, and every token is.
    const TOKEN_RUN: usize = 20;
    let trimmed = bytes.trim_ascii_start();
    if trimmed.is_empty() {
        return "empty body".to_owned();
    }
    if matches!(trimmed.first(), Some(b'{' | b'[' | b'"')) {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Err(e) => format!("{} bytes of {}", bytes.len(), DecodeProblem::from(&e)),
            Ok(_) => format!("{} bytes of JSON that is not an envelope", bytes.len()),
        };
    }
    let text = String::from_utf8_lossy(bytes.get(..bytes.len().min(SHOWN)).unwrap_or(bytes));
    let mut masked = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, masked: &mut String| {
        if run.chars().count() >= TOKEN_RUN {
            masked.push_str("[masked]");
        } else {
            masked.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '/' | '=') {
            run.push(c);
        } else {
            flush(&mut run, &mut masked);
            masked.push(c);
        }
    }
    flush(&mut run, &mut masked);
    format!("body starts {masked:?}")
}

pub(crate) use crate::http::cause_chain;

impl Error {
    /// Transient errors may succeed if the same request is sent again.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Timeout { .. } | Self::Transport { .. } => true,
            Self::NotJson { status, .. } => *status >= 500,
            Self::BodyTooLarge { .. }
            | Self::Redirect { .. }
            | Self::Decode { .. }
            | Self::ListIncomplete { .. }
            | Self::Api { .. }
            | Self::SignIn { .. }
            | Self::RefreshTokenRejected { .. }
            | Self::OAuthTokenRejected { .. }
            | Self::ScopeMissing { .. }
            | Self::SignInBackoff { .. } => false,
        }
    }

    /// A short label, stable for metrics: what kind of failure this is.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Connect { .. } => "connect_error",
            Self::Timeout { .. } => "timeout",
            Self::Redirect { .. } => "redirect_refused",
            Self::Transport { .. } => "transport_error",
            Self::NotJson { .. } => "http_error",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::Decode { .. } => "decode_error",
            Self::ListIncomplete { .. } => "incomplete_list",
            Self::Api { .. } => "api_error",
            Self::SignIn { .. }
            | Self::RefreshTokenRejected { .. }
            | Self::OAuthTokenRejected { .. }
            | Self::SignInBackoff { .. } => "sign_in_refused",
            Self::ScopeMissing { .. } => "scope_missing",
        }
    }

    /// What a select-files PATCH that failed with this error did on the server.
    pub fn patch_delivery(&self) -> Delivery {
        match self {
            // Refused before anything was sent, or never connected.
            Self::Connect { .. }
            | Self::SignIn { .. }
            | Self::RefreshTokenRejected { .. }
            | Self::SignInBackoff { .. }
            | Self::OAuthTokenRejected { .. }
            // 40089 is the scope check, before the route does anything; it holds until an
            // admin adds the scope, so it does not count towards the refusal cap.
            | Self::ScopeMissing { .. } => Delivery::NotSent,
            // A proxy's 502 or 503: Cloudreve was not reached. A redirect answer is not the
            // route's either: nothing was applied at this address. Both count towards the cap,
            // so a proxy that keeps refusing or redirecting opens an incident.
            Self::Redirect { .. }
            | Self::NotJson {
                status: 502 | 503, ..
            } => Delivery::NotApplied,
            Self::Api { code: 404, .. } => Delivery::Gone,
            Self::Api { code, .. } if *code != 0 => Delivery::NotApplied,
            Self::Api { .. }
            | Self::Timeout { .. }
            | Self::Transport { .. }
            | Self::NotJson { .. }
            | Self::BodyTooLarge { .. }
            | Self::Decode { .. }
            | Self::ListIncomplete { .. } => Delivery::Unknown,
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
            Self::SignIn { .. }
                | Self::SignInBackoff { .. }
                | Self::RefreshTokenRejected { .. }
                | Self::OAuthTokenRejected { .. }
                | Self::ScopeMissing { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn not_json(status: u16) -> Error {
        Error::NotJson {
            endpoint: "PATCH /workflow/download/t".into(),
            status,
            correlation_id: String::new(),
            snippet: String::new(),
        }
    }

    fn api(code: i64) -> Error {
        Error::Api {
            endpoint: "PATCH /workflow/download/t".into(),
            code,
            msg: String::new(),
            correlation_id: String::new(),
        }
    }

    #[test]
    fn a_refusal_is_not_applied_and_a_doubt_is_unknown() {
        for (error, expected) in [
            (not_json(502), Delivery::NotApplied),
            (not_json(503), Delivery::NotApplied),
            (api(50005), Delivery::NotApplied),
            (api(40001), Delivery::NotApplied),
            (api(404), Delivery::Gone),
            (not_json(500), Delivery::Unknown),
            (not_json(504), Delivery::Unknown),
            (not_json(200), Delivery::Unknown),
            (
                Error::Timeout {
                    endpoint: String::new(),
                    correlation_id: String::new(),
                },
                Delivery::Unknown,
            ),
        ] {
            assert_eq!(error.patch_delivery(), expected, "{error}");
        }
    }
}
