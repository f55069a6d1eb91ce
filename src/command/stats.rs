//! `stats`: what the state file says the daemon did.

use super::{Exit, Output, load};
use crate::config::EnvLookup;
use crate::state::StateStore;

pub(super) fn stats(path: &std::path::Path, json: bool, env: EnvLookup<'_>) -> Output {
    let config = match load(path, env) {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    let mut states = Vec::new();
    for account in &config.accounts {
        match StateStore::read_only(&account.state_file) {
            Ok(state) => states.push((account, state)),
            Err(e) => return Output::failure(Exit::Failure, format!("error: {e}")),
        }
    }
    let totals: Vec<(&str, &crate::state::Stats)> = states
        .iter()
        .map(|(account, state)| (account.name.as_str(), state.stats()))
        .collect();
    if json {
        return Output::success(crate::stats::json(&totals));
    }
    let tables: Vec<String> = states
        .iter()
        .map(|(account, state)| {
            crate::stats::table(state.stats(), &account.name, &account.state_file)
        })
        .collect();
    Output::success(tables.join("\n"))
}
