//! `healthcheck`: is the daemon alive and doing its job? It reads the heartbeat file the daemon
//! rewrites after every tick (beside the state file): unhealthy when it is older than the
//! allowed age, or when the last tick failed for a reason only a person can fix
//! (`needs-operator`: sign-in refused, refresh token rejected, state not writable).

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Schedule;

/// The default allowed age: three of the schedule's longest gaps plus five minutes, so that an
/// hourly schedule is not always unhealthy and a missed tick or two is tolerated.
pub fn default_max_age(schedule: &Schedule, now: DateTime<Utc>) -> Duration {
    schedule
        .longest_gap(now)
        .saturating_mul(3)
        .saturating_add(Duration::from_secs(300))
}

/// Checks the heartbeat at `path`. `Ok` and `Err` both carry a one-line reason.
pub fn check(path: &Path, max_age: Duration, now: DateTime<Utc>) -> Result<String, String> {
    // The daemon's own small file: never through a link, and never more than a line's worth.
    let text = match crate::durable::read_capped(path, 4096) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "unhealthy: no heartbeat file {}; the service (`run`) has not finished a tick yet. `once` writes no heartbeat: a one-shot deployment (a cron job, a systemd timer) is checked by `once`'s exit status (0: every eligible task was handled) or by the timer unit's result",
                path.display()
            ));
        }
        Err(e) => return Err(format!("unhealthy: cannot read {}: {e}", path.display())),
    };
    let (stamp, outcome) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
    let Ok(finished) = DateTime::parse_from_rfc3339(stamp) else {
        return Err(format!(
            "unhealthy: heartbeat file {} is unreadable: {stamp:?}",
            path.display()
        ));
    };
    if let Some(reason) = outcome.strip_prefix("needs-operator: ") {
        return Err(format!(
            "unhealthy: the last tick needs an operator: {reason}"
        ));
    }
    let age = now.signed_duration_since(finished.with_timezone(&Utc));
    let age_secs = age.num_seconds().max(0);
    let max_secs = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
    if age_secs > max_secs {
        Err(format!(
            "unhealthy: last tick finished {age_secs}s ago, more than the allowed {max_secs}s ({outcome})"
        ))
    } else {
        Ok(format!(
            "healthy: last tick finished {age_secs}s ago ({outcome})"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_stale_and_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json.heartbeat");
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:10:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(
            check(&path, Duration::from_secs(60), now)
                .unwrap_err()
                .contains("no heartbeat")
        );
        std::fs::write(&path, "2026-01-01T00:09:30+00:00 ok\n").unwrap();
        assert!(
            check(&path, Duration::from_secs(60), now)
                .unwrap()
                .contains("30s ago (ok)")
        );
        assert!(
            check(&path, Duration::from_secs(10), now)
                .unwrap_err()
                .contains("more than")
        );
        std::fs::write(&path, "garbage").unwrap();
        assert!(check(&path, Duration::from_secs(60), now).is_err());
    }

    #[test]
    fn default_max_age_follows_the_schedule() {
        let now = Utc::now();
        let every_30s = Schedule::parse("*/30 * * * * *").unwrap();
        assert_eq!(default_max_age(&every_30s, now), Duration::from_secs(390));
        let hourly = Schedule::parse("0 0 * * * *").unwrap();
        assert_eq!(
            default_max_age(&hourly, now),
            Duration::from_secs(3 * 3600 + 300)
        );
    }
}
