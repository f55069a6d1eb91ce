//! `explain --torrent` through the binary, on .torrent files generated here (bencode written
//! by hand): single- and multi-file v1, v2, hybrid, BEP 47 padding files.

use std::path::Path;

use cloudreve_autoselect::torrent::{self, MetaVersion, TorrentFile};

use crate::support::{run_binary, stderr, stdout};

/// A bencode value, written by these tests.
enum B {
    Int(u64),
    Str(Vec<u8>),
    List(Vec<B>),
    /// Keys are sorted when written, as bencode requires.
    Dict(Vec<(&'static str, B)>),
}

fn s(text: &str) -> B {
    B::Str(text.as_bytes().to_vec())
}

impl B {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Int(n) => out.extend_from_slice(format!("i{n}e").as_bytes()),
            Self::Str(bytes) => {
                out.extend_from_slice(format!("{}:", bytes.len()).as_bytes());
                out.extend_from_slice(bytes);
            }
            Self::List(items) => {
                out.push(b'l');
                for item in items {
                    item.encode(out);
                }
                out.push(b'e');
            }
            Self::Dict(entries) => {
                let mut sorted: Vec<&(&str, B)> = entries.iter().collect();
                sorted.sort_by_key(|(key, _)| key.as_bytes());
                out.push(b'd');
                for (key, value) in sorted {
                    s(key).encode(out);
                    value.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// A v2 file-tree dictionary whose keys are file or folder names (not static).
fn tree(entries: Vec<(String, B)>) -> B {
    // Re-use `Dict` ordering by leaking the few short keys of a test.
    B::Dict(
        entries
            .into_iter()
            .map(|(k, v)| (&*Box::leak(k.into_boxed_str()), v))
            .collect(),
    )
}

fn leaf(length: u64) -> B {
    B::Dict(vec![(
        "",
        B::Dict(vec![
            ("length", B::Int(length)),
            ("pieces root", B::Str(vec![0; 32])),
        ]),
    )])
}

fn v1_file(path: &[&str], length: u64, attr: Option<&str>) -> B {
    let mut entries = vec![
        ("length", B::Int(length)),
        ("path", B::List(path.iter().map(|p| s(p)).collect())),
    ];
    if let Some(attr) = attr {
        entries.push(("attr", s(attr)));
    }
    B::Dict(entries)
}

fn metainfo(info: Vec<(&'static str, B)>) -> Vec<u8> {
    B::Dict(vec![
        ("announce", s("http://127.0.0.1/announce")),
        ("info", B::Dict(info)),
    ])
    .bytes()
}

/// A multi-file v1 torrent with a BEP 47 padding file after the sample.
fn v1_multi() -> Vec<u8> {
    metainfo(vec![
        ("name", s("Some.Show.S01")),
        ("piece length", B::Int(262_144)),
        ("pieces", B::Str(vec![0; 20])),
        (
            "files",
            B::List(vec![
                v1_file(&["Some.Show.S01E01.mkv"], 1_503_238_553, None),
                v1_file(&["Sample", "sample.mkv"], 52_428_800, None),
                v1_file(&[".pad", "131072"], 131_072, Some("p")),
                v1_file(&["Subs", "en.srt"], 40_000, None),
                v1_file(&["RARBG.txt"], 31, None),
            ]),
        ),
    ])
}

/// The same files as a v2-only torrent (a file tree, no `pieces`).
fn v2_multi() -> Vec<u8> {
    metainfo(vec![
        ("name", s("Some.Show.S01")),
        ("meta version", B::Int(2)),
        ("piece length", B::Int(262_144)),
        (
            "file tree",
            tree(vec![
                ("Some.Show.S01E01.mkv".into(), leaf(1_503_238_553)),
                (
                    "Sample".into(),
                    tree(vec![("sample.mkv".into(), leaf(52_428_800))]),
                ),
                ("Subs".into(), tree(vec![("en.srt".into(), leaf(40_000))])),
                ("RARBG.txt".into(), leaf(31)),
            ]),
        ),
    ])
}

/// A hybrid torrent: both, the v1 list carrying the padding files in the tree's order.
fn hybrid() -> Vec<u8> {
    metainfo(vec![
        ("name", s("Hybrid.Pack")),
        ("meta version", B::Int(2)),
        ("piece length", B::Int(16_384)),
        ("pieces", B::Str(vec![0; 40])),
        (
            "file tree",
            tree(vec![
                ("a.mkv".into(), leaf(20_000)),
                ("b.txt".into(), leaf(100)),
            ]),
        ),
        (
            "files",
            B::List(vec![
                v1_file(&["a.mkv"], 20_000, None),
                v1_file(&[".pad", "12768"], 12_768, Some("p")),
                v1_file(&["b.txt"], 100, None),
            ]),
        ),
    ])
}

const RULES: &str = r#"[server]
url = "https://cloud.example.com"
email = "bot@example.com"

[[rule]]
name = "keep-subs"
action = "keep"
glob = "*.srt"

[[rule]]
name = "junk"
action = "skip"
glob = ["*.txt"]

[[rule]]
name = "samples"
action = "skip"
glob = "**/sample/**"

[[rule]]
name = "padding"
action = "skip"
glob = "**/.pad/*"
"#;

async fn explain(dir: &Path, name: &str, bytes: &[u8]) -> (i32, String, String) {
    let rules = dir.join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let file = dir.join(name);
    std::fs::write(&file, bytes).unwrap();
    let output = run_binary(
        &[
            "--config",
            rules.to_str().unwrap(),
            "explain",
            "--torrent",
            file.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    (
        output.status.code().unwrap(),
        stdout(&output),
        stderr(&output).replace(file.to_str().unwrap(), name),
    )
}

#[tokio::test]
async fn a_multi_file_v1_torrent_with_a_padding_file() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = explain(dir.path(), "show.torrent", &v1_multi()).await;
    assert_eq!(code, 0, "{err}");
    let expected = "\
torrent \"Some.Show.S01\" (BitTorrent v1, 4 files and 1 padding file, 1.4 GiB)
profile: kind video: video 99.9 % of bytes; families: video 99.9 % (2 files), subtitle 0.0 % (1 file), book 0.0 % (1 file)
 aria2     qbt  verdict  rule                    size  path
     1       0  -        -                    1.4 GiB  Some.Show.S01/Some.Show.S01E01.mkv
     2       1  skip     samples             50.0 MiB  Some.Show.S01/Sample/sample.mkv
     3       -  skip     padding            128.0 KiB  Some.Show.S01/.pad/131072  (padding file, BEP 47)
     4       2  keep     keep-subs           39.1 KiB  Some.Show.S01/Subs/en.srt
     5       3  skip     junk                    31 B  Some.Show.S01/RARBG.txt
aria2 (indices from 1, padding files listed): PATCH {\"files\":[{\"index\":2,\"download\":false},{\"index\":3,\"download\":false},{\"index\":5,\"download\":false}]}
qBittorrent (indices from 0, padding files hidden): PATCH {\"files\":[{\"index\":1,\"download\":false},{\"index\":3,\"download\":false}]}
";
    assert_eq!(out, expected, "{out}");
}

#[tokio::test]
async fn a_single_file_torrent_and_a_v2_only_torrent() {
    let dir = tempfile::tempdir().unwrap();
    let single = metainfo(vec![
        ("name", s("notes.txt")),
        ("length", B::Int(2048)),
        ("piece length", B::Int(16_384)),
        ("pieces", B::Str(vec![0; 20])),
    ]);
    let (code, out, err) = explain(dir.path(), "single.torrent", &single).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("     1       0  skip     junk                 2.0 KiB  notes.txt\n"),
        "{out}"
    );
    // One file only: the rules would deselect all of it, so nothing is sent.
    assert!(
        out.contains("refused: the rules would deselect all 1 files"),
        "{out}"
    );

    let (code, out, err) = explain(dir.path(), "v2.torrent", &v2_multi()).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("torrent \"Some.Show.S01\" (BitTorrent v2, 4 files, 1.4 GiB)\n"),
        "{out}"
    );
    // The file tree in key order: RARBG.txt, Sample/, Some.Show.S01E01.mkv, Subs/ (after the
    // header, the profile and the table's head).
    let paths: Vec<&str> = out
        .lines()
        .skip(3)
        .take(4)
        .map(|line| line.rsplit("  ").next().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "Some.Show.S01/RARBG.txt",
            "Some.Show.S01/Sample/sample.mkv",
            "Some.Show.S01/Some.Show.S01E01.mkv",
            "Some.Show.S01/Subs/en.srt"
        ]
    );
    assert!(out.contains("     -       0  skip     junk"), "{out}");
    assert!(
        out.contains("aria2: cannot download a BitTorrent v2-only torrent\n"),
        "{out}"
    );
    assert!(
        out.contains("qBittorrent (indices from 0, padding files hidden): PATCH {\"files\":[{\"index\":0,\"download\":false},{\"index\":1,\"download\":false}]}"),
        "{out}"
    );
}

#[test]
fn a_hybrid_torrent_uses_its_v1_list_with_the_padding_files() {
    let parsed = torrent::parse(&hybrid()).unwrap();
    assert_eq!(parsed.version, MetaVersion::Hybrid);
    assert_eq!(
        parsed.files,
        [
            TorrentFile {
                path: "Hybrid.Pack/a.mkv".into(),
                size: 20_000,
                padding: false
            },
            TorrentFile {
                path: "Hybrid.Pack/.pad/12768".into(),
                size: 12_768,
                padding: true
            },
            TorrentFile {
                path: "Hybrid.Pack/b.txt".into(),
                size: 100,
                padding: false
            },
        ]
    );
    assert_eq!(parsed.aria2_indices(), [Some(1), Some(2), Some(3)]);
    assert_eq!(parsed.qbittorrent_indices(), [Some(0), None, Some(1)]);
}

#[test]
fn utf8_names_win_and_a_single_file_v2_torrent_has_no_root_folder() {
    let v1 = metainfo(vec![
        ("name", s("raw")),
        ("name.utf-8", s("Café")),
        ("piece length", B::Int(16_384)),
        ("pieces", B::Str(vec![0; 20])),
        (
            "files",
            B::List(vec![B::Dict(vec![
                ("length", B::Int(1)),
                ("path", B::List(vec![B::Str(vec![0xff, b'x'])])),
                ("path.utf-8", B::List(vec![s("ça.txt")])),
            ])]),
        ),
    ]);
    let parsed = torrent::parse(&v1).unwrap();
    assert_eq!(parsed.name, "Café");
    assert_eq!(parsed.files[0].path, "Café/ça.txt");

    let v2 = metainfo(vec![
        ("name", s("movie.mkv")),
        ("meta version", B::Int(2)),
        ("piece length", B::Int(16_384)),
        ("file tree", tree(vec![("movie.mkv".into(), leaf(7))])),
    ]);
    let parsed = torrent::parse(&v2).unwrap();
    assert_eq!(parsed.version, MetaVersion::V2);
    assert_eq!(parsed.files[0].path, "movie.mkv");
}

#[tokio::test]
async fn a_file_that_is_not_a_torrent_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = explain(dir.path(), "bad.torrent", b"<html>not found</html>").await;
    assert_eq!(code, 1, "{out}");
    assert!(
        err.starts_with("error: bad.torrent: not a torrent file"),
        "{err}"
    );
    let no_info = B::Dict(vec![("announce", s("x"))]).bytes();
    let (code, _, err) = explain(dir.path(), "noinfo.torrent", &no_info).await;
    assert_eq!(code, 1);
    assert!(err.contains("no `info` dictionary"), "{err}");
}

#[tokio::test]
async fn a_long_rule_name_keeps_the_columns_in_line() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        RULES.replace(
            "name = \"samples\"",
            "name = \"samples-and-other-extras-nobody-wants\"",
        ),
    )
    .unwrap();
    let file = dir.path().join("show.torrent");
    std::fs::write(&file, v1_multi()).unwrap();
    let output = run_binary(
        &[
            "--config",
            rules.to_str().unwrap(),
            "explain",
            "--torrent",
            file.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let out = stdout(&output);
    // The table starts at its header, below the torrent and profile lines.
    let lines: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.contains("verdict"))
        .take(6)
        .collect();
    let path_at = lines[0].find("path").unwrap();
    for line in &lines[1..] {
        assert!(
            line[..path_at].ends_with("  ") && line[path_at..].starts_with("Some.Show.S01/"),
            "{out}"
        );
    }
    assert!(
        out.contains("samples-and-other-extras-nobody-wants  "),
        "{out}"
    );
}
