//! The emulated Cloudreve for `ci/prometheus-check`: serves on an ephemeral port of 127.0.0.1
//! with two tasks that carry junk, prints `url=<base URL>` on its first line of stdout, and
//! runs until it is killed. Account: `bot@example.com`, password `correct horse battery
//! staple` (the emulator's defaults).
//!
//! `cargo build -p cloudreve-emulator --example ops_emulator` builds it as
//! `target/debug/examples/ops_emulator`.

use std::io::Write as _;

use cloudreve_emulator::{Backend, Emulator, EmulatorOptions, TaskSpec};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let emulator = Emulator::start(EmulatorOptions::default()).await?;
    emulator.add_task(TaskSpec::new(
        Backend::Aria2,
        "Some.Show.S01",
        &[
            ("Some.Show.S01/Some.Show.S01E01.mkv", 1_503_238_553),
            ("Some.Show.S01/Sample/sample.mkv", 52_428_800),
            ("Some.Show.S01/RARBG.txt", 31),
            ("Some.Show.S01/www.ads.example.url", 120),
        ],
    ));
    emulator.add_task(TaskSpec::new(
        Backend::Qbittorrent,
        "Big.Movie.2024",
        &[
            ("Big.Movie.2024/Big.Movie.2024.mkv", 19_327_352_832),
            ("Big.Movie.2024/Big.Movie.2024.nfo", 4_096),
            ("Big.Movie.2024/setup.exe", 2_000_000),
        ],
    ));
    let mut stdout = std::io::stdout();
    writeln!(stdout, "url={}", emulator.base_url())?;
    stdout.flush()?;
    std::future::pending::<()>().await;
    Ok(())
}
