//! `run`: the service, until a signal stops it.

use std::sync::Arc;
use std::time::Duration;

use super::wiring::{build_daemons, check_servers};
use super::{Exit, Output, load, process_env};
use crate::config::{self, EnvLookup};
use crate::daemon::{self, Daemon, RunExit, RunOptions};

pub(super) async fn run(path: &std::path::Path, dry_run: bool, env: EnvLookup<'_>) -> Output {
    let config = match load(path, env) {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    let (daemons, metrics) =
        match build_daemons(&config, dry_run, env, true, config.metrics.is_some()) {
            Ok((daemons, metrics)) => (
                daemons
                    .into_iter()
                    .map(Arc::new)
                    .collect::<Vec<Arc<Daemon>>>(),
                metrics,
            ),
            Err(outcome) => return outcome,
        };
    if let Err(outcome) = check_servers(&daemons).await {
        return outcome;
    }
    if let (Some(listen), Some(metrics), Some(first)) = (
        config.metrics.as_ref().map(|m| m.listen),
        metrics,
        daemons.first(),
    ) {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(e) => {
                return Output::failure(
                    Exit::Failure,
                    format!("error: could not listen on metrics.listen {listen}: {e}"),
                );
            }
        };
        let addr = listener.local_addr().unwrap_or(listen);
        tracing::info!(url = %format!("http://{addr}/metrics"), "serving metrics");
        // The daemons share one shutdown token.
        let shutdown = first.shutdown_token();
        tokio::spawn(async move {
            if let Err(e) = crate::metrics::serve(listener, metrics, shutdown).await {
                tracing::error!(error = %e, "the metrics endpoint stopped");
            }
        });
    }
    for lint in &config.lints {
        tracing::warn!("{}", lint.render(path));
    }
    for daemon in &daemons {
        let account = config.accounts.iter().find(|a| a.name == daemon.account());
        tracing::info!(
            config = %path.display(),
            account = daemon.account(),
            rules = config.rules.rules().len(),
            state_file = %account.map_or_else(|| config.daemon.state_file.display().to_string(), |a| a.state_file.display().to_string()),
            dry_run = daemon.settings().dry_run,
            "cloudreve-autoselect starting"
        );
    }
    let reload_path = path.to_owned();
    let options = RunOptions {
        config,
        reload: Box::new(move || config::load(&reload_path, &process_env)),
        force_dry_run: dry_run,
        grace: Duration::from_secs(20),
    };
    match daemon::run(daemons, options).await {
        Ok(RunExit::Stopped) => Output::success(String::new()),
        Ok(RunExit::Forced) => Output::failure(
            Exit::Interrupted,
            "stopped at once by a second signal".to_owned(),
        ),
        Err(e) => Output::failure(Exit::Failure, format!("error: {e}")),
    }
}
