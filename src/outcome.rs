//! What a tick did, as plain data: one [`TaskOutcome`] per task it looked at and the
//! [`OperatorEvent`]s an operator must hear about. The tick builds this list and nothing else;
//! its log summary, the heartbeat, `once`'s exit status, the notifier, the metrics and `stats`
//! all read it, so none of them reaches into the tick's code (vector's one event stream,
//! many sinks).

use crate::task::TaskId;

/// One file a PATCH changed (or, in a dry run, would change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    /// The server's file index.
    pub index: u64,
    /// Path inside the torrent.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// The rule that decided it.
    pub rule: String,
    /// `false`: deselected; `true`: selected.
    pub download: bool,
}

/// What happened to one task in a tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskResult {
    /// The PATCH was answered with success (or, in a dry run, would be sent).
    Changed {
        /// The files it changed.
        files: Vec<ChangedFile>,
    },
    /// Nothing had to be sent (files the rules decide were recorded if they were new).
    NoChange,
    /// The rules would deselect every file; nothing is sent. `first_time` is true the first
    /// tick this task is refused.
    Refused {
        /// First refusal of this task.
        first_time: bool,
        /// How many files the task has.
        files: usize,
    },
    /// A magnet still fetching its metadata: no real file list yet.
    WaitingForMetadata,
    /// The task may not be changed now (queued, seeding, transferring, not a torrent, ...).
    Ineligible {
        /// Why.
        reason: String,
    },
    /// The PATCH was answered with Cloudreve's "task not found" (404): it finished or left
    /// the monitor phase between the list and the PATCH. Not a failure.
    Finished,
    /// The PATCH was certainly not applied (it never reached the server, or Cloudreve answered
    /// that it did nothing), or waits out the back-off after such answers: its decisions were
    /// withdrawn and a later tick tries again.
    Retry {
        /// The error.
        error: String,
    },
    /// The PATCH may or may not have been applied (timeout, reset, HTTP 500 or 504, an answer
    /// that is not Cloudreve's envelope): its files count as decided and are never sent again.
    Uncertain {
        /// The files that may not have been applied.
        files: Vec<ChangedFile>,
        /// The error.
        error: String,
    },
    /// Cloudreve refused this task's PATCH too often: its files stay undecided and nothing is
    /// sent until an operator runs `forget`.
    GaveUp {
        /// Why.
        error: String,
    },
    /// The decisions could not be written ahead, so nothing was sent.
    StateNotWritable {
        /// The error.
        error: String,
    },
}

impl TaskResult {
    /// A short label, stable for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Changed { .. } => "changed",
            Self::NoChange => "no_change",
            Self::Refused { .. } => "refused",
            Self::WaitingForMetadata => "waiting_for_metadata",
            Self::Ineligible { .. } => "ineligible",
            Self::Finished => "finished",
            Self::Retry { .. } => "retry",
            Self::Uncertain { .. } => "uncertain",
            Self::GaveUp { .. } => "gave_up",
            Self::StateNotWritable { .. } => "state_not_writable",
        }
    }

    /// Whether this result makes the tick a failure (`once` exits 1).
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Self::Retry { .. }
                | Self::Uncertain { .. }
                | Self::GaveUp { .. }
                | Self::StateNotWritable { .. }
        )
    }
}

/// One task in a tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOutcome {
    /// The task.
    pub task_id: TaskId,
    /// Its (torrent's) name.
    pub task_name: String,
    /// What happened.
    pub result: TaskResult,
}

impl TaskOutcome {
    /// Bytes this task's change deselected.
    pub fn bytes_deselected(&self) -> u64 {
        match &self.result {
            TaskResult::Changed { files } => files
                .iter()
                .filter(|f| !f.download)
                .fold(0u64, |sum, f| sum.saturating_add(f.size)),
            _ => 0,
        }
    }
}

/// Something only a person can fix, or the end of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorEvent {
    /// Cloudreve refused to sign the daemon in (wrong password, 2FA, captcha, ...).
    SignInRefused {
        /// What to fix.
        message: String,
    },
    /// The configured refresh token was rejected.
    TokenRejected {
        /// What to fix.
        message: String,
    },
    /// The OAuth token expires within a week.
    TokenExpiring {
        /// What to do.
        message: String,
    },
    /// The state file could not be written.
    StateNotWritable {
        /// What failed.
        message: String,
    },
    /// Cloudreve refused a task's PATCH too often; the daemon gave up on it.
    PatchRefused {
        /// What happened and what to do.
        message: String,
    },
    /// Every open incident cleared with this tick.
    Recovered {
        /// The incident kinds that were open.
        kinds: Vec<String>,
    },
}

impl OperatorEvent {
    /// The incident kind, stable for state, notifications and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SignInRefused { .. } => "sign_in_refused",
            Self::TokenRejected { .. } => "token_rejected",
            Self::TokenExpiring { .. } => "token_expiring",
            Self::StateNotWritable { .. } => "state_not_writable",
            Self::PatchRefused { .. } => "patch_refused",
            Self::Recovered { .. } => "recovered",
        }
    }

    /// The message for people.
    pub fn message(&self) -> String {
        match self {
            Self::SignInRefused { message }
            | Self::TokenRejected { message }
            | Self::TokenExpiring { message }
            | Self::StateNotWritable { message }
            | Self::PatchRefused { message } => message.clone(),
            Self::Recovered { kinds } => format!("recovered from {}", kinds.join(", ")),
        }
    }
}
