//! What the daemon does when Cloudreve refuses a task's PATCH (it answered that nothing was done:
//! 50005, a proxy's 502 or 503): the decisions are withdrawn and the PATCH is sent again. The
//! first retry comes at the next tick, since a refusal is usually a hiccup; repeated refusals of
//! the same task back off; after [`GIVE_UP_AFTER`] refusals spread over at least
//! [`GIVE_UP_SPAN`], the daemon gives up on the task (its files stay undecided) and opens an
//! incident, until an operator runs `forget`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::cloudreve::PatchError;
use crate::escape::Escaped;
use crate::outcome::TaskResult;
use crate::plan::Plan;
use crate::state::{PatchRefusals, StateStore};

/// Refusals in a row after which the daemon gives up on a task...
pub(super) const GIVE_UP_AFTER: u32 = 5;
/// ...if they span at least this long (a burst of refusals within a minute is one hiccup).
pub(super) const GIVE_UP_SPAN: Duration = Duration::from_secs(10 * 60);
/// The longest wait between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(10 * 60);

/// Whether a task's PATCH may be sent now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Attempt {
    /// Send it.
    Send,
    /// Wait: Cloudreve refused it `count` times in a row; the next attempt is due at `due`.
    Wait {
        /// Refusals in a row.
        count: u32,
        /// When the next attempt is due.
        due: DateTime<Utc>,
    },
    /// The daemon gave up on this task after `count` refusals.
    GaveUp {
        /// Refusals in a row.
        count: u32,
    },
}

/// The wait after `count` refusals in a row: none after the first, then 30 s doubling up to
/// [`MAX_DELAY`].
pub(super) fn delay_after(count: u32) -> Duration {
    if count <= 1 {
        return Duration::ZERO;
    }
    let doublings = (count - 2).min(16);
    Duration::from_secs(30)
        .saturating_mul(1 << doublings)
        .min(MAX_DELAY)
}

fn parse(at: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Whether a PATCH with these refusals behind it may be sent at `now`.
pub(super) fn attempt(refusals: Option<&PatchRefusals>, now: DateTime<Utc>) -> Attempt {
    let Some(refusals) = refusals else {
        return Attempt::Send;
    };
    if refusals.gave_up {
        return Attempt::GaveUp {
            count: refusals.count,
        };
    }
    // An unreadable time (a hand-edited file) waits nothing rather than forever.
    let Some(last) = parse(&refusals.last) else {
        return Attempt::Send;
    };
    let due = last + delay_after(refusals.count);
    if now < due {
        Attempt::Wait {
            count: refusals.count,
            due,
        }
    } else {
        Attempt::Send
    }
}

/// Whether the daemon gives up after this refusal.
pub(super) fn gives_up(refusals: &PatchRefusals) -> bool {
    let span = match (parse(&refusals.first), parse(&refusals.last)) {
        (Some(first), Some(last)) => (last - first).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    };
    refusals.count >= GIVE_UP_AFTER && span >= GIVE_UP_SPAN
}

/// The result of a task whose PATCH must not be sent now (back-off, or given up), if so.
pub(super) fn backoff(plan: &Plan, state: &StateStore, now: DateTime<Utc>) -> Option<TaskResult> {
    match attempt(state.patch_refusals(&plan.task_id), now) {
        Attempt::Send => None,
        Attempt::Wait { count, due } => {
            tracing::info!(task = %Escaped(&plan.task_name), refusals = count, due = %due.to_rfc3339(), "Cloudreve refused this task's PATCH; waiting before the next attempt");
            Some(TaskResult::Retry {
                error: format!(
                    "Cloudreve refused this task's PATCH {count} time(s) in a row; the next attempt is due at {}",
                    due.to_rfc3339()
                ),
            })
        }
        Attempt::GaveUp { count } => {
            tracing::warn!(task = %Escaped(&plan.task_name), refusals = count, "Cloudreve refused every PATCH of this task; nothing is sent until `forget`");
            Some(TaskResult::GaveUp {
                error: gave_up_message(count, &plan.task_id),
            })
        }
    }
}

fn gave_up_message(count: u32, task_id: &crate::task::TaskId) -> String {
    format!(
        "Cloudreve refused this task's PATCH {count} times in a row (nothing was applied); its files stay undecided and nothing more is sent: check the task and its downloader, then run `cloudreve-autoselect forget {task_id}`"
    )
}

/// A PATCH that was certainly not applied: its decisions are withdrawn (so a later tick sends
/// them again) and, if Cloudreve refused it, the refusal is counted for the back-off.
pub(super) fn withdraw(
    plan: &Plan,
    state: &mut StateStore,
    indices: &[u64],
    error: &PatchError,
    now: DateTime<Utc>,
) -> TaskResult {
    if let Err(state_error) = state.retract(&plan.task_id, indices) {
        tracing::error!(task = %Escaped(&plan.task_name), %error, %state_error, "the PATCH was not applied and could not be withdrawn from the state; these files stay decided and are not sent again");
        return TaskResult::Retry {
            error: error.to_string(),
        };
    }
    if error.delivery == crate::cloudreve::Delivery::NotSent {
        tracing::warn!(task = %Escaped(&plan.task_name), %error, "could not reach Cloudreve for the PATCH; nothing was sent, the next tick tries again");
        return TaskResult::Retry {
            error: error.to_string(),
        };
    }
    let refusals = state.record_patch_refusal(&plan.task_id, &now.to_rfc3339());
    if gives_up(&refusals) {
        state.give_up_patching(&plan.task_id);
        tracing::error!(task = %Escaped(&plan.task_name), %error, refusals = refusals.count, "Cloudreve refused this task's PATCH too often; giving up on it until `forget`");
        return TaskResult::GaveUp {
            error: format!(
                "{}; last answer: {error}",
                gave_up_message(refusals.count, &plan.task_id)
            ),
        };
    }
    tracing::warn!(task = %Escaped(&plan.task_name), %error, refusals = refusals.count, "Cloudreve refused the PATCH; nothing was applied, so its files stay undecided and it is sent again");
    TaskResult::Retry {
        error: format!(
            "Cloudreve refused the PATCH, nothing was applied; it is sent again: {error}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusals(count: u32, first: &str, last: &str) -> PatchRefusals {
        PatchRefusals {
            count,
            first: first.to_owned(),
            last: last.to_owned(),
            gave_up: false,
        }
    }

    #[test]
    fn the_first_retry_is_at_once_and_later_ones_back_off() {
        let at = |s: &str| parse(s).unwrap();
        let one = refusals(1, "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
        assert_eq!(
            attempt(Some(&one), at("2026-01-01T00:00:01Z")),
            Attempt::Send
        );
        let three = refusals(3, "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z");
        assert_eq!(
            attempt(Some(&three), at("2026-01-01T00:01:30Z")),
            Attempt::Wait {
                count: 3,
                due: at("2026-01-01T00:02:00Z")
            }
        );
        assert_eq!(
            attempt(Some(&three), at("2026-01-01T00:02:00Z")),
            Attempt::Send
        );
        assert_eq!(delay_after(40), MAX_DELAY);
    }

    #[test]
    fn the_daemon_gives_up_only_after_enough_refusals_over_enough_time() {
        assert!(!gives_up(&refusals(
            9,
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:05:00Z"
        )));
        assert!(!gives_up(&refusals(
            4,
            "2026-01-01T00:00:00Z",
            "2026-01-01T01:00:00Z"
        )));
        assert!(gives_up(&refusals(
            5,
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:10:00Z"
        )));
    }
}
