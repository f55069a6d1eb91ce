//! `stats`: what the daemon saved its user, from the cumulative totals kept in the state
//! (files and bytes deselected per rule, tasks left alone, since when), as a table or JSON.
//! Pure: the command reads the state and prints what this returns.

use std::fmt::Write as _;

use serde::Serialize;

use crate::rules::ByteSize;
use crate::state::Stats;

/// The version of the `--json` document.
pub const JSON_VERSION: u32 = 1;

#[derive(Serialize)]
struct Document<'a> {
    version: u32,
    accounts: Vec<AccountTotals<'a>>,
}

#[derive(Serialize)]
struct AccountTotals<'a> {
    account: &'a str,
    since: Option<&'a str>,
    rules: Vec<RuleRow<'a>>,
    total: Totals,
    tasks_refused: u64,
}

#[derive(Serialize)]
struct RuleRow<'a> {
    rule: &'a str,
    files: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct Totals {
    files: u64,
    bytes: u64,
}

/// The rules, most bytes first (then by name), and the totals.
fn rows(stats: &Stats) -> (Vec<RuleRow<'_>>, Totals) {
    let mut rows: Vec<RuleRow<'_>> = stats
        .rules
        .iter()
        .map(|(rule, t)| RuleRow {
            rule,
            files: t.files,
            bytes: t.bytes,
        })
        .collect();
    rows.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.rule.cmp(b.rule)));
    let total = rows
        .iter()
        .fold(Totals { files: 0, bytes: 0 }, |t, r| Totals {
            files: t.files.saturating_add(r.files),
            bytes: t.bytes.saturating_add(r.bytes),
        });
    (rows, total)
}

/// The totals as a table, for people, naming the state file they were read from.
pub fn table(stats: &Stats, account: &str, state_file: &std::path::Path) -> String {
    let (rows, total) = rows(stats);
    let since = if stats.since.is_empty() {
        "no tick has been recorded yet".to_owned()
    } else {
        format!("since {}", stats.since)
    };
    let mut out = format!("account {account}, {since}\n");
    if rows.is_empty() {
        out.push_str("nothing deselected yet\n");
    } else {
        let mut lines: Vec<[String; 3]> = vec![["rule".into(), "files".into(), "saved".into()]];
        for row in &rows {
            lines.push([
                row.rule.to_owned(),
                row.files.to_string(),
                ByteSize(row.bytes).to_string(),
            ]);
        }
        lines.push([
            "total".into(),
            total.files.to_string(),
            ByteSize(total.bytes).to_string(),
        ]);
        let width = |col: usize| {
            lines
                .iter()
                .map(|l| l[col].chars().count())
                .max()
                .unwrap_or(0)
        };
        let (w0, w1, w2) = (width(0), width(1), width(2));
        out.push('\n');
        for [rule, files, bytes] in &lines {
            let _ = writeln!(out, "{rule:<w0$}  {files:>w1$}  {bytes:>w2$}");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "tasks left alone because every file matched a skip rule: {}",
        stats.tasks_refused
    );
    let _ = writeln!(out, "read from the state file {}", state_file.display());
    out
}

/// Every account's totals as JSON (version [`JSON_VERSION`]), for machines: exact byte counts.
pub fn json(accounts: &[(&str, &Stats)]) -> String {
    let document = Document {
        version: JSON_VERSION,
        accounts: accounts
            .iter()
            .map(|(account, stats)| {
                let (rules, total) = rows(stats);
                AccountTotals {
                    account,
                    since: (!stats.since.is_empty()).then_some(stats.since.as_str()),
                    rules,
                    total,
                    tasks_refused: stats.tasks_refused,
                }
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}
