//! Sends a notifier's [`OutboundRequest`] over HTTP: the only notify code that touches
//! `reqwest`. Its client is built by `crate::http` (timeouts, user agent, the platform's roots
//! only: `server.ca_file` and `allow_insecure` are Cloudreve's, not a third party's), and a POST
//! carrying a message and maybe a token follows no redirect.
//!
//! Errors never carry the URL (an Apprise key or an ntfy topic is a secret) nor a token.

use std::time::Duration;

use secrecy::ExposeSecret as _;

use super::format::{Auth, OutboundRequest};

/// How long a notifier may take.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Connecting.
    pub connect: Duration,
    /// The whole request.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(15),
        }
    }
}

/// One notification could not be delivered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeliveryError {
    /// The connection could not be made.
    #[error("could not connect: {0}")]
    Connect(String),
    /// No answer in time.
    #[error("no answer within the timeout")]
    Timeout,
    /// The service answered with an error status.
    #[error("HTTP {status}: {snippet:?}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The start of the answer.
        snippet: String,
    },
    /// The service answered with a redirect, which a notification never follows (see
    /// `crate::http`); origins only, the path may be a secret.
    #[error("{0}")]
    Redirect(String),
    /// Another transport failure.
    #[error("{0}")]
    Transport(String),
}

impl DeliveryError {
    /// Worth trying again: the service may be back (network, timeout, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Connect(_) | Self::Timeout | Self::Transport(_) => true,
            Self::Status { status, .. } => *status >= 500 || *status == 429,
            Self::Redirect(_) => false,
        }
    }
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("could not build the notifiers' HTTP client: {0}")]
pub struct TransportBuildError(#[source] crate::http::BuildError);

/// A shared HTTP client for the notifiers.
#[derive(Debug, Clone)]
pub struct Transport {
    http: reqwest::Client,
}

fn describe(error: reqwest::Error) -> DeliveryError {
    if let Some(refused) = crate::http::refused_redirect(&error) {
        return DeliveryError::Redirect(refused.to_string());
    }
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    if error.is_connect() {
        DeliveryError::Connect(text)
    } else if error.is_timeout() {
        DeliveryError::Timeout
    } else {
        DeliveryError::Transport(text)
    }
}

impl Transport {
    /// Builds the client with these timeouts.
    pub fn new(timeouts: Timeouts) -> Result<Self, TransportBuildError> {
        let http = crate::http::client(&crate::http::Settings {
            connect_timeout: timeouts.connect,
            timeout: timeouts.total,
            pool_idle: Duration::from_secs(30),
            pool_max_idle_per_host: 4,
            extra_roots_pem: &[],
            accept_invalid_certs: false,
            redirects: crate::http::Redirects::Never,
            setting: "the notifier's url",
            suggest: crate::http::Suggest::OriginOnly,
        })
        .map_err(TransportBuildError)?;
        Ok(Self { http })
    }

    /// Sends one request; any 2xx answer is success.
    pub async fn send(&self, request: &OutboundRequest) -> Result<(), DeliveryError> {
        let mut builder = self
            .http
            .post(request.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(request.body.clone());
        builder = match &request.auth {
            Auth::None => builder,
            Auth::Bearer(token) => builder.bearer_auth(token.expose_secret()),
            Auth::Basic { user, password } => {
                builder.basic_auth(user, Some(password.expose_secret()))
            }
            Auth::Header { name, value } => {
                let mut value = reqwest::header::HeaderValue::from_str(value.expose_secret())
                    .map_err(|_| {
                        DeliveryError::Transport(format!(
                            "the secret cannot be sent in the {name} header (control characters)"
                        ))
                    })?;
                value.set_sensitive(true);
                builder.header(*name, value)
            }
        };
        let mut response = builder.send().await.map_err(describe)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let mut bytes = Vec::new();
        while bytes.len() < 200 {
            match response.chunk().await {
                Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        bytes.truncate(200);
        Err(DeliveryError::Status {
            status: status.as_u16(),
            snippet: String::from_utf8_lossy(&bytes).trim().to_owned(),
        })
    }
}
