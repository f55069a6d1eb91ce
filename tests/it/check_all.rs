//! `check` says everything a service start would say: every unknown key at once, the credential
//! and file sources, a schedule that never fires or does not mean what it says, a notifier key
//! that does nothing.

use std::path::Path;

use crate::support::{self, run_binary, stderr, stdout};

const SERVER: &str = "[server]\nurl = \"https://cloud.example.com\"\nemail = \"bot@example.com\"\n";

async fn check(dir: &Path, text: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    let path = dir.join("rules.toml");
    std::fs::write(&path, text).unwrap();
    let output = run_binary(&["--config", path.to_str().unwrap(), "check"], env).await;
    let name = path.to_str().unwrap();
    (
        output.status.code().unwrap(),
        stdout(&output).replace(name, "rules.toml"),
        stderr(&output).replace(name, "rules.toml"),
    )
}

#[tokio::test]
async fn every_unknown_key_is_named_at_once_in_file_order_beside_the_value_errors() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[deamon]\nschedule = \"*/30 * * * * *\"\n\n[server]\nurl = \"https://cloud.example.com\"\nemial = \"bot@example.com\"\nemail = \"bot@example.com\"\n\n[[rule]]\nname = \"junk\"\nacton = \"skip\"\naction = \"skip\"\nglob = \"*.exe\"\nmax_size = \"lots\"\n";
    let (code, _, err) = check(dir.path(), text, support::CHECK_ENV).await;
    assert_eq!(code, 78, "{err}");
    let deamon = err
        .find("rules.toml:1:2: unknown field `deamon`")
        .unwrap_or(usize::MAX);
    let emial = err
        .find("rules.toml:6:1: unknown field `emial`")
        .unwrap_or(usize::MAX);
    let acton = err
        .find("rules.toml:11:1: unknown field `acton`")
        .unwrap_or(usize::MAX);
    assert!(
        deamon < emial && emial < acton && acton < err.len(),
        "{err}"
    );
    assert!(err.contains("rules.toml:14:12: rule[0].max_size"), "{err}");
}

#[tokio::test]
async fn the_credential_and_file_sources_are_checked_as_the_service_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    // No password source at all.
    let (code, _, err) = check(dir.path(), SERVER, &[]).await;
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("no password configured"), "{err}");
    // The unit's reload checks only what a reload reads: the credentials stay the running
    // service's, and its control process cannot see them.
    let path = dir.path().join("rules.toml");
    let output = run_binary(
        &["--config", path.to_str().unwrap(), "check", "--rules-only"],
        &[],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let missing = dir.path().join("missing");
    let empty_ca = dir.path().join("empty.pem");
    std::fs::write(&empty_ca, "not a certificate\n").unwrap();
    for (extra, named) in [
        (
            format!("password_file = \"{}\"\n", missing.display()),
            missing.display().to_string(),
        ),
        (
            format!("refresh_token_file = \"{}\"\n", missing.display()),
            missing.display().to_string(),
        ),
        (
            format!("ca_file = \"{}\"\n", missing.display()),
            missing.display().to_string(),
        ),
        (
            format!("ca_file = \"{}\"\n", empty_ca.display()),
            empty_ca.display().to_string(),
        ),
    ] {
        let (code, _, err) =
            check(dir.path(), &format!("{SERVER}{extra}"), support::CHECK_ENV).await;
        assert_eq!(code, 78, "{extra}: {err}");
        assert!(err.contains(&named), "{extra}: {err}");
    }

    // A notifier without its secret.
    let (code, _, err) = check(
        dir.path(),
        &format!("{SERVER}[[notify]]\nkind = \"gotify\"\nurl = \"http://127.0.0.1:1/\"\n"),
        support::CHECK_ENV,
    )
    .await;
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("notifier gotify (gotify) needs"), "{err}");
}

#[tokio::test]
async fn a_schedule_that_never_fires_is_an_error_and_one_that_misleads_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = check(
        dir.path(),
        &format!("{SERVER}[daemon]\nschedule = \"0 0 12 31 2 *\"\n"),
        support::CHECK_ENV,
    )
    .await;
    assert_eq!(code, 78, "{err}");
    assert!(err.contains("never fires"), "{err}");

    let (code, out, err) = check(
        dir.path(),
        &format!(
            "{SERVER}[daemon]\nschedule = \"*/90 * * * * *\"\n{}",
            support::RULES
        ),
        support::CHECK_ENV,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 warning(s)"), "{out}");
    assert!(
        err.contains("*/90 in the seconds field fires once a minute (at 0), not every 90 seconds"),
        "{err}"
    );
}

#[tokio::test]
async fn a_key_that_does_nothing_for_its_notifier_kind_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = check(
        dir.path(),
        &format!(
            "{SERVER}{}\n[[notify]]\nkind = \"webhook\"\nurl = \"http://127.0.0.1:1/hook\"\ntitle_prefix = \"[nas] \"\n",
            support::RULES
        ),
        support::CHECK_ENV,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 warning(s)"), "{out}");
    assert!(
        err.contains("notify[0].title_prefix: title_prefix does nothing for kind \"webhook\""),
        "{err}"
    );
}
