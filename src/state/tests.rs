//! Unit tests of `state`.

use super::*;

fn change(index: u64, download: bool) -> SelectionChange {
    SelectionChange { index, download }
}

#[test]
fn decisions_survive_a_restart_through_journal_and_full_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let id = TaskId::new("kku7");
    {
        let (mut store, warnings) = StateStore::open(&path).unwrap();
        assert!(warnings.is_empty());
        store
            .decide(&id, &[change(3, false), change(4, true)])
            .unwrap();
        // No full write: a crash right here keeps the journal.
    }
    let (mut store, warnings) = StateStore::open(&path).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(store.decided(&id), Decided::from([(3, false), (4, true)]));
    store.save().unwrap();
    assert_eq!(fs::read(journal_path(&path)).unwrap().len(), 0);
    drop(store);
    let (store, _) = StateStore::open(&path).unwrap();
    assert_eq!(store.decided(&id), Decided::from([(3, false), (4, true)]));
}

#[test]
fn a_retracted_decision_is_forgotten_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let id = TaskId::new("a");
    {
        let (mut store, _) = StateStore::open(&path).unwrap();
        store
            .decide(&id, &[change(1, true), change(2, false)])
            .unwrap();
        store.retract(&id, &[2]).unwrap();
    }
    let (store, _) = StateStore::open(&path).unwrap();
    assert_eq!(store.decided(&id), Decided::from([(1, true)]));
}

#[test]
fn corrupt_file_is_moved_aside_and_next_write_is_good() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    fs::write(&path, "{not json").unwrap();
    let (mut store, warnings) = StateStore::open(&path).unwrap();
    assert!(
        matches!(&warnings[..], [LoadWarning::MovedAside { .. }]),
        "{warnings:?}"
    );
    assert!(warnings[0].to_string().contains("corrupt"));
    assert_eq!(store.task_count(), 0);
    let moved: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        moved
            .iter()
            .any(|n| n.to_string_lossy().contains(".corrupt-")),
        "{moved:?}"
    );
    store
        .decide(&TaskId::new("a"), &[change(1, false)])
        .unwrap();
    store.save().unwrap();
    drop(store);
    let (store, warnings) = StateStore::open(&path).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(store.task_count(), 1);
}

#[test]
fn an_unreadable_state_file_is_an_error_and_is_left_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    // A directory where the file should be: exists, cannot be read as a file.
    fs::create_dir(&path).unwrap();
    let err = StateStore::open(&path).unwrap_err();
    assert!(matches!(err, StateError::Unreadable { .. }), "{err:?}");
    assert!(err.to_string().contains("state.json"), "{err}");
    assert!(path.is_dir());
    assert!(StateStore::read_only(&path).is_err());
}

#[test]
fn a_newer_format_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    fs::write(&path, r#"{"version":99,"tasks":{}}"#).unwrap();
    let err = StateStore::open(&path).unwrap_err();
    assert!(matches!(err, StateError::NewerVersion { version: 99, .. }));
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        r#"{"version":99,"tasks":{}}"#
    );
}

#[test]
fn version_1_files_and_journal_lines_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    fs::write(
        &path,
        r#"{"version":1,"tasks":{"a":{"decided":{"4":false}}}}"#,
    )
    .unwrap();
    fs::write(
        journal_path(&path),
        "{\"task\":\"a\",\"files\":[[5,false]]}\n",
    )
    .unwrap();
    let (store, warnings) = StateStore::open(&path).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        store.decided(&TaskId::new("a")),
        Decided::from([(4, false), (5, false)])
    );
}

#[test]
fn a_torn_journal_tail_is_cut_off_so_the_next_record_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    fs::write(
        journal_path(&path),
        "{\"task\":\"a\",\"decide\":[[1,false]]}\n{\"task\":\"b\",\"de",
    )
    .unwrap();
    {
        let (mut store, warnings) = StateStore::open(&path).unwrap();
        assert_eq!(
            store.decided(&TaskId::new("a")),
            Decided::from([(1, false)])
        );
        assert!(
            matches!(
                &warnings[..],
                [LoadWarning::JournalTornTail { bytes: 15, .. }]
            ),
            "{warnings:?}"
        );
        // A second crash after this append must not lose it.
        store
            .decide(&TaskId::new("c"), &[change(7, false)])
            .unwrap();
    }
    let (store, warnings) = StateStore::open(&path).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        store.decided(&TaskId::new("c")),
        Decided::from([(7, false)])
    );
}

#[test]
fn a_second_writer_is_refused_while_readers_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let (mut first, _) = StateStore::open(&path).unwrap();
    first
        .decide(&TaskId::new("a"), &[change(1, false)])
        .unwrap();
    let err = StateStore::open(&path).unwrap_err();
    assert!(matches!(err, StateError::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains("another instance"), "{err}");
    let reader = StateStore::read_only(&path).unwrap();
    assert_eq!(
        reader.decided(&TaskId::new("a")),
        Decided::from([(1, false)])
    );
    drop(first);
    assert!(StateStore::open(&path).is_ok());
}

#[test]
fn prune_forgets_unlisted_tasks() {
    let mut store = StateStore::in_memory();
    store
        .decide(&TaskId::new("a"), &[change(1, false)])
        .unwrap();
    store
        .decide(&TaskId::new("b"), &[change(1, false)])
        .unwrap();
    let now = chrono::Utc::now();
    assert_eq!(store.prune(&HashSet::from(["a"]), now), 0);
    assert_eq!(store.task_count(), 2);
    let later = now + PRUNE_GRACE;
    assert_eq!(store.prune(&HashSet::from(["a"]), later), 1);
    assert_eq!(store.task_count(), 1);
}

#[test]
fn refusal_is_reported_once_and_counted_once() {
    let mut store = StateStore::in_memory();
    assert!(store.mark_refused(&TaskId::new("a")));
    assert!(!store.mark_refused(&TaskId::new("a")));
    assert_eq!(store.stats().tasks_refused, 1);
}

#[test]
fn incidents_open_once_and_close_together() {
    let mut store = StateStore::in_memory();
    assert!(store.open_incident("sign_in_refused", "t0"));
    assert!(!store.open_incident("sign_in_refused", "t1"));
    assert_eq!(store.close_incidents(), vec!["sign_in_refused".to_owned()]);
    assert!(store.close_incidents().is_empty());
}
