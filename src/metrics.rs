//! The Prometheus endpoint (`[metrics] listen`): a [`TickSink`] that counts what every tick
//! did, a hook that counts the requests to Cloudreve, and an HTTP server for `/metrics` in the
//! Prometheus text format (version 0.0.4), built with `prometheus-client`; the server is bounded
//! (a connection cap, a header-read timeout: see `server.rs`).
//!
//! Every series carries the `account` label, except the notifiers' (a notifier serves every
//! account; they carry `notifier`); rule names, route templates and result labels are the only
//! other label values, so the series are bounded and no file or task name appears.
//! Counters are named without `_total`: `prometheus-client` appends it.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::cloudreve::RequestObserver;

mod server;
use crate::notify::DeliveryStats;
use crate::outcome::TaskResult;
use crate::report::TickReport;
use crate::sink::TickSink;
pub use server::{HEADER_READ_TIMEOUT, MAX_CONNECTIONS, connection_cap, serve};

/// The prefix of every metric name.
pub const PREFIX: &str = "cloudreve_autoselect";

/// Every task result label, so the `tasks` gauge drops to zero for states no task is in.
const TASK_STATES: [&str; 9] = [
    "changed",
    "no_change",
    "refused",
    "waiting_for_metadata",
    "ineligible",
    "finished",
    "retry",
    "uncertain",
    "state_not_writable",
];

/// Tick duration buckets, in seconds: a quiet tick takes milliseconds, a first tick at scale
/// several seconds.
const DURATION_BUCKETS: [f64; 13] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AccountLabels {
    account: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    account: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabels {
    account: String,
    rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    account: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    account: String,
    endpoint: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    account: String,
    version: String,
}

type DurationFamily = Family<AccountLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// The metrics of one process.
pub struct Metrics {
    registry: Registry,
    ticks: Family<OutcomeLabels, Counter>,
    tick_duration: DurationFamily,
    files_deselected: Family<RuleLabels, Counter>,
    bytes_deselected: Family<RuleLabels, Counter>,
    patches: Family<OutcomeLabels, Counter>,
    api_requests: Family<RequestLabels, Counter>,
    tasks: Family<StateLabels, Gauge>,
    last_success: Family<AccountLabels, Gauge<f64, AtomicU64>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// The notifiers' counters, read at every scrape. A notifier serves every account, so these
/// series carry the notifier's name and no account.
#[derive(Debug)]
struct NotifierCollector {
    notifiers: Vec<(String, Arc<DeliveryStats>)>,
}

impl Collector for NotifierCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        {
            let mut metric = encoder.encode_descriptor(
                "notifications",
                "Notifications by notifier and outcome (sent; failed after every retry).",
                None,
                MetricType::Counter,
            )?;
            for (name, stats) in &self.notifiers {
                for (outcome, value) in [("sent", stats.sent()), ("failed", stats.failed())] {
                    let labels = [("notifier", name.as_str()), ("outcome", outcome)];
                    ConstCounter::new(value).encode(metric.encode_family(&labels)?)?;
                }
            }
        }
        {
            let mut metric = encoder.encode_descriptor(
                "notifications_dropped",
                "Notifications dropped because the notifier's queue was full.",
                None,
                MetricType::Counter,
            )?;
            for (name, stats) in &self.notifiers {
                let labels = [("notifier", name.as_str())];
                ConstCounter::new(stats.dropped()).encode(metric.encode_family(&labels)?)?;
            }
        }
        let mut metric = encoder.encode_descriptor(
            "notifications_queued",
            "Notifications waiting in the notifier's queue.",
            None,
            MetricType::Gauge,
        )?;
        for (name, stats) in &self.notifiers {
            let labels = [("notifier", name.as_str())];
            let queued = i64::try_from(stats.queued()).unwrap_or(i64::MAX);
            ConstGauge::new(queued).encode(metric.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

impl Metrics {
    /// The metrics of these accounts, with the notifiers' counters.
    pub fn new(accounts: &[&str], notifiers: Vec<(String, Arc<DeliveryStats>)>) -> Self {
        let mut registry = Registry::with_prefix(PREFIX);
        let ticks = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "ticks",
            "Ticks by outcome: ok, degraded (a task failed or the state could not be written), error (sign-in or listing failed)",
            ticks.clone(),
        );
        let tick_duration: DurationFamily = Family::new_with_constructor(duration_histogram);
        registry.register(
            "tick_duration_seconds",
            "How long ticks took",
            tick_duration.clone(),
        );
        let files_deselected = Family::<RuleLabels, Counter>::default();
        registry.register(
            "files_deselected",
            "Files deselected, by the rule that decided them (dry runs not counted)",
            files_deselected.clone(),
        );
        let bytes_deselected = Family::<RuleLabels, Counter>::default();
        registry.register(
            "bytes_deselected",
            "Bytes of the files deselected, by rule (dry runs not counted)",
            bytes_deselected.clone(),
        );
        let patches = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "patches",
            "Select-files PATCHes by outcome: applied, finished (the task left the monitor phase first), not_sent (tried again next tick), uncertain",
            patches.clone(),
        );
        let api_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "api_requests",
            "HTTP requests to Cloudreve by route and outcome (ok or the failure kind), retries included",
            api_requests.clone(),
        );
        let tasks = Family::<StateLabels, Gauge>::default();
        registry.register(
            "tasks",
            "Tasks in the last tick that looked at every listed task, by what happened to them",
            tasks.clone(),
        );
        let last_success = Family::<AccountLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "last_success_timestamp_seconds",
            "When the last tick that handled every task ended (Unix time)",
            last_success.clone(),
        );
        let build_info = Family::<BuildLabels, Gauge>::default();
        registry.register(
            "build_info",
            "The running version (always 1)",
            build_info.clone(),
        );
        for account in accounts {
            build_info
                .get_or_create(&BuildLabels {
                    account: (*account).to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                })
                .set(1);
        }
        if !notifiers.is_empty() {
            registry.register_collector(Box::new(NotifierCollector { notifiers }));
        }
        Self {
            registry,
            ticks,
            tick_duration,
            files_deselected,
            bytes_deselected,
            patches,
            api_requests,
            tasks,
            last_success,
        }
    }

    /// The hook for `ClientOptions::on_request` that counts `account`'s requests.
    pub fn request_observer(self: &Arc<Self>, account: &str) -> RequestObserver {
        let metrics = Arc::clone(self);
        let account = account.to_owned();
        Arc::new(move |endpoint, outcome| {
            metrics
                .api_requests
                .get_or_create(&RequestLabels {
                    account: account.clone(),
                    endpoint: endpoint.to_owned(),
                    outcome: outcome.to_owned(),
                })
                .inc();
        })
    }

    /// Everything, in the Prometheus text format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

fn count(counter: &Counter, n: u64) {
    if n > 0 {
        counter.inc_by(n);
    }
}

impl TickSink for Metrics {
    fn observe(&self, account: &str, report: &TickReport) {
        let account = account.to_owned();
        let outcome = if report.error.is_some() {
            "error"
        } else if report.succeeded() {
            "ok"
        } else {
            "degraded"
        };
        self.ticks
            .get_or_create(&OutcomeLabels {
                account: account.clone(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.tick_duration
            .get_or_create(&AccountLabels {
                account: account.clone(),
            })
            .observe(report.duration.as_secs_f64());
        if !report.dry_run {
            for task in &report.tasks {
                let patch = match &task.result {
                    TaskResult::Changed { files } => {
                        for file in files.iter().filter(|f| !f.download) {
                            let labels = RuleLabels {
                                account: account.clone(),
                                rule: file.rule.clone(),
                            };
                            count(&self.files_deselected.get_or_create(&labels), 1);
                            count(&self.bytes_deselected.get_or_create(&labels), file.size);
                        }
                        "applied"
                    }
                    TaskResult::Finished => "finished",
                    TaskResult::Retry { .. } => "not_sent",
                    TaskResult::Uncertain { .. } => "uncertain",
                    TaskResult::GaveUp { .. } => "gave_up",
                    _ => continue,
                };
                self.patches
                    .get_or_create(&OutcomeLabels {
                        account: account.clone(),
                        outcome: patch.to_owned(),
                    })
                    .inc();
            }
        }
        // Only a tick that saw every listed task says how many are in each state (a metadata
        // re-check looks at a few).
        if report.error.is_none() && !report.interrupted && report.tasks.len() == report.seen {
            for state in TASK_STATES {
                let n = report
                    .tasks
                    .iter()
                    .filter(|t| t.result.label() == state)
                    .count();
                self.tasks
                    .get_or_create(&StateLabels {
                        account: account.clone(),
                        state: state.to_owned(),
                    })
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
        if report.succeeded() {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            self.last_success
                .get_or_create(&AccountLabels { account })
                .set(now);
        }
    }
}
