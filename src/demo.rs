//! `demo`: the whole job against the built-in emulated Cloudreve, with no server, no config
//! and no network beyond 127.0.0.1. It uses the repository's `rules.example.toml`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use cloudreve_emulator::{Backend, Emulator, EmulatorOptions, TaskSpec};
use secrecy::SecretString;

use crate::cloudreve::{Client, ClientOptions};
use crate::config;
use crate::daemon::{Daemon, Settings, TickReport};
use crate::plan::Resolution;
use crate::state::StateStore;

/// The example rules, compiled into the binary.
pub const EXAMPLE_RULES: &str = include_str!("../rules.example.toml");

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;
const KIB: u64 = 1 << 10;

/// The demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The emulator could not start.
    #[error("could not start the emulated Cloudreve on 127.0.0.1: {0}")]
    Emulator(#[source] std::io::Error),
    /// The embedded example rules are invalid (a bug).
    #[error("the embedded rules.example.toml is invalid: {0}")]
    Rules(#[source] config::ConfigError),
    /// The client could not be built.
    #[error(transparent)]
    Client(#[from] crate::cloudreve::BuildError),
    /// The emulator's URL could not be parsed (a bug).
    #[error("bad emulator URL: {0}")]
    Url(#[from] url::ParseError),
}

/// Runs the demo and returns its report.
#[expect(
    clippy::too_many_lines,
    reason = "a linear script: fixtures, two ticks, a summary"
)]
pub async fn run() -> Result<String, DemoError> {
    let emulator_options = EmulatorOptions::default();
    let password = emulator_options.password.clone();
    let emulator = Emulator::start(emulator_options)
        .await
        .map_err(DemoError::Emulator)?;
    let show = emulator.add_task(TaskSpec::new(
        Backend::Aria2,
        "Some.Show.S01",
        &[
            ("Some.Show.S01/Some.Show.S01E01.1080p.mkv", 1_503_238_553),
            ("Some.Show.S01/Some.Show.S01E02.1080p.mkv", 1_497_366_528),
            ("Some.Show.S01/Sample/sample.mkv", 50 * MIB),
            ("Some.Show.S01/Subs/English.srt", 40 * KIB),
            ("Some.Show.S01/RARBG.txt", 31),
            ("Some.Show.S01/www.ads.example.url", 120),
        ],
    ));
    let movie = emulator.add_task(TaskSpec::new(
        Backend::Qbittorrent,
        "Big.Movie.2024.2160p",
        &[
            ("Big.Movie.2024.2160p/Big.Movie.2024.2160p.mkv", 18 * GIB),
            ("Big.Movie.2024.2160p/Big.Movie.2024.2160p.nfo", 4 * KIB),
            ("Big.Movie.2024.2160p/Big.Movie.sample.mkv", 120 * MIB),
            ("Big.Movie.2024.2160p/Covers/poster.jpg", 300 * KIB),
            (
                "Big.Movie.2024.2160p/Extras/Behind the Scenes.mkv",
                800 * MIB,
            ),
        ],
    ));
    let magnet = emulator.add_task(
        TaskSpec::new(
            Backend::Aria2,
            "Debian.ISO.Collection",
            &[
                (
                    "Debian.ISO.Collection/debian-13-amd64-netinst.iso",
                    650 * MIB,
                ),
                (
                    "Debian.ISO.Collection/debian-13-arm64-netinst.iso",
                    600 * MIB,
                ),
                ("Debian.ISO.Collection/README.txt", 2 * KIB),
            ],
        )
        .metadata_pending(),
    );
    let junk = emulator.add_task(TaskSpec::new(
        Backend::Qbittorrent,
        "Site.Promo.Pack",
        &[
            ("Site.Promo.Pack/visit-us.url", 100),
            ("Site.Promo.Pack/RARBG.txt", 31),
            ("Site.Promo.Pack/Thumbs.db", 20 * KIB),
        ],
    ));
    emulator.add_task(
        TaskSpec::new(
            Backend::Aria2,
            "Queued.Download",
            &[("Queued.Download/file.bin", GIB)],
        )
        .with_state("queued", None),
    );
    emulator.add_task(
        TaskSpec::new(
            Backend::Aria2,
            "Almost.Done",
            &[("Almost.Done/movie.mkv", GIB), ("Almost.Done/info.txt", 10)],
        )
        .with_state("processing", Some("transfer")),
    );

    let rules_text = EXAMPLE_RULES.replace("https://cloud.example.com", &emulator.base_url());
    let no_env = |_: &str| None;
    let config = config::parse(&rules_text, Path::new("rules.example.toml"), &no_env)
        .map_err(DemoError::Rules)?;
    let mut options = ClientOptions::new(
        config.server.api_base.clone(),
        config.server.email.clone(),
        SecretString::from(password),
    );
    options.retry_min_delay = Duration::from_millis(20);
    let daemon = Daemon::new(
        Client::new(options)?,
        Settings::from_config(&config, false),
        StateStore::in_memory(),
        None,
    )
    .keeping_all_plans();

    let mut out = String::new();
    let _ = writeln!(
        out,
        "cloudreve-autoselect demo: an emulated Cloudreve v4 at {} with {} rules from rules.example.toml\n",
        emulator.base_url(),
        config.rules.rules().len()
    );
    let _ = writeln!(out, "== tick 1: every task is new ==\n");
    let first = daemon.tick().await;
    describe(&mut out, &first);

    // The downloader polls (the list catches up), and the magnet's metadata arrives.
    emulator.poll();
    emulator.metadata_arrives(&magnet);
    emulator.poll();
    let _ = writeln!(
        out,
        "== tick 2: the list caught up and the magnet's metadata arrived ==\n"
    );
    let second = daemon.tick().await;
    describe(&mut out, &second);

    emulator.poll();
    let _ = writeln!(out, "== what the downloader now has ==\n");
    for (id, name) in [
        (&show, "Some.Show.S01"),
        (&movie, "Big.Movie.2024.2160p"),
        (&magnet, "Debian.ISO.Collection"),
        (&junk, "Site.Promo.Pack"),
    ] {
        let files = emulator.files(id);
        let selected = files.iter().filter(|f| f.selected).count();
        let status = emulator.status(id).map(|(s, _)| s).unwrap_or_default();
        let _ = writeln!(
            out,
            "{name}: {selected} of {} files selected, task {status}",
            files.len()
        );
    }
    let patches = emulator.patches().len();
    let _ = writeln!(
        out,
        "\n{patches} PATCH request(s) in all; the all-junk task was left alone and is still downloading."
    );
    Ok(out)
}

fn describe(out: &mut String, report: &TickReport) {
    for plan in &report.plans {
        let _ = writeln!(out, "{}", plan.render(crate::cloudreve::draw_patch));
        if let Resolution::Apply(changes) = &plan.resolution {
            let _ = writeln!(out, "-> sent: {} change(s)\n", changes.len());
        }
    }
    let _ = writeln!(out, "tick summary: {}\n", report.summary());
}
