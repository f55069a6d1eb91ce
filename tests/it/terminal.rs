//! Whatever the terminal does, the process goes on: a closed stderr (`demo 2>&1 | head -3`, a
//! log reader that went away) never ends a command or a service's tick, and a closed stdout
//! ends a report quietly. Run through the debug binary, where a panic exits 101 (the release
//! profile aborts with 134): either is a failure here.

use std::path::Path;
use std::process::Stdio;

use cloudreve_emulator::{Backend, Emulator};
use nix::sys::signal::Signal;
use tokio::io::AsyncReadExt as _;

use crate::support::{self, binary, wait_for};

/// A pipe whose reader is already gone: every write to it fails with `EPIPE`.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer
}

fn config(emu: &Emulator, dir: &Path) -> std::path::PathBuf {
    let path = dir.join("rules.toml");
    let text = support::daemon_config_text(emu, dir, "schedule = \"* * * * * *\"\n");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_and_a_dry_run_into_a_closed_pipe_exit_0() {
    // `demo 2>&1 | head -3` after head left: stdout and stderr both closed.
    let pipe = closed_pipe();
    // (`output()` would replace both with pipes of its own: spawn and wait instead.)
    let status = tokio::process::Command::new(binary())
        .arg("demo")
        .env("RUST_LOG", "debug")
        .stdout(pipe.try_clone().unwrap())
        .stderr(pipe)
        .spawn()
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");

    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let config = config(&emu, dir.path());
    let mut child = tokio::process::Command::new(binary())
        .args(["--config", config.to_str().unwrap(), "once", "--dry-run"])
        .env("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(closed_pipe())
        .spawn()
        .unwrap();
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .await
        .unwrap();
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(stdout.contains("nothing was sent"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_whose_log_reader_left_keeps_ticking() {
    let emu = support::emulator().await;
    let id = emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let config = config(&emu, dir.path());
    let mut child = tokio::process::Command::new(binary())
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(closed_pipe())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_for("the start-up PATCH", || support::patches(&emu).len() == 1).await;
    // A task added later is handled by a later tick, each tick logging into the closed pipe.
    let second = emu.add_task(support::show(Backend::Qbittorrent));
    wait_for("the second task's PATCH", || {
        support::patches(&emu).len() == 2
    })
    .await;
    assert!(!emu.files(&id)[4].selected);
    assert!(!emu.files(&second)[4].selected);
    support::signal(&child, Signal::SIGTERM);
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
}
