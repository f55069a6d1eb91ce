//! The `/metrics` HTTP server, bounded so that its port cannot starve the daemon: 1,074 idle
//! connections once took every file descriptor under the default limit of 1,024, and every
//! state, journal and heartbeat write failed.
//!
//! - At most [`MAX_CONNECTIONS`] connections are served at once, and never more than a quarter
//!   of the process's descriptor limit (`RLIMIT_NOFILE`), so three quarters stay in reserve for
//!   the state, its journal and lock, the heartbeat, list copies and the HTTP clients. Further
//!   connections wait in the kernel's accept queue, holding none of our descriptors, until a
//!   slot frees.
//! - A connection must send a complete request head within [`HEADER_READ_TIMEOUT`], and an
//!   idle keep-alive connection is closed after the same time (hyper's header-read timer also
//!   runs while it waits for the next request): a slow or silent client frees its slot.
//! - A request head is at most 16 KiB.
//!
//! hyper serves each connection; axum's `serve` offers neither a cap nor a timeout.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, Request, Response, StatusCode, header};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Metrics;

/// The most connections served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a client may take to send a request head, and how long an idle keep-alive
/// connection stays open.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request head read.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// The connection cap under a descriptor limit of `soft`: [`MAX_CONNECTIONS`], but at most a
/// quarter of the limit (at least one).
pub fn connection_cap(soft: u64) -> usize {
    usize::try_from(soft / 4)
        .unwrap_or(usize::MAX)
        .clamp(1, MAX_CONNECTIONS)
}

/// The connection cap for this process's own descriptor limit.
fn own_connection_cap() -> usize {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_or(MAX_CONNECTIONS, |(soft, _)| connection_cap(soft))
}

fn respond<B>(metrics: &Metrics, request: &Request<B>) -> Response<String> {
    let status_only = |status: StatusCode, text: &str| {
        let mut response = Response::new(text.to_owned());
        *response.status_mut() = status;
        response
    };
    if request.uri().path() != "/metrics" {
        return status_only(StatusCode::NOT_FOUND, "not found\n");
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return status_only(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
    }
    match metrics.encode() {
        Ok(text) => {
            let mut response = Response::new(text);
            if let Ok(value) = prometheus_client::encoding::prometheus_text::CONTENT_TYPE.parse() {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            response
        }
        Err(_) => status_only(
            StatusCode::INTERNAL_SERVER_ERROR,
            "could not encode the metrics\n",
        ),
    }
}

/// Serves `/metrics` on `listener` until `shutdown` is cancelled, then lets the requests in
/// flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let cap = own_connection_cap();
    tracing::debug!(connections = cap, "metrics server connection cap");
    let slots = Arc::new(Semaphore::new(cap));
    let connections = TaskTracker::new();
    let mut warned_accept = false;
    loop {
        let slot = tokio::select! {
            () = shutdown.cancelled() => break,
            slot = Arc::clone(&slots).acquire_owned() => slot,
        };
        let Ok(slot) = slot else { break };
        let stream = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match stream {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors (EMFILE, ENFILE) or a connection gone before it was
                // accepted: wait a little rather than spin.
                if !warned_accept {
                    tracing::warn!(error = %e, "the metrics endpoint could not accept a connection");
                    warned_accept = true;
                }
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
        };
        let metrics = Arc::clone(&metrics);
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |request| {
                let response = respond(&metrics, &request);
                async move { Ok::<_, Infallible>(response) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .max_buf_size(MAX_HEAD_BYTES)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    connections.close();
    connections.wait().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_keeps_three_quarters_of_the_descriptors_in_reserve() {
        assert_eq!(connection_cap(1024), 64);
        assert_eq!(connection_cap(524_288), 64);
        assert_eq!(connection_cap(100), 25);
        assert_eq!(connection_cap(2), 1);
    }
}
