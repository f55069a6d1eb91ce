//! A shared list cannot take the service down (`rules::budget`): a list that would cost too
//! much to compile never reaches the cache and the last good copy stays in force; a cached copy
//! over the budget makes only its rule inactive (never exit 78); a `list_file` and the rules
//! file's own regexes are held to the same budget, refused fast.

use std::time::{Duration, Instant, SystemTime};

use axum::http::StatusCode;
use cloudreve_autoselect::blocklist_fetch::{self, BlocklistFetchError, Refreshed};
use cloudreve_autoselect::config::{self, blocklists::BlocklistStatus};
use cloudreve_emulator::Backend;

use crate::blocklists::{BlocklistServer, LIST, load, rules_file};
use crate::support::{self, run_binary, stderr};

/// The 2,000 lines of `regex:^xN\w{50}y`: 29 s of CPU to compile, line by line.
fn costly_regexes() -> String {
    (0..2000)
        .map(|i| format!("regex:^x{i}\\w{{50}}y\n"))
        .collect::<Vec<_>>()
        .concat()
}

#[tokio::test]
async fn a_list_over_the_budget_never_reaches_the_cache_and_the_last_copy_stays() {
    let server = BlocklistServer::start(LIST).await;
    let dir = tempfile::tempdir().unwrap();
    let path = rules_file(
        dir.path(),
        "https://cloud.example",
        &format!("list_url = \"{}\"", server.url()),
    );
    let config = load(&path);
    let downloader = blocklist_fetch::downloader(&config).unwrap();
    let list = &blocklist_fetch::url_blocklists(&config)[0];
    assert_eq!(
        blocklist_fetch::refresh(&downloader, list).await.unwrap(),
        Refreshed::Updated
    );
    let good = std::fs::read(&list.cache).unwrap();

    let started = Instant::now();
    server.serve(StatusCode::OK, costly_regexes().as_bytes());
    let error = blocklist_fetch::refresh(&downloader, list)
        .await
        .unwrap_err();
    assert!(
        matches!(error, BlocklistFetchError::OverBudget { .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("exceeds the compile budget"),
        "{error}"
    );
    // One 4 MB `*aaa…*` line (1.47 GB to compile): a line too long, so nothing usable.
    let long = format!("*{}*\n", "a".repeat(4_000_000));
    server.serve(StatusCode::OK, long.as_bytes());
    let error = blocklist_fetch::refresh(&downloader, list)
        .await
        .unwrap_err();
    assert!(
        matches!(error, BlocklistFetchError::NoPattern { .. }),
        "{error}"
    );
    // Under qemu-user (`ci/arm64 test` sets QEMU_LD_PREFIX) the bound is wider: the same work
    // runs several times slower there.
    let bound = if std::env::var_os("QEMU_LD_PREFIX").is_some() {
        120
    } else {
        20
    };
    assert!(started.elapsed() < std::time::Duration::from_secs(bound));

    assert_eq!(std::fs::read(&list.cache).unwrap(), good);
    let config = load(&path);
    assert!(!config.rules.rules()[1].is_inactive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_copy_over_the_budget_makes_only_its_rule_inactive() {
    let emu = support::emulator().await;
    emu.add_task(support::show(Backend::Aria2));
    let dir = tempfile::tempdir().unwrap();
    let path = rules_file(
        dir.path(),
        &emu.base_url(),
        "list_url = \"https://lists.example/poison.txt\"",
    );
    // A copy cached before the budget existed.
    let cache = blocklist_fetch::url_blocklists(&load(&path))[0]
        .cache
        .clone();
    std::fs::create_dir_all(cache.parent().unwrap()).unwrap();
    std::fs::write(&cache, costly_regexes()).unwrap();

    let config = load(&path);
    assert!(config.rules.rules()[1].is_inactive());
    let BlocklistStatus::Unavailable(reason) = &config.blocklists[0].status else {
        panic!("{:?}", config.blocklists[0].status);
    };
    assert!(reason.contains("exceeds the compile budget"), "{reason}");
    assert!(reason.contains(&cache.display().to_string()), "{reason}");

    // `once` runs with the rule inactive (it exited 78 with the copy in place).
    let output = run_binary(
        &["--config", path.to_str().unwrap(), "once"],
        &[("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // The other rules still work: the kept .srt was decided, nothing deselected by the list.
    assert!(support::patches(&emu).is_empty());
    assert!(dir.path().join("state.json").exists());
}

#[test]
fn a_list_file_and_the_rules_file_regexes_are_held_to_the_budget_and_refused_fast() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("list.txt"), costly_regexes()).unwrap();
    let path = rules_file(
        dir.path(),
        "https://cloud.example",
        "list_file = \"list.txt\"",
    );
    let error = config::load(&path, &|_| None).unwrap_err().to_string();
    assert!(error.contains("exceeds the compile budget"), "{error}");

    // 199 large regexes in a few KB (12 s to refuse, compiled one by one).
    let regexes: Vec<String> = (0..199).map(|i| format!("'^y{i}\\w{{60}}z'")).collect();
    let path = dir.path().join("regexes.toml");
    std::fs::write(
        &path,
        support::config_text(
            "https://cloud.example",
            &format!(
                "[daemon]\nstate_file = \"{}\"\n\n[[rule]]\nname = \"many\"\naction = \"skip\"\nregex = [{}]\n",
                dir.path().join("state.json").display(),
                regexes.join(", ")
            ),
        ),
    )
    .unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() < 8 * 1024);
    let started = Instant::now();
    let error = config::load(&path, &|_| None).unwrap_err().to_string();
    assert!(error.contains("rule[0].regex"), "{error}");
    assert!(
        error.contains("199 regexes together are too large"),
        "{error}"
    );
    // Far from the 32 s of compiling each; under qemu-user (`ci/arm64 test` sets
    // QEMU_LD_PREFIX) the same work runs several times slower, so the bound is wider there only.
    let bound = if std::env::var_os("QEMU_LD_PREFIX").is_some() {
        Duration::from_secs(90)
    } else {
        Duration::from_secs(10)
    };
    assert!(started.elapsed() < bound, "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fetch_beside_an_old_copy_does_not_say_never_fetched() {
    let emu = support::emulator().await;
    let server = BlocklistServer::start(LIST).await;
    let dir = tempfile::tempdir().unwrap();
    let path = rules_file(
        dir.path(),
        &emu.base_url(),
        &format!("list_url = \"{}\"\nrefresh = \"1h\"", server.url()),
    );
    let config = load(&path);
    let list = &blocklist_fetch::url_blocklists(&config)[0];
    blocklist_fetch::refresh(&blocklist_fetch::downloader(&config).unwrap(), list)
        .await
        .unwrap();
    // The copy is due again, and the server fails.
    std::fs::File::options()
        .append(true)
        .open(&list.cache)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(2 * 3600))
        .unwrap();
    server.serve(StatusCode::BAD_GATEWAY, b"down");
    let output = run_binary(
        &["--config", path.to_str().unwrap(), "once", "--dry-run"],
        &[("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)],
    )
    .await;
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(!err.contains("never fetched"), "{err}");
    assert!(err.contains("stays in force"), "{err}");
}
