//! Small truths, each where the user meets it: through the binary.

use std::path::{Path, PathBuf};

use cloudreve_emulator::{Backend, Emulator, EmulatorOptions};

use crate::support::{self, run_binary, stderr, stdout};

fn config(url: &str, dir: &Path, server_extra: &str) -> PathBuf {
    let path = dir.join("rules.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nurl = \"{url}\"\nemail = \"{}\"\n{server_extra}\n[daemon]\nstate_file = \"{}\"\n{}",
            support::EMAIL,
            dir.join("state.json").display(),
            support::RULES
        ),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn explain_task_json_fails_when_nothing_could_be_explained() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tasks.json");
    std::fs::write(&file, r#"[{"id":"bad","status":7}]"#).unwrap();
    let output = run_binary(
        &[
            "--config",
            "rules.example.toml",
            "explain",
            "--task-json",
            file.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("task bad skipped"),
        "{}",
        stdout(&output)
    );
    assert!(
        stderr(&output).contains("could be explained: none of its 1 task(s) could be read"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_state_file_gets_the_same_advice_from_every_command() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let config = config(&emu.base_url(), dir.path(), "");
    std::fs::write(dir.path().join("state.json"), "{not json").unwrap();
    let env = [("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)];
    let advice = "judging every file again";
    for args in [vec!["stats"], vec!["once", "--dry-run"]] {
        let mut all = vec!["--config", config.to_str().unwrap()];
        all.extend(args.iter().copied());
        let output = run_binary(&all, &env).await;
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&output).contains(advice) && stderr(&output).contains("corrupt"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    // The command that writes moves it aside, in the same words.
    let output = run_binary(&["--config", config.to_str().unwrap(), "once"], &env).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains(advice), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("moved it aside"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_password_names_its_source_and_2fa_names_the_refresh_token_route() {
    let emu = support::emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = config(&emu.base_url(), dir.path(), "");
    let output = run_binary(
        &["--config", config_path.to_str().unwrap(), "once"],
        &[("CLOUDREVE_AUTOSELECT_PASSWORD", "wrong password")],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("with the password from $CLOUDREVE_AUTOSELECT_PASSWORD refused"),
        "{}",
        stderr(&output)
    );
    let file = dir.path().join("password");
    std::fs::write(&file, "wrong password\n").unwrap();
    let config_path = config(
        &emu.base_url(),
        dir.path(),
        &format!("password_file = \"{}\"", file.display()),
    );
    let output = run_binary(&["--config", config_path.to_str().unwrap(), "once"], &[]).await;
    assert!(
        stderr(&output).contains(&format!("server.password_file {}", file.display())),
        "{}",
        stderr(&output)
    );

    let two_factor = Emulator::start(EmulatorOptions {
        two_factor: true,
        ..EmulatorOptions::default()
    })
    .await
    .unwrap();
    let config_path = config(&two_factor.base_url(), dir.path(), "");
    let output = run_binary(
        &["--config", config_path.to_str().unwrap(), "once"],
        &[("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)],
    )
    .await;
    assert!(
        stderr(&output).contains("two-factor")
            && stderr(&output).contains("server.refresh_token_file"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_after_once_says_how_to_check_a_one_shot_deployment() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let config = config(&emu.base_url(), dir.path(), "");
    let env = [("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)];
    let output = run_binary(&["--config", config.to_str().unwrap(), "once"], &env).await;
    assert_eq!(output.status.code(), Some(0));
    let output = run_binary(&["--config", config.to_str().unwrap(), "healthcheck"], &env).await;
    assert_eq!(output.status.code(), Some(1));
    let text = format!("{}{}", stdout(&output), stderr(&output));
    assert!(
        text.contains("`once` writes no heartbeat") && text.contains("exit status"),
        "{text}"
    );
}

#[tokio::test]
async fn help_defaults_have_no_stray_backticks_and_demo_says_it_ignores_the_config() {
    for args in [vec!["--help"], vec!["healthcheck", "--help"]] {
        let output = run_binary(&args, &[]).await;
        let out = stdout(&output);
        for line in out.lines().filter(|l| l.contains("[default:")) {
            assert!(!line.contains('`'), "{args:?}: {line}");
        }
    }
    let output = run_binary(&["demo", "--config", "/nonexistent/rules.toml"], &[]).await;
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stderr(&output).contains("demo ignores the config /nonexistent/rules.toml"),
        "{}",
        stderr(&output)
    );
    // A usage error is clap's exit 2, and README's exit-code table lists it.
    let output = run_binary(&["no-such-command"], &[]).await;
    assert_eq!(output.status.code(), Some(2));
    let readme = std::fs::read_to_string("README.md").unwrap();
    assert!(
        readme.contains("2 usage error"),
        "README lists no exit code 2"
    );
}

#[test]
fn the_docs_name_the_default_state_file_the_code_uses() {
    let no_env = |_: &str| None;
    let root = cloudreve_autoselect::config::default_state_file_for(&no_env, true);
    for doc in ["README.md", "rules.example.toml"] {
        let text = std::fs::read_to_string(doc).unwrap();
        assert!(
            !text.contains("cloudreve-autoselect-state.json"),
            "{doc} names a default state file the code does not use"
        );
        assert!(
            text.contains(&root.display().to_string())
                && text.contains("~/.local/state/cloudreve-autoselect/state.json"),
            "{doc} does not name the default state file"
        );
    }
}
