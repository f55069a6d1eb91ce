//! Sends a notifier's [`OutboundRequest`] over HTTP: the only notify code that touches
//! `reqwest`. Its client is built here, with a connect timeout, a whole-request timeout and a
//! user agent, on the same rustls/ring stack as the Cloudreve client.
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
        }
    }
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("could not build the notifiers' HTTP client: {0}")]
pub struct TransportBuildError(#[source] reqwest::Error);

/// A shared HTTP client for the notifiers.
#[derive(Debug, Clone)]
pub struct Transport {
    http: reqwest::Client,
}

fn describe(error: reqwest::Error) -> DeliveryError {
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
        crate::cloudreve::install_crypto_provider();
        #[expect(
            clippy::disallowed_methods,
            reason = "the notifiers' one client, built with timeouts"
        )]
        let builder = reqwest::Client::builder();
        let http = builder
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.total)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!(
                env!("CARGO_PKG_NAME"),
                "/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
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
