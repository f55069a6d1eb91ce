//! Daemons told through notifiers: a config with `[[notify]]` tables, its notifiers started
//! with quick retries, and a daemon whose one sink they are.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cloudreve_autoselect::cloudreve::Client;
use cloudreve_autoselect::config::{self, Config};
use cloudreve_autoselect::daemon::Daemon;
use cloudreve_autoselect::notify::{self, DeliveryOptions, Notifiers, Timeouts};
use cloudreve_autoselect::sink::TickSink;
use cloudreve_autoselect::state::StateStore;
use cloudreve_emulator::Emulator;

/// The config for `emulator` with the test rules, its state in `dir`, and `extra` tables.
pub(crate) fn parse(emulator: &Emulator, dir: &Path, extra: &str) -> Config {
    let text = super::daemon_config_text(emulator, dir, "") + "\n" + extra;
    let no_env = |_: &str| None;
    config::parse(&text, Path::new("rules.toml"), &no_env).unwrap()
}

/// A `[[notify]]` table of `kind` sending to `url`.
pub(crate) fn notify_table(kind: &str, url: &str) -> String {
    format!("[[notify]]\nkind = \"{kind}\"\nurl = \"{url}\"\n")
}

/// Delivery with a small queue and retries a millisecond apart.
pub(crate) fn quick() -> DeliveryOptions {
    DeliveryOptions {
        queue: 8,
        retries: 2,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
    }
}

/// Starts the notifiers `config` names.
pub(crate) fn start(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
    options: DeliveryOptions,
) -> Arc<Notifiers> {
    let targets = notify::targets(&config.notify, env, Timeouts::default()).unwrap();
    Arc::new(Notifiers::start(targets, options))
}

/// A daemon on `client` with the test rules, telling `notifiers`.
pub(crate) fn daemon_on(client: Client, config: &Config, notifiers: &Arc<Notifiers>) -> Daemon {
    let (state, _) = StateStore::open(&config.daemon.state_file).unwrap();
    Daemon::new(client, super::settings(super::RULES, false), state, None)
        .with_sinks(vec![Arc::clone(notifiers) as Arc<dyn TickSink>])
}

/// A daemon for `emulator` with the test rules, telling `notifiers`.
pub(crate) fn daemon(emulator: &Emulator, config: &Config, notifiers: &Arc<Notifiers>) -> Daemon {
    daemon_on(super::client(emulator), config, notifiers)
}

/// A deadline far enough away that flushing never gives up in a test.
pub(crate) fn far() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(600)
}

/// A daemon for `emulator` and its notifiers (quick delivery, no credentials) from the
/// `[[notify]]` tables, with the directory of its state (keep it for as long as the daemon).
pub(crate) fn notified(
    emulator: &Emulator,
    tables: &str,
) -> (Daemon, Arc<Notifiers>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = parse(emulator, dir.path(), tables);
    let notifiers = start(&config, &|_| None, quick());
    (daemon(emulator, &config, &notifiers), notifiers, dir)
}
