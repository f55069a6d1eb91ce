//! The user's hand always wins: every file is decided once, decisions are written ahead of the
//! PATCH, one writer owns the state, doubtful lists never make the daemon forget, and a task
//! that finished is not a failure. Each test fails on a daemon without the fix it names.

use std::time::{Duration, Instant};

use cloudreve_autoselect::cloudreve::{Client, Delivery};
use cloudreve_autoselect::daemon::{Daemon, heartbeat_line};
use cloudreve_autoselect::outcome::TaskResult;
use cloudreve_autoselect::state::StateStore;
use cloudreve_autoselect::task::{SelectionChange, TaskId};
use cloudreve_emulator::{Backend, Fault, Route, TaskSpec};

use crate::support::{self, patches};

const KEEP_SUBS_SKIP_NFO: &str = r#"
[[rule]]
name = "subs"
action = "keep"
glob = "*.srt"

[[rule]]
name = "nfo"
action = "skip"
glob = "*.nfo"
"#;

fn movie(backend: Backend) -> TaskSpec {
    TaskSpec::new(
        backend,
        "Movie.2024",
        &[
            ("Movie.2024/movie.mkv", 4_000_000_000),
            ("Movie.2024/subs.srt", 80_000),
            ("Movie.2024/info.nfo", 2_000),
        ],
    )
}

fn daemon(emu: &cloudreve_emulator::Emulator, dir: &tempfile::TempDir, rules: &str) -> Daemon {
    support::daemon_with(
        emu,
        &support::state_file(dir),
        support::settings(rules, false),
    )
}

#[tokio::test]
async fn a_kept_file_the_user_unticks_is_not_selected_again() {
    let emu = support::emulator().await;
    let id = emu.add_task(movie(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon(&emu, &dir, KEEP_SUBS_SKIP_NFO);
    assert_eq!(daemon.tick().await.patched(), 1);
    assert_eq!(patches(&emu), vec![(id.clone(), vec![(3, false)])]);
    // The user unticks the subtitles in the web UI.
    emu.user_select(&id, 2, false);
    emu.poll();
    let report = daemon.tick().await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(patches(&emu).len(), 1, "{:?}", patches(&emu));
    // And after a restart too.
    drop(daemon);
    let daemon = self::daemon(&emu, &dir, KEEP_SUBS_SKIP_NFO);
    daemon.tick().await;
    assert_eq!(patches(&emu).len(), 1, "{:?}", patches(&emu));
    assert!(!support::selected(&emu, &id).contains(&(2, true)));
}

#[tokio::test]
async fn an_episode_the_user_drops_under_an_only_rule_stays_dropped() {
    let emu = support::emulator().await;
    let id = emu.add_task(TaskSpec::new(
        Backend::Qbittorrent,
        "Show.S01",
        &[
            ("Show.S01/E01.mkv", 900_000_000),
            ("Show.S01/E02.mkv", 900_000_000),
            ("Show.S01/readme.txt", 100),
        ],
    ));
    let dir = tempfile::tempdir().unwrap();
    let only_videos = "[[rule]]\nname = \"videos\"\naction = \"only\"\nglob = \"*.mkv\"\n";
    let daemon = daemon(&emu, &dir, only_videos);
    daemon.tick().await;
    assert_eq!(patches(&emu), vec![(id.clone(), vec![(2, false)])]);
    // The user drops episode 2 to save quota.
    emu.user_select(&id, 1, false);
    emu.poll();
    daemon.tick().await;
    assert_eq!(patches(&emu).len(), 1, "{:?}", patches(&emu));
}

#[tokio::test]
async fn a_patch_applied_after_the_client_timed_out_is_never_repeated() {
    let emu = support::emulator().await;
    let id = emu.add_task(movie(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let state = support::state_file(&dir);
    let mut options = support::client_options(&emu);
    options.timeout = Duration::from_secs(2);
    let (store, _) = StateStore::open(&state).unwrap();
    let daemon = Daemon::new(
        Client::new(options.clone()).unwrap(),
        support::settings(KEEP_SUBS_SKIP_NFO, false),
        store,
        None,
    );
    // The server applies the PATCH but answers after 4 s.
    emu.inject(
        Route::Patch,
        Fault::ApplyThenDelay(Duration::from_secs(4)),
        1,
    );
    let report = daemon.tick().await;
    assert!(!report.succeeded());
    match &report.tasks[0].result {
        TaskResult::Uncertain { files, .. } => {
            assert_eq!(files.iter().map(|f| f.index).collect::<Vec<_>>(), vec![3]);
        }
        other => panic!("expected an uncertain PATCH, got {other:?}"),
    }
    assert!(emu.files(&id).iter().any(|f| f.index == 3 && !f.selected));
    // The user re-selects the file; a restarted daemon (`once` again) sends nothing.
    emu.user_select(&id, 3, true);
    emu.poll();
    drop(daemon);
    let (store, _) = StateStore::open(&state).unwrap();
    let daemon = Daemon::new(
        Client::new(options).unwrap(),
        support::settings(KEEP_SUBS_SKIP_NFO, false),
        store,
        None,
    );
    let report = daemon.tick().await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(patches(&emu).len(), 1);
    assert!(emu.files(&id).iter().any(|f| f.index == 3 && f.selected));
}

#[tokio::test]
async fn a_patch_that_never_left_is_not_decided_and_is_sent_later() {
    // Nothing listens on port 9 of 127.0.0.1: the connection is refused before any byte left.
    let emu = support::emulator().await;
    let mut options = support::client_options(&emu);
    options.api_base = url::Url::parse("http://127.0.0.1:9/api/v4/").unwrap();
    options.retries = 0;
    let client = Client::new(options).unwrap();
    let error = client
        .set_selection(
            &TaskId::new("a"),
            &[SelectionChange {
                index: 1,
                download: false,
            }],
        )
        .await
        .unwrap_err();
    assert_eq!(error.delivery, Delivery::NotSent, "{error}");
    // Against a server that times out instead, the outcome is unknown.
    let emu_client = support::client(&emu);
    let id = emu.add_task(movie(Backend::Aria2));
    emu.inject(Route::Patch, Fault::Delay(Duration::from_secs(8)), 1);
    let error = emu_client
        .set_selection(
            &TaskId::new(&id),
            &[SelectionChange {
                index: 3,
                download: false,
            }],
        )
        .await
        .unwrap_err();
    assert_eq!(error.delivery, Delivery::Unknown, "{error}");
}

#[tokio::test]
async fn a_list_without_data_forgets_nothing() {
    let emu = support::emulator().await;
    let id = emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let daemon = support::daemon(&emu, &support::state_file(&dir));
    assert_eq!(daemon.tick().await.patched(), 1);
    let before = std::fs::read(support::state_file(&dir)).unwrap();
    for body in [
        r#"{"code":0,"msg":"","data":null}"#,
        r#"{"code":0,"msg":""}"#,
        r#"{"code":0,"msg":"","data":{"tasks":null}}"#,
    ] {
        emu.inject(Route::List, Fault::Body(body.to_owned()), 1);
        let report = daemon.tick().await;
        assert!(report.error.is_some(), "{body}: {report:?}");
        assert_eq!(report.pruned, 0);
        assert_eq!(
            std::fs::read(support::state_file(&dir)).unwrap(),
            before,
            "{body}"
        );
    }
    // The user re-selects a file the daemon deselected: the next tick sends nothing.
    emu.user_select(&id, 4, true);
    emu.poll();
    let report = daemon.tick().await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(patches(&emu).len(), 1);
}

#[tokio::test]
async fn a_failed_list_ends_the_tick_without_touching_state() {
    let emu = support::emulator().await;
    let id = emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let daemon = support::daemon(&emu, &support::state_file(&dir));
    assert_eq!(daemon.tick().await.patched(), 1);
    let before = std::fs::read(support::state_file(&dir)).unwrap();
    emu.inject(Route::List, Fault::Http500, 10);
    let report = daemon.tick().await;
    assert!(report.error.is_some());
    assert_eq!(report.pruned, 0);
    assert_eq!(std::fs::read(support::state_file(&dir)).unwrap(), before);
    emu.user_select(&id, 4, true);
    emu.poll();
    daemon.tick().await;
    assert_eq!(patches(&emu).len(), 1);
}

#[tokio::test]
async fn a_task_that_finished_before_its_patch_is_not_a_failure() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let daemon = support::daemon(&emu, &support::state_file(&dir));
    emu.inject(
        Route::Patch,
        Fault::Code {
            code: 404,
            msg: "Task not found".into(),
        },
        1,
    );
    let report = daemon.tick().await;
    assert_eq!((report.finished(), report.failed()), (1, 0));
    assert!(report.succeeded(), "{report:?}");
    assert!(
        heartbeat_line(&report, chrono::Utc::now()).contains(" ok: "),
        "{}",
        heartbeat_line(&report, chrono::Utc::now())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_writer_at_a_time_while_dry_runs_still_work() {
    let emu = support::emulator().await;
    let first = emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let state = support::state_file(&dir);
    let config = support::start_up_only_config(&emu, dir.path());
    let mut service = support::start_service(&config, &state).await;
    let written = std::fs::read(&state).unwrap();
    emu.add_task(support::show(Backend::Qbittorrent));
    let sent_before = patches(&emu).len();
    let env = [("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)];
    let args = ["--config", config.to_str().unwrap(), "once"];
    let started = Instant::now();
    let output = support::run_binary(&args, &env).await;
    support::assert_exit(&output, 1);
    assert!(started.elapsed() < Duration::from_secs(10));
    let stderr = support::stderr(&output);
    assert!(stderr.contains(&state.display().to_string()), "{stderr}");
    assert!(stderr.contains("another instance"), "{stderr}");
    assert_eq!(
        patches(&emu).len(),
        sent_before,
        "the second writer sent something"
    );
    assert_eq!(std::fs::read(&state).unwrap(), written);
    // A dry run needs no lock.
    let output = support::run_binary(
        &["--config", config.to_str().unwrap(), "once", "--dry-run"],
        &env,
    )
    .await;
    support::assert_exit(&output, 0);
    assert!(support::stdout(&output).contains("dry run:"));
    assert_eq!(patches(&emu).len(), sent_before);
    assert!(patches(&emu).iter().any(|(id, _)| *id == first));
    service.kill().await.unwrap();
}

#[tokio::test]
async fn the_heartbeat_tells_healthcheck_when_only_a_person_can_help() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let state = support::state_file(&dir);
    let heartbeat = cloudreve_autoselect::daemon::heartbeat_path(&state);
    let mut options = support::client_options(&emu);
    options.credentials =
        cloudreve_autoselect::cloudreve::Credentials::Password("wrong password".into());
    let (store, _) = StateStore::open(&state).unwrap();
    let daemon = Daemon::new(
        Client::new(options).unwrap(),
        support::settings(support::RULES, false),
        store,
        Some(heartbeat.clone()),
    );
    let report = daemon.tick().await;
    assert!(report.needs_operator().is_some());
    assert_eq!(report.events.len(), 1, "{:?}", report.events);
    let verdict = cloudreve_autoselect::healthcheck::check(
        &heartbeat,
        Duration::from_secs(600),
        chrono::Utc::now(),
    );
    let message = verdict.unwrap_err();
    assert!(message.contains("needs an operator"), "{message}");
    assert!(message.contains("wrong email or password"), "{message}");
    // The incident is reported once, not at every tick.
    let report = daemon.tick().await;
    assert!(report.events.is_empty(), "{:?}", report.events);
    drop(daemon);
    // With the right password the daemon recovers and says so.
    let (store, _) = StateStore::open(&state).unwrap();
    let daemon = Daemon::new(
        support::client(&emu),
        support::settings(support::RULES, false),
        store,
        Some(heartbeat.clone()),
    );
    let report = daemon.tick().await;
    assert!(
        matches!(
            report.events.as_slice(),
            [cloudreve_autoselect::outcome::OperatorEvent::Recovered { .. }]
        ),
        "{:?}",
        report.events
    );
    let verdict = cloudreve_autoselect::healthcheck::check(
        &heartbeat,
        Duration::from_secs(600),
        chrono::Utc::now(),
    );
    assert!(verdict.is_ok(), "{verdict:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_files_decided_before_as_decided() {
    let emu = support::emulator().await;
    let id = emu.add_task(movie(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rules.toml");
    std::fs::write(
        &config,
        support::config_text(
            &emu.base_url(),
            &format!(
                "[daemon]\nstate_file = \"{}\"\n{KEEP_SUBS_SKIP_NFO}",
                support::state_file(&dir).display()
            ),
        ),
    )
    .unwrap();
    let env = [("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)];
    let explain = ["--config", config.to_str().unwrap(), "explain", id.as_str()];
    let before = support::stdout(&support::run_binary(&explain, &env).await);
    assert!(before.contains("as wanted"), "{before}");
    assert!(!before.contains("decided before"), "{before}");
    let once = ["--config", config.to_str().unwrap(), "once"];
    let output = support::run_binary(&once, &env).await;
    support::assert_exit(&output, 0);
    emu.poll();
    let after = support::stdout(&support::run_binary(&explain, &env).await);
    // The kept subtitles (nothing was sent for them) and the skipped nfo are both decided.
    let decided: Vec<&str> = after
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .filter(|l| l.contains("decided before"))
        .collect();
    assert_eq!(decided.len(), 2, "{after}");
    assert!(decided.iter().any(|l| l.ends_with("subs.srt")), "{after}");
    assert!(decided.iter().any(|l| l.ends_with("info.nfo")), "{after}");
}
