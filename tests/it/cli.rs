//! The binary as a user runs it: `check`, `explain`, `once`, `demo`, `healthcheck`.

use std::path::{Path, PathBuf};

use cloudreve_emulator::{Backend, Emulator, Fault, Route};

use crate::support::{self, run_binary as cli, stderr, stdout};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

async fn check(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "rules.toml", text);
    let output = cli(
        &["--config", path.to_str().unwrap(), "check"],
        support::CHECK_ENV,
    )
    .await;
    let message = stderr(&output).replace(path.to_str().unwrap(), "rules.toml");
    (output.status.code().unwrap(), message)
}

const SERVER: &str = "[server]\nurl = \"https://cloud.example.com\"\nemail = \"bot@example.com\"\n";

#[tokio::test]
async fn check_accepts_the_example_rules() {
    let output = cli(
        &["--config", "rules.example.toml", "check"],
        support::CHECK_ENV,
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.starts_with("ok: rules.example.toml: 24 rules, "),
        "{out}"
    );
    assert!(out.contains("next runs"), "{out}");
    // The presets expanded, each rule with where it came from.
    let example = std::fs::read_to_string("rules.example.toml").unwrap();
    let line_of = |needle: &str| {
        example
            .lines()
            .position(|line| line.starts_with(needle))
            .unwrap()
            + 1
    };
    let own = format!(
        "rules file, line {}",
        line_of("name = \"keep-my-player\"") - 1
    );
    let adverts = format!(
        "preset adverts v1, used at line {}",
        line_of("use = \"adverts\"") - 1
    );
    assert!(
        out.lines()
            .any(|line| line.contains(" keep-my-player ") && line.ends_with(&own)),
        "{own}\n{out}"
    );
    assert!(
        out.lines()
            .any(|line| line.contains(" adverts/link-files ") && line.ends_with(&adverts)),
        "{adverts}\n{out}"
    );
}

#[tokio::test]
async fn check_reports_every_problem_with_line_column_key_and_value() {
    let text = format!(
        "{SERVER}[daemon]\nschedule = \"*/5 * * * *\"\n\n[[rule]]\nname = \"junk\"\naction = \"skip\"\nglob = [\"*.exe\", \"[abc\"]\n\n[[rule]]\nname = \"junk\"\naction = \"skip\"\nmin_size = \"5 MiBs\"\n\n[[rule]]\nname = \"range\"\naction = \"skip\"\nmin_size = \"2 MiB\"\nmax_size = \"1 MiB\"\n"
    );
    let (code, message) = check(&text).await;
    assert_eq!(code, 78);
    let expected = r#"error: invalid config file rules.toml: 5 problems
rules.toml:5:12: daemon.schedule: invalid cron schedule: pattern must have 6 or 7 fields when seconds are required and years are optional; the format is seconds-first with 6 or 7 fields, e.g. "*/30 * * * * *" (every 30 seconds), evaluated in UTC (got "*/5 * * * *")
  |
5 | schedule = "*/5 * * * *"
  |            ^^^^^^^^^^^^^
rules.toml:10:18: rule[0].glob[1]: invalid glob: unclosed character class; missing ']' (got "[abc")
   |
10 | glob = ["*.exe", "[abc"]
   |                  ^^^^^^
rules.toml:13:8: rule[1].name: duplicate rule name; rule[0] already uses it (got "junk")
   |
13 | name = "junk"
   |        ^^^^^^
rules.toml:15:12: rule[1].min_size: invalid size: unknown unit "MiBs"; expected one of B, KB, KiB, MB, MiB, GB, GiB, TB, TiB (got "5 MiBs")
   |
15 | min_size = "5 MiBs"
   |            ^^^^^^^^
rules.toml:21:12: rule[2].max_size: max_size (1.0 MiB) is below min_size (2.0 MiB); no file could ever match
   |
21 | max_size = "1 MiB"
   |            ^^^^^^^
"#;
    assert_eq!(message, expected);
}

#[tokio::test]
async fn check_names_a_typo_d_key_and_a_size_overflow() {
    let (code, message) = check(&format!(
        "{SERVER}[[rule]]\nname = \"a\"\naction = \"skip\"\nmin_sise = \"5\"\n"
    ))
    .await;
    assert_eq!(code, 78);
    assert!(
        message.contains("rules.toml:7:1: unknown field `min_sise`, expected one of"),
        "{message}"
    );
    assert!(message.contains("7 | min_sise = \"5\""), "{message}");
    let (code, message) = check(&format!(
        "{SERVER}[[rule]]\nname = \"a\"\naction = \"skip\"\nmax_size = \"99999999999 TiB\"\n"
    ))
    .await;
    assert_eq!(code, 78);
    assert!(
        message.contains("rules.toml:7:12: rule[0].max_size: invalid size: size is too large"),
        "{message}"
    );
    let (code, message) = check(&format!(
        "{SERVER}[[rule]]\nname = \"a\"\naction = \"delete\"\n"
    ))
    .await;
    assert_eq!(code, 78);
    assert!(
        message.contains("rule[0].action: unknown action"),
        "{message}"
    );
    assert!(
        message.contains("a rule needs at least one condition: `glob`, `regex`, `min_size`"),
        "{message}"
    );
}

#[tokio::test]
async fn check_refuses_a_url_with_a_password_and_never_prints_it() {
    let text = SERVER.replace("https://", "https://bot:hunter2-in-url@");
    let (code, message) = check(&text).await;
    assert_eq!(code, 78, "{message}");
    assert_eq!(
        message,
        "error: invalid config file rules.toml: 1 problem\nrules.toml:2:7: server.url: the URL must not hold a user name or password: put the account in server.email and the password in server.password_file (or another password source) (got \"https://bot:***@cloud.example.com\")\n  |\n2 | url = \"https://bot:***@cloud.example.com\"\n  |       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    );
}

#[tokio::test]
async fn check_refuses_a_rules_file_over_the_size_cap() {
    let output = cli(&["--config", "/dev/zero", "check"], support::CHECK_ENV).await;
    assert_eq!(output.status.code(), Some(78));
    assert_eq!(
        stderr(&output),
        "error: config file /dev/zero is larger than 1048576 bytes; is --config pointing at the rules file?\n"
    );
}

#[tokio::test]
async fn check_lint_fails_on_a_bracketed_tag_and_on_a_file_without_rules() {
    let dir = tempfile::tempdir().unwrap();
    let tagged = write(
        dir.path(),
        "tagged.toml",
        &format!(
            "{SERVER}[[rule]]\nname = \"subs\"\naction = \"only\"\ntask = \"[SubsPlease]*\"\nglob = \"*.mkv\"\n"
        ),
    );
    let empty = write(dir.path(), "empty.toml", SERVER);
    for (path, warning) in [
        (
            &tagged,
            r#"rule[0].task: [SubsPlease] is a character class: it matches one character (one of s, u, b, p, l, e, a), not the text "SubsPlease"; to match the brackets and the text, write '\[SubsPlease\]*'"#,
        ),
        (
            &empty,
            "rule: no [[rule]] tables: the daemon signs in and lists the downloads, but never changes a selection",
        ),
    ] {
        let path = path.to_str().unwrap();
        let output = cli(&["--config", path, "check"], support::CHECK_ENV).await;
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert!(
            stdout(&output).contains("; 1 warning(s)"),
            "{}",
            stdout(&output)
        );
        assert!(stderr(&output).contains(warning), "{}", stderr(&output));
        let output = cli(&["--config", path, "check", "--lint"], support::CHECK_ENV).await;
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    }
}

#[tokio::test]
async fn check_on_a_missing_file_exits_78() {
    let output = cli(
        &["--config", "/nonexistent/rules.toml", "check"],
        support::CHECK_ENV,
    )
    .await;
    assert_eq!(output.status.code(), Some(78));
    assert!(stderr(&output).contains("could not read config file /nonexistent/rules.toml"));
}

#[tokio::test]
async fn config_path_comes_from_the_environment() {
    let output = cli(
        &["check"],
        &[
            ("CLOUDREVE_AUTOSELECT_CONFIG", "rules.example.toml"),
            support::CHECK_ENV[0],
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[tokio::test]
async fn explain_prints_the_table_and_the_patch() {
    let dir = tempfile::tempdir().unwrap();
    let task = write(
        dir.path(),
        "task.json",
        r#"{"id":"kku7","status":"suspending","type":"remote_download","summary":{"phase":"monitor","props":{"download":{"name":"Some.Show.S01","state":"downloading","files":[
            {"index":1,"name":"Some.Show.S01/E01.mkv","size":1503238553,"selected":true},
            {"index":3,"name":"Some.Show.S01/Sample/sample.mkv","size":52428800,"selected":true},
            {"index":4,"name":"Some.Show.S01/RARBG.txt","size":31,"selected":true},
            {"index":5,"name":"Some.Show.S01/E01.mkv.exe","size":1200,"selected":true}]}}}}"#,
    );
    let output = cli(
        &[
            "--config",
            "rules.example.toml",
            "explain",
            "--task-json",
            task.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    // The longest rule name of rules.example.toml keeps its row in line with the others; the
    // task's profile comes first.
    let table = [
        "profile: kind video: video 99.9 % of bytes; families: video 99.9 % (2 files), executable 0.0 % (1 file), book 0.0 % (1 file)",
        "index  selected  verdict  rule                          change        size  path",
        "    1  yes       -        -                             -          1.4 GiB  Some.Show.S01/E01.mkv",
        "    3  yes       skip     media-extras/samples          deselect  50.0 MiB  Some.Show.S01/Sample/sample.mkv",
        "    4  yes       skip     adverts/release-site-promo    deselect      31 B  Some.Show.S01/RARBG.txt",
        "    5  yes       skip     litter/disguised-executables  deselect   1.2 KiB  Some.Show.S01/E01.mkv.exe",
    ];
    assert!(out.contains(&table.join("\n")), "{out}");
    assert!(out.contains(r#"PATCH /api/v4/workflow/download/kku7 {"files":[{"index":3,"download":false},{"index":4,"download":false},{"index":5,"download":false}]}"#), "{out}");
    let bad = write(dir.path(), "bad.json", "[1, 2");
    let output = cli(
        &[
            "--config",
            "rules.example.toml",
            "explain",
            "--task-json",
            bad.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("is not a Cloudreve task or task list"),
        "{}",
        stderr(&output)
    );
}

/// `explain --task-json` writes a long table; a reader that stops early (`| head`)
/// ends it quietly with success, not with a panic or an error.
#[tokio::test]
async fn explain_task_json_stops_quietly_when_the_reader_leaves() {
    use tokio::io::AsyncReadExt as _;
    let dir = tempfile::tempdir().unwrap();
    let tasks: Vec<String> = (0..2_000)
        .map(|n| {
            format!(
                r#"{{"id":"t{n}","status":"processing","type":"remote_download","summary":{{"phase":"monitor","props":{{"download":{{"name":"Show.{n}","state":"downloading","files":[{{"index":1,"name":"Show.{n}/E01.mkv","size":1503238553,"selected":true}},{{"index":2,"name":"Show.{n}/RARBG.txt","size":31,"selected":true}}]}}}}}}}}"#
            )
        })
        .collect();
    let file = write(dir.path(), "tasks.json", &format!("[{}]", tasks.join(",")));
    let mut child = tokio::process::Command::new(support::binary())
        .args([
            "--config",
            "rules.example.toml",
            "explain",
            "--task-json",
            file.to_str().unwrap(),
        ])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut head = [0u8; 256];
    stdout.read_exact(&mut head).await.unwrap();
    assert!(String::from_utf8_lossy(&head).starts_with("task t0 \"Show.0\" (2 files)"));
    drop(stdout);
    let output = child.wait_with_output().await.unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
}

fn config_for(emu: &Emulator, dir: &Path, extra: &str) -> PathBuf {
    let state = dir.join("state.json");
    let text = support::config_text(
        &emu.base_url(),
        &format!(
            "[daemon]\nstate_file = \"{}\"\n{extra}\n{}",
            state.display(),
            support::RULES
        ),
    );
    write(dir, "rules.toml", &text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_patches_and_exits_0() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(&emu, dir.path(), "");
    let output = cli(
        &["--config", config.to_str().unwrap(), "once"],
        &[("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(support::patches(&emu).len(), 1);
    assert!(
        stderr(&output).contains("selection changed"),
        "{}",
        stderr(&output)
    );
    assert!(dir.path().join("state.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_log_even_at_trace_level() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    emu.inject(Route::List, Fault::Http500, 1);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(&emu, dir.path(), "");
    let env = [
        ("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD),
        // Every crate at trace: a bare `trace` would keep other crates at warn.
        ("RUST_LOG", "trace,cloudreve_autoselect=trace"),
    ];
    let output = cli(&["--config", config.to_str().unwrap(), "once"], &env).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let log = stderr(&output);
    assert!(
        log.contains("signed in to Cloudreve") && log.contains("TRACE"),
        "{log}"
    );
    let tokens = emu.issued_tokens();
    assert_eq!(tokens.len(), 2);
    for secret in tokens.iter().map(String::as_str).chain([support::PASSWORD]) {
        assert!(!log.contains(secret), "secret {secret:?} in the log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_dry_run_prints_and_sends_nothing() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Qbittorrent));
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(&emu, dir.path(), "");
    let output = cli(
        &["--config", config.to_str().unwrap(), "once", "--dry-run"],
        &[("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains(r#"{"files":[{"index":2,"download":false},{"index":4,"download":false},{"index":5,"download":false}]}"#), "{out}");
    assert!(out.contains("nothing was sent"), "{out}");
    assert!(support::patches(&emu).is_empty());
    assert!(!dir.path().join("state.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_exits_1_when_a_patch_fails_or_the_server_is_unreachable() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    emu.add_task(support::show(Backend::Qbittorrent));
    emu.inject(
        Route::Patch,
        Fault::Code {
            code: 50005,
            msg: "Failed to set download files".into(),
        },
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(&emu, dir.path(), "");
    let env = [("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)];
    let output = cli(&["--config", config.to_str().unwrap(), "once"], &env).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("1 task(s) could not be changed"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        support::patches(&emu).len(),
        2,
        "the other task was still patched"
    );

    let unreachable = write(
        dir.path(),
        "unreachable.toml",
        &format!(
            "[server]\nurl = \"http://127.0.0.1:9/\"\nemail = \"{}\"\nretries = 0\n[daemon]\nstate_file = \"{}\"\n",
            support::EMAIL,
            dir.path().join("other-state.json").display()
        ),
    );
    let output = cli(&["--config", unreachable.to_str().unwrap(), "once"], &env).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("could not connect"),
        "{}",
        stderr(&output)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_without_a_password_exits_78_and_a_credential_file_works() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(&emu, dir.path(), "");
    let output = cli(&["--config", config.to_str().unwrap(), "once"], &[]).await;
    assert_eq!(output.status.code(), Some(78));
    assert!(
        stderr(&output).contains("no password configured"),
        "{}",
        stderr(&output)
    );
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    std::fs::write(
        credentials.join("password"),
        format!("{}\n", support::PASSWORD),
    )
    .unwrap();
    let output = cli(
        &["--config", config.to_str().unwrap(), "once"],
        &[("CREDENTIALS_DIRECTORY", credentials.to_str().unwrap())],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[tokio::test]
async fn demo_runs_the_whole_job_and_reports() {
    let output = cli(&["demo"], &[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    for needle in [
        "== tick 1: every task is new ==",
        "skip     media-extras/samples  deselect",
        "refused: the rules would deselect all 3 files of this task",
        "task left alone: waiting for metadata",
        "task left alone: status is queued",
        "task left alone: phase is transfer, not monitor",
        "Debian.ISO.Collection: 3 of 3 files selected",
        "Site.Promo.Pack: 3 of 3 files selected, task suspending",
        "2 PATCH request(s) in all",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
}

/// The binary's `healthcheck` judges the heartbeat that the daemon itself writes: missing,
/// a good tick, and a tick that needs the operator. (Staleness is judged with an explicit
/// clock in `healthcheck.rs`'s unit tests.)
#[tokio::test]
async fn healthcheck_reads_the_daemons_own_heartbeat() {
    use cloudreve_autoselect::cloudreve::{Client, Credentials};
    use cloudreve_autoselect::daemon::{Daemon, heartbeat_path};
    use cloudreve_autoselect::state::StateStore;
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(&emu, dir.path(), "");
    let state = dir.path().join("state.json");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "healthcheck",
        "--max-age",
        "10m",
    ];
    let output = cli(&args, &[]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no heartbeat file"),
        "{}",
        stderr(&output)
    );
    let tick = |options: cloudreve_autoselect::cloudreve::ClientOptions| {
        let state = state.clone();
        async move {
            let (store, _) = StateStore::open(&state).unwrap();
            let daemon = Daemon::new(
                Client::new(options).unwrap(),
                support::settings(support::RULES, false),
                store,
                Some(heartbeat_path(&state)),
            );
            daemon.tick().await
        }
    };
    assert!(tick(support::client_options(&emu)).await.succeeded());
    let output = cli(&args, &[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("healthy"),
        "{}",
        stdout(&output)
    );
    // A refused sign-in is unhealthy at once, however fresh the heartbeat.
    let mut wrong = support::client_options(&emu);
    wrong.credentials = Credentials::Password("not the password".into());
    assert!(!tick(wrong).await.succeeded());
    let output = cli(&args, &[]).await;
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("needs an operator"), "{err}");
    assert!(err.contains("wrong email or password"), "{err}");
    // A transient failure is not: the daemon retries by itself.
    emu.inject(Route::List, Fault::Http500, 10);
    assert!(!tick(support::client_options(&emu)).await.succeeded());
    let output = cli(&args, &[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("degraded"), "{}", stdout(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_says_when_the_state_file_cannot_be_read() {
    let emu = support::emulator().await;
    let id = emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(&emu, dir.path(), "");
    let env = [("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)];
    let args = ["--config", config.to_str().unwrap(), "explain", id.as_str()];
    // Readable: no warning.
    let output = cli(&args, &env).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("could not read the state file"));
    // A directory where the state file should be: it exists and cannot be read as one.
    std::fs::create_dir(dir.path().join("state.json")).unwrap();
    let output = cli(&args, &env).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("could not read the state file"), "{err}");
    assert!(
        err.contains("does not know what the daemon decided before"),
        "{err}"
    );
    assert!(stdout(&output).contains("deselect"));
}
