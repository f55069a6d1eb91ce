//! Plain downloads beside the Cloudreve API (shared pattern lists): a GET over a client built by
//! `crate::http` (its timeouts, user agent, proxies and redirect policy: a few redirects within
//! the list's origin, never to another one; the extra CA certificates of `server.ca_file`, never
//! `allow_insecure`) with a cap on the body.

use std::time::Duration;

use url::Url;

use super::BuildError;

/// How downloads are made.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Whole-request deadline.
    pub timeout: Duration,
    /// Connect deadline.
    pub connect_timeout: Duration,
    /// Extra trusted CA certificates, PEM (`server.ca_file`).
    pub extra_roots_pem: Vec<u8>,
    /// The largest body accepted.
    pub max_bytes: usize,
}

/// A download failed.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The request could not be made or the answer not read.
    #[error("GET {} failed: {detail}", redacted(url))]
    Transport {
        /// The address.
        url: Url,
        /// What went wrong, with its causes.
        detail: String,
    },
    /// The server answered with a redirect the trust policy refuses (see `crate::http`).
    #[error("GET {0}")]
    Redirect(crate::http::RefusedRedirect),
    /// The server answered with an error status.
    #[error("GET {} answered HTTP {status}", redacted(url))]
    Status {
        /// The address.
        url: Url,
        /// The HTTP status.
        status: u16,
    },
    /// The body is larger than the cap.
    #[error("GET {}: the answer is larger than {limit} bytes", redacted(url))]
    TooLarge {
        /// The address.
        url: Url,
        /// The cap.
        limit: usize,
    },
}

/// A URL as logs may show it: a password in it is replaced by `***`.
pub fn redacted(url: &Url) -> String {
    if url.password().is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    let _ = shown.set_password(Some("***"));
    shown.to_string()
}

/// A client for plain downloads. Cheap to share.
#[derive(Debug, Clone)]
pub struct Downloader {
    http: reqwest::Client,
    max_bytes: usize,
}

impl Downloader {
    /// Builds the client with its timeouts, user agent and extra CA certificates.
    pub fn new(options: &DownloadOptions) -> Result<Self, BuildError> {
        let http = crate::http::client(&crate::http::Settings {
            connect_timeout: options.connect_timeout,
            timeout: options.timeout,
            pool_idle: Duration::from_secs(90),
            pool_max_idle_per_host: 1,
            extra_roots_pem: &options.extra_roots_pem,
            accept_invalid_certs: false,
            redirects: crate::http::Redirects::SameOrigin,
            setting: "the rule's list_url",
            suggest: crate::http::Suggest::Whole,
        })?;
        Ok(Self {
            http,
            max_bytes: options.max_bytes,
        })
    }

    /// GETs `url` and returns its body, refusing error statuses and bodies over the cap.
    pub async fn get(&self, url: &Url) -> Result<Vec<u8>, DownloadError> {
        let transport = |e: reqwest::Error| match crate::http::refused_redirect(&e) {
            Some(refused) => DownloadError::Redirect(refused.clone()),
            None => DownloadError::Transport {
                url: url.clone(),
                detail: super::error::cause_chain(&e),
            },
        };
        let too_large = || DownloadError::TooLarge {
            url: url.clone(),
            limit: self.max_bytes,
        };
        let mut response = self.http.get(url.clone()).send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(DownloadError::Status {
                url: url.clone(),
                status: status.as_u16(),
            });
        }
        if response
            .content_length()
            .is_some_and(|length| length > self.max_bytes as u64)
        {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if bytes.len() + chunk.len() > self.max_bytes {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}
