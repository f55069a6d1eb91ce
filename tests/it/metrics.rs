//! The Prometheus endpoint: what a scrape shows after real ticks against the emulator, from the
//! library and from the `run` binary.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use cloudreve_autoselect::cloudreve::Client;
use cloudreve_autoselect::config;
use cloudreve_autoselect::daemon::Daemon;
use cloudreve_autoselect::metrics::{self, Metrics};
use cloudreve_autoselect::notify::{self, DeliveryOptions, Notifiers, Timeouts};
use cloudreve_autoselect::sink::{DEFAULT_ACCOUNT, TickSink};
use cloudreve_autoselect::state::StateStore;
use cloudreve_emulator::{Backend, Fault, Route, TaskSpec};
use tokio::io::AsyncBufReadExt as _;
use tokio_util::sync::CancellationToken;

use crate::support;
use crate::support::{Answer, Receiver};

#[expect(
    clippy::disallowed_methods,
    reason = "a bare client, as Prometheus scrapes"
)]
async fn scrape(url: &str) -> (String, String) {
    cloudreve_autoselect::cloudreve::install_crypto_provider();
    let response = reqwest::Client::new().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (content_type, response.text().await.unwrap())
}

fn has_line(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l == line),
        "no line {line:?} in:\n{text}"
    );
}

#[tokio::test]
async fn a_scrape_shows_ticks_rules_patches_requests_tasks_and_notifications() {
    let emu = support::emulator().await;
    let show = emu.add_task(support::show(Backend::Aria2));
    let junk = emu.add_task(support::all_junk(Backend::Aria2));
    emu.add_task(
        TaskSpec::new(Backend::Aria2, "Waiting.Magnet", &[("x.mkv", 1)]).metadata_pending(),
    );
    emu.inject(Route::List, Fault::Http500, 1);
    let receiver = Receiver::start(Answer::Status(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let text = support::config_text(
        &emu.base_url(),
        &format!(
            "[[notify]]\nkind = \"webhook\"\nurl = \"{}\"\n\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
            receiver.url("/hook")
        ),
    );
    let no_env = |_: &str| None;
    let config = config::parse(&text, Path::new("rules.toml"), &no_env).unwrap();
    assert!(config.metrics.is_some());
    let targets = notify::targets(&config.notify, &no_env, Timeouts::default()).unwrap();
    let notifiers = Arc::new(Notifiers::start(targets, DeliveryOptions::default()));
    let metrics = Arc::new(Metrics::new(&[DEFAULT_ACCOUNT], notifiers.stats()));
    let mut options = support::client_options(&emu);
    options.on_request = Some(metrics.request_observer(DEFAULT_ACCOUNT));
    let (state, _) = StateStore::open(&dir.path().join("state.json")).unwrap();
    let daemon = Daemon::new(
        Client::new(options).unwrap(),
        support::settings(support::RULES, false),
        state,
        None,
    )
    .with_sinks(vec![
        Arc::clone(&notifiers) as Arc<dyn TickSink>,
        Arc::clone(&metrics) as Arc<dyn TickSink>,
    ]);
    assert_eq!(daemon.tick().await.patched(), 1);
    assert_eq!(daemon.tick().await.patched(), 0);
    daemon
        .flush_sinks(tokio::time::Instant::now() + Duration::from_secs(600))
        .await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let server = tokio::spawn(metrics::serve(listener, Arc::clone(&metrics), stop.clone()));
    let (content_type, text) = scrape(&format!("http://{addr}/metrics")).await;
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    for line in [
        "# TYPE cloudreve_autoselect_ticks_total counter",
        r#"cloudreve_autoselect_ticks_total{account="default",outcome="ok"} 2"#,
        "# TYPE cloudreve_autoselect_tick_duration_seconds histogram",
        r#"cloudreve_autoselect_tick_duration_seconds_count{account="default"} 2"#,
        r#"cloudreve_autoselect_files_deselected_total{account="default",rule="junk"} 2"#,
        r#"cloudreve_autoselect_files_deselected_total{account="default",rule="samples"} 1"#,
        r#"cloudreve_autoselect_bytes_deselected_total{account="default",rule="junk"} 151"#,
        r#"cloudreve_autoselect_bytes_deselected_total{account="default",rule="samples"} 52428800"#,
        r#"cloudreve_autoselect_patches_total{account="default",outcome="applied"} 1"#,
        r#"cloudreve_autoselect_api_requests_total{account="default",endpoint="POST /session/token",outcome="ok"} 1"#,
        r#"cloudreve_autoselect_api_requests_total{account="default",endpoint="GET /workflow",outcome="http_error"} 1"#,
        r#"cloudreve_autoselect_api_requests_total{account="default",endpoint="GET /workflow",outcome="ok"} 2"#,
        r#"cloudreve_autoselect_api_requests_total{account="default",endpoint="PATCH /workflow/download/{id}",outcome="ok"} 1"#,
        "# TYPE cloudreve_autoselect_tasks gauge",
        r#"cloudreve_autoselect_tasks{account="default",state="no_change"} 1"#,
        r#"cloudreve_autoselect_tasks{account="default",state="refused"} 1"#,
        r#"cloudreve_autoselect_tasks{account="default",state="waiting_for_metadata"} 1"#,
        r#"cloudreve_autoselect_tasks{account="default",state="changed"} 0"#,
        &format!(
            r#"cloudreve_autoselect_build_info{{account="default",version="{}"}} 1"#,
            env!("CARGO_PKG_VERSION")
        ),
        r#"cloudreve_autoselect_notifications_total{notifier="webhook",outcome="sent"} 1"#,
        r#"cloudreve_autoselect_notifications_total{notifier="webhook",outcome="failed"} 0"#,
        r#"cloudreve_autoselect_notifications_dropped_total{notifier="webhook"} 0"#,
    ] {
        has_line(&text, line);
    }
    let last_success = text
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                r#"cloudreve_autoselect_last_success_timestamp_seconds{account="default"} "#,
            )
        })
        .unwrap();
    assert!(
        last_success.parse::<f64>().unwrap() > 1.7e9,
        "{last_success}"
    );
    // Rule and route names only: never a task's or a file's name, nor a task id.
    for secret in [
        "Some.Show",
        "Installer",
        "sample.mkv",
        show.as_str(),
        junk.as_str(),
    ] {
        assert!(!text.contains(secret), "{secret:?} leaked into:\n{text}");
    }
    stop.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_metrics_where_the_config_says() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    std::fs::write(
        &path,
        support::config_text(
            &emu.base_url(),
            &format!(
                "[daemon]\nschedule = \"0 0 0 1 1 *\"\nstate_file = \"{}\"\n\n[metrics]\nlisten = \"127.0.0.1:0\"\n{}",
                dir.path().join("state.json").display(),
                support::RULES
            ),
        ),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(support::binary())
        .args(["--config", path.to_str().unwrap(), "run"])
        .env("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)
        .env_remove("RUST_LOG")
        .env_remove("CREDENTIALS_DIRECTORY")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut url = None;
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.contains("serving metrics") {
            let rest = line.split("url=").nth(1).unwrap();
            url = Some(rest.split_whitespace().next().unwrap().to_owned());
            break;
        }
    }
    let url = url.expect("no \"serving metrics\" line");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    // The daemon is another process: wait, bounded, for its start-up tick to be counted.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let text = loop {
        let (_, text) = scrape(&url).await;
        if text.contains("cloudreve_autoselect_ticks_total{") {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no tick counted:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    has_line(
        &text,
        r#"cloudreve_autoselect_files_deselected_total{account="default",rule="samples"} 1"#,
    );
    has_line(
        &text,
        r#"cloudreve_autoselect_ticks_total{account="default",outcome="ok"} 1"#,
    );
    support::signal(&child, nix::sys::signal::Signal::SIGTERM);
    assert_eq!(child.wait().await.unwrap().code(), Some(0));
}
