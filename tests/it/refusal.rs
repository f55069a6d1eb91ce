//! A PATCH Cloudreve refused (50005, a proxy's 502 or 503) is sent again; one whose outcome is
//! unknown (500, 504, an answer that is not Cloudreve's envelope) never is; repeated refusals
//! back off and end in an incident; `forget` re-opens a task.

use std::path::{Path, PathBuf};

use cloudreve_autoselect::outcome::{OperatorEvent, TaskResult};
use cloudreve_emulator::{Backend, Emulator, Fault, Route};

use crate::support::{self, patches};

fn config(emu: &Emulator, dir: &Path) -> PathBuf {
    let path = dir.join("rules.toml");
    let text = support::daemon_config_text(emu, dir, "");
    std::fs::write(&path, text).unwrap();
    path
}

async fn once(config: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["--config", config.to_str().unwrap()];
    args.extend_from_slice(extra);
    support::run_binary(
        &args,
        &[("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)],
    )
    .await
}

fn fifty_005() -> Fault {
    Fault::Code {
        code: 50005,
        msg: "Failed to set download files".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_patch_is_sent_again_by_the_next_once() {
    for fault in [fifty_005(), Fault::Status(502), Fault::Status(503)] {
        let emu = support::emulator().await;
        let id = emu.add_task(support::show(Backend::Qbittorrent));
        let dir = tempfile::tempdir().unwrap();
        let config = config(&emu, dir.path());
        emu.inject(Route::Patch, fault.clone(), 1);
        let output = once(&config, &["once"]).await;
        assert_eq!(output.status.code(), Some(1), "{fault:?}");
        assert!(
            support::stderr(&output).contains("nothing was applied"),
            "{fault:?}: {}",
            support::stderr(&output)
        );
        assert!(emu.files(&id).iter().all(|f| f.selected), "{fault:?}");
        // A second later: the refusal was a hiccup, the junk is deselected now.
        let output = once(&config, &["once"]).await;
        assert_eq!(
            output.status.code(),
            Some(0),
            "{fault:?}: {}",
            support::stderr(&output)
        );
        assert_eq!(patches(&emu).len(), 2, "{fault:?}");
        assert_eq!(
            support::selected(&emu, &id),
            [
                (0, true),
                (1, true),
                (2, false),
                (3, true),
                (4, false),
                (5, false)
            ],
            "{fault:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_with_an_unknown_outcome_is_never_sent_again_and_explain_says_so() {
    for fault in [
        Fault::Http500,
        Fault::Status(504),
        Fault::Body("<html>maintenance</html>".into()),
    ] {
        let emu = support::emulator().await;
        let id = emu.add_task(support::show(Backend::Aria2));
        let dir = tempfile::tempdir().unwrap();
        let config = config(&emu, dir.path());
        emu.inject(Route::Patch, fault.clone(), 1);
        let output = once(&config, &["once"]).await;
        assert_eq!(output.status.code(), Some(1), "{fault:?}");
        let output = once(&config, &["once"]).await;
        assert_eq!(output.status.code(), Some(0), "{fault:?}");
        assert_eq!(patches(&emu).len(), 1, "{fault:?}: sent again");
        let output = once(&config, &["explain", &id]).await;
        let out = support::stdout(&output);
        assert!(
            out.contains("sent, outcome unknown: file(s) 3, 5, 6"),
            "{fault:?}: {out}"
        );
    }
}

#[tokio::test]
async fn repeated_refusals_back_off() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let daemon = support::daemon(&emu, &support::state_file(&dir));
    emu.inject(Route::Patch, fifty_005(), 2);
    for _ in 0..2 {
        let report = daemon.tick().await;
        assert!(
            matches!(report.tasks[0].result, TaskResult::Retry { .. }),
            "{report:?}"
        );
    }
    assert_eq!(patches(&emu).len(), 2);
    // Refused twice in a row: the next attempt waits (30 s), so this tick sends nothing.
    let report = daemon.tick().await;
    match &report.tasks[0].result {
        TaskResult::Retry { error } => assert!(error.contains("next attempt is due"), "{error}"),
        other => panic!("expected a wait, got {other:?}"),
    }
    assert_eq!(patches(&emu).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refusal_cap_opens_an_incident_sends_nothing_more_and_forget_reopens_the_task() {
    let emu = support::emulator().await;
    let id = emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let config = config(&emu, dir.path());
    let state = dir.path().join("state.json");
    // Four refusals over the last twenty minutes, the last one long enough ago to try again.
    let now = chrono::Utc::now();
    let ago = |minutes| (now - chrono::Duration::minutes(minutes)).to_rfc3339();
    std::fs::write(
        &state,
        serde_json::json!({
            "version": 2,
            "tasks": {id.clone(): {"decided": {}, "patch_refusals": {"count": 4, "first": ago(20), "last": ago(10)}}}
        })
        .to_string(),
    )
    .unwrap();
    emu.inject(Route::Patch, fifty_005(), 1);
    let daemon = support::daemon(&emu, &state);
    let report = daemon.tick().await;
    assert!(
        matches!(report.tasks[0].result, TaskResult::GaveUp { .. }),
        "{report:?}"
    );
    assert!(
        report.events.iter().any(
            |e| matches!(e, OperatorEvent::PatchRefused { message } if message.contains("forget"))
        ),
        "{:?}",
        report.events
    );
    assert!(report.needs_operator().is_some());
    // Nothing more is sent, and the incident is not repeated.
    let report = daemon.tick().await;
    assert!(
        matches!(report.tasks[0].result, TaskResult::GaveUp { .. }),
        "{report:?}"
    );
    assert!(report.events.is_empty(), "{:?}", report.events);
    assert_eq!(patches(&emu).len(), 1);
    assert!(emu.files(&id).iter().all(|f| f.selected));
    drop(daemon);

    // The operator checked the task: `forget` re-opens it and the next tick deselects.
    let output = once(&config, &["forget", &id]).await;
    support::assert_exit(&output, 0);
    assert!(support::stdout(&output).contains("forgot task"));
    let daemon = support::daemon(&emu, &state);
    let report = daemon.tick().await;
    assert_eq!(report.patched(), 1, "{report:?}");
    assert!(
        report.events.iter().any(
            |e| matches!(e, OperatorEvent::Recovered { kinds } if kinds == &["patch_refused"])
        ),
        "{:?}",
        report.events
    );
    // A task the state does not know is an error, and so is a locked state.
    let output = once(&config, &["forget", "nope"]).await;
    assert_eq!(output.status.code(), Some(1));
    let output = once(&config, &["forget", &id]).await;
    assert!(
        support::stderr(&output).contains("in use"),
        "{}",
        support::stderr(&output)
    );
}
