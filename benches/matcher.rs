//! Matcher benchmark: 100,000 file paths against 20 and 500 rules, the real matcher (one look-up
//! per set, each match target with its own) beside a naive baseline (each glob compiled alone
//! and tried in turn, as a loop over rules would), in the same run; and 20 rules with and
//! without a 1,000-line shared list (Cleanuparr's format) added as a 21st rule.
//!
//! Run with `cargo bench --bench matcher`.

// Benchmark code: a failed unwrap is a broken fixture, reported with its message.
#![allow(clippy::unwrap_used, missing_docs)]

use std::fmt::Write as _;
use std::hint::black_box;

use cloudreve_autoselect::rules::{
    Action, MatchScratch, OnAllJunk, RuleSet, RuleSpec, blocklist, compile_glob, is_path_glob,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use globset::GlobMatcher;

/// Deterministic file paths shaped like torrent contents.
fn paths(n: usize) -> Vec<String> {
    const EXTENSIONS: [&str; 10] = [
        "mkv", "mp4", "srt", "nfo", "txt", "jpg", "exe", "url", "flac", "iso",
    ];
    (0..n)
        .map(|i| {
            let depth = i % 4;
            let mut path = format!("Release.{}.2024", i % 97);
            for level in 0..depth {
                let _ = write!(path, "/Folder{}", (i / (level + 1)) % 13);
            }
            let _ = write!(path, "/file.{i}.{}", EXTENSIONS[i % EXTENSIONS.len()]);
            path
        })
        .collect()
}

/// `n` rules of two globs each: a mix of extension, name and path globs.
fn patterns(n: usize) -> Vec<Vec<String>> {
    (0..n)
        .map(|i| match i % 4 {
            0 => vec![format!("*.ext{i}"), format!("*.x{i}")],
            1 => vec![format!("**/Sample{i}/**"), format!("*sample{i}*.mkv")],
            2 => vec![format!("Release.{i}.*/*.nfo"), format!("junk{i}_*")],
            _ => vec![format!("*.{{a{i},b{i}}}"), format!("**/Extras{i}/*")],
        })
        .collect()
}

fn rule_set(patterns: &[Vec<String>]) -> RuleSet {
    let specs = patterns
        .iter()
        .enumerate()
        .map(|(i, globs)| RuleSpec {
            globs: globs
                .iter()
                .map(|g| compile_glob(g, false).unwrap())
                .collect(),
            ..RuleSpec::new(&format!("rule{i}"), Action::Skip)
        })
        .collect();
    RuleSet::new(specs, OnAllJunk::Leave).unwrap()
}

/// The baseline: every glob its own matcher, tried rule by rule.
fn naive(patterns: &[Vec<String>]) -> Vec<Vec<(bool, GlobMatcher)>> {
    patterns
        .iter()
        .map(|globs| {
            globs
                .iter()
                .map(|g| {
                    (
                        is_path_glob(g),
                        compile_glob(g, false).unwrap().compile_matcher(),
                    )
                })
                .collect()
        })
        .collect()
}

fn naive_first_match(rules: &[Vec<(bool, GlobMatcher)>], path: &str) -> Option<usize> {
    let base = path.rsplit('/').next().unwrap_or(path);
    rules.iter().position(|globs| {
        globs.iter().any(|(is_path, m)| {
            if *is_path {
                m.is_match(path)
            } else {
                m.is_match(base)
            }
        })
    })
}

/// A 1,000-line list written for this benchmark: mostly extensions, as shared lists are, with
/// prefixes, substrings, exact names, regexes, comments and blank lines.
fn list_text() -> String {
    let mut text = String::from("# benchmark list\n");
    for i in 0..1000 {
        let _ = match i % 20 {
            0 => writeln!(text, "junk{i}*"),
            1 => writeln!(text, "*keygen{i}*"),
            2 => writeln!(text, "readme{i}.txt"),
            3 => writeln!(text, "regex:^promo{i}[0-9]+\\.(exe|url)$"),
            4 => writeln!(text),
            _ => writeln!(text, "*.ext{i}"),
        };
    }
    text
}

fn bench_list(c: &mut Criterion, files: &[String]) {
    let patterns = patterns(20);
    let without = rule_set(&patterns);
    let compiled = blocklist::compile(&list_text(), false);
    assert!(compiled.problems.is_empty(), "{:?}", compiled.problems);
    let mut specs: Vec<RuleSpec> = (0..20)
        .map(|i| RuleSpec {
            globs: patterns[i]
                .iter()
                .map(|g| compile_glob(g, false).unwrap())
                .collect(),
            ..RuleSpec::new(&format!("rule{i}"), Action::Skip)
        })
        .collect();
    specs.push(RuleSpec {
        from_list: true,
        list_folded: compiled.folded,
        list_patterns: compiled.pattern_count(),
        list_globs: compiled.globs,
        list_regexes: compiled.regexes,
        ..RuleSpec::new("list", Action::Skip)
    });
    let with = RuleSet::new(specs, OnAllJunk::Leave).unwrap();
    let mut group = c.benchmark_group("match_100k_paths_20_rules_and_a_1000_line_list");
    group.sample_size(10);
    group.throughput(Throughput::Elements(files.len() as u64));
    for (name, rules) in [("without_list", &without), ("with_list", &with)] {
        let scope = rules.scope("Release", "magnet:?xt=urn:btih:00", 1 << 40);
        let mut scratch = MatchScratch::default();
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut matched = 0usize;
                for path in files {
                    matched += usize::from(
                        rules
                            .first_match(&scope, black_box(path), 1, &mut scratch)
                            .is_some(),
                    );
                }
                matched
            });
        });
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    let files = paths(100_000);
    bench_list(c, &files);
    for n_rules in [20, 500] {
        let patterns = patterns(n_rules);
        let rules = rule_set(&patterns);
        let baseline = naive(&patterns);
        // Both must agree on every file before they are timed.
        let scope = rules.scope("Release", "magnet:?xt=urn:btih:00", 1 << 40);
        let mut scratch = MatchScratch::default();
        for path in &files {
            assert_eq!(
                rules.first_match(&scope, path, 1, &mut scratch),
                naive_first_match(&baseline, path),
                "{path}"
            );
        }
        let mut group = c.benchmark_group(format!("match_100k_paths_{n_rules}_rules"));
        group.sample_size(10);
        group.throughput(Throughput::Elements(files.len() as u64));
        group.bench_function("globset", |b| {
            b.iter(|| {
                let mut matched = 0usize;
                for path in &files {
                    matched += usize::from(
                        rules
                            .first_match(&scope, black_box(path), 1, &mut scratch)
                            .is_some(),
                    );
                }
                matched
            });
        });
        group.bench_function("naive_one_glob_at_a_time", |b| {
            b.iter(|| {
                let mut matched = 0usize;
                for path in &files {
                    matched += usize::from(naive_first_match(&baseline, black_box(path)).is_some());
                }
                matched
            });
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
