//! Reading a `.torrent` file's name and file list, for `explain --torrent`. Pure: bytes in.
//!
//! Version 1 torrents (BEP 3: `info.files`, or `info.length` for one file), version 2 (BEP 52:
//! `info.file tree`, `meta version = 2`) and hybrid torrents (both; their v1 list carries the
//! padding files that align each file to a piece) are read with the `bt_bencode` crate; the v2
//! file tree is walked here. `name.utf-8` and `path.utf-8` win over `name` and `path`, as in
//! aria2 and libtorrent; bytes that are not UTF-8 are shown as U+FFFD.
//!
//! Padding files (BEP 47, `attr` containing `p`) are kept and marked: aria2 lists them (and
//! downloads their zeros) with its 1-based indices, qBittorrent hides them and numbers the
//! other files from 0. aria2 cannot download a v2-only torrent.

use std::fmt::Write as _;

use bt_bencode::Value;

/// The largest `.torrent` file read.
pub const MAX_TORRENT_BYTES: usize = 64 * 1024 * 1024;
/// The deepest nesting of lists and dictionaries accepted (a v2 file tree nests one level per
/// folder).
const MAX_DEPTH: usize = 256;

/// Which protocol versions the metadata describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaVersion {
    /// BEP 3 only.
    V1,
    /// BEP 52 only.
    V2,
    /// Both: a hybrid torrent.
    Hybrid,
}

impl std::fmt::Display for MetaVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::V1 => "BitTorrent v1",
            Self::V2 => "BitTorrent v2",
            Self::Hybrid => "hybrid BitTorrent v1 + v2",
        })
    }
}

/// One file of a torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TorrentFile {
    /// The path as downloaders report it: `/`-separated, starting with the torrent's root folder
    /// (a single-file torrent has none).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// A BEP 47 padding file.
    pub padding: bool,
}

/// What a `.torrent` file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Torrent {
    /// The torrent's name (`info.name`).
    pub name: String,
    /// v1, v2 or hybrid.
    pub version: MetaVersion,
    /// The files, in the torrent's order (for v1 and hybrid the order of `info.files`, which is
    /// the downloaders' order).
    pub files: Vec<TorrentFile>,
}

/// The file is not a usable torrent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TorrentError {
    /// Not bencode.
    #[error("not a torrent file: {0}")]
    Bencode(String),
    /// Nested deeper than any torrent.
    #[error("not a torrent file: nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// A key is missing or has the wrong type.
    #[error("not a torrent file: {0}")]
    Structure(String),
}

fn structure(message: impl Into<String>) -> TorrentError {
    TorrentError::Structure(message.into())
}

/// Checks the nesting depth without recursion, so that a crafted file cannot exhaust the stack
/// of the recursive decoder, and that no string's length runs past the end of the file
/// (`bt_bencode` adds such a length to its offset unchecked: a length near `usize::MAX` made it
/// panic, found by fuzzing).
fn check_depth(bytes: &[u8]) -> Result<(), TorrentError> {
    let mut depth = 0usize;
    let mut pos = 0usize;
    while let Some(&byte) = bytes.get(pos) {
        match byte {
            b'd' | b'l' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(TorrentError::TooDeep);
                }
                pos += 1;
            }
            b'e' => {
                depth = depth.saturating_sub(1);
                pos += 1;
            }
            b'i' => {
                let end = bytes
                    .get(pos..)
                    .and_then(|rest| rest.iter().position(|&b| b == b'e'))
                    .ok_or_else(|| TorrentError::Bencode("unterminated integer".into()))?;
                pos += end + 1;
            }
            b'0'..=b'9' => {
                let colon = bytes
                    .get(pos..)
                    .and_then(|rest| rest.iter().position(|&b| b == b':'))
                    .ok_or_else(|| TorrentError::Bencode("string without length".into()))?;
                let length: usize = std::str::from_utf8(bytes.get(pos..pos + colon).unwrap_or(b""))
                    .ok()
                    .and_then(|digits| digits.parse().ok())
                    .ok_or_else(|| TorrentError::Bencode("invalid string length".into()))?;
                let start = pos + colon + 1;
                if length > bytes.len().saturating_sub(start) {
                    return Err(TorrentError::Bencode(format!(
                        "the string at offset {pos} runs past the end of the file"
                    )));
                }
                pos = start + length;
            }
            _ => {
                return Err(TorrentError::Bencode(format!(
                    "unexpected byte at offset {pos}"
                )));
            }
        }
    }
    Ok(())
}

fn text(value: &Value) -> Option<String> {
    value
        .as_byte_str()
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
}

/// `key.utf-8` if present, else `key`.
fn utf8_or_plain<'v>(dict: &'v Value, key: &str) -> Option<&'v Value> {
    dict.get(format!("{key}.utf-8").as_str())
        .or_else(|| dict.get(key))
}

/// Reads a `.torrent` file's bytes.
pub fn parse(bytes: &[u8]) -> Result<Torrent, TorrentError> {
    check_depth(bytes)?;
    let root: Value =
        bt_bencode::from_slice(bytes).map_err(|e| TorrentError::Bencode(e.to_string()))?;
    let info = root
        .get("info")
        .filter(|info| info.is_dict())
        .ok_or_else(|| structure("no `info` dictionary"))?;
    let name = utf8_or_plain(info, "name")
        .and_then(text)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| structure("no `info.name`"))?;
    let has_v1 = info.get("pieces").is_some();
    let has_v2 = info.get("meta version").and_then(Value::as_u64) == Some(2);
    let version = match (has_v1, has_v2) {
        (true, true) => MetaVersion::Hybrid,
        (false, true) => MetaVersion::V2,
        (true, false) => MetaVersion::V1,
        (false, false) => {
            return Err(structure(
                "neither `info.pieces` (v1) nor `info.meta version = 2` (v2)",
            ));
        }
    };
    let files = if has_v1 {
        v1_files(info, &name)?
    } else {
        v2_files(info, &name)?
    };
    Ok(Torrent {
        name,
        version,
        files,
    })
}

fn v1_files(info: &Value, name: &str) -> Result<Vec<TorrentFile>, TorrentError> {
    let Some(list) = info.get("files") else {
        let size = info
            .get("length")
            .and_then(Value::as_u64)
            .ok_or_else(|| structure("single-file torrent without `info.length`"))?;
        return Ok(vec![TorrentFile {
            path: name.to_owned(),
            size,
            padding: is_padding(info),
        }]);
    };
    let list = list
        .as_list()
        .ok_or_else(|| structure("`info.files` is not a list"))?;
    list.iter()
        .enumerate()
        .map(|(idx, entry)| {
            let size = entry
                .get("length")
                .and_then(Value::as_u64)
                .ok_or_else(|| structure(format!("`info.files[{idx}]` has no `length`")))?;
            let components = utf8_or_plain(entry, "path")
                .and_then(Value::as_list)
                .filter(|components| !components.is_empty())
                .ok_or_else(|| structure(format!("`info.files[{idx}]` has no `path`")))?;
            let mut path = name.to_owned();
            for component in components {
                let component = text(component).ok_or_else(|| {
                    structure(format!("`info.files[{idx}].path` holds a non-string"))
                })?;
                path.push('/');
                path.push_str(&component);
            }
            Ok(TorrentFile {
                path,
                size,
                padding: is_padding(entry),
            })
        })
        .collect()
}

fn is_padding(entry: &Value) -> bool {
    entry
        .get("attr")
        .and_then(Value::as_byte_str)
        .is_some_and(|attr| attr.contains(&b'p'))
}

fn v2_files(info: &Value, name: &str) -> Result<Vec<TorrentFile>, TorrentError> {
    let tree = info
        .get("file tree")
        .and_then(Value::as_dict)
        .ok_or_else(|| structure("v2 torrent without `info.file tree`"))?;
    let mut files = Vec::new();
    // Depth-first in key order (bencode keeps dictionary keys sorted), without recursion.
    let mut stack: Vec<(String, &Value)> = tree
        .iter()
        .rev()
        .map(|(key, node)| (String::from_utf8_lossy(key).into_owned(), node))
        .collect();
    while let Some((path, node)) = stack.pop() {
        let dict = node
            .as_dict()
            .ok_or_else(|| structure(format!("`file tree` entry {path:?} is not a dictionary")))?;
        if let Some(leaf) = node.get("") {
            let size = leaf
                .get("length")
                .and_then(Value::as_u64)
                .ok_or_else(|| structure(format!("file {path:?} has no `length`")))?;
            files.push(TorrentFile {
                path,
                size,
                padding: is_padding(leaf),
            });
            continue;
        }
        for (key, child) in dict.iter().rev() {
            stack.push((format!("{path}/{}", String::from_utf8_lossy(key)), child));
        }
    }
    // A v2 torrent whose tree is one file at the top is a single-file torrent; otherwise the
    // tree sits in a folder named after the torrent.
    let single = files.len() == 1 && files.first().is_some_and(|f| !f.path.contains('/'));
    if !single {
        for file in &mut files {
            file.path = format!("{name}/{}", file.path);
        }
    }
    if files.is_empty() {
        return Err(structure("`info.file tree` holds no file"));
    }
    Ok(files)
}

impl Torrent {
    /// The aria2 index (1-based, padding files counted) of each file, or `None` for all of them
    /// in a v2-only torrent, which aria2 cannot download.
    pub fn aria2_indices(&self) -> Vec<Option<u64>> {
        if self.version == MetaVersion::V2 {
            return vec![None; self.files.len()];
        }
        (1u64..).take(self.files.len()).map(Some).collect()
    }

    /// The qBittorrent index (0-based, padding files hidden) of each file.
    pub fn qbittorrent_indices(&self) -> Vec<Option<u64>> {
        let mut next = 0u64;
        self.files
            .iter()
            .map(|file| {
                if file.padding {
                    None
                } else {
                    next += 1;
                    Some(next - 1)
                }
            })
            .collect()
    }
}

/// The synthetic task a downloader would list for this torrent: `indices` gives each file's
/// index (`None`: the downloader does not list it).
fn as_task(torrent: &Torrent, indices: &[Option<u64>]) -> crate::task::DownloadTask {
    use crate::task::{
        DownloadState, DownloadStatus, DownloadTask, Phase, TaskFile, TaskId, TaskKind, TaskStatus,
    };
    let files = torrent
        .files
        .iter()
        .zip(indices)
        .filter_map(|(file, index)| {
            index.map(|index| TaskFile {
                index,
                path: file.path.as_str().into(),
                size: file.size,
                selected: true,
            })
        })
        .collect();
    DownloadTask {
        id: TaskId::new("torrent"),
        kind: TaskKind::RemoteDownload,
        status: TaskStatus::Processing,
        phase: Phase::Monitor,
        // Cloudreve's src_str is empty for a task created from a .torrent file.
        source: String::new(),
        download: Some(DownloadStatus {
            name: torrent.name.clone(),
            state: DownloadState::Downloading,
            files: Some(files),
        }),
    }
}

/// `torrent "name" (version, N files and M padding files, size)`.
fn header(torrent: &Torrent) -> String {
    let padding = torrent.files.iter().filter(|f| f.padding).count();
    let files = torrent.files.len() - padding;
    let total = torrent
        .files
        .iter()
        .fold(0u64, |sum, f| sum.saturating_add(f.size));
    let mut out = format!(
        "torrent {:?} ({}, {files} file{}",
        torrent.name,
        torrent.version,
        if files == 1 { "" } else { "s" }
    );
    if padding > 0 {
        let _ = write!(
            out,
            " and {padding} padding file{}",
            if padding == 1 { "" } else { "s" }
        );
    }
    let _ = writeln!(out, ", {})", crate::rules::ByteSize(total));
    out
}

/// One row of `explain --torrent`'s table: aria2's and qBittorrent's index, the verdict, the
/// rule, the size and the (escaped) path.
type Row = (String, String, &'static str, String, String, String);

/// Writes the table; the rule column is as wide as its longest name (at least 16), so long
/// names keep the rows in line.
fn write_table(out: &mut String, rows: Vec<Row>) {
    let width = rows
        .iter()
        .map(|row| row.3.chars().count())
        .max()
        .unwrap_or(0)
        .max(16);
    let _ = writeln!(
        out,
        "{:>6}  {:>6}  {:<7}  {:<width$}  {:>10}  path",
        "aria2", "qbt", "verdict", "rule", "size"
    );
    for (a, q, verdict, rule, size, path) in rows {
        let _ = writeln!(
            out,
            "{a:>6}  {q:>6}  {verdict:<7}  {rule:<width$}  {size:>10}  {path}"
        );
    }
}

/// What the rules decide for a torrent, as a table with both index conventions, then what each
/// downloader would be sent.
pub fn explain(torrent: &Torrent, rules: &crate::rules::RuleSet) -> String {
    use crate::plan::{self, Decided, Plan, Verdict};

    let aria2 = torrent.aria2_indices();
    let qbt = torrent.qbittorrent_indices();
    let aria2_plan = (torrent.version != MetaVersion::V2)
        .then(|| plan::plan(&as_task(torrent, &aria2), rules, &Decided::new()));
    let qbt_plan = plan::plan(&as_task(torrent, &qbt), rules, &Decided::new());
    // Each plan's verdicts by index, looked up once per file: a search of the plan per file
    // made 80,000 files take 17.6 s.
    let by_index = |plan: Option<&Plan>| -> std::collections::HashMap<u64, Verdict> {
        plan.map(|plan| {
            plan.files
                .iter()
                .map(|f| (f.index, f.verdict.clone()))
                .collect()
        })
        .unwrap_or_default()
    };
    let qbt_verdicts = by_index(Some(&qbt_plan));
    let aria2_verdicts = by_index(aria2_plan.as_ref());
    let verdict_in = |verdicts: &std::collections::HashMap<u64, Verdict>, index: Option<u64>| {
        verdicts.get(&index?).cloned()
    };
    let word = |verdict: &Verdict| match verdict {
        Verdict::Untouched => "-",
        Verdict::Keep(_) => "keep",
        Verdict::Skip(_) => "skip",
    };
    let mut out = header(torrent);
    let _ = writeln!(out, "profile: {}", qbt_plan.profile);
    let show = |index: Option<u64>| index.map_or_else(|| "-".to_owned(), |i| i.to_string());
    let mut rows: Vec<Row> = Vec::with_capacity(torrent.files.len());
    for (pos, file) in torrent.files.iter().enumerate() {
        // Both downloaders' verdicts: they differ only where padding files change a whole-task
        // effect (shares, `keep_largest`, `only`).
        let a = aria2.get(pos).copied().flatten();
        let q = qbt.get(pos).copied().flatten();
        let in_qbt = verdict_in(&qbt_verdicts, q);
        let in_aria2 = verdict_in(&aria2_verdicts, a);
        let verdict = in_qbt
            .clone()
            .or_else(|| in_aria2.clone())
            .unwrap_or(Verdict::Untouched);
        let rule = verdict.rule().map_or("-", crate::rules::RuleName::as_str);
        let mut path = crate::escape::Escaped(&file.path).to_string();
        if file.padding {
            path.push_str("  (padding file, BEP 47)");
        }
        if let (Some(q), Some(a)) = (&in_qbt, &in_aria2)
            && q != a
        {
            let _ = write!(
                path,
                "  (aria2: {} by {})",
                word(a),
                a.rule().map_or("-", crate::rules::RuleName::as_str)
            );
        }
        rows.push((
            show(a),
            show(q),
            word(&verdict),
            rule.to_owned(),
            crate::rules::ByteSize(file.size).to_string(),
            path,
        ));
    }
    write_table(&mut out, rows);
    let send = |plan: &Plan| {
        plan.changes()
            .map(crate::cloudreve::patch_body)
            .map_or_else(
                || plan.reason_for_nothing().unwrap_or_default(),
                |body| format!("PATCH {body}"),
            )
    };
    match &aria2_plan {
        Some(plan) => {
            let _ = writeln!(
                out,
                "aria2 (indices from 1, padding files listed): {}",
                send(plan)
            );
        }
        None => {
            let _ = writeln!(out, "aria2: cannot download a BitTorrent v2-only torrent");
        }
    }
    let _ = writeln!(
        out,
        "qBittorrent (indices from 0, padding files hidden): {}",
        send(&qbt_plan)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (fuzz/artifacts/torrent/crash-147cbee2): the decoder panicked on it.
    #[test]
    fn a_string_longer_than_the_file_is_refused_before_decoding() {
        for bytes in [
            &b"d18446744073709551615:ae"[..],
            b"d4:infod4:name5:abe",
            b"3:ab",
        ] {
            let e = parse(bytes).unwrap_err();
            assert!(
                e.to_string().contains("runs past the end of the file"),
                "{e}"
            );
        }
    }

    #[test]
    fn depth_is_checked_before_decoding() {
        let deep = format!("{}{}", "l".repeat(MAX_DEPTH + 1), "e".repeat(MAX_DEPTH + 1));
        assert_eq!(check_depth(deep.as_bytes()), Err(TorrentError::TooDeep));
        assert!(check_depth(b"d4:infod4:name1:x6:lengthi1eee").is_ok());
        assert!(matches!(
            parse(b"not bencode"),
            Err(TorrentError::Bencode(_))
        ));
        assert!(matches!(
            parse(b"d3:fooi1ee"),
            Err(TorrentError::Structure(_))
        ));
    }

    #[test]
    fn a_minimal_single_file_v1_torrent() {
        let torrent = parse(b"d4:infod6:lengthi42e4:name5:a.iso6:pieces0:ee").unwrap();
        assert_eq!(torrent.version, MetaVersion::V1);
        assert_eq!(
            torrent.files,
            [TorrentFile {
                path: "a.iso".into(),
                size: 42,
                padding: false
            }]
        );
        assert_eq!(torrent.aria2_indices(), [Some(1)]);
        assert_eq!(torrent.qbittorrent_indices(), [Some(0)]);
    }
}
