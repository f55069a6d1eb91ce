//! `healthcheck`: is the daemon alive? It reads the heartbeat file the daemon rewrites after
//! every tick (beside the state file) and compares its time with the allowed age.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Checks the heartbeat at `path`. `Ok` and `Err` both carry a one-line reason.
pub fn check(path: &Path, max_age: Duration, now: DateTime<Utc>) -> Result<String, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "unhealthy: no heartbeat file {}; the daemon has not finished a tick yet",
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
}
