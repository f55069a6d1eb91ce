//! The deployment files: structural checks of the Dockerfile, the systemd unit, the Debian
//! package metadata and the README that hold without a Docker engine or a running systemd, and
//! the credential layout the unit and Docker secrets deliver. CI also runs hadolint and
//! systemd-analyze, and ci/systemd-real, ci/docker-real and ci/deb run everything for real.

use std::path::Path;

use cloudreve_emulator::{Backend, Emulator, EmulatorOptions};

use crate::support::{self, run_binary, stderr};

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
    // The runtime stage is not the builder: no compiler or shell ships. Which base images
    // (and that the builder's glibc is no newer than the runtime's) is ci/docker-real's to
    // prove, by running the image; a name here would only pin today's choice.
    let image = |line: &str| {
        line.split_whitespace()
            .find(|word| !word.starts_with("--") && *word != "FROM")
            .map(str::to_owned)
    };
    assert_ne!(image(from[0]), image(from[1]), "{from:?}");
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
    // The release binary carries its dependency list for scanners (cargo auditable).
    assert!(dockerfile.contains("cargo auditable build --release --locked"));
    // A `# syntax=` line makes BuildKit pull a frontend image: fails offline.
    assert!(!dockerfile.lines().any(|l| l.starts_with("# syntax=")));
    // cargo wants the files of every target Cargo.toml names, even to build the binary alone.
    let manifest = read("Cargo.toml");
    for (table, dir) in [("[[bench]]", "benches"), ("[[example]]", "examples")] {
        if manifest.contains(table) {
            assert!(
                lines.iter().any(|l| l.starts_with(&format!("COPY {dir} "))),
                "the Dockerfile does not copy {dir}/"
            );
        }
    }
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
        "ExecStart=/usr/bin/cloudreve-autoselect run",
        "Restart=on-failure",
        "RestartPreventExitStatus=78",
        "DynamicUser=yes",
        "StateDirectory=cloudreve-autoselect",
        "ConfigurationDirectory=cloudreve-autoselect",
        "LoadCredential=cloudreve-autoselect:/etc/credstore/cloudreve-autoselect",
        "WatchdogSec=",
    ] {
        assert!(unit.lines().any(|l| l.starts_with(line)), "missing {line}");
    }
    // Reload validates first, then signals without procps' /bin/kill (absent on minimal systems).
    let reloads: Vec<&str> = unit
        .lines()
        .filter(|l| l.starts_with("ExecReload="))
        .collect();
    assert_eq!(
        reloads,
        [
            "ExecReload=/usr/bin/cloudreve-autoselect check --rules-only",
            "ExecReload=/bin/sh -c 'kill -HUP \"$MAINPID\"'",
        ]
    );
    assert!(
        !unit
            .lines()
            .any(|l| l.starts_with("Exec") && l.contains("/bin/kill"))
    );
}

/// The lines of a README code block that follow `heading`, without `sudo` and comments.
fn readme_commands(readme: &str, heading: &str) -> Vec<String> {
    let section = readme.split(heading).nth(1).unwrap();
    let block = section
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    block
        .lines()
        .map(|l| {
            let command = l.split("  #").next().unwrap().trim();
            command.strip_prefix("sudo ").unwrap_or(command).to_owned()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn ci_installs_exactly_as_the_readme_says() {
    let readme = read("README.md");
    let script = read("ci/systemd-real");
    let manual = readme_commands(&readme, "## Deploy with systemd");
    let package = readme_commands(&readme, "## Install the Debian package");
    // What CI runs as root in the booted machine, in the README's words.
    for command in manual
        .iter()
        .filter(|c| c.starts_with("install ") || c.starts_with("systemctl daemon-reload"))
    {
        assert!(
            script.contains(command.as_str()),
            "ci/systemd-real lacks {command:?}"
        );
    }
    for command in manual.iter().chain(&package).filter(|c| {
        c.starts_with("sh -c")
            || c.starts_with("cloudreve-autoselect")
            || c.starts_with("systemctl enable")
    }) {
        let generic = command.replace("/etc/credstore/cloudreve-autoselect/", "$credstore/");
        let generic = generic.replace("sh -c '", "sh -c \"").replace('\'', "\"");
        assert!(
            script.contains(&generic) || script.contains(command.as_str()),
            "ci/systemd-real lacks {command:?}"
        );
    }
    assert!(
        package
            .iter()
            .any(|c| c.starts_with("apt-get install ./target/debian/"))
    );
    assert!(script.contains("apt-get install -y -qq ./"));
    // The unit, the package and the README agree on the binary's path.
    let manifest = read("Cargo.toml");
    assert!(manifest.contains(r#"["target/release/cloudreve-autoselect", "usr/bin/", "755"]"#));
    assert!(
        manual
            .contains(&"install -m 0755 target/release/cloudreve-autoselect /usr/bin/".to_owned())
    );
    assert!(manifest.contains(r#"conf-files = ["/etc/cloudreve-autoselect/rules.toml"]"#));
    assert!(manifest.contains("enable = false, start = false"));
}

async fn once_with_credentials(emu: &Emulator, files: &[(&str, &str)]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::create_dir(&credentials).unwrap();
    for (name, text) in files {
        std::fs::write(credentials.join(name), text).unwrap();
    }
    let config = dir.path().join("rules.toml");
    let text = support::config_text(
        &emu.base_url(),
        &format!(
            "[daemon]\nstate_file = \"{}\"\n{}",
            dir.path().join("state.json").display(),
            support::RULES
        ),
    );
    std::fs::write(&config, text).unwrap();
    run_binary(
        &["--config", config.to_str().unwrap(), "once"],
        &[("CREDENTIALS_DIRECTORY", credentials.to_str().unwrap())],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_directory_holds_a_password_or_a_refresh_token() {
    // An account with two-factor sign-in: only a refresh token can sign in.
    let emu = Emulator::start(EmulatorOptions {
        two_factor: true,
        ..EmulatorOptions::default()
    })
    .await
    .unwrap();
    emu.add_task(support::show(Backend::Aria2));
    let token = format!("{}\n", emu.browser_refresh_token());
    // As systemd delivers the unit's directory credential.
    let output =
        once_with_credentials(&emu, &[("cloudreve-autoselect_refresh-token", &token)]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(support::patches(&emu).len(), 1);
    assert_eq!(support::count(&emu, "POST", "/session/token"), 0);
    // As a Docker secret; and a password beside it wins (and fails here: two-factor).
    let output = once_with_credentials(
        &emu,
        &[
            ("refresh-token", &token),
            ("password", &format!("{}\n", support::PASSWORD)),
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("two-factor"),
        "{}",
        stderr(&output)
    );
    assert_eq!(support::count(&emu, "POST", "/session/token"), 1);
    // Neither: the message names both credentials.
    let output = once_with_credentials(&emu, &[]).await;
    assert_eq!(output.status.code(), Some(78));
    assert!(
        stderr(&output).contains("`password` or `refresh-token`"),
        "{}",
        stderr(&output)
    );
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
        "read_only: true",
    ] {
        assert!(compose.contains(needle), "compose example lacks {needle:?}");
    }
    assert!(readme.contains("cargo run --release -- demo"));
}

/// The rules file's man page (section 5, written by hand) keeps up with the README's table of
/// rule keys and with the tables of `rules.example.toml`.
#[test]
fn the_rules_man_page_names_every_rule_key_and_table() {
    let readme = read("README.md");
    let page = read("man/cloudreve-autoselect-rules.5");
    let table = readme
        .split("| key | meaning |")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    let mut keys = 0;
    for row in table.lines().skip(1) {
        let first_cell = row.split('|').nth(1).unwrap();
        for key in first_cell.split('`').skip(1).step_by(2) {
            keys += 1;
            assert!(
                page.contains(&format!(".B {key}\n"))
                    || page.contains(&format!(".BR {key} "))
                    || page.contains(&format!("\" {key}\n"))
                    || page.contains(&format!("\" {key} \"")),
                "man/cloudreve-autoselect-rules.5 does not name the rule key {key}"
            );
        }
    }
    assert!(keys >= 15, "only {keys} keys found in the README's table");
    let example = read("rules.example.toml");
    for line in example.lines() {
        let line = line.trim_start_matches('#').trim();
        if line.starts_with('[') && line.ends_with(']') && !line.contains('"') {
            assert!(
                page.contains(&format!(".SH {line}\n")),
                "man/cloudreve-autoselect-rules.5 has no section {line}"
            );
        }
    }
}
