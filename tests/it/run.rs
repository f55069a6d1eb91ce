//! `run` as a service: the schedule, SIGHUP reloads, SIGTERM, `sd_notify`, an unprivileged user.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloudreve_emulator::{Backend, Emulator};
use nix::sys::signal::Signal;

use crate::support::{self, binary};
use crate::support::{StderrLog, signal, signal_and_read_stderr, wait_for};

fn write_config(emu: &Emulator, dir: &Path, rules: &str) -> PathBuf {
    let state = dir.join("state.json");
    let text = support::config_text(
        &emu.base_url(),
        &format!(
            "[daemon]\nschedule = \"* * * * * *\"\nstate_file = \"{}\"\n{rules}",
            state.display()
        ),
    );
    let path = dir.join("rules.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Collects `sd_notify` datagrams on a thread, as systemd would, so the daemon never blocks.
fn collect_notifications(socket: UnixDatagram) -> Arc<Mutex<Vec<String>>> {
    let notes = Arc::new(Mutex::new(Vec::new()));
    let collected = Arc::clone(&notes);
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        // Ends when the test ends and drops the last reference.
        while Arc::strong_count(&collected) > 1 {
            if let Ok(n) = socket.recv(&mut buffer) {
                collected
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buffer[..n]).into_owned());
            }
        }
    });
    notes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_ticks_reloads_on_sighup_notifies_systemd_and_stops_on_sigterm() {
    let emu = support::emulator().await;
    let first = emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&emu, dir.path(), support::RULES);
    let notify_path = dir.path().join("notify.sock");
    let notes = collect_notifications(UnixDatagram::bind(&notify_path).unwrap());
    let seen = |needle: &str| {
        notes
            .lock()
            .unwrap()
            .iter()
            .filter(|n| n.contains(needle))
            .count()
    };
    let child = tokio::process::Command::new(binary())
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)
        .env("NOTIFY_SOCKET", &notify_path)
        .env("WATCHDOG_USEC", "400000")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // One tick at start-up, then one a second.
    wait_for("the start-up PATCH", || support::patches(&emu).len() == 1).await;
    wait_for("READY=1", || seen("READY=1") >= 1).await;
    wait_for("repeated ticks", || {
        support::count(&emu, "GET", "/workflow") >= 3
    })
    .await;
    assert_eq!(support::patches(&emu).len(), 1, "a decision is sent once");
    wait_for("WATCHDOG=1 pings", || seen("WATCHDOG=1") >= 2).await;

    // A valid new rules file: `*.mkv` files of new tasks are now junk too.
    let extra = "[[rule]]\nname = \"no-episode-2\"\naction = \"skip\"\nglob = \"E02.mkv\"\n";
    write_config(&emu, dir.path(), &format!("{}{extra}", support::RULES));
    signal(&child, Signal::SIGHUP);
    wait_for("RELOADING=1 then READY=1", || {
        seen("RELOADING=1") == 1 && seen("READY=1") == 2
    })
    .await;
    assert_eq!(seen("MONOTONIC_USEC="), 1);
    let second = emu.add_task(support::show(Backend::Qbittorrent));
    wait_for("the new rule applied", || {
        support::patches(&emu).iter().any(|(id, _)| *id == second)
    })
    .await;
    let sent = support::patches(&emu);
    let (_, files) = sent.iter().find(|(id, _)| *id == second).unwrap();
    assert_eq!(files, &[(1, false), (2, false), (4, false), (5, false)]);

    // An invalid rules file is refused; the old rules stay.
    std::fs::write(&config, "[server\nbroken").unwrap();
    signal(&child, Signal::SIGHUP);
    let third = emu.add_task(support::show(Backend::Aria2));
    wait_for("the old rules still applied", || {
        support::patches(&emu).iter().any(|(id, _)| *id == third)
    })
    .await;

    let (status, log) = signal_and_read_stderr(child, Signal::SIGTERM).await;
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("rules reloaded"), "{log}");
    assert!(
        log.contains("rules not reloaded, keeping the previous rules"),
        "{log}"
    );
    assert!(
        log.contains("expected `]`") || log.contains("invalid config file"),
        "{log}"
    );
    wait_for("STOPPING=1", || seen("STOPPING=1") == 1).await;
    let state = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
    for id in [&first, &second, &third] {
        assert!(state.contains(id.as_str()), "{state}");
    }
    assert!(dir.path().join("state.json.heartbeat").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_waits_for_the_patch_in_flight_and_a_second_signal_exits_at_once() {
    use cloudreve_emulator::{Fault, Route};
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    // The PATCH takes 30 s to answer: the first SIGTERM must wait for it, the second not.
    emu.inject(Route::Patch, Fault::Delay(Duration::from_secs(30)), 1);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&emu, dir.path(), support::RULES);
    let mut child = tokio::process::Command::new(binary())
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_for("the PATCH in flight", || {
        support::count(&emu, "PATCH", "") == 1
    })
    .await;
    signal(&child, Signal::SIGTERM);
    let still_running = tokio::time::timeout(Duration::from_millis(500), child.wait()).await;
    assert!(
        still_running.is_err(),
        "the first SIGTERM waits for the request in flight"
    );
    signal(&child, Signal::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(130));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_between_ticks_exits_0_at_once() {
    let emu = support::emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&emu, dir.path(), support::RULES);
    let mut child = tokio::process::Command::new(binary())
        .args([
            "--config",
            config.to_str().unwrap(),
            "--log-format",
            "json",
            "run",
        ])
        .env("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)
        .env("JOURNAL_STREAM", "8:1234")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Between ticks: once the first tick has said it finished.
    let mut stderr = StderrLog::take(&mut child);
    stderr.wait_for_line("tick finished").await;
    signal(&child, Signal::SIGINT);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let log = stderr.finish().await;
    let first: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert!(
        first.get("timestamp").is_none(),
        "no timestamps under journald: {first}"
    );
    assert!(log.contains("\"message\":\"tick finished\""), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_log_info_shows_this_programs_info_and_not_the_schedulers() {
    let emu = support::emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&emu, dir.path(), support::RULES);
    // As the systemd unit and the Dockerfile set it.
    let child = tokio::process::Command::new(binary())
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let heartbeat = dir.path().join("state.json.heartbeat");
    // The second list comes from the scheduler, which is running by then.
    wait_for("a scheduled tick", || {
        heartbeat.exists() && support::count(&emu, "GET", "/workflow") >= 2
    })
    .await;
    let (status, log) = signal_and_read_stderr(child, Signal::SIGTERM).await;
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("cloudreve-autoselect starting") && log.contains("tick finished"),
        "{log}"
    );
    for chatter in ["Uninited", "Job creator created"] {
        assert!(!log.contains(chatter), "{chatter:?} in\n{log}");
    }
}

/// The uid the daemon's image runs as (distroless `nonroot`).
const UNPRIVILEGED_UID: u32 = 65532;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_as_an_unprivileged_user_with_a_read_only_config_and_credentials() {
    use std::io::Write as _;
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    if !nix::unistd::Uid::effective().is_root() {
        // Written past libtest's capture, so the skip shows in every run; CI runs as root.
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED runs_as_an_unprivileged_user_with_a_read_only_config_and_credentials: switching to uid {UNPRIVILEGED_UID} needs root"
        );
        return;
    }
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let state_dir = dir.path().join("state");
    std::fs::create_dir(&state_dir).unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    std::fs::write(credentials.join("password"), support::PASSWORD).unwrap();
    let config_dir = dir.path().join("config");
    std::fs::create_dir(&config_dir).unwrap();
    let config = config_dir.join("rules.toml");
    std::fs::write(
        &config,
        support::config_text(&emu.base_url(), support::RULES),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(&config_dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    // The unprivileged user may not reach the build directory; give it its own copy.
    let program = dir.path().join("cloudreve-autoselect");
    std::fs::copy(binary(), &program).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let program = program.to_str().unwrap().to_owned();
    let owner = Some(UNPRIVILEGED_UID);
    std::os::unix::fs::chown(&state_dir, owner, owner).unwrap();
    std::os::unix::fs::chown(&credentials, owner, owner).unwrap();
    std::os::unix::fs::chown(credentials.join("password"), owner, owner).unwrap();
    let run = |args: &[&str]| {
        let mut command = tokio::process::Command::new("setpriv");
        command
            .arg(format!("--reuid={UNPRIVILEGED_UID}"))
            .arg(format!("--regid={UNPRIVILEGED_UID}"))
            .args(["--clear-groups", "--", &program]);
        command
            .args(args)
            .env_clear()
            .env("CREDENTIALS_DIRECTORY", &credentials)
            .env("STATE_DIRECTORY", &state_dir)
            .env("PATH", "/usr/bin:/bin");
        command
    };
    let config_arg = config.to_str().unwrap();
    let output = run(&["--config", config_arg, "check"])
        .output()
        .await
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = run(&["--config", config_arg, "once"])
        .output()
        .await
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(support::patches(&emu).len(), 1);
    let state =
        std::fs::metadata(state_dir.join("state.json")).expect("state goes to $STATE_DIRECTORY");
    assert_eq!(
        (state.uid(), state.gid()),
        (UNPRIVILEGED_UID, UNPRIVILEGED_UID),
        "the daemon really ran as the unprivileged user"
    );

    std::fs::set_permissions(&config_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}
