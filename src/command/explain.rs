//! `explain`: how the rules decide one task (a task JSON file, a `.torrent`, or a live task).

use std::fmt::Write as _;

use super::wiring::build_failure;
use super::{Exit, Output, choose_account, load};
use crate::account::account_client_options;
use crate::cloudreve::Client;
use crate::config::{Config, EnvLookup};
use crate::state::StateStore;

/// `explain --task-json`: the rules file is loaded while the task file is read and decoded
/// (see [`crate::explain::explain_file`]); the tables go to stdout (about as long as the JSON,
/// which may be tens of megabytes), not into the outcome.
pub(super) fn explain_task_json(
    file: &std::path::Path,
    config_path: &std::path::Path,
    env: EnvLookup<'_>,
) -> Output {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let load_rules = || load(config_path, env).map(|config| config.rules);
    match crate::explain::explain_file(file, load_rules, &mut out) {
        Ok(Ok(())) => Output::success(String::new()),
        // A reader that went away (`| head`) wanted no more.
        Ok(Err(crate::explain::ExplainError::Write { source }))
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            Output::success(String::new())
        }
        Ok(Err(e)) => Output::failure(Exit::Failure, format!("error: {e}")),
        Err(config_failure) => config_failure,
    }
}

pub(super) fn explain_torrent(file: &std::path::Path, config: &Config) -> Output {
    use std::io::Read as _;
    let read = std::fs::File::open(file).and_then(|f| {
        let mut bytes = Vec::new();
        f.take(crate::torrent::MAX_TORRENT_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map(|_| bytes)
    });
    let bytes = match read {
        Ok(bytes) if bytes.len() > crate::torrent::MAX_TORRENT_BYTES => {
            return Output::failure(
                Exit::Failure,
                format!("error: {} is larger than any torrent file", file.display()),
            );
        }
        Ok(bytes) => bytes,
        Err(e) => {
            return Output::failure(
                Exit::Failure,
                format!("error: could not read {}: {e}", file.display()),
            );
        }
    };
    match crate::torrent::parse(&bytes) {
        Ok(torrent) => Output::success(crate::torrent::explain(&torrent, &config.rules)),
        Err(e) => Output::failure(Exit::Failure, format!("error: {}: {e}", file.display())),
    }
}

pub(super) async fn explain_live(
    config: &Config,
    account: Option<&str>,
    task_id: &str,
    env: EnvLookup<'_>,
) -> Output {
    let account = match choose_account(config, account) {
        Ok(account) => account,
        Err(outcome) => return outcome,
    };
    let options = match account_client_options(account, env) {
        Ok(options) => options,
        Err(e) => return Output::failure(Exit::Config, format!("error: {e}")),
    };
    let client = match Client::new(options) {
        Ok(client) => client,
        Err(e) => return build_failure(&e, account),
    };
    let tasks = match client.list_downloading().await {
        Ok(list) => list.tasks,
        Err(e) => return Output::failure(Exit::Failure, format!("error: {e}")),
    };
    let Some(task) = tasks.iter().find(|t| t.id.as_str() == task_id) else {
        return Output::failure(
            Exit::Failure,
            format!(
                "error: task {task_id} is not among the {} ongoing downloads of {}",
                tasks.len(),
                account.server.email
            ),
        );
    };
    // Show what the daemon already decided, read from its state file without changing it.
    let (decided, unknown, stderr) = match StateStore::read_only(&account.state_file) {
        Ok(state) => (
            state.decided(&task.id),
            state.outcome_unknown(&task.id),
            String::new(),
        ),
        Err(e) => (
            crate::plan::Decided::new(),
            Vec::new(),
            format!(
                "warning: {e}\nwarning: the table below does not know what the daemon decided before for this task"
            ),
        ),
    };
    let mut stdout = String::new();
    crate::plan::plan(task, &config.rules, &decided)
        .render_explained_into(&mut stdout, crate::cloudreve::draw_patch);
    if !unknown.is_empty() {
        let list: Vec<String> = unknown.iter().map(u64::to_string).collect();
        let _ = writeln!(
            stdout,
            "sent, outcome unknown: file(s) {} (the PATCH got no clear answer; they are not the user's choice: check them in Cloudreve's web UI, or run `forget {}` to judge them again)",
            list.join(", "),
            task.id
        );
    }
    Output {
        exit: Exit::Success,
        stdout,
        stderr,
    }
}
