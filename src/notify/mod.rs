//! The notifier: a [`TickSink`] that tells people what a tick did, through ntfy, Gotify, the
//! Apprise API or a webhook (`[[notify]]` tables).
//!
//! One message per notifier per tick, built from the tick's outcome list ([`message`]) in the
//! notifier's wire format ([`format`](mod@format)). Delivery never delays or fails a tick: `observe` only
//! puts the message into the notifier's bounded queue (a full queue drops it and counts it), and
//! each notifier has its own task that sends, retrying transient failures with exponential
//! back-off. At shutdown, [`Notifiers`] sends what is queued within the grace period, one try
//! each. Errors are logged with the notifier's name and its URL's origin only, never a token.

pub mod format;
pub mod message;
pub mod transport;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{EnvLookup, NotifierConfig, NotifySecret};
use crate::report::TickReport;
use crate::sink::{Flush, TickSink};
use message::Digest;
pub use transport::{DeliveryError, Timeouts, Transport, TransportBuildError};

/// A notifier could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum NotifierSetupError {
    /// Its secret file could not be read.
    #[error("could not read the secret of notifier {name} from {path}: {source}")]
    Read {
        /// The notifier.
        name: String,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It needs a secret and has none.
    #[error(
        "notifier {name} ({kind}) needs {what}: set token_file, or provide $CREDENTIALS_DIRECTORY/{name}"
    )]
    MissingSecret {
        /// The notifier.
        name: String,
        /// Its kind.
        kind: &'static str,
        /// What the secret is.
        what: &'static str,
    },
    /// Its secret file is empty.
    #[error("the secret of notifier {name} in {path} is empty")]
    Empty {
        /// The notifier.
        name: String,
        /// The file.
        path: PathBuf,
    },
    /// The HTTP client could not be built.
    #[error(transparent)]
    Transport(#[from] TransportBuildError),
}

/// A notifier ready to send: its config, its secret and the HTTP client.
pub struct Target {
    config: NotifierConfig,
    secret: Option<SecretString>,
    transport: Transport,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.config.name)
            .field("kind", &self.config.kind)
            .field("origin", &self.origin())
            .field("secret", &self.secret.as_ref().map(|_| "[REDACTED]"))
            .finish_non_exhaustive()
    }
}

impl Target {
    /// The notifier's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Its kind.
    pub fn kind(&self) -> &'static str {
        self.config.kind.as_str()
    }

    /// Scheme, host and port of its URL: what logs show (the path may hold a key or topic).
    pub fn origin(&self) -> String {
        self.config.target.post_url().origin().ascii_serialization()
    }

    /// Sends `digest` once.
    pub async fn deliver(&self, digest: &Digest) -> Result<(), DeliveryError> {
        let request = format::request(&self.config, self.secret.as_ref(), digest);
        self.transport.send(&request).await
    }
}

fn read_secret(name: &str, path: PathBuf) -> Result<SecretString, NotifierSetupError> {
    let text = std::fs::read_to_string(&path).map_err(|source| NotifierSetupError::Read {
        name: name.to_owned(),
        path: path.clone(),
        source,
    })?;
    let secret = text.trim();
    if secret.is_empty() {
        return Err(NotifierSetupError::Empty {
            name: name.to_owned(),
            path,
        });
    }
    Ok(SecretString::from(secret.to_owned()))
}

/// Resolves every notifier's secret and builds the shared HTTP client.
pub fn targets(
    configs: &[NotifierConfig],
    env: EnvLookup<'_>,
    timeouts: Timeouts,
) -> Result<Vec<Target>, NotifierSetupError> {
    if configs.is_empty() {
        return Ok(Vec::new());
    }
    let transport = Transport::new(timeouts)?;
    configs
        .iter()
        .map(|config| {
            let secret = match &config.secret {
                NotifySecret::Inline(secret) => Some(secret.clone()),
                NotifySecret::File(path) => Some(read_secret(&config.name, path.clone())?),
                NotifySecret::Credential => env("CREDENTIALS_DIRECTORY")
                    .filter(|dir| !dir.is_empty())
                    .map(|dir| PathBuf::from(dir).join(&config.name))
                    .filter(|path| path.exists())
                    .map(|path| read_secret(&config.name, path))
                    .transpose()?,
            };
            if secret.is_none() && config.needs_secret() {
                return Err(NotifierSetupError::MissingSecret {
                    name: config.name.clone(),
                    kind: config.kind.as_str(),
                    what: match config.kind {
                        crate::config::NotifyKind::Apprise => {
                            "the Apprise URLs (stateless /notify)"
                        }
                        _ => "an application token",
                    },
                });
            }
            Ok(Target {
                config: config.clone(),
                secret,
                transport: transport.clone(),
            })
        })
        .collect()
}

/// Sends the test message to every target, one try each; each result in order.
pub async fn test_all(targets: &[Target], account: &str) -> Vec<Result<(), DeliveryError>> {
    let digest = Digest::test(account);
    let mut results = Vec::with_capacity(targets.len());
    for target in targets {
        results.push(target.deliver(&digest).await);
    }
    results
}

/// How delivery behaves.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryOptions {
    /// Messages a notifier may hold while it is sending; more are dropped and counted.
    pub queue: usize,
    /// Tries after the first, for transient failures.
    pub retries: usize,
    /// The first back-off delay; later ones double, with jitter.
    pub min_delay: Duration,
    /// The longest back-off delay.
    pub max_delay: Duration,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            queue: 32,
            retries: 4,
            min_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
        }
    }
}

/// What happened to one notifier's messages, for the metrics and tests.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    attempts: AtomicU64,
    queued: AtomicU64,
}

impl DeliveryStats {
    /// Messages delivered.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
    /// Messages given up on after their last try.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
    /// Messages dropped because the queue was full (or the notifier was shutting down).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
    /// Requests made, retries included.
    pub fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::Relaxed)
    }
    /// Messages waiting in the queue (not the one being sent).
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }
}

struct Channel {
    target: Arc<Target>,
    sender: mpsc::Sender<Digest>,
    stats: Arc<DeliveryStats>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

/// Every configured notifier, each with its queue and its sending task: the sink.
pub struct Notifiers {
    channels: Vec<Channel>,
    closing: CancellationToken,
}

impl std::fmt::Debug for Notifiers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.channels.iter().map(|c| &c.target))
            .finish()
    }
}

impl Notifiers {
    /// Starts one sending task per target. Needs a tokio runtime.
    pub fn start(targets: Vec<Target>, options: DeliveryOptions) -> Self {
        let closing = CancellationToken::new();
        let channels = targets
            .into_iter()
            .map(|target| {
                let target = Arc::new(target);
                let (sender, receiver) = mpsc::channel(options.queue.max(1));
                let stats = Arc::new(DeliveryStats::default());
                let worker = tokio::spawn(deliver_loop(
                    Arc::clone(&target),
                    receiver,
                    Arc::clone(&stats),
                    closing.clone(),
                    options,
                ));
                Channel {
                    target,
                    sender,
                    stats,
                    worker: Mutex::new(Some(worker)),
                }
            })
            .collect();
        Self { channels, closing }
    }

    /// Each notifier's name and counters.
    pub fn stats(&self) -> Vec<(String, Arc<DeliveryStats>)> {
        self.channels
            .iter()
            .map(|c| (c.target.name().to_owned(), Arc::clone(&c.stats)))
            .collect()
    }

    /// Whether there are no notifiers.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }
}

impl TickSink for Notifiers {
    fn observe(&self, account: &str, report: &TickReport) {
        // A dry run changes nothing and tells no one.
        if report.dry_run {
            return;
        }
        for channel in &self.channels {
            let digest =
                Digest::from_report(account, report, &channel.target.config.events, |_, _| true);
            let Some(digest) = digest else { continue };
            // Counted before sending, so the worker can never take it below zero.
            channel.stats.queued.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = channel.sender.try_send(digest) {
                channel.stats.queued.fetch_sub(1, Ordering::Relaxed);
                channel.stats.dropped.fetch_add(1, Ordering::Relaxed);
                let reason = match e {
                    mpsc::error::TrySendError::Full(_) => "its queue is full",
                    mpsc::error::TrySendError::Closed(_) => "it is shutting down",
                };
                tracing::warn!(
                    notifier = channel.target.name(),
                    reason,
                    dropped = channel.stats.dropped(),
                    "notification dropped"
                );
            }
        }
    }

    fn flush(&self, deadline: tokio::time::Instant) -> Flush<'_> {
        Box::pin(async move {
            self.closing.cancel();
            for channel in &self.channels {
                let worker = channel
                    .worker
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                let Some(mut worker) = worker else { continue };
                if tokio::time::timeout_at(deadline, &mut worker)
                    .await
                    .is_err()
                {
                    worker.abort();
                    tracing::warn!(
                        notifier = channel.target.name(),
                        undelivered = channel.stats.queued() + 1,
                        "shutdown: notifications not delivered within the grace period"
                    );
                }
            }
        })
    }
}

/// One notifier's sending task: takes messages in order, sends each with retries; once
/// `closing` is cancelled, sends what is queued with one try each and ends.
async fn deliver_loop(
    target: Arc<Target>,
    mut receiver: mpsc::Receiver<Digest>,
    stats: Arc<DeliveryStats>,
    closing: CancellationToken,
    options: DeliveryOptions,
) {
    let mut closed = false;
    loop {
        let next = if closed {
            receiver.recv().await
        } else {
            tokio::select! {
                next = receiver.recv() => next,
                () = closing.cancelled() => {
                    receiver.close();
                    closed = true;
                    continue;
                }
            }
        };
        let Some(digest) = next else { break };
        stats.queued.fetch_sub(1, Ordering::Relaxed);
        deliver_with_retries(&target, &digest, &stats, &closing, options).await;
    }
}

async fn deliver_with_retries(
    target: &Target,
    digest: &Digest,
    stats: &DeliveryStats,
    closing: &CancellationToken,
    options: DeliveryOptions,
) {
    use backon::BackoffBuilder as _;
    let mut delays = backon::ExponentialBuilder::default()
        .with_min_delay(options.min_delay)
        .with_max_delay(options.max_delay)
        .with_max_times(options.retries)
        .with_jitter()
        .build();
    loop {
        stats.attempts.fetch_add(1, Ordering::Relaxed);
        let error = match target.deliver(digest).await {
            Ok(()) => {
                stats.sent.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(notifier = target.name(), "notification sent");
                return;
            }
            Err(e) => e,
        };
        let delay = if error.is_transient() && !closing.is_cancelled() {
            delays.next()
        } else {
            None
        };
        let Some(delay) = delay else {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(notifier = target.name(), kind = target.kind(), origin = %target.origin(), error = %error, "notification not delivered; giving up on it");
            return;
        };
        tracing::debug!(notifier = target.name(), error = %error, retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), "notification failed; retrying");
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            // Shutdown: one last try now rather than waiting.
            () = closing.cancelled() => {}
        }
    }
}
