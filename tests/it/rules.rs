//! The richer rule language end to end: each feature through a real tick against the emulator,
//! and each lint through `check`.

use cloudreve_emulator::{Backend, TaskSpec};

use crate::support::{self, patches};

const MIB: u64 = 1 << 20;

/// Runs one tick with `rules` over one task and returns the PATCH body as (index, download).
async fn deselected_by(rules: &str, spec: TaskSpec) -> Vec<(u64, bool)> {
    let emu = support::emulator().await;
    let id = emu.add_task(spec);
    let dir = tempfile::tempdir().unwrap();
    let daemon = support::daemon_with(
        &emu,
        &support::state_file(&dir),
        support::settings(rules, false),
    );
    let report = daemon.tick().await;
    assert!(report.succeeded(), "{report:?}");
    patches(&emu)
        .into_iter()
        .filter(|(task, _)| *task == id)
        .flat_map(|(_, files)| files)
        .collect()
}

fn movie(backend: Backend) -> TaskSpec {
    TaskSpec::new(
        backend,
        "Big.Movie.2024",
        &[
            ("Big.Movie.2024/Big.Movie.2024.mkv", 8000 * MIB),
            ("Big.Movie.2024/Featurette.mkv", 300 * MIB),
            ("Big.Movie.2024/Sample.mkv", 40 * MIB),
            ("Big.Movie.2024/poster.jpg", MIB),
            ("Big.Movie.2024/Big.Movie.2024.mkv.exe", 2 * MIB),
            ("Big.Movie.2024/README", 2000),
            ("Big.Movie.2024/subs.srt", 50_000),
        ],
    )
}

#[tokio::test]
async fn max_share_catches_small_files_without_naming_them() {
    let rules = "[[rule]]\nname = \"small-share\"\naction = \"skip\"\nmax_share = \"1%\"\n";
    // Total is about 8.2 GiB; 1% is about 84 MiB: the sample and everything smaller.
    assert_eq!(
        deselected_by(rules, movie(Backend::Aria2)).await,
        [(3, false), (4, false), (5, false), (6, false), (7, false)]
    );
}

#[tokio::test]
async fn keep_largest_keeps_just_the_movie() {
    let rules = "[[rule]]\nname = \"just-the-movie\"\naction = \"skip\"\nglob = \"*.mkv\"\nkeep_largest = 1\n";
    assert_eq!(
        deselected_by(rules, movie(Backend::Qbittorrent)).await,
        [(1, false), (2, false)]
    );
}

#[tokio::test]
async fn regex_rules_match_the_path() {
    let rules = "[[rule]]\nname = \"samples\"\naction = \"skip\"\nregex = '(^|/)(sample|featurette)[^/]*\\.mkv$'\n";
    assert_eq!(
        deselected_by(rules, movie(Backend::Aria2)).await,
        [(2, false), (3, false)]
    );
}

#[tokio::test]
async fn extensionless_and_double_extension_conditions() {
    let rules = "[[rule]]\nname = \"disguised\"\naction = \"skip\"\ndouble_extension = true\n\n[[rule]]\nname = \"no-extension\"\naction = \"skip\"\nextensionless = true\n";
    assert_eq!(
        deselected_by(rules, movie(Backend::Aria2)).await,
        [(5, false), (6, false)]
    );
}

#[tokio::test]
async fn source_scopes_a_rule_to_magnets() {
    let rules = "[[rule]]\nname = \"magnet-posters\"\naction = \"skip\"\nglob = \"*.jpg\"\nsource = \"magnet:*\"\n";
    assert_eq!(
        deselected_by(rules, movie(Backend::Aria2)).await,
        [(4, false)]
    );
    let mut from_tracker = movie(Backend::Aria2);
    from_tracker.source = "https://tracker.example/download/123.torrent".into();
    assert!(deselected_by(rules, from_tracker).await.is_empty());
}

#[tokio::test]
async fn only_keeps_the_listed_kinds_and_leaves_other_tasks_alone() {
    let rules =
        "[[rule]]\nname = \"videos-and-subs\"\naction = \"only\"\nglob = [\"*.mkv\", \"*.srt\"]\n";
    assert_eq!(
        deselected_by(rules, movie(Backend::Aria2)).await,
        [(4, false), (5, false), (6, false)]
    );
    let album = TaskSpec::new(
        Backend::Aria2,
        "Album",
        &[("Album/01.flac", 30 * MIB), ("Album/cover.jpg", MIB)],
    );
    assert!(
        deselected_by(rules, album).await.is_empty(),
        "no file matches: the task is left alone"
    );
}

#[tokio::test]
async fn on_all_junk_keep_largest_keeps_one_file_alive() {
    let rules = "[safety]\non_all_junk = \"keep_largest\"\n\n[[rule]]\nname = \"junk\"\naction = \"skip\"\nglob = [\"*.exe\", \"*.txt\"]\n";
    let emu = support::emulator().await;
    let id = emu.add_task(support::all_junk(Backend::Qbittorrent));
    let dir = tempfile::tempdir().unwrap();
    let daemon = support::daemon_with(
        &emu,
        &support::state_file(&dir),
        support::settings(rules, false),
    );
    daemon.tick().await;
    assert_eq!(
        patches(&emu),
        [(id.clone(), vec![(1, false)])],
        "setup.exe, the largest, stays"
    );
    emu.poll();
    let (status, _) = emu.status(&id).unwrap();
    assert_ne!(status, "error");
}

async fn check(rules: &str, lint: bool) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    std::fs::write(
        &path,
        support::config_text("https://cloud.example.com", rules),
    )
    .unwrap();
    let mut args = vec!["--config", path.to_str().unwrap(), "check"];
    if lint {
        args.push("--lint");
    }
    let output = tokio::process::Command::new(support::binary())
        .args(&args)
        .envs(support::CHECK_ENV.iter().copied())
        .output()
        .await
        .unwrap();
    let stderr =
        String::from_utf8_lossy(&output.stderr).replace(path.to_str().unwrap(), "rules.toml");
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr,
    )
}

#[tokio::test]
async fn each_lint_is_reported_and_fails_check_lint() {
    let cases = [
        (
            "glob = \"**/Sample/\"",
            "rule[0].glob: never matches: paths name files, not folders",
        ),
        (
            "glob = \"Sample/*\"",
            "matches only a folder \"Sample\" at the top of the torrent",
        ),
        ("glob = '.*\\.exe'", "looks like a regular expression"),
        (
            "glob = \"*.nfo\"\ntask = \"Some Show\"",
            "matches only a task named exactly \"Some Show\"",
        ),
    ];
    for (condition, message) in cases {
        let rules = format!("[[rule]]\nname = \"r\"\naction = \"skip\"\n{condition}\n");
        let (code, stdout, stderr) = check(&rules, false).await;
        assert_eq!(code, 0, "plain check passes: {stderr}");
        assert!(stdout.contains("1 warning(s)"), "{stdout}");
        assert!(
            stderr.contains("warning: rules.toml:") && stderr.contains(message),
            "{condition}: {stderr}"
        );
        let (code, _, _) = check(&rules, true).await;
        assert_eq!(code, 1, "check --lint fails on {condition}");
    }
}

#[tokio::test]
async fn a_shadowed_rule_is_reported() {
    let rules = "[[rule]]\nname = \"junk\"\naction = \"skip\"\nglob = [\"*.exe\", \"*.txt\"]\n\n[[rule]]\nname = \"exe\"\naction = \"keep\"\nglob = \"*.exe\"\nmax_size = \"1 MiB\"\n\n[[rule]]\nname = \"txt-in-anime\"\naction = \"keep\"\nglob = \"*.txt\"\ntask = \"*Anime*\"\n\n[[rule]]\nname = \"nfo\"\naction = \"skip\"\nglob = \"*.nfo\"\n";
    let (code, _, stderr) = check(rules, true).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("rules.toml:11:8: rule[1]: this rule never decides a file: rule[0] (\"junk\") comes first"), "{stderr}");
    assert!(
        stderr.contains("rule[2]: this rule never decides a file"),
        "{stderr}"
    );
    assert!(!stderr.contains("rule[3]:"), "{stderr}");
    // min_size above max_size is not a warning but an error.
    let (code, _, stderr) = check(
        "[[rule]]\nname = \"r\"\naction = \"skip\"\nmin_share = \"5%\"\nmax_share = \"1%\"\n",
        false,
    )
    .await;
    assert_eq!(code, 78);
    assert!(
        stderr.contains("max_share (1%) is below min_share (5%)"),
        "{stderr}"
    );
}

#[tokio::test]
async fn new_keys_are_validated_with_locations() {
    let rules = "[safety]\non_all_junk = \"delete\"\n\n[[rule]]\nname = \"r\"\naction = \"keep\"\nglob = \"*.mkv\"\nregex = \"(unclosed\"\nkeep_largest = 1\nmax_share = \"2\"\n";
    let (code, _, stderr) = check(rules, false).await;
    assert_eq!(code, 78);
    for needle in [
        "safety.on_all_junk: expected \"leave\"",
        "rule[0].regex: invalid regex",
        "rule[0].regex: a rule has either `glob` or `regex`, not both",
        "rule[0].keep_largest: keep_largest works with action = \"skip\"",
        "rule[0].max_share: invalid share: a share ends with %",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in\n{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_a_live_task_by_id() {
    let emu = support::emulator().await;
    let id = emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    let state = dir.path().join("state.json");
    std::fs::write(
        &path,
        support::config_text(
            &emu.base_url(),
            &format!(
                "[daemon]\nstate_file = \"{}\"\n{}",
                state.display(),
                support::RULES
            ),
        ),
    )
    .unwrap();
    let output = tokio::process::Command::new(support::binary())
        .args(["--config", path.to_str().unwrap(), "explain", &id])
        .env("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("PATCH /api/v4/workflow/download/{id} ")),
        "{stdout}"
    );
    assert!(stdout.contains("skip     samples"), "{stdout}");
    // The task's profile, and why, above the table.
    assert!(
        stdout.contains("\nprofile: kind video: video 9"),
        "{stdout}"
    );
    assert!(patches(&emu).is_empty(), "explain sends nothing");
    let output = tokio::process::Command::new(support::binary())
        .args(["--config", path.to_str().unwrap(), "explain", "nope"])
        .env("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("task nope is not among the 1 ongoing downloads")
    );
}
