//! The test harness: an emulator, a client or daemon wired to it, fixtures.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cloudreve_autoselect::cloudreve::{Client, ClientOptions};
use cloudreve_autoselect::config;
use cloudreve_autoselect::daemon::{Daemon, Settings};
use cloudreve_autoselect::rules::RuleSet;
use cloudreve_autoselect::state::StateStore;
use cloudreve_emulator::{Backend, Emulator, EmulatorOptions, TaskSpec};
use secrecy::SecretString;

pub(crate) mod notified;
mod process;
mod receiver;
pub(crate) use process::{
    StderrLog, signal, signal_and_read_stderr, start_service, start_up_only_config,
};
pub(crate) use receiver::{Answer, Received, Receiver};

pub(crate) const PASSWORD: &str = "correct horse battery staple";
pub(crate) const EMAIL: &str = "bot@example.com";
/// A password source, as the service would have one: `check` reports a missing one.
pub(crate) const CHECK_ENV: &[(&str, &str)] = &[("CLOUDREVE_AUTOSELECT_PASSWORD", PASSWORD)];

pub(crate) async fn emulator() -> Emulator {
    Emulator::start(EmulatorOptions::default()).await.unwrap()
}

pub(crate) fn client_options(emulator: &Emulator) -> ClientOptions {
    let api = url::Url::parse(&emulator.base_url())
        .unwrap()
        .join("api/v4/")
        .unwrap();
    let mut options = ClientOptions::new(api, EMAIL.into(), SecretString::from(PASSWORD));
    options.retry_min_delay = Duration::from_millis(5);
    options.retry_max_delay = Duration::from_millis(20);
    options.timeout = Duration::from_secs(5);
    options
}

pub(crate) fn client(emulator: &Emulator) -> Client {
    Client::new(client_options(emulator)).unwrap()
}

/// A config text with a server section pointing at `url` and the given rules.
pub(crate) fn config_text(url: &str, rules: &str) -> String {
    format!("[server]\nurl = \"{url}\"\nemail = \"{EMAIL}\"\n\n{rules}")
}

/// A config text for `emulator` with a `[daemon]` section (the `daemon` lines, then the state
/// file `dir/state.json`) and the test rules.
pub(crate) fn daemon_config_text(emulator: &Emulator, dir: &Path, daemon: &str) -> String {
    config_text(
        &emulator.base_url(),
        &format!(
            "[daemon]\n{daemon}state_file = \"{}\"\n{RULES}",
            dir.join("state.json").display()
        ),
    )
}

pub(crate) const RULES: &str = r#"
[[rule]]
name = "keep-subs"
action = "keep"
glob = "*.srt"

[[rule]]
name = "junk"
action = "skip"
glob = ["*.exe", "*.url", "*.txt", "*.nfo"]

[[rule]]
name = "samples"
action = "skip"
glob = "**/sample/**"
"#;

pub(crate) fn rules(text: &str) -> RuleSet {
    let no_env = |_: &str| None;
    config::parse(
        &config_text("http://127.0.0.1/", text),
        Path::new("rules.toml"),
        &no_env,
    )
    .unwrap()
    .rules
}

pub(crate) fn settings(rules_text: &str, dry_run: bool) -> Settings {
    Settings {
        rules: Arc::new(rules(rules_text)),
        dry_run,
        metadata_recheck: Duration::from_secs(5),
    }
}

pub(crate) fn daemon(emulator: &Emulator, state_file: &Path) -> Daemon {
    daemon_with(emulator, state_file, settings(RULES, false))
}

pub(crate) fn daemon_with(emulator: &Emulator, state_file: &Path, settings: Settings) -> Daemon {
    let (state, warnings) = StateStore::open(state_file).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    Daemon::new(client(emulator), settings, state, None)
}

pub(crate) fn state_file(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("state.json")
}

pub(crate) fn show(backend: Backend) -> TaskSpec {
    TaskSpec::new(
        backend,
        "Some.Show.S01",
        &[
            ("Some.Show.S01/E01.mkv", 1_503_238_553),
            ("Some.Show.S01/E02.mkv", 1_497_366_528),
            ("Some.Show.S01/Sample/sample.mkv", 52_428_800),
            ("Some.Show.S01/Subs/en.srt", 40_000),
            ("Some.Show.S01/RARBG.txt", 31),
            ("Some.Show.S01/www.ads.example.url", 120),
        ],
    )
}

pub(crate) fn all_junk(backend: Backend) -> TaskSpec {
    TaskSpec::new(
        backend,
        "Installer",
        &[
            ("Installer/setup.exe", 2_000_000),
            ("Installer/readme.txt", 100),
        ],
    )
}

/// PATCH bodies as (task id, [(index, download)]).
pub(crate) fn patches(emulator: &Emulator) -> Vec<(String, Vec<(u64, bool)>)> {
    emulator
        .patches()
        .into_iter()
        .map(|(id, body)| {
            let files = body["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    (
                        f["index"].as_u64().unwrap(),
                        f["download"].as_bool().unwrap(),
                    )
                })
                .collect();
            (id, files)
        })
        .collect()
}

pub(crate) fn count(emulator: &Emulator, method: &str, path_suffix: &str) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.method == method && r.path.ends_with(path_suffix))
        .count()
}

/// The requests the emulator got, each as "METHOD /path", in order.
pub(crate) fn calls(emulator: &Emulator) -> Vec<String> {
    emulator
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

pub(crate) fn selected(emulator: &Emulator, id: &str) -> Vec<(u64, bool)> {
    emulator
        .files(id)
        .iter()
        .map(|f| (f.index, f.selected))
        .collect()
}

pub(crate) fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_cloudreve-autoselect")
}

/// Runs the built binary with `envs`, and with none of the caller's password, credential,
/// log-filter or proxy variables, so the machine's environment cannot change a test.
pub(crate) async fn run_binary(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut command = tokio::process::Command::new(binary());
    command.args(args);
    for name in [
        "CLOUDREVE_AUTOSELECT_PASSWORD",
        "CLOUDREVE_AUTOSELECT_CONFIG",
        "CREDENTIALS_DIRECTORY",
        "STATE_DIRECTORY",
        "RUST_LOG",
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        command.env_remove(name);
    }
    for (key, value) in envs {
        command.env(key, value);
    }
    command.output().await.unwrap()
}

pub(crate) fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts that the process exited with `code`, showing its stderr if it did not.
#[track_caller]
pub(crate) fn assert_exit(output: &std::process::Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "{}", stderr(output));
}

/// Waits (bounded, 20 s) until `condition` holds: for a daemon that runs in another process,
/// whose progress a test can only observe.
pub(crate) async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
