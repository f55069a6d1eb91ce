//! The state under hostile conditions, end to end: a journal that cannot be written, and lists
//! that leave a task out for a while. Each test fails on the daemon before issue 26.

use cloudreve_autoselect::emulator::{Backend, Fault, Route};
use cloudreve_autoselect::outcome::{OperatorEvent, TaskResult};

use crate::support::{self, patches};

fn journal(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("state.json.journal")
}

#[tokio::test]
async fn a_decision_that_never_reached_the_disk_is_decided_again_next_tick() {
    let emu = support::emulator().await;
    let id = emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let daemon = support::daemon(&emu, &support::state_file(&dir));
    // The journal cannot be written (its name is taken by a directory, as a full disk would
    // refuse the write).
    std::fs::create_dir(journal(&dir)).unwrap();
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
    std::fs::remove_dir(journal(&dir)).unwrap();
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
