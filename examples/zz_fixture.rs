#![allow(clippy::unwrap_used, missing_docs)]
use cloudreve_autoselect::emulator::{Backend, Emulator, EmulatorOptions, TaskSpec};
use std::fmt::Write as _;
fn task(n: usize, files: usize) -> TaskSpec {
    let name = format!("Release.{n:05}.1080p");
    let paths: Vec<(String, u64)> = (0..files)
        .map(|i| match i % 5 {
            0 => (
                format!("{name}/Episode.{i:03}.mkv"),
                1_500_000_000 + i as u64,
            ),
            1 => (format!("{name}/Sample/sample.{i:03}.mkv"), 50_000_000),
            2 => (format!("{name}/Subs/episode.{i:03}.srt"), 40_000),
            3 => (format!("{name}/info.{i:03}.nfo"), 4_000),
            _ => (format!("{name}/Extras/extra.{i:03}.mp4"), 300_000_000),
        })
        .collect();
    let refs: Vec<(&str, u64)> = paths.iter().map(|(p, s)| (p.as_str(), *s)).collect();
    TaskSpec::new(
        if n % 2 == 0 {
            Backend::Aria2
        } else {
            Backend::Qbittorrent
        },
        &name,
        &refs,
    )
}
#[tokio::main]
async fn main() {
    let emu = Emulator::start(EmulatorOptions::default()).await.unwrap();
    for n in 0..1_000 {
        emu.add_task(task(n, 50));
    }
    std::fs::write("/tmp/fx/tasks.json", emu.list_body()).unwrap();
    let mut text = String::from(
        "[server]\nurl = \"http://127.0.0.1/\"\nemail = \"bot@example.com\"\n\n[[rule]]\nname = \"keep-subs\"\naction = \"keep\"\nglob = [\"*.srt\", \"*.ass\", \"*.ssa\", \"*.sub\", \"*.idx\"]\n\n\
         [[rule]]\nname = \"junk\"\naction = \"skip\"\nglob = [\"*.exe\", \"*.url\", \"*.txt\", \"*.nfo\", \"*.lnk\"]\n\n\
         [[rule]]\nname = \"samples\"\naction = \"skip\"\nglob = [\"**/sample/**\", \"*sample*.mkv\", \"*.sample.*\", \"**/proof/**\", \"*proof*.jpg\"]\n\n",
    );
    for i in 0..38 {
        let _ = write!(
            text,
            "[[rule]]\nname = \"list-{i}\"\naction = \"skip\"\nglob = [\"*.ext{i}\", \"*advert{i}*\", \"**/Promo{i}/**\", \"junk{i}_*\", \"*.[qz]{i}\"]\n\n"
        );
    }
    std::fs::write("/tmp/fx/rules.toml", text).unwrap();
}
