//! What the daemon already decided, per task: kept in a JSON file so that every decision is sent
//! once, across restarts, and a file the user re-selects afterwards stays selected.
//!
//! Durability: each decision is appended to a journal (`<state>.journal`, one JSON line,
//! fsynced) right after its PATCH succeeds; at the end of a tick the whole state is written to
//! a temporary file, fsynced and renamed over the state file, and the journal is emptied. A
//! crash at any point therefore loses nothing that was sent, and a tick costs one full write
//! however many tasks it patched. A corrupt state file is moved aside with a warning and the
//! daemon starts fresh; a torn last journal line is ignored.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::plan::Decided;
use crate::task::{SelectionChange, TaskId};

const VERSION: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateDocument {
    version: u32,
    #[serde(default)]
    tasks: BTreeMap<String, TaskRecord>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct TaskRecord {
    /// File index to the `download` value the daemon sent.
    #[serde(default)]
    decided: BTreeMap<u64, bool>,
    /// The daemon already warned that it refuses to deselect every file of this task.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    refused: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct JournalEntry {
    task: String,
    files: Vec<(u64, bool)>,
}

/// Writing the state failed.
#[derive(Debug, thiserror::Error)]
#[error("could not write the state file {path}: {source}")]
pub struct StateError {
    /// The file being written.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// Something the operator should know about loading the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadWarning {
    /// The state file was not valid; it was moved aside.
    MovedAside {
        /// The state file.
        path: PathBuf,
        /// Where it went.
        moved_to: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The state file could not be read (and could not be moved aside).
    Unreadable {
        /// The state file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// Some journal lines were unreadable and were ignored.
    JournalLinesIgnored {
        /// The journal.
        path: PathBuf,
        /// How many.
        lines: usize,
    },
}

impl std::fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MovedAside {
                path,
                moved_to,
                reason,
            } => write!(
                f,
                "state file {} is corrupt ({reason}); moved it to {} and starting fresh",
                path.display(),
                moved_to.display()
            ),
            Self::Unreadable { path, reason } => write!(
                f,
                "state file {} could not be read ({reason}); starting fresh",
                path.display()
            ),
            Self::JournalLinesIgnored { path, lines } => write!(
                f,
                "ignored {lines} unreadable line(s) of the state journal {}",
                path.display()
            ),
        }
    }
}

/// The daemon's memory of its decisions.
#[derive(Debug)]
pub struct StateStore {
    path: Option<PathBuf>,
    document: StateDocument,
    journal: Option<File>,
    /// Changed since the last full write.
    dirty: bool,
}

impl StateStore {
    /// A store that keeps nothing on disk (for `demo` and dry runs).
    pub fn in_memory() -> Self {
        Self {
            path: None,
            document: StateDocument {
                version: VERSION,
                tasks: BTreeMap::new(),
            },
            journal: None,
            dirty: false,
        }
    }

    /// Loads the state file and replays its journal. Never fails: problems become warnings and
    /// a fresh state.
    pub fn load(path: &Path) -> (Self, Vec<LoadWarning>) {
        let mut warnings = Vec::new();
        let mut store = Self::in_memory();
        store.path = Some(path.to_owned());
        match fs::read(path) {
            Ok(bytes) => match serde_json::from_slice::<StateDocument>(&bytes) {
                Ok(document) if document.version == VERSION => store.document = document,
                Ok(document) => {
                    warnings.push(move_aside(
                        path,
                        &format!("unknown version {}", document.version),
                    ));
                }
                Err(e) => warnings.push(move_aside(path, &e.to_string())),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warnings.push(LoadWarning::Unreadable {
                path: path.to_owned(),
                reason: e.to_string(),
            }),
        }
        let journal = journal_path(path);
        if let Ok(file) = File::open(&journal) {
            let mut ignored = 0;
            for line in BufReader::new(file).lines() {
                let Ok(line) = line else {
                    ignored += 1;
                    break;
                };
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<JournalEntry>(&line) {
                    Ok(entry) => {
                        let record = store.document.tasks.entry(entry.task).or_default();
                        record.decided.extend(entry.files);
                        store.dirty = true;
                    }
                    Err(_) => ignored += 1,
                }
            }
            if ignored > 0 {
                warnings.push(LoadWarning::JournalLinesIgnored {
                    path: journal,
                    lines: ignored,
                });
            }
        }
        (store, warnings)
    }

    /// The state as it is on disk, for display: nothing is moved aside or written.
    pub fn read_only(path: &Path) -> Self {
        let mut store = Self::in_memory();
        if let Ok(bytes) = fs::read(path)
            && let Ok(document) = serde_json::from_slice::<StateDocument>(&bytes)
        {
            store.document = document;
        }
        store
    }

    /// The state file's path, if the store is kept on disk.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// What was decided for a task.
    pub fn decided(&self, task_id: &TaskId) -> Decided {
        self.document
            .tasks
            .get(task_id.as_str())
            .map(|r| r.decided.clone())
            .unwrap_or_default()
    }

    /// How many tasks the state remembers.
    pub fn task_count(&self) -> usize {
        self.document.tasks.len()
    }

    /// Records changes that were just sent, durably (journal line + fsync) before returning.
    pub fn record(
        &mut self,
        task_id: &TaskId,
        changes: &[SelectionChange],
    ) -> Result<(), StateError> {
        let record = self
            .document
            .tasks
            .entry(task_id.as_str().to_owned())
            .or_default();
        record
            .decided
            .extend(changes.iter().map(|c| (c.index, c.download)));
        self.dirty = true;
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let entry = JournalEntry {
            task: task_id.as_str().to_owned(),
            files: changes.iter().map(|c| (c.index, c.download)).collect(),
        };
        let journal = journal_path(&path);
        let error = |source| StateError {
            path: journal.clone(),
            source,
        };
        let mut line = serde_json::to_vec(&entry).map_err(|e| error(e.into()))?;
        line.push(b'\n');
        if self.journal.is_none() {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent).map_err(error)?;
            }
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&journal)
                .map_err(error)?;
            self.journal = Some(file);
        }
        if let Some(file) = self.journal.as_mut() {
            file.write_all(&line).map_err(error)?;
            file.sync_data().map_err(error)?;
        }
        Ok(())
    }

    /// Marks that the daemon refused to deselect every file of a task; true the first time.
    pub fn mark_refused(&mut self, task_id: &TaskId) -> bool {
        let record = self
            .document
            .tasks
            .entry(task_id.as_str().to_owned())
            .or_default();
        let first = !record.refused;
        record.refused = true;
        self.dirty |= first;
        first
    }

    /// Forgets tasks that are no longer listed; returns how many.
    pub fn prune(&mut self, listed: &HashSet<&str>) -> usize {
        let before = self.document.tasks.len();
        self.document
            .tasks
            .retain(|id, _| listed.contains(id.as_str()));
        let pruned = before - self.document.tasks.len();
        self.dirty |= pruned > 0;
        pruned
    }

    /// Writes the whole state atomically (temp file, fsync, rename) and empties the journal.
    pub fn save(&mut self) -> Result<(), StateError> {
        let Some(path) = self.path.clone() else {
            self.dirty = false;
            return Ok(());
        };
        if !self.dirty {
            return Ok(());
        }
        let bytes = serde_json::to_vec_pretty(&self.document).map_err(|e| StateError {
            path: path.clone(),
            source: e.into(),
        })?;
        write_atomically(&path, &bytes).map_err(|source| StateError {
            path: path.clone(),
            source,
        })?;
        // The full write holds everything the journal held; empty it.
        let journal = journal_path(&path);
        self.journal = None;
        match File::create(&journal) {
            Ok(file) => file.sync_all().map_err(|source| StateError {
                path: journal,
                source,
            })?,
            Err(source) => {
                return Err(StateError {
                    path: journal,
                    source,
                });
            }
        }
        self.dirty = false;
        Ok(())
    }
}

fn journal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

fn move_aside(path: &Path, reason: &str) -> LoadWarning {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".corrupt-{stamp}"));
    let moved_to = PathBuf::from(name);
    match fs::rename(path, &moved_to) {
        Ok(()) => LoadWarning::MovedAside {
            path: path.to_owned(),
            moved_to,
            reason: reason.to_owned(),
        },
        Err(e) => LoadWarning::Unreadable {
            path: path.to_owned(),
            reason: format!("{reason}; moving it aside failed too: {e}"),
        },
    }
}

/// Writes `bytes` to `path` so that readers see either the old or the new content, never a mix.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent)?;
    let mut temp_name = path.as_os_str().to_owned();
    temp_name.push(format!(".tmp-{}", std::process::id()));
    let temp = PathBuf::from(temp_name);
    let result = (|| {
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        // Make the rename itself durable.
        File::open(parent)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(index: u64, download: bool) -> SelectionChange {
        SelectionChange { index, download }
    }

    #[test]
    fn decisions_survive_a_restart_through_journal_and_full_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let id = TaskId::new("kku7");
        {
            let (mut store, warnings) = StateStore::load(&path);
            assert!(warnings.is_empty());
            store
                .record(&id, &[change(3, false), change(4, false)])
                .unwrap();
            // No full write: a crash right here keeps the journal.
        }
        let (mut store, warnings) = StateStore::load(&path);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(store.decided(&id), Decided::from([(3, false), (4, false)]));
        store.save().unwrap();
        assert_eq!(fs::read(journal_path(&path)).unwrap().len(), 0);
        let (store, _) = StateStore::load(&path);
        assert_eq!(store.decided(&id), Decided::from([(3, false), (4, false)]));
    }

    #[test]
    fn corrupt_file_is_moved_aside_and_next_write_is_good() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, "{not json").unwrap();
        let (mut store, warnings) = StateStore::load(&path);
        assert!(
            matches!(&warnings[..], [LoadWarning::MovedAside { .. }]),
            "{warnings:?}"
        );
        assert!(warnings[0].to_string().contains("corrupt"));
        assert_eq!(store.task_count(), 0);
        let moved: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            moved
                .iter()
                .any(|n| n.to_string_lossy().contains(".corrupt-")),
            "{moved:?}"
        );
        store
            .record(&TaskId::new("a"), &[change(1, false)])
            .unwrap();
        store.save().unwrap();
        let (store, warnings) = StateStore::load(&path);
        assert!(warnings.is_empty());
        assert_eq!(store.task_count(), 1);
    }

    #[test]
    fn torn_journal_line_is_ignored_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(
            journal_path(&path),
            "{\"task\":\"a\",\"files\":[[1,false]]}\n{\"task\":\"b\",\"fi",
        )
        .unwrap();
        let (store, warnings) = StateStore::load(&path);
        assert_eq!(
            store.decided(&TaskId::new("a")),
            Decided::from([(1, false)])
        );
        assert!(matches!(
            &warnings[..],
            [LoadWarning::JournalLinesIgnored { lines: 1, .. }]
        ));
    }

    #[test]
    fn prune_forgets_unlisted_tasks() {
        let mut store = StateStore::in_memory();
        store
            .record(&TaskId::new("a"), &[change(1, false)])
            .unwrap();
        store
            .record(&TaskId::new("b"), &[change(1, false)])
            .unwrap();
        assert_eq!(store.prune(&HashSet::from(["a"])), 1);
        assert_eq!(store.task_count(), 1);
    }

    #[test]
    fn refusal_is_reported_once() {
        let mut store = StateStore::in_memory();
        assert!(store.mark_refused(&TaskId::new("a")));
        assert!(!store.mark_refused(&TaskId::new("a")));
    }
}
