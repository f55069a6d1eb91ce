//! What `check` reads besides the rules file, as the service would at its start: each account's
//! password or refresh-token source, its `ca_file`, and each notifier's secret. A problem here
//! is what would make the service exit 78, so `check` reports it the same way, every one at once.

use crate::account::account_client_options;
use crate::cloudreve::Client;
use crate::config::{Config, EnvLookup};
use crate::notify;

use super::wiring::build_error_text;
use super::{Exit, Output};

/// Where the shipped systemd unit loads its credentials from (`LoadCredential=`): what the
/// service will find in `$CREDENTIALS_DIRECTORY`, when `check` runs outside the unit.
const UNIT_CREDSTORE: &str = "/etc/credstore/cloudreve-autoselect";

/// Every problem with the sources the service would read; empty if it would start.
fn problems(config: &Config, env: EnvLookup<'_>) -> Vec<String> {
    // `sudo cloudreve-autoselect check` before `systemctl start` (as README says) runs outside
    // the unit: look where the unit's credentials come from, as the service will.
    let unit_credentials = std::path::Path::new(UNIT_CREDSTORE).is_dir();
    let env = &|name: &str| match env(name) {
        None if name == "CREDENTIALS_DIRECTORY" && unit_credentials => {
            Some(UNIT_CREDSTORE.to_owned())
        }
        value => value,
    };
    let several = config.accounts.len() > 1;
    let mut problems = Vec::new();
    for account in &config.accounts {
        let prefix = if several {
            format!("account {}: ", account.name)
        } else {
            String::new()
        };
        match account_client_options(account, env) {
            // Building the client reads the CA file's certificates (one without any is refused).
            Ok(options) => {
                if let Err(e) = Client::new(options) {
                    problems.push(format!("{prefix}{}", build_error_text(&e, account)));
                }
            }
            Err(e) => problems.push(format!("{prefix}{e}")),
        }
    }
    for notifier in &config.notify {
        if let Err(e) = notify::targets(
            std::slice::from_ref(notifier),
            env,
            notify::Timeouts::default(),
        ) {
            problems.push(e.to_string());
        }
    }
    problems
}

/// `check`'s failure (exit 78, every problem on its own line) if any source has a problem.
pub(super) fn check(config: &Config, env: EnvLookup<'_>) -> Option<Output> {
    let problems = problems(config, env);
    if problems.is_empty() {
        return None;
    }
    let lines: Vec<String> = problems.iter().map(|p| format!("error: {p}")).collect();
    Some(Output::failure(Exit::Config, lines.join("\n")))
}
