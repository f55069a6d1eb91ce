//! `forget TASK_ID [--account NAME]`: an operator who checked a task by hand re-opens its
//! decisions. Takes the state's lock (so the service must be stopped, or the command fails at
//! once), removes everything the state holds of the task (decided files, refusals, unknown
//! outcomes) and writes the state; the next tick judges the task's files afresh.

use super::{Exit, Output, choose_account, load};
use crate::config::EnvLookup;
use crate::state::StateStore;
use crate::task::TaskId;

/// Runs `forget`.
pub(super) fn forget(
    config_path: &std::path::Path,
    task_id: &str,
    account: Option<&str>,
    env: EnvLookup<'_>,
) -> Output {
    let config = match load(config_path, env) {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    let account = match choose_account(&config, account) {
        Ok(account) => account,
        Err(outcome) => return outcome,
    };
    let path = &account.state_file;
    let mut state = match StateStore::open(path) {
        Ok((state, warnings)) => {
            for warning in warnings {
                tracing::warn!("{warning}");
            }
            state
        }
        Err(e) => return Output::failure(Exit::Failure, format!("error: {e}")),
    };
    match state.forget(&TaskId::new(task_id)) {
        Ok(Some(files)) => Output::success(format!(
            "forgot task {task_id} in {}: {files} decided file(s); the next tick judges them afresh\n",
            path.display()
        )),
        Ok(None) => Output::failure(
            Exit::Failure,
            format!(
                "error: the state file {} knows nothing of task {task_id}; nothing to forget",
                path.display()
            ),
        ),
        Err(e) => Output::failure(Exit::Failure, format!("error: {e}")),
    }
}
