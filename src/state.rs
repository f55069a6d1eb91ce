//! What the daemon already decided, per task, kept in a JSON file so that every file is decided
//! once, across restarts, and whatever the user changes afterwards stays.
//!
//! Durability (write-ahead): before a PATCH is sent, the decisions of that task (every file a
//! rule decided, sent or not) are appended to a journal (`<state>.journal`, one JSON line) and
//! fsynced. A PATCH that certainly never left (connect error) is retracted by a second journal
//! line; any other outcome stays decided. At the end of a tick the whole state is written to a
//! temporary file, fsynced and renamed over the state file, and the journal is emptied. A crash
//! at any point therefore loses no decision, and a tick costs one full write however many tasks
//! it decided. A torn last journal line (a crash mid-append) is cut off before the next append.
//!
//! One writer: [`StateStore::open`] takes an exclusive advisory lock on `<state>.lock` for as
//! long as the store lives; a second writer fails at once with [`StateError::Locked`].
//! [`StateStore::read_only`] (dry runs, `explain`) needs no lock and writes nothing.
//!
//! Doubt is resolved toward doing nothing: a state file that exists but cannot be read stops the
//! command ([`StateError::Unreadable`]); only a file that reads but does not parse is moved
//! aside and replaced; a file of a newer format is left alone ([`StateError::NewerVersion`]).

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::durable;

mod patch;
use crate::plan::Decided;
use crate::task::{SelectionChange, TaskId};
pub use patch::PatchRefusals;

/// Version 2: `decided` holds every file a rule decided (version 1 held only the files sent,
/// which version 2 reads as they are).
const VERSION: u32 = 2;

/// The most the state file or its journal may hold: far beyond any real state (ten thousand
/// tasks of a thousand decided files each take about 150 MB), and a bound on what a planted
/// or damaged file can make us allocate.
const MAX_STATE_BYTES: u64 = 1 << 30;

/// How long a task stays remembered after complete lists stopped showing it: long enough for a
/// server that lists nothing for a while (a restart, a wiped database being restored) or a
/// task paused and resumed, short enough that the state does not grow without end.
pub const PRUNE_GRACE: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateDocument {
    version: u32,
    #[serde(default)]
    tasks: BTreeMap<String, TaskRecord>,
    #[serde(default)]
    stats: Stats,
    /// Operator incidents still open (kind to when it began), so that a restart neither repeats
    /// nor forgets them.
    #[serde(default)]
    incidents: BTreeMap<String, String>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct TaskRecord {
    /// File index to the `download` value the rules wanted when the file was decided.
    #[serde(default)]
    decided: BTreeMap<u64, bool>,
    /// The daemon already warned that it refuses to deselect every file of this task.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    refused: bool,
    /// This task's PATCH requests that Cloudreve refused in a row (nothing applied): the back-off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    patch_refusals: Option<PatchRefusals>,
    /// Files whose PATCH got no clear answer: sent, outcome unknown.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    unknown: std::collections::BTreeSet<u64>,
    /// When (Unix seconds) a complete list first left this task out: it is forgotten only once
    /// it has stayed out for [`PRUNE_GRACE`]. Written on the change only, not at every tick.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unlisted_since: Option<i64>,
}

/// Cumulative figures since `since`: what the daemon saved its user.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// When counting began (RFC 3339).
    #[serde(default)]
    pub since: String,
    /// Per rule name.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleTotals>,
    /// Tasks whose plan was refused (it would have deselected every file), each counted once.
    #[serde(default)]
    pub tasks_refused: u64,
}

/// What one rule deselected in all.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleTotals {
    /// Files deselected.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct JournalEntry {
    task: String,
    /// Decided before the PATCH was sent (write-ahead).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    decide: Vec<(u64, bool)>,
    /// Decisions withdrawn because their PATCH certainly never left.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    retract: Vec<u64>,
    /// Version 1's lines: the files sent.
    #[serde(default, skip_serializing)]
    files: Vec<(u64, bool)>,
}

/// The state could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Another process holds the state.
    #[error(
        "the state file {path} is in use by another instance (the service?): {lock} is locked; stop it first or use --dry-run"
    )]
    Locked {
        /// The state file.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// The state file exists but cannot be read.
    #[error(
        "could not read the state file {path}: {source}; fix its permissions or the disk, nothing was changed"
    )]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The state file does not parse (a read-only command found it; one that writes moves it
    /// aside and starts afresh).
    #[error(
        "the state file {path} is corrupt ({reason}); nothing was changed: the next `once` or `run` moves it aside (to {path}.corrupt-<time>) and starts afresh, judging every file again; to keep its decisions, restore it from a backup first"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong, by position.
        reason: String,
    },
    /// The state file was written by a newer version of this program.
    #[error(
        "the state file {path} has format version {version}, newer than this program's {VERSION}; upgrade cloudreve-autoselect"
    )]
    NewerVersion {
        /// The file.
        path: PathBuf,
        /// Its version.
        version: u32,
    },
    /// The lock file was removed or replaced while this process held it (or each time it was
    /// taken): another writer may be in, so this one writes nothing more.
    #[error(
        "the lock file {lock} of the state file {path} was removed or replaced while this process held it; another instance may be writing the state, so this one writes nothing more: stop every instance, then start one"
    )]
    LockLost {
        /// The state file.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// Writing failed.
    #[error("could not write the state file {path}: {source}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
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
    /// Some journal lines were unreadable and were ignored.
    JournalLinesIgnored {
        /// The journal.
        path: PathBuf,
        /// How many.
        lines: usize,
    },
    /// The journal ended in a torn line (a crash mid-append); it was cut off.
    JournalTornTail {
        /// The journal.
        path: PathBuf,
        /// Bytes removed.
        bytes: u64,
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
                "the state file {} is corrupt ({reason}); moved it aside to {} and starting afresh, judging every file again; to keep its decisions, stop the service and restore it from a backup",
                path.display(),
                moved_to.display()
            ),
            Self::JournalLinesIgnored { path, lines } => write!(
                f,
                "ignored {lines} unreadable line(s) of the state journal {}",
                path.display()
            ),
            Self::JournalTornTail { path, bytes } => write!(
                f,
                "the state journal {} ended in a torn line ({bytes} bytes, from a crash while writing); cut it off",
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
    /// The exclusive locks of a writer, on the lock file and on the journal, each with its
    /// name, held while the store lives (dropping them unlocks). Two, so that removing the lock
    /// file alone (taking it for a stale one) lets no second writer in.
    locks: Vec<(PathBuf, File)>,
    /// Changed since the last full write.
    dirty: bool,
    /// Journal writes still to fail on purpose (see [`Self::fail_journal_writes`]).
    failing_writes: usize,
}

/// `<state>.<suffix>`.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The lock file of a state file.
pub fn lock_path(path: &Path) -> PathBuf {
    beside(path, ".lock")
}

fn journal_path(path: &Path) -> PathBuf {
    beside(path, ".journal")
}

impl StateStore {
    /// A store that keeps nothing on disk (for `demo`).
    pub fn in_memory() -> Self {
        Self {
            path: None,
            document: StateDocument {
                version: VERSION,
                ..StateDocument::default()
            },
            journal: None,
            locks: Vec::new(),
            dirty: false,
            failing_writes: 0,
        }
    }

    /// Opens the state for writing: takes the lock, loads the state file, replays the journal
    /// and cuts off a torn last journal line. A file that does not parse is moved aside (a
    /// warning); one that cannot be read, or is locked, is an error.
    pub fn open(path: &Path) -> Result<(Self, Vec<LoadWarning>), StateError> {
        let lock = take_lock(path)?;
        let mut warnings = Vec::new();
        let mut store = Self::in_memory();
        store.path = Some(path.to_owned());
        let journal = journal_path(path);
        let journal_lock = take_lock_on(path, &journal)?;
        store.locks = vec![(lock_path(path), lock), (journal, journal_lock)];
        match read_document(path)? {
            Parsed::Missing => {}
            Parsed::Good(document) => store.document = document,
            Parsed::Corrupt(reason) => warnings.push(move_aside(path, &reason)?),
        }
        store.replay_journal(true, &mut warnings)?;
        if store.document.stats.since.is_empty() {
            store.document.stats.since = chrono::Utc::now().to_rfc3339();
        }
        Ok((store, warnings))
    }

    /// The state as it is on disk, for dry runs and display: no lock, nothing moved aside or
    /// written. A missing file is an empty state; an unreadable or corrupt one is an error.
    pub fn read_only(path: &Path) -> Result<Self, StateError> {
        let mut store = Self::in_memory();
        match read_document(path)? {
            Parsed::Missing => {}
            Parsed::Good(document) => store.document = document,
            Parsed::Corrupt(reason) => {
                return Err(StateError::Corrupt {
                    path: path.to_owned(),
                    reason,
                });
            }
        }
        store.path = Some(path.to_owned());
        let mut ignored = Vec::new();
        store.replay_journal(false, &mut ignored)?;
        // A read-only store never writes: forget where it came from.
        store.path = None;
        store.dirty = false;
        Ok(store)
    }

    fn replay_journal(
        &mut self,
        writable: bool,
        warnings: &mut Vec<LoadWarning>,
    ) -> Result<(), StateError> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        let journal = journal_path(&path);
        let bytes = match durable::read_capped(&journal, MAX_STATE_BYTES) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(StateError::Unreadable {
                    path: journal,
                    source,
                });
            }
        };
        let (complete, ignored) = self.apply_journal(&bytes);
        if ignored > 0 {
            warnings.push(LoadWarning::JournalLinesIgnored {
                path: journal.clone(),
                lines: ignored,
            });
        }
        let torn = bytes.len() - complete;
        if torn > 0 && writable {
            let write_error = |source| StateError::Write {
                path: journal.clone(),
                source,
            };
            let file = durable::open_existing(&journal).map_err(write_error)?;
            file.set_len(complete as u64).map_err(write_error)?;
            file.sync_all().map_err(write_error)?;
            warnings.push(LoadWarning::JournalTornTail {
                path: journal,
                bytes: torn as u64,
            });
        }
        Ok(())
    }

    /// Applies the complete lines of a journal's text; returns the length of those lines and
    /// how many of them did not read.
    fn apply_journal(&mut self, bytes: &[u8]) -> (usize, usize) {
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let mut ignored = 0;
        for line in bytes
            .get(..complete)
            .unwrap_or_default()
            .split(|&b| b == b'\n')
        {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<JournalEntry>(line) {
                Ok(entry) => {
                    self.apply_entry(entry);
                    self.dirty = true;
                }
                Err(_) => ignored += 1,
            }
        }
        (complete, ignored)
    }

    /// Reads a state file's and a journal's texts as [`Self::open`] would, in memory (for the
    /// fuzz target): the decided files of every task, or why the state file is refused.
    #[doc(hidden)]
    pub fn read_texts(state: &[u8], journal: &[u8]) -> Result<Self, String> {
        let mut store = Self::in_memory();
        match parse_document(Path::new("state.json"), state).map_err(|e| e.to_string())? {
            Parsed::Missing => {}
            Parsed::Good(document) => store.document = document,
            Parsed::Corrupt(reason) => return Err(reason),
        }
        store.apply_journal(journal);
        Ok(store)
    }

    fn apply_entry(&mut self, entry: JournalEntry) {
        let record = self.document.tasks.entry(entry.task).or_default();
        record.decided.extend(entry.files);
        record.decided.extend(entry.decide);
        for index in entry.retract {
            record.decided.remove(&index);
        }
    }

    /// The state file's path, if the store is kept on disk.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// What was decided for a task.
    pub fn decided(&self, task_id: &TaskId) -> Decided {
        self.decided_ref(task_id).clone()
    }

    /// What was decided for a task, without a copy.
    pub fn decided_ref(&self, task_id: &TaskId) -> &Decided {
        static NOTHING: Decided = Decided::new();
        self.document
            .tasks
            .get(task_id.as_str())
            .map_or(&NOTHING, |r| &r.decided)
    }

    /// Whether the state remembers anything of a task.
    pub fn knows(&self, task_id: &TaskId) -> bool {
        self.document.tasks.contains_key(task_id.as_str())
    }

    /// How many tasks the state remembers.
    pub fn task_count(&self) -> usize {
        self.document.tasks.len()
    }

    /// Records decisions durably (journal line + fsync) before returning: called before the
    /// PATCH that carries them is sent.
    pub fn decide(
        &mut self,
        task_id: &TaskId,
        decisions: &[SelectionChange],
    ) -> Result<(), StateError> {
        if decisions.is_empty() {
            return Ok(());
        }
        self.append(JournalEntry {
            task: task_id.as_str().to_owned(),
            decide: decisions.iter().map(|c| (c.index, c.download)).collect(),
            retract: Vec::new(),
            files: Vec::new(),
        })
    }

    /// Withdraws decisions whose PATCH certainly never reached the server, so the next tick
    /// may send them again.
    pub fn retract(&mut self, task_id: &TaskId, indices: &[u64]) -> Result<(), StateError> {
        if indices.is_empty() {
            return Ok(());
        }
        self.append(JournalEntry {
            task: task_id.as_str().to_owned(),
            decide: Vec::new(),
            retract: indices.to_vec(),
            files: Vec::new(),
        })
    }

    /// Writes one journal line and fsyncs it, and only then applies it in memory: a decision
    /// counts once it is on disk. A failed write leaves the store as it was (the task stays
    /// undecided for the next tick) and cuts off whatever part of the line reached the file.
    fn append(&mut self, entry: JournalEntry) -> Result<(), StateError> {
        let Some(path) = self.path.clone() else {
            self.apply_entry(entry);
            self.dirty = true;
            return Ok(());
        };
        let journal = journal_path(&path);
        let error = |source| StateError::Write {
            path: journal.clone(),
            source,
        };
        // Another writer may hold the state now: write nothing (checked again after writing, for
        // one that came in meanwhile).
        self.check_lock()?;
        let mut line = serde_json::to_vec(&entry).map_err(|e| error(e.into()))?;
        line.push(b'\n');
        if self.journal.is_none() {
            self.journal = Some(durable::open_append(&journal).map_err(error)?);
        }
        if let Some(file) = self.journal.as_mut() {
            let before = file.metadata().map_err(error)?.len();
            let failing = self.failing_writes > 0;
            self.failing_writes = self.failing_writes.saturating_sub(1);
            let written = file.write_all(&line).and_then(|()| {
                if failing {
                    // A full disk, as the fsync reports it: the line may already be in the file.
                    Err(std::io::Error::from_raw_os_error(28))
                } else {
                    file.sync_data()
                }
            });
            if let Err(source) = written {
                // A line that may be on disk must not decide files the caller is told were not
                // recorded: cut it off, or drop the handle so the next full write empties it.
                if file
                    .set_len(before)
                    .and_then(|()| file.sync_data())
                    .is_err()
                {
                    self.journal = None;
                }
                self.dirty = true;
                return Err(error(source));
            }
        }
        self.check_lock()?;
        self.apply_entry(entry);
        self.dirty = true;
        Ok(())
    }

    /// Makes the next `count` journal writes fail as on a full disk (`ENOSPC`) after the line
    /// reached the file: tests show what a failed write leaves behind with it.
    #[doc(hidden)]
    pub fn fail_journal_writes(&mut self, count: usize) {
        self.failing_writes = count;
    }

    /// Fails once this writer's lock file is no longer the file its name holds (deleted or
    /// replaced): a second writer could then have taken the new one.
    fn check_lock(&self) -> Result<(), StateError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        for (lock, file) in &self.locks {
            match durable::still_named(file, lock) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(StateError::LockLost {
                        path: path.clone(),
                        lock: lock.clone(),
                    });
                }
                Err(source) => {
                    return Err(StateError::Write {
                        path: lock.clone(),
                        source,
                    });
                }
            }
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
        if first {
            self.document.stats.tasks_refused += 1;
        }
        self.dirty |= first;
        first
    }

    /// Adds files a rule deselected to the cumulative figures.
    pub fn count_deselected(&mut self, rule: &str, files: u64, bytes: u64) {
        let totals = self
            .document
            .stats
            .rules
            .entry(rule.to_owned())
            .or_default();
        totals.files = totals.files.saturating_add(files);
        totals.bytes = totals.bytes.saturating_add(bytes);
        self.dirty = true;
    }

    /// The cumulative figures.
    pub fn stats(&self) -> &Stats {
        &self.document.stats
    }

    /// Opens an operator incident of `kind` unless it is open already; true if it is new.
    pub fn open_incident(&mut self, kind: &str, since: &str) -> bool {
        if self.document.incidents.contains_key(kind) {
            return false;
        }
        self.document
            .incidents
            .insert(kind.to_owned(), since.to_owned());
        self.dirty = true;
        true
    }

    /// Closes every open incident; returns the kinds that were open.
    pub fn close_incidents(&mut self) -> Vec<String> {
        self.close_incidents_except(&[])
    }

    /// Closes every open incident but those of the `kept` kinds, which still hold; returns the
    /// kinds closed.
    pub fn close_incidents_except(&mut self, kept: &[&str]) -> Vec<String> {
        let mut closed = Vec::new();
        self.document.incidents.retain(|kind, _| {
            let keep = kept.contains(&kind.as_str());
            if !keep {
                closed.push(kind.clone());
            }
            keep
        });
        self.dirty |= !closed.is_empty();
        closed
    }

    /// Forgets tasks that complete lists have left out for [`PRUNE_GRACE`] or longer; returns
    /// how many. A task left out is marked with the time (`now`) and kept: a server whose list
    /// is briefly empty, or a task that comes back, never has its files decided again over the
    /// user's choices. A task listed again loses its mark. Call only with a complete,
    /// well-formed list.
    pub fn prune(&mut self, listed: &HashSet<&str>, now: chrono::DateTime<chrono::Utc>) -> usize {
        let now = now.timestamp();
        let grace = i64::try_from(PRUNE_GRACE.as_secs()).unwrap_or(i64::MAX);
        let before = self.document.tasks.len();
        let mut marked = false;
        self.document.tasks.retain(|id, record| {
            if listed.contains(id.as_str()) {
                marked |= record.unlisted_since.take().is_some();
                return true;
            }
            let since = *record.unlisted_since.get_or_insert_with(|| {
                marked = true;
                now
            });
            now.saturating_sub(since) < grace
        });
        let pruned = before - self.document.tasks.len();
        self.dirty |= pruned > 0 || marked;
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
        let error = |path: &Path| {
            let path = path.to_owned();
            move |source| StateError::Write { path, source }
        };
        self.check_lock()?;
        let bytes = serde_json::to_vec(&self.document).map_err(|e| error(&path)(e.into()))?;
        durable::write_atomically_with_mode(&path, &bytes, 0o600).map_err(error(&path))?;
        // The full write holds everything the journal held; empty it.
        let journal = journal_path(&path);
        self.journal = None;
        durable::empty(&journal).map_err(error(&journal))?;
        self.dirty = false;
        Ok(())
    }
}

enum Parsed {
    Missing,
    Good(StateDocument),
    Corrupt(String),
}

fn read_document(path: &Path) -> Result<Parsed, StateError> {
    let bytes = match durable::read_capped(path, MAX_STATE_BYTES) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Parsed::Missing),
        Err(source) => {
            return Err(StateError::Unreadable {
                path: path.to_owned(),
                source,
            });
        }
    };
    parse_document(path, &bytes)
}

fn parse_document(path: &Path, bytes: &[u8]) -> Result<Parsed, StateError> {
    match serde_json::from_slice::<StateDocument>(bytes) {
        Ok(document) if document.version > VERSION => Err(StateError::NewerVersion {
            path: path.to_owned(),
            version: document.version,
        }),
        Ok(document) if document.version == 0 => {
            Ok(Parsed::Corrupt("no format version".to_owned()))
        }
        Ok(mut document) => {
            document.version = VERSION;
            Ok(Parsed::Good(document))
        }
        // Only the position: the content is the user's data, not ours to echo.
        Err(e) => Ok(Parsed::Corrupt(format!(
            "not a state document ({:?} at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        ))),
    }
}

fn take_lock(path: &Path) -> Result<File, StateError> {
    take_lock_on(path, &lock_path(path))
}

/// Locks `lock` (the lock file, or the journal) for the writer of the state file `path`.
fn take_lock_on(path: &Path, lock: &Path) -> Result<File, StateError> {
    let lock = lock.to_owned();
    let write_error = |source| StateError::Write {
        path: lock.clone(),
        source,
    };
    // A lock taken on a file whose name was removed or replaced meanwhile guards nothing: the
    // next writer would lock the new file. Try again on what the name holds now.
    for _ in 0..3 {
        let file = durable::open_lock(&lock).map_err(write_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(StateError::Locked {
                    path: path.to_owned(),
                    lock,
                });
            }
            Err(fs::TryLockError::Error(source)) => return Err(write_error(source)),
        }
        if durable::still_named(&file, &lock).map_err(write_error)? {
            return Ok(file);
        }
    }
    Err(StateError::LockLost {
        path: path.to_owned(),
        lock,
    })
}

fn move_aside(path: &Path, reason: &str) -> Result<LoadWarning, StateError> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let moved_to = beside(path, &format!(".corrupt-{stamp}"));
    fs::rename(path, &moved_to).map_err(|source| StateError::Write {
        path: path.to_owned(),
        source,
    })?;
    Ok(LoadWarning::MovedAside {
        path: path.to_owned(),
        moved_to,
        reason: reason.to_owned(),
    })
}

#[cfg(test)]
mod hostile_tests;

#[cfg(test)]
mod tests;
