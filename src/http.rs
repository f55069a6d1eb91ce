//! Every HTTP client the daemon builds, and the one trust policy they share.
//!
//! Three kinds of request leave the process: the Cloudreve API (`cloudreve::Client`), shared
//! pattern lists (`cloudreve::Downloader`) and notifications (`notify::Transport`). All of their
//! `reqwest` clients are built by [`client`], so the policy below is written once:
//!
//! - **Redirects never carry credentials or bodies elsewhere.** A redirect that changes the
//!   scheme, host or port (an https address sent to http included) is never followed. A request
//!   carrying a body or a token that a redirect would re-send (sign-in, refresh, the
//!   select-files PATCH, every notifier POST) follows no redirect at all ([`Redirects::Never`]).
//!   A GET (the task list, a shared list) may follow at most [`SAME_ORIGIN_REDIRECTS`] redirects
//!   within its own origin ([`Redirects::SameOrigin`]); reqwest's default, ten redirects anywhere
//!   with a 307/308 re-sending the body, once sent a password in clear text to another listener.
//!   A refused redirect is an error ([`RefusedRedirect`]) that names both addresses (user info
//!   masked) and the setting to change if the new address is the right one.
//! - **Timeouts:** a connect deadline and a whole-request deadline on every client; idle pooled
//!   connections are closed after [`Settings::pool_idle`].
//! - **User agent:** `cloudreve-autoselect/<version>` on every request.
//! - **Certificates:** the platform's roots through rustls (ring); `server.ca_file` adds roots
//!   for Cloudreve and the shared lists only, and `allow_insecure` reaches only the Cloudreve
//!   client: third-party notification services never inherit either.
//! - **Proxies:** `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`, as reqwest reads them.

use std::fmt;
use std::time::Duration;

use url::Url;

/// At most this many redirects within one origin are followed by a GET.
pub const SAME_ORIGIN_REDIRECTS: usize = 5;

/// Which redirects a client follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirects {
    /// None: for requests that carry a body or a token.
    Never,
    /// Up to [`SAME_ORIGIN_REDIRECTS`] within the scheme, host and port of the first request.
    SameOrigin,
}

/// What a refused redirect suggests putting in the setting it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suggest {
    /// The new address with the path the request added to the setting removed (`server.url`:
    /// the client appends `api/v4/...` to it).
    Base,
    /// The new address itself (`list_url`).
    Whole,
    /// The new origin only: the address is a secret (an ntfy topic, an Apprise key).
    OriginOnly,
}

/// How one client is built.
#[derive(Debug, Clone)]
pub struct Settings<'a> {
    /// Connect deadline.
    pub connect_timeout: Duration,
    /// Whole-request deadline.
    pub timeout: Duration,
    /// Idle pooled connections are closed after this long.
    pub pool_idle: Duration,
    /// Idle pooled connections kept per host.
    pub pool_max_idle_per_host: usize,
    /// Extra trusted CA certificates, PEM (`server.ca_file`); empty for none.
    pub extra_roots_pem: &'a [u8],
    /// Accept any certificate (`allow_insecure`; Cloudreve only).
    pub accept_invalid_certs: bool,
    /// Which redirects are followed.
    pub redirects: Redirects,
    /// The setting a refused redirect tells the operator to change, e.g. `server.url`.
    pub setting: &'static str,
    /// What the refusal suggests putting there.
    pub suggest: Suggest,
}

/// Building a client failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// reqwest refused the settings.
    #[error("could not build the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
    /// The CA file holds no usable certificate.
    #[error("server.ca_file holds no usable PEM certificate: {0}")]
    CaFile(String),
}

/// Why a redirect was not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// It leaves https for http.
    Downgrade,
    /// It changes the scheme, host or port.
    OtherOrigin,
    /// The request carries a body or a token.
    CarriesSecrets,
    /// More than [`SAME_ORIGIN_REDIRECTS`] in a row.
    TooMany,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Downgrade => f.write_str("it leaves https for plain http"),
            Self::OtherOrigin => f.write_str(
                "it changes the scheme, host or port, and credentials are never sent elsewhere",
            ),
            Self::CarriesSecrets => {
                f.write_str("the request carries a body or a token and is never redirected")
            }
            Self::TooMany => write!(f, "more than {SAME_ORIGIN_REDIRECTS} redirects"),
        }
    }
}

/// A redirect the policy refused to follow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refused to follow HTTP {status} from {from} to {to}: {why}; if {to} is the right address, put {suggestion} in {setting}"
)]
pub struct RefusedRedirect {
    /// The redirect's status.
    pub status: u16,
    /// The address that answered with the redirect (user info masked).
    pub from: String,
    /// Where it pointed (user info masked).
    pub to: String,
    /// Why it was refused.
    pub why: Refusal,
    /// What to put in the setting.
    pub suggestion: String,
    /// The setting, e.g. `server.url`.
    pub setting: &'static str,
}

/// Builds a client by the policy in the module documentation.
pub fn client(settings: &Settings<'_>) -> Result<reqwest::Client, BuildError> {
    install_crypto_provider();
    let (redirects, setting, suggest) = (settings.redirects, settings.setting, settings.suggest);
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that builds HTTP clients, with the policy written above"
    )]
    let mut builder = reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .pool_idle_timeout(settings.pool_idle)
        .pool_max_idle_per_host(settings.pool_max_idle_per_host)
        .referer(false)
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            let first = attempt.previous().first();
            let last = attempt.previous().last();
            let (Some(first), Some(last)) = (first, last) else {
                return attempt.stop();
            };
            match judge(redirects, first, attempt.url(), attempt.previous().len()) {
                None => attempt.follow(),
                Some(why) => {
                    let refused = refusal(
                        attempt.status().as_u16(),
                        first,
                        last,
                        attempt.url(),
                        why,
                        setting,
                        suggest,
                    );
                    attempt.error(refused)
                }
            }
        }))
        .user_agent(concat!(
            env!("CARGO_PKG_NAME"),
            "/",
            env!("CARGO_PKG_VERSION")
        ));
    if !settings.extra_roots_pem.is_empty() {
        let roots = reqwest::Certificate::from_pem_bundle(settings.extra_roots_pem)
            .map_err(|e| BuildError::CaFile(cause_chain(&e)))?;
        if roots.is_empty() {
            return Err(BuildError::CaFile(
                "no -----BEGIN CERTIFICATE----- block found".to_owned(),
            ));
        }
        builder = builder.tls_certs_merge(roots);
    }
    if settings.accept_invalid_certs {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder.build().map_err(BuildError::Http)
}

/// Installs the process-wide rustls crypto provider (ring). Safe to call more than once.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
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

/// The refused redirect behind a reqwest error, if that is what it is.
pub fn refused_redirect(error: &reqwest::Error) -> Option<&RefusedRedirect> {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<RefusedRedirect>() {
            return Some(refused);
        }
        source = cause.source();
    }
    None
}

/// Whether a redirect to `next` may be followed, `hops` redirects after `first`: `None` when it
/// may, otherwise why not.
pub fn judge(redirects: Redirects, first: &Url, next: &Url, hops: usize) -> Option<Refusal> {
    if first.scheme() == "https" && next.scheme() != "https" {
        return Some(Refusal::Downgrade);
    }
    if !same_origin(first, next) {
        return Some(Refusal::OtherOrigin);
    }
    match redirects {
        Redirects::Never => Some(Refusal::CarriesSecrets),
        Redirects::SameOrigin if hops > SAME_ORIGIN_REDIRECTS => Some(Refusal::TooMany),
        Redirects::SameOrigin => None,
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

fn refusal(
    status: u16,
    first: &Url,
    from: &Url,
    to: &Url,
    why: Refusal,
    setting: &'static str,
    suggest: Suggest,
) -> RefusedRedirect {
    let show = |url: &Url| match suggest {
        Suggest::OriginOnly => origin(url),
        Suggest::Base | Suggest::Whole => masked(url),
    };
    let suggestion = match suggest {
        Suggest::Whole => masked(to),
        Suggest::OriginOnly => format!("the address it redirects to ({} and its path)", origin(to)),
        Suggest::Base => base_of(first, to),
    };
    RefusedRedirect {
        status,
        from: show(from),
        to: show(to),
        why,
        suggestion,
        setting,
    }
}

/// A URL as errors show it: user name and password replaced by `***`.
pub fn masked(url: &Url) -> String {
    let mut shown = url.clone();
    if !shown.username().is_empty() || shown.password().is_some() {
        let _ = shown.set_username("***");
        let _ = shown.set_password(None);
    }
    shown.to_string()
}

/// `scheme://host:port/…`: an address whose path is a secret.
fn origin(url: &Url) -> String {
    format!("{}/…", url.origin().ascii_serialization())
}

/// `to` without the trailing path segments it shares with `first`: for `server.url`, to which
/// the client appends `api/v4/...` (the query and fragment go too).
fn base_of(first: &Url, to: &Url) -> String {
    let mut base = to.clone();
    base.set_query(None);
    base.set_fragment(None);
    let ours: Vec<&str> = first.path().split('/').collect();
    let theirs: Vec<&str> = to.path().split('/').collect();
    let shared = ours
        .iter()
        .rev()
        .zip(theirs.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let kept = theirs.len().saturating_sub(shared).max(1);
    let mut path = theirs[..kept].join("/");
    path.push('/');
    base.set_path(&path);
    masked(&base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn only_a_get_within_its_origin_follows_and_only_a_few_times() {
        let first = url("https://cloud.example/api/v4/workflow");
        let same = url("https://cloud.example:443/other");
        assert_eq!(judge(Redirects::SameOrigin, &first, &same, 1), None);
        assert_eq!(
            judge(Redirects::SameOrigin, &first, &same, SAME_ORIGIN_REDIRECTS),
            None
        );
        assert_eq!(
            judge(
                Redirects::SameOrigin,
                &first,
                &same,
                SAME_ORIGIN_REDIRECTS + 1
            ),
            Some(Refusal::TooMany)
        );
        assert_eq!(
            judge(Redirects::Never, &first, &same, 1),
            Some(Refusal::CarriesSecrets)
        );
        for (next, why) in [
            ("http://cloud.example/x", Refusal::Downgrade),
            ("https://cloud.example:8443/x", Refusal::OtherOrigin),
            ("https://backend/x", Refusal::OtherOrigin),
        ] {
            assert_eq!(
                judge(Redirects::SameOrigin, &first, &url(next), 1),
                Some(why),
                "{next}"
            );
        }
        let plain = url("http://cloud.example/x");
        assert_eq!(
            judge(
                Redirects::SameOrigin,
                &plain,
                &url("https://cloud.example/x"),
                1
            ),
            Some(Refusal::OtherOrigin)
        );
    }

    #[test]
    fn a_refusal_names_both_addresses_masked_and_what_to_put_in_the_setting() {
        let first = url("https://u:pw@cloud.example/cr/api/v4/session/token");
        let to = url("http://backend:5212/api/v4/session/token?x=1");
        let refused = refusal(
            307,
            &first,
            &first,
            &to,
            Refusal::Downgrade,
            "server.url",
            Suggest::Base,
        );
        let text = refused.to_string();
        assert!(!text.contains("pw"), "{text}");
        assert!(
            text.starts_with(
                "refused to follow HTTP 307 from https://***@cloud.example/cr/api/v4/session/token to http://backend:5212/api/v4/session/token?x=1: it leaves https for plain http"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("put http://backend:5212/ in server.url"),
            "{text}"
        );
        let secret = refusal(
            302,
            &url("https://ntfy.example/topic-secret"),
            &url("https://ntfy.example/topic-secret"),
            &url("https://other.example/key-secret"),
            Refusal::OtherOrigin,
            "the notifier's url",
            Suggest::OriginOnly,
        )
        .to_string();
        assert!(!secret.contains("secret"), "{secret}");
        assert!(secret.contains("https://other.example/…"), "{secret}");
    }
}
