//! Notifications: each wire format byte for byte against a loopback receiver, once-only
//! refusals and incidents, and delivery that never holds up a tick (a receiver that hangs, one
//! that answers 500, a full queue), and `notify-test`'s exit codes.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cloudreve_autoselect::config;
use cloudreve_autoselect::daemon::TickReport;
use cloudreve_autoselect::notify::{self, DeliveryOptions, Notifiers, Timeouts};
use cloudreve_autoselect::sink::{DEFAULT_ACCOUNT, TickSink as _};
use cloudreve_emulator::{Backend, Emulator, TaskSpec};

use crate::support::notified::{
    daemon, daemon_on, far, notified, notify_table, parse, quick, start,
};
use crate::support::{self, Answer, Received, Receiver};

const NAME: &str = "Сериал.S01 — 日本語";

fn non_ascii_task() -> TaskSpec {
    TaskSpec::new(
        Backend::Aria2,
        NAME,
        &[
            ("Сериал.S01 — 日本語/E01.mkv", 1_500_000_000),
            ("Сериал.S01 — 日本語/Реклама.url", 120),
            ("Сериал.S01 — 日本語/RARBG.txt", 31),
        ],
    )
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "one tick, six notifiers, each request checked in full"
)]
async fn every_kind_sends_its_documented_json_byte_for_byte() {
    let emu = support::emulator().await;
    let id = emu.add_task(non_ascii_task());
    let receiver = Receiver::start(Answer::Status(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let secret = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("{text}\n")).unwrap();
        path.display().to_string()
    };
    let ntfy_token = secret("ntfy-token", "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2");
    let gotify_token = secret("gotify-token", "AiOLxxDxYOCc7bY");
    let apprise_urls = secret("apprise-urls", "mailto://user:pass@example.com");
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    std::fs::write(credentials.join("tablet"), "testuser:fakepassword").unwrap();
    let config = parse(
        &emu,
        dir.path(),
        &format!(
            r#"
[[notify]]
kind = "ntfy"
name = "phone"
url = "{ntfy_a}"
token_file = "{ntfy_token}"

[[notify]]
kind = "ntfy"
name = "tablet"
url = "{ntfy_b}"
title_prefix = "[nas] "

[[notify]]
kind = "gotify"
url = "{gotify}"
token_file = "{gotify_token}"

[[notify]]
kind = "apprise"
url = "{apprise_keyed}"

[[notify]]
kind = "apprise"
name = "apprise-stateless"
url = "{apprise_stateless}"
token_file = "{apprise_urls}"

[[notify]]
kind = "webhook"
url = "{hook}"
"#,
            ntfy_a = receiver.url("/a/alerts"),
            ntfy_b = receiver.url("/b/alerts"),
            gotify = receiver.url("/gotify"),
            apprise_keyed = receiver.url("/apprise/notify/abc123"),
            apprise_stateless = receiver.url("/apprise/notify"),
            hook = receiver.url("/hook"),
        ),
    );
    let credentials_dir = credentials.display().to_string();
    let env = move |name: &str| (name == "CREDENTIALS_DIRECTORY").then(|| credentials_dir.clone());
    let targets = notify::targets(&config.notify, &env, Timeouts::default()).unwrap();
    let debug = format!("{targets:?}");
    for secret in ["tk_Ag", "AiOLx", "fakepassword", "user:pass"] {
        assert!(!debug.contains(secret), "{debug}");
    }
    let notifiers = Arc::new(Notifiers::start(targets, quick()));
    let daemon = daemon(&emu, &config, &notifiers);
    let report = daemon.tick().await;
    assert_eq!(report.patched(), 1, "{}", report.summary());
    daemon.flush_sinks(far()).await;

    let by_path: BTreeMap<String, Received> = receiver
        .all()
        .into_iter()
        .map(|r| (r.path.clone(), r))
        .collect();
    assert_eq!(by_path.len(), 6, "{by_path:#?}");
    for request in by_path.values() {
        assert_eq!(request.method, "POST");
        assert_eq!(request.header("content-type"), Some("application/json"));
    }
    let title = "Deselected 2 files (151 B) in 1 task";
    let body = format!("{NAME}: 2 files (151 B) by junk");

    // ntfy: JSON to the server root, the topic in the body; a token as Bearer.
    let phone = &by_path["/a/"];
    assert_eq!(
        phone.header("authorization"),
        Some("Bearer tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2")
    );
    assert_eq!(
        phone.body,
        format!(
            r#"{{"topic":"alerts","title":"{title}","message":"{body}","tags":["wastebasket"],"priority":3}}"#
        )
    );
    // user:password as Basic: the very header of ntfy's documentation.
    let tablet = &by_path["/b/"];
    assert_eq!(
        tablet.header("authorization"),
        Some("Basic dGVzdHVzZXI6ZmFrZXBhc3N3b3Jk")
    );
    assert_eq!(
        tablet.body,
        format!(
            r#"{{"topic":"alerts","title":"[nas] {title}","message":"{body}","tags":["wastebasket"],"priority":3}}"#
        )
    );
    // Gotify: /message with the application token in X-Gotify-Key.
    let gotify = &by_path["/gotify/message"];
    assert_eq!(gotify.header("x-gotify-key"), Some("AiOLxxDxYOCc7bY"));
    assert_eq!(gotify.header("authorization"), None);
    assert_eq!(
        gotify.body,
        format!(r#"{{"title":"{title}","message":"{body}","priority":4}}"#)
    );
    // Apprise API, by key and stateless.
    let keyed = &by_path["/apprise/notify/abc123"];
    assert_eq!(keyed.header("authorization"), None);
    assert_eq!(
        keyed.body,
        format!(r#"{{"title":"{title}","body":"{body}","type":"info"}}"#)
    );
    assert_eq!(
        by_path["/apprise/notify"].body,
        format!(
            r#"{{"urls":"mailto://user:pass@example.com","title":"{title}","body":"{body}","type":"info"}}"#
        )
    );
    // Our webhook, version 1.
    let hook = &by_path["/hook"];
    assert_eq!(hook.header("authorization"), None);
    assert_eq!(
        hook.body,
        format!(
            concat!(
                r#"{{"version":1,"event":"tick","account":"default","dry_run":false,"events":["changed"],"#,
                r#""bytes_saved":151,"files_deselected":2,"counts":{{"changed":1,"refused":0,"failed":0}},"#,
                r#""rules":[{{"rule":"junk","files":2,"bytes":151}}],"#,
                r#""tasks":[{{"event":"changed","id":"{id}","name":"{name}","bytes_saved":151,"files":["#,
                r#"{{"index":2,"path":"{name}/Реклама.url","size":120,"rule":"junk"}},"#,
                r#"{{"index":3,"path":"{name}/RARBG.txt","size":31,"rule":"junk"}}],"files_selected":0}}],"#,
                r#""tasks_omitted":0,"incidents":[]}}"#
            ),
            id = id,
            name = NAME
        )
    );
    for stats in notifiers.stats() {
        assert_eq!((stats.1.sent(), stats.1.failed()), (1, 0), "{}", stats.0);
    }
}

#[tokio::test]
async fn a_refusal_is_told_once_and_a_quiet_tick_sends_nothing() {
    let emu = support::emulator().await;
    emu.add_task(support::all_junk(Backend::Aria2));
    let mut receiver = Receiver::start(Answer::Status(200)).await;
    let (daemon, notifiers, _dir) =
        notified(&emu, &notify_table("webhook", &receiver.url("/hook")));
    daemon.tick().await;
    let first = receiver.next().await;
    assert!(
        first.body.contains(r#""events":["refused"]"#) && first.body.contains(r#""files_total":2"#),
        "{}",
        first.body
    );
    daemon.tick().await;
    daemon.tick().await;
    daemon.flush_sinks(far()).await;
    assert_eq!(receiver.all().len(), 1);
    assert_eq!(notifiers.stats()[0].1.sent(), 1);
}

#[tokio::test]
async fn an_incident_is_told_once_and_its_end_once() {
    let emu = support::emulator().await;
    emu.update_options(|o| o.password = "changed by the admin".into());
    let mut receiver = Receiver::start(Answer::Status(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = parse(
        &emu,
        dir.path(),
        &format!(
            "[[notify]]\nkind = \"gotify\"\nurl = \"{}\"\ntoken = \"AiOLxxDxYOCc7bY\"\n",
            receiver.url("/")
        ),
    );
    assert!(
        config
            .warnings
            .iter()
            .any(|w| w.contains("notify[0].token"))
    );
    let notifiers = start(&config, &|_| None, quick());
    let mut options = support::client_options(&emu);
    options.sign_in_backoff = Duration::ZERO;
    let daemon = daemon_on(
        cloudreve_autoselect::cloudreve::Client::new(options).unwrap(),
        &config,
        &notifiers,
    );
    daemon.tick().await;
    let error = receiver.next().await;
    assert!(
        error.body.starts_with(r#"{"title":"Needs attention: sign-in refused","message":"sign-in as bot@example.com with the password from the configured source refused: wrong email or password (40080)"#),
        "{}",
        error.body
    );
    assert!(error.body.ends_with(r#","priority":8}"#), "{}", error.body);
    daemon.tick().await;
    emu.update_options(|o| o.password = support::PASSWORD.into());
    daemon.tick().await;
    let recovered = receiver.next().await;
    assert_eq!(
        recovered.body,
        r#"{"title":"Recovered","message":"recovered from sign_in_refused","priority":5}"#
    );
    daemon.tick().await;
    daemon.flush_sinks(far()).await;
    assert_eq!(receiver.all().len(), 2);
}

#[tokio::test]
async fn a_receiver_that_hangs_does_not_hold_up_the_tick() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let mut receiver = Receiver::start(Answer::Hang).await;
    let (daemon, notifiers, _dir) =
        notified(&emu, &notify_table("webhook", &receiver.url("/hook")));
    // Bounded only so that a regression fails instead of hanging the suite.
    let report = tokio::time::timeout(Duration::from_secs(300), daemon.tick())
        .await
        .expect("the tick waited for the notification");
    assert_eq!(report.patched(), 1);
    // The tick is over while the notification is still unanswered.
    let request = receiver.next().await;
    assert!(request.body.contains("Some.Show.S01"));
    assert_eq!(notifiers.stats()[0].1.sent(), 0);
    receiver.open();
    daemon.flush_sinks(far()).await;
    assert_eq!(notifiers.stats()[0].1.sent(), 1);
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_instead_of_waiting() {
    let mut receiver = Receiver::start(Answer::Hang).await;
    let emu = support::emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = parse(
        &emu,
        dir.path(),
        &notify_table("ntfy", &receiver.url("/topic")),
    );
    let notifiers = start(
        &config,
        &|_| None,
        DeliveryOptions {
            queue: 1,
            ..quick()
        },
    );
    let report = TickReport {
        events: vec![
            cloudreve_autoselect::outcome::OperatorEvent::StateNotWritable {
                message: "disk full".into(),
            },
        ],
        ..TickReport::default()
    };
    notifiers.observe(DEFAULT_ACCOUNT, &report);
    // The first is being sent (its receiver hangs); the second waits in the queue; the third
    // finds the queue full.
    receiver.next().await;
    notifiers.observe(DEFAULT_ACCOUNT, &report);
    notifiers.observe(DEFAULT_ACCOUNT, &report);
    let stats = Arc::clone(&notifiers.stats()[0].1);
    assert_eq!((stats.queued(), stats.dropped(), stats.sent()), (1, 1, 0));
    receiver.open();
    notifiers.flush(far()).await;
    assert_eq!((stats.queued(), stats.dropped(), stats.sent()), (0, 1, 2));
}

#[tokio::test]
async fn a_500_is_retried_with_backoff_then_given_up_and_a_401_is_not_retried() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let mut failing = Receiver::start(Answer::Status(500)).await;
    let refusing = Receiver::start(Answer::Status(401)).await;
    let (daemon, notifiers, _dir) = notified(
        &emu,
        &format!(
            "{}name = \"failing\"\n\n{}name = \"refusing\"\n",
            notify_table("webhook", &failing.url("/hook")),
            notify_table("webhook", &refusing.url("/hook"))
        ),
    );
    let report = daemon.tick().await;
    assert!(report.succeeded(), "{}", report.summary());
    // The first try and both retries reach the failing receiver.
    for _ in 0..3 {
        failing.next().await;
    }
    daemon.flush_sinks(far()).await;
    let stats: BTreeMap<String, _> = notifiers.stats().into_iter().collect();
    let failed = &stats["failing"];
    assert_eq!(
        (failed.attempts(), failed.failed(), failed.sent()),
        (3, 1, 0)
    );
    let refused = &stats["refusing"];
    assert_eq!((refused.attempts(), refused.failed()), (1, 1));
    assert_eq!(failing.all().len(), 3);
    assert_eq!(refusing.all().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_tells_no_one_and_writes_no_token_file() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    emu.add_task(support::all_junk(Backend::Qbittorrent));
    let receiver = Receiver::start(Answer::Status(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let token = dir.path().join("refresh-token");
    std::fs::write(&token, emu.browser_refresh_token()).unwrap();
    let path = dir.path().join("rules.toml");
    let write_config = |server_extra: &str| {
        std::fs::write(
            &path,
            format!(
                "[server]\nurl = \"{}\"\nemail = \"{}\"\n{server_extra}\n[daemon]\nstate_file = \"{}\"\n[[notify]]\nkind = \"ntfy\"\nurl = \"{}\"\nevents = [\"changed\", \"refused\", \"failed\", \"error\"]\n{}",
                emu.base_url(),
                support::EMAIL,
                state.display(),
                receiver.url("/topic"),
                support::RULES
            ),
        )
        .unwrap();
    };
    write_config(&format!("refresh_token_file = \"{}\"", token.display()));
    // Signing in with a refresh token rotates it: a real run keeps the new one beside the state.
    let output = support::run_binary(
        &["--config", path.to_str().unwrap(), "once", "--dry-run"],
        &[],
    )
    .await;
    support::assert_exit(&output, 0);
    let out = support::stdout(&output);
    assert!(
        out.contains("dry run: would deselect 3 files (50.0 MiB) in 1 task, select 0;")
            && out.contains("; nothing was sent"),
        "{out}"
    );
    assert!(!out.contains("patched"), "{out}");
    // A wrong password in a dry run is an error on the terminal, not an incident.
    write_config("");
    let output = support::run_binary(
        &["--config", path.to_str().unwrap(), "once", "--dry-run"],
        &[("CLOUDREVE_AUTOSELECT_PASSWORD", "wrong password")],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    // Each run flushed its notifiers before it exited: nothing reached the receiver.
    assert!(receiver.all().is_empty(), "{:?}", receiver.all());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("state.json"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

async fn notify_test(dir: &Path, emu: &Emulator, tables: &str) -> std::process::Output {
    let path = dir.join("rules.toml");
    std::fs::write(
        &path,
        support::config_text(&emu.base_url(), &format!("{}\n{tables}", support::RULES)),
    )
    .unwrap();
    support::run_binary(&["--config", path.to_str().unwrap(), "notify-test"], &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_test_reports_each_notifier_and_fails_if_any_failed() {
    let emu = support::emulator().await;
    let good = Receiver::start(Answer::Status(200)).await;
    let bad = Receiver::start(Answer::Status(500)).await;
    let dir = tempfile::tempdir().unwrap();
    let good_table = format!(
        "{}name = \"good\"\n",
        notify_table("webhook", &good.url("/hook"))
    );
    let output = notify_test(dir.path(), &emu, &good_table).await;
    support::assert_exit(&output, 0);
    assert_eq!(
        support::stdout(&output),
        format!("ok: good (webhook, http://{})\n", good.addr)
    );
    let test_body = &good.all()[0].body;
    assert!(
        test_body.starts_with(r#"{"version":1,"event":"test","account":"default","#),
        "{test_body}"
    );

    let both = format!(
        "{good_table}\n[[notify]]\nkind = \"ntfy\"\nname = \"bad\"\nurl = \"{}\"\n",
        bad.url("/secret-topic")
    );
    let output = notify_test(dir.path(), &emu, &both).await;
    assert_eq!(output.status.code(), Some(1));
    let out = support::stdout(&output);
    assert!(out.contains("ok: good (webhook"), "{out}");
    assert!(
        out.contains(&format!(
            "failed: bad (ntfy, http://{}): HTTP 500",
            bad.addr
        )),
        "{out}"
    );
    assert!(
        !out.contains("secret-topic"),
        "the topic is a secret: {out}"
    );
    assert_eq!(
        support::stderr(&output).trim(),
        "error: 1 of 2 notifiers failed"
    );
    assert!(bad.all()[0].body.contains(r#""title":"Test notification""#));

    // Nothing to test is a failure; a Gotify without its token is a config error.
    let output = notify_test(dir.path(), &emu, "").await;
    assert_eq!(output.status.code(), Some(1));
    assert!(support::stderr(&output).contains("no [[notify]] table"));
    let output = notify_test(dir.path(), &emu, &notify_table("gotify", &good.url("/"))).await;
    support::assert_exit(&output, 78);
    assert!(
        support::stderr(&output).contains(
            "notifier gotify (gotify) needs an application token: set token_file, or provide $CREDENTIALS_DIRECTORY/gotify"
        ),
        "{}",
        support::stderr(&output)
    );
}

#[test]
fn the_commented_notify_and_metrics_examples_in_rules_example_toml_are_valid() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules.example.toml"))
            .unwrap();
    let start = text.find("# [[notify]]").unwrap();
    let toml_line = regex::Regex::new(r"^# (\[|[a-z_]+ = )").unwrap();
    let uncommented: Vec<&str> = text[start..]
        .lines()
        .filter(|l| toml_line.is_match(l))
        .map(|l| &l[2..])
        .collect();
    let no_env = |_: &str| None;
    let config = config::parse(
        &support::config_text("https://cloud.example.com", &uncommented.join("\n")),
        Path::new("rules.example.toml"),
        &no_env,
    )
    .unwrap();
    let kinds: Vec<&str> = config.notify.iter().map(|n| n.kind.as_str()).collect();
    assert_eq!(kinds, ["ntfy", "gotify", "apprise", "webhook"]);
    assert_eq!(
        config.metrics.map(|m| m.listen.to_string()).as_deref(),
        Some("127.0.0.1:9464")
    );
}

#[tokio::test]
async fn a_reload_that_changes_notifiers_or_metrics_names_them_as_needing_a_restart() {
    let emu = support::emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let running = parse(&emu, dir.path(), "");
    let edited = parse(
        &emu,
        dir.path(),
        "[[notify]]\nkind = \"ntfy\"\nurl = \"https://ntfy.sh/topic\"\n\n[metrics]\nlisten = \"127.0.0.1:9464\"\n",
    );
    assert_eq!(
        cloudreve_autoselect::daemon::restart_needed(&running, &edited),
        ["notify", "metrics"]
    );
    assert!(cloudreve_autoselect::daemon::restart_needed(&edited, &edited).is_empty());
}
