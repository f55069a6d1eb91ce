//! The imperative shell: one tick (sign in, list, plan, PATCH, record), and `run`, which wires
//! ticks to the cron schedule, signals, reloads and shutdown.
//!
//! Invariants: ticks never overlap (one worker task runs them; the cron job and the metadata
//! re-check only send it a trigger, and `tick` itself holds a lock); a failing task never
//! aborts a tick; a task's decisions are written ahead (journal + fsync) before its PATCH is
//! sent, and a PATCH whose outcome is unknown stays decided; state is pruned only after a
//! complete, well-formed list; shutdown finishes the request in flight and is bounded by a
//! grace period. A tick yields a [`TickReport`]: per-task outcomes and operator events that the
//! log summary, the heartbeat and the exit status read.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::cloudreve::Client;
use crate::sink::TickSink;
use crate::state::StateStore;
use crate::task::TaskId;

mod heartbeat;
mod recheck;
mod refusal;
mod reload;
mod run;
mod scheduler;
mod settings;
mod tick;

pub use crate::report::TickReport;
pub use heartbeat::{heartbeat_line, heartbeat_path};
pub use recheck::RecheckSchedule;
pub use reload::restart_needed;
pub use run::{RunExit, RunOptions, run};
pub use scheduler::{Reloader, RunError};
pub use settings::Settings;

/// Which tasks a tick looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickScope {
    /// Every listed task.
    All,
    /// Only these (the metadata re-check).
    Only(BTreeSet<TaskId>),
}

/// The daemon: a client, the current settings, and the state.
pub struct Daemon {
    account: String,
    keep_all_plans: bool,
    client: Client,
    settings: RwLock<Arc<Settings>>,
    state: Mutex<StateStore>,
    running: Mutex<()>,
    heartbeat: Option<PathBuf>,
    shutdown: CancellationToken,
    /// When the running tick last made progress (started, listed, finished a task).
    progress: std::sync::Mutex<Option<Instant>>,
    /// What consumes every tick's report besides the log (notifier, metrics).
    sinks: Vec<Arc<dyn TickSink>>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("account", &self.account)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl Daemon {
    /// A daemon. `heartbeat`, when set, is rewritten after every tick.
    pub fn new(
        client: Client,
        settings: Settings,
        state: StateStore,
        heartbeat: Option<PathBuf>,
    ) -> Self {
        Self {
            account: crate::config::DEFAULT_ACCOUNT.to_owned(),
            keep_all_plans: false,
            client,
            settings: RwLock::new(Arc::new(settings)),
            state: Mutex::new(state),
            running: Mutex::new(()),
            heartbeat,
            shutdown: CancellationToken::new(),
            progress: std::sync::Mutex::new(None),
            sinks: Vec::new(),
        }
    }

    /// The same daemon, handing every tick's report to `sinks` as well.
    #[must_use]
    pub fn with_sinks(mut self, sinks: Vec<Arc<dyn TickSink>>) -> Self {
        self.sinks = sinks;
        self
    }

    /// Lets every sink finish what it can before `deadline` (shutdown).
    pub async fn flush_sinks(&self, deadline: tokio::time::Instant) {
        for sink in &self.sinks {
            sink.flush(deadline).await;
        }
    }

    /// This daemon works for the account `name` (logs and reports carry it).
    #[must_use]
    pub fn for_account(mut self, name: &str) -> Self {
        name.clone_into(&mut self.account);
        self
    }

    /// Every tick's report keeps the plans of all tasks in scope (for `demo`).
    #[must_use]
    pub fn keeping_all_plans(mut self) -> Self {
        self.keep_all_plans = true;
        self
    }

    /// The account's name.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// Shares another daemon's shutdown token, so one signal stops every account.
    #[must_use]
    pub fn with_shutdown(mut self, token: CancellationToken) -> Self {
        self.shutdown = token;
        self
    }

    /// The token that stops the daemon: ticks stop between tasks once it is cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The current settings.
    pub fn settings(&self) -> Arc<Settings> {
        Arc::clone(&self.settings.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Swaps in new settings; the next tick uses them.
    pub fn replace_settings(&self, settings: Settings) {
        *self
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(settings);
    }

    fn mark_progress(&self, running: bool) {
        *self.progress.lock().unwrap_or_else(PoisonError::into_inner) = running.then(Instant::now);
    }

    /// How long the running tick has gone without progress, if a tick is running.
    pub fn time_since_progress(&self) -> Option<Duration> {
        self.progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map(|t| t.elapsed())
    }

    /// Whether the running tick is wedged: no progress for longer than the slowest step
    /// (one task's sign-in, refresh, PATCH and retry) can take with the client's timeouts and
    /// retries. A tick with many slow `PATCHes` makes progress after each; a wedged one does not.
    pub fn is_wedged(&self) -> bool {
        self.time_since_progress()
            .is_some_and(|quiet| quiet > self.client.step_deadline())
    }
}

#[cfg(test)]
mod tests;
