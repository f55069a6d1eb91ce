//! A reload (SIGHUP, or the rules changed on disk): what it applies, and the settings that
//! only a restart applies.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;

use super::scheduler::{Reloader, Trigger, notify, start_scheduler};
use super::{Daemon, Settings};
use crate::config::{Config, Schedule};

/// What a reload reads and changes: what the process runs with, the schedule and rules in
/// force, and what follows them (the scheduler, the rules watch, the shared lists).
pub(super) struct Reload {
    /// What the process runs with (accounts, servers, state files): only a restart changes it.
    pub(super) running: Config,
    /// The rules in force, as last applied (the rules watch and the shared lists follow it).
    pub(super) config: Config,
    /// The schedule in force.
    pub(super) schedule: Schedule,
    /// The scheduler firing `schedule`.
    pub(super) scheduler: tokio_cron_scheduler::JobScheduler,
    /// The workers' trigger senders, for a new scheduler.
    pub(super) triggers: Vec<mpsc::Sender<Trigger>>,
    /// The schedule's interval, which the workers' re-checks read.
    pub(super) interval: Arc<std::sync::Mutex<Duration>>,
    /// Whether the rules changed on disk.
    pub(super) rules_watch: crate::rules_watch::RulesWatch,
    /// The shared lists' refresher.
    pub(super) blocklists: crate::blocklist_fetch::Refresher,
    /// Reads the config again.
    pub(super) read_config: Reloader,
    /// `--dry-run` given on the command line: stays on across reloads.
    pub(super) force_dry_run: bool,
}

impl Reload {
    /// Reads the config again and applies what a reload may change (the schedule, the rules,
    /// the settings of every daemon); names what only a restart applies. `ack`, when set, lets
    /// a waiting tick go afterwards.
    pub(super) async fn apply(
        &mut self,
        trigger: &'static str,
        ack: Option<tokio::sync::oneshot::Sender<()>>,
        daemons: &[Arc<Daemon>],
    ) {
        tracing::info!(trigger, "reloading the rules");
        notify(&[sd_notify::NotifyState::Reloading]);
        if let Ok(now) = sd_notify::NotifyState::monotonic_usec_now() {
            notify(&[now]);
        }
        // Stamp the files before reading them: a change made meanwhile is seen again.
        self.rules_watch.changed();
        match (self.read_config)() {
            Ok(new) => {
                for warning in &new.warnings {
                    tracing::warn!("{warning}");
                }
                if new.daemon.schedule.as_str() != self.schedule.as_str() {
                    match start_scheduler(new.daemon.schedule.as_str(), self.triggers.clone()).await
                    {
                        Ok(replacement) => {
                            let _ = self.scheduler.shutdown().await;
                            self.scheduler = replacement;
                            self.schedule = new.daemon.schedule.clone();
                            *self.interval.lock().unwrap_or_else(PoisonError::into_inner) =
                                self.schedule.interval(chrono::Utc::now());
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "could not apply the new schedule; keeping the old one");
                        }
                    }
                }
                // Named at every reload until a restart applies them.
                let pending = restart_needed(&self.running, &new);
                if !pending.is_empty() {
                    tracing::warn!(settings = %pending.join(", "), "these settings changed but apply only after a restart; the daemon keeps using the old values");
                }
                for daemon in daemons {
                    daemon.replace_settings(Settings::for_account(
                        &new,
                        daemon.account(),
                        self.force_dry_run,
                    ));
                }
                tracing::info!(rules = new.rules.rules().len(), globs = new.rules.glob_count(), schedule = self.schedule.as_str(), dry_run = new.daemon.dry_run || self.force_dry_run, metadata_recheck = ?new.daemon.metadata_recheck, "rules reloaded");
                self.rules_watch.follow(&new);
                self.blocklists.update(&new);
                self.config = new;
            }
            Err(e) => tracing::error!("rules not reloaded, keeping the previous rules: {e}"),
        }
        notify(&[sd_notify::NotifyState::Ready]);
        if let Some(ack) = ack {
            crate::rules_watch::log_inactive_blocklists(&self.config);
            let _ = ack.send(());
        }
    }
}

/// The settings of `new` that differ from those the process runs with and that only a
/// restart applies, by their config key.
pub fn restart_needed(running: &Config, new: &Config) -> Vec<String> {
    let mut keys = Vec::new();
    let names = |c: &Config| {
        c.accounts
            .iter()
            .map(|a| a.name.clone())
            .collect::<Vec<_>>()
    };
    if names(running) != names(new) {
        keys.push("the accounts ([server] and [[account]] tables)".to_owned());
    }
    for old in &running.accounts {
        let Some(now) = new.accounts.iter().find(|a| a.name == old.name) else {
            continue;
        };
        let prefix = if old.name == crate::config::DEFAULT_ACCOUNT {
            "server".to_owned()
        } else {
            format!("account \"{}\"", old.name)
        };
        for key in server_differences(&old.server, &now.server) {
            keys.push(format!("{prefix}.{key}"));
        }
        if old.state_file != now.state_file {
            keys.push(if old.name == crate::config::DEFAULT_ACCOUNT {
                "daemon.state_file".to_owned()
            } else {
                format!("daemon.state_file (account \"{}\")", old.name)
            });
        }
    }
    if running.notify != new.notify {
        keys.push("notify".to_owned());
    }
    if running.metrics != new.metrics {
        keys.push("metrics".to_owned());
    }
    keys
}

fn server_differences(
    a: &crate::config::ServerConfig,
    b: &crate::config::ServerConfig,
) -> Vec<&'static str> {
    use crate::config::PasswordSetting;
    use secrecy::ExposeSecret as _;
    let same_password = match (&a.password, &b.password) {
        (PasswordSetting::File(x), PasswordSetting::File(y)) => x == y,
        (PasswordSetting::Inline(x), PasswordSetting::Inline(y)) => {
            x.expose_secret() == y.expose_secret()
        }
        (PasswordSetting::FromEnvironment, PasswordSetting::FromEnvironment) => true,
        _ => false,
    };
    [
        ("url", a.url != b.url),
        ("email", a.email != b.email),
        ("password/password_file", !same_password),
        (
            "refresh_token_file",
            a.refresh_token_file != b.refresh_token_file,
        ),
        ("oauth_client_id/token_file", a.oauth != b.oauth),
        ("timeout", a.timeout != b.timeout),
        ("connect_timeout", a.connect_timeout != b.connect_timeout),
        ("retries", a.retries != b.retries),
        ("ca_file", a.ca_file != b.ca_file),
        (
            "accept_invalid_certs",
            a.accept_invalid_certs != b.accept_invalid_certs,
        ),
    ]
    .into_iter()
    .filter_map(|(key, changed)| changed.then_some(key))
    .collect()
}
