//! `Daemon::tick` end to end against the emulator.

use std::time::Duration;

use cloudreve_autoselect::outcome::TaskResult;
use cloudreve_autoselect::plan::Resolution;
use cloudreve_emulator::{Backend, Fault, Route};

use crate::support::{self, patches, selected};

#[tokio::test]
async fn first_tick_deselects_junk_with_each_downloaders_index_base() {
    let emu = support::emulator().await;
    let aria = emu.add_task(support::show(Backend::Aria2));
    let qbt = emu.add_task(support::show(Backend::Qbittorrent));
    let dir = tempfile::tempdir().unwrap();
    let daemon = support::daemon(&emu, &support::state_file(&dir));
    let report = daemon.tick().await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(
        (
            report.seen,
            report.eligible(),
            report.patched(),
            report.deselected()
        ),
        (2, 2, 2, 6)
    );
    let mut sent = patches(&emu);
    sent.sort();
    let mut expected = vec![
        (aria.clone(), vec![(3, false), (5, false), (6, false)]),
        (qbt.clone(), vec![(2, false), (4, false), (5, false)]),
    ];
    expected.sort();
    assert_eq!(
        sent, expected,
        "one PATCH per task, indices as the server gave them"
    );
    assert_eq!(
        selected(&emu, &aria),
        [
            (1, true),
            (2, true),
            (3, false),
            (4, true),
            (5, false),
            (6, false)
        ]
    );
    assert_eq!(
        selected(&emu, &qbt),
        [
            (0, true),
            (1, true),
            (2, false),
            (3, true),
            (4, false),
            (5, false)
        ]
    );
    // Recorded durably: the state file holds the decisions after the tick.
    let state = std::fs::read_to_string(support::state_file(&dir)).unwrap();
    assert!(state.contains(&aria) && state.contains(&qbt), "{state}");
}

#[tokio::test]
async fn second_tick_with_the_lagging_list_sends_nothing() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let daemon = support::daemon(&emu, &support::state_file(&dir));
    daemon.tick().await;
    // No downloader poll: the list still shows every file selected.
    let report = daemon.tick().await;
    assert_eq!(report.patched(), 0);
    assert_eq!(patches(&emu).len(), 1);
    emu.poll();
    assert_eq!(daemon.tick().await.patched(), 0);
    assert_eq!(patches(&emu).len(), 1);
}

#[tokio::test]
async fn a_user_reselection_is_left_alone_also_after_a_restart() {
    let emu = support::emulator().await;
    let id = emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let state = support::state_file(&dir);
    {
        let daemon = support::daemon(&emu, &state);
        daemon.tick().await;
        emu.user_select(&id, 5, true);
        emu.poll();
        assert_eq!(daemon.tick().await.patched(), 0);
    }
    // A new process with the same state file.
    let daemon = support::daemon(&emu, &state);
    emu.poll();
    let report = daemon.tick().await;
    assert_eq!(report.patched(), 0, "{:?}", report.plans);
    assert_eq!(patches(&emu).len(), 1);
    assert!(emu.files(&id)[4].selected, "the user's choice stands");
}

#[tokio::test]
async fn a_task_made_only_of_junk_gets_no_patch_and_stays_alive() {
    let emu = support::emulator().await;
    let qbt = emu.add_task(support::all_junk(Backend::Qbittorrent));
    let aria = emu.add_task(support::all_junk(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let daemon = support::daemon(&emu, &support::state_file(&dir));
    let report = daemon.tick().await;
    assert_eq!((report.refused(), report.patched()), (2, 0));
    assert!(
        report
            .plans
            .iter()
            .all(|p| matches!(p.resolution, Resolution::Refused(_)))
    );
    emu.poll();
    daemon.tick().await;
    assert!(patches(&emu).is_empty());
    let (status, error) = emu.status(&qbt).unwrap();
    assert!(
        matches!(status.as_str(), "processing" | "suspending") && error.is_none(),
        "{status} {error:?}"
    );
    assert!(emu.files(&aria).iter().all(|f| f.selected));
}

#[tokio::test]
async fn metadata_pending_then_arriving() {
    for backend in [Backend::Aria2, Backend::Qbittorrent] {
        let emu = support::emulator().await;
        let id = emu.add_task(support::show(backend).metadata_pending());
        let dir = tempfile::tempdir().unwrap();
        let daemon = support::daemon(&emu, &support::state_file(&dir));
        let report = daemon.tick().await;
        assert_eq!(report.patched(), 0);
        assert!(report.metadata_pending().iter().any(|t| t.as_str() == id));
        emu.metadata_arrives(&id);
        emu.poll();
        let report = daemon.tick().await;
        assert_eq!(report.patched(), 1, "{backend:?}");
        assert!(report.metadata_pending().is_empty());
    }
}

#[tokio::test]
async fn queued_and_transfer_phase_tasks_are_untouched() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2).with_state("queued", None));
    emu.add_task(support::show(Backend::Aria2).with_state("processing", Some("transfer")));
    emu.add_task(support::show(Backend::Qbittorrent).with_state("suspending", Some("seeding")));
    let dir = tempfile::tempdir().unwrap();
    let daemon = support::daemon(&emu, &support::state_file(&dir));
    let report = daemon.tick().await;
    assert_eq!(
        (report.seen, report.eligible(), report.patched()),
        (3, 0, 0)
    );
    assert!(patches(&emu).is_empty());
}

#[tokio::test]
async fn access_token_expiring_between_ticks_is_refreshed_then_patch() {
    let emu = support::emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let daemon = support::daemon(&emu, &support::state_file(&dir));
    daemon.tick().await;
    emu.expire_access_tokens();
    let id = emu.add_task(support::show(Backend::Aria2));
    let report = daemon.tick().await;
    assert_eq!(report.patched(), 1, "{report:?}");
    assert_eq!(support::count(&emu, "POST", "/session/token/refresh"), 1);
    assert_eq!(patches(&emu)[0].0, id);
}

#[tokio::test]
async fn one_failing_patch_does_not_stop_the_others() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    emu.add_task(support::show(Backend::Qbittorrent));
    let dir = tempfile::tempdir().unwrap();
    let daemon = support::daemon(&emu, &support::state_file(&dir));
    emu.inject(
        Route::Patch,
        Fault::Code {
            code: 50005,
            msg: "Failed to set download files".into(),
        },
        1,
    );
    let report = daemon.tick().await;
    assert_eq!((report.patched(), report.failed()), (1, 1));
    assert!(!report.succeeded());
    assert!(
        report
            .tasks
            .iter()
            .any(|t| matches!(t.result, TaskResult::Retry { .. })),
        "{:?}",
        report.tasks
    );
    // Cloudreve answered that it did nothing (50005): the refused task is sent again.
    emu.poll();
    let report = daemon.tick().await;
    assert_eq!((report.patched(), report.failed()), (1, 0));
    assert_eq!(patches(&emu).len(), 3);
}

#[tokio::test]
async fn dry_run_sends_nothing_and_changes_no_state() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let daemon = support::daemon_with(
        &emu,
        &support::state_file(&dir),
        support::settings(support::RULES, true),
    );
    let report = daemon.tick().await;
    assert_eq!((report.patched(), report.deselected()), (1, 3));
    assert!(patches(&emu).is_empty());
    assert!(!support::state_file(&dir).exists());
    assert!(
        report.plans[0]
            .render(cloudreve_autoselect::cloudreve::draw_patch)
            .contains("PATCH /api/v4/workflow/download/")
    );
}

#[tokio::test]
async fn tasks_that_leave_the_list_are_pruned() {
    let emu = support::emulator().await;
    let id = emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let daemon = support::daemon(&emu, &support::state_file(&dir));
    daemon.tick().await;
    emu.finish(&id);
    emu.poll();
    // Kept for a grace period after it left the list, with the time it was first missed.
    assert_eq!(daemon.tick().await.pruned, 0);
    drop(daemon);
    let state = std::fs::read_to_string(support::state_file(&dir)).unwrap();
    assert!(state.contains(&id), "{state}");
    let mut document: serde_json::Value = serde_json::from_str(&state).unwrap();
    let since = &mut document["tasks"][id.as_str()]["unlisted_since"];
    let missed = since.as_i64().unwrap();
    let grace = i64::try_from(cloudreve_autoselect::state::PRUNE_GRACE.as_secs()).unwrap();
    *since = serde_json::json!(missed - grace);
    std::fs::write(support::state_file(&dir), document.to_string()).unwrap();
    let daemon = support::daemon(&emu, &support::state_file(&dir));
    assert_eq!(daemon.tick().await.pruned, 1);
    let state = std::fs::read_to_string(support::state_file(&dir)).unwrap();
    assert!(!state.contains(&id), "{state}");
}

#[tokio::test]
async fn a_corrupt_state_file_is_moved_aside_and_the_tick_works() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(support::state_file(&dir), b"\0\0garbage").unwrap();
    let (state, warnings) =
        cloudreve_autoselect::state::StateStore::open(&support::state_file(&dir)).unwrap();
    assert_eq!(warnings.len(), 1);
    let daemon = cloudreve_autoselect::daemon::Daemon::new(
        support::client(&emu),
        support::settings(support::RULES, false),
        state,
        None,
    );
    assert_eq!(daemon.tick().await.patched(), 1);
    let text = std::fs::read_to_string(support::state_file(&dir)).unwrap();
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_ok());
}

#[tokio::test]
async fn ticks_never_overlap() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let daemon = support::daemon(&emu, &support::state_file(&dir));
    daemon.client().ensure_signed_in().await.unwrap();
    // The first tick's list is held at the server until the second tick has been tried.
    let gate = emu.hold(Route::List);
    let (first, second) = tokio::join!(daemon.tick(), async {
        gate.reached().await;
        // Bounded only so that a second tick that waits for the first, instead of skipping,
        // fails the test rather than hanging it: the first cannot end before the release.
        let second = tokio::time::timeout(Duration::from_secs(30), daemon.tick()).await;
        gate.release();
        second.expect("the second tick waited for the first instead of skipping")
    });
    assert!(!first.skipped_overlap, "{first:?}");
    assert!(second.skipped_overlap, "{second:?}");
    assert_eq!(first.patched(), 1);
    assert_eq!(support::count(&emu, "GET", "/workflow"), 1);
}
