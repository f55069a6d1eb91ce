//! The shared-list format (Cleanuparr's Malware Blocker lists: `*x`, `x*`, `*x*`, `x`,
//! `regex:`), as fetched lists and `list_file`s are compiled.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let _ = cloudreve_autoselect::rules::blocklist::compile(text, flags & 1 == 1);
    for line in text.lines() {
        let _ = cloudreve_autoselect::rules::blocklist::parse_line(line);
    }
});
