//! `daemon.schedule`: a cron pattern checked exactly as tokio-cron-scheduler parses it
//! (seconds first, evaluated in UTC), with the fire times `check`, the health check and the
//! metadata re-check back-off need.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// A validated cron schedule (seconds first, evaluated in UTC).
#[derive(Debug, Clone)]
pub struct Schedule {
    pattern: String,
    cron: croner::Cron,
}

impl Schedule {
    /// Parses a schedule exactly as tokio-cron-scheduler's `Job::new_async` does.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(pattern)
            .map_err(|e| {
                let detail = e.to_string();
                let detail = detail.strip_prefix("Invalid pattern: ").unwrap_or(&detail);
                format!(
                    "invalid cron schedule: {}; the format is seconds-first with 6 or 7 fields, e.g. \"*/30 * * * * *\" (every 30 seconds), evaluated in UTC",
                    detail.trim_end_matches('.').to_lowercase()
                )
            })?;
        Ok(Self {
            pattern: pattern.to_owned(),
            cron,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// The next `n` fire times strictly after `after`.
    pub fn next_runs(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        self.cron.clone().iter_after(after).take(n).collect()
    }

    /// The typical time between two fires: the shortest gap among the next few fires after
    /// `after` (a schedule such as "0 0 9,17 * * *" has uneven gaps; the shortest is what
    /// rate limits care about). One hour if the schedule never fires.
    pub fn interval(&self, after: DateTime<Utc>) -> Duration {
        self.next_runs(after, 6)
            .windows(2)
            .filter_map(|pair| match pair {
                [a, b] => (*b - *a).to_std().ok(),
                _ => None,
            })
            .min()
            .unwrap_or(Duration::from_secs(3600))
    }

    /// The longest time between two fires among the next few after `after`: what a health
    /// check must allow. One hour if the schedule never fires.
    pub fn longest_gap(&self, after: DateTime<Utc>) -> Duration {
        self.next_runs(after, 8)
            .windows(2)
            .filter_map(|pair| match pair {
                [a, b] => (*b - *a).to_std().ok(),
                _ => None,
            })
            .max()
            .unwrap_or(Duration::from_secs(3600))
    }
}
