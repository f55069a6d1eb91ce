//! A reload (SIGHUP, or the rules changed on disk): what it applies, and the settings that
//! only a restart applies.

use crate::config::Config;

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
