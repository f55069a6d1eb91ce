//! The metrics port cannot starve the daemon (`metrics::server`): the binary runs under a limit
//! of 128 file descriptors while 150 idle connections are opened to `[metrics] listen`; it
//! holds no more of them than its cap (a quarter of the limit), a tick still records and sends
//! its decisions, and a scrape answers once the connections close.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use cloudreve_emulator::Backend;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::{self, wait_for};

/// Descriptors the process has open.
fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// One scrape over a fresh connection: the answer, or `None` if there was none in 5 s.
async fn scrape(addr: &str) -> Option<String> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.ok()?;
        Some(answer)
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .ok()
        .flatten()
}

fn config(dir: &Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("rules.toml");
    std::fs::write(
        &path,
        support::config_text(
            url,
            &format!(
                "[daemon]\nschedule = \"* * * * * *\"\nstate_file = \"{}\"\n\n[metrics]\nlisten = \"127.0.0.1:0\"\n{}",
                dir.join("state.json").display(),
                support::RULES
            ),
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_to_the_metrics_port_cannot_starve_the_state() {
    let emu = support::emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path(), &emu.base_url());
    // prlimit sets the limit and executes the daemon in its own process (same pid).
    let mut child = tokio::process::Command::new("prlimit")
        .args(["--nofile=128:128", "--", support::binary()])
        .args(["--config", path.to_str().unwrap(), "run"])
        .env("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)
        .env("RUST_LOG", "info")
        .env_remove("CREDENTIALS_DIRECTORY")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut addr = None;
    while let Some(line) = lines.next_line().await.unwrap() {
        if let Some(rest) = line.split("url=http://").nth(1) {
            addr = rest.split('/').next().map(str::to_owned);
            break;
        }
    }
    let addr = addr.expect("no \"serving metrics\" line");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let heartbeat = dir.path().join("state.json.heartbeat");
    wait_for("the first tick", || heartbeat.exists()).await;
    let baseline = open_descriptors(pid);

    let mut idle = Vec::new();
    // More than the descriptor limit, and no more than the cap plus the listener's accept queue
    // (128 here), so that every connect completes at once.
    for _ in 0..150 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    // A quarter of 128: the daemon takes 32 connections and leaves the others queued.
    let cap = cloudreve_autoselect::metrics::connection_cap(128);
    assert_eq!(cap, 32);
    wait_for("the daemon to take its share of the connections", || {
        open_descriptors(pid) >= baseline + cap
    })
    .await;

    // A new task: its decisions are written ahead (journal, state) and its PATCH sent.
    emu.add_task(support::show(Backend::Aria2));
    wait_for("the PATCH of the new task", || {
        !support::patches(&emu).is_empty()
    })
    .await;
    let held = open_descriptors(pid);
    assert!(
        held < baseline + cap + 16,
        "{held} descriptors open, {baseline} before the flood"
    );

    drop(idle);
    // The PATCH is counted when its tick ends: scrape until it is (bounded).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let answer = scrape(&addr)
            .await
            .expect("no scrape answer after the flood");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        if answer.contains("cloudreve_autoselect_patches_total{") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{answer}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().await.unwrap();
}

#[tokio::test]
async fn a_silent_connection_is_closed_and_frees_its_slot() {
    let metrics = std::sync::Arc::new(cloudreve_autoselect::metrics::Metrics::new(
        &["default"],
        Vec::new(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::time::pause();
    let server = tokio::spawn(cloudreve_autoselect::metrics::serve(
        listener,
        std::sync::Arc::clone(&metrics),
        stop.clone(),
    ));
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    // Half a request head, then nothing: the header-read timer closes the connection.
    silent
        .write_all(b"GET /metrics HTTP/1.1\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    // The clock is paused: it jumps to the next timer, the header-read timeout (10 s) before
    // this test's own minute.
    let started = tokio::time::Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(60), silent.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the silent connection was never closed");
    let waited = started.elapsed();
    assert!(
        waited >= cloudreve_autoselect::metrics::HEADER_READ_TIMEOUT
            && waited < Duration::from_secs(60),
        "{waited:?}"
    );
    assert!(!String::from_utf8_lossy(&rest).contains("200"));
    tokio::time::resume();
    let answer = scrape(&addr).await.expect("no answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    stop.cancel();
    server.await.unwrap().unwrap();
}
