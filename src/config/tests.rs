//! Unit tests of `config`.

use super::*;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

fn no_env(_: &str) -> Option<String> {
    None
}

const SERVER: &str = "[server]\nurl = \"https://cloud.example.com\"\nemail = \"bot@example.com\"\n";

fn parse_ok(text: &str) -> Config {
    parse(text, Path::new("rules.toml"), &no_env).unwrap()
}

fn parse_err(text: &str) -> String {
    parse(text, Path::new("rules.toml"), &no_env)
        .unwrap_err()
        .to_string()
}

#[test]
fn minimal_config_gets_defaults() {
    let config = parse_ok(SERVER);
    assert_eq!(config.daemon.schedule.as_str(), DEFAULT_SCHEDULE);
    assert!(!config.daemon.dry_run);
    assert_eq!(config.daemon.state_file, default_state_file(&no_env));
    assert_eq!(
        config.server.api_base.as_str(),
        "https://cloud.example.com/api/v4/"
    );
    assert!(matches!(
        config.server.password,
        PasswordSetting::FromEnvironment
    ));
    assert_eq!(config.server.timeout, Duration::from_secs(30));
}

#[test]
fn every_command_finds_the_same_state_file_wherever_it_runs() {
    let none = |_: &str| None;
    assert_eq!(
        default_state_file_for(&none, true),
        PathBuf::from("/var/lib/cloudreve-autoselect/state.json")
    );
    let home = |key: &str| (key == "HOME").then(|| "/home/ann".to_owned());
    assert_eq!(
        default_state_file_for(&home, false),
        PathBuf::from("/home/ann/.local/state/cloudreve-autoselect/state.json")
    );
    let xdg = |key: &str| match key {
        "HOME" => Some("/home/ann".to_owned()),
        "XDG_STATE_HOME" => Some("/data/state".to_owned()),
        _ => None,
    };
    assert_eq!(
        default_state_file_for(&xdg, false),
        PathBuf::from("/data/state/cloudreve-autoselect/state.json")
    );
    // A relative state_file is relative to the rules file.
    let text = format!("{SERVER}\n[daemon]\nstate_file = \"data/state.json\"\n");
    let config = parse(&text, Path::new("/etc/cra/rules.toml"), &no_env).unwrap();
    assert_eq!(
        config.daemon.state_file,
        PathBuf::from("/etc/cra/data/state.json")
    );
}

#[test]
fn state_file_defaults_to_state_directory() {
    let env = |key: &str| (key == "STATE_DIRECTORY").then(|| "/var/lib/cra".to_owned());
    let config = parse(SERVER, Path::new("r.toml"), &env).unwrap();
    assert_eq!(
        config.daemon.state_file,
        PathBuf::from("/var/lib/cra/state.json")
    );
}

#[test]
fn sub_path_and_trailing_slashes_do_not_matter() {
    for url in [
        "https://host/cloud",
        "https://host/cloud/",
        "https://host/cloud//",
    ] {
        let text = SERVER.replace("https://cloud.example.com", url);
        assert_eq!(
            parse_ok(&text).server.api_base.as_str(),
            "https://host/cloud/api/v4/"
        );
    }
}

#[test]
fn glob_string_or_array() {
    let config = parse_ok(&format!(
        "{SERVER}[[rule]]\nname = \"a\"\naction = \"skip\"\nglob = \"*.exe\"\n[[rule]]\nname = \"b\"\naction = \"keep\"\nglob = [\"*.srt\", \"**/Subs/*\"]\nmax_size = 1024\n"
    ));
    assert_eq!(config.rules.rules().len(), 2);
    assert_eq!(config.rules.glob_count(), 3);
    assert_eq!(config.rules.rules()[1].max_size(), Some(ByteSize(1024)));
}

#[test]
fn inline_password_warns() {
    let config = parse_ok(&SERVER.replace("email", "password = \"hunter22\"\nemail"));
    assert_eq!(config.warnings.len(), 1);
    assert!(!config.warnings[0].contains("hunter22"));
    assert!(!format!("{config:?}").contains("hunter22"));
}

#[test]
fn each_password_source_works_and_one_trailing_newline_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("password"), "from-credentials\n").unwrap();
    let dir_str = dir.path().to_str().unwrap().to_owned();
    let creds = move |key: &str| (key == "CREDENTIALS_DIRECTORY").then(|| dir_str.clone());
    let secret = resolve_password(&PasswordSetting::FromEnvironment, &creds).unwrap();
    assert_eq!(secret.expose_secret(), "from-credentials");
    let env = |key: &str| (key == PASSWORD_ENV).then(|| "from-env".to_owned());
    assert_eq!(
        resolve_password(&PasswordSetting::FromEnvironment, &env)
            .unwrap()
            .expose_secret(),
        "from-env"
    );
    assert!(matches!(
        resolve_password(&PasswordSetting::FromEnvironment, &no_env),
        Err(PasswordError::Missing)
    ));
    let file = dir.path().join("pw");
    std::fs::write(&file, "\n").unwrap();
    assert!(matches!(
        resolve_password(&PasswordSetting::File(file), &no_env),
        Err(PasswordError::Empty { .. })
    ));
}

#[test]
fn password_sources_are_tried_in_order_when_several_are_set() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("password"), "from-credentials\n").unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "from-file\n").unwrap();
    let dir_str = dir.path().to_str().unwrap().to_owned();
    let everything = move |key: &str| match key {
        PASSWORD_ENV => Some("from-env".to_owned()),
        "CREDENTIALS_DIRECTORY" => Some(dir_str.clone()),
        _ => None,
    };
    let resolved = |setting: &PasswordSetting| {
        resolve_password(setting, &everything)
            .unwrap()
            .expose_secret()
            .to_owned()
    };
    assert_eq!(resolved(&PasswordSetting::File(file)), "from-file");
    assert_eq!(
        resolved(&PasswordSetting::Inline(SecretString::from("inline"))),
        "inline"
    );
    assert_eq!(resolved(&PasswordSetting::FromEnvironment), "from-env");
    // And through parse: the configured keys decide which setting applies.
    let with_file = parse(
        &SERVER.replace("email", "password_file = \"/run/pw\"\nemail"),
        Path::new("rules.toml"),
        &everything,
    )
    .unwrap();
    assert!(
        matches!(with_file.server.password, PasswordSetting::File(ref p) if p == Path::new("/run/pw"))
    );
}

#[test]
fn url_with_user_info_is_refused_without_echoing_the_password() {
    for url in [
        "https://bot:s3cret-pw@cloud.example.com",
        "https://bot:s3cret-pw@cloud.example.com/cloud/",
        "https://:s3cret-pw@cloud.example.com",
    ] {
        let text = SERVER.replace("https://cloud.example.com", url);
        let message = parse_err(&text);
        assert!(
            message.contains(
                "rules.toml:2:7: server.url: the URL must not hold a user name or password"
            ),
            "{url}: {message}"
        );
        assert!(!message.contains("s3cret"), "{url}: {message}");
        assert!(message.contains(":***@"), "{url}: {message}");
    }
    // A password holding an unencoded `/` makes the URL unreadable; still no echo.
    let message = parse_err(&SERVER.replace("https://", "https://bot:s3cret/pw@x@"));
    assert!(message.contains("server.url: invalid URL"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
    let message = parse_err(&SERVER.replace("https://", "https://bot@"));
    assert!(message.contains("must not hold a user name"), "{message}");
    // A syntax error on the same line does not show the password either.
    let message = parse_err("[server]\nurl = \"https://bot:s3cret-pw@host\nemail = \"a@b\"\n");
    assert!(!message.contains("s3cret"), "{message}");
}

#[test]
fn redaction_keeps_everything_but_the_password() {
    assert_eq!(
        redact_userinfo(r#"url = "https://bot:pw@host/x" # and ftp://a:b@c"#),
        r#"url = "https://bot:***@host/x" # and ftp://a:***@c"#
    );
    assert_eq!(
        redact_userinfo("https://host:8443/cloud/ and https://, or not"),
        "https://host:8443/cloud/ and https://, or not"
    );
}

#[test]
fn connect_timeout_has_the_same_lower_bound_as_timeout() {
    for key in ["timeout", "connect_timeout"] {
        let message = parse_err(&format!("{SERVER}{key} = \"0s\"\n"));
        assert!(
            message.contains(&format!(
                "rules.toml:4:{}: server.{key}: {key} must be more than zero (got \"0s\")",
                key.len() + 4
            )),
            "{message}"
        );
    }
    let config = parse_ok(&format!("{SERVER}connect_timeout = \"1ms\"\n"));
    assert_eq!(config.server.connect_timeout, Duration::from_millis(1));
}

#[test]
fn the_rules_file_is_read_with_a_size_cap() {
    let no_env = |_: &str| None;
    let error = load(Path::new("/dev/zero"), &no_env).unwrap_err();
    assert!(
        matches!(
            error,
            ConfigError::TooLarge {
                limit: MAX_CONFIG_BYTES,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "config file /dev/zero is larger than 1048576 bytes; is --config pointing at the rules file?"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    let cap = usize::try_from(MAX_CONFIG_BYTES).unwrap();
    let mut text = format!("{SERVER}# ");
    text.push_str(&"x".repeat(cap - text.len() - 1));
    text.push('\n');
    std::fs::write(&path, &text).unwrap();
    assert!(load(&path, &no_env).is_ok(), "exactly the cap is accepted");
    text.insert(0, '\n');
    std::fs::write(&path, &text).unwrap();
    assert!(matches!(
        load(&path, &no_env),
        Err(ConfigError::TooLarge { .. })
    ));
    std::fs::write(&path, b"[server]\xff\n").unwrap();
    let error = load(&path, &no_env).unwrap_err().to_string();
    assert!(error.contains("not UTF-8 text"), "{error}");
}

#[test]
fn lints_flag_a_bracketed_tag_and_a_file_without_rules() {
    let config = parse_ok(&format!(
        "{SERVER}[[rule]]\nname = \"a\"\naction = \"skip\"\ntask = \"[SubsPlease]*\"\nglob = \"*[1080p]*.mkv\"\n"
    ));
    let lints: Vec<String> = config
        .lints
        .iter()
        .map(|l| l.render(Path::new("rules.toml")))
        .collect();
    assert_eq!(lints.len(), 2, "{lints:#?}");
    assert!(
        lints[0].starts_with("rules.toml:8:8: rule[0].glob: [1080p] is a character class"),
        "{lints:#?}"
    );
    assert!(
        lints[1].starts_with("rules.toml:7:8: rule[0].task: [SubsPlease] is a character class"),
        "{lints:#?}"
    );
    assert!(lints[1].contains(r"write '\[SubsPlease\]*'"), "{lints:#?}");

    let config = parse_ok(SERVER);
    let lints: Vec<String> = config
        .lints
        .iter()
        .map(|l| l.render(Path::new("rules.toml")))
        .collect();
    assert_eq!(
        lints,
        [
            "rules.toml:4:1: rule: no [[rule]] tables: the daemon signs in and lists the downloads, but never changes a selection; add rules (rules.example.toml is a start)"
        ]
    );
}

#[test]
fn credentials_with_and_without_the_directory_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let dir_str = dir.path().to_str().unwrap().to_owned();
    let creds = move |key: &str| (key == "CREDENTIALS_DIRECTORY").then(|| dir_str.clone());
    assert_eq!(credential_file(REFRESH_TOKEN_CREDENTIAL, &creds), None);
    assert_eq!(credential_file(PASSWORD_CREDENTIAL, &no_env), None);
    // A systemd directory credential: LoadCredential=cloudreve-autoselect:/etc/credstore/...
    let prefixed = dir.path().join("cloudreve-autoselect_refresh-token");
    std::fs::write(&prefixed, "token\n").unwrap();
    assert_eq!(
        credential_file(REFRESH_TOKEN_CREDENTIAL, &creds),
        Some(prefixed)
    );
    std::fs::write(
        dir.path().join("cloudreve-autoselect_password"),
        "prefixed\n",
    )
    .unwrap();
    assert_eq!(
        resolve_password(&PasswordSetting::FromEnvironment, &creds)
            .unwrap()
            .expose_secret(),
        "prefixed"
    );
    // A Docker secret (no prefix) is looked at first.
    std::fs::write(dir.path().join("password"), "plain\n").unwrap();
    assert_eq!(
        resolve_password(&PasswordSetting::FromEnvironment, &creds)
            .unwrap()
            .expose_secret(),
        "plain"
    );
    // Another unit's credential is not ours.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("other_password"), "x\n").unwrap();
    let other_str = other.path().to_str().unwrap().to_owned();
    let other_env = move |key: &str| (key == "CREDENTIALS_DIRECTORY").then(|| other_str.clone());
    assert!(matches!(
        resolve_password(&PasswordSetting::FromEnvironment, &other_env),
        Err(PasswordError::Missing)
    ));
}

#[test]
fn next_runs_follow_the_schedule() {
    let schedule = Schedule::parse("*/30 * * * * *").unwrap();
    let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:10Z")
        .unwrap()
        .with_timezone(&Utc);
    let runs: Vec<String> = schedule
        .next_runs(start, 3)
        .iter()
        .map(chrono::DateTime::to_rfc3339)
        .collect();
    assert_eq!(
        runs,
        [
            "2026-01-01T00:00:30+00:00",
            "2026-01-01T00:01:00+00:00",
            "2026-01-01T00:01:30+00:00"
        ]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let message = parse_err(&format!(
        "{SERVER}[daemon]\nschedule = \"*/5 * * * *\"\n[[rule]]\nname = \"a\"\naction = \"skip\"\nglob = [\"[abc\"]\n[[rule]]\nname = \"a\"\naction = \"skip\"\nmin_size = \"5 MiBs\"\n"
    ));
    assert!(
        message.starts_with("invalid config file rules.toml: 4 problems\n"),
        "{message}"
    );
    assert_eq!(message.matches("\nrules.toml:").count(), 4, "{message}");
    assert!(
        message.contains("rules.toml:5:12: daemon.schedule"),
        "{message}"
    );
    assert!(
        message.contains("rules.toml:9:9: rule[0].glob[0]: invalid glob"),
        "{message}"
    );
    assert!(
        message.contains("rule[1].name: duplicate rule name"),
        "{message}"
    );
    assert!(
        message.contains("rule[1].min_size: invalid size"),
        "{message}"
    );
}
