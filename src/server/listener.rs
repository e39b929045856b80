//! The HTTP/1.1 accept loop, built on hyper directly so that every limit that protects the
//! server from its clients is set in one place:
//!
//! - at most `server.max_connections` connections at once; further clients wait in the
//!   kernel's accept queue until one closes; the soft open-file limit is raised to the hard
//!   one at start, and `max_connections` lowered to what it allows ([`open_files`]);
//! - at most `server.max_connections_per_ip` of them from one client address: one client
//!   cannot take every slot;
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
use std::net::IpAddr;
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
    let per_ip = PerAddress::new(limits.max_connections_per_ip);
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
        let (stream, admitted) = tokio::select! {
            given = &mut shutdown => {
                stopped = Some(given);
                break;
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match per_ip.admit(peer.ip()) {
                    Some(admitted) => (stream, admitted),
                    None => {
                        // Over its address's share: closed at once, the slot given back.
                        tracing::debug!(peer = %peer.ip(), "connection refused: too many from this address");
                        continue;
                    }
                },
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
            drop(admitted);
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

/// Files paperboy keeps open beside its connections: the store's and the index's files, the
/// fetches' sockets, the log.
const OTHER_FILES: u64 = 256;

/// Raises the soft open-file limit to the hard limit, logging both, and returns how many
/// connections the limit leaves room for (`None` when it cannot be read).
pub(super) fn open_files() -> Option<usize> {
    let (soft, hard) = rlimit::Resource::NOFILE.get().ok()?;
    let now = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => now,
        Err(e) => {
            tracing::warn!("cannot raise the open-file limit: {e}");
            soft
        }
    };
    tracing::info!(
        soft,
        hard,
        now,
        "open-file limit (soft raised to the hard limit)"
    );
    Some(usize::try_from(now.saturating_sub(OTHER_FILES)).unwrap_or(usize::MAX))
}

/// Open connections per client address, for `server.max_connections_per_ip`.
struct PerAddress {
    limit: usize,
    open: Arc<std::sync::Mutex<std::collections::HashMap<IpAddr, usize>>>,
}

/// An admitted connection: its address's count goes down when it is dropped.
struct Admitted {
    ip: IpAddr,
    open: Option<Arc<std::sync::Mutex<std::collections::HashMap<IpAddr, usize>>>>,
}

impl PerAddress {
    fn new(limit: usize) -> Self {
        PerAddress {
            limit,
            open: Arc::default(),
        }
    }

    /// Counts a connection from `ip` in, unless its address holds its share already.
    fn admit(&self, ip: IpAddr) -> Option<Admitted> {
        if self.limit == 0 {
            return Some(Admitted { ip, open: None });
        }
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(Admitted {
            ip,
            open: Some(self.open.clone()),
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let Some(open) = &self.open else { return };
        let mut open = open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_holds_at_most_its_share() {
        let per_ip = PerAddress::new(2);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let first = per_ip.admit(a).expect("first");
        let second = per_ip.admit(a).expect("second");
        assert!(per_ip.admit(a).is_none(), "a third from the same address");
        assert!(
            per_ip.admit(b).is_some(),
            "another address is not held back"
        );
        drop(first);
        let third = per_ip.admit(a).expect("a slot given back is free again");
        drop((second, third));
        assert!(
            per_ip.open.lock().unwrap().is_empty(),
            "no count left behind"
        );
        let unlimited = PerAddress::new(0);
        let all: Vec<_> = (0..100).map(|_| unlimited.admit(a)).collect();
        assert!(all.iter().all(Option::is_some));
    }
}
