//! The gate on the shipped judgement: every torrent of the labelled corpus
//! (`tests/corpus/data/*.txt`, format in `tests/corpus/README.md`) planned with
//! `rules.example.toml` as the package installs it (presets expanded by the real config
//! parser) by the real `plan::plan`, with nothing decided before.
//!
//! It fails on any `want` file deselected, and when the junk caught falls below 97 %. It prints
//! a table per corpus file: `cargo test --test it corpus -- --nocapture` (with
//! `CORPUS_PROFILES=1`, each torrent's profile as well).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cloudreve_autoselect::plan::{self, Decided, FileAction};
use cloudreve_autoselect::task::{
    DownloadState, DownloadStatus, DownloadTask, FilePath, Phase, TaskFile, TaskId, TaskKind,
    TaskStatus,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    Want,
    Junk,
    Either,
}

struct Torrent {
    /// Where it starts: `movies.txt:12`.
    at: String,
    name: String,
    source: String,
    files: Vec<(Label, u64, String)>,
}

/// `123`, `512B`, `1.5KiB`, `700MiB`, `4.37GiB`, `2TB`.
fn parse_size(text: &str) -> Option<u64> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let factor: f64 = match unit {
        "" | "B" => 1.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let number: f64 = number.parse().ok()?;
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "sizes of test data, far below 2^53"
    )]
    Some((number * factor).round() as u64)
}

/// Reads one corpus file; a malformed line fails the test with its place.
fn parse_corpus(path: &Path) -> Vec<Torrent> {
    let text = std::fs::read_to_string(path).unwrap();
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut torrents: Vec<Torrent> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = format!("{file}:{}", n + 1);
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("== ") {
            torrents.push(Torrent {
                at,
                name: name.trim().to_owned(),
                source: String::new(),
                files: Vec::new(),
            });
            continue;
        }
        let torrent = torrents
            .last_mut()
            .unwrap_or_else(|| panic!("{at}: a line before the first `== <torrent>`"));
        if let Some(source) = line.strip_prefix("source ") {
            assert!(torrent.files.is_empty(), "{at}: `source` after the files");
            source.trim().clone_into(&mut torrent.source);
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        let (Some(label), Some(size), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            panic!("{at}: expected `<label> <size> <path>`, got {line:?}");
        };
        let label = match label {
            "want" => Label::Want,
            "junk" => Label::Junk,
            "either" => Label::Either,
            other => panic!("{at}: unknown label {other:?}"),
        };
        let size = parse_size(size).unwrap_or_else(|| panic!("{at}: bad size {size:?}"));
        assert!(!path.is_empty(), "{at}: empty path");
        torrent.files.push((label, size, path.to_owned()));
    }
    for torrent in &torrents {
        assert!(
            !torrent.files.is_empty(),
            "{}: a torrent without files",
            torrent.at
        );
    }
    torrents
}

/// The task as Cloudreve lists it for aria2: indices 1-based, every file selected.
fn as_task(n: usize, torrent: &Torrent) -> DownloadTask {
    DownloadTask {
        id: TaskId::new(format!("corpus-{n}")),
        kind: TaskKind::RemoteDownload,
        status: TaskStatus::Processing,
        phase: Phase::Monitor,
        source: torrent.source.clone(),
        download: Some(DownloadStatus {
            name: torrent.name.clone(),
            state: DownloadState::Downloading,
            files: Some(
                torrent
                    .files
                    .iter()
                    .enumerate()
                    .map(|(i, (_, size, path))| TaskFile {
                        index: i as u64 + 1,
                        path: FilePath::new(path),
                        size: *size,
                        selected: true,
                    })
                    .collect(),
            ),
        }),
    }
}

#[derive(Default)]
struct Tally {
    torrents: usize,
    want: usize,
    want_lost: usize,
    junk: usize,
    junk_caught: usize,
    either: usize,
    either_touched: usize,
    /// How many torrents the profile gave each kind.
    kinds: BTreeMap<&'static str, usize>,
}

impl Tally {
    fn add(&mut self, other: &Self) {
        self.torrents += other.torrents;
        self.want += other.want;
        self.want_lost += other.want_lost;
        self.junk += other.junk;
        self.junk_caught += other.junk_caught;
        self.either += other.either;
        self.either_touched += other.either_touched;
        for (kind, n) in &other.kinds {
            *self.kinds.entry(kind).or_default() += n;
        }
    }

    /// `video 30, archive 2`.
    fn kinds(&self) -> String {
        let kinds: Vec<String> = self.kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        kinds.join(", ")
    }
}

fn corpus_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/data");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    files
}

/// The table per corpus file and the totals.
fn render(tallies: &BTreeMap<String, Tally>) -> (String, Tally) {
    let mut total = Tally::default();
    let mut table = String::from(
        "| corpus | torrents | wanted lost | junk caught | either touched | profiled as |\n|---|---:|---:|---:|---:|---|\n",
    );
    for (kind, tally) in tallies {
        total.add(tally);
        let _ = writeln!(
            table,
            "| {kind} | {} | {} / {} | {} / {} | {} / {} | {} |",
            tally.torrents,
            tally.want_lost,
            tally.want,
            tally.junk_caught,
            tally.junk,
            tally.either_touched,
            tally.either,
            tally.kinds()
        );
    }
    let _ = writeln!(
        table,
        "| **all** | {} | {} / {} | {} / {} ({}.{} %) | {} / {} | {} |",
        total.torrents,
        total.want_lost,
        total.want,
        total.junk_caught,
        total.junk,
        total.junk_caught * 1000 / total.junk.max(1) / 10,
        total.junk_caught * 1000 / total.junk.max(1) % 10,
        total.either_touched,
        total.either,
        total.kinds()
    );
    (table, total)
}

#[test]
fn the_shipped_rules_lose_no_wanted_file_of_the_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("rules.example.toml")).unwrap();
    let config =
        cloudreve_autoselect::config::parse(&text, Path::new("rules.example.toml"), &|_| None)
            .unwrap();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut lost = Vec::new();
    let mut missed = Vec::new();
    let mut touched = Vec::new();
    let mut n = 0;
    // CORPUS_PROFILES=1: each torrent's profile too.
    let show_profiles = std::env::var_os("CORPUS_PROFILES").is_some();
    for path in corpus_files() {
        let kind = path.file_stem().unwrap().to_string_lossy().into_owned();
        let tally = tallies.entry(kind).or_default();
        for torrent in parse_corpus(&path) {
            n += 1;
            let plan = plan::plan(&as_task(n, &torrent), &config.rules, &Decided::new());
            tally.torrents += 1;
            *tally.kinds.entry(plan.profile.kind().as_str()).or_default() += 1;
            if show_profiles {
                println!("{} {:?}: {}", torrent.at, torrent.name, plan.profile);
            }
            for ((label, _, path), decision) in torrent.files.iter().zip(&plan.files) {
                let deselected = decision.action == FileAction::Send(false);
                let rule = decision.verdict.rule().map_or("-", |r| r.as_str());
                match label {
                    Label::Want => {
                        tally.want += 1;
                        if deselected {
                            tally.want_lost += 1;
                            lost.push(format!(
                                "{} {:?}: {path} deselected by {rule} ({})",
                                torrent.at, torrent.name, plan.profile
                            ));
                        }
                    }
                    Label::Junk => {
                        tally.junk += 1;
                        if deselected {
                            tally.junk_caught += 1;
                        } else {
                            missed.push(format!("{}: {path} ({rule})", torrent.at));
                        }
                    }
                    Label::Either => {
                        tally.either += 1;
                        tally.either_touched += usize::from(deselected);
                        if deselected {
                            touched.push(format!("{}: {path} ({rule})", torrent.at));
                        }
                    }
                }
            }
        }
    }
    let (table, total) = render(&tallies);
    println!("{table}");
    for line in &missed {
        println!("junk kept: {line}");
    }
    for line in &touched {
        println!("either deselected: {line}");
    }
    assert!(
        total.torrents >= 100 && total.junk > 0,
        "the corpus is missing:\n{table}"
    );
    assert!(
        lost.is_empty(),
        "{} wanted files deselected:\n{}\n{table}",
        lost.len(),
        lost.join("\n")
    );
    // At least 97 % of the junk caught: junk_caught / junk >= 97 / 100.
    assert!(
        total.junk_caught * 100 >= total.junk * 97,
        "junk caught below 97 %:\n{table}"
    );
}

#[test]
fn corpus_sizes_read_as_the_format_says() {
    assert_eq!(parse_size("123"), Some(123));
    assert_eq!(parse_size("512B"), Some(512));
    assert_eq!(parse_size("1.5KiB"), Some(1536));
    assert_eq!(parse_size("2TB"), Some(2_000_000_000_000));
    assert_eq!(parse_size("700MiB"), Some(700 * 1024 * 1024));
    assert_eq!(parse_size("4 GiB"), None);
    assert_eq!(parse_size("3 pounds"), None);
}
