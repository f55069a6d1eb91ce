//! `[metrics]`: where the Prometheus endpoint listens. Off unless `listen` is set.

use std::net::SocketAddr;

use serde::Deserialize;
use toml::Spanned;

use super::Checker;

/// The `[metrics]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    listen: Option<Spanned<String>>,
}

/// `[metrics]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// The address `/metrics` is served on.
    pub listen: SocketAddr,
}

impl Checker<'_> {
    /// Checks `[metrics]`; `None` when there is no table or no `listen`.
    pub(super) fn metrics(&mut self, raw: Option<&RawMetrics>) -> Option<MetricsConfig> {
        let listen = raw?.listen.as_ref()?;
        if let Ok(addr) = listen.get_ref().trim().parse::<SocketAddr>() {
            return Some(MetricsConfig { listen: addr });
        }
        self.problem(
            listen.span(),
            "metrics.listen",
            listen.get_ref(),
            "expected an IP address and a port, e.g. \"127.0.0.1:9464\" (\"[::1]:9464\" for IPv6)"
                .to_owned(),
        );
        None
    }
}
