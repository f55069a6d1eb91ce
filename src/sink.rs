//! Consumers of the outcome list: every finished tick's [`TickReport`] is handed to each
//! [`TickSink`] (the notifier, the metrics), so none of them reaches into the tick's code.
//!
//! A sink must never block or fail the tick: `observe` runs on the tick's task, so it only
//! records or enqueues; anything slow (HTTP delivery) happens on the sink's own task. `flush`
//! runs once at shutdown, bounded by a deadline.

use std::future::Future;
use std::pin::Pin;

use crate::report::TickReport;

/// The account name of the `[server]` table.
pub use crate::config::DEFAULT_ACCOUNT;

/// A boxed future, as `flush` returns (a trait object cannot have an `async fn`).
pub type Flush<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Something that consumes the outcome list of every tick.
pub trait TickSink: Send + Sync {
    /// Takes in one finished tick of `account` (several daemons, one per account, may share a
    /// sink). Must return at once and never fail.
    fn observe(&self, account: &str, report: &TickReport);

    /// Finishes what can be finished before `deadline` (shutdown). The default does nothing.
    fn flush(&self, deadline: tokio::time::Instant) -> Flush<'_> {
        let _ = deadline;
        Box::pin(async {})
    }
}
