//! Naming where an account's password comes from, for the client's sign-in error.

use crate::config::{self, EnvLookup};

/// Where an account's password comes from, in the order `account_client_options` looks:
/// named when Cloudreve refuses it, so the operator knows which file or variable to fix.
pub(super) fn password_source(account: &config::Account, env: EnvLookup<'_>) -> String {
    let key = if account.name == config::DEFAULT_ACCOUNT {
        "server".to_owned()
    } else {
        format!("account {}", account.name)
    };
    match &account.server.password {
        config::PasswordSetting::File(path) => format!("{key}.password_file {}", path.display()),
        config::PasswordSetting::Inline(_) => format!("{key}.password in the rules file"),
        config::PasswordSetting::FromEnvironment => {
            let named = format!("{}.password", account.name);
            if account.name != config::DEFAULT_ACCOUNT
                && let Some(path) = config::credential_file(&named, env)
            {
                return format!("the credential {}", path.display());
            }
            if env(config::PASSWORD_ENV).is_some_and(|v| !v.is_empty()) {
                return format!("${}", config::PASSWORD_ENV);
            }
            match config::credential_file(config::PASSWORD_CREDENTIAL, env) {
                Some(path) => format!("the credential {}", path.display()),
                None => "no source".to_owned(),
            }
        }
    }
}
