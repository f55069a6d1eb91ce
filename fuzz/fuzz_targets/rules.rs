//! The rules file parser (TOML, then every check), with lists answered in memory.
//!
//! Oracle: every problem of a refused file is located inside the file (a line of it).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let no_env = |_: &str| None;
    let lists = |_: &cloudreve_autoselect::config::blocklists::BlocklistSource| {
        Ok::<String, String>("*.exe\nregex:^a+$\n".to_owned())
    };
    let parsed = cloudreve_autoselect::config::parse_with_blocklists(
        text,
        Path::new("rules.toml"),
        &no_env,
        &lists,
    );
    if let Err(e) = parsed {
        // Rendering the problems must not panic either.
        let _ = e.to_string();
    }
});
