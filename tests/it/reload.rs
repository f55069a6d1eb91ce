//! Reload without a signal: the running daemon binary notices an edited rules file (also one
//! replaced by rename, as editors and config maps do) and an edited `list_file` by the next
//! tick; an invalid file is refused once, with its problems logged once, and the old rules stay.

use std::path::{Path, PathBuf};

use cloudreve_emulator::{Backend, Emulator};

use crate::support;
use crate::support::wait_for;

fn rules_text(emu: &Emulator, dir: &Path, rules: &str) -> String {
    support::config_text(
        &emu.base_url(),
        &format!(
            "[daemon]\nschedule = \"* * * * * *\"\nstate_file = \"{}\"\n{rules}",
            dir.join("state.json").display()
        ),
    )
}

/// Replaces a file the way editors and Kubernetes do: write a new file, rename it over.
fn replace_by_rename(path: &Path, text: &str) {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

fn start(config: &Path, log: &Path) -> tokio::process::Child {
    tokio::process::Command::new(support::binary())
        .args(["--config", config.to_str().unwrap(), "run"])
        .env("CLOUDREVE_AUTOSELECT_PASSWORD", support::PASSWORD)
        .env("RUST_LOG", "info")
        .stderr(std::fs::File::create(log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

fn ticks(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches("tick finished")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_rules_file_applies_by_the_next_tick_and_an_invalid_one_is_refused_once() {
    let emu = support::emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let config: PathBuf = dir.path().join("rules.toml");
    let log = dir.path().join("log");
    std::fs::write(&config, rules_text(&emu, dir.path(), support::RULES)).unwrap();
    let mut child = start(&config, &log);
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for("the first ticks", || ticks(&log) >= 2).await;

    // Replaced by rename with a new rule: applies to a task added afterwards, without SIGHUP.
    let extra = "[[rule]]\nname = \"no-episode-2\"\naction = \"skip\"\nglob = \"E02.mkv\"\n";
    replace_by_rename(
        &config,
        &rules_text(&emu, dir.path(), &format!("{}{extra}", support::RULES)),
    );
    wait_for("the reload", || read_log().contains("rules reloaded")).await;
    assert!(
        read_log().contains("trigger=\"rules file changed\""),
        "{}",
        read_log()
    );
    let task = emu.add_task(support::show(Backend::Aria2));
    wait_for("the new rule applied", || {
        support::patches(&emu).iter().any(|(id, _)| *id == task)
    })
    .await;
    let sent = support::patches(&emu);
    let (_, files) = sent.iter().find(|(id, _)| *id == task).unwrap();
    assert_eq!(files, &[(2, false), (3, false), (5, false), (6, false)]);

    // An invalid file: refused once, its problem logged once however many ticks pass.
    replace_by_rename(&config, "[server\nbroken");
    wait_for("the refusal", || {
        read_log().contains("rules not reloaded, keeping the previous rules")
    })
    .await;
    let refused_at = ticks(&log);
    wait_for("three more ticks", || ticks(&log) >= refused_at + 3).await;
    assert_eq!(
        read_log()
            .matches("rules not reloaded, keeping the previous rules")
            .count(),
        1,
        "{}",
        read_log()
    );
    // The old rules (with the extra rule) still apply.
    let second = emu.add_task(support::show(Backend::Qbittorrent));
    wait_for("the old rules applied", || {
        support::patches(&emu).iter().any(|(id, _)| *id == second)
    })
    .await;
    let sent = support::patches(&emu);
    let (_, files) = sent.iter().find(|(id, _)| *id == second).unwrap();
    assert_eq!(files, &[(1, false), (2, false), (4, false), (5, false)]);

    // Fixed again: reloaded.
    std::fs::write(&config, rules_text(&emu, dir.path(), support::RULES)).unwrap();
    wait_for("the second reload", || {
        read_log().matches("rules reloaded").count() == 2
    })
    .await;
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_list_file_applies_by_the_next_tick() {
    let emu = support::emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("block.txt");
    std::fs::write(&list, "*.url\n").unwrap();
    let config = dir.path().join("rules.toml");
    std::fs::write(
        &config,
        rules_text(
            &emu,
            dir.path(),
            "[[rule]]\nname = \"community\"\naction = \"skip\"\nlist_file = \"block.txt\"\n",
        ),
    )
    .unwrap();
    let log = dir.path().join("log");
    let mut child = start(&config, &log);
    let first = emu.add_task(support::show(Backend::Aria2));
    wait_for("the first task handled", || {
        support::patches(&emu).iter().any(|(id, _)| *id == first)
    })
    .await;
    assert_eq!(support::patches(&emu)[0].1, [(6, false)]);

    std::fs::write(&list, "*.url\n*.txt\n").unwrap();
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for("the reload", || read_log().contains("rules reloaded")).await;
    let second = emu.add_task(support::show(Backend::Aria2));
    wait_for("the edited list applied", || {
        support::patches(&emu).iter().any(|(id, _)| *id == second)
    })
    .await;
    let sent = support::patches(&emu);
    let (_, files) = sent.iter().find(|(id, _)| *id == second).unwrap();
    assert_eq!(files, &[(5, false), (6, false)]);
    child.kill().await.unwrap();
}
