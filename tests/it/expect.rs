//! Expectations through the binary: `[[expect]]` in the rules file and `check --expect FILE`,
//! with the output of `check` golden-tested.

use std::path::{Path, PathBuf};

use crate::support::{run_binary, stderr, stdout};

const RULES: &str = r#"[server]
url = "https://cloud.example.com"
email = "bot@example.com"

[[rule]]
name = "keep-subs"
action = "keep"
glob = "*.srt"

[[rule]]
name = "junk"
action = "skip"
glob = ["*.exe", "*.txt"]

[[rule]]
name = "just-the-movie"
action = "skip"
glob = "*.mkv"
keep_largest = 1

[[expect]]
path = "Film.2024/Film.2024.mkv"
size = "4 GiB"
task = "Film.2024"
verdict = "keep"
rule = "just-the-movie"

[[expect]]
path = "Film.2024/Film.2024.sample.mkv"
size = "40 MiB"
task = "Film.2024"
verdict = "skip"

[[expect]]
path = "Film.2024/Film.2024.en.srt"
task = "Film.2024"
verdict = "keep"
"#;

/// Expectations that do not hold: a wrong verdict, a wrong deciding rule, a whole-task effect.
const FAILING: &str = r#"
[[expect]]
path = "Show/readme.txt"
verdict = "untouched"

[[expect]]
path = "Show/setup.exe"
verdict = "skip"
rule = "keep-subs"

[[expect]]
path = "Film.2024/Film.2024.extras.mkv"
size = "5 GiB"
task = "Film.2024"
verdict = "skip"
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `check`'s standard output after its first line (which holds the next run times).
fn after_summary(text: &str) -> String {
    text.split_once('\n')
        .map(|(_, rest)| rest.to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn check_says_how_many_expectations_hold() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "rules.toml", RULES);
    let output = run_binary(
        &["--config", rules.to_str().unwrap(), "check"],
        crate::support::CHECK_ENV,
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(after_summary(&stdout(&output)), "3 expectations hold\n");
}

#[tokio::test]
async fn check_prints_the_failing_expectations_as_a_table_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "rules.toml", &format!("{RULES}{FAILING}"));
    // Run where the file is, so that the table names it as the user wrote it.
    let output = tokio::process::Command::new(crate::support::binary())
        .args(["--config", "rules.toml", "check"])
        .envs(crate::support::CHECK_ENV.iter().copied())
        .current_dir(dir.path())
        .env_remove("CLOUDREVE_AUTOSELECT_CONFIG")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let out = after_summary(&stdout(&output));
    // Golden: the extras file is larger than the movie, so keep_largest keeps it and the movie
    // is skipped: both Film expectations about them fail, as they would on a real task.
    let expected = "\
4 of 6 expectations failed:
where          path                            expected                got   deciding rule
rules.toml:21  Film.2024/Film.2024.mkv         keep by just-the-movie  skip  just-the-movie
rules.toml:39  Show/readme.txt                 untouched               skip  junk
rules.toml:43  Show/setup.exe                  skip by keep-subs       skip  junk
rules.toml:48  Film.2024/Film.2024.extras.mkv  skip                    keep  just-the-movie
";
    assert_eq!(out, expected, "{out}");
}

#[tokio::test]
async fn check_evaluates_an_expect_file_and_reports_its_problems() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "rules.toml", RULES);
    let expect = write(dir.path(), "expect.toml", FAILING);
    let output = run_binary(
        &[
            "--config",
            rules.to_str().unwrap(),
            "check",
            "--expect",
            expect.to_str().unwrap(),
        ],
        crate::support::CHECK_ENV,
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let out = after_summary(&stdout(&output)).replace(expect.to_str().unwrap(), "expect.toml");
    assert!(out.starts_with("4 of 6 expectations failed:\n"), "{out}");
    assert!(out.contains("\nexpect.toml:2 "), "{out}");
    assert!(out.contains("\nexpect.toml:11"), "{out}");

    let bad = write(
        dir.path(),
        "bad.toml",
        "[[expect]]\npath = \"a/b.exe\"\nverdict = \"deselect\"\nrule = \"junkk\"\n",
    );
    let output = run_binary(
        &[
            "--config",
            rules.to_str().unwrap(),
            "check",
            "--expect",
            bad.to_str().unwrap(),
        ],
        crate::support::CHECK_ENV,
    )
    .await;
    assert_eq!(output.status.code(), Some(78));
    let err = stderr(&output).replace(bad.to_str().unwrap(), "bad.toml");
    let expected = r#"error: invalid config file bad.toml: 2 problems
bad.toml:3:11: expect[0].verdict: expected "skip", "keep" or "untouched" (got "deselect")
  |
3 | verdict = "deselect"
  |           ^^^^^^^^^^
bad.toml:4:8: expect[0].rule: no rule has this name; the rules are keep-subs, junk, just-the-movie (got "junkk")
  |
4 | rule = "junkk"
  |        ^^^^^^^"#;
    assert_eq!(err.trim_end(), expected, "{err}");
}

#[tokio::test]
async fn the_example_rules_carry_expectations_that_hold() {
    let output = run_binary(
        &["--config", "rules.example.toml", "check"],
        crate::support::CHECK_ENV,
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    // The expanded presets are listed before the expectations.
    assert!(out.ends_with("\n10 expectations hold\n"), "{out}");
}
