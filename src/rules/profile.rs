//! The profile of a task: what kind of torrent it is, derived from its files alone. Pure.
//!
//! Every file belongs to one content family, by its extension (or, for the files of a Blu-ray
//! or DVD folder, by where it is). The profile adds up the bytes of each family and notes the
//! structures that must stay whole (a Blu-ray or DVD folder, a RAR volume set, a cue or m3u
//! set). The task's `kind` follows from them, in this order, and the profile says which step
//! decided (`explain` prints it):
//! 1. a Blu-ray (`BDMV/`) or DVD (`VIDEO_TS/`) folder makes it `video`; a DVD-Audio
//!    (`AUDIO_TS/` without `VIDEO_TS/`) makes it `audio`; a program library (`.dll`, `.so`,
//!    `.dylib`) makes it `software` (a game with long video cut-scenes is still a program,
//!    and no film ships a library);
//! 2. a family holding at least half of the bytes decides: video, audio, book, image, rom
//!    (`game`), executable (`software`), disc image (`disc-image`: an `.iso` may hold a film,
//!    an album, a game or a program), archive (`archive`);
//! 3. otherwise an installer or program (`.exe`, `.msi`, `.dmg`, `.apk`, ...) makes it
//!    `software`;
//! 4. otherwise it is `mixed`.
//!
//! Rules scope themselves by kind (`kind = "video"`); the kind is computed once per task.

use super::{split_last, split_path};
use std::fmt;

/// A content family: what a file is, by its extension or its place in a disc structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// Films, episodes, clips.
    Video,
    /// Music, audiobooks, samples.
    Audio,
    /// Books and documents: `.epub`, `.pdf`, `.txt`, comics archives.
    Book,
    /// Pictures.
    Image,
    /// Subtitles and lyrics.
    Subtitle,
    /// Fonts.
    Font,
    /// Programs, installers and libraries.
    Executable,
    /// Archives and archive volumes.
    Archive,
    /// Disc images: `.iso`, `.bin`/`.cue`, `.mdf`.
    DiscImage,
    /// Cartridge ROMs.
    Rom,
    /// The files of a Blu-ray or DVD folder (`BDMV/`, `CERTIFICATE/`, `VIDEO_TS/`, `AUDIO_TS/`).
    Disc,
    /// Anything else.
    Other,
}

impl Family {
    /// Every family, in the order the profile lists them.
    pub const ALL: [Self; 12] = [
        Self::Video,
        Self::Audio,
        Self::Book,
        Self::Image,
        Self::Subtitle,
        Self::Font,
        Self::Executable,
        Self::Archive,
        Self::DiscImage,
        Self::Rom,
        Self::Disc,
        Self::Other,
    ];

    /// The family's name as `explain` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Book => "book",
            Self::Image => "image",
            Self::Subtitle => "subtitle",
            Self::Font => "font",
            Self::Executable => "executable",
            Self::Archive => "archive",
            Self::DiscImage => "disc image",
            Self::Rom => "rom",
            Self::Disc => "disc structure",
            Self::Other => "other",
        }
    }

    /// The family of a file name's extension (ASCII case ignored).
    pub fn of_extension(ext: &str) -> Self {
        let mut buffer = [0; LONGEST_EXTENSION];
        lowercase_extension(ext, &mut buffer).map_or(Self::Other, Self::of_lowercase_extension)
    }

    /// The family of an extension already in ASCII lowercase.
    fn of_lowercase_extension(ext: &str) -> Self {
        match ext {
            "mkv" | "mp4" | "avi" | "mov" | "wmv" | "m4v" | "mpg" | "mpeg" | "ts" | "m2ts"
            | "mts" | "webm" | "flv" | "vob" | "rmvb" | "rm" | "3gp" | "ogv" | "divx" | "f4v"
            | "asf" | "m2v" => Self::Video,
            "mp3" | "flac" | "wav" | "aac" | "ogg" | "oga" | "m4a" | "m4b" | "opus" | "ape"
            | "wv" | "alac" | "aiff" | "aif" | "dsf" | "dff" | "mka" | "wma" | "mid" | "midi"
            | "tta" | "ac3" | "dts" | "mpc" | "aax" | "rex" | "rx2" | "nki" | "nkx" | "nkc" => {
                Self::Audio
            }
            "epub" | "pdf" | "mobi" | "azw" | "azw3" | "kfx" | "djvu" | "fb2" | "txt" | "doc"
            | "docx" | "rtf" | "cbz" | "cbr" | "cb7" | "chm" | "lit" | "odt" | "md" | "umd" => {
                Self::Book
            }
            "jpg" | "jpeg" | "png" | "gif" | "bmp" | "webp" | "tif" | "tiff" | "heic" | "raw"
            | "cr2" | "cr3" | "nef" | "arw" | "dng" | "psd" | "svg" | "avif" => Self::Image,
            "srt" | "ass" | "ssa" | "sub" | "idx" | "vtt" | "sup" | "smi" | "lrc" => Self::Subtitle,
            "ttf" | "otf" | "ttc" | "woff" | "woff2" | "fon" => Self::Font,
            "exe" | "msi" | "dll" | "bat" | "cmd" | "com" | "scr" | "apk" | "dmg" | "pkg"
            | "deb" | "rpm" | "appimage" | "jar" | "msix" | "appx" | "xapk" => Self::Executable,
            "rar" | "zip" | "7z" | "tar" | "gz" | "tgz" | "bz2" | "xz" | "zst" | "lz" | "lzh"
            | "cab" => Self::Archive,
            "iso" | "img" | "bin" | "cue" | "mdf" | "mds" | "nrg" | "ccd" | "chd" | "cdi"
            | "gdi" | "cso" | "wbfs" | "rvz" | "nsp" | "xci" => Self::DiscImage,
            "nes" | "sfc" | "smc" | "gba" | "gb" | "gbc" | "n64" | "z64" | "v64" | "nds"
            | "3ds" | "cia" | "gen" | "sms" | "gg" | "pce" | "a26" | "ws" | "wsc" | "ngp"
            | "32x" | "lnx" => Self::Rom,
            _ if is_volume_extension(ext) => Self::Archive,
            _ => Self::Other,
        }
    }
}

/// The longest extension a family or structure names (`appimage`).
const LONGEST_EXTENSION: usize = 8;

/// `ext` in ASCII lowercase, in `buffer`: the profile looks at every file of every task, so
/// without an allocation per file (two per file cost about a third of planning a large list);
/// `None` when it is longer than any extension named here.
fn lowercase_extension<'b>(ext: &str, buffer: &'b mut [u8; LONGEST_EXTENSION]) -> Option<&'b str> {
    let lowered = buffer.get_mut(..ext.len())?;
    lowered.copy_from_slice(ext.as_bytes());
    lowered.make_ascii_lowercase();
    // ASCII lowercasing keeps UTF-8 valid, so this never fails.
    std::str::from_utf8(lowered).ok()
}

/// `r00`..`r99`, `s00`.., and `001`..: the extensions of archive volumes.
fn is_volume_extension(ext: &str) -> bool {
    let bytes = ext.as_bytes();
    match bytes {
        [b'r' | b's', a, b] => a.is_ascii_digit() && b.is_ascii_digit(),
        [a, b, c] => a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit(),
        _ => false,
    }
}

/// What kind of torrent a task is; rules scope themselves by it (`kind = "video"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Films, series, clips, disc structures.
    Video,
    /// Music, audiobooks, sample packs.
    Audio,
    /// Books, comics, documents, text novels.
    Book,
    /// Picture collections.
    Image,
    /// Installers and programs.
    Software,
    /// Mostly disc images (`.iso`, `.bin`/`.cue`): a film, an album, a game or a program.
    DiscImage,
    /// ROM sets.
    Game,
    /// Mostly archives (a RAR release, a zipped collection).
    Archive,
    /// No family holds half of the bytes and there is no installer.
    Mixed,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Self; 9] = [
        Self::Video,
        Self::Audio,
        Self::Book,
        Self::Image,
        Self::Software,
        Self::DiscImage,
        Self::Game,
        Self::Archive,
        Self::Mixed,
    ];

    /// The kind's name as written in rules.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Book => "book",
            Self::Image => "image",
            Self::Software => "software",
            Self::DiscImage => "disc-image",
            Self::Game => "game",
            Self::Archive => "archive",
            Self::Mixed => "mixed",
        }
    }

    /// The kind of this name, if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of kinds: the kinds a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KindSet(u16);

impl KindSet {
    /// Every kind (a rule without `kind`).
    pub const ANY: Self = Self((1 << Kind::ALL.len()) - 1);
    /// No kind.
    pub const NONE: Self = Self(0);

    /// The set with `kind` added.
    #[must_use]
    pub fn with(self, kind: Kind) -> Self {
        Self(self.0 | kind.bit())
    }

    /// The set with `kind` removed.
    #[must_use]
    pub fn without(self, kind: Kind) -> Self {
        Self(self.0 & !kind.bit())
    }

    /// Whether `kind` is in the set.
    pub fn contains(self, kind: Kind) -> bool {
        self.0 & kind.bit() != 0
    }

    /// Whether every kind of `other` is in this set.
    pub fn covers(self, other: Self) -> bool {
        other.0 & !self.0 == 0
    }

    /// The kinds in the set, in `Kind::ALL` order.
    pub fn kinds(self) -> impl Iterator<Item = Kind> {
        Kind::ALL
            .into_iter()
            .filter(move |kind| self.contains(*kind))
    }
}

impl Default for KindSet {
    fn default() -> Self {
        Self::ANY
    }
}

impl fmt::Display for KindSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::ANY {
            return f.write_str("any");
        }
        let count = self.kinds().count();
        if count * 2 > Kind::ALL.len() {
            // "not book,image" reads better than seven kinds.
            f.write_str("not ")?;
            return fmt::Display::fmt(&Self(Self::ANY.0 & !self.0), f);
        }
        for (n, kind) in self.kinds().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            f.write_str(kind.as_str())?;
        }
        Ok(())
    }
}

/// A structure that must stay whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structure {
    /// A Blu-ray folder: `BDMV/` (with `CERTIFICATE/`).
    BluRay,
    /// A DVD-Video folder: `VIDEO_TS/`.
    Dvd,
    /// A DVD-Audio folder: `AUDIO_TS/` with files and no `VIDEO_TS/`.
    DvdAudio,
    /// A RAR volume set: `.rar` with `.r00`.. or `.partN.rar` volumes.
    RarSet,
    /// A cue sheet or m3u playlist with the files it lists.
    CueOrPlaylist,
    /// A program: a library (`.dll`, `.so`, `.dylib`).
    Program,
}

impl Structure {
    const ALL: [Self; 6] = [
        Self::BluRay,
        Self::Dvd,
        Self::DvdAudio,
        Self::RarSet,
        Self::CueOrPlaylist,
        Self::Program,
    ];

    /// The structure's name as `explain` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BluRay => "Blu-ray folder (BDMV/)",
            Self::Dvd => "DVD folder (VIDEO_TS/)",
            Self::DvdAudio => "DVD-Audio folder (AUDIO_TS/)",
            Self::RarSet => "RAR volume set",
            Self::CueOrPlaylist => "cue/m3u set",
            Self::Program => "program (a .dll, .so or .dylib library)",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Which step of the module's list decided the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A disc structure (step 1).
    Structure(Structure),
    /// A family holds at least half of the bytes (step 2).
    Share(Family),
    /// An installer or program, and no family holds half of the bytes (step 3).
    Installer,
    /// Nothing else applied (step 4).
    Mixed,
}

/// The profile of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    kind: Kind,
    reason: Reason,
    bytes: [u64; Family::ALL.len()],
    files: [u32; Family::ALL.len()],
    total: u64,
    structures: u8,
}

impl Profile {
    /// The profile of a task with these files (path as Cloudreve lists it, size in bytes).
    pub fn of<'a>(files: impl IntoIterator<Item = (&'a str, u64)>) -> Self {
        let mut bytes = [0u64; Family::ALL.len()];
        let mut counts = [0u32; Family::ALL.len()];
        let mut total = 0u64;
        let mut structures = 0u8;
        let (mut rar, mut rar_volumes) = (0u32, 0u32);
        for (path, size) in files {
            let (folders, base) = split_path(path);
            if is_padding(folders, base) {
                // BEP 47 padding is no content: a collection of small files padded to the
                // piece size would otherwise look like a collection of padding.
                continue;
            }
            let mut buffer = [0; LONGEST_EXTENSION];
            let ext = split_last(base, b'.').map_or("", |(_, ext)| ext);
            let ext = lowercase_extension(ext, &mut buffer).unwrap_or_default();
            let (family, structure) = classify(folders, base, ext);
            if let Some(structure) = structure {
                structures |= structure.bit();
            }
            match ext {
                "rar" => {
                    rar += 1;
                    rar_volumes += u32::from(part_volume(base));
                }
                "cue" | "m3u" | "m3u8" => structures |= Structure::CueOrPlaylist.bit(),
                "dll" | "so" | "dylib" => structures |= Structure::Program.bit(),
                _ if family == Family::Archive && is_volume_extension(ext) => rar_volumes += 1,
                _ => {}
            }
            let slot = family as usize;
            bytes[slot] = bytes[slot].saturating_add(size);
            counts[slot] = counts[slot].saturating_add(1);
            total = total.saturating_add(size);
        }
        if rar > 0 && rar + rar_volumes >= 2 && rar_volumes > 0 {
            structures |= Structure::RarSet.bit();
        }
        if structures & Structure::Dvd.bit() != 0 {
            structures &= !Structure::DvdAudio.bit();
        }
        let mut profile = Self {
            kind: Kind::Mixed,
            reason: Reason::Mixed,
            bytes,
            files: counts,
            total,
            structures,
        };
        (profile.kind, profile.reason) = profile.decide();
        profile
    }

    fn decide(&self) -> (Kind, Reason) {
        for (structure, kind) in [
            (Structure::BluRay, Kind::Video),
            (Structure::Dvd, Kind::Video),
            (Structure::DvdAudio, Kind::Audio),
            (Structure::Program, Kind::Software),
        ] {
            if self.has(structure) {
                return (kind, Reason::Structure(structure));
            }
        }
        let top = Family::ALL
            .into_iter()
            .max_by_key(|family| (self.bytes[*family as usize], std::cmp::Reverse(*family)));
        if let Some(top) = top
            && self.total > 0
            && self.bytes[top as usize].saturating_mul(2) >= self.total
        {
            let kind = match top {
                Family::Video | Family::Disc => Some(Kind::Video),
                Family::Audio => Some(Kind::Audio),
                Family::Book => Some(Kind::Book),
                Family::Image => Some(Kind::Image),
                Family::Rom => Some(Kind::Game),
                Family::Executable => Some(Kind::Software),
                Family::DiscImage => Some(Kind::DiscImage),
                Family::Archive => Some(Kind::Archive),
                Family::Subtitle | Family::Font | Family::Other => None,
            };
            if let Some(kind) = kind {
                return (kind, Reason::Share(top));
            }
        }
        if self.files[Family::Executable as usize] > 0 {
            return (Kind::Software, Reason::Installer);
        }
        (Kind::Mixed, Reason::Mixed)
    }

    /// The task's kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Which step decided the kind.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// Whether the task holds this structure.
    pub fn has(&self, structure: Structure) -> bool {
        self.structures & structure.bit() != 0
    }

    /// The bytes of one family.
    pub fn bytes_of(&self, family: Family) -> u64 {
        self.bytes[family as usize]
    }

    /// The total size of the files the profile counts (padding files left out).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// A family's share of the bytes, in tenths of a percent (rounded down).
    fn permille(&self, family: Family) -> u64 {
        let bytes = u128::from(self.bytes_of(family));
        let total = u128::from(self.total.max(1));
        u64::try_from(bytes * 1000 / total).unwrap_or(1000)
    }
}

/// `kind video: video 97.1 % of bytes; families: video 97.1 %, subtitle 0.2 %, ...; structures:
/// ...`: the kind, why, and what it was derived from.
impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = |permille: u64| format!("{}.{} %", permille / 10, permille % 10);
        write!(f, "kind {}: ", self.kind)?;
        match self.reason {
            Reason::Structure(structure) => write!(f, "a {}", structure.as_str())?,
            Reason::Share(family) => write!(
                f,
                "{} {} of bytes",
                family.as_str(),
                pct(self.permille(family))
            )?,
            Reason::Installer => f.write_str("an installer or program, no family holds half")?,
            Reason::Mixed => f.write_str("no family holds half of the bytes")?,
        }
        let mut families: Vec<Family> = Family::ALL
            .into_iter()
            .filter(|family| self.files[*family as usize] > 0)
            .collect();
        families.sort_by_key(|family| std::cmp::Reverse(self.bytes_of(*family)));
        f.write_str("; families:")?;
        for (n, family) in families.iter().enumerate() {
            let sep = if n == 0 { " " } else { ", " };
            let count = self.files[*family as usize];
            write!(
                f,
                "{sep}{} {} ({count} {})",
                family.as_str(),
                pct(self.permille(*family)),
                if count == 1 { "file" } else { "files" }
            )?;
        }
        if families.is_empty() {
            f.write_str(" none")?;
        }
        let structures: Vec<&str> = Structure::ALL
            .into_iter()
            .filter(|s| self.has(*s))
            .map(Structure::as_str)
            .collect();
        if !structures.is_empty() {
            write!(f, "; structures: {}", structures.join(", "))?;
        }
        Ok(())
    }
}

/// The release group a scene or P2P task name ends with: the text after its last `-`, without
/// a trailing `[tag]` ("Film.2015.720p.BRRip.x264.AAC-ETRG" gives "ETRG"), when it is 2 to 16
/// ASCII letters and digits with at least one letter; `None` otherwise.
pub fn release_group(task_name: &str) -> Option<&str> {
    let (_, tail) = task_name.rsplit_once('-')?;
    let tail = tail.trim();
    let tail = match tail.find('[') {
        Some(bracket) if tail.ends_with(']') => tail.get(..bracket)?.trim_end(),
        _ => tail,
    };
    let plain = (2..=16).contains(&tail.len())
        && tail.bytes().all(|b| b.is_ascii_alphanumeric())
        && tail.bytes().any(|b| b.is_ascii_alphabetic());
    plain.then_some(tail)
}

/// Whether a base name, without its extension, is the release group (ASCII case ignored):
/// "ETRG.mp4" in "...-ETRG".
pub fn is_named_after(base_name: &str, group: Option<&str>) -> bool {
    let stem = base_name
        .rsplit_once('.')
        .map_or(base_name, |(stem, _)| stem);
    group.is_some_and(|group| stem.eq_ignore_ascii_case(group))
}

/// A BEP 47 padding file as aria2 lists it (`<root>/.pad/<n>`) or an old client's
/// `_____padding_file_*`.
fn is_padding(folders: &str, base: &str) -> bool {
    split_last(folders, b'/').map_or(folders, |(_, last)| last) == ".pad"
        || base.starts_with("_____padding_file_")
}

/// `name.part1.rar`, `name.part01.rar` (ASCII case ignored), for a base name whose extension
/// is `rar`.
fn part_volume(base: &str) -> bool {
    let stem = base.rsplit_once('.').map_or(base, |(stem, _)| stem);
    stem.rsplit_once('.').is_some_and(|(_, last)| {
        let last = last.as_bytes();
        last.len() > 4
            && last[..4].eq_ignore_ascii_case(b"part")
            && last[4..].iter().all(u8::is_ascii_digit)
    })
}

/// The disc structure a folder with this name belongs to (ASCII case ignored).
fn disc_structure(folder: &str) -> Option<Structure> {
    if folder.eq_ignore_ascii_case("BDMV") || folder.eq_ignore_ascii_case("CERTIFICATE") {
        Some(Structure::BluRay)
    } else if folder.eq_ignore_ascii_case("VIDEO_TS") {
        Some(Structure::Dvd)
    } else if folder.eq_ignore_ascii_case("AUDIO_TS") {
        Some(Structure::DvdAudio)
    } else {
        None
    }
}

/// A file's family, and the disc structure it belongs to, if any (`folders`: its path's
/// folders; `base`: its base name; `ext`: its extension after the last dot, lowercased).
fn classify(folders: &str, base: &str, ext: &str) -> (Family, Option<Structure>) {
    let structure = folders.rsplit('/').find_map(disc_structure);
    if let Some(structure) = structure {
        return (Family::Disc, Some(structure));
    }
    // A leading dot starts no extension (`.nfo` has none).
    let family = if ext.len() < base.len().saturating_sub(1) {
        Family::of_lowercase_extension(ext)
    } else {
        Family::Other
    };
    (family, None)
}

#[cfg(test)]
mod tests;
