//! Tests of the daemon: the re-check schedule, the restart-needed diff, the wedge detection.

use super::*;
use crate::config::Config;
use crate::rules::RuleSet;

fn ids(names: &[&str]) -> BTreeSet<TaskId> {
    names.iter().map(|n| TaskId::new(*n)).collect()
}

/// Simulates the worker's timing with a clock of our own: scheduled ticks every
/// `schedule`, re-checks whenever the schedule says one is due, for `span`; returns how
/// many lists the daemon would make.
fn lists_made(schedule: Duration, recheck: Duration, span: Duration) -> usize {
    let start = tokio::time::Instant::now();
    let waiting = ids(&["magnet"]);
    let mut rechecks = RecheckSchedule::default();
    let mut next_scheduled = start;
    let mut lists = 0;
    loop {
        let due = rechecks.next_due();
        let (now, scope) = match due {
            Some(d) if d < next_scheduled => (d, rechecks.due(d)),
            _ => {
                let now = next_scheduled;
                next_scheduled += schedule;
                (now, BTreeSet::new())
            }
        };
        if now > start + span {
            return lists;
        }
        lists += 1;
        rechecks.after_tick(now, &waiting, &scope, recheck, schedule);
    }
}

#[test]
fn a_dead_magnet_costs_few_extra_lists() {
    // Schedule every 10 s, re-check after 1 s, one magnet that never resolves, 40 s:
    // 5 scheduled lists plus re-checks at 1, 3, 7 and 15 s.
    let lists = lists_made(
        Duration::from_secs(10),
        Duration::from_secs(1),
        Duration::from_secs(40),
    );
    assert!(lists <= 14, "{lists} lists in 40 s");
    assert_eq!(lists, 9);
}

#[test]
fn a_task_whose_files_appear_starts_its_backoff_over() {
    let now = tokio::time::Instant::now();
    let mut rechecks = RecheckSchedule::default();
    let second = Duration::from_secs(1);
    let interval = Duration::from_secs(60);
    rechecks.after_tick(now, &ids(&["a"]), &BTreeSet::new(), second, interval);
    assert_eq!(rechecks.next_due(), Some(now + second));
    rechecks.after_tick(now + second, &ids(&["a"]), &ids(&["a"]), second, interval);
    assert_eq!(rechecks.next_due(), Some(now + second * 3));
    // Its files appear: forgotten.
    rechecks.after_tick(
        now + second * 3,
        &BTreeSet::new(),
        &ids(&["a"]),
        second,
        interval,
    );
    assert_eq!(rechecks.next_due(), None);
    // It waits again later: the delay starts over.
    rechecks.after_tick(
        now + second * 10,
        &ids(&["a"]),
        &BTreeSet::new(),
        second,
        interval,
    );
    assert_eq!(rechecks.next_due(), Some(now + second * 11));
}

fn config(text: &str) -> Config {
    let none = |_: &str| None;
    crate::config::parse(text, std::path::Path::new("/etc/cra/rules.toml"), &none).unwrap()
}

#[test]
fn every_setting_that_needs_a_restart_is_named_until_restarted() {
    let running = config(
        "[server]\nurl = \"https://a.example\"\nemail = \"bot@example.com\"\n[[rule]]\nname = \"j\"\naction = \"skip\"\nglob = \"*.exe\"\n",
    );
    let edited = config(
        "[server]\nurl = \"https://b.example\"\nemail = \"bot@example.com\"\ntimeout = \"10s\"\n[daemon]\nstate_file = \"/srv/state.json\"\n[[rule]]\nname = \"j\"\naction = \"skip\"\nglob = [\"*.exe\", \"*.url\"]\n",
    );
    assert_eq!(
        restart_needed(&running, &edited),
        vec!["server.url", "server.timeout", "daemon.state_file"]
    );
    let with_account = config(
        "[server]\nurl = \"https://a.example\"\nemail = \"bot@example.com\"\n[[account]]\nname = \"bob\"\nurl = \"https://b.example\"\nemail = \"b@example.com\"\n[[rule]]\nname = \"j\"\naction = \"skip\"\nglob = \"*.exe\"\n",
    );
    assert_eq!(
        restart_needed(&running, &with_account),
        vec!["the accounts ([server] and [[account]] tables)"]
    );
    // A second reload that changes only rules still names them: the comparison is with
    // what the process runs with, not with the previous reload.
    let rules_only = config(
        "[server]\nurl = \"https://b.example\"\nemail = \"bot@example.com\"\ntimeout = \"10s\"\n[daemon]\nstate_file = \"/srv/state.json\"\n[[rule]]\nname = \"j\"\naction = \"skip\"\nglob = \"*.exe\"\n",
    );
    assert_eq!(restart_needed(&running, &rules_only).len(), 3);
    assert!(restart_needed(&running, &running).is_empty());
}

#[test]
fn a_step_may_take_as_long_as_its_timeouts_and_retries_allow() {
    let api = url::Url::parse("http://127.0.0.1:9/api/v4/").unwrap();
    let mut options = crate::cloudreve::ClientOptions::new(api, "a@b.c".into(), "pw".into());
    options.timeout = Duration::from_secs(30);
    options.retries = 3;
    options.retry_max_delay = Duration::from_secs(10);
    let slow = Client::new(options.clone()).unwrap().step_deadline();
    // Every call of a step may use all its attempts and back-off: far beyond 600 s.
    assert!(
        slow >= Duration::from_secs(5 * (4 * 30 + 3 * 10)),
        "{slow:?}"
    );
    options.timeout = Duration::from_secs(2);
    options.retries = 0;
    let fast = Client::new(options).unwrap().step_deadline();
    assert!(fast < Duration::from_secs(60), "{fast:?}");
}

#[test]
fn a_tick_is_wedged_only_after_a_step_without_progress() {
    let api = url::Url::parse("http://127.0.0.1:9/api/v4/").unwrap();
    let mut options = crate::cloudreve::ClientOptions::new(api, "a@b.c".into(), "pw".into());
    options.timeout = Duration::from_secs(2);
    options.retries = 0;
    let daemon = Daemon::new(
        Client::new(options).unwrap(),
        Settings {
            rules: Arc::new(RuleSet::new(Vec::new(), crate::rules::OnAllJunk::Leave).unwrap()),
            dry_run: false,
            metadata_recheck: Duration::ZERO,
        },
        StateStore::in_memory(),
        None,
    );
    let deadline = daemon.client().step_deadline();
    // No tick running: never wedged.
    assert!(!daemon.is_wedged());
    // A long tick that made progress a moment ago (after each of many slow PATCHes).
    daemon.mark_progress(true);
    assert!(!daemon.is_wedged());
    // The same tick, silent for longer than any step can take.
    let Some(long_ago) = Instant::now().checked_sub(deadline + Duration::from_secs(1)) else {
        return;
    };
    *daemon.progress.lock().unwrap() = Some(long_ago);
    assert!(daemon.is_wedged());
    daemon.mark_progress(false);
    assert!(!daemon.is_wedged());
}

#[test]
fn a_recheck_leaves_the_other_waiting_tasks_as_they_were() {
    let now = tokio::time::Instant::now();
    let second = Duration::from_secs(1);
    let interval = Duration::from_secs(60);
    let mut rechecks = RecheckSchedule::default();
    rechecks.after_tick(now, &ids(&["a"]), &BTreeSet::new(), second, interval);
    rechecks.after_tick(
        now + second / 2,
        &ids(&["a", "b"]),
        &BTreeSet::new(),
        second,
        interval,
    );
    // The re-check of a (its files appeared) says nothing of b, still due at 1.5 s.
    rechecks.after_tick(
        now + second,
        &BTreeSet::new(),
        &ids(&["a"]),
        second,
        interval,
    );
    assert_eq!(rechecks.next_due(), Some(now + second + second / 2));
    assert_eq!(rechecks.due(now + second * 2), ids(&["b"]));
    // A re-check whose list failed learned nothing: b still waits, twice as long.
    rechecks.after_tick(
        now + second * 2,
        &ids(&["b"]),
        &ids(&["b"]),
        second,
        interval,
    );
    assert_eq!(rechecks.next_due(), Some(now + second * 4));
}

#[test]
fn zero_recheck_disables_rechecks() {
    let now = tokio::time::Instant::now();
    let mut rechecks = RecheckSchedule::default();
    rechecks.after_tick(
        now,
        &ids(&["a"]),
        &BTreeSet::new(),
        Duration::ZERO,
        Duration::from_secs(10),
    );
    assert_eq!(rechecks.next_due(), None);
}
