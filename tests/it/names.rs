//! Names cannot forge log lines or rewrite the terminal: a task or file name holding ESC
//! sequences, CR/LF, NUL, C1 controls or a bidirectional override is printed escaped by `once`
//! (text logs at debug level), the dry run's tables and `explain` (`--task-json`, `--torrent`).

use std::path::Path;

use cloudreve_emulator::{Backend, TaskSpec};

use crate::support::{self, run_binary, stderr, stdout};

/// A name that would clear the screen, forge a log line and show `.exe` as `.png`.
const EVIL: &str = "Evil\u{1b}[2J\nINFO forged line\r\u{0}\u{9b}\u{202e}gnp.exe";
const EVIL_SHOWN: &str = "Evil\\u{1b}[2J\\nINFO forged line\\r\\u{0}\\u{9b}\\u{202e}gnp.exe";

/// Nothing of the raw name reached the output, and lines are only what we wrote.
fn assert_clean(what: &str, text: &str) {
    for raw in ["\u{1b}[2J", "\u{202e}", "\r", "\u{0}", "\u{9b}"] {
        assert!(!text.contains(raw), "{what} holds {raw:?}: {text:?}");
    }
    assert!(
        !text.lines().any(|line| line.starts_with("INFO forged")),
        "{what} has a forged line: {text}"
    );
}

fn evil_task() -> TaskSpec {
    TaskSpec::new(
        Backend::Aria2,
        EVIL,
        &[
            (format!("{EVIL}/E01.mkv").as_str(), 1_503_238_553),
            (format!("{EVIL}/RARBG\u{1b}]0;owned\u{7}.txt").as_str(), 31),
        ],
    )
}

fn config(dir: &Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("rules.toml");
    let text = support::config_text(
        url,
        &format!(
            "[daemon]\nstate_file = \"{}\"\n{}",
            dir.join("state.json").display(),
            support::RULES
        ),
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_and_its_dry_run_print_names_escaped() {
    for dry_run in [true, false] {
        let emu = support::emulator().await;
        emu.add_task(evil_task());
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), &emu.base_url());
        let mut args = vec!["--config", config.to_str().unwrap(), "once"];
        if dry_run {
            args.push("--dry-run");
        }
        let output = run_binary(
            &args,
            &[
                ("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD),
                ("RUST_LOG", "debug"),
            ],
        )
        .await;
        let (out, err) = (stdout(&output), stderr(&output));
        assert_eq!(output.status.code(), Some(0), "{err}");
        assert_clean("stdout", &out);
        assert_clean("stderr", &err);
        // The task name at info, the paths at debug, the table of the dry run: all escaped.
        assert!(err.contains(EVIL_SHOWN), "{err}");
        assert!(
            err.contains("RARBG\\u{1b}]0;owned\\u{7}.txt"),
            "a path at debug level: {err}"
        );
        if dry_run {
            assert!(out.contains(&format!("{EVIL_SHOWN}/E01.mkv")), "{out}");
        } else {
            assert_eq!(support::patches(&emu).len(), 1);
        }
    }
}

#[tokio::test]
async fn explain_prints_names_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let name = serde_json::to_string(EVIL).unwrap();
    let junk = serde_json::to_string(&format!("{EVIL}/x\u{1b}[31m.txt")).unwrap();
    let task = format!(
        r#"{{"id":"t\u001b[2J1","status":"processing","type":"remote_download","summary":{{"phase":"monitor","props":{{"download":{{"name":{name},"state":"downloading","files":[
            {{"index":1,"name":{junk},"size":31,"selected":true}},
            {{"index":2,"name":"a.mkv","size":1000000,"selected":true}}]}}}}}}}}"#
    );
    let file = dir.path().join("task.json");
    std::fs::write(&file, task).unwrap();
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
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_clean("explain --task-json", &out);
    assert!(out.contains("x\\u{1b}[31m.txt"), "{out}");
    assert!(out.contains("task t\\u{1b}[2J1"), "{out}");

    // A torrent, bencoded here: one file whose path holds the same name.
    let string = |text: &str| format!("{}:{text}", text.len()).into_bytes();
    let mut torrent = b"d4:infod5:filesld6:lengthi31e4:pathl".to_vec();
    torrent.extend(string(&format!("{EVIL}.txt")));
    torrent.extend(b"eee4:name");
    torrent.extend(string("Show"));
    torrent.extend(b"12:piece lengthi262144e6:pieces20:");
    torrent.extend([0_u8; 20]);
    torrent.extend(b"ee");
    let file = dir.path().join("evil.torrent");
    std::fs::write(&file, torrent).unwrap();
    let output = run_binary(
        &[
            "--config",
            "rules.example.toml",
            "explain",
            "--torrent",
            file.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_clean("explain --torrent", &out);
    assert!(out.contains(&format!("Show/{EVIL_SHOWN}.txt")), "{out}");
}
