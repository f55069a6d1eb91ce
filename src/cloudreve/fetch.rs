//! Plain downloads beside the Cloudreve API (shared pattern lists): a GET over the same careful
//! HTTP stack as the Cloudreve client (connect and whole-request timeouts, the extra CA
//! certificates of `server.ca_file`, `HTTPS_PROXY`/`NO_PROXY` as reqwest reads them, a user
//! agent) with a cap on the body. It lives here because this module is the only one that
//! imports reqwest.

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
        super::install_crypto_provider();
        #[expect(
            clippy::disallowed_methods,
            reason = "the one other place that builds an HTTP client, with the same timeouts and TLS settings as Client::new"
        )]
        let mut builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.timeout)
            .pool_max_idle_per_host(1)
            .user_agent(concat!(
                env!("CARGO_PKG_NAME"),
                "/",
                env!("CARGO_PKG_VERSION")
            ));
        if !options.extra_roots_pem.is_empty() {
            let roots = reqwest::Certificate::from_pem_bundle(&options.extra_roots_pem)
                .map_err(|e| BuildError::CaFile(super::error::cause_chain(&e)))?;
            if roots.is_empty() {
                return Err(BuildError::CaFile(
                    "no -----BEGIN CERTIFICATE----- block found".to_owned(),
                ));
            }
            builder = builder.tls_certs_merge(roots);
        }
        Ok(Self {
            http: builder.build().map_err(BuildError::Http)?,
            max_bytes: options.max_bytes,
        })
    }

    /// GETs `url` and returns its body, refusing error statuses and bodies over the cap.
    pub async fn get(&self, url: &Url) -> Result<Vec<u8>, DownloadError> {
        let transport = |e: reqwest::Error| DownloadError::Transport {
            url: url.clone(),
            detail: super::error::cause_chain(&e),
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
