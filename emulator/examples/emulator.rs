//! The emulated Cloudreve as a standalone server on 127.0.0.1, for the deployment checks in
//! `ci/` (a real systemd, a real container engine). Not a subcommand: users never need it.
//!
//! `cargo run -p cloudreve-emulator --example emulator -- DIR [--two-factor]` serves two
//! downloading tasks and writes into DIR, every 100 ms:
//! - `url`: the site's base URL (written once, when the server listens);
//! - `refresh-token`: a refresh token as a browser session holds it (written once);
//! - `files`: `TASK INDEX selected|deselected PATH` per file, as the downloader has them now;
//! - `patches`: `TASK BODY` per select-files PATCH received;
//! - `requests`: `METHOD PATH` per request received.
//!
//! Task `show` has an advert (`RARBG.txt`) that `rules.example.toml` deselects; task `extras`
//! has a 500 MiB featurette that no example rule matches (a reloaded rule can).
//! `--two-factor`: the account has two-factor sign-in, so only a refresh token can sign in.
//! SIGUSR1: the user re-selects every file by hand. SIGUSR2: from now on sign-in is refused
//! (two-factor turned on, every token revoked), as after a password change. SIGTERM: exit.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use cloudreve_emulator::{Backend, Emulator, EmulatorOptions, TaskSpec};
use tokio::signal::unix::{SignalKind, signal};

const MIB: u64 = 1 << 20;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().context("usage: emulator DIR [--two-factor]")?);
    let two_factor = match args.next().as_deref() {
        None => false,
        Some("--two-factor") => true,
        Some(other) => {
            anyhow::bail!("unknown argument {other:?}; usage: emulator DIR [--two-factor]")
        }
    };
    let emulator = Emulator::start(EmulatorOptions {
        two_factor,
        auto_poll: Some(Duration::from_secs(1)),
        ..EmulatorOptions::default()
    })
    .await?;
    let show = emulator.add_task(TaskSpec::new(
        Backend::Aria2,
        "Some.Show.S01",
        &[
            ("Some.Show.S01/Some.Show.S01E01.1080p.mkv", 1_503_238_553),
            ("Some.Show.S01/RARBG.txt", 31),
            ("Some.Show.S01/Subs/English.srt", 40 * 1024),
        ],
    ));
    let extras = emulator.add_task(TaskSpec::new(
        Backend::Qbittorrent,
        "Big.Movie.2024",
        &[
            ("Big.Movie.2024/Big.Movie.2024.mkv", 8_000 * MIB),
            ("Big.Movie.2024/Extras/Featurette.mkv", 500 * MIB),
        ],
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    write(
        &dir,
        "refresh-token",
        &format!("{}\n", emulator.browser_refresh_token()),
    )?;
    write(&dir, "url", &format!("{}\n", emulator.base_url()))?;
    let mut reselect = signal(SignalKind::user_defined1())?;
    let mut refuse = signal(SignalKind::user_defined2())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut every = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = every.tick() => report(&emulator, &dir, &[&show, &extras])?,
            _ = reselect.recv() => {
                for id in [&show, &extras] {
                    for file in emulator.files(id) {
                        emulator.user_select(id, file.index, true);
                    }
                }
                emulator.poll();
            }
            _ = refuse.recv() => {
                emulator.update_options(|o| o.two_factor = true);
                emulator.revoke_refresh_tokens();
                emulator.expire_access_tokens();
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    report(&emulator, &dir, &[&show, &extras])
}

fn report(emulator: &Emulator, dir: &Path, tasks: &[&String]) -> anyhow::Result<()> {
    let mut files = String::new();
    for id in tasks {
        for file in emulator.files(id) {
            let state = if file.selected {
                "selected"
            } else {
                "deselected"
            };
            let _ = writeln!(files, "{id} {} {state} {}", file.index, file.path);
        }
    }
    let mut patches = String::new();
    for (id, body) in emulator.patches() {
        let _ = writeln!(patches, "{id} {body}");
    }
    let mut requests = String::new();
    for request in emulator.requests() {
        let _ = writeln!(requests, "{} {}", request.method, request.path);
    }
    write(dir, "files", &files)?;
    write(dir, "patches", &patches)?;
    write(dir, "requests", &requests)
}

/// Writes beside and renames, so a reader never sees half a file.
fn write(dir: &Path, name: &str, text: &str) -> anyhow::Result<()> {
    let temporary = dir.join(format!(".{name}.tmp"));
    std::fs::write(&temporary, text).with_context(|| format!("write {}", temporary.display()))?;
    std::fs::rename(&temporary, dir.join(name)).with_context(|| format!("rename to {name}"))?;
    Ok(())
}
