//! Scale, footprint and reaction-time measurements (a bench binary, not timed tests).
//!
//! `cargo bench --bench scale` runs, against the built-in emulator on 127.0.0.1:
//! 1. tick at scale: 1,000 tasks x 50 files and 10,000 tasks x 20 files; first tick (everything
//!    to decide) and second tick (nothing to send): wall time, requests, and, for the same
//!    work done by the release binary (`once`), CPU time and peak RSS, also on one core
//!    (`taskset -c 0`), beside python3's `json.load` (its C decoder) of the same bytes; plus
//!    the cost of decoding the list JSON beside the cost of planning and state;
//! 2. start-up: from spawning the binary to its first request (median of 10);
//! 3. reaction: from a magnet's metadata appearing to its PATCH, with a 30 s schedule;
//! 4. idle footprint of `run` (30 s schedule, 10 tasks): RSS after a minute and CPU between
//!    ticks (about 70 s; skip with `-- --quick`);
//! 5. the binary's size;
//! 6. `explain --task-json` on 50,000 files with 205 globs, whole process, beside a Python loop
//!    of `fnmatch` per pattern on the same files (`benches/fnmatch_baseline.py`).
//!
//! `SCALE_BINARY=PATH` runs another build of the daemon instead (an arm64 build through a
//! qemu-user wrapper script that `exec`s it, say: the peak RSS is then qemu's process, the
//! guest's memory included); `-- --scale-only` runs only the tick at 10,000 x 20, and
//! `-- --explain-only` only `explain --task-json` beside the `fnmatch` loop; with
//! `SCALE_KEEP_FILES` set, that run's rules and task files are kept (their paths printed), for a
//! profiler.
//!
//! The list decoding is reported beside its floor in the same run: `serde_json` parsing the same
//! bytes into `IgnoredAny`, which builds nothing.

// Benchmark code: a failed unwrap is a broken fixture, reported with its message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::too_many_lines,
    missing_docs
)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use cloudreve_autoselect::cloudreve::{
    Client, ClientOptions, decode_list_answer, decode_task_document,
};
use cloudreve_autoselect::config;
use cloudreve_autoselect::daemon::{Daemon, Settings};
use cloudreve_autoselect::plan;
use cloudreve_autoselect::state::StateStore;
use cloudreve_emulator::{Backend, Emulator, EmulatorOptions, TaskSpec};
use nix::sys::resource::{UsageWho, getrusage};
use secrecy::SecretString;

/// The daemon binary: this build's, or `SCALE_BINARY`.
static BINARY_PATH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    std::env::var("SCALE_BINARY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_cloudreve-autoselect").to_owned())
});
const PASSWORD: &str = "correct horse battery staple";
const RULES: &str = "[[rule]]\nname = \"keep-subs\"\naction = \"keep\"\nglob = \"*.srt\"\n\n[[rule]]\nname = \"junk\"\naction = \"skip\"\nglob = [\"*.exe\", \"*.url\", \"*.txt\", \"*.nfo\"]\n\n[[rule]]\nname = \"samples\"\naction = \"skip\"\nglob = \"**/sample/**\"\n\n[[rule]]\nname = \"tiny\"\naction = \"skip\"\nmax_size = \"64 KiB\"\n";

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
        if n.is_multiple_of(2) {
            Backend::Aria2
        } else {
            Backend::Qbittorrent
        },
        &name,
        &refs,
    )
}

fn write_config(dir: &Path, emu: &Emulator, schedule: &str) -> PathBuf {
    let path = dir.join("rules.toml");
    let text = format!(
        "[server]\nurl = \"{}\"\nemail = \"bot@example.com\"\n\n[daemon]\nschedule = \"{schedule}\"\nmetadata_recheck = \"5s\"\nstate_file = \"{}\"\n\n{RULES}",
        emu.base_url(),
        dir.join("state.json").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn settings() -> Settings {
    let no_env = |_: &str| None;
    let text =
        format!("[server]\nurl = \"http://127.0.0.1/\"\nemail = \"bot@example.com\"\n{RULES}");
    let config = config::parse(&text, Path::new("bench.toml"), &no_env).unwrap();
    Settings::from_config(&config, false)
}

fn children_usage() -> (Duration, i64) {
    // CPU times of waited-for children are exact; their max RSS is not used (see `once`).
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).unwrap();
    let cpu = |t: nix::sys::time::TimeVal| {
        Duration::from_micros(
            u64::try_from(t.tv_sec()).unwrap() * 1_000_000 + u64::try_from(t.tv_usec()).unwrap(),
        )
    };
    (
        cpu(usage.user_time()) + cpu(usage.system_time()),
        usage.max_rss(),
    )
}

/// Runs `once`; returns its wall time, CPU time and peak RSS (KiB).
///
/// The peak RSS is the child's own `VmHWM`, polled until it exits: `getrusage` would report
/// the parent's size, which a spawned child inherits in its accounting until it execs.
async fn once(config: &Path, one_core: bool) -> (Duration, Duration, u64) {
    let (cpu_before, _) = children_usage();
    let started = Instant::now();
    let mut command = if one_core {
        let mut command = tokio::process::Command::new("taskset");
        command.args(["-c", "0", BINARY_PATH.as_str()]);
        command
    } else {
        tokio::process::Command::new(BINARY_PATH.as_str())
    };
    let mut child = command
        .args(["--config", config.to_str().unwrap(), "once"])
        .env("CLOUDREVE_AUTOSELECT_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut peak_kib = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if let Some(hwm) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
        {
            peak_kib = hwm;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    assert!(status.success());
    let wall = started.elapsed();
    let (cpu_after, _) = children_usage();
    (wall, cpu_after.saturating_sub(cpu_before), peak_kib)
}

async fn tick_at_scale(n_tasks: usize, n_files: usize) {
    let emu = Emulator::start(EmulatorOptions::default()).await.unwrap();
    for n in 0..n_tasks {
        emu.add_task(task(n, n_files));
    }
    let dir = tempfile::tempdir().unwrap();
    let api = url::Url::parse(&emu.base_url())
        .unwrap()
        .join("api/v4/")
        .unwrap();
    let options = ClientOptions::new(api, "bot@example.com".into(), SecretString::from(PASSWORD));
    let (state, _) = StateStore::open(&dir.path().join("in-process-state.json")).unwrap();
    let daemon = Daemon::new(Client::new(options).unwrap(), settings(), state, None);
    daemon.client().ensure_signed_in().await.unwrap();

    // Serialize the emulator's answer before timing: the daemon's tick is measured, not the
    // emulator building a list of many megabytes.
    let _ = emu.list_body();
    emu.clear_requests();
    let started = Instant::now();
    let first = daemon.tick().await;
    let first_wall = started.elapsed();
    let first_requests = emu.requests().len();
    emu.poll();
    let _ = emu.list_body();
    emu.clear_requests();
    let started = Instant::now();
    let second = daemon.tick().await;
    let second_wall = started.elapsed();
    let second_requests = emu.requests().len();
    assert_eq!(second.patched(), 0);

    // Decoding the list beside the floor of any JSON decoding (a parse that builds nothing),
    // then planning and state, on the same answer.
    let body = emu.list_body();
    let figures = decode_figures(body.as_bytes());
    let tasks = decode_task_document(body.as_bytes()).unwrap().tasks;
    let rules = settings().rules;
    let mut store = StateStore::read_only(&dir.path().join("in-process-state.json")).unwrap();
    let started = Instant::now();
    let mut to_send = 0usize;
    for task in &tasks {
        // As the daemon's tick does: the task's decisions are borrowed, not copied.
        let plan = plan::plan(task, &rules, store.decided_ref(&task.id));
        to_send += usize::from(plan.changes().is_some());
    }
    let listed: std::collections::HashSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
    store.prune(&listed, chrono::Utc::now());
    let plan_and_state = started.elapsed();
    assert_eq!(to_send, 0);
    drop(tasks);

    // The same work by the release binary, on a fresh emulator, for its own CPU time and
    // peak RSS.
    drop(daemon);
    drop(emu);
    let emu = Emulator::start(EmulatorOptions::default()).await.unwrap();
    for n in 0..n_tasks {
        emu.add_task(task(n, n_files));
    }
    let binary_dir = tempfile::tempdir().unwrap();
    let config = write_config(binary_dir.path(), &emu, "*/30 * * * * *");
    let _ = emu.list_body();
    let (first_once_wall, first_once_cpu, first_rss) = once(&config, false).await;
    emu.poll();
    let _ = emu.list_body();
    // The second run's figures are the median of several (each one the same work: nothing to
    // send), since one run's CPU time varies by a tenth with the machine's load; the peak RSS
    // is the largest seen.
    let mut second_runs = Vec::new();
    for _ in 0..ONCE_RUNS {
        second_runs.push(once(&config, false).await);
    }
    let second_rss = second_runs.iter().map(|run| run.2).max().unwrap();
    second_runs.sort_by_key(|run| run.1);
    let (second_cpu_min, second_cpu_max) = (second_runs[0].1, second_runs[ONCE_RUNS - 1].1);
    let (second_once_wall, second_once_cpu, _) = second_runs[ONCE_RUNS / 2];
    let mut pinned_runs = Vec::new();
    for _ in 0..ONCE_RUNS {
        pinned_runs.push(once(&config, true).await.1);
    }
    pinned_runs.sort();
    let pinned_once_cpu = pinned_runs[ONCE_RUNS / 2];
    let rss_target_mb = 2.5 * body.len() as f64 / 1e6 + 10.0;
    let json_load_cpu = python_json_load_cpu(body.as_bytes()).await;

    println!(
        "tick at scale: {n_tasks} tasks x {n_files} files ({} files, list body {:.1} MB)",
        n_tasks * n_files,
        body.len() as f64 / 1e6
    );
    println!(
        "  in-process first tick:  {:>8.1} ms wall, {first_requests} requests ({} PATCHes, {} files deselected, {} selected)",
        ms(first_wall),
        first.patched(),
        first.deselected(),
        first.selected()
    );
    println!(
        "  in-process second tick: {:>8.1} ms wall, {second_requests} request(s)",
        ms(second_wall)
    );
    println!(
        "  decode list JSON (the client's decoder, the body whole): {:>6.1} ms ({:.0} MB/s); as a saved document (explain): {:.1} ms ({:.0} MB/s)",
        ms(figures.decode),
        mb_per_s(body.len(), figures.decode),
        ms(figures.document),
        mb_per_s(body.len(), figures.document),
    );
    println!(
        "    floor, serde_json::from_slice::<IgnoredAny> on the same bytes: {:.1} ms ({:.0} MB/s); decode/floor {:.2}x (best of {DECODE_RUNS} each)",
        ms(figures.floor),
        mb_per_s(body.len(), figures.floor),
        figures.decode.as_secs_f64() / figures.floor.as_secs_f64()
    );
    println!(
        "  plan every task + state look-ups and prune: {:>8.1} ms",
        ms(plan_and_state)
    );
    println!(
        "  binary `once`, first:   {:>8.1} ms wall, {:>8.1} ms CPU, peak RSS {:.1} MB",
        ms(first_once_wall),
        ms(first_once_cpu),
        first_rss as f64 / 1024.0
    );
    println!(
        "  binary `once`, second (median of {ONCE_RUNS}):  {:>8.1} ms wall, {:>8.1} ms CPU (min {:.1}, max {:.1}), peak RSS {:.1} MB = {:.2}x the body (floor 2.5x body + 10 MB, issue 25 = {rss_target_mb:.1} MB; includes start-up and sign-in)",
        ms(second_once_wall),
        ms(second_once_cpu),
        ms(second_cpu_min),
        ms(second_cpu_max),
        second_rss as f64 / 1024.0,
        second_rss as f64 * 1024.0 / body.len() as f64
    );
    println!(
        "  binary `once`, second, on one core (taskset -c 0), median of {ONCE_RUNS}: {:>8.1} ms CPU = {:.1} ms CPU per 1,000 tasks of {n_files} files",
        ms(pinned_once_cpu),
        ms(pinned_once_cpu) * 1000.0 / n_tasks as f64
    );
    match json_load_cpu {
        Some(python) => println!(
            "    beside python3's json.load of the same bytes, whole process (median of {ONCE_RUNS}): {:.1} ms CPU; the second `once` costs {:.2}x less",
            ms(python),
            python.as_secs_f64() / second_once_cpu.as_secs_f64()
        ),
        None => println!("    python3 not found: the json.load baseline is skipped"),
    }
}

/// CPU time of a whole `python3` process that reads `body` with `json.load` (its C
/// decoder), median of `ONCE_RUNS`; `None` without python3.
async fn python_json_load_cpu(body: &[u8]) -> Option<Duration> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("list.json");
    std::fs::write(&file, body).unwrap();
    let mut runs = Vec::new();
    for _ in 0..ONCE_RUNS {
        let (before, _) = children_usage();
        let status = tokio::process::Command::new("python3")
            .args([
                "-c",
                "import json, sys\nwith open(sys.argv[1], 'rb') as f: json.load(f)",
            ])
            .arg(&file)
            .status()
            .await
            .ok()?;
        assert!(status.success());
        runs.push(children_usage().0.saturating_sub(before));
    }
    runs.sort();
    Some(runs[ONCE_RUNS / 2])
}

/// Runs of the second `once`; the median is reported.
const ONCE_RUNS: usize = 5;

/// Runs of the decoder and of the floor; the best of each is reported.
const DECODE_RUNS: usize = 7;

struct DecodeFigures {
    /// The client's decoder, over the whole body.
    decode: Duration,
    /// The same decoder reading a saved document (`explain --task-json`).
    document: Duration,
    floor: Duration,
}

/// The list decoder beside the floor (a `serde_json` parse that builds nothing), alternating,
/// best of [`DECODE_RUNS`] each, so that other load on the machine affects both alike.
fn decode_figures(body: &[u8]) -> DecodeFigures {
    let mut figures = DecodeFigures {
        decode: Duration::MAX,
        document: Duration::MAX,
        floor: Duration::MAX,
    };
    for _ in 0..DECODE_RUNS {
        let started = Instant::now();
        serde_json::from_slice::<serde::de::IgnoredAny>(body).unwrap();
        figures.floor = figures.floor.min(started.elapsed());
        let started = Instant::now();
        let list = black_box(decode_list_answer(body).unwrap());
        figures.decode = figures.decode.min(started.elapsed());
        drop(list);
        let started = Instant::now();
        let list = black_box(decode_task_document(body).unwrap());
        figures.document = figures.document.min(started.elapsed());
        drop(list);
    }
    figures
}

fn mb_per_s(bytes: usize, time: Duration) -> f64 {
    bytes as f64 / time.as_secs_f64() / 1e6
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// 205 globs in 41 rules: the common junk rules first, then rules shaped like a long
/// hand-written list (extensions, name fragments, folders), none of which matches the bench's
/// files, so that an unmatched file is tried against every glob.
fn rules_205_globs() -> String {
    let mut text = String::from(
        "[[rule]]\nname = \"keep-subs\"\naction = \"keep\"\nglob = [\"*.srt\", \"*.ass\", \"*.ssa\", \"*.sub\", \"*.idx\"]\n\n\
         [[rule]]\nname = \"junk\"\naction = \"skip\"\nglob = [\"*.exe\", \"*.url\", \"*.txt\", \"*.nfo\", \"*.lnk\"]\n\n\
         [[rule]]\nname = \"samples\"\naction = \"skip\"\nglob = [\"**/sample/**\", \"*sample*.mkv\", \"*.sample.*\", \"**/proof/**\", \"*proof*.jpg\"]\n\n",
    );
    for i in 0..38 {
        let _ = write!(
            text,
            "[[rule]]\nname = \"list-{i}\"\naction = \"skip\"\nglob = [\"*.ext{i}\", \"*advert{i}*\", \"**/Promo{i}/**\", \"junk{i}_*\", \"*.[qz]{i}\"]\n\n"
        );
    }
    text
}

/// Median wall time of `runs` whole-process runs of `command` (stdout to /dev/null), from
/// spawning to `waitpid`, as `hyperfine -N` times it, after one untimed run (the binary and the
/// file are then in the page cache for every timed run).
fn median_process_time(
    runs: usize,
    mut command: impl FnMut() -> std::process::Command,
) -> Duration {
    let mut run = || {
        let started = Instant::now();
        let status = command()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        started.elapsed()
    };
    run();
    let mut samples: Vec<Duration> = (0..runs).map(|_| run()).collect();
    samples.sort();
    samples[runs / 2]
}

/// `explain --task-json` on a saved 50,000-file list with 205 globs, whole process, beside a
/// Python loop of `fnmatch` per pattern (`benches/fnmatch_baseline.py`) on the same files.
async fn explain_vs_fnmatch() {
    let emu = Emulator::start(EmulatorOptions::default()).await.unwrap();
    for n in 0..1_000 {
        emu.add_task(task(n, 50));
    }
    let dir = tempfile::tempdir().unwrap();
    let tasks = dir.path().join("tasks.json");
    std::fs::write(&tasks, emu.list_body()).unwrap();
    drop(emu);
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        format!(
            "[server]\nurl = \"http://127.0.0.1/\"\nemail = \"bot@example.com\"\n\n{}",
            rules_205_globs()
        ),
    )
    .unwrap();
    let (tasks, rules) = (tasks.to_str().unwrap(), rules.to_str().unwrap());
    if std::env::var_os("SCALE_KEEP_FILES").is_some() {
        // For a profiler: the two files stay.
        println!("explain files kept: {rules} {tasks}");
        std::mem::forget(dir);
    }
    let ours = tokio::task::block_in_place(|| {
        median_process_time(31, || {
            let mut command = std::process::Command::new(BINARY_PATH.as_str());
            command.args(["--config", rules, "explain", "--task-json", tasks]);
            command
        })
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/fnmatch_baseline.py");
    let python_works = std::process::Command::new("python3")
        .args(["-c", "import tomllib"])
        .status()
        .is_ok_and(|s| s.success());
    if python_works {
        let python = tokio::task::block_in_place(|| {
            median_process_time(3, || {
                let mut command = std::process::Command::new("python3");
                command.args([script, rules, tasks]);
                command
            })
        });
        println!(
            "explain --task-json, 50,000 files x 205 globs, whole process: {:.1} ms; Python fnmatch per pattern: {:.0} ms; {:.0}x faster (medians of 31 and 3)",
            ms(ours),
            ms(python),
            python.as_secs_f64() / ours.as_secs_f64()
        );
    } else {
        println!(
            "explain --task-json, 50,000 files x 205 globs, whole process: {:.1} ms (median of 31); Python 3.11+ not found, baseline skipped",
            ms(ours)
        );
    }
}

async fn startup() {
    let emu = Emulator::start(EmulatorOptions::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &emu, "*/30 * * * * *");
    let mut samples = Vec::new();
    for _ in 0..10 {
        emu.clear_requests();
        let started = Instant::now();
        let status = tokio::process::Command::new(BINARY_PATH.as_str())
            .args(["--config", config.to_str().unwrap(), "once"])
            .env("CLOUDREVE_AUTOSELECT_PASSWORD", PASSWORD)
            .env("RUST_LOG", "warn")
            .status()
            .await
            .unwrap();
        assert!(status.success());
        let first = emu.requests().first().unwrap().received_at;
        samples.push(first.duration_since(started));
    }
    samples.sort();
    println!(
        "start-up to first request: median {:.1} ms (min {:.1}, max {:.1}, 10 runs)",
        ms(samples[5]),
        ms(samples[0]),
        ms(samples[9])
    );
}

fn proc_cpu_and_rss(pid: u32) -> (Duration, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    // After the command name: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let hz = u64::try_from(
        nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kib = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap();
    (Duration::from_millis(ticks * 1000 / hz), rss_kib)
}

fn spawn_run(config: &Path) -> tokio::process::Child {
    tokio::process::Command::new(BINARY_PATH.as_str())
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("CLOUDREVE_AUTOSELECT_PASSWORD", PASSWORD)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

async fn wait_for(mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn reaction() {
    let emu = Emulator::start(EmulatorOptions::default()).await.unwrap();
    let id = emu.add_task(task(0, 10).metadata_pending());
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &emu, "*/30 * * * * *");
    let mut child = spawn_run(&config);
    wait_for(|| emu.requests().iter().any(|r| r.path.ends_with("/workflow"))).await;
    tokio::time::sleep(Duration::from_millis(1700)).await;
    emu.metadata_arrives(&id);
    emu.poll();
    let arrived = Instant::now();
    wait_for(|| emu.requests().iter().any(|r| r.method == "PATCH")).await;
    let patch = emu
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap()
        .received_at;
    println!(
        "metadata to PATCH with a 30 s schedule and metadata_recheck = 5s: {:.2} s",
        patch.duration_since(arrived).as_secs_f64()
    );
    child.kill().await.unwrap();
}

async fn idle() {
    let emu = Emulator::start(EmulatorOptions::default()).await.unwrap();
    for n in 0..10 {
        emu.add_task(task(n, 20));
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &emu, "*/30 * * * * *");
    let mut child = spawn_run(&config);
    let pid = child.id().unwrap();
    let ticks = || {
        emu.requests()
            .iter()
            .filter(|r| r.path.ends_with("/workflow"))
            .count()
    };
    // Start-up tick, then the next scheduled one; measure the quiet stretch after it.
    wait_for(|| ticks() >= 2).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu_start, _) = proc_cpu_and_rss(pid);
    let quiet_start = Instant::now();
    tokio::time::sleep(Duration::from_secs(25)).await;
    let (cpu_end, _) = proc_cpu_and_rss(pid);
    let quiet = quiet_start.elapsed();
    wait_for(|| ticks() >= 3).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, rss_kib) = proc_cpu_and_rss(pid);
    println!(
        "idle `run` (30 s schedule, 10 tasks): RSS {:.1} MB after {} ticks; CPU between ticks {:.0} ms over {:.0} s",
        rss_kib as f64 / 1024.0,
        ticks(),
        ms(cpu_end.saturating_sub(cpu_start)),
        quiet.as_secs_f64()
    );
    child.kill().await.unwrap();
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    cloudreve_autoselect::cloudreve::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let binary = BINARY_PATH.as_str();
        let size = std::fs::metadata(binary).unwrap().len();
        println!("binary: {binary}: {:.1} MB", size as f64 / 1e6);
        if std::env::args().any(|a| a == "--scale-only") {
            tick_at_scale(10_000, 20).await;
            return;
        }
        if std::env::args().any(|a| a == "--explain-only") {
            explain_vs_fnmatch().await;
            return;
        }
        startup().await;
        tick_at_scale(1_000, 50).await;
        tick_at_scale(10_000, 20).await;
        explain_vs_fnmatch().await;
        reaction().await;
        if !quick {
            idle().await;
        }
    });
}
