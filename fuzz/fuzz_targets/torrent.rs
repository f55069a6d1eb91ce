//! The .torrent reader (`explain --torrent`): v1, v2 and hybrid, with its depth check.
//!
//! Oracle: a torrent that reads gives one aria2 and one qBittorrent index per file; aria2's
//! indices are 1, 2, 3, ... in order, or none at all for a v2-only torrent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(torrent) = cloudreve_autoselect::torrent::parse(data) else {
        return;
    };
    let aria2 = torrent.aria2_indices();
    let qbittorrent = torrent.qbittorrent_indices();
    assert_eq!(aria2.len(), torrent.files.len());
    assert_eq!(qbittorrent.len(), torrent.files.len());
    let v2_only = torrent.version == cloudreve_autoselect::torrent::MetaVersion::V2;
    for (position, index) in aria2.iter().enumerate() {
        assert_eq!(*index, (!v2_only).then_some(position as u64 + 1));
    }
});
