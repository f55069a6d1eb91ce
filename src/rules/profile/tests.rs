//! The profile's tests: kinds, families, structures, and the per-file reading of a path.

use super::*;

fn kind(files: &[(&str, u64)]) -> Kind {
    Profile::of(files.iter().copied()).kind()
}

#[test]
fn the_family_holding_half_of_the_bytes_decides() {
    assert_eq!(
        kind(&[
            ("F/F.mkv", 900),
            ("F/F.nfo", 5),
            ("F/Sample/s.mkv", 50),
            ("F/a.exe", 45)
        ]),
        Kind::Video
    );
    assert_eq!(
        kind(&[("A/01.flac", 500), ("A/02.flac", 500), ("A/cover.jpg", 100)]),
        Kind::Audio
    );
    assert_eq!(
        kind(&[("N/a.txt", 10), ("N/b.txt", 10), ("N/c.url", 1)]),
        Kind::Book
    );
    assert_eq!(kind(&[("R/a.gba", 10), ("R/b.gba", 10)]), Kind::Game);
    assert_eq!(
        kind(&[("P/x.iso", 10), ("P/readme.txt", 1)]),
        Kind::DiscImage
    );
    assert_eq!(
        kind(&[("P/setup.exe", 10), ("P/readme.txt", 1)]),
        Kind::Software
    );
}

#[test]
fn extensions_and_rar_volumes_ignore_ascii_case_without_allocating() {
    assert_eq!(Family::of_extension("MKV"), Family::Video);
    assert_eq!(Family::of_extension("AppImage"), Family::Executable);
    assert_eq!(Family::of_extension("R07"), Family::Archive);
    assert_eq!(Family::of_extension("appimages"), Family::Other);
    assert_eq!(Family::of_extension("é"), Family::Other);
    for volume in ["a.part1.rar", "A.PART01.RAR", "x.y.Part12.Rar"] {
        assert!(part_volume(volume), "{volume}");
    }
    for single in [
        "a.rar",
        "a.part.rar",
        "a.part1x.rar",
        "part1.rar",
        "a.é1.rar",
    ] {
        assert!(!part_volume(single), "{single}");
    }
    assert_eq!(classify("d", ".nfo", "nfo").0, Family::Other);
    assert_eq!(classify("d", "é.mkv", "mkv").0, Family::Video);
    assert!(Profile::of([("S/A.PART1.RAR", 10), ("S/A.PART2.RAR", 10)]).has(Structure::RarSet));
}

#[test]
fn a_disc_structure_decides_before_shares() {
    let files = [
        ("M/BDMV/STREAM/00000.m2ts", 10),
        ("M/BDMV/index.bdmv", 1),
        ("M/CERTIFICATE/id.bdmv", 1),
        ("M/extras.zip", 1000),
    ];
    let profile = Profile::of(files);
    assert_eq!(profile.kind(), Kind::Video);
    assert_eq!(profile.reason(), Reason::Structure(Structure::BluRay));
    assert!(
        profile
            .to_string()
            .starts_with("kind video: a Blu-ray folder")
    );
    let dvd = Profile::of([("D/VIDEO_TS/VTS_01_1.VOB", 10), ("D/AUDIO_TS/x", 0)]);
    assert!(dvd.has(Structure::Dvd) && !dvd.has(Structure::DvdAudio));
    // A game whose cut-scenes outweigh its code is still a program.
    let game = Profile::of([
        ("G/movies/intro.mp4", 900),
        ("G/game.exe", 50),
        ("G/x.dll", 50),
    ]);
    assert_eq!(game.kind(), Kind::Software);
    assert_eq!(game.reason(), Reason::Structure(Structure::Program));
}

#[test]
fn an_installer_makes_software_when_no_family_holds_half() {
    let files = [
        ("G/setup.exe", 5),
        ("G/fg-01.bin", 100),
        ("G/fg-02.bin", 100),
        ("G/data.dat", 300),
    ];
    // `.bin` counts as a disc image; the `.dat` (other) keeps every family under half.
    assert_eq!(kind(&files), Kind::Software);
    assert_eq!(kind(&[("X/a.csv", 10), ("X/b.obj", 10)]), Kind::Mixed);
}

#[test]
fn sets_are_recognised() {
    let rar = Profile::of([("R/r.rar", 50), ("R/r.r00", 50), ("R/r.r01", 50)]);
    assert!(rar.has(Structure::RarSet));
    assert_eq!(rar.kind(), Kind::Archive);
    let parts = Profile::of([("R/r.part1.rar", 50), ("R/r.part2.rar", 50)]);
    assert!(parts.has(Structure::RarSet));
    assert!(!Profile::of([("R/one.rar", 50)]).has(Structure::RarSet));
    assert!(Profile::of([("A/a.cue", 1), ("A/a.flac", 9)]).has(Structure::CueOrPlaylist));
}

#[test]
fn the_profile_explains_itself() {
    let profile = Profile::of([("F/F.mkv", 970), ("F/F.srt", 30)]);
    assert_eq!(
        profile.to_string(),
        "kind video: video 97.0 % of bytes; families: video 97.0 % (1 file), subtitle 3.0 % (1 file)"
    );
    assert_eq!(
        Profile::of([]).to_string(),
        "kind mixed: no family holds half of the bytes; families: none"
    );
}

#[test]
fn release_groups() {
    let group = release_group("Blood.Orchard.2015.720p.BRRip.x264.AAC-ETRG");
    assert_eq!(group, Some("ETRG"));
    assert!(is_named_after("ETRG.mp4", group) && is_named_after("etrg.txt", group));
    assert!(!is_named_after("Blood.Orchard.2015.mp4", group));
    assert_eq!(
        release_group("Show.S01.720p.WEBRip.x264-GalaxyTV[TGx]"),
        Some("GalaxyTV")
    );
    assert_eq!(
        release_group("[Kaleido-subs] Neko Biyori - 01-24 (1080p) [Batch]"),
        None
    );
    assert_eq!(release_group("Film-2019"), None);
    assert_eq!(release_group("Film.2019.1080p.BluRay"), None);
    assert!(!is_named_after("ETRG.mp4", None));
}

#[test]
fn kind_sets() {
    let set = KindSet::NONE.with(Kind::Video).with(Kind::Audio);
    assert!(set.contains(Kind::Audio) && !set.contains(Kind::Book));
    assert!(KindSet::ANY.covers(set) && !set.covers(KindSet::ANY));
    assert_eq!(set.to_string(), "video,audio");
    let most = KindSet::ANY.without(Kind::Book).without(Kind::Image);
    assert_eq!(most.to_string(), "not book,image");
    assert!(!KindSet::ANY.without(Kind::Video).contains(Kind::Video));
    assert_eq!(Kind::parse("software"), Some(Kind::Software));
    assert_eq!(Kind::parse("films"), None);
}

/// The path as the profile read it before it split the path once (`str` methods, char by char):
/// whether it is padding, its family and structure, and its extension. Folder names are read by
/// the same `disc_structure`: the splitting is what is checked.
fn read_by_str_methods(path: &str) -> (bool, Family, Option<Structure>, String) {
    let mut parts = path.rsplit('/');
    let base = parts.next().unwrap_or(path);
    let padding = parts.next() == Some(".pad") || base.starts_with("_____padding_file_");
    let structure = path.split('/').rev().skip(1).find_map(disc_structure);
    let mut after_first = base.chars();
    after_first.next();
    let family = match (structure, after_first.as_str().rsplit_once('.')) {
        (Some(_), _) => Family::Disc,
        (None, Some((_, ext))) => Family::of_extension(ext),
        (None, None) => Family::Other,
    };
    let ext = base.rsplit_once('.').map_or("", |(_, ext)| ext);
    let ext = if ext.len() <= LONGEST_EXTENSION {
        ext.to_ascii_lowercase()
    } else {
        String::new()
    };
    (padding, family, structure, ext)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4_000))]

    /// Splitting a path once, by bytes, reads it as the `str` methods do: multi-byte names,
    /// leading dots, empty segments, case, long extensions and disc folders included.
    #[test]
    fn a_path_split_once_reads_as_str_methods_read_it(
        path in "((\\.pad|BDMV|Video_TS|audio_ts|CERTIFICATE|é|[a.]{0,3})/){0,3}(_____padding_file_1|\\.?[aé]{0,2}(\\.(MKV|mkv|Rar|r07|appimages|nfo|))?)",
    ) {
        let (folders, base) = split_path(&path);
        let mut buffer = [0; LONGEST_EXTENSION];
        let ext = lowercase_extension(split_last(base, b'.').map_or("", |(_, ext)| ext), &mut buffer)
            .unwrap_or_default();
        let (family, structure) = classify(folders, base, ext);
        let split = (is_padding(folders, base), family, structure, ext.to_owned());
        proptest::prop_assert_eq!(split, read_by_str_methods(&path));
    }
}
