//! The workspace's shape, from its manifests: the emulated Cloudreve (`cloudreve-emulator`,
//! in `emulator/`) reaches the daemon only through the `demo` feature and the
//! dev-dependencies, so a build without `demo` carries none of it; both packages keep the
//! workspace's lints; the Dockerfile's build stage has every member.

use std::path::Path;

/// A file of the repository, read.
fn repo_file(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn manifest(path: &str) -> toml::Table {
    toml::from_str(&repo_file(path)).unwrap()
}

/// The names of a TOML array of strings, or nothing.
fn strings(value: Option<&toml::Value>) -> Vec<&str> {
    value
        .and_then(toml::Value::as_array)
        .map(|array| array.iter().filter_map(toml::Value::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn the_emulator_reaches_the_daemon_only_through_demo_and_dev_dependencies() {
    const EMULATOR: &str = "cloudreve-emulator";
    let root = manifest("Cargo.toml");
    let workspace = root["workspace"].as_table().unwrap();
    // Both packages are default members, so `cargo test` and `cargo clippy` cover both.
    for key in ["members", "default-members"] {
        assert_eq!(
            strings(workspace.get(key)),
            [".", "emulator"],
            "workspace.{key}"
        );
    }
    // A normal dependency only when `demo` asks for it, and only `demo` asks.
    assert_eq!(
        root["dependencies"][EMULATOR]
            .get("optional")
            .and_then(toml::Value::as_bool),
        Some(true),
        "[dependencies] {EMULATOR} is not optional"
    );
    for (feature, enables) in root["features"].as_table().unwrap() {
        let named = strings(Some(enables)).iter().any(|e| e.contains(EMULATOR));
        assert_eq!(named, feature == "demo", "feature {feature}: {enables}");
    }
    assert_eq!(
        strings(root["features"].get("demo")),
        [format!("dep:{EMULATOR}")]
    );
    assert!(strings(root["features"].get("default")).contains(&"demo"));
    assert!(root["dev-dependencies"].get(EMULATOR).is_some());
    // Nowhere else: no build-dependency, no per-target table pulls it in behind `demo`'s back.
    assert!(root.get("build-dependencies").is_none() && root.get("target").is_none());
    // It imports nothing from the daemon, and keeps the workspace's lints (no unwrap, no unsafe).
    let emulator = manifest("emulator/Cargo.toml");
    for table in ["dependencies", "dev-dependencies", "build-dependencies"] {
        assert!(
            emulator
                .get(table)
                .is_none_or(|t| t.get("cloudreve-autoselect").is_none()),
            "emulator/Cargo.toml [{table}] names the daemon"
        );
    }
    for package in [&root, &emulator] {
        assert_eq!(package["lints"]["workspace"].as_bool(), Some(true));
    }
    // Which code uses it: `tidy::only_demo_uses_the_emulator_crate`.
}

#[test]
fn the_dockerfile_copies_every_workspace_member() {
    // Cargo reads every member's manifest, even to build one binary: a member missing from the
    // build stage fails the image build.
    let root = manifest("Cargo.toml");
    let dockerfile = repo_file("Dockerfile");
    for member in strings(root["workspace"].get("members")) {
        if member != "." {
            assert!(
                dockerfile
                    .lines()
                    .any(|l| l == format!("COPY {member} ./{member}")),
                "the Dockerfile does not copy the workspace member {member}/"
            );
        }
    }
}
