//! `[[account]]` tables: several Cloudreve accounts in one daemon. Each holds the keys of
//! `[server]` plus a `name` and an optional `dry_run`; the single `[server]` table stays valid
//! as the account named `default`. An account's table is checked by the same code as
//! `[server]`, and its problems are renamed to the account's key path (`account[1].url`).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::{Checker, RawServer, ServerConfig};

/// The name of the account the `[server]` table configures.
pub const DEFAULT_ACCOUNT: &str = "default";

/// One Cloudreve account the daemon works for.
#[derive(Debug, Clone)]
pub struct Account {
    /// Its name: in logs, notifications, metrics, `stats` and credential file names.
    pub name: String,
    /// How to reach and sign in.
    pub server: ServerConfig,
    /// Plan and log only, for this account (on top of `daemon.dry_run`).
    pub dry_run: bool,
    /// Its own state (task ids are only unique per server).
    pub state_file: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccount {
    name: Spanned<String>,
    dry_run: Option<bool>,
    url: Spanned<String>,
    email: Spanned<String>,
    password: Option<Spanned<String>>,
    password_file: Option<Spanned<String>>,
    refresh_token_file: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    connect_timeout: Option<Spanned<String>>,
    retries: Option<Spanned<i64>>,
    ca_file: Option<Spanned<String>>,
    accept_invalid_certs: Option<Spanned<bool>>,
    allow_insecure: Option<bool>,
    oauth_client_id: Option<Spanned<String>>,
    oauth_client_secret_file: Option<Spanned<String>>,
    oauth_redirect_port: Option<Spanned<i64>>,
    token_file: Option<Spanned<String>>,
}

/// The state file of a named account: `state.json` becomes `state.<name>.json` beside it.
pub fn account_state_file(default_state: &Path, name: &str) -> PathBuf {
    if name == DEFAULT_ACCOUNT {
        return default_state.to_owned();
    }
    let stem = default_state
        .file_stem()
        .map_or_else(|| "state".into(), |s| s.to_string_lossy().into_owned());
    let file = match default_state.extension() {
        Some(ext) => format!("{stem}.{name}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{name}"),
    };
    default_state.with_file_name(file)
}

/// Whether a name is usable in file names, metric labels and credential names.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl Checker<'_> {
    /// Checks the `[server]` table and the `[[account]]` tables together: at least one
    /// account, unique valid names.
    pub(super) fn accounts(
        &mut self,
        server: Option<Spanned<RawServer>>,
        raw: Vec<Spanned<RawAccount>>,
        default_state: &Path,
    ) -> Vec<Account> {
        let mut accounts = Vec::new();
        if server.is_none() && raw.is_empty() {
            self.problem(
                0..0,
                "server",
                "",
                "no [server] table and no [[account]] table; add [server] with url and email"
                    .to_owned(),
            );
        }
        if let Some(server) = server
            && let Some(server) = self.server(server)
        {
            accounts.push(Account {
                name: DEFAULT_ACCOUNT.to_owned(),
                server,
                dry_run: false,
                state_file: default_state.to_owned(),
            });
        }
        for (n, table) in raw.into_iter().enumerate() {
            let span = table.span();
            let table = table.into_inner();
            let name = table.name.get_ref().trim().to_owned();
            let key = format!("account[{n}]");
            if !valid_name(&name) {
                self.problem(
                    table.name.span(),
                    &format!("{key}.name"),
                    table.name.get_ref(),
                    "an account name is 1 to 64 lower-case letters, digits, '-' or '_' (it names files and metric labels)".to_owned(),
                );
            } else if name == DEFAULT_ACCOUNT || accounts.iter().any(|a: &Account| a.name == name) {
                self.problem(
                    table.name.span(),
                    &format!("{key}.name"),
                    table.name.get_ref(),
                    format!(
                        "duplicate account name (\"{DEFAULT_ACCOUNT}\" is the [server] table's)"
                    ),
                );
            }
            let dry_run = table.dry_run.unwrap_or(false);
            let server = RawServer {
                url: table.url,
                email: table.email,
                password: table.password,
                password_file: table.password_file,
                refresh_token_file: table.refresh_token_file,
                timeout: table.timeout,
                connect_timeout: table.connect_timeout,
                retries: table.retries,
                ca_file: table.ca_file,
                accept_invalid_certs: table.accept_invalid_certs,
                allow_insecure: table.allow_insecure,
                oauth_client_id: table.oauth_client_id,
                oauth_client_secret_file: table.oauth_client_secret_file,
                oauth_redirect_port: table.oauth_redirect_port,
                token_file: table.token_file,
            };
            // The [server] checks, with their problems renamed to this table's keys.
            let before = self.problems.len();
            let checked = self.server(Spanned::new(span, server));
            for problem in self.problems.iter_mut().skip(before) {
                if let Some(rest) = problem.key.strip_prefix("server.") {
                    problem.key = format!("{key}.{rest}");
                }
                problem.message = problem.message.replace("server.", &format!("{key}."));
            }
            if let Some(server) = checked {
                accounts.push(Account {
                    state_file: account_state_file(default_state, &name),
                    name,
                    server,
                    dry_run,
                });
            }
        }
        accounts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_accounts_keep_their_state_beside_the_default_one() {
        let state = Path::new("/var/lib/cra/state.json");
        assert_eq!(account_state_file(state, DEFAULT_ACCOUNT), state);
        assert_eq!(
            account_state_file(state, "alice"),
            Path::new("/var/lib/cra/state.alice.json")
        );
    }

    fn parse(text: &str) -> Result<crate::config::Config, String> {
        let none = |_: &str| None;
        crate::config::parse(text, Path::new("/etc/cra/rules.toml"), &none)
            .map_err(|e| e.to_string())
    }

    const RULE: &str = "[[rule]]\nname = \"j\"\naction = \"skip\"\nglob = \"*.exe\"\n";

    #[test]
    fn server_is_the_default_account_and_accounts_follow() {
        let text = format!(
            "[server]\nurl = \"https://a.example\"\nemail = \"a@example.com\"\n[daemon]\nstate_file = \"/s/state.json\"\n[[account]]\nname = \"bob\"\nurl = \"https://b.example\"\nemail = \"b@example.com\"\ndry_run = true\n{RULE}"
        );
        let config = parse(&text).unwrap();
        let names: Vec<&str> = config.accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["default", "bob"]);
        assert_eq!(
            config.accounts[1].state_file,
            Path::new("/s/state.bob.json")
        );
        assert!(config.accounts[1].dry_run);
        assert_eq!(config.server.url.as_str(), "https://a.example/");
    }

    #[test]
    fn accounts_alone_are_enough() {
        let text = format!(
            "[[account]]\nname = \"bob\"\nurl = \"https://b.example\"\nemail = \"b@example.com\"\n{RULE}"
        );
        let config = parse(&text).unwrap();
        assert_eq!(config.accounts.len(), 1);
        assert_eq!(config.server.email, "b@example.com");
    }

    #[test]
    fn an_accounts_problems_name_its_table_line_and_value() {
        let text = format!(
            "[server]\nurl = \"https://a.example\"\nemail = \"a@example.com\"\n[[account]]\nname = \"default\"\nurl = \"https://b.example\"\nemail = \"b@example.com\"\n[[account]]\nname = \"carol\"\nurl = \"ftp://c.example\"\nemail = \"nope\"\n{RULE}"
        );
        let err = parse(&text).unwrap_err();
        assert!(
            err.contains("rules.toml:5:8: account[0].name: duplicate account name"),
            "{err}"
        );
        assert!(err.contains("account[1].url"), "{err}");
        assert!(err.contains("rules.toml:11:9: account[1].email"), "{err}");
        assert!(!err.contains("server.email"), "{err}");
        let err = parse(RULE).unwrap_err();
        assert!(err.contains("no [server] table"), "{err}");
    }

    #[test]
    fn account_names_are_file_and_label_safe() {
        assert!(valid_name("alice-2"));
        assert!(!valid_name("Alice"));
        assert!(!valid_name("../x"));
        assert!(!valid_name(""));
    }
}
