//! The deployment files: structural checks of the Dockerfile and the systemd unit that hold
//! without a Docker engine or a running systemd (CI also runs hadolint and systemd-analyze).

use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

fn instructions(dockerfile: &str) -> Vec<String> {
    // Join continuation lines; drop comments.
    let mut out = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            out.push(std::mem::take(&mut current));
        }
    }
    out
}

#[test]
fn dockerfile_is_multi_stage_non_root_and_exec_form() {
    let dockerfile = read("Dockerfile");
    let lines = instructions(&dockerfile);
    let from: Vec<&String> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(from.len(), 2, "{from:?}");
    // The builder's Debian release is the runtime's (trixie = Debian 13).
    assert!(from[0].contains("-trixie"), "{}", from[0]);
    assert!(from[1].contains("distroless/cc-debian13"), "{}", from[1]);
    let user = lines.iter().find(|l| l.starts_with("USER ")).unwrap();
    let uid = user.trim_start_matches("USER ").split(':').next().unwrap();
    assert!(
        uid.parse::<u32>().unwrap() > 0,
        "numeric non-root USER: {user}"
    );
    for keyword in ["ENTRYPOINT", "CMD", "HEALTHCHECK"] {
        let line = lines
            .iter()
            .rev()
            .find(|l| l.starts_with(&format!("{keyword} ")))
            .unwrap();
        let json_part = line
            .split_once('[')
            .map(|(_, rest)| format!("[{rest}"))
            .unwrap();
        let parsed: Vec<String> = serde_json::from_str(&json_part)
            .unwrap_or_else(|e| panic!("{keyword} is not exec form: {line}: {e}"));
        assert!(!parsed.is_empty());
    }
    let binary = format!("/usr/local/bin/{}", env!("CARGO_PKG_NAME"));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ENTRYPOINT") && l.contains(&binary))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("HEALTHCHECK") && l.contains("\"healthcheck\""))
    );
    assert!(dockerfile.contains("cargo build --release --locked"));
    assert!(dockerfile.contains("CREDENTIALS_DIRECTORY=/run/secrets"));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("VOLUME") && l.contains("/var/lib/cloudreve-autoselect"))
    );
}

#[test]
fn systemd_unit_has_the_required_settings() {
    let unit = read("systemd/cloudreve-autoselect.service");
    for line in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "RestartPreventExitStatus=78",
        "DynamicUser=yes",
        "StateDirectory=cloudreve-autoselect",
        "ConfigurationDirectory=cloudreve-autoselect",
        "LoadCredential=password:",
        "WatchdogSec=",
    ] {
        assert!(unit.lines().any(|l| l.starts_with(line)), "missing {line}");
    }
}

#[test]
fn readme_compose_example_matches_the_image() {
    let readme = read("README.md");
    let compose = readme
        .split("```yaml")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    for needle in [
        "/config:ro",
        "secrets:",
        "password",
        "/var/lib/cloudreve-autoselect",
        "restart: unless-stopped",
    ] {
        assert!(compose.contains(needle), "compose example lacks {needle:?}");
    }
    assert!(readme.contains("cargo run --release -- demo"));
}
