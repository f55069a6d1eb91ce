//! The state under hostile conditions, end to end: a journal that cannot be written, and lists
//! that leave a task out for a while. Each test fails on the daemon before issue 26.

use cloudreve_autoselect::outcome::{OperatorEvent, TaskResult};
use cloudreve_emulator::{Backend, Fault, Route};

use crate::support::{self, patches};

#[tokio::test]
async fn a_decision_that_never_reached_the_disk_is_decided_again_next_tick() {
    let emu = support::emulator().await;
    let id = emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let (mut state, _) =
        cloudreve_autoselect::state::StateStore::open(&support::state_file(&dir)).unwrap();
    // The journal write fails as on a full disk.
    state.fail_journal_writes(1);
    let daemon = cloudreve_autoselect::daemon::Daemon::new(
        support::client(&emu),
        support::settings(support::RULES, false),
        state,
        None,
    );
    let report = daemon.tick().await;
    assert!(
        matches!(report.tasks[0].result, TaskResult::StateNotWritable { .. }),
        "{report:?}"
    );
    assert!(
        report
            .events
            .iter()
            .any(|e| matches!(e, OperatorEvent::StateNotWritable { .. })),
        "{:?}",
        report.events
    );
    assert!(patches(&emu).is_empty());
    // The disk is fine again: the task is decided and its junk deselected.
    let report = daemon.tick().await;
    assert_eq!(report.patched(), 1, "{report:?}");
    assert_eq!(patches(&emu).len(), 1);
    assert!(!support::selected(&emu, &id).is_empty());
}

#[tokio::test]
async fn an_empty_list_forgets_nothing_and_the_users_choice_stands_when_the_task_is_back() {
    let emu = support::emulator().await;
    let id = emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let daemon = support::daemon(&emu, &support::state_file(&dir));
    assert_eq!(daemon.tick().await.patched(), 1);
    emu.inject(
        Route::List,
        Fault::Body(r#"{"code":0,"msg":"","data":{"tasks":[]}}"#.to_owned()),
        1,
    );
    let report = daemon.tick().await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(report.seen, 0);
    assert_eq!(report.pruned, 0);
    // The task is back, and the user re-selects a file the daemon deselected.
    emu.user_select(&id, 4, true);
    emu.poll();
    let report = daemon.tick().await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(patches(&emu).len(), 1, "{:?}", patches(&emu));
}

#[tokio::test]
async fn a_list_whose_pages_together_exceed_the_cap_is_refused_naming_it() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let mut options = support::client_options(&emu);
    options.max_body_bytes = 2000;
    let client = cloudreve_autoselect::cloudreve::Client::new(options).unwrap();
    // Each page fits the cap of one answer; two of them do not.
    let padding = "x".repeat(1100);
    let page = format!(
        r#"{{"code":0,"msg":"{padding}","data":{{"tasks":[],"pagination":{{"next_token":"more"}}}}}}"#
    );
    emu.inject(Route::List, Fault::Body(page), 2);
    let e = client.list_downloading().await.unwrap_err();
    assert!(
        e.to_string()
            .contains("the pages together exceed the 2000-byte cap of the whole list"),
        "{e}"
    );
}

#[tokio::test]
async fn a_task_listing_an_index_twice_is_skipped_and_the_others_are_handled() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let daemon = support::daemon(&emu, &support::state_file(&dir));
    let twice = r#"{"id":"twice","status":"processing","type":"remote_download","summary":{"phase":"monitor","props":{"download":{"name":"T","state":"downloading","files":[{"index":1,"name":"T/movie.mkv","size":900000000,"selected":true},{"index":1,"name":"T/sample.mkv","size":5000,"selected":true}]}}}}"#;
    let list = emu.list_body();
    let list = list.replacen(r#""tasks":["#, &format!(r#""tasks":[{twice},"#), 1);
    emu.inject(Route::List, Fault::Body(list), 1);
    let report = daemon.tick().await;
    assert_eq!(report.skipped.len(), 1, "{report:?}");
    assert_eq!(report.skipped[0].id.as_deref(), Some("twice"));
    assert!(
        report.skipped[0]
            .reason
            .contains("files[1].index repeats the index of files[0]"),
        "{}",
        report.skipped[0].reason
    );
    assert_eq!(report.patched(), 1, "{report:?}");
    assert!(patches(&emu).iter().all(|(id, _)| id != "twice"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_lock_file_under_run_lets_no_second_writer_in() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let state = support::state_file(&dir);
    let config = support::start_up_only_config(&emu, dir.path());
    let mut service = support::start_service(&config, &state).await;
    // Someone takes the lock file for a stale one.
    std::fs::remove_file(cloudreve_autoselect::state::lock_path(&state)).unwrap();
    emu.add_task(support::show(Backend::Qbittorrent));
    let sent_before = patches(&emu).len();
    let env = [("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)];
    let output = support::run_binary(&["--config", config.to_str().unwrap(), "once"], &env).await;
    let stderr = support::stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("another instance"), "{stderr}");
    assert!(stderr.contains("state.json.journal is locked"), "{stderr}");
    assert_eq!(
        patches(&emu).len(),
        sent_before,
        "a second writer sent something"
    );
    service.kill().await.unwrap();
}

#[tokio::test]
async fn the_heartbeat_is_never_written_or_read_through_a_planted_link() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let state = support::state_file(&dir);
    let heartbeat = cloudreve_autoselect::daemon::heartbeat_path(&state);
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    // Read through a link to /dev/zero: refused at once, naming the file.
    std::os::unix::fs::symlink("/dev/zero", &heartbeat).unwrap();
    let verdict = cloudreve_autoselect::healthcheck::check(
        &heartbeat,
        std::time::Duration::from_secs(60),
        chrono::Utc::now(),
    );
    let e = verdict.unwrap_err();
    assert!(
        e.contains(&heartbeat.display().to_string()) && e.contains("symbolic link"),
        "{e}"
    );
    // Written: the link is replaced, its target left alone.
    std::fs::remove_file(&heartbeat).unwrap();
    std::os::unix::fs::symlink(&victim, &heartbeat).unwrap();
    let (state_store, _) = cloudreve_autoselect::state::StateStore::open(&state).unwrap();
    let daemon = cloudreve_autoselect::daemon::Daemon::new(
        support::client(&emu),
        support::settings(support::RULES, false),
        state_store,
        Some(heartbeat.clone()),
    );
    daemon.tick().await;
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(
        std::fs::symlink_metadata(&heartbeat)
            .unwrap()
            .file_type()
            .is_file()
    );
}

#[test]
fn a_fetched_lists_copy_is_never_read_through_a_planted_link() {
    use cloudreve_autoselect::config::blocklists::{BlocklistSource, read_from_disk};
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("0123456789abcdef.txt");
    std::os::unix::fs::symlink("/dev/zero", &cache).unwrap();
    let source = BlocklistSource::Url {
        url: url::Url::parse("https://127.0.0.1/list.txt").unwrap(),
        refresh: std::time::Duration::from_secs(3600),
        cache: cache.clone(),
    };
    let e = read_from_disk(&source).unwrap_err();
    assert!(
        e.contains(&cache.display().to_string()) && e.contains("symbolic link"),
        "{e}"
    );
}
