//! Notices, without a signal, that the rules file or one of the lists it reads changed.
//!
//! A `RulesWatch` keeps a stamp of every file the rules were built from: the rules file, each
//! `list_file`, and the cached copy of each `list_url`. `changed` compares fresh stamps (device,
//! inode, size, modification and change time, so a file replaced by rename, as editors and
//! Kubernetes config maps do, counts) and, only when a stamp moved, the content's hash: a touch
//! without a change is not a change. It reports each distinct content once: after a reload
//! that was refused, the same content is not reported again, so its problems are logged once,
//! not at every tick. The daemon asks before every tick, so an edit applies at the latest by the
//! next tick.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::config::blocklists::{BlocklistSource, fnv1a};

/// What a file looked like.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stamp {
    /// It could not be read (missing, or no permission).
    Unreadable,
    /// Its metadata and a hash of its content.
    Seen {
        meta: (u64, u64, u64, i64, i64, i64, i64),
        hash: u64,
    },
}

fn meta_of(path: &Path) -> Option<(u64, u64, u64, i64, i64, i64, i64)> {
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(path).ok()?;
    Some((
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
    ))
}

fn stamp(path: &Path) -> Stamp {
    match (meta_of(path), std::fs::read(path)) {
        (Some(meta), Ok(bytes)) => Stamp::Seen {
            meta,
            hash: fnv1a(&bytes),
        },
        _ => Stamp::Unreadable,
    }
}

/// The files a config was built from.
pub fn watched_files(config: &Config) -> Vec<PathBuf> {
    let mut files = vec![config.path.clone()];
    for list in &config.blocklists {
        let path = match &list.source {
            BlocklistSource::File(path) => path,
            BlocklistSource::Url { cache, .. } => cache,
        };
        if !files.contains(path) {
            files.push(path.clone());
        }
    }
    files
}

/// Stamps of the files the current rules were built from.
#[derive(Debug, Clone)]
pub struct RulesWatch {
    files: Vec<(PathBuf, Stamp)>,
}

impl RulesWatch {
    /// Stamps the files `config` was read from.
    pub fn new(config: &Config) -> Self {
        Self {
            files: watched_files(config)
                .into_iter()
                .map(|path| {
                    let stamp = stamp(&path);
                    (path, stamp)
                })
                .collect(),
        }
    }

    /// Whether any watched file's content changed since the last call (or since the rules were
    /// built). Reports each change once, whether or not the reload that follows succeeds.
    pub fn changed(&mut self) -> bool {
        let mut changed = false;
        for (path, last) in &mut self.files {
            let meta = meta_of(path);
            let unmoved =
                matches!((&meta, &*last), (Some(now), Stamp::Seen { meta, .. }) if now == meta);
            if unmoved {
                continue;
            }
            let fresh = stamp(path);
            let same_content = match (&fresh, &*last) {
                (Stamp::Seen { hash: a, .. }, Stamp::Seen { hash: b, .. }) => a == b,
                (Stamp::Unreadable, Stamp::Unreadable) => true,
                _ => false,
            };
            changed |= !same_content;
            *last = fresh;
        }
        changed
    }

    /// Follows the files of reloaded rules (a new `list_file` joins, a removed one leaves);
    /// files watched before keep their stamps.
    pub fn follow(&mut self, config: &Config) {
        let previous = std::mem::take(&mut self.files);
        self.files = watched_files(config)
            .into_iter()
            .map(|path| {
                let stamp = previous
                    .iter()
                    .find(|(p, _)| *p == path)
                    .map_or_else(|| stamp(&path), |(_, s)| s.clone());
                (path, stamp)
            })
            .collect();
    }
}

/// Logs, at error level, every rule that is inactive because its list is not available: once per
/// tick, so the tick log says why a rule does nothing.
pub fn log_inactive_blocklists(config: &Config) {
    for list in &config.blocklists {
        if let crate::config::blocklists::BlocklistStatus::Unavailable(reason) = &list.status {
            tracing::error!(rule = %list.rule, list = %list.source, "rule inactive: its list is not available: {reason}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(path: &Path) -> Config {
        crate::config::load(path, &|_| None).unwrap()
    }

    const RULES: &str = "[server]\nurl = \"https://c.example\"\nemail = \"a@b.c\"\n[[rule]]\nname = \"lst\"\naction = \"skip\"\nlist_file = \"block.txt\"\n";

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules.toml");
        let list = dir.path().join("block.txt");
        std::fs::write(&rules, RULES).unwrap();
        std::fs::write(&list, "*.exe\n").unwrap();
        (dir, rules, list)
    }

    #[test]
    fn nothing_changed_is_no_change_and_a_touch_is_no_change() {
        let (_dir, rules, _list) = setup();
        let mut watch = RulesWatch::new(&config(&rules));
        assert!(!watch.changed());
        let file = std::fs::File::options().append(true).open(&rules).unwrap();
        file.set_modified(std::time::SystemTime::UNIX_EPOCH)
            .unwrap();
        assert!(!watch.changed());
    }

    #[test]
    fn an_edit_of_the_rules_file_or_a_list_file_is_seen_once() {
        let (_dir, rules, list) = setup();
        let mut watch = RulesWatch::new(&config(&rules));
        std::fs::write(&list, "*.exe\n*.scr\n").unwrap();
        assert!(watch.changed());
        assert!(!watch.changed(), "the same content is reported once");
        std::fs::write(&rules, format!("{RULES}# edited\n")).unwrap();
        assert!(watch.changed());
        assert!(!watch.changed());
    }

    #[test]
    fn a_replacement_by_rename_with_the_same_size_and_time_is_seen() {
        let (dir, rules, _list) = setup();
        let mut watch = RulesWatch::new(&config(&rules));
        let meta = std::fs::metadata(&rules).unwrap();
        let replacement = dir.path().join(".rules.toml.swp");
        // Same length, different content, same modification time.
        std::fs::write(&replacement, RULES.replace("lst", "LST")).unwrap();
        std::fs::File::options()
            .append(true)
            .open(&replacement)
            .unwrap()
            .set_modified(meta.modified().unwrap())
            .unwrap();
        std::fs::rename(&replacement, &rules).unwrap();
        assert!(watch.changed());
    }

    #[test]
    fn a_removed_file_is_a_change_reported_once_and_its_return_is_another() {
        let (_dir, rules, list) = setup();
        let mut watch = RulesWatch::new(&config(&rules));
        std::fs::remove_file(&list).unwrap();
        assert!(watch.changed());
        assert!(!watch.changed());
        std::fs::write(&list, "*.exe\n").unwrap();
        assert!(watch.changed());
    }

    #[test]
    fn follow_watches_the_new_lists() {
        let (dir, rules, _list) = setup();
        let mut watch = RulesWatch::new(&config(&rules));
        let other = dir.path().join("other.txt");
        std::fs::write(&other, "*.url\n").unwrap();
        std::fs::write(&rules, RULES.replace("block.txt", "other.txt")).unwrap();
        assert!(watch.changed());
        watch.follow(&config(&rules));
        assert!(!watch.changed());
        std::fs::write(&other, "*.url\n*.lnk\n").unwrap();
        assert!(watch.changed());
    }
}
