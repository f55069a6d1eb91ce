//! Architecture invariants as tests: the functional core imports no I/O, and only the
//! `cloudreve` module speaks HTTP (besides the notifiers' transport), every client built in `http.rs`.

use std::path::Path;

fn source(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    // Stop at the test module: tests may use anything.
    text.lines()
        .take_while(|line| !line.starts_with("#[cfg(test)]"))
        .filter(|line| !line.trim_start().starts_with("//"))
}

#[test]
fn the_core_does_no_io_no_async_no_logging_and_no_serde() {
    for file in [
        "src/plan.rs",
        "src/rules/mod.rs",
        "src/rules/size.rs",
        "src/task.rs",
        "src/table.rs",
        "src/outcome.rs",
    ] {
        let text = source(file);
        for line in code_lines(&text) {
            for banned in [
                "tokio",
                "reqwest",
                "std::fs",
                "std::net",
                "tracing",
                "serde",
                "async ",
                ".await",
                "Utc::now",
                "SystemTime",
                "Instant",
                "println",
                "std::env",
            ] {
                assert!(!line.contains(banned), "{file} uses {banned:?}: {line}");
            }
        }
    }
}

#[test]
fn only_the_cloudreve_module_speaks_http() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            // Every client is built in http.rs, under the one trust policy written there
            // (redirects, timeouts, certificates); the emulator is a server.
            if relative != "http.rs" && !relative.starts_with("emulator/") {
                for line in code_lines(&text) {
                    for builder in ["Client::builder", "reqwest::Client::new", "ClientBuilder"] {
                        assert!(
                            !line.contains(builder),
                            "{relative} builds an HTTP client outside src/http.rs: {line}"
                        );
                    }
                    assert!(
                        !line.contains("redirect::Policy"),
                        "{relative} sets a redirect policy outside src/http.rs: {line}"
                    );
                }
            }
            // The notifiers' transport is the one other HTTP user (to ntfy, Gotify, ...).
            if relative.starts_with("cloudreve/")
                || relative.starts_with("emulator/")
                || relative == "notify/transport.rs"
                || relative == "http.rs"
            {
                continue;
            }
            for line in code_lines(&text) {
                assert!(!line.contains("reqwest"), "{relative} uses reqwest: {line}");
                assert!(
                    !line.contains("wire::"),
                    "{relative} uses wire types: {line}"
                );
            }
        }
    }
}

#[test]
fn every_module_opens_with_a_doc_comment() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                // Only Rust files are modules (src/rules/presets/ holds TOML).
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(
                    text.starts_with("//!"),
                    "{} does not open with //!",
                    path.display()
                );
            }
        }
    }
}
