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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::parse;

    const SERVER: &str =
        "[server]\nurl = \"https://cloud.example.com\"\nemail = \"bot@example.com\"\n";

    #[test]
    fn metrics_are_off_unless_listen_is_set_and_a_bad_address_is_located() {
        let none = |_: &str| None;
        let parse_text =
            |tables: &str| parse(&format!("{SERVER}{tables}"), Path::new("rules.toml"), &none);
        assert_eq!(parse_text("").unwrap().metrics, None);
        assert_eq!(parse_text("[metrics]\n").unwrap().metrics, None);
        let on = parse_text("[metrics]\nlisten = \"127.0.0.1:9464\"\n").unwrap();
        assert_eq!(
            on.metrics.map(|m| m.listen.to_string()).as_deref(),
            Some("127.0.0.1:9464")
        );
        let err = parse_text("[metrics]\nlisten = \"localhost:9464\"\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            r#"invalid config file rules.toml: 1 problem
rules.toml:5:10: metrics.listen: expected an IP address and a port, e.g. "127.0.0.1:9464" ("[::1]:9464" for IPv6) (got "localhost:9464")
  |
5 | listen = "localhost:9464"
  |          ^^^^^^^^^^^^^^^^"#
        );
    }
}
