//! Unit tests of `plan`.

use super::*;
use crate::rules::{RuleSpec, Share, compile_glob};
use crate::task::{DownloadState, DownloadStatus, Phase, TaskFile, TaskKind, TaskStatus};
use proptest::prelude::*;

use super::plan as plan_fn;

fn skip(name: &str, globs: &[&str]) -> RuleSpec {
    RuleSpec {
        globs: globs
            .iter()
            .map(|g| compile_glob(g, false).unwrap())
            .collect(),
        ..RuleSpec::new(name, Action::Skip)
    }
}

fn keep(name: &str, globs: &[&str]) -> RuleSpec {
    RuleSpec {
        action: Action::Keep,
        ..skip(name, globs)
    }
}

fn task(files: &[(u64, &str, u64, bool)]) -> DownloadTask {
    DownloadTask {
        id: TaskId::new("kku7"),
        kind: TaskKind::RemoteDownload,
        status: TaskStatus::Processing,
        phase: Phase::Monitor,
        source: "magnet:?xt=urn:btih:0123".into(),
        download: Some(DownloadStatus {
            name: "Some.Show.S01".into(),
            state: DownloadState::Downloading,
            files: Some(
                files
                    .iter()
                    .map(|&(index, path, size, selected)| TaskFile {
                        index,
                        path: path.into(),
                        size,
                        selected,
                    })
                    .collect(),
            ),
        }),
    }
}

fn sample_task() -> DownloadTask {
    task(&[
        (1, "Some.Show.S01/E01.mkv", 1_503_238_553, true),
        (2, "Some.Show.S01/E02.mkv", 1_497_366_528, true),
        (3, "Some.Show.S01/Sample/sample.mkv", 52_428_800, true),
        (4, "Some.Show.S01/RARBG.txt", 31, true),
        (5, "Some.Show.S01/www.ads.example.url", 120, false),
    ])
}

fn deselect(index: u64) -> SelectionChange {
    SelectionChange {
        index,
        download: false,
    }
}

fn rules(specs: Vec<RuleSpec>) -> RuleSet {
    RuleSet::new(specs, OnAllJunk::Leave).unwrap()
}

fn only(name: &str, globs: &[&str]) -> RuleSpec {
    RuleSpec {
        action: Action::Only,
        ..skip(name, globs)
    }
}

fn apply(task: &mut DownloadTask, changes: &[SelectionChange]) {
    let files = task.download.as_mut().unwrap().files.as_mut().unwrap();
    for change in changes {
        for file in files.iter_mut().filter(|f| f.index == change.index) {
            file.selected = change.download;
        }
    }
}

#[test]
fn deselects_junk_and_names_the_rule() {
    let rules = rules(vec![
        skip("junk", &["*.txt", "*.url"]),
        skip("samples", &["**/Sample/**"]),
    ]);
    let plan = plan(&sample_task(), &rules, &Decided::new());
    assert_eq!(
        plan.resolution,
        Resolution::Apply(vec![deselect(3), deselect(4),])
    );
    assert_eq!(
        plan.files[2].verdict,
        Verdict::Skip(RuleName::new("samples"))
    );
    assert_eq!(plan.files[3].verdict, Verdict::Skip(RuleName::new("junk")));
    // Already deselected: decided by the rule, but nothing to send.
    assert_eq!(plan.files[4].verdict, Verdict::Skip(RuleName::new("junk")));
    assert_eq!(plan.files[4].action, FileAction::AlreadyAsWanted);
    assert_eq!(
        crate::cloudreve::patch_body(plan.changes().unwrap()),
        r#"{"files":[{"index":3,"download":false},{"index":4,"download":false}]}"#
    );
}

#[test]
fn keep_rule_selects_and_protects_from_later_rules() {
    let rules = rules(vec![
        keep("ads-ok", &["*.url"]),
        skip("junk", &["*.url", "*.txt"]),
    ]);
    let plan = plan(&sample_task(), &rules, &Decided::new());
    assert_eq!(
        plan.changes().unwrap(),
        &[
            deselect(4),
            SelectionChange {
                index: 5,
                download: true
            },
        ]
    );
    assert_eq!(
        crate::cloudreve::patch_body(plan.changes().unwrap()),
        r#"{"files":[{"index":4,"download":false},{"index":5,"download":true}]}"#
    );
}

#[test]
fn decided_files_are_never_sent_again() {
    let rules = rules(vec![skip("junk", &["*.txt"])]);
    // The list lags: file 4 still shows selected, but the daemon sent `false` before.
    let decided = Decided::from([(4, false)]);
    let plan = plan(&sample_task(), &rules, &decided);
    assert_eq!(plan.resolution, Resolution::NoChange);
    assert_eq!(plan.files[3].action, FileAction::DecidedBefore);
}

#[test]
fn a_kept_file_the_user_unticks_stays_unticked() {
    // Rules keep *.srt, skip *.nfo. First sight: the nfo is deselected and the srt, already
    // selected, is decided as kept although nothing is sent for it.
    let rules = rules(vec![keep("subs", &["*.srt"]), skip("nfo", &["*.nfo"])]);
    let mut task = task(&[
        (1, "M/movie.mkv", 9_000, true),
        (2, "M/subs.srt", 10, true),
        (3, "M/info.nfo", 5, true),
    ]);
    let first = plan(&task, &rules, &Decided::new());
    assert_eq!(first.changes().unwrap(), &[deselect(3)]);
    assert_eq!(first.files[1].action, FileAction::AlreadyAsWanted);
    let decided: Decided = first
        .decisions()
        .iter()
        .map(|c| (c.index, c.download))
        .collect();
    assert_eq!(decided, Decided::from([(2, true), (3, false)]));
    apply(&mut task, first.changes().unwrap());
    // The user unticks the subtitles in the web UI.
    apply(
        &mut task,
        &[SelectionChange {
            index: 2,
            download: false,
        }],
    );
    let second = plan(&task, &rules, &decided);
    assert_eq!(second.resolution, Resolution::NoChange);
    assert_eq!(second.files[1].action, FileAction::DecidedBefore);
    assert!(second.decisions().is_empty());
}

#[test]
fn only_rule_decisions_are_kept_when_the_user_drops_an_episode() {
    let rules = rules(vec![only("videos", &["*.mkv"])]);
    let mut task = task(&[
        (0, "S/e1.mkv", 900, true),
        (1, "S/e2.mkv", 900, true),
        (2, "S/readme.txt", 1, true),
    ]);
    let first = plan(&task, &rules, &Decided::new());
    assert_eq!(first.changes().unwrap(), &[deselect(2)]);
    let decided: Decided = first
        .decisions()
        .iter()
        .map(|c| (c.index, c.download))
        .collect();
    assert_eq!(decided.len(), 3);
    apply(&mut task, first.changes().unwrap());
    apply(&mut task, &[deselect(1)]);
    assert_eq!(
        plan(&task, &rules, &decided).resolution,
        Resolution::NoChange
    );
}

#[test]
fn a_refused_plan_decides_nothing() {
    let rules = rules(vec![skip("everything", &["*"])]);
    let plan = plan(&sample_task(), &rules, &Decided::new());
    assert!(matches!(plan.resolution, Resolution::Refused(_)));
    assert!(plan.decisions().is_empty());
}

#[test]
fn refuses_to_deselect_every_file() {
    let rules = rules(vec![skip("everything", &["*"])]);
    let plan = plan(&sample_task(), &rules, &Decided::new());
    assert_eq!(
        plan.resolution,
        Resolution::Refused(Refusal::AllDeselected { files: 5 })
    );
    assert!(plan.changes().is_none());
    assert!(
        plan.render(crate::cloudreve::draw_patch)
            .contains("refused")
    );
}

#[test]
fn refusal_counts_earlier_deselections_even_if_list_lags() {
    // Files 1..=2 were deselected by the daemon earlier; the list still shows them selected.
    let rules = rules(vec![skip("mkv", &["E0*.mkv"]), skip("rest", &["*"])]);
    let decided = Decided::from([(1, false), (2, false)]);
    let plan = plan(&sample_task(), &rules, &decided);
    assert!(matches!(plan.resolution, Resolution::Refused(_)));
}

#[test]
fn ineligible_tasks_get_no_plan() {
    let mut queued = sample_task();
    queued.status = TaskStatus::Queued;
    let rules = rules(vec![skip("junk", &["*.txt"])]);
    assert!(matches!(
        plan(&queued, &rules, &Decided::new()).resolution,
        Resolution::Ineligible(Ineligible::Status(TaskStatus::Queued))
    ));
    let mut transfer = sample_task();
    transfer.phase = Phase::Transfer;
    assert!(matches!(
        plan(&transfer, &rules, &Decided::new()).resolution,
        Resolution::Ineligible(Ineligible::Phase(Phase::Transfer))
    ));
    let metadata = task(&[(1, "METADATA]Some.Show.S01", 0, true)]);
    assert!(matches!(
        plan(&metadata, &rules, &Decided::new()).resolution,
        Resolution::Ineligible(Ineligible::MetadataPending)
    ));
}

#[test]
fn keep_largest_keeps_the_n_largest_matches() {
    let task = task(&[
        (1, "M/movie.mkv", 9_000, true),
        (2, "M/extra.mkv", 2_000, true),
        (3, "M/other.mkv", 2_000, true),
        (4, "M/info.nfo", 10, true),
    ]);
    let just_the_movie = RuleSpec {
        keep_largest: Some(1),
        ..skip("main-file", &["*.mkv"])
    };
    let plan = plan(&task, &rules(vec![just_the_movie]), &Decided::new());
    assert_eq!(
        plan.files[0].verdict,
        Verdict::Keep(RuleName::new("main-file"))
    );
    assert_eq!(plan.changes().unwrap(), &[deselect(2), deselect(3)]);
    assert_eq!(plan.files[3].verdict, Verdict::Untouched);
}

#[test]
fn only_keeps_matches_and_skips_the_rest_but_never_an_unmatched_task() {
    let rules = rules(vec![
        skip("samples", &["**/Sample/**"]),
        only("videos", &["*.mkv"]),
    ]);
    let plan = plan(&sample_task(), &rules, &Decided::new());
    assert_eq!(
        plan.files[0].verdict,
        Verdict::Keep(RuleName::new("videos"))
    );
    assert_eq!(
        plan.files[2].verdict,
        Verdict::Skip(RuleName::new("samples"))
    );
    assert_eq!(
        plan.files[3].verdict,
        Verdict::Skip(RuleName::new("videos"))
    );
    assert_eq!(plan.changes().unwrap(), &[deselect(3), deselect(4)]);
    let no_video = task(&[(1, "A/a.flac", 10, true), (2, "A/b.txt", 1, true)]);
    assert_eq!(
        plan_fn(&no_video, &rules, &Decided::new()).resolution,
        Resolution::NoChange
    );
}

#[test]
fn on_all_junk_keep_largest_keeps_one_file() {
    let all = RuleSet::new(vec![skip("everything", &["*"])], OnAllJunk::KeepLargest).unwrap();
    let plan = plan(&sample_task(), &all, &Decided::new());
    assert_eq!(
        plan.files[0].verdict,
        Verdict::Keep(RuleName::new(SAFETY_RULE))
    );
    assert_eq!(
        plan.changes().unwrap(),
        &[deselect(2), deselect(3), deselect(4),]
    );
}

#[test]
fn qbittorrent_zero_based_indices_are_used_verbatim() {
    let task = task(&[(0, "S/a.mkv", 100, true), (1, "S/a.txt", 1, true)]);
    let plan = plan(
        &task,
        &rules(vec![skip("junk", &["*.txt"])]),
        &Decided::new(),
    );
    assert_eq!(plan.changes().unwrap(), &[deselect(1)]);
}

#[test]
fn render_is_stable() {
    let rules = rules(vec![skip("junk", &["*.txt", "*.url"])]);
    let rendered =
        plan(&sample_task(), &rules, &Decided::new()).render(crate::cloudreve::draw_patch);
    let expected = "\
task kku7 \"Some.Show.S01\" (5 files)
index  selected  verdict  rule  change         size  path
    1  yes       -        -     -           1.4 GiB  Some.Show.S01/E01.mkv
    2  yes       -        -     -           1.4 GiB  Some.Show.S01/E02.mkv
    3  yes       -        -     -          50.0 MiB  Some.Show.S01/Sample/sample.mkv
    4  yes       skip     junk  deselect       31 B  Some.Show.S01/RARBG.txt
    5  no        skip     junk  as wanted     120 B  Some.Show.S01/www.ads.example.url
PATCH /api/v4/workflow/download/kku7 {\"files\":[{\"index\":4,\"download\":false}]}
";
    assert_eq!(rendered, expected);
}

#[test]
fn render_sizes_columns_to_their_contents() {
    let rules = rules(vec![
        skip("disguised-executables", &["*.mkv.exe"]),
        skip("junk", &["*.txt"]),
    ]);
    let task = task(&[
        (1, "Some.Show.S01/E01.mkv", 1_503_238_553, true),
        (2, "Some.Show.S01/E01.mkv.exe", 1_200, true),
        (10, "Some.Show.S01/RARBG.txt", 31, true),
    ]);
    let rendered = plan(&task, &rules, &Decided::new()).render(crate::cloudreve::draw_patch);
    let expected = "\
task kku7 \"Some.Show.S01\" (3 files)
index  selected  verdict  rule                   change       size  path
    1  yes       -        -                      -         1.4 GiB  Some.Show.S01/E01.mkv
    2  yes       skip     disguised-executables  deselect  1.2 KiB  Some.Show.S01/E01.mkv.exe
   10  yes       skip     junk                   deselect     31 B  Some.Show.S01/RARBG.txt
PATCH /api/v4/workflow/download/kku7 {\"files\":[{\"index\":2,\"download\":false},{\"index\":10,\"download\":false}]}
";
    assert_eq!(rendered, expected);
}

// Property tests over random file lists and rule sets.

const NAMES: &[&str] = &["a.mkv", "b.txt", "c.exe", "Sample/d.mkv", "e.nfo", "f.srt"];
const GLOBS: &[&str] = &[
    "*.mkv",
    "*.txt",
    "*.exe",
    "**/Sample/**",
    "*.nfo",
    "*",
    "*.srt",
];

fn arb_task() -> impl Strategy<Value = DownloadTask> {
    (
        0u64..2,
        prop::collection::vec((0..NAMES.len(), 0u64..2000, any::<bool>()), 1..12),
    )
        .prop_map(|(base, files)| {
            let files: Vec<(u64, String, u64, bool)> = files
                .into_iter()
                .enumerate()
                .map(|(pos, (name, size, selected))| {
                    (
                        pos as u64 + base,
                        format!("T/{pos}/{}", NAMES[name]),
                        size,
                        selected,
                    )
                })
                .collect();
            let refs: Vec<(u64, &str, u64, bool)> = files
                .iter()
                .map(|(i, p, s, sel)| (*i, p.as_str(), *s, *sel))
                .collect();
            task(&refs)
        })
}

/// Random rule sets using every kind of condition and action, and either safety policy.
fn arb_rules() -> impl Strategy<Value = RuleSet> {
    let rule = (
        0u8..3,
        prop::collection::vec(0..GLOBS.len(), 0..3),
        prop::option::of(0u64..2000),
        prop::option::of(0u64..60),
        prop::option::of(1usize..3),
    );
    (prop::collection::vec(rule, 1..6), any::<bool>()).prop_map(|(specs, safety)| {
        let specs = specs
            .into_iter()
            .enumerate()
            .map(|(n, (kind, globs, max, max_share, keep_largest))| {
                let globs: Vec<&str> = globs.into_iter().map(|g| GLOBS[g]).collect();
                let name = format!("r{n}");
                let mut spec = match kind {
                    0 => keep(&name, &globs),
                    1 => only(&name, &globs),
                    _ => RuleSpec {
                        keep_largest,
                        ..skip(&name, &globs)
                    },
                };
                spec.max_size = max.map(ByteSize);
                spec.max_share = max_share.map(|p| Share::parse(&format!("{p}%")).unwrap());
                spec
            })
            .collect();
        RuleSet::new(
            specs,
            if safety {
                OnAllJunk::KeepLargest
            } else {
                OnAllJunk::Leave
            },
        )
        .unwrap()
    })
}

fn arb_decided() -> impl Strategy<Value = Decided> {
    prop::collection::btree_map(0u64..13, any::<bool>(), 0..4)
}

proptest! {
    #[test]
    fn never_deselects_every_file(task in arb_task(), rules in arb_rules(), decided in arb_decided()) {
        let plan = plan(&task, &rules, &decided);
        if let Some(changes) = plan.changes() {
            // The worst case the list can hide: every file the daemon ever wanted deselected
            // really is deselected (the list lags and the user re-selected nothing).
            let mut truth = task.clone();
            let forced: Vec<SelectionChange> = decided
                .iter()
                .filter(|&(_, &wanted)| !wanted)
                .map(|(&index, _)| deselect(index))
                .collect();
            apply(&mut truth, &forced);
            apply(&mut truth, changes);
            let files = truth.download.unwrap().files.unwrap();
            prop_assert!(files.iter().any(|f| f.selected), "plan {:?} leaves nothing selected", plan);
        }
    }

    /// Any sequence of ticks (some seeing a lagging list), user changes in the web UI and
    /// restarts: no file is ever sent twice, and no user change made after the daemon
    /// decided a file is ever reverted.
    #[test]
    fn the_users_hand_wins_over_any_sequence(
        task in arb_task(),
        rules in arb_rules(),
        steps in prop::collection::vec((0u8..4, 0usize..12, any::<bool>()), 1..24),
    ) {
        let mut server = task.clone();
        let mut lagging = task.clone();
        // What is durable: the decisions recorded before each PATCH (write-ahead).
        let mut journal: Vec<SelectionChange> = Vec::new();
        let mut decided = Decided::new();
        let mut decided_at: BTreeMap<u64, usize> = BTreeMap::new();
        let mut sent: Vec<(usize, u64)> = Vec::new();
        let mut user: Vec<(usize, u64, bool)> = Vec::new();
        let indices: Vec<u64> = task.download.as_ref().unwrap().files.as_ref().unwrap().iter().map(|f| f.index).collect();
        for (step, (kind, pick, value)) in steps.into_iter().enumerate() {
            match kind {
                // A tick, on the current or on the lagging list.
                0 | 1 => {
                    let seen = if kind == 0 { server.clone() } else { lagging.clone() };
                    let plan = plan(&seen, &rules, &decided);
                    // The model: a file is decided at the first tick whose plan (not
                    // refused) had a rule's verdict on it.
                    if !matches!(plan.resolution, Resolution::Refused(_)) {
                        for f in plan.files.iter().filter(|f| f.verdict != Verdict::Untouched) {
                            decided_at.entry(f.index).or_insert(step);
                        }
                    }
                    for d in plan.decisions() {
                        journal.push(d);
                        decided.insert(d.index, d.download);
                    }
                    lagging = server.clone();
                    if let Some(changes) = plan.changes() {
                        for c in changes {
                            sent.push((step, c.index));
                        }
                        apply(&mut server, changes);
                    }
                }
                // The user changes one file in the web UI.
                2 => {
                    let index = indices[pick % indices.len()];
                    lagging = server.clone();
                    apply(&mut server, &[SelectionChange { index, download: value }]);
                    user.push((step, index, value));
                }
                // A restart: the daemon's memory is rebuilt from what is durable.
                _ => {
                    decided = journal.iter().map(|c| (c.index, c.download)).collect();
                }
            }
        }
        let mut once = std::collections::BTreeSet::new();
        for (_, index) in &sent {
            prop_assert!(once.insert(*index), "file {} sent twice: {:?}", index, sent);
        }
        for &(at, index, _) in &user {
            if decided_at.get(&index).is_some_and(|&d| d < at) {
                prop_assert!(
                    !sent.iter().any(|&(s, i)| i == index && s > at),
                    "user change to file {} at step {} was overridden: sent {:?}", index, at, sent
                );
            }
        }
        // The server ends with each such file as the user last left it.
        let files = server.download.as_ref().unwrap().files.as_ref().unwrap();
        for f in files {
            if let Some(&(at, _, value)) = user.iter().rev().find(|u| u.1 == f.index)
                && decided_at.get(&f.index).is_some_and(|&d| d < at)
            {
                prop_assert_eq!(f.selected, value, "file {} does not show the user's choice", f.index);
            }
        }
    }

    #[test]
    fn idempotent(task in arb_task(), rules in arb_rules(), decided in arb_decided()) {
        let first = plan(&task, &rules, &decided);
        let mut after = task.clone();
        let mut decided_after = decided.clone();
        if let Some(changes) = first.changes() {
            apply(&mut after, changes);
            for change in changes {
                decided_after.insert(change.index, change.download);
            }
        }
        prop_assert_eq!(plan(&after, &rules, &decided_after).resolution.clone(), if matches!(first.resolution, Resolution::Refused(_)) { first.resolution.clone() } else { Resolution::NoChange });
        // Even without recording the decisions, the applied state needs nothing more.
        if first.changes().is_some() {
            prop_assert!(plan(&after, &rules, &decided).changes().is_none());
        }
    }

    #[test]
    fn deterministic(task in arb_task(), rules in arb_rules(), decided in arb_decided()) {
        prop_assert_eq!(plan(&task, &rules, &decided), plan(&task, &rules, &decided));
    }

    #[test]
    fn indices_only_from_input(task in arb_task(), rules in arb_rules(), decided in arb_decided()) {
        let plan = plan(&task, &rules, &decided);
        let indices: Vec<u64> = task.download.as_ref().unwrap().files.as_ref().unwrap().iter().map(|f| f.index).collect();
        for change in plan.changes().unwrap_or_default() {
            prop_assert!(indices.contains(&change.index));
            prop_assert!(!decided.contains_key(&change.index));
        }
    }
}
