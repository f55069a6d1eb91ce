//! The sign-in/refresh state machine: a usable access token, one refresh and one retry on a
//! body code 401, the wait after a refused sign-in.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::receive::Decode;
use super::{Client, Credentials, Error, SignInProblem, missing_data, wire};

/// The tokens of a signed-in session. Never `Debug`-printed with their values.
pub(super) struct Session {
    pub(super) access: SecretString,
    pub(super) refresh: SecretString,
    pub(super) access_expires: DateTime<Utc>,
    /// When the refresh token expires, if the server said.
    pub(super) refresh_expires: Option<DateTime<Utc>>,
    /// When the access token must be refreshed proactively.
    pub(super) refresh_at: DateTime<Utc>,
}

pub(super) struct Refusal {
    pub(super) problem: SignInProblem,
    pub(super) at: DateTime<Utc>,
    pub(super) wait: Duration,
}

pub(super) struct AuthState {
    pub(super) session: Option<Session>,
    pub(super) refusal: Option<Refusal>,
    /// With refresh-token credentials: the newest refresh token, used when there is no session.
    pub(super) seed: Option<SecretString>,
}

impl Client {
    /// A call on a protected route (one refresh and one retry on a body code 401), with the
    /// answer judged by `decode`.
    pub(super) async fn authed_with<B, T>(
        &self,
        method: Method,
        endpoint: &str,
        path: &str,
        body: Option<&B>,
        decode: Decode<T>,
    ) -> Result<T, Error>
    where
        B: Serialize + Sync,
    {
        let token = self.access_token(false).await?;
        match self
            .call_with(method.clone(), endpoint, path, Some(&token), body, decode)
            .await
        {
            Err(Error::Api { code: 401, .. }) => {
                tracing::info!(
                    endpoint,
                    "access token rejected (401); refreshing and retrying once"
                );
                let token = self.access_token(true).await?;
                self.call_with(method, endpoint, path, Some(&token), body, decode)
                    .await
            }
            other => other,
        }
    }

    /// After a refused sign-in, the error that says how long to wait, while the wait lasts.
    pub(super) fn wait_after_refusal(
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
    pub(super) async fn access_token(&self, force_refresh: bool) -> Result<SecretString, Error> {
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

    pub(super) async fn sign_in(&self) -> Result<Session, Error> {
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

    pub(super) async fn refresh(&self, refresh_token: &SecretString) -> Result<Session, Error> {
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

    pub(super) fn session_from(&self, token: wire::TokenPair) -> Session {
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
}
