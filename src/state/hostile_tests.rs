//! The state under hostile conditions: a write that fails, planted links and devices, a lock
//! file removed under a running writer, and lists that leave tasks out.

use super::*;

fn change(index: u64, download: bool) -> SelectionChange {
    SelectionChange { index, download }
}

/// A file root owns that a planted link points at.
fn victim(dir: &Path) -> PathBuf {
    let victim = dir.join("victim");
    fs::write(&victim, "precious").unwrap();
    victim
}

#[test]
fn a_decision_whose_journal_write_fails_is_not_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let id = TaskId::new("a");
    let (mut store, _) = StateStore::open(&path).unwrap();
    store.fail_journal_writes(1);
    let e = store.decide(&id, &[change(1, false)]).unwrap_err();
    assert!(
        e.to_string()
            .contains(&journal_path(&path).display().to_string()),
        "{e}"
    );
    assert!(store.decided_ref(&id).is_empty(), "decided in memory only");
    // What reached the file was cut off, so a crash now decides nothing either.
    assert_eq!(fs::metadata(journal_path(&path)).unwrap().len(), 0);
    // The next full write does not make it durable behind the caller's back.
    store.save().unwrap();
    drop(store);
    let (mut store, _) = StateStore::open(&path).unwrap();
    assert!(store.decided_ref(&id).is_empty());
    // Once the disk is fine again the same decision is recorded.
    store.decide(&id, &[change(1, false)]).unwrap();
    assert_eq!(store.decided(&id), Decided::from([(1, false)]));
}

#[test]
fn planted_links_are_refused_and_their_targets_left_alone() {
    for planted in [".journal", ".lock", ""] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let victim = victim(dir.path());
        let link = beside(&path, planted);
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let opened = StateStore::open(&path);
        // Only a link in place of the state file itself could be read through (it is not:
        // refused); nothing may open.
        let Err(e) = opened else {
            panic!("{planted}: opened through a planted link")
        };
        assert!(
            e.to_string().contains(&link.display().to_string())
                && e.to_string().contains("symbolic link"),
            "{planted}: {e}"
        );
        assert_eq!(fs::read(&victim).unwrap(), b"precious", "{planted}");
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
}

#[test]
fn a_link_planted_after_opening_is_replaced_or_refused_never_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let victim = victim(dir.path());
    let (mut store, _) = StateStore::open(&path).unwrap();
    std::os::unix::fs::symlink(&victim, &path).unwrap();
    store
        .decide(&TaskId::new("a"), &[change(1, false)])
        .unwrap();
    store.save().unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert!(fs::symlink_metadata(&path).unwrap().file_type().is_file());
    // A journal swapped for a link: the writer stops rather than write through it.
    fs::remove_file(journal_path(&path)).unwrap();
    std::os::unix::fs::symlink(&victim, journal_path(&path)).unwrap();
    let e = store
        .decide(&TaskId::new("b"), &[change(1, false)])
        .unwrap_err();
    assert!(e.to_string().contains("state.json.journal"), "{e}");
    store.count_deselected("junk", 1, 1);
    assert!(matches!(store.save(), Err(StateError::LockLost { .. })));
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
}

#[test]
fn a_state_or_journal_that_is_a_device_or_fifo_is_refused_without_reading_it() {
    for (planted, target) in [("", "/dev/zero"), (".journal", "/dev/zero")] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::os::unix::fs::symlink(target, beside(&path, planted)).unwrap();
        let e = StateStore::read_only(&path).unwrap_err();
        assert!(
            e.to_string()
                .contains(&beside(&path, planted).display().to_string()),
            "{e}"
        );
        assert!(StateStore::open(&path).is_err());
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success());
    let e = StateStore::read_only(&path).unwrap_err();
    assert!(e.to_string().contains("FIFO"), "{e}");
}

#[test]
fn a_lock_file_removed_under_a_writer_lets_no_second_writer_in() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let (mut first, _) = StateStore::open(&path).unwrap();
    first
        .decide(&TaskId::new("a"), &[change(1, false)])
        .unwrap();
    // Taken for a stale lock and removed: the journal's lock still keeps a newcomer out.
    fs::remove_file(lock_path(&path)).unwrap();
    let e = StateStore::open(&path).unwrap_err();
    assert!(matches!(e, StateError::Locked { .. }), "{e:?}");
    assert!(
        e.to_string().contains("state.json.journal is locked"),
        "{e}"
    );
    // The first writer notices before writing anything more, and stays stopped.
    let e = first
        .decide(&TaskId::new("b"), &[change(1, false)])
        .unwrap_err();
    assert!(matches!(e, StateError::LockLost { .. }), "{e:?}");
    assert!(e.to_string().contains("state.json.lock"), "{e}");
    assert!(first.decided_ref(&TaskId::new("b")).is_empty());
    assert!(matches!(first.save(), Err(StateError::LockLost { .. })));
}

#[test]
fn a_writer_whose_lock_and_journal_were_both_removed_stops_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let (mut first, _) = StateStore::open(&path).unwrap();
    first
        .decide(&TaskId::new("a"), &[change(1, false)])
        .unwrap();
    first.save().unwrap();
    fs::remove_file(lock_path(&path)).unwrap();
    fs::remove_file(journal_path(&path)).unwrap();
    let (mut second, _) = StateStore::open(&path).unwrap();
    assert_eq!(
        second.decided(&TaskId::new("a")),
        Decided::from([(1, false)])
    );
    let e = first
        .decide(&TaskId::new("b"), &[change(1, false)])
        .unwrap_err();
    assert!(matches!(e, StateError::LockLost { .. }), "{e:?}");
    second
        .decide(&TaskId::new("b"), &[change(2, false)])
        .unwrap();
    second.save().unwrap();
    drop(second);
    let (store, _) = StateStore::open(&path).unwrap();
    assert_eq!(
        store.decided(&TaskId::new("b")),
        Decided::from([(2, false)])
    );
}

#[test]
fn an_empty_list_forgets_nothing_young_and_a_task_back_keeps_its_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let now = chrono::Utc::now();
    {
        let (mut store, _) = StateStore::open(&path).unwrap();
        store
            .decide(&TaskId::new("a"), &[change(1, false)])
            .unwrap();
        store
            .decide(&TaskId::new("b"), &[change(1, false)])
            .unwrap();
        assert_eq!(store.prune(&HashSet::new(), now), 0);
        store.save().unwrap();
    }
    let (mut store, _) = StateStore::open(&path).unwrap();
    // The mark survives a restart: the grace period counts from the first absence.
    let almost = now + PRUNE_GRACE - chrono::Duration::seconds(1);
    assert_eq!(store.prune(&HashSet::from(["a"]), almost), 0);
    assert_eq!(
        store.decided(&TaskId::new("a")),
        Decided::from([(1, false)])
    );
    assert_eq!(store.prune(&HashSet::new(), now + PRUNE_GRACE), 1);
    assert!(!store.knows(&TaskId::new("b")));
    // "a" was listed again at `almost`, so its grace period starts over.
    assert!(store.knows(&TaskId::new("a")));
}
