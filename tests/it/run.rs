//! `run` as a service: the schedule, SIGHUP reloads, SIGTERM, `sd_notify`, an unprivileged user.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use cloudreve_autoselect::emulator::{Backend, Emulator};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt as _;

use crate::support::{self, binary};

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

/// Waits (bounded) until `condition` holds; the daemon runs in another process.
async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn signal(child: &tokio::process::Child, signal: Signal) {
    let pid = i32::try_from(child.id().unwrap()).unwrap();
    kill(Pid::from_raw(pid), signal).unwrap();
}

fn receive_all(socket: &UnixDatagram, into: &mut Vec<String>) {
    let mut buffer = [0u8; 4096];
    while let Ok(n) = socket.recv(&mut buffer) {
        into.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_ticks_reloads_on_sighup_notifies_systemd_and_stops_on_sigterm() {
    let emu = support::emulator().await;
    let first = emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&emu, dir.path(), support::RULES);
    let notify_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&notify_path).unwrap();
    socket.set_nonblocking(true).unwrap();
    let mut child = tokio::process::Command::new(binary())
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)
        .env("NOTIFY_SOCKET", &notify_path)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut notes = Vec::new();

    // One tick at start-up, then one a second.
    wait_for("the start-up PATCH", || support::patches(&emu).len() == 1).await;
    wait_for("READY=1", || {
        receive_all(&socket, &mut notes);
        notes.iter().any(|n| n.contains("READY=1"))
    })
    .await;
    wait_for("repeated ticks", || {
        support::count(&emu, "GET", "/workflow") >= 3
    })
    .await;
    assert_eq!(support::patches(&emu).len(), 1, "a decision is sent once");

    // A valid new rules file: `*.mkv` files of new tasks are now junk too.
    let extra = "[[rule]]\nname = \"no-episode-2\"\naction = \"skip\"\nglob = \"E02.mkv\"\n";
    write_config(&emu, dir.path(), &format!("{}{extra}", support::RULES));
    signal(&child, Signal::SIGHUP);
    wait_for("RELOADING=1 then READY=1", || {
        receive_all(&socket, &mut notes);
        notes.iter().any(|n| n.contains("RELOADING=1"))
            && notes.iter().rposition(|n| n.contains("READY=1"))
                > notes.iter().position(|n| n.contains("RELOADING=1"))
    })
    .await;
    assert!(
        notes.iter().any(|n| n.contains("MONOTONIC_USEC=")),
        "{notes:?}"
    );
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

    signal(&child, Signal::SIGTERM);
    let status = tokio::time::timeout(Duration::from_secs(25), child.wait())
        .await
        .unwrap()
        .unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .await
        .unwrap();
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
    receive_all(&socket, &mut notes);
    assert!(notes.iter().any(|n| n.contains("STOPPING=1")), "{notes:?}");
    let state = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
    for id in [&first, &second, &third] {
        assert!(state.contains(id.as_str()), "{state}");
    }
    assert!(dir.path().join("state.json.heartbeat").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_as_an_unprivileged_user_with_a_read_only_config_and_credentials() {
    use std::os::unix::fs::PermissionsExt as _;
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!(
            "not root: the unprivileged-user check needs root to switch users; running it as the current user"
        );
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
    let root = nix::unistd::Uid::effective().is_root();
    // The unprivileged user may not reach the build directory; give it its own copy.
    let program = dir.path().join("cloudreve-autoselect");
    std::fs::copy(binary(), &program).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let program = program.to_str().unwrap().to_owned();
    if root {
        std::os::unix::fs::chown(&state_dir, Some(65532), Some(65532)).unwrap();
        std::os::unix::fs::chown(&credentials, Some(65532), Some(65532)).unwrap();
        std::os::unix::fs::chown(credentials.join("password"), Some(65532), Some(65532)).unwrap();
    }
    let run = |args: &[&str]| {
        let mut command = if root {
            let mut command = tokio::process::Command::new("setpriv");
            command.args(["--reuid=65532", "--regid=65532", "--clear-groups", &program]);
            command
        } else {
            tokio::process::Command::new(&program)
        };
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
    assert!(
        state_dir.join("state.json").exists(),
        "state goes to $STATE_DIRECTORY"
    );
    std::fs::set_permissions(&config_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}
