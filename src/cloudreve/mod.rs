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

mod error;
mod fetch;
mod oauth;
mod token_store;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use url::Url;

pub use error::{
    DecodeCategory, DecodeProblem, Delivery, Error, JsonKind, ListProblem, SignInProblem,
};
pub use fetch::{DownloadError, DownloadOptions, Downloader, redacted};
pub use oauth::{Authorization, CodeExchange, ExchangeError, OAuthSupport, RandomError, SCOPES};
pub use token_store::{EXPIRY_WARNING_DAYS, StoreError, TokenStore};

use crate::task::{SelectionChange, TaskId, TaskList};

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

/// The tokens of a signed-in session. Never `Debug`-printed with their values.
/// A failed select-files PATCH.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct PatchError {
    /// What failed.
    #[source]
    pub error: Error,
    /// How far the request got.
    pub delivery: Delivery,
}

struct Session {
    access: SecretString,
    refresh: SecretString,
    access_expires: DateTime<Utc>,
    /// When the refresh token expires, if the server said.
    refresh_expires: Option<DateTime<Utc>>,
    /// When the access token must be refreshed proactively.
    refresh_at: DateTime<Utc>,
}

struct Refusal {
    problem: SignInProblem,
    at: DateTime<Utc>,
    wait: Duration,
}

struct AuthState {
    session: Option<Session>,
    refusal: Option<Refusal>,
    /// With refresh-token credentials: the newest refresh token, used when there is no session.
    seed: Option<SecretString>,
}

/// A Cloudreve v4 client. Cheap to share behind an `Arc`; two `reqwest::Client`s inside.
pub struct Client {
    /// For GETs: follows a few redirects within the server's origin (see `crate::http`).
    http: reqwest::Client,
    /// For requests with a body (sign-in, refresh, the PATCH): follows no redirect.
    http_send: reqwest::Client,
    options: ClientOptions,
    auth: Mutex<AuthState>,
    /// The OAuth grant as last rotated (`oauth_grant`).
    newest_grant: std::sync::Mutex<Option<TokenStore>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Building the HTTP client failed (TLS set-up).
pub use crate::http::BuildError;

pub use crate::http::install_crypto_provider;

impl Client {
    /// Builds the client with its timeouts, user agent and TLS settings.
    pub fn new(options: ClientOptions) -> Result<Self, BuildError> {
        let settings = |redirects| crate::http::Settings {
            connect_timeout: options.connect_timeout,
            timeout: options.timeout,
            pool_idle: Duration::from_secs(60),
            pool_max_idle_per_host: 2,
            extra_roots_pem: &options.extra_roots_pem,
            accept_invalid_certs: options.accept_invalid_certs,
            redirects,
            setting: "server.url",
            suggest: crate::http::Suggest::Base,
        };
        // A GET carries only the token, which reqwest drops on a change of origin and our
        // policy never lets leave it; sign-in, refresh and the PATCH carry a body: no redirect.
        let http = crate::http::client(&settings(crate::http::Redirects::SameOrigin))?;
        let http_send = crate::http::client(&settings(crate::http::Redirects::Never))?;
        let seed = match &options.credentials {
            Credentials::RefreshToken { token, .. } => Some(token.clone()),
            Credentials::OAuth { token, .. } => Some(token.refresh_token.clone()),
            Credentials::Password(_) => None,
        };
        Ok(Self {
            http,
            http_send,
            options,
            auth: Mutex::new(AuthState {
                session: None,
                refusal: None,
                seed,
            }),
            newest_grant: std::sync::Mutex::new(None),
        })
    }

    /// The options this client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// The longest one step of a tick (one task: a refresh, a sign-in, a PATCH and its retry
    /// after a 401) can take with these timeouts and retries: a tick that makes no progress
    /// for longer is wedged.
    pub fn step_deadline(&self) -> Duration {
        let attempts = self.options.retries.saturating_add(1);
        let one_call = self
            .options
            .timeout
            .saturating_mul(attempts)
            .saturating_add(
                self.options
                    .retry_max_delay
                    .saturating_mul(self.options.retries),
            );
        // Refresh, sign-in, the request, a refresh after a 401, the request again; plus slack.
        one_call
            .saturating_mul(5)
            .saturating_add(Duration::from_secs(30))
    }

    /// Signs in if there is no session, and refreshes the access token if it expires soon.
    pub async fn ensure_signed_in(&self) -> Result<(), Error> {
        self.access_token(false).await.map(|_| ())
    }

    /// Lists every ongoing remote download of the account (`category=downloading`).
    ///
    /// The answer must be complete and well-formed: a code-0 answer whose `data` or `tasks` is
    /// missing or `null`, or a cursor that never ends, is an [`Error::ListIncomplete`]. A task
    /// that cannot be read is returned in [`TaskList::skipped`]; the others are unaffected.
    pub async fn list_downloading(&self) -> Result<TaskList, Error> {
        let mut list = TaskList::default();
        let mut next_token: Option<String> = None;
        let mut last_correlation_id = String::new();
        // Each answer is capped; so is the whole list, over all its pages, at the same size (one
        // page more is the most ever held), so that many pages cannot add up to gigabytes.
        let limit = self.options.max_body_bytes;
        let mut received = 0usize;
        // The downloading category answers in one page; the cursor is followed defensively,
        // with a bound so that a server handing out cursors forever cannot loop us forever.
        for _ in 0..MAX_LIST_PAGES {
            let mut path = "workflow?category=downloading&page_size=100".to_owned();
            if let Some(token) = &next_token {
                path.push_str("&next_page_token=");
                path.push_str(
                    &url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>(),
                );
            }
            let (page, correlation_id) = self
                .authed_with(
                    Method::GET,
                    LIST_ENDPOINT,
                    &path,
                    None::<&()>,
                    ListReceiver::default,
                )
                .await?;
            received = received.saturating_add(page.bytes);
            if received > limit {
                return Err(Error::ListIncomplete {
                    endpoint: LIST_ENDPOINT.to_owned(),
                    correlation_id,
                    problem: ListProblem::TooLarge { limit },
                });
            }
            if list.tasks.is_empty() && list.skipped.is_empty() {
                list = page.tasks;
            } else {
                list.tasks.extend(page.tasks.tasks);
                list.skipped.extend(page.tasks.skipped);
            }
            if page.next_token.is_none() {
                return Ok(list);
            }
            if page.next_token == next_token {
                return Err(Error::ListIncomplete {
                    endpoint: LIST_ENDPOINT.to_owned(),
                    correlation_id,
                    problem: ListProblem::CursorRepeated,
                });
            }
            next_token = page.next_token;
            last_correlation_id = correlation_id;
        }
        Err(Error::ListIncomplete {
            endpoint: LIST_ENDPOINT.to_owned(),
            correlation_id: last_correlation_id,
            problem: ListProblem::PageCap {
                pages: MAX_LIST_PAGES,
            },
        })
    }

    /// Sends the select-files PATCH for one task. `changes` must not be empty. The error says
    /// whether the request may have reached the server.
    pub async fn set_selection(
        &self,
        task_id: &TaskId,
        changes: &[SelectionChange],
    ) -> Result<(), PatchError> {
        let body = wire::SetFilesRequest {
            files: changes.iter().map(wire::FileSelection::from).collect(),
        };
        let endpoint = format!("PATCH /workflow/download/{task_id}");
        let path = format!(
            "workflow/download/{}",
            url::form_urlencoded::byte_serialize(task_id.as_str().as_bytes()).collect::<String>()
        );
        let not_sent = |error| PatchError {
            error,
            delivery: Delivery::NotSent,
        };
        let token = self.access_token(false).await.map_err(not_sent)?;
        let classify = |error: Error| PatchError {
            delivery: error.patch_delivery(),
            error,
        };
        let send = |token: SecretString| {
            let (endpoint, path, body) = (&endpoint, &path, &body);
            async move {
                self.call::<serde_json::Value, _>(
                    Method::PATCH,
                    endpoint,
                    path,
                    Some(&token),
                    Some(body),
                )
                .await
                .map(|_| ())
            }
        };
        match send(token).await {
            Ok(()) => Ok(()),
            Err(Error::Api { code: 401, .. }) => {
                tracing::info!(
                    endpoint,
                    "access token rejected (401); refreshing and retrying once"
                );
                // The first attempt was refused, so nothing was applied yet.
                let token = self.access_token(true).await.map_err(not_sent)?;
                send(token).await.map_err(classify)
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// `GET /site/ping`: the server's version. Needs no sign-in.
    pub async fn ping(&self) -> Result<String, Error> {
        let data: Option<String> = self
            .call(
                Method::GET,
                "GET /site/ping",
                "site/ping",
                None,
                None::<&()>,
            )
            .await?;
        Ok(data.unwrap_or_default())
    }

    /// A call on a protected route (one refresh and one retry on a body code 401), with the
    /// answer received and judged by what `receiver` makes.
    async fn authed_with<B, M, R>(
        &self,
        method: Method,
        endpoint: &str,
        path: &str,
        body: Option<&B>,
        receiver: M,
    ) -> Result<R::Output, Error>
    where
        B: Serialize + Sync,
        M: Fn() -> R + Sync,
        R: Receive,
    {
        let token = self.access_token(false).await?;
        match self
            .call_with(
                method.clone(),
                endpoint,
                path,
                Some(&token),
                body,
                &receiver,
            )
            .await
        {
            Err(Error::Api { code: 401, .. }) => {
                tracing::info!(
                    endpoint,
                    "access token rejected (401); refreshing and retrying once"
                );
                let token = self.access_token(true).await?;
                self.call_with(method, endpoint, path, Some(&token), body, &receiver)
                    .await
            }
            other => other,
        }
    }

    /// After a refused sign-in, the error that says how long to wait, while the wait lasts.
    fn wait_after_refusal(
        &self,
        refusal: Option<&Refusal>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let Some(refusal) = refusal else {
            return Ok(());
        };
        let elapsed = now.signed_duration_since(refusal.at);
        let wait = TimeDelta::from_std(refusal.wait).unwrap_or(TimeDelta::MAX);
        if elapsed < wait {
            return Err(Error::SignInBackoff {
                email: self.options.email.clone(),
                problem: refusal.problem,
                seconds_ago: elapsed.num_seconds(),
                retry_in_secs: (wait - elapsed).num_seconds(),
            });
        }
        Ok(())
    }

    /// A usable access token: signs in, or refreshes when forced or close to expiry.
    async fn access_token(&self, force_refresh: bool) -> Result<SecretString, Error> {
        let mut auth = self.auth.lock().await;
        let now = (self.options.clock)();
        // The current access token while it is still valid: a proactive refresh that fails
        // for a transient reason falls back to it.
        let mut still_valid: Option<SecretString> = None;
        let needs_refresh = match &auth.session {
            None => None,
            Some(session) if force_refresh || now >= session.refresh_at => {
                if !force_refresh && now < session.access_expires {
                    still_valid = Some(session.access.clone());
                }
                Some(session.refresh.clone())
            }
            Some(session) => return Ok(session.access.clone()),
        };
        let needs_refresh =
            needs_refresh.or_else(|| auth.seed.clone().filter(|_| auth.refusal.is_none()));
        if let Some(refresh) = needs_refresh {
            match self.refresh(&refresh).await {
                Ok(session) => {
                    let token = session.access.clone();
                    tracing::debug!(access_expires = %session.access_expires, "access token refreshed");
                    self.keep_rotation(&session.refresh, session.refresh_expires);
                    if auth.seed.is_some() {
                        auth.seed = Some(session.refresh.clone());
                    }
                    auth.session = Some(session);
                    return Ok(token);
                }
                Err(Error::Api { code: 40020, .. }) if auth.seed.is_some() => {
                    auth.session = None;
                    auth.refusal = Some(Refusal {
                        problem: SignInProblem::RefreshTokenRejected,
                        at: now,
                        wait: self.options.sign_in_backoff,
                    });
                    return Err(self.token_rejected());
                }
                Err(Error::Api { code: 40020, .. }) => {
                    tracing::info!(
                        "refresh token rejected (40020); signing in again with the password"
                    );
                    auth.session = None;
                }
                Err(e) => {
                    if e.is_transient()
                        && let Some(access) = still_valid
                    {
                        tracing::warn!(error = %e, "proactive token refresh failed; using the current access token until the next try");
                        return Ok(access);
                    }
                    return Err(e);
                }
            }
        }
        // A rejected refresh token is not retried (only a restart reads a new one), so no
        // back-off message may promise a next attempt. An OAuth account never falls back to a
        // password: it was given none.
        if auth.seed.is_some() {
            return Err(self.token_rejected());
        }
        self.wait_after_refusal(auth.refusal.as_ref(), now)?;
        match self.sign_in().await {
            Ok(session) => {
                let token = session.access.clone();
                tracing::info!(email = %self.options.email, access_expires = %session.access_expires, "signed in to Cloudreve");
                auth.session = Some(session);
                auth.refusal = None;
                Ok(token)
            }
            Err(Error::SignIn {
                email,
                problem,
                correlation_id,
                password_source,
            }) => {
                let wait = match &auth.refusal {
                    Some(previous) => (previous.wait * 2).min(Duration::from_secs(3600)),
                    None => self.options.sign_in_backoff,
                };
                auth.refusal = Some(Refusal {
                    problem,
                    at: now,
                    wait,
                });
                Err(Error::SignIn {
                    email,
                    problem,
                    correlation_id,
                    password_source,
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn sign_in(&self) -> Result<Session, Error> {
        let Credentials::Password(password) = &self.options.credentials else {
            return Err(missing_data("POST /session/token"));
        };
        let body = wire::SignInRequest {
            email: &self.options.email,
            password: password.expose_secret(),
        };
        let data: Option<wire::SignInData> = match self
            .call(
                Method::POST,
                "POST /session/token",
                "session/token",
                None,
                Some(&body),
            )
            .await
        {
            Ok(data) => data,
            Err(Error::Api {
                code,
                msg,
                correlation_id,
                endpoint,
            }) => {
                return Err(match SignInProblem::from_code(code) {
                    Some(problem) => Error::SignIn {
                        email: self.options.email.clone(),
                        problem,
                        correlation_id,
                        password_source: self.options.credential_source.clone(),
                    },
                    None => Error::Api {
                        endpoint,
                        code,
                        msg,
                        correlation_id,
                    },
                });
            }
            Err(e) => return Err(e),
        };
        let token = data
            .map(|d| d.token)
            .ok_or_else(|| missing_data("POST /session/token"))?;
        Ok(self.session_from(token))
    }

    async fn refresh(&self, refresh_token: &SecretString) -> Result<Session, Error> {
        let body = wire::RefreshRequest {
            refresh_token: refresh_token.expose_secret(),
        };
        let data: Option<wire::TokenPair> = self
            .call(
                Method::POST,
                "POST /session/token/refresh",
                "session/token/refresh",
                None,
                Some(&body),
            )
            .await?;
        let token = data.ok_or_else(|| missing_data("POST /session/token/refresh"))?;
        Ok(self.session_from(token))
    }

    fn session_from(&self, token: wire::TokenPair) -> Session {
        let now = (self.options.clock)();
        let access_expires = wire::parse_time(&token.access_expires).unwrap_or_else(|| {
            // The value is not logged: it is the server's text, and nothing says it is not a secret.
            tracing::warn!("unreadable access_expires in the sign-in answer; assuming 10 minutes");
            now + TimeDelta::minutes(10)
        });
        let lifetime = access_expires
            .signed_duration_since(now)
            .max(TimeDelta::zero());
        let margin = TimeDelta::from_std(self.options.refresh_margin)
            .unwrap_or(TimeDelta::MAX)
            .min(lifetime / 2);
        Session {
            access: SecretString::from(token.access_token),
            refresh: SecretString::from(token.refresh_token),
            access_expires,
            refresh_expires: wire::parse_time(&token.refresh_expires),
            refresh_at: access_expires - margin,
        }
    }

    /// One request with retries. GET and sign-in/refresh are retried on any transient failure;
    /// other methods (the PATCH) only when the connection could not be made.
    async fn call<T: DeserializeOwned, B: Serialize + Sync>(
        &self,
        method: Method,
        endpoint: &str,
        path: &str,
        token: Option<&SecretString>,
        body: Option<&B>,
    ) -> Result<Option<T>, Error> {
        self.call_with(
            method,
            endpoint,
            path,
            token,
            body,
            &Buffered::<Option<T>>::envelope,
        )
        .await
    }

    /// [`Self::call`] with the answer received and judged by what `receiver` makes.
    async fn call_with<B, M, R>(
        &self,
        method: Method,
        endpoint: &str,
        path: &str,
        token: Option<&SecretString>,
        body: Option<&B>,
        receiver: &M,
    ) -> Result<R::Output, Error>
    where
        B: Serialize + Sync,
        M: Fn() -> R + Sync,
        R: Receive,
    {
        let retry_any_transient = method == Method::GET || method == Method::POST;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.options.retry_min_delay)
            .with_max_delay(self.options.retry_max_delay)
            .with_max_times(self.options.retries as usize)
            .with_jitter();
        (|| async {
            let result = self
                .call_once(method.clone(), endpoint, path, token, body, receiver())
                .await;
            if let Some(observe) = &self.options.on_request {
                observe(
                    route_template(endpoint),
                    result.as_ref().map_or_else(Error::label, |_| "ok"),
                );
            }
            result
        })
        .retry(backoff)
            .when(|e: &Error| {
                if retry_any_transient {
                    e.is_transient()
                } else {
                    e.is_connect()
                }
            })
            .notify(|e: &Error, delay: Duration| {
                tracing::warn!(endpoint, error = %e, retry_in_ms = delay.as_millis(), "transient failure; retrying");
            })
            .await
    }

    async fn call_once<B, R>(
        &self,
        method: Method,
        endpoint: &str,
        path: &str,
        token: Option<&SecretString>,
        body: Option<&B>,
        mut receiver: R,
    ) -> Result<R::Output, Error>
    where
        B: Serialize + Sync,
        R: Receive,
    {
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let transport = |source: reqwest::Error| {
            if let Some(refused) = crate::http::refused_redirect(&source) {
                Error::Redirect {
                    endpoint: endpoint.to_owned(),
                    refused: refused.clone(),
                }
            } else if source.is_connect() {
                Error::Connect {
                    endpoint: endpoint.to_owned(),
                    detail: error::cause_chain(&source),
                    source,
                }
            } else if source.is_timeout() {
                Error::Timeout {
                    endpoint: endpoint.to_owned(),
                    correlation_id: correlation_id.clone(),
                }
            } else {
                Error::Transport {
                    endpoint: endpoint.to_owned(),
                    correlation_id: correlation_id.clone(),
                    detail: error::cause_chain(&source),
                    source,
                }
            }
        };
        let url = self
            .options
            .api_base
            .join(path)
            .map_err(|_| Error::NotJson {
                endpoint: endpoint.to_owned(),
                status: 0,
                correlation_id: correlation_id.clone(),
                snippet: "the request path cannot be joined to the API base".to_owned(),
            })?;
        let http = if method == Method::GET {
            &self.http
        } else {
            &self.http_send
        };
        let mut request = http
            .request(method, url)
            .header("X-Cr-Correlation-Id", &correlation_id)
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(token) = token {
            request = request.bearer_auth(token.expose_secret());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let mut response = request.send().await.map_err(&transport)?;
        let status = response.status();
        let limit = self.options.max_body_bytes;
        let too_large = || Error::BodyTooLarge {
            endpoint: endpoint.to_owned(),
            limit,
            correlation_id: correlation_id.clone(),
        };
        if response
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Err(too_large());
        }
        receiver.expect(response.content_length());
        while let Some(chunk) = response.chunk().await.map_err(&transport)? {
            if receiver.received() + chunk.len() > limit {
                return Err(too_large());
            }
            receiver.receive(&chunk);
        }
        receiver.finish(AnswerHead {
            endpoint,
            status,
            correlation_id: &correlation_id,
        })
    }
}

/// The route of an endpoint name, without ids: a bounded set of metric label values.
fn route_template(endpoint: &str) -> &'static str {
    const ROUTES: [&str; 4] = [
        "GET /workflow",
        "POST /session/token",
        "POST /session/token/refresh",
        "GET /site/ping",
    ];
    if endpoint.starts_with("PATCH /workflow/download/") {
        return "PATCH /workflow/download/{id}";
    }
    ROUTES
        .into_iter()
        .find(|route| *route == endpoint)
        .unwrap_or("other")
}

fn missing_data(endpoint: &str) -> Error {
    Error::Api {
        endpoint: endpoint.to_owned(),
        code: 0,
        msg: "success answer without data".to_owned(),
        correlation_id: String::new(),
    }
}

/// What is known of an answer besides its body.
#[derive(Clone, Copy)]
struct AnswerHead<'a> {
    /// e.g. `GET /workflow`.
    endpoint: &'a str,
    status: StatusCode,
    /// The id sent in `X-Cr-Correlation-Id`.
    correlation_id: &'a str,
}

impl AnswerHead<'_> {
    fn not_json(&self, snippet: String) -> Error {
        Error::NotJson {
            endpoint: self.endpoint.to_owned(),
            status: self.status.as_u16(),
            correlation_id: self.correlation_id.to_owned(),
            snippet,
        }
    }

    fn api(&self, code: i64, msg: String, correlation_id: Option<String>) -> Error {
        if code == 40089 {
            return Error::ScopeMissing {
                endpoint: self.endpoint.to_owned(),
                scope: oauth::scope_for(self.endpoint),
                correlation_id: correlation_id.unwrap_or_else(|| self.correlation_id.to_owned()),
            };
        }
        Error::Api {
            endpoint: self.endpoint.to_owned(),
            code,
            msg,
            correlation_id: correlation_id.unwrap_or_else(|| self.correlation_id.to_owned()),
        }
    }
}

/// Receives an answer's body as it arrives, then judges it.
trait Receive: Send {
    /// What a good answer gives.
    type Output;
    /// The body's announced length, if any.
    fn expect(&mut self, _content_length: Option<u64>) {}
    /// The next piece of the body.
    fn receive(&mut self, chunk: &[u8]);
    /// Bytes received so far (the response-size cap counts them).
    fn received(&self) -> usize;
    /// The whole answer has arrived.
    fn finish(self, head: AnswerHead<'_>) -> Result<Self::Output, Error>;
}

/// Keeps the body, then decodes it with `serde` (every answer but the list, all small).
struct Buffered<T> {
    bytes: Vec<u8>,
    decode: fn(AnswerHead<'_>, &[u8]) -> Result<T, Error>,
}

impl<T: DeserializeOwned> Buffered<Option<T>> {
    /// The envelope with a `data` of type `T`.
    fn envelope() -> Self {
        Self {
            bytes: Vec::new(),
            decode: decode_envelope::<T>,
        }
    }
}

impl<T> Receive for Buffered<T> {
    type Output = T;

    fn expect(&mut self, content_length: Option<u64>) {
        // A length beyond the cap is refused before this; a small first guess otherwise.
        let length = content_length.map_or(8 * 1024, |l| usize::try_from(l).unwrap_or(0));
        self.bytes.reserve_exact(length);
    }
    fn receive(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
    }
    fn received(&self) -> usize {
        self.bytes.len()
    }
    fn finish(self, head: AnswerHead<'_>) -> Result<T, Error> {
        (self.decode)(head, &self.bytes)
    }
}

/// Decodes the task list as it arrives (see `wire::list::ListStream`): the body is never held
/// whole.
#[derive(Default)]
struct ListReceiver(wire::list::ListStream<'static>);

impl Receive for ListReceiver {
    type Output = (wire::list::ListPage, String);

    fn receive(&mut self, chunk: &[u8]) {
        self.0.feed(chunk);
    }
    fn received(&self) -> usize {
        self.0.received()
    }
    fn finish(self, head: AnswerHead<'_>) -> Result<Self::Output, Error> {
        let received = self.0.received();
        let skeleton_is_json = matches!(
            self.0.skeleton().trim_ascii_start().first(),
            Some(b'{' | b'[')
        );
        let snippet = match &self.0.skeleton() {
            skeleton if !skeleton_is_json => error::body_excerpt(skeleton),
            _ => String::new(),
        };
        let decoded = self.0.finish().map_err(|e| {
            head.not_json(match e {
                wire::list::StreamError::Skeleton(_) if !skeleton_is_json => snippet,
                wire::list::StreamError::Skeleton(problem) => {
                    format!("{received} bytes of {problem} (outside data.tasks)")
                }
                wire::list::StreamError::Element { index, problem } => {
                    format!("{received} bytes of JSON; data.tasks[{index}] holds {problem}")
                }
                wire::list::StreamError::Structure { offset } => format!(
                    "{received} bytes of JSON; data.tasks is not a well-formed array (byte {offset})"
                ),
            })
        })?;
        judge_list(head, decoded).map(|(mut page, correlation_id)| {
            page.bytes = received;
            (page, correlation_id)
        })
    }
}

/// Checks the envelope: a non-zero `code` is an error whatever the HTTP status; a body that is
/// not the envelope is a transport-level error. No error quotes a value from the body.
fn decode_envelope<T: DeserializeOwned>(
    head: AnswerHead<'_>,
    bytes: &[u8],
) -> Result<Option<T>, Error> {
    let envelope_head = || serde_json::from_slice::<wire::EnvelopeHead>(bytes);
    if !head.status.is_success() && envelope_head().is_err() {
        return Err(head.not_json(error::body_excerpt(bytes)));
    }
    match serde_json::from_slice::<wire::Envelope<T>>(bytes) {
        Ok(envelope) if envelope.code != 0 => {
            Err(head.api(envelope.code, envelope.msg, envelope.correlation_id))
        }
        Ok(envelope) => Ok(envelope.data),
        Err(e) => Err(match envelope_head() {
            Ok(envelope) if envelope.code != 0 => {
                head.api(envelope.code, envelope.msg, envelope.correlation_id)
            }
            Ok(_) => Error::Decode {
                endpoint: head.endpoint.to_owned(),
                correlation_id: head.correlation_id.to_owned(),
                problem: DecodeProblem::from(&e),
            },
            Err(_) => head.not_json(error::body_excerpt(bytes)),
        }),
    }
}

/// The endpoint named in list errors.
const LIST_ENDPOINT: &str = "GET /workflow";

/// Pages of the downloading list read before giving up (the server sends one).
const MAX_LIST_PAGES: usize = 1000;

/// A decoded list answer: its page and the correlation id to name in later errors, or why it is
/// not a complete list.
fn judge_list(
    head: AnswerHead<'_>,
    decoded: wire::list::ListAnswer,
) -> Result<(wire::list::ListPage, String), Error> {
    let Some(code) = decoded.code else {
        return Err(head.not_json("JSON without an envelope code".to_owned()));
    };
    if code != 0 {
        return Err(head.api(code, decoded.msg, decoded.correlation_id));
    }
    let correlation_id = decoded
        .correlation_id
        .clone()
        .unwrap_or_else(|| head.correlation_id.to_owned());
    match decoded.into_page() {
        Ok(page) => Ok((page, correlation_id)),
        Err(problem) => Err(Error::ListIncomplete {
            endpoint: head.endpoint.to_owned(),
            correlation_id,
            problem,
        }),
    }
}

/// Decodes a `GET /workflow` answer given in pieces, exactly as the client does while the body
/// arrives (public for the scale bench). The answer must be a complete list, as for
/// [`Client::list_downloading`].
pub fn decode_list_pieces<'a>(
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> Result<TaskList, Error> {
    let mut receiver = ListReceiver::default();
    for piece in pieces {
        receiver.receive(piece);
    }
    receiver
        .finish(AnswerHead {
            endpoint: LIST_ENDPOINT,
            status: StatusCode::OK,
            correlation_id: "",
        })
        .map(|(page, _)| page.tasks)
}

/// A saved task document that cannot be explained.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// Not JSON, or cut off.
    #[error("{0}")]
    Json(DecodeProblem),
    /// A saved list answer carrying an error code.
    #[error("the saved answer is Cloudreve error {code}: {msg:?}")]
    Api {
        /// The envelope's `code`.
        code: i64,
        /// The envelope's `msg`.
        msg: String,
    },
    /// A saved list answer that is not a complete list.
    #[error("the saved answer is not a complete list: {0}")]
    Incomplete(ListProblem),
    /// JSON, but not a task, a task list or a list answer.
    #[error(
        "expected a task object, an array of tasks, a list's data or a whole list answer (from GET /api/v4/workflow)"
    )]
    Shape,
    /// The reader of a streamed document stopped taking tasks.
    #[error("the reader stopped taking tasks")]
    Stopped,
}

/// Reads tasks from a saved `GET /workflow` answer, a list's `data`, an array of tasks or a
/// single task object, with the same one-pass decoder as the daemon's list.
pub fn decode_task_document(bytes: &[u8]) -> Result<TaskList, DocumentError> {
    let document = wire::list::decode_document(bytes, None).map_err(DocumentError::Json)?;
    judge_document(document).map(|tasks| tasks.list)
}

/// A saved task document read by [`stream_task_document`].
#[derive(Debug)]
pub struct StreamedTasks {
    /// The number of the array whose tasks, as handed over, are the document's tasks; `None`
    /// when none of the tasks handed over are (the document is a single task, in `rest`).
    pub array: Option<usize>,
    /// The document's tasks that were not handed over (a single task), and every task of its
    /// array that could not be read.
    pub rest: TaskList,
}

/// [`decode_task_document`], handing every task of a `tasks` array to `each` as soon as it is
/// decoded, with the number of its array (0 for the first), so that a reader can work on the
/// tasks while the rest of the document is decoded.
///
/// Only once the whole document is judged is it known which array holds the document's tasks
/// (almost always the one array; a later duplicate key replaces an earlier array, as in the
/// list) or whether it is usable at all (a saved error answer is not): the answer names the
/// array, and an error means no task handed over is the document's. `each` returning `Break`
/// stops the decoding with [`DocumentError::Stopped`].
pub fn stream_task_document(
    bytes: &[u8],
    each: &mut dyn FnMut(usize, crate::task::DownloadTask) -> std::ops::ControlFlow<()>,
) -> Result<StreamedTasks, DocumentError> {
    let mut stopped = false;
    let mut tap = |array, task| {
        let flow = each(array, task);
        stopped |= flow.is_break();
        flow
    };
    let decoded = wire::list::decode_document(bytes, Some(&mut tap));
    if stopped {
        return Err(DocumentError::Stopped);
    }
    let tasks = judge_document(decoded.map_err(DocumentError::Json)?)?;
    Ok(StreamedTasks {
        array: tasks.array,
        rest: tasks.list,
    })
}

/// A saved task document read piece by piece, as [`stream_task_document`] reads it whole: the
/// document is never held whole when it is a list answer (its `data.tasks` elements are decoded
/// as they complete), so reading and decoding overlap and memory stays small.
///
/// The pieces go through the same scanner as the list the daemon downloads (see
/// `wire::list::ListStream`). It cannot follow everything the parser of the whole text
/// accepts (a key written with escapes), and its errors are not positioned within the file:
/// for such a document [`Self::finish`] answers `None`, and the caller decodes the whole text
/// with [`stream_task_document`] instead, whose answer is then the document's. Tasks handed
/// over before that are not the document's.
pub struct TaskDocumentStream<'t> {
    stream: wire::list::ListStream<'t>,
}

impl<'t> TaskDocumentStream<'t> {
    /// A stream that hands every task of a `tasks` array to `each` as soon as it is decoded,
    /// numbered as [`stream_task_document`] numbers them. Each array's tasks come in order;
    /// only the arrays of a list's `data` come as they arrive, the others (a `tasks` array at
    /// the top, a document that is an array) at the end.
    pub fn new(
        each: &'t mut (
                    dyn FnMut(usize, crate::task::DownloadTask) -> std::ops::ControlFlow<()> + Send
                ),
    ) -> Self {
        Self {
            stream: wire::list::ListStream::with_tap(each),
        }
    }

    /// Takes the next piece of the document.
    pub fn feed(&mut self, piece: &[u8]) {
        self.stream.feed(piece);
    }

    /// Bytes held for the end, outside the streamed arrays: the whole document so far when
    /// it is not a list answer. A caller may give up streaming when it grows large.
    pub fn held(&self) -> usize {
        self.stream.skeleton().len()
    }

    /// What [`stream_task_document`] would answer for the document, or `None` when the stream
    /// could not follow it (then the whole text must be decoded instead).
    pub fn finish(self) -> Option<Result<StreamedTasks, DocumentError>> {
        let streamed = match self.stream.finish_document() {
            Ok(streamed) => streamed,
            Err(wire::list::DocumentStreamError::Stopped) => {
                return Some(Err(DocumentError::Stopped));
            }
            Err(wire::list::DocumentStreamError::Unfollowed) => return None,
        };
        Some(judge_document(streamed.document).map(|mut tasks| {
            // The streamed array's place in the skeleton is empty: its tasks are here.
            if tasks.array.is_some() && tasks.array == streamed.array {
                tasks.list.tasks.extend(streamed.rest.tasks);
                tasks.list.skipped.extend(streamed.rest.skipped);
            }
            StreamedTasks {
                array: tasks.array,
                rest: tasks.list,
            }
        }))
    }
}

fn judge_document(document: wire::list::Document) -> Result<wire::list::TaskArray, DocumentError> {
    match document {
        wire::list::Document::Tasks(tasks) => Ok(tasks),
        wire::list::Document::Answer(answer) => match answer.code {
            Some(0) => answer.into_task_array().map_err(DocumentError::Incomplete),
            Some(code) => Err(DocumentError::Api {
                code,
                msg: answer.msg,
            }),
            None => Err(DocumentError::Shape),
        },
        wire::list::Document::Other => Err(DocumentError::Shape),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(status: u16) -> AnswerHead<'static> {
        AnswerHead {
            endpoint: "GET /x",
            status: StatusCode::from_u16(status).unwrap(),
            correlation_id: "cid",
        }
    }

    fn decode(status: u16, body: &str) -> Result<Option<serde_json::Value>, Error> {
        decode_envelope(head(status), body.as_bytes())
    }

    #[test]
    fn code_zero_is_success() {
        assert_eq!(decode(200, r#"{"code":0,"msg":""}"#).unwrap(), None);
        assert_eq!(
            decode(200, r#"{"code":0,"data":"4.0.0","msg":""}"#).unwrap(),
            Some(serde_json::json!("4.0.0"))
        );
    }

    #[test]
    fn non_zero_code_is_an_error_even_on_http_200() {
        let err = decode(
            200,
            r#"{"code":404,"msg":"Task not found","correlation_id":"abc"}"#,
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::Api { code: 404, correlation_id, .. } if correlation_id == "abc")
        );
        assert!(!err.is_transient());
        assert!(err.to_string().contains("Task not found"));
    }

    #[test]
    fn error_with_unexpected_data_type_still_reports_the_code() {
        let result: Result<Option<wire::SignInData>, Error> = decode_envelope(
            head(200),
            br#"{"code":203,"data":"3f1c9a4e-5b7d","msg":""}"#,
        );
        assert!(matches!(result, Err(Error::Api { code: 203, .. })));
    }

    #[test]
    fn non_json_bodies_are_transport_errors() {
        let err = decode(500, "").unwrap_err();
        assert!(matches!(err, Error::NotJson { status: 500, .. }));
        assert!(err.is_transient());
        let err = decode(404, "404 page not found").unwrap_err();
        assert!(matches!(err, Error::NotJson { status: 404, .. }));
        assert!(!err.is_transient());
    }

    #[cfg(feature = "demo")]
    #[tokio::test]
    async fn a_rejected_refresh_token_never_promises_a_retry() {
        use crate::emulator::{Emulator, EmulatorOptions};
        use std::sync::atomic::{AtomicI64, Ordering};
        let emu = Emulator::start(EmulatorOptions::default()).await.unwrap();
        let token = emu.browser_refresh_token();
        emu.revoke_refresh_tokens();
        let api = Url::parse(&emu.base_url())
            .unwrap()
            .join("api/v4/")
            .unwrap();
        let mut options = ClientOptions::new(api, "bot@example.com".into(), SecretString::from(""));
        options.credentials = Credentials::RefreshToken {
            token: SecretString::from(token),
            store: None,
            source_file: "/etc/cloudreve-autoselect/refresh-token".into(),
        };
        let hours = Arc::new(AtomicI64::new(0));
        let clock_hours = Arc::clone(&hours);
        options.clock =
            Arc::new(move || Utc::now() + TimeDelta::hours(clock_hours.load(Ordering::SeqCst)));
        let client = Client::new(options).unwrap();
        // The first answer, again right away, and long after any back-off would have run out.
        for advance_hours in [0, 0, 2, 0] {
            hours.fetch_add(advance_hours, Ordering::SeqCst);
            let error = client.list_downloading().await.unwrap_err();
            assert!(
                matches!(error, Error::RefreshTokenRejected { .. }),
                "{error}"
            );
            let message = error.to_string();
            assert!(
                message.contains("/etc/cloudreve-autoselect/refresh-token")
                    && message.contains("restart")
                    && !message.contains("next attempt"),
                "{message}"
            );
        }
        let refreshes = emu
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/session/token/refresh"))
            .count();
        assert_eq!(refreshes, 1, "a rejected token is not sent again");
    }

    #[test]
    fn routes_never_carry_ids() {
        assert_eq!(
            route_template("PATCH /workflow/download/kku7"),
            "PATCH /workflow/download/{id}"
        );
        assert_eq!(route_template("GET /workflow"), "GET /workflow");
        assert_eq!(route_template("GET /something/else"), "other");
    }

    #[test]
    fn decode_errors_name_the_position_not_the_value() {
        let token = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0";
        let err = decode_envelope::<wire::SignInData>(
            head(200),
            format!(r#"{{"code":0,"msg":"","data":{{"token":"{token}"}}}}"#).as_bytes(),
        )
        .err()
        .unwrap();
        assert_eq!(
            err.to_string(),
            "GET /x: could not decode the answer (correlation id cid): a value of an unexpected type or shape at line 1 column 66"
        );
        let err = decode(200, &format!(r#"{{"code":0,"data":"{token}"#)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "GET /x: HTTP 200 without a Cloudreve JSON answer (correlation id cid): 47 bytes of JSON cut off at line 1 column 47"
        );
        let err = decode(502, &format!("<html>Bad Gateway {token}</html>")).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"GET /x: HTTP 502 without a Cloudreve JSON answer (correlation id cid): body starts "<html>Bad Gateway [masked]</html>""#
        );
        let err = decode(500, "").unwrap_err();
        assert!(err.to_string().ends_with(": empty body"), "{err}");
    }

    #[test]
    fn list_errors_name_the_endpoint_and_the_problem() {
        let list = |body: &str| {
            let mut receiver = ListReceiver::default();
            receiver.receive(body.as_bytes());
            receiver.finish(AnswerHead {
                endpoint: LIST_ENDPOINT,
                status: StatusCode::OK,
                correlation_id: "ours",
            })
        };
        let err = list(r#"{"code":0,"msg":"","data":null,"correlation_id":"theirs"}"#)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "GET /workflow: incomplete list answer (correlation id theirs): data is null"
        );
        let err = list(r#"{"code":401,"msg":"Login required"}"#)
            .err()
            .unwrap();
        assert!(matches!(err, Error::Api { code: 401, .. }), "{err}");
        let err = list(r#"{"msg":"","data":{"tasks":[]}}"#).err().unwrap();
        assert!(matches!(err, Error::NotJson { status: 200, .. }), "{err}");
        let (page, correlation_id) = list(r#"{"code":0,"msg":"","data":{"tasks":[]}}"#).unwrap();
        assert_eq!(correlation_id, "ours");
        assert!(page.tasks.tasks.is_empty() && page.next_token.is_none());
    }

    #[test]
    fn options_debug_hides_the_password() {
        let options = ClientOptions::new(
            Url::parse("http://127.0.0.1/api/v4/").unwrap(),
            "bot@example.com".into(),
            SecretString::from("hunter22"),
        );
        assert!(!format!("{options:?}").contains("hunter22"));
        let mut with_user_info = options.clone();
        with_user_info.api_base = Url::parse("https://bot:pw-in-url@host/api/v4/").unwrap();
        let shown = format!("{with_user_info:?}");
        assert!(
            !shown.contains("pw-in-url") && shown.contains("https://bot@host/api/v4/"),
            "{shown}"
        );
        let client = Client::new(options).unwrap();
        assert!(!format!("{client:?}").contains("hunter22"));
    }

    /// Each array's tasks go to the reader numbered by array, and the answer names the array
    /// that is the document's; a single task stays in the answer; a reader may stop early.
    #[test]
    fn a_streamed_document_names_its_array() {
        let task = |id: &str| format!(r#"{{"id":"{id}","status":"processing"}}"#);
        let (a, b, c) = (task("a"), task("b"), task("c"));
        let cases = [
            (format!("[{a},{b}]"), vec![(0, "a"), (0, "b")], Some(0)),
            (
                format!(r#"{{"tasks":[{a}],"tasks":[{b},{c}]}}"#),
                vec![(0, "a"), (1, "b"), (1, "c")],
                Some(1),
            ),
            (
                format!(r#"{{"code":0,"data":{{"tasks":[{c}]}},"msg":""}}"#),
                vec![(0, "c")],
                Some(0),
            ),
            (a.clone(), vec![], None),
        ];
        for (document, handed, array) in cases {
            let mut seen = Vec::new();
            let streamed = stream_task_document(document.as_bytes(), &mut |n, task| {
                seen.push((n, task.id.as_str().to_owned()));
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
            let handed: Vec<(usize, String)> =
                handed.iter().map(|&(n, id)| (n, id.to_owned())).collect();
            assert_eq!(seen, handed, "{document}");
            assert_eq!(streamed.array, array, "{document}");
            assert_eq!(streamed.rest.tasks.len(), usize::from(array.is_none()));
        }
        let mut seen = 0;
        let stopped = stream_task_document(format!("[{a},{b},{c}]").as_bytes(), &mut |_, _| {
            seen += 1;
            std::ops::ControlFlow::Break(())
        });
        assert!(
            matches!(stopped, Err(DocumentError::Stopped)),
            "{stopped:?}"
        );
        assert_eq!(seen, 1);
    }

    /// What a reader of the whole text sees: the tasks handed over, numbered, and the answer.
    fn read_whole(document: &str) -> (Vec<(usize, String)>, String) {
        let mut seen = Vec::new();
        let answer = stream_task_document(document.as_bytes(), &mut |n, task| {
            seen.push((n, format!("{task:?}")));
            std::ops::ControlFlow::Continue(())
        });
        (seen, format!("{answer:?}"))
    }

    /// The tasks handed over, array by array, each array's in the order handed over.
    fn by_array(
        read: Option<(Vec<(usize, String)>, String)>,
    ) -> Option<(Vec<(usize, String)>, String)> {
        read.map(|(mut seen, answer)| {
            seen.sort_by_key(|(n, _)| *n);
            (seen, answer)
        })
    }

    /// The same document fed in pieces of `size` bytes; `None` when the stream gave up on it.
    fn read_in_pieces(document: &str, size: usize) -> Option<(Vec<(usize, String)>, String)> {
        let mut seen = Vec::new();
        let mut each = |n, task| {
            seen.push((n, format!("{task:?}")));
            std::ops::ControlFlow::Continue(())
        };
        let mut stream = TaskDocumentStream::new(&mut each);
        for piece in document.as_bytes().chunks(size) {
            stream.feed(piece);
        }
        let answer = stream.finish()?;
        Some((seen, format!("{answer:?}")))
    }

    /// Fed in pieces of any size, a document gives the reader what decoding its whole text
    /// gives, or is given up on (then read whole), but only when the scanner cannot follow it.
    #[test]
    fn a_document_read_in_pieces_gives_what_its_whole_text_gives() {
        let task = |id: &str| {
            format!(
                r#"{{"id":"{id}","status":"processing","summary":{{"props":{{"download":{{"name":"T","files":[{{"index":1,"name":"T/a\"],{{.mkv","size":5,"selected":true}}]}}}}}}}}"#
            )
        };
        let (a, b, c) = (task("a"), task("b"), task("c"));
        let followed = [
            format!(r#"{{"code":0,"msg":"","data":{{"tasks":[{a},{b}]}}}}"#),
            format!(r#"{{"code":0,"data":{{"tasks":[{a}],"tasks":[{b},{c}]}}}}"#),
            format!(r#"{{"code":0,"data":{{"tasks":[{a}],"tasks":null}}}}"#),
            format!(r#"{{"code":0,"data":{{"tasks":[{a},7,{{"id":"bad","status":1}}]}}}}"#),
            format!(r#"{{"tasks":[{a}],"data":{{"tasks":[{b}]}},"tasks":[{c}]}}"#),
            format!(r#"{{"data":{{"tasks":[{a}]}},"code":0,"data":{{"tasks":[{b}]}}}}"#),
            format!(r#"{{"data":{{"tasks":[{a}]}},"code":401,"msg":"login required"}}"#),
            format!(r#"{{"code":0,"data":{{"tasks":[{a}],"pagination":{{"next_token":7}}}}}}"#),
            format!(r#"{{"data":{{"tasks":[{a}]}},"id":"t","status":"processing"}}"#),
            format!(" [ {a} , {b} ] "),
            a.clone(),
            "[]".to_owned(),
            "7".to_owned(),
        ];
        for document in &followed {
            let whole = by_array(Some(read_whole(document)));
            for size in (1..=9).chain([document.len()]) {
                let pieces = by_array(read_in_pieces(document, size));
                assert_eq!(pieces, whole, "pieces of {size}: {document}");
            }
        }
        let given_up = [
            // A key written with escapes: its array is numbered by the parser alone.
            format!(r#"{{"code":0,"d\u0061ta":{{"tasks":[{a}]}},"data":{{"tasks":[{b}]}}}}"#),
            format!(r#"{{"code":0,"data":{{"t\u0061sks":[{a}],"tasks":[{b}]}}}}"#),
            // Not valid JSON: the parser of the whole text says where.
            format!(r#"{{"code":0,"data":{{"tasks":[{a},]}}}}"#),
            format!(r#"{{"code":0,"data":{{"tasks":[{a}"#),
            r#"{"code":0,"data":{"tasks":[]}} x"#.to_owned(),
        ];
        for document in &given_up {
            assert!(
                read_in_pieces(document, 5).is_none() && read_in_pieces(document, 4096).is_none(),
                "{document}"
            );
        }
        // A reader may stop early.
        let mut seen = 0;
        let mut each = |_, _| {
            seen += 1;
            std::ops::ControlFlow::Break(())
        };
        let mut stream = TaskDocumentStream::new(&mut each);
        stream.feed(format!(r#"{{"code":0,"data":{{"tasks":[{a},{b},{c}]}}}}"#).as_bytes());
        assert!(matches!(stream.finish(), Some(Err(DocumentError::Stopped))));
        assert_eq!(seen, 1);
    }
}
