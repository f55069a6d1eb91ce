//! The Cloudreve client against the emulator: sign-in, tokens, list, PATCH, faults, secrecy.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use cloudreve_autoselect::cloudreve::{Client, Delivery, Error, ListProblem, SignInProblem};
use cloudreve_autoselect::task::{Phase, SelectionChange, SkippedTask, TaskId, TaskStatus};
use cloudreve_emulator::{Backend, Caller, Fault, Route, TaskSpec, UserStatus};

use crate::support::{self, count};

fn deselect(index: u64) -> SelectionChange {
    SelectionChange {
        index,
        download: false,
    }
}

#[tokio::test]
async fn signs_in_and_lists_tasks_of_both_downloaders_in_every_phase() {
    let emu = support::emulator().await;
    let aria = emu.add_task(support::show(Backend::Aria2));
    let qbt = emu.add_task(support::show(Backend::Qbittorrent));
    let magnet_aria = emu.add_task(support::show(Backend::Aria2).metadata_pending());
    let magnet_qbt = emu.add_task(support::show(Backend::Qbittorrent).metadata_pending());
    let queued = emu.add_task(support::show(Backend::Aria2).with_state("queued", None));
    let transfer =
        emu.add_task(support::show(Backend::Aria2).with_state("processing", Some("transfer")));
    let seeding =
        emu.add_task(support::show(Backend::Qbittorrent).with_state("suspending", Some("seeding")));
    let client = support::client(&emu);
    let list = client.list_downloading().await.unwrap();
    assert!(list.skipped.is_empty());
    let tasks = list.tasks;
    assert_eq!(tasks.len(), 7);
    // Newest first, as Cloudreve orders them.
    assert_eq!(tasks[0].id.as_str(), seeding);
    let find = |id: &str| tasks.iter().find(|t| t.id.as_str() == id).unwrap();

    let aria_files = find(&aria)
        .download
        .as_ref()
        .unwrap()
        .files
        .clone()
        .unwrap();
    assert_eq!(aria_files.first().unwrap().index, 1, "aria2 counts from 1");
    let qbt_files = find(&qbt).download.as_ref().unwrap().files.clone().unwrap();
    assert_eq!(
        qbt_files.first().unwrap().index,
        0,
        "qBittorrent counts from 0"
    );
    assert!(find(&aria).eligible_files().is_ok());

    let placeholder = find(&magnet_aria)
        .download
        .as_ref()
        .unwrap()
        .files
        .clone()
        .unwrap();
    assert!(placeholder[0].path.starts_with("METADATA]"));
    assert!(
        find(&magnet_aria)
            .eligible_files()
            .unwrap_err()
            .is_metadata_pending()
    );
    assert_eq!(find(&magnet_qbt).download.as_ref().unwrap().files, None);
    assert!(
        find(&magnet_qbt)
            .eligible_files()
            .unwrap_err()
            .is_metadata_pending()
    );

    assert_eq!(find(&queued).status, TaskStatus::Queued);
    assert_eq!(find(&queued).phase, Phase::NotStarted);
    assert_eq!(find(&queued).download, None);
    assert_eq!(find(&transfer).phase, Phase::Transfer);
    assert_eq!(find(&seeding).phase, Phase::Seeding);

    let list = emu
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/v4/workflow")
        .unwrap();
    assert!(
        list.query.contains("category=downloading") && list.query.contains("page_size=100"),
        "{}",
        list.query
    );
    assert_eq!(list.caller, Caller::User);
    let agent = list.user_agent.unwrap();
    assert!(agent.starts_with("cloudreve-autoselect/"), "{agent}");
    assert!(uuid::Uuid::parse_str(&list.correlation_id.unwrap()).is_ok());
}

async fn sign_in_error(problem: SignInProblem) -> (Error, usize) {
    let emu = support::emulator().await;
    emu.update_options(|o| match problem {
        SignInProblem::WrongCredentials => o.password = "other password".into(),
        SignInProblem::Banned => o.user_status = UserStatus::Banned,
        SignInProblem::NotActivated => o.user_status = UserStatus::Inactive,
        SignInProblem::Captcha => o.login_captcha = true,
        SignInProblem::TwoFactor => o.two_factor = true,
        SignInProblem::BadParameters => o.email = "someone@example.com".into(),
        SignInProblem::RefreshTokenRejected => {}
    });
    let client = support::client(&emu);
    let error = client.ensure_signed_in().await.unwrap_err();
    // A second attempt right away is refused locally: no tight loop against the server.
    let again = client.list_downloading().await.unwrap_err();
    assert!(matches!(again, Error::SignInBackoff { .. }), "{again}");
    (error, count(&emu, "POST", "/session/token"))
}

#[tokio::test]
async fn sign_in_errors_name_what_the_operator_must_fix_and_are_not_retried() {
    let cases = [
        (SignInProblem::WrongCredentials, "wrong email or password"),
        (SignInProblem::Banned, "blocked"),
        (SignInProblem::NotActivated, "not activated"),
        (SignInProblem::Captcha, "turn off login captcha"),
        (SignInProblem::TwoFactor, "without 2FA"),
    ];
    for (expected, text) in cases {
        let (error, sign_ins) = sign_in_error(expected).await;
        assert!(
            matches!(&error, Error::SignIn { problem, .. } if *problem == expected),
            "{error}"
        );
        assert!(error.to_string().contains(text), "{error}");
        assert!(error.needs_operator());
        assert_eq!(sign_ins, 1, "{expected:?} must not be retried");
    }
}

#[tokio::test]
async fn expired_access_token_is_refreshed_once_and_the_call_retried() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let client = support::client(&emu);
    client.list_downloading().await.unwrap();
    emu.expire_access_tokens();
    emu.clear_requests();
    assert_eq!(client.list_downloading().await.unwrap().tasks.len(), 1);
    let calls = support::calls(&emu);
    assert_eq!(
        calls,
        [
            "GET /api/v4/workflow",
            "POST /api/v4/session/token/refresh",
            "GET /api/v4/workflow"
        ]
    );
    assert!(
        emu.requests()
            .iter()
            .all(|r| r.caller != Caller::RefreshAsAccess)
    );
}

#[tokio::test]
async fn rejected_refresh_falls_back_to_password_sign_in() {
    let emu = support::emulator().await;
    let client = support::client(&emu);
    client.list_downloading().await.unwrap();
    emu.expire_access_tokens();
    emu.revoke_refresh_tokens();
    emu.clear_requests();
    client.list_downloading().await.unwrap();
    let calls = support::calls(&emu);
    assert_eq!(
        calls,
        [
            "GET /api/v4/workflow",
            "POST /api/v4/session/token/refresh",
            "POST /api/v4/session/token",
            "GET /api/v4/workflow"
        ]
    );
}

#[tokio::test]
async fn access_token_is_refreshed_ahead_of_expiry() {
    let emu = support::emulator().await;
    let offset = Arc::new(AtomicI64::new(0));
    let mut options = support::client_options(&emu);
    let clock_offset = Arc::clone(&offset);
    options.clock =
        Arc::new(move || Utc::now() + TimeDelta::seconds(clock_offset.load(Ordering::SeqCst)));
    let client = Client::new(options).unwrap();
    client.list_downloading().await.unwrap();
    emu.clear_requests();
    client.list_downloading().await.unwrap();
    assert_eq!(
        count(&emu, "POST", "/refresh"),
        0,
        "a fresh token is not refreshed"
    );
    // 58 minutes later the 1-hour token is within the 5-minute margin.
    offset.store(58 * 60, Ordering::SeqCst);
    client.list_downloading().await.unwrap();
    let calls = support::calls(&emu);
    assert_eq!(
        calls,
        [
            "GET /api/v4/workflow",
            "POST /api/v4/session/token/refresh",
            "GET /api/v4/workflow"
        ]
    );
}

#[tokio::test]
async fn patch_sends_the_body_and_reports_each_cloudreve_error() {
    let emu = support::emulator().await;
    let ok = emu.add_task(support::show(Backend::Qbittorrent));
    let queued = emu.add_task(support::show(Backend::Aria2).with_state("queued", None));
    let transfer =
        emu.add_task(support::show(Backend::Aria2).with_state("processing", Some("transfer")));
    let finished = emu.add_task(support::show(Backend::Aria2));
    emu.finish(&finished);
    let pending = emu.add_task(support::show(Backend::Aria2).metadata_pending());
    let client = support::client(&emu);

    client
        .set_selection(&TaskId::new(ok.clone()), &[deselect(4)])
        .await
        .unwrap();
    assert_eq!(support::patches(&emu), [(ok.clone(), vec![(4, false)])]);
    assert!(!emu.files(&ok)[4].selected);

    let cases = [
        (finished.as_str(), 404, "Task not found"),
        (queued.as_str(), 404, "Task not in processing state"),
        (transfer.as_str(), 404, "Task not in monitoring loop"),
        (pending.as_str(), 50005, "Failed to set download files"),
        ("not-a-task", 40001, "Failed to parse object ID"),
    ];
    for (id, code, msg) in cases {
        let error = client
            .set_selection(&TaskId::new(id), &[deselect(1)])
            .await
            .unwrap_err();
        let expected = if code == 404 {
            Delivery::Gone
        } else {
            Delivery::NotApplied
        };
        assert_eq!(error.delivery, expected, "{id}");
        let error = error.error;
        match &error {
            Error::Api {
                code: got,
                msg: got_msg,
                correlation_id,
                endpoint,
            } => {
                assert_eq!((*got, got_msg.as_str()), (code, msg), "{id}");
                assert!(
                    uuid::Uuid::parse_str(correlation_id).is_ok(),
                    "{correlation_id}"
                );
                assert!(endpoint.contains(id));
            }
            other => panic!("{id}: unexpected {other}"),
        }
        assert!(!error.is_transient());
    }
}

#[tokio::test]
async fn a_paginated_list_is_followed_to_its_end() {
    let emu = cloudreve_emulator::Emulator::start(cloudreve_emulator::EmulatorOptions {
        downloading_page_size: Some(10),
        ..Default::default()
    })
    .await
    .unwrap();
    for n in 0..25 {
        emu.add_task(TaskSpec::new(
            Backend::Aria2,
            &format!("T{n}"),
            &[("T/a.mkv", 1)],
        ));
    }
    let tasks = support::client(&emu)
        .list_downloading()
        .await
        .unwrap()
        .tasks;
    assert_eq!(tasks.len(), 25);
    let ids: std::collections::HashSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids.len(), 25, "no task twice");
    let lists: Vec<String> = emu
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/workflow"))
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(lists.len(), 3, "{lists:?}");
    assert!(
        !lists[0].contains("next_page_token") && lists[1].contains("next_page_token="),
        "{lists:?}"
    );
}

#[tokio::test]
async fn http_500_on_a_get_is_retried_until_it_recovers() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let client = support::client(&emu);
    client.ensure_signed_in().await.unwrap();
    emu.inject(Route::List, Fault::Http500, 2);
    assert_eq!(client.list_downloading().await.unwrap().tasks.len(), 1);
    assert_eq!(count(&emu, "GET", "/workflow"), 3);
}

#[tokio::test]
async fn http_500_on_patch_is_not_retried() {
    let emu = support::emulator().await;
    let id = emu.add_task(support::show(Backend::Aria2));
    let client = support::client(&emu);
    client.ensure_signed_in().await.unwrap();
    emu.inject(Route::Patch, Fault::Http500, 5);
    let error = client
        .set_selection(&TaskId::new(id), &[deselect(5)])
        .await
        .unwrap_err();
    assert!(
        matches!(error.error, Error::NotJson { status: 500, .. }),
        "{error}"
    );
    assert_eq!(count(&emu, "PATCH", ""), 1);
}

#[tokio::test]
async fn a_non_zero_code_is_never_retried() {
    let emu = support::emulator().await;
    let client = support::client(&emu);
    client.ensure_signed_in().await.unwrap();
    emu.inject(
        Route::List,
        Fault::Code {
            code: 50001,
            msg: "Failed to query tasks".into(),
        },
        5,
    );
    let error = client.list_downloading().await.unwrap_err();
    assert_eq!(error.api_code(), Some(50001));
    assert_eq!(count(&emu, "GET", "/workflow"), 1);
}

#[tokio::test]
async fn a_slow_server_hits_the_timeout() {
    let emu = support::emulator().await;
    let mut options = support::client_options(&emu);
    options.timeout = Duration::from_millis(200);
    options.retries = 1;
    let client = Client::new(options).unwrap();
    client.ensure_signed_in().await.unwrap();
    emu.inject(Route::List, Fault::Delay(Duration::from_secs(2)), 2);
    let error = client.list_downloading().await.unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error}");
    assert!(error.is_transient());
    assert_eq!(
        count(&emu, "GET", "/workflow"),
        2,
        "a timed-out GET is retried"
    );
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused() {
    let emu = support::emulator().await;
    let mut options = support::client_options(&emu);
    options.max_body_bytes = 64 * 1024;
    let client = Client::new(options).unwrap();
    client.ensure_signed_in().await.unwrap();
    emu.inject(Route::List, Fault::Oversized(200 * 1024), 1);
    let error = client.list_downloading().await.unwrap_err();
    assert!(
        matches!(error, Error::BodyTooLarge { limit: 65536, .. }),
        "{error}"
    );
    // A list of thousands of tasks fits under the default cap.
    for n in 0..2000 {
        emu.add_task(TaskSpec::new(
            Backend::Aria2,
            &format!("T{n}"),
            &[("T/a.mkv", 1), ("T/b.txt", 2)],
        ));
    }
    assert_eq!(
        support::client(&emu)
            .list_downloading()
            .await
            .unwrap()
            .tasks
            .len(),
        2000
    );
}

#[tokio::test]
async fn an_unreachable_server_is_a_transient_connect_error() {
    let emu = support::emulator().await;
    let options = support::client_options(&emu);
    drop(emu);
    tokio::task::yield_now().await;
    let client = Client::new(options).unwrap();
    let error = client.list_downloading().await.unwrap_err();
    assert!(error.is_transient(), "{error}");
}

/// A writer that collects log output in memory.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_reaches_the_log_or_debug_output() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let emu = support::emulator().await;
    let id = emu.add_task(support::show(Backend::Aria2));
    let client = support::client(&emu);
    let mut debug_output = format!("{client:?}");
    client.list_downloading().await.unwrap();
    emu.expire_access_tokens();
    client.list_downloading().await.unwrap();
    emu.expire_access_tokens();
    emu.revoke_refresh_tokens();
    client
        .set_selection(&TaskId::new(id.clone()), &[deselect(5)])
        .await
        .unwrap();
    emu.inject(Route::List, Fault::Http500, 1);
    client.list_downloading().await.unwrap();
    let error = client
        .set_selection(&TaskId::new("zzzz"), &[deselect(1)])
        .await
        .unwrap_err();
    let _ = write!(debug_output, "{error:?} {client:?}");
    // A daemon tick logs too.
    let dir = tempfile::tempdir().unwrap();
    let daemon = support::daemon(&emu, &support::state_file(&dir));
    daemon.tick().await;
    let _ = write!(debug_output, "{daemon:?}");
    let wrong = {
        let mut options = support::client_options(&emu);
        options.credentials = cloudreve_autoselect::cloudreve::Credentials::Password(
            secrecy::SecretString::from("wrong password 1234"),
        );
        Client::new(options).unwrap()
    };
    let error = wrong.ensure_signed_in().await.unwrap_err();
    let _ = write!(debug_output, "{error:?} {wrong:?}");

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("refreshing and retrying once"),
        "the capture works: {logs}"
    );
    let tokens = emu.issued_tokens();
    assert!(tokens.len() >= 6, "{tokens:?}");
    for secret in tokens
        .iter()
        .map(String::as_str)
        .chain([support::PASSWORD, "wrong password 1234"])
    {
        assert!(!logs.contains(secret), "secret {secret:?} in the log");
        assert!(
            !debug_output.contains(secret),
            "secret {secret:?} in Debug output"
        );
    }
}

#[tokio::test]
async fn a_failed_proactive_refresh_keeps_using_the_still_valid_token() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let offset = Arc::new(AtomicI64::new(0));
    let mut options = support::client_options(&emu);
    options.retries = 1;
    let clock_offset = Arc::clone(&offset);
    options.clock =
        Arc::new(move || Utc::now() + TimeDelta::seconds(clock_offset.load(Ordering::SeqCst)));
    let client = Client::new(options).unwrap();
    client.list_downloading().await.unwrap();
    // 58 minutes later the 1-hour token is due for a proactive refresh, which fails twice
    // (the attempt and its retry) with HTTP 500: the token is still valid for 2 minutes.
    offset.store(58 * 60, Ordering::SeqCst);
    emu.inject(Route::Refresh, Fault::Http500, 2);
    emu.clear_requests();
    let list = client.list_downloading().await.unwrap();
    assert_eq!(list.tasks.len(), 1);
    assert_eq!(count(&emu, "POST", "/refresh"), 2);
    // The next call tries the refresh again, and it works.
    client.list_downloading().await.unwrap();
    assert_eq!(count(&emu, "POST", "/refresh"), 3);
}

async fn signed_in_with_one_task() -> (cloudreve_emulator::Emulator, Client, String) {
    let emu = support::emulator().await;
    let id = emu.add_task(support::show(Backend::Aria2));
    let client = support::client(&emu);
    client.ensure_signed_in().await.unwrap();
    (emu, client, id)
}

#[tokio::test]
async fn a_list_answer_with_null_data_is_an_error_not_an_empty_list() {
    let (emu, client, _) = signed_in_with_one_task().await;
    emu.inject(Route::List, Fault::ListDataNull, 1);
    let error = client.list_downloading().await.unwrap_err();
    assert!(
        matches!(
            &error,
            Error::ListIncomplete {
                problem: ListProblem::DataNull,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_transient(), "not retried within the tick");
    let text = error.to_string();
    assert!(
        text.starts_with("GET /workflow: incomplete list answer") && text.contains("data is null"),
        "{text}"
    );
    assert_eq!(client.list_downloading().await.unwrap().tasks.len(), 1);
}

#[tokio::test]
async fn a_list_answer_with_null_tasks_is_an_error() {
    let (emu, client, _) = signed_in_with_one_task().await;
    emu.inject(Route::List, Fault::ListTasksNull, 1);
    let error = client.list_downloading().await.unwrap_err();
    assert!(
        matches!(
            &error,
            Error::ListIncomplete {
                problem: ListProblem::TasksNull,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("data.tasks is null"), "{error}");
}

#[tokio::test]
async fn one_malformed_task_is_skipped_and_the_others_are_listed() {
    let emu = support::emulator().await;
    let before = emu.add_task(support::show(Backend::Aria2));
    let bad = emu.add_task(support::show(Backend::Qbittorrent));
    let after = emu.add_task(support::show(Backend::Aria2));
    let client = support::client(&emu);
    emu.inject(Route::List, Fault::MalformedFileIndex(bad.clone()), 1);
    let list = client.list_downloading().await.unwrap();
    let ids: Vec<&str> = list.tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, [after.as_str(), before.as_str()]);
    assert_eq!(
        list.skipped,
        vec![SkippedTask {
            id: Some(bad),
            reason: "summary.props.download.files[0].index is a string, not a non-negative integer"
                .into()
        }]
    );
    assert_eq!(count(&emu, "GET", "/workflow"), 1, "not an error: no retry");
}

#[tokio::test]
async fn a_list_that_never_ends_is_an_error() {
    let (emu, client, _) = signed_in_with_one_task().await;
    emu.inject(Route::List, Fault::EndlessCursor, 2000);
    let error = client.list_downloading().await.unwrap_err();
    assert!(
        matches!(
            &error,
            Error::ListIncomplete {
                problem: ListProblem::PageCap { pages: 1000 },
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(count(&emu, "GET", "/workflow"), 1000);

    let (emu, client, _) = signed_in_with_one_task().await;
    emu.inject(
        Route::List,
        Fault::Body(
            r#"{"code":0,"msg":"","data":{"tasks":[],"pagination":{"next_token":"same"}}}"#.into(),
        ),
        2,
    );
    let error = client.list_downloading().await.unwrap_err();
    assert!(
        matches!(
            &error,
            Error::ListIncomplete {
                problem: ListProblem::CursorRepeated,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(count(&emu, "GET", "/workflow"), 2);
}

#[tokio::test]
async fn an_undecodable_answer_never_quotes_its_values() {
    const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib3QifQ.c2lnbmF0dXJlLXNlY3JldA";
    let list_bodies = [
        format!(r#"{{"code":0,"msg":"","data":"{TOKEN}"}}"#),
        format!(r#"{{"code":0,"msg":"","data":{{"tasks":"{TOKEN}"}}}}"#),
        format!(
            r#"{{"code":0,"msg":"","data":{{"tasks":[],"pagination":{{"next_token":["{TOKEN}"]}}}}}}"#
        ),
        format!(r#"{{"code":"{TOKEN}","msg":""}}"#),
        format!(r#"{{"code":0,"msg":"","data":{{"tasks":[{{"id":"{TOKEN}"#),
        format!(r#"{{"code":0,"msg":"","data":{{"tasks":[{{"id":"{TOKEN}"}}]}}}} {TOKEN}"#),
        format!("<html><body>Bad gateway: {TOKEN}</body></html>"),
        format!("token={TOKEN}"),
    ];
    let mut errors = Vec::new();
    for body in list_bodies {
        let (emu, client, _) = signed_in_with_one_task().await;
        emu.inject(Route::List, Fault::Body(body.clone()), 1);
        errors.push((body, client.list_downloading().await.unwrap_err()));
    }
    // A malformed task: the reason names the field, not its value.
    let (emu, client, _) = signed_in_with_one_task().await;
    emu.inject(
        Route::List,
        Fault::Body(format!(
            r#"{{"code":0,"msg":"","data":{{"tasks":[{{"id":"a","summary":{{"props":{{"download":{{"files":[{{"index":"{TOKEN}"}}]}}}}}}}}]}}}}"#
        )),
        1,
    );
    let list = client.list_downloading().await.unwrap();
    assert_eq!(list.skipped.len(), 1);
    assert!(!format!("{:?} {}", list.skipped, list.skipped[0].reason).contains("eyJ"));
    // Sign-in and refresh answers of the wrong shape (derived types, whose serde messages
    // would quote the value).
    for (route, body) in [
        (
            Route::SignIn,
            format!(r#"{{"code":0,"msg":"","data":{{"token":"{TOKEN}"}}}}"#),
        ),
        (
            Route::SignIn,
            format!(
                r#"{{"code":0,"msg":"","data":{{"token":{{"access_token":"{TOKEN}","refresh_token":7}}}}}}"#
            ),
        ),
    ] {
        let emu = support::emulator().await;
        let client = support::client(&emu);
        emu.inject(route, Fault::Body(body.clone()), 1);
        errors.push((body, client.ensure_signed_in().await.unwrap_err()));
    }
    assert!(
        errors
            .iter()
            .any(|(_, e)| matches!(e, Error::Decode { .. })),
        "{errors:?}"
    );
    for (body, error) in &errors {
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("eyJ"), "{body} gave {shown}");
        assert!(shown.contains("correlation id"), "{shown}");
    }
    // What is safe is still there: an error page is recognisable.
    let page = errors
        .iter()
        .find(|(body, _)| body.starts_with("<html>"))
        .unwrap();
    assert!(
        page.1
            .to_string()
            .contains("<html><body>Bad gateway: [masked]"),
        "{}",
        page.1
    );
}
