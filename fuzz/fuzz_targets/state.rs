//! The state file and journal reader, as `StateStore::open` reads them.
//!
//! Input: the state file's text, a 0xFF byte (never in UTF-8 JSON), the journal's text.
//! Oracle: a state that reads answers for every task it knows.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (state, journal) = match data.iter().position(|&b| b == 0xFF) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    if let Ok(store) = cloudreve_autoselect::state::StateStore::read_texts(state, journal) {
        let _ = store.task_count();
        let _ = store.stats();
    }
});
