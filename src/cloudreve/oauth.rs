//! Cloudreve's OAuth clients (4.12 and later): the authorize URL with state and PKCE (S256), the
//! code exchange at `POST /session/oauth/token`, the granted-scope check, and the server
//! version from `GET /site/ping` (OAuth from 4.12, scopes enforced on the workflow routes from
//! 4.16.1).
//!
//! The token answer is plain RFC 6749 JSON (no `{code, msg, data}` envelope); its errors are
//! HTTP 400 `{error, error_description}`, except a malformed form, which is the usual envelope
//! with code 40001. Refreshing an OAuth token is the ordinary `POST /session/token/refresh`,
//! done by the client's state machine in `mod.rs`.

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::{Client, Credentials, Error, TokenStore, error};

/// The scopes this daemon asks for: sign-in identity, a refresh token, and the workflow routes
/// (a `.Write` scope implies its `.Read`). Nothing that reads, deletes or shares a file.
pub const SCOPES: [&str; 3] = ["openid", "offline_access", "Workflow.Write"];

/// The scope a workflow route needs, named in [`Error::ScopeMissing`].
pub(super) fn scope_for(endpoint: &str) -> &'static str {
    if endpoint.starts_with("GET ") {
        "Workflow.Read (or Workflow.Write, which implies it)"
    } else {
        "Workflow.Write"
    }
}

/// The random values of one authorization: `state` and the PKCE verifier and challenge.
pub struct Authorization {
    /// Sent to the server and checked on the redirect.
    pub state: String,
    /// The PKCE verifier, sent with the code exchange.
    pub verifier: SecretString,
    /// Its S256 challenge, sent in the authorize URL.
    pub challenge: String,
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorization")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// Randomness was unavailable (the system's random source failed).
#[derive(Debug, thiserror::Error)]
#[error("the system's random number generator failed")]
pub struct RandomError;

fn random_text() -> Result<String, RandomError> {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| RandomError)?;
    Ok(data_encoding::BASE64URL_NOPAD.encode(&bytes))
}

/// The S256 challenge of a PKCE verifier (RFC 7636 §4.2).
pub(super) fn pkce_challenge(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    data_encoding::BASE64URL_NOPAD.encode(digest.as_ref())
}

impl Authorization {
    /// A fresh state and verifier (32 random bytes each, base64url: 43 characters).
    pub fn new() -> Result<Self, RandomError> {
        let verifier = random_text()?;
        Ok(Self {
            state: random_text()?,
            challenge: pkce_challenge(&verifier),
            verifier: SecretString::from(verifier),
        })
    }

    /// The authorize page of the site's web app, where the user signs in and consents.
    pub fn url(&self, site: &Url, client_id: &str, redirect_uri: &str) -> Url {
        // The configured site URL ends with `/`, so the page is joined under its path.
        let mut url = site
            .join("session/authorize")
            .unwrap_or_else(|_| site.clone());
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &SCOPES.join(" "))
            .append_pair("state", &self.state)
            .append_pair("code_challenge", &self.challenge)
            .append_pair("code_challenge_method", "S256");
        url
    }
}

/// The token answer. Not `Debug`: it holds tokens.
#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    refresh_token_expires_in: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
}

/// The error answer (HTTP 400).
#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    correlation_id: Option<String>,
}

/// The code exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The server refused it with an OAuth error.
    #[error("Cloudreve refused the code exchange: {error}: {description} (correlation id {correlation_id}){}", exchange_hint(.error))]
    Refused {
        /// The OAuth error code (`invalid_grant`, `invalid_client`, ...).
        error: String,
        /// The server's description.
        description: String,
        /// The server's correlation id, or ours.
        correlation_id: String,
    },
    /// The request failed or the answer was not a token answer.
    #[error(transparent)]
    Request(#[from] Error),
    /// No refresh token came back: `offline_access` was not granted.
    #[error(
        "Cloudreve granted no refresh token (scopes granted: {granted:?}); add offline_access to the OAuth client's scopes and run login again"
    )]
    NoRefreshToken {
        /// What was granted.
        granted: String,
    },
    /// The granted scopes lack some that were asked for.
    #[error(
        "Cloudreve granted the scopes {granted:?}, without {missing}; add them to the OAuth client's scopes in the dashboard and run login again"
    )]
    ScopesMissing {
        /// What was granted.
        granted: String,
        /// What is missing, space-separated.
        missing: String,
    },
}

fn exchange_hint(error: &str) -> &'static str {
    match error {
        "invalid_grant" => {
            "; a code works once and for 10 minutes, and only with its own redirect URI and verifier: run login again"
        }
        "invalid_client" => "; check oauth_client_id and the client secret",
        _ => "",
    }
}

/// The largest token answer read (they are a few hundred bytes).
const MAX_ANSWER: usize = 64 * 1024;

/// The exchange's endpoint, as errors name it.
const TOKEN_ENDPOINT: &str = "POST /session/oauth/token";

/// What `login` exchanges: the client, the code and its verifier.
pub struct CodeExchange<'a> {
    /// The OAuth client id.
    pub client_id: &'a str,
    /// The client secret (every Cloudreve client is confidential).
    pub client_secret: &'a SecretString,
    /// The code from the redirect.
    pub code: &'a str,
    /// The PKCE verifier of the authorization.
    pub verifier: &'a SecretString,
    /// The redirect URI the authorization used.
    pub redirect_uri: &'a str,
}

impl Client {
    /// Exchanges an authorization code for a token and checks that every scope asked for was
    /// granted. `site` is the configured site URL, kept in the store.
    pub async fn exchange_code(
        &self,
        exchange: &CodeExchange<'_>,
        site: &Url,
    ) -> Result<TokenStore, ExchangeError> {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", exchange.client_id)
            .append_pair("client_secret", exchange.client_secret.expose_secret())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", exchange.code)
            .append_pair("code_verifier", exchange.verifier.expose_secret())
            .append_pair("redirect_uri", exchange.redirect_uri)
            .finish();
        let (status, body, correlation_id) = self.post_token_form(form).await?;
        let head = super::AnswerHead {
            endpoint: TOKEN_ENDPOINT,
            status,
            correlation_id: &correlation_id,
        };
        if status.as_u16() == 400
            && let Ok(answer) = serde_json::from_slice::<ErrorAnswer>(&body)
        {
            return Err(ExchangeError::Refused {
                error: answer.error,
                description: answer.error_description,
                correlation_id: answer
                    .correlation_id
                    .unwrap_or_else(|| correlation_id.clone()),
            });
        }
        if let Ok(envelope) = serde_json::from_slice::<super::wire::EnvelopeHead>(&body)
            && envelope.code != 0
        {
            return Err(head
                .api(envelope.code, envelope.msg, envelope.correlation_id)
                .into());
        }
        if !status.is_success() {
            return Err(head.not_json(error::body_excerpt(&body)).into());
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| Error::Decode {
            endpoint: TOKEN_ENDPOINT.to_owned(),
            correlation_id: correlation_id.clone(),
            problem: error::DecodeProblem::from(&e),
        })?;
        let granted = answer.scope.unwrap_or_default();
        let granted_scopes: Vec<String> = granted.split_whitespace().map(str::to_owned).collect();
        let missing: Vec<&str> = SCOPES
            .iter()
            .copied()
            .filter(|s| !granted_scopes.iter().any(|g| g == s))
            .collect();
        let Some(refresh_token) = answer.refresh_token.filter(|t| !t.is_empty()) else {
            return Err(ExchangeError::NoRefreshToken { granted });
        };
        if !missing.is_empty() {
            return Err(ExchangeError::ScopesMissing {
                granted,
                missing: missing.join(" "),
            });
        }
        let now = (self.options.clock)();
        Ok(TokenStore {
            site: site.to_string(),
            client_id: exchange.client_id.to_owned(),
            scopes: granted_scopes,
            refresh_token: SecretString::from(refresh_token),
            refresh_expires: answer
                .refresh_token_expires_in
                .filter(|s| *s > 0)
                .map(|s| now + TimeDelta::seconds(s)),
        })
    }

    /// Posts the exchange's form; the answer's status and body (at most [`MAX_ANSWER`] bytes)
    /// and the correlation id sent.
    async fn post_token_form(
        &self,
        form: String,
    ) -> Result<(reqwest::StatusCode, Vec<u8>, String), Error> {
        let url = self
            .options
            .api_base
            .join("session/oauth/token")
            .map_err(|_| super::missing_data(TOKEN_ENDPOINT))?;
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let transport = |source: reqwest::Error| {
            if source.is_connect() {
                Error::Connect {
                    endpoint: TOKEN_ENDPOINT.to_owned(),
                    detail: error::cause_chain(&source),
                    source,
                }
            } else if source.is_timeout() {
                Error::Timeout {
                    endpoint: TOKEN_ENDPOINT.to_owned(),
                    correlation_id: correlation_id.clone(),
                }
            } else {
                Error::Transport {
                    endpoint: TOKEN_ENDPOINT.to_owned(),
                    correlation_id: correlation_id.clone(),
                    detail: error::cause_chain(&source),
                    source,
                }
            }
        };
        // The form carries the client secret: never follow a redirect with it (`crate::http`).
        let mut response = self
            .http_send
            .post(url)
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .header("X-Cr-Correlation-Id", correlation_id.as_str())
            .body(form)
            .send()
            .await
            .map_err(&transport)?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(&transport)? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_ANSWER {
                return Err(Error::BodyTooLarge {
                    endpoint: TOKEN_ENDPOINT.to_owned(),
                    limit: MAX_ANSWER,
                    correlation_id: correlation_id.clone(),
                });
            }
        }
        Ok((status, body, correlation_id))
    }

    /// What the server's version means for OAuth (`GET /site/ping`).
    pub async fn oauth_support(&self) -> Result<OAuthSupport, Error> {
        let version = self.ping().await?;
        Ok(OAuthSupport::of(&version))
    }

    /// The error for a rejected refresh token, naming what the operator must do for this kind
    /// of credential.
    pub(super) fn token_rejected(&self) -> Error {
        match &self.options.credentials {
            Credentials::OAuth { account, .. } => Error::OAuthTokenRejected {
                account: account.clone(),
            },
            Credentials::RefreshToken { source_file, .. } => Error::RefreshTokenRejected {
                file: source_file.clone(),
            },
            Credentials::Password(_) => Error::RefreshTokenRejected {
                file: std::path::PathBuf::new(),
            },
        }
    }

    /// Keeps a rotated refresh token: the plain token file, or the OAuth store with its new
    /// expiry (the scopes stay those granted).
    pub(super) fn keep_rotation(
        &self,
        refresh: &SecretString,
        refresh_expires: Option<DateTime<Utc>>,
    ) {
        match &self.options.credentials {
            Credentials::RefreshToken {
                store: Some(path), ..
            } => {
                if let Err(e) = crate::durable::write_atomically_with_mode(
                    path,
                    refresh.expose_secret().as_bytes(),
                    0o600,
                ) {
                    tracing::warn!(path = %path.display(), error = %e, "could not keep the rotated refresh token; a restart will start from the configured one");
                }
            }
            Credentials::OAuth { token, store, .. } => {
                let mut kept = token.clone();
                kept.refresh_token = refresh.clone();
                kept.refresh_expires = refresh_expires.or(kept.refresh_expires);
                if let Err(e) = kept.write(store) {
                    tracing::warn!(error = %e, "could not keep the rotated OAuth token; a restart will start from the stored one, which still works until it expires");
                }
                if let Ok(mut newest) = self.newest_grant.lock() {
                    *newest = Some(kept);
                }
            }
            _ => {}
        }
    }

    /// The OAuth grant as last kept (its expiry moves with every rotation), if the client signs
    /// in with one.
    pub fn oauth_grant(&self) -> Option<TokenStore> {
        if let Ok(newest) = self.newest_grant.lock()
            && let Some(grant) = newest.as_ref()
        {
            return Some(grant.clone());
        }
        match &self.options.credentials {
            Credentials::OAuth { token, .. } => Some(token.clone()),
            _ => None,
        }
    }
}

/// What a server version means for OAuth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthSupport {
    /// Before 4.12 (or unreadable): no OAuth clients.
    Unavailable {
        /// The version the server answered.
        version: String,
    },
    /// 4.12 to 4.16.0: tokens work, but their scopes are not enforced (full access).
    NotEnforced {
        /// The version the server answered.
        version: String,
    },
    /// 4.16.1 and later: scopes are enforced.
    Enforced {
        /// The version the server answered.
        version: String,
    },
}

impl OAuthSupport {
    /// Reads a version such as `4.18.0` or `4.18.0-pro`.
    pub fn of(version: &str) -> Self {
        let core = version.trim().trim_start_matches('v');
        let core = core.split(['-', '+']).next().unwrap_or_default();
        let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
        let triple = (
            parts.next().flatten(),
            parts.next().flatten(),
            parts.next().flatten().unwrap_or(0),
        );
        let version = version.to_owned();
        match triple {
            (Some(major), Some(minor), patch) => {
                let v = (major, minor, patch);
                if v < (4, 12, 0) {
                    Self::Unavailable { version }
                } else if v < (4, 16, 1) {
                    Self::NotEnforced { version }
                } else {
                    Self::Enforced { version }
                }
            }
            _ => Self::Unavailable { version },
        }
    }
}

impl std::fmt::Display for OAuthSupport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unavailable { version } => write!(
                f,
                "Cloudreve {version} has no OAuth clients (they arrived in 4.12); upgrade the server, or sign in with a password or refresh token"
            ),
            Self::NotEnforced { version } => write!(
                f,
                "Cloudreve {version} does not enforce OAuth scopes (from 4.16.1 on it does): this token works as a full-access credential that can read, delete and share every file of the account; upgrade the server to make it least-privilege"
            ),
            Self::Enforced { version } => {
                write!(f, "Cloudreve {version} enforces OAuth scopes")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636s_s256() {
        // RFC 7636, appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let a = Authorization::new().unwrap();
        assert_eq!(a.state.len(), 43);
        assert_ne!(a.state, Authorization::new().unwrap().state);
        assert_eq!(a.challenge, pkce_challenge(a.verifier.expose_secret()));
        assert!(!format!("{a:?}").contains(a.verifier.expose_secret()));
    }

    #[test]
    fn the_authorize_url_carries_every_parameter_under_the_site_path() {
        let a = Authorization::new().unwrap();
        let site = Url::parse("https://example.com/cloud/").unwrap();
        let url = a.url(&site, "cid", "http://127.0.0.1:53682/callback");
        assert_eq!(url.path(), "/cloud/session/authorize");
        let pairs: std::collections::HashMap<String, String> =
            url.query_pairs().into_owned().collect();
        assert_eq!(pairs["scope"], "openid offline_access Workflow.Write");
        assert_eq!(pairs["code_challenge_method"], "S256");
        assert_eq!(pairs["redirect_uri"], "http://127.0.0.1:53682/callback");
        assert_eq!(pairs["state"], a.state);
        assert_eq!(pairs["response_type"], "code");
    }

    #[test]
    fn versions_say_whether_scopes_hold() {
        assert!(matches!(
            OAuthSupport::of("4.0.0"),
            OAuthSupport::Unavailable { .. }
        ));
        assert!(matches!(
            OAuthSupport::of("4.11.9"),
            OAuthSupport::Unavailable { .. }
        ));
        assert!(matches!(
            OAuthSupport::of("4.12.0"),
            OAuthSupport::NotEnforced { .. }
        ));
        assert!(matches!(
            OAuthSupport::of("4.16.0-pro"),
            OAuthSupport::NotEnforced { .. }
        ));
        assert!(matches!(
            OAuthSupport::of("4.16.1"),
            OAuthSupport::Enforced { .. }
        ));
        assert!(matches!(
            OAuthSupport::of("4.18.0-pro"),
            OAuthSupport::Enforced { .. }
        ));
        assert!(matches!(
            OAuthSupport::of("garbage"),
            OAuthSupport::Unavailable { .. }
        ));
        assert!(
            OAuthSupport::of("4.14.0")
                .to_string()
                .contains("full-access")
        );
    }
}
