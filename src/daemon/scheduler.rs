//! The cron scheduler that sends the workers their triggers, and `sd_notify`: what `run` starts
//! with and a reload replaces.

use tokio::sync::mpsc;

use crate::config::Config;

/// Why a tick is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Trigger {
    Startup,
    Cron,
}

/// `run` could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The scheduler failed.
    #[error("the scheduler failed: {0}")]
    Scheduler(String),
    /// Signal handlers could not be installed.
    #[error("could not install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
}

/// How to reload the config on SIGHUP.
pub type Reloader = Box<dyn Fn() -> Result<Config, crate::config::ConfigError> + Send + Sync>;

/// Tells systemd (when it listens) how the service is; a failure is only logged.
pub(super) fn notify(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

/// A scheduler that sends `Trigger::Cron` to every worker at each fire of `schedule` (a fire
/// while a tick is pending is coalesced).
pub(super) async fn start_scheduler(
    schedule: &str,
    triggers: Vec<mpsc::Sender<Trigger>>,
) -> Result<tokio_cron_scheduler::JobScheduler, RunError> {
    use tokio_cron_scheduler::{Job, JobScheduler};
    let failed = |e: tokio_cron_scheduler::JobSchedulerError| RunError::Scheduler(e.to_string());
    let scheduler = JobScheduler::new().await.map_err(failed)?;
    let job = Job::new_async(schedule, move |_id, _scheduler| {
        let triggers = triggers.clone();
        Box::pin(async move {
            for trigger in &triggers {
                if trigger.try_send(Trigger::Cron).is_err() {
                    tracing::debug!("a tick is already pending; this fire is coalesced");
                }
            }
        })
    })
    .map_err(failed)?;
    scheduler.add(job).await.map_err(failed)?;
    scheduler.start().await.map_err(failed)?;
    Ok(scheduler)
}
