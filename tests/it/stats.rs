//! `stats`: the totals kept in the state, as a table and as JSON (golden), read without the
//! lock, and the totals a real `once` leaves behind.

use std::path::{Path, PathBuf};

use cloudreve_emulator::Backend;
use serde_json::json;

use crate::support;

fn write_config(dir: &Path, url: &str) -> PathBuf {
    let path = dir.join("rules.toml");
    std::fs::write(
        &path,
        support::config_text(
            url,
            &format!(
                "[daemon]\nstate_file = \"{}\"\n{}",
                dir.join("state.json").display(),
                support::RULES
            ),
        ),
    )
    .unwrap();
    path
}

async fn stats(config: &Path, json: bool) -> std::process::Output {
    let mut args = vec!["--config", config.to_str().unwrap(), "stats"];
    if json {
        args.push("--json");
    }
    support::run_binary(&args, &[]).await
}

const STATE: &str = r#"{
  "version": 2,
  "tasks": {},
  "stats": {
    "since": "2026-11-01T08:00:00+00:00",
    "rules": {
      "junk": {"files": 300, "bytes": 1181116006},
      "samples": {"files": 40, "bytes": 2147483648},
      "covers": {"files": 12, "bytes": 3145728}
    },
    "tasks_refused": 3
  }
}"#;

#[tokio::test]
async fn stats_prints_the_totals_per_rule_as_a_table_and_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "https://cloud.example.com");
    std::fs::write(dir.path().join("state.json"), STATE).unwrap();
    // A writer holds the lock (the service); stats reads anyway.
    let (_writer, _) =
        cloudreve_autoselect::state::StateStore::open(&dir.path().join("state.json")).unwrap();

    let output = stats(&config, false).await;
    support::assert_exit(&output, 0);
    assert_eq!(
        support::stdout(&output),
        format!(
            "\
account default, since 2026-11-01T08:00:00+00:00

rule     files    saved
samples     40  2.0 GiB
junk       300  1.1 GiB
covers      12  3.0 MiB
total      352  3.1 GiB

tasks left alone because every file matched a skip rule: 3
read from the state file {}
",
            dir.path().join("state.json").display()
        )
    );

    let output = stats(&config, true).await;
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        support::stdout(&output),
        r#"{
  "version": 1,
  "accounts": [
    {
      "account": "default",
      "since": "2026-11-01T08:00:00+00:00",
      "rules": [
        {
          "rule": "samples",
          "files": 40,
          "bytes": 2147483648
        },
        {
          "rule": "junk",
          "files": 300,
          "bytes": 1181116006
        },
        {
          "rule": "covers",
          "files": 12,
          "bytes": 3145728
        }
      ],
      "total": {
        "files": 352,
        "bytes": 3331745382
      },
      "tasks_refused": 3
    }
  ]
}
"#
    );
}

#[tokio::test]
async fn stats_without_a_state_file_says_nothing_was_deselected() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "https://cloud.example.com");
    let output = stats(&config, false).await;
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        support::stdout(&output),
        format!(
            "account default, no tick has been recorded yet\nnothing deselected yet\ntasks left alone because every file matched a skip rule: 0\nread from the state file {}\n",
            dir.path().join("state.json").display()
        )
    );
    assert!(
        !dir.path().join("state.json").exists(),
        "stats wrote the state"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_counts_what_a_tick_deselected() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    emu.add_task(support::all_junk(Backend::Qbittorrent));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &emu.base_url());
    let env = [("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)];
    let once = support::run_binary(&["--config", config.to_str().unwrap(), "once"], &env).await;
    assert_eq!(once.status.code(), Some(0), "{}", support::stderr(&once));
    // The tick's summary line gives the bytes it saved.
    assert!(
        support::stderr(&once).contains("bytes_deselected=52428951"),
        "{}",
        support::stderr(&once)
    );
    let output = stats(&config, true).await;
    let whole: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let document = &whole["accounts"][0];
    assert_eq!(document["account"], "default");
    assert_eq!(
        (
            &document["rules"],
            &document["total"],
            &document["tasks_refused"]
        ),
        (
            &json!([
                {"rule": "samples", "files": 1, "bytes": 52_428_800},
                {"rule": "junk", "files": 2, "bytes": 151}
            ]),
            &json!({"files": 3, "bytes": 52_428_951}),
            &json!(1)
        )
    );
    assert!(document["since"].as_str().unwrap().starts_with("20"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_accounts_are_told_and_counted_apart() {
    let home = support::emulator().await;
    home.add_task(support::show(Backend::Aria2));
    let family = support::emulator().await;
    family.add_task(support::all_junk(Backend::Aria2));
    let receiver = support::Receiver::start(support::Answer::Status(200)).await;
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("family-password");
    std::fs::write(&password, support::PASSWORD).unwrap();
    let config = dir.path().join("rules.toml");
    std::fs::write(
        &config,
        support::config_text(
            &home.base_url(),
            &format!(
                "[daemon]\nstate_file = \"{state}\"\n{rules}\n[[account]]\nname = \"family\"\nurl = \"{url}\"\nemail = \"{email}\"\npassword_file = \"{password}\"\n\n[[notify]]\nkind = \"webhook\"\nurl = \"{hook}\"\n",
                state = dir.path().join("state.json").display(),
                rules = support::RULES,
                url = family.base_url(),
                email = support::EMAIL,
                password = password.display(),
                hook = receiver.url("/hook"),
            ),
        ),
    )
    .unwrap();
    let env = [("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)];
    let once = support::run_binary(&["--config", config.to_str().unwrap(), "once"], &env).await;
    assert_eq!(once.status.code(), Some(0), "{}", support::stderr(&once));
    // One message per account and tick, each naming its account.
    let mut told: Vec<(String, String)> = receiver
        .all()
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            (
                body["account"].as_str().unwrap().to_owned(),
                body["events"].to_string(),
            )
        })
        .collect();
    told.sort();
    assert_eq!(
        told,
        [
            ("default".to_owned(), r#"["changed"]"#.to_owned()),
            ("family".to_owned(), r#"["refused"]"#.to_owned())
        ]
    );
    let output = stats(&config, true).await;
    let whole: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let accounts: Vec<(&str, &serde_json::Value, &serde_json::Value)> = whole["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["account"].as_str().unwrap(),
                &a["total"]["files"],
                &a["tasks_refused"],
            )
        })
        .collect();
    assert_eq!(
        accounts,
        [
            ("default", &json!(3), &json!(0)),
            ("family", &json!(0), &json!(1))
        ]
    );
    let table = support::stdout(&stats(&config, false).await);
    assert!(
        table.contains("account default, since ") && table.contains("\naccount family, since "),
        "{table}"
    );
}
