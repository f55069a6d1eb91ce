//! The heartbeat file: one line per tick with a status word, for health checks.

use std::path::PathBuf;

use crate::report::TickReport;

/// The heartbeat file that sits beside a state file.
pub fn heartbeat_path(state_file: &std::path::Path) -> PathBuf {
    let mut name = state_file.as_os_str().to_owned();
    name.push(".heartbeat");
    PathBuf::from(name)
}

/// The heartbeat's status word: `ok`, `warning` (all went well, but something needs attention
/// soon: an OAuth token near its expiry), `degraded` (the server or a task failed; the daemon
/// tries again by itself) or `needs-operator` (only a person can fix it).
pub fn heartbeat_line(report: &TickReport, now: chrono::DateTime<chrono::Utc>) -> String {
    let (status, detail) = if let Some(reason) = report.needs_operator() {
        ("needs-operator", reason)
    } else if let Some(e) = &report.error {
        ("degraded", e.to_string())
    } else if report.failed() > 0 {
        ("degraded", format!("{} task(s) failed", report.failed()))
    } else if !report.warnings.is_empty() {
        ("warning", report.warnings.join("; "))
    } else {
        ("ok", report.summary())
    };
    // One line, whatever the messages hold.
    let detail = detail.replace(['\n', '\r'], " ");
    format!("{} {status}: {detail}\n", now.to_rfc3339())
}
