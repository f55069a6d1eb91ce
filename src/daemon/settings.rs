//! The settings a reload may change without a restart.

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::rules::RuleSet;

/// The settings a reload may change without a restart.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The rules.
    pub rules: Arc<RuleSet>,
    /// Plan and log only.
    pub dry_run: bool,
    /// Delay before re-checking tasks that wait for metadata (zero disables).
    pub metadata_recheck: Duration,
}

impl Settings {
    /// The reloadable part of a config.
    pub fn from_config(config: &Config, force_dry_run: bool) -> Self {
        Self {
            rules: Arc::new(config.rules.clone()),
            dry_run: config.daemon.dry_run || force_dry_run,
            metadata_recheck: config.daemon.metadata_recheck,
        }
    }

    /// The reloadable part of a config for one account (its own `dry_run` adds to the
    /// daemon's).
    pub fn for_account(config: &Config, account: &str, force_dry_run: bool) -> Self {
        let own = config
            .accounts
            .iter()
            .any(|a| a.name == account && a.dry_run);
        Self::from_config(config, force_dry_run || own)
    }
}
