//! `explain` on hostile input: a document that can be read only once (a pipe on `/dev/stdin`),
//! a device that never ends, and a torrent of many files.

use std::process::Stdio;

use tokio::io::AsyncWriteExt as _;

use crate::support;

const TASK: &str = r#"{"id":"kku7","status":"processing","type":"remote_download","summary":{"phase":"monitor","props":{"download":{"name":"S","state":"downloading","files":[{"index":1,"name":"S/E01.mkv","size":1503238553,"selected":true},{"index":4,"name":"S/RARBG.txt","size":31,"selected":true}]}}}}"#;

/// `explain --task-json /dev/stdin` with `document` piped in.
async fn explain_stdin(document: &str) -> std::process::Output {
    let mut child = tokio::process::Command::new(support::binary())
        .args([
            "--config",
            "rules.example.toml",
            "explain",
            "--task-json",
            "/dev/stdin",
        ])
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(document.as_bytes()).await.unwrap();
    drop(stdin);
    child.wait_with_output().await.unwrap()
}

#[tokio::test]
async fn a_piped_document_is_read_once_even_when_it_must_be_decoded_whole() {
    // A `tasks` key written with an escape, read from a pipe: the document is read once, from
    // the one handle (a second open of /dev/stdin would find it empty).
    let output = explain_stdin(&format!(r#"{{"t\u0061sks":[{TASK}]}}"#)).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("S/RARBG.txt"), "{stdout}");
    // Not JSON: the error is positioned in the text read once.
    let output = explain_stdin(&format!("[{TASK},")).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("/dev/stdin is not a Cloudreve task or task list"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_document_that_never_ends_is_refused_at_the_cap() {
    let output = tokio::process::Command::new(support::binary())
        .args([
            "--config",
            "rules.example.toml",
            "explain",
            "--task-json",
            "/dev/zero",
        ])
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("/dev/zero") && stderr.contains("larger than the limit of 268435456 bytes"),
        "{stderr}"
    );
}
