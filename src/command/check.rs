//! `check`: the rules file, its shared lists and its expectations, checked without
//! touching the server.

use std::fmt::Write as _;

use super::{Exit, Output, load};
use super::{oauth, sources};
use crate::config::{self, Config, EnvLookup};

pub(super) async fn check(
    path: &std::path::Path,
    strict: bool,
    expect_file: Option<&std::path::Path>,
    rules_only: bool,
    env: EnvLookup<'_>,
) -> Output {
    let config = match load(path, env) {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    // What the service reads at its start besides this file: a problem there is its exit 78.
    // A reload (`--rules-only`) reads none of it again, and under the unit's `ExecReload=` the
    // credentials are not in sight (they belong to the running process).
    if !rules_only && let Some(outcome) = sources::check(&config, env) {
        return outcome;
    }
    let (config, list_lines, list_warnings, list_errors) =
        match check_blocklists(config, path, env).await {
            Ok(c) => (c.config, c.lines, c.warnings, c.errors),
            Err(outcome) => return outcome,
        };
    let mut expectations = config.expectations.clone();
    if let Some(file) = expect_file {
        match config::load_expect_file(file, &config.rules) {
            Ok(more) => expectations.extend(more),
            Err(e) => return Output::failure(Exit::Config, format!("error: {e}")),
        }
    }
    let report = crate::expect::evaluate(&expectations, &config.rules);
    let mut warnings = String::new();
    for lint in &config.lints {
        let _ = writeln!(warnings, "warning: {}", lint.render(path));
    }
    let runs: Vec<String> = config
        .daemon
        .schedule
        .next_runs(chrono::Utc::now(), 3)
        .iter()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .collect();
    let mut out = format!(
        "ok: {}: {} rules, {} globs; schedule \"{}\" (UTC), next runs {}; server {}",
        path.display(),
        config.rules.rules().len(),
        config.rules.glob_count(),
        config.daemon.schedule.as_str(),
        runs.join(", "),
        config.server.api_base,
    );
    let _ = write!(out, "; state file {}", config.daemon.state_file.display());
    if config.accounts.len() > 1
        || config
            .accounts
            .iter()
            .any(|a| a.name != config::DEFAULT_ACCOUNT)
    {
        let accounts: Vec<String> = config
            .accounts
            .iter()
            .map(|a| {
                format!(
                    "{} ({} as {}{}, state {})",
                    a.name,
                    a.server.url,
                    a.server.email,
                    if a.dry_run { ", dry run" } else { "" },
                    a.state_file.display()
                )
            })
            .collect();
        let _ = write!(out, "; accounts: {}", accounts.join(", "));
    }
    oauth::describe_credentials(&config, env, &mut out, &mut warnings);
    if !config.notify.is_empty() {
        let names: Vec<&str> = config.notify.iter().map(|n| n.name.as_str()).collect();
        let _ = write!(out, "; notifiers {}", names.join(", "));
    }
    if let Some(metrics) = &config.metrics {
        let _ = write!(out, "; metrics on http://{}/metrics", metrics.listen);
    }
    if config.daemon.dry_run {
        out.push_str("; dry run");
    }
    if !config.lints.is_empty() {
        let _ = write!(out, "; {} warning(s)", config.lints.len());
    }
    out.push('\n');
    out.push_str(&preset_listing(config.rules.rules()));
    out.push_str(&list_lines);
    if !expectations.is_empty() {
        out.push_str(&report.render());
    }
    warnings.push_str(&list_warnings);
    warnings.push_str(&list_errors);
    let exit = if (strict && !config.lints.is_empty())
        || !report.failures.is_empty()
        || !list_errors.is_empty()
    {
        Exit::Failure
    } else {
        Exit::Success
    };
    Output {
        exit,
        stdout: out,
        stderr: warnings,
    }
}

/// For `check`: a line per shared list, a warning per skipped line of a fetched list, and an
/// error per list that is not available. A
/// `list_url` that was never fetched is fetched now (not kept: the daemon keeps its own copy),
/// and the rules are read again with it so that the expectations see it.
pub(super) async fn check_blocklists(
    config: Config,
    path: &std::path::Path,
    env: EnvLookup<'_>,
) -> Result<ListsChecked, Output> {
    use crate::config::blocklists::{BlocklistSource, BlocklistStatus};
    let missing: Vec<url::Url> = config
        .blocklists
        .iter()
        .filter_map(|list| match (&list.source, &list.status) {
            (BlocklistSource::Url { url, cache, .. }, BlocklistStatus::Unavailable(_))
                if !cache.exists() =>
            {
                Some(url.clone())
            }
            _ => None,
        })
        .collect();
    let FetchedInMemory {
        config,
        urls: fetched,
        mut errors,
    } = fetch_in_memory(config, path, env, missing).await?;
    let mut lines = String::new();
    let mut warnings = String::new();
    for list in &config.blocklists {
        let fetched_now =
            matches!(&list.source, BlocklistSource::Url { url, .. } if fetched.contains(url));
        match &list.status {
            BlocklistStatus::Loaded { patterns, skipped } => {
                let _ = write!(
                    lines,
                    "list of rule {:?}: {patterns} pattern(s) from {}",
                    list.rule.as_str(),
                    list.source
                );
                if fetched_now {
                    lines.push_str(" (fetched now; the daemon fetches and keeps its own copy)");
                }
                if !skipped.is_empty() {
                    let _ = write!(lines, "; {} line(s) skipped", skipped.len());
                }
                lines.push('\n');
                for line in skipped {
                    let _ = writeln!(
                        warnings,
                        "warning: list {}: {line}; the line is skipped",
                        list.source
                    );
                }
            }
            BlocklistStatus::Unavailable(reason) => {
                if !errors.contains(&list.source.to_string()) {
                    let _ = writeln!(
                        errors,
                        "error: rule {:?} is inactive: list {}: {reason}",
                        list.rule.as_str(),
                        list.source
                    );
                }
            }
        }
    }
    Ok(ListsChecked {
        config,
        lines,
        warnings,
        errors,
    })
}

/// What `check_blocklists` found: the config (read again with the lists fetched now), and the
/// lines it prints.
pub(super) struct ListsChecked {
    /// The config, with the lists fetched now.
    pub(super) config: Config,
    /// A line per shared list.
    pub(super) lines: String,
    /// A warning per skipped line of a fetched list.
    pub(super) warnings: String,
    /// An error per list that is not available.
    pub(super) errors: String,
}

/// What `fetch_in_memory` did.
pub(super) struct FetchedInMemory {
    /// The config, read again with the lists fetched.
    pub(super) config: Config,
    /// The URLs fetched.
    pub(super) urls: Vec<url::Url>,
    /// An error line per URL that could not be fetched.
    pub(super) errors: String,
}

/// Fetches `urls` without keeping them and reads the rules again with them: the config, the
/// URLs fetched, and an error line per URL that could not be fetched.
pub(super) async fn fetch_in_memory(
    config: Config,
    path: &std::path::Path,
    env: EnvLookup<'_>,
    urls: Vec<url::Url>,
) -> Result<FetchedInMemory, Output> {
    use crate::config::blocklists::BlocklistSource;
    let mut fetched: Vec<(url::Url, String)> = Vec::new();
    let mut errors = String::new();
    if !urls.is_empty() {
        match crate::blocklist_fetch::downloader(&config) {
            Ok(downloader) => {
                for url in urls {
                    match crate::blocklist_fetch::fetch(&downloader, &url).await {
                        Ok(text) => fetched.push((url, text)),
                        Err(e) => {
                            let copy =
                                config
                                    .blocklists
                                    .iter()
                                    .find_map(|list| match &list.source {
                                        BlocklistSource::Url { url: u, cache, .. } if *u == url => {
                                            cache.exists().then_some(cache)
                                        }
                                        _ => None,
                                    });
                            let _ = match copy {
                                Some(cache) => writeln!(
                                    errors,
                                    "error: list {}: fetching it now failed, so the copy at {} stays in force: {e}",
                                    crate::cloudreve::redacted(&url),
                                    cache.display()
                                ),
                                None => writeln!(
                                    errors,
                                    "error: list {}: never fetched, and fetching it now failed: {e}",
                                    crate::cloudreve::redacted(&url)
                                ),
                            };
                        }
                    }
                }
            }
            Err(e) => {
                let _ = writeln!(errors, "error: cannot fetch shared lists: {e}");
            }
        }
    }
    if fetched.is_empty() {
        return Ok(FetchedInMemory {
            config,
            urls: Vec::new(),
            errors,
        });
    }
    let lookup = |source: &BlocklistSource| match source {
        BlocklistSource::Url { url, .. } => fetched.iter().find(|(u, _)| u == url).map_or_else(
            || config::blocklists::read_from_disk(source),
            |(_, text)| Ok(text.clone()),
        ),
        BlocklistSource::File(_) => config::blocklists::read_from_disk(source),
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        Output::failure(
            Exit::Config,
            format!("error: could not read {}: {e}", path.display()),
        )
    })?;
    let config = config::parse_with_blocklists(&text, path, env, &lookup)
        .map_err(|e| Output::failure(Exit::Config, format!("error: {e}")))?;
    Ok(FetchedInMemory {
        config,
        urls: fetched.into_iter().map(|(url, _)| url).collect(),
        errors,
    })
}

/// The table `check` prints when the rules use a preset (which hides rules the file does not
/// show): every rule after presets are expanded, in the order they are tried, with its action,
/// the kinds it applies to and where it was written. Empty without presets.
fn preset_listing(rules: &[crate::rules::Rule]) -> String {
    use crate::table::{Align, Cell, Table};
    if !rules.iter().any(|rule| rule.origin().is_preset()) {
        return String::new();
    }
    let kinds: Vec<String> = rules.iter().map(|rule| rule.kinds().to_string()).collect();
    let actions: Vec<String> = rules.iter().map(|rule| rule.action().to_string()).collect();
    let origins: Vec<String> = rules.iter().map(|rule| rule.origin().to_string()).collect();
    let mut table = Table::with_capacity(
        &[
            ("#", Align::Right),
            ("rule", Align::Left),
            ("action", Align::Left),
            ("kind", Align::Left),
            ("from", Align::Left),
        ],
        rules.len(),
    );
    for (n, rule) in rules.iter().enumerate() {
        table.push([
            Cell::Number(n as u64 + 1),
            Cell::Text(rule.name().as_str()),
            Cell::Text(&actions[n]),
            Cell::Text(&kinds[n]),
            Cell::Text(&origins[n]),
        ]);
    }
    let mut out = String::from("rules, in the order they are tried:\n");
    table.render_into(&mut out);
    out
}
