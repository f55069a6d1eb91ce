//! The client: its HTTP clients, the public calls and one request with its retries.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use crate::task::{SelectionChange, TaskId, TaskList};

use super::auth::AuthState;
use super::receive::{
    AnswerHead, Decode, LIST_ENDPOINT, MAX_LIST_PAGES, decode_envelope, decode_list_page,
};
use super::{
    BuildError, ClientOptions, Credentials, Delivery, Error, ListProblem, TokenStore, error, wire,
};

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

/// A Cloudreve v4 client. Cheap to share behind an `Arc`; two `reqwest::Client`s inside.
pub struct Client {
    /// For GETs: follows a few redirects within the server's origin (see `crate::http`).
    pub(super) http: reqwest::Client,
    /// For requests with a body (sign-in, refresh, the PATCH): follows no redirect.
    pub(super) http_send: reqwest::Client,
    pub(super) options: ClientOptions,
    pub(super) auth: Mutex<AuthState>,
    /// The OAuth grant as last rotated (`oauth_grant`).
    pub(super) newest_grant: std::sync::Mutex<Option<TokenStore>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

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
                    decode_list_page,
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

    /// One request with retries. GET and sign-in/refresh are retried on any transient failure;
    /// other methods (the PATCH) only when the connection could not be made.
    pub(super) async fn call<T: DeserializeOwned, B: Serialize + Sync>(
        &self,
        method: Method,
        endpoint: &str,
        path: &str,
        token: Option<&SecretString>,
        body: Option<&B>,
    ) -> Result<Option<T>, Error> {
        self.call_with(method, endpoint, path, token, body, decode_envelope::<T>)
            .await
    }

    /// [`Self::call`] with the answer judged by `decode`.
    pub(super) async fn call_with<B, T>(
        &self,
        method: Method,
        endpoint: &str,
        path: &str,
        token: Option<&SecretString>,
        body: Option<&B>,
        decode: Decode<T>,
    ) -> Result<T, Error>
    where
        B: Serialize + Sync,
    {
        let retry_any_transient = method == Method::GET || method == Method::POST;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.options.retry_min_delay)
            .with_max_delay(self.options.retry_max_delay)
            .with_max_times(self.options.retries as usize)
            .with_jitter();
        (|| async {
            let result = self
                .call_once(method.clone(), endpoint, path, token, body, decode)
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

    async fn call_once<B, T>(
        &self,
        method: Method,
        endpoint: &str,
        path: &str,
        token: Option<&SecretString>,
        body: Option<&B>,
        decode: Decode<T>,
    ) -> Result<T, Error>
    where
        B: Serialize + Sync,
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
        // A length beyond the cap was refused above; a small first guess without one.
        let expected = response
            .content_length()
            .map_or(8 * 1024, |length| usize::try_from(length).unwrap_or(0));
        let mut bytes = Vec::with_capacity(expected);
        while let Some(chunk) = response.chunk().await.map_err(&transport)? {
            if bytes.len() + chunk.len() > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        let head = AnswerHead {
            endpoint,
            status,
            correlation_id: &correlation_id,
        };
        decode(head, &bytes)
    }
}

/// The route of an endpoint name, without ids: a bounded set of metric label values.
pub(super) fn route_template(endpoint: &str) -> &'static str {
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

pub(super) fn missing_data(endpoint: &str) -> Error {
    Error::Api {
        endpoint: endpoint.to_owned(),
        code: 0,
        msg: "success answer without data".to_owned(),
        correlation_id: String::new(),
    }
}
