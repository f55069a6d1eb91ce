//! The daemon as another process: signals, and its stderr read to the end or up to a line.

use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};
use tokio::process::{Child, ChildStderr};

/// Sends `signal` to the child.
pub(crate) fn signal(child: &Child, signal: Signal) {
    let pid = i32::try_from(child.id().unwrap()).unwrap();
    kill(Pid::from_raw(pid), signal).unwrap();
}

/// Sends `signal`, waits (bounded, 25 s) for the child to exit, and returns its exit status
/// with everything it wrote to stderr (which must be piped).
pub(crate) async fn signal_and_read_stderr(
    mut child: Child,
    signal: Signal,
) -> (ExitStatus, String) {
    self::signal(&child, signal);
    let status = tokio::time::timeout(Duration::from_secs(25), child.wait())
        .await
        .expect("the process did not exit")
        .unwrap();
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .await
        .unwrap();
    (status, log)
}

/// A child's stderr, read line by line: a test waits for a line before acting, instead of
/// sleeping, and keeps what it read for the final assertions.
pub(crate) struct StderrLog {
    reader: BufReader<ChildStderr>,
    read: String,
}

impl StderrLog {
    /// Takes the child's (piped) stderr.
    pub(crate) fn take(child: &mut Child) -> Self {
        Self {
            reader: BufReader::new(child.stderr.take().unwrap()),
            read: String::new(),
        }
    }

    /// Reads (bounded, 20 s) until a line containing `needle` has been read.
    pub(crate) async fn wait_for_line(&mut self, needle: &str) {
        let reading = async {
            loop {
                let mut line = String::new();
                let n = self.reader.read_line(&mut line).await.unwrap();
                assert!(n > 0, "stderr ended before {needle:?}:\n{}", self.read);
                self.read.push_str(&line);
                if line.contains(needle) {
                    return;
                }
            }
        };
        if tokio::time::timeout(Duration::from_secs(20), reading)
            .await
            .is_err()
        {
            panic!("timed out waiting for {needle:?} in:\n{}", self.read);
        }
    }

    /// Reads the rest (the child must have exited or be about to) and returns all of it.
    pub(crate) async fn finish(mut self) -> String {
        self.reader.read_to_string(&mut self.read).await.unwrap();
        self.read
    }
}

/// Writes `rules.toml` in `dir` for a `run` whose schedule never fires (only its start-up
/// tick runs), with its state in `dir/state.json`, and returns its path.
pub(crate) fn start_up_only_config(
    emulator: &cloudreve_emulator::Emulator,
    dir: &std::path::Path,
) -> std::path::PathBuf {
    let config = dir.join("rules.toml");
    let text = super::daemon_config_text(emulator, dir, "schedule = \"0 0 0 1 1 *\"\n");
    std::fs::write(&config, text).unwrap();
    config
}

/// Starts `run` on `config` as the service would, its output discarded, and waits (bounded)
/// until its start-up tick has written `state`.
pub(crate) async fn start_service(config: &std::path::Path, state: &std::path::Path) -> Child {
    let service = tokio::process::Command::new(super::binary())
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("CLOUDREVE_AUTOSELECT_PASSWORD", super::PASSWORD)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    super::wait_for("the service's start-up tick to write the state", || {
        state.exists()
    })
    .await;
    service
}
