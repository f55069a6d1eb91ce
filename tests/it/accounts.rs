//! Several accounts in one daemon: each has its own worker, state and credential, and one
//! account's slow server never delays another's tick.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use cloudreve_emulator::{Backend, Emulator, Fault, Route};
use nix::sys::signal::Signal;

use crate::support::{self, patches};
use crate::support::{StderrLog, signal, wait_for};

fn two_accounts(slow: &Emulator, fast: &Emulator, dir: &Path, extra: &str) -> String {
    format!(
        "[server]\nurl = \"{}\"\nemail = \"{}\"\ntimeout = \"60s\"\n\n[daemon]\nschedule = \"0 0 0 1 1 *\"\nstate_file = \"{}\"\n\n[[account]]\nname = \"bob\"\nurl = \"{}\"\nemail = \"{}\"\n{extra}\n{}",
        slow.base_url(),
        support::EMAIL,
        dir.join("state.json").display(),
        fast.base_url(),
        support::EMAIL,
        support::RULES
    )
}

fn credentials(dir: &Path) -> std::path::PathBuf {
    let credentials = dir.join("credentials");
    std::fs::create_dir_all(&credentials).unwrap();
    std::fs::write(credentials.join("bob.password"), support::PASSWORD).unwrap();
    credentials
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_account_does_not_delay_another_and_states_stay_apart() {
    let slow = support::emulator().await;
    let fast = support::emulator().await;
    slow.add_task(support::show(Backend::Aria2));
    let bobs = fast.add_task(support::show(Backend::Qbittorrent));
    // The slow server answers its list only after 40 s.
    slow.inject(Route::List, Fault::Delay(Duration::from_secs(40)), 10);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rules.toml");
    std::fs::write(&config, two_accounts(&slow, &fast, dir.path(), "")).unwrap();
    let credentials = credentials(dir.path());
    let mut child = tokio::process::Command::new(support::binary())
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)
        .env("CREDENTIALS_DIRECTORY", &credentials)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Bob's start-up tick lands while the default account's list is still held.
    wait_for("bob's PATCH", || !patches(&fast).is_empty()).await;
    assert_eq!(patches(&fast)[0].0, bobs);
    assert!(patches(&slow).is_empty());
    wait_for("bob's state", || dir.path().join("state.bob.json").exists()).await;
    let bob_state = std::fs::read_to_string(dir.path().join("state.bob.json")).unwrap();
    assert!(bob_state.contains(&bobs), "{bob_state}");
    assert!(!dir.path().join("state.json").exists());
    // A reload that adds an account says it needs a restart.
    let text = two_accounts(&slow, &fast, dir.path(), "")
        + "\n[[account]]\nname = \"carol\"\nurl = \"http://127.0.0.1:9/\"\nemail = \"c@example.com\"\npassword = \"x\"\n";
    std::fs::write(&config, text).unwrap();
    let mut stderr = StderrLog::take(&mut child);
    signal(&child, Signal::SIGHUP);
    stderr.wait_for_line("apply only after a restart").await;
    signal(&child, Signal::SIGINT);
    signal(&child, Signal::SIGINT);
    let _ = tokio::time::timeout(Duration::from_secs(20), child.wait()).await;
    let log = stderr.finish().await;
    assert!(log.contains("apply only after a restart"), "{log}");
    assert!(log.contains("the accounts"), "{log}");
    assert!(
        log.contains("account=bob") || log.contains("account: bob"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_handles_every_account_and_check_lists_them() {
    let first = support::emulator().await;
    let second = support::emulator().await;
    let a = first.add_task(support::show(Backend::Aria2));
    let b = second.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rules.toml");
    std::fs::write(&config, two_accounts(&first, &second, dir.path(), "")).unwrap();
    let credentials = credentials(dir.path());
    let env = [
        ("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD),
        ("CREDENTIALS_DIRECTORY", credentials.to_str().unwrap()),
    ];
    let output = support::run_binary(&["--config", config.to_str().unwrap(), "check"], &env).await;
    let out = support::stdout(&output);
    assert!(out.contains("accounts: default ("), "{out}");
    assert!(out.contains(", bob ("), "{out}");
    let output = support::run_binary(&["--config", config.to_str().unwrap(), "once"], &env).await;
    support::assert_exit(&output, 0);
    assert_eq!(patches(&first)[0].0, a);
    assert_eq!(patches(&second)[0].0, b);
    // Without bob's credential the command says which account lacks one.
    let output = support::run_binary(
        &["--config", config.to_str().unwrap(), "once"],
        &[("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)],
    )
    .await;
    assert_eq!(output.status.code(), Some(78));
    assert!(
        support::stderr(&output).contains("account bob"),
        "{}",
        support::stderr(&output)
    );
    // Healthcheck covers every account's heartbeat (`run` writes them; none here yet).
    let output =
        support::run_binary(&["--config", config.to_str().unwrap(), "healthcheck"], &env).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        support::stderr(&output).contains("account bob"),
        "{}",
        support::stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_accounts_credential_may_come_from_the_units_credential_directory() {
    let first = support::emulator().await;
    let second = support::emulator().await;
    first.add_task(support::show(Backend::Aria2));
    let b = second.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rules.toml");
    std::fs::write(&config, two_accounts(&first, &second, dir.path(), "")).unwrap();
    // LoadCredential=cloudreve-autoselect:/etc/credstore/cloudreve-autoselect delivers
    // /etc/credstore/cloudreve-autoselect/bob.password with the unit's prefix.
    let credentials = dir.path().join("credentials");
    std::fs::create_dir_all(&credentials).unwrap();
    std::fs::write(
        credentials.join("cloudreve-autoselect_bob.password"),
        support::PASSWORD,
    )
    .unwrap();
    let env = [
        ("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD),
        ("CREDENTIALS_DIRECTORY", credentials.to_str().unwrap()),
    ];
    let output = support::run_binary(&["--config", config.to_str().unwrap(), "once"], &env).await;
    support::assert_exit(&output, 0);
    assert_eq!(patches(&second)[0].0, b);
}
