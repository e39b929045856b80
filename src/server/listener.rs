//! The HTTP/1.1 accept loop, built on hyper directly so that every limit that protects the
//! server from its clients is set in one place:
//!
//! - at most `server.max_connections` connections at once; further clients wait in the
//!   kernel's accept queue until one closes;
//! - `server.header_timeout` to send a request's head, which is also how long a kept-alive
//!   connection may sit idle: a slowloris client, or a flood of idle connections, is dropped
//!   after it, so it cannot hold the connection slots;
//! - `server.max_header_kib` for the request head (431 past it) and at most 100 header fields;
//! - `server.write_timeout` of no progress writing a response (a client that stops reading);
//! - `server.request_timeout` for answering a request (in the router, [`super::router`]).
//!
//! Shutting down stops accepting at once, lets the requests in flight finish (idle
//! connections close), and gives up on the rest after `server.shutdown_timeout`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::config::ServerConfig;

/// How long to wait before accepting again after an accept error that is not a client's
/// (out of file descriptors, say), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `shutdown` completes, then drains connections. Returns
/// what `shutdown` gave.
pub(super) async fn run<T>(
    listener: TcpListener,
    app: Router,
    limits: &ServerConfig,
    shutdown: impl Future<Output = T>,
) -> Option<T> {
    let mut http = hyper::server::conn::http1::Builder::new();
    // At most 100 header fields (431 past it): hyper's own default, which it parses into
    // arrays on the stack; setting the same number explicitly would make it build them on
    // the heap for every request.
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits.max_header_bytes);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut stopped = None;
    loop {
        // Wait for a free slot before accepting, so clients past the limit queue in the
        // kernel instead of being accepted and starved.
        let slot = tokio::select! {
            given = &mut shutdown => {
                stopped = Some(given);
                break;
            }
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            given = &mut shutdown => {
                stopped = Some(given);
                break;
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    if !is_connection_error(&e) {
                        tracing::error!("accepting a connection failed: {e}");
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    }
                    continue;
                }
            },
        };
        // Small responses (304s) go out at once rather than waiting for more to send.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_write_timeout(Some(limits.write_timeout));
        let io = TokioIo::new(Box::pin(stream));
        let connection = http.serve_connection(io, TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                // Timeouts, resets and malformed requests: the client's problem, not ours.
                tracing::debug!("connection ended: {e}");
            }
            drop(slot);
        });
    }
    // Stop accepting: new clients are refused from here on.
    drop(listener);
    let open = graceful.count();
    tokio::select! {
        () = graceful.shutdown() => {
            tracing::info!(connections = open, "every connection finished");
        }
        () = tokio::time::sleep(limits.shutdown_timeout) => {
            tracing::warn!(
                "connections still open after {:?}; closing them",
                limits.shutdown_timeout
            );
        }
    }
    stopped
}

/// Errors from `accept` that concern one client's connection only, to be skipped.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
