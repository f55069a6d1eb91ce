//! Keeps `list_url` lists fresh: each list is fetched on its own interval (`refresh`, default
//! 4 hours) over the Cloudreve client's HTTP stack, checked, and written to its cache file
//! beside the state file. The rules file reads lists from there, so a new copy reaches the rules
//! the way an edited rules file does: the rules watch sees the cache change and reloads before
//! the next tick.
//!
//! A failed fetch keeps the last good copy and warns once (the same failure again is logged at
//! debug level); it is tried again after `min(refresh, 5 minutes)`. A copy that is not UTF-8
//! text, holds no usable pattern or exceeds the compile budget (`rules::budget`) counts as a
//! failed fetch (an empty answer or an HTML error page must not switch a rule off, and a list
//! that would take gigabytes to compile must not reach the cache).

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::cloudreve::{BuildError, DownloadError, DownloadOptions, Downloader, redacted};
use crate::config::Config;
use crate::config::blocklists::{BlocklistSource, MAX_BLOCKLIST_BYTES};
use crate::rules::RuleName;
use crate::rules::blocklist::compile;

/// How soon a failed fetch is tried again, at most.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(300);

/// One `list_url` of the rules. `Debug` hides a password in the URL.
#[derive(Clone, PartialEq, Eq)]
pub struct UrlBlocklist {
    /// The rule that uses it.
    pub rule: RuleName,
    /// Where it is fetched from.
    pub url: Url,
    /// How often.
    pub refresh: Duration,
    /// Where the last good copy is kept.
    pub cache: PathBuf,
}

impl std::fmt::Debug for UrlBlocklist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlBlocklist")
            .field("rule", &self.rule)
            .field("url", &redacted(&self.url))
            .field("refresh", &self.refresh)
            .field("cache", &self.cache)
            .finish()
    }
}

/// The `list_url` lists of a config (the same URL used by two rules is fetched once).
pub fn url_blocklists(config: &Config) -> Vec<UrlBlocklist> {
    let mut lists: Vec<UrlBlocklist> = Vec::new();
    for info in &config.blocklists {
        if let BlocklistSource::Url {
            url,
            refresh,
            cache,
        } = &info.source
            && !lists.iter().any(|l| &l.url == url)
        {
            lists.push(UrlBlocklist {
                rule: info.rule.clone(),
                url: url.clone(),
                refresh: *refresh,
                cache: cache.clone(),
            });
        }
    }
    lists
}

/// The downloader for lists: the server's timeouts and CA file, and the list size cap.
pub fn downloader(config: &Config) -> Result<Downloader, BlocklistFetchError> {
    let extra_roots_pem = match &config.server.ca_file {
        Some(path) => std::fs::read(path).map_err(|source| BlocklistFetchError::CaFile {
            path: path.clone(),
            source,
        })?,
        None => Vec::new(),
    };
    Downloader::new(&DownloadOptions {
        timeout: config.server.timeout,
        connect_timeout: config.server.connect_timeout,
        extra_roots_pem,
        max_bytes: MAX_BLOCKLIST_BYTES,
    })
    .map_err(BlocklistFetchError::Build)
}

/// A list could not be fetched or is not usable.
#[derive(Debug, thiserror::Error)]
pub enum BlocklistFetchError {
    /// The download failed.
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// The answer is not text.
    #[error("{} is not UTF-8 text", redacted(url))]
    NotText {
        /// The list.
        url: Url,
    },
    /// The answer holds no usable pattern.
    #[error(
        "{} holds no usable pattern ({problems} line(s) cannot be used)",
        redacted(url)
    )]
    NoPattern {
        /// The list.
        url: Url,
        /// Lines that could not be used.
        problems: usize,
    },
    /// The answer would cost too much to compile (`rules::budget`): the last good copy stays.
    #[error("{} {reason}", redacted(url))]
    OverBudget {
        /// The list.
        url: Url,
        /// Which budget, by how much.
        reason: String,
    },
    /// The cache could not be written.
    #[error("could not keep the copy of {} at {}: {source}", redacted(url), path.display())]
    Cache {
        /// The list.
        url: Url,
        /// The cache file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The CA file could not be read.
    #[error("could not read server.ca_file {path}: {source}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error(transparent)]
    Build(BuildError),
}

/// Fetches a list and checks it, without keeping it.
pub async fn fetch(downloader: &Downloader, url: &Url) -> Result<String, BlocklistFetchError> {
    let bytes = downloader.get(url).await?;
    let text =
        String::from_utf8(bytes).map_err(|_| BlocklistFetchError::NotText { url: url.clone() })?;
    // Compiled under the budget before it can replace the last good copy: a list that would
    // cost too much never reaches the cache (the case it is compiled with does not change its
    // cost by much; the rules compile the copy again with theirs).
    let compiled = compile(&text, false);
    if let Some(reason) = compiled.over_budget {
        return Err(BlocklistFetchError::OverBudget {
            url: url.clone(),
            reason: format!("exceeds the compile budget: {reason}"),
        });
    }
    if compiled.pattern_count() == 0 {
        return Err(BlocklistFetchError::NoPattern {
            url: url.clone(),
            problems: compiled.problems.len(),
        });
    }
    Ok(text)
}

/// What a refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refreshed {
    /// A new copy was written.
    Updated,
    /// The list is the same as the copy.
    Unchanged,
}

/// Fetches a list and, if it changed, replaces its cached copy atomically.
pub async fn refresh(
    downloader: &Downloader,
    list: &UrlBlocklist,
) -> Result<Refreshed, BlocklistFetchError> {
    let text = fetch(downloader, &list.url).await?;
    let cap = u64::try_from(text.len()).unwrap_or(u64::MAX);
    if crate::durable::read_capped(&list.cache, cap).is_ok_and(|old| old == text.as_bytes()) {
        // Touch it, so that its age says when it was last confirmed.
        let _ = crate::durable::open_existing(&list.cache)
            .and_then(|f| f.set_modified(SystemTime::now()));
        return Ok(Refreshed::Unchanged);
    }
    crate::durable::write_atomically(&list.cache, text.as_bytes()).map_err(|source| {
        BlocklistFetchError::Cache {
            url: list.url.clone(),
            path: list.cache.clone(),
            source,
        }
    })?;
    Ok(Refreshed::Updated)
}

/// The failure last reported per list, so that the same one again (a poisoned list is fetched
/// again every 5 minutes) is not repeated at warn level.
#[derive(Debug, Default)]
pub struct Reported(Vec<(Url, String)>);

impl Reported {
    /// Whether `failure` of `url` differs from the one last reported (and is now the last).
    pub fn is_new(&mut self, url: &Url, failure: String) -> bool {
        if self.0.iter().any(|(u, last)| u == url && *last == failure) {
            return false;
        }
        self.clear(url);
        self.0.push((url.clone(), failure));
        true
    }

    /// `url` succeeded: its next failure is reported.
    pub fn clear(&mut self, url: &Url) {
        self.0.retain(|(u, _)| u != url);
    }
}

/// Whether a list has no copy, or one older than its `refresh`.
pub fn is_due(list: &UrlBlocklist) -> bool {
    due_in(list, SystemTime::now()).is_zero()
}

/// How long until a list is due, judged by its copy's age.
fn due_in(list: &UrlBlocklist, now: SystemTime) -> Duration {
    let age = std::fs::metadata(&list.cache)
        .and_then(|m| m.modified())
        .ok()
        .map(|modified| now.duration_since(modified).unwrap_or(Duration::ZERO));
    match age {
        Some(age) => list.refresh.saturating_sub(age),
        None => Duration::ZERO,
    }
}

/// The background task that keeps every `list_url` fresh. Dropping it stops the task.
#[derive(Debug)]
pub struct Refresher {
    blocklists: watch::Sender<Vec<UrlBlocklist>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Refresher {
    /// Starts refreshing the config's lists: at once for a list without a copy or with an old
    /// one, then on each list's interval.
    pub fn spawn(config: &Config, shutdown: CancellationToken) -> Self {
        let (lists, receiver) = watch::channel(url_blocklists(config));
        let downloader = downloader(config);
        let task = tokio::spawn(refresh_loop(downloader, receiver, shutdown));
        Self {
            blocklists: lists,
            task,
        }
    }

    /// Follows a reloaded config's lists.
    pub fn update(&self, config: &Config) {
        let lists = url_blocklists(config);
        self.blocklists.send_if_modified(|current| {
            let changed = *current != lists;
            if changed {
                *current = lists;
            }
            changed
        });
    }
}

async fn refresh_loop(
    downloader: Result<Downloader, BlocklistFetchError>,
    mut lists: watch::Receiver<Vec<UrlBlocklist>>,
    shutdown: CancellationToken,
) {
    let downloader = match downloader {
        Ok(downloader) => downloader,
        Err(e) => {
            if !lists.borrow().is_empty() {
                tracing::error!(error = %e, "cannot fetch shared lists; rules with a list_url keep their last copy");
            }
            return;
        }
    };
    // When each list failed last, so that it is tried again sooner than its interval.
    let mut failed_at: Vec<(Url, tokio::time::Instant)> = Vec::new();
    let mut reported = Reported::default();
    loop {
        let current = lists.borrow_and_update().clone();
        let now = tokio::time::Instant::now();
        let mut next: Option<tokio::time::Instant> = None;
        for list in &current {
            let due = match failed_at.iter().find(|(url, _)| url == &list.url) {
                Some((_, at)) => *at + list.refresh.min(RETRY_AFTER_FAILURE),
                None => now + due_in(list, SystemTime::now()),
            };
            if due > now {
                next = Some(next.map_or(due, |n| n.min(due)));
                continue;
            }
            failed_at.retain(|(url, _)| url != &list.url);
            let result = tokio::select! {
                () = shutdown.cancelled() => return,
                result = refresh(&downloader, list) => result,
            };
            match result {
                Ok(Refreshed::Updated) => {
                    reported.clear(&list.url);
                    tracing::info!(rule = %list.rule, url = %redacted(&list.url), "shared list fetched; the rules reload before the next tick");
                }
                Ok(Refreshed::Unchanged) => {
                    reported.clear(&list.url);
                    tracing::debug!(rule = %list.rule, url = %redacted(&list.url), "shared list unchanged");
                }
                Err(e) => {
                    let kept = list.cache.exists();
                    if !reported.is_new(&list.url, e.to_string()) {
                        tracing::debug!(rule = %list.rule, error = %e, "shared list still failing");
                    } else if kept {
                        tracing::warn!(rule = %list.rule, error = %e, "could not refresh a shared list; keeping the last good copy");
                    } else {
                        tracing::error!(rule = %list.rule, error = %e, "could not fetch a shared list; its rule stays inactive until it can");
                    }
                    failed_at.push((list.url.clone(), tokio::time::Instant::now()));
                }
            }
            let again = match failed_at.iter().find(|(url, _)| url == &list.url) {
                Some((_, at)) => *at + list.refresh.min(RETRY_AFTER_FAILURE),
                None => tokio::time::Instant::now() + list.refresh,
            };
            next = Some(next.map_or(again, |n| n.min(again)));
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            changed = lists.changed() => if changed.is_err() { return },
            () = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_failure_of_a_list_is_reported_once() {
        let a: Url = "https://lists.example/a.txt".parse().unwrap();
        let b: Url = "https://lists.example/b.txt".parse().unwrap();
        let mut reported = Reported::default();
        assert!(reported.is_new(&a, "too large".into()));
        assert!(!reported.is_new(&a, "too large".into()));
        assert!(reported.is_new(&b, "too large".into()));
        assert!(reported.is_new(&a, "HTTP 500".into()));
        assert!(!reported.is_new(&a, "HTTP 500".into()));
        reported.clear(&a);
        assert!(reported.is_new(&a, "HTTP 500".into()));
    }
}
