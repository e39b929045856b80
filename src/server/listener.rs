//! The HTTP/1.1 accept loop, built on hyper directly so that every limit that protects the
//! server from its clients is set in one place:
//!
//! - at most `server.max_connections` connections at once; further clients wait in the
//!   kernel's accept queue until one closes; the soft open-file limit is raised to the hard
//!   one at start, and `max_connections` lowered to what it allows ([`open_files`]);
//! - at most `server.max_connections_per_ip` of them from one client address: one client
//!   cannot take every slot. A peer in `server.trusted_proxies` is not counted so; each client
//!   it forwards (named by `Forwarded` / `X-Forwarded-For`, [`super::forwarded`]) may have as
//!   many requests in flight instead, and gets `429` past it;
//! - `server.header_timeout` to send a request's head, which is also how long a kept-alive
//!   connection may sit idle: a slowloris client, or a flood of idle connections, is dropped
//!   after it, so it cannot hold the connection slots;
//! - when the slots are nearly full (an eighth free), kept-alive connections that are idle are
//!   closed at once, every connection that is not answering a request has
//!   [`PRESSED_HEADER_TIMEOUT`] to send one, and responses close their connection, so the
//!   slots go to clients with requests ([`Pressure`]);
//! - `server.max_header_kib` for the request head (431 past it) and at most 100 header fields;
//! - `server.write_timeout` of no progress writing a response (a client that stops reading);
//! - `server.request_timeout` for answering a request (in the router, [`super::router`]).
//!
//! Connections are served on one single-threaded runtime per core ([`Cores`]), handed out in
//! turn; a poll of a cached feed is answered before the router ([`super::cached`]).
//!
//! Shutting down stops accepting at once, lets the requests in flight finish (idle
//! connections close), and gives up on the rest after `server.shutdown_timeout`.

use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::Response;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use ipnet::IpNet;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

use super::forwarded;
use crate::config::ServerConfig;

/// How long to wait before accepting again after an accept error that is not a client's
/// (out of file descriptors, say), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The time a connection has to send a request head while the slots are nearly full (or
/// `server.header_timeout`, if that is shorter): a request head is one packet, so a real
/// client sends it at once.
pub(super) const PRESSED_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves `app` on `listener` until `shutdown` completes, then drains connections. Returns
/// what `shutdown` gave.
pub(super) async fn run<T>(
    listener: TcpListener,
    app: Router,
    state: super::AppState,
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
    let shared = Arc::new(Listening {
        pressure: Pressure::new(limits.max_connections),
        trusted: limits.trusted_proxies.clone(),
        requests_per_client: PerAddress::new(limits.max_connections_per_ip),
        pressed_header_timeout: PRESSED_HEADER_TIMEOUT.min(limits.header_timeout),
    });
    let mut cores = Cores::start();
    // Told to every connection when shutting down; `closed()` once every one has ended.
    let (stop, _) = watch::channel(false);
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
        let (stream, peer) = tokio::select! {
            given = &mut shutdown => {
                stopped = Some(given);
                break;
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => (stream, peer.ip()),
                Err(e) => {
                    if !is_connection_error(&e) {
                        tracing::error!("accepting a connection failed: {e}");
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    }
                    continue;
                }
            },
        };
        // A trusted proxy carries many clients on its connections: it is held to the
        // requests in flight per client it forwards, not to a count of connections.
        let proxied = shared.trusted.iter().any(|net| net.contains(&peer));
        let admitted = if proxied {
            None
        } else {
            match per_ip.admit(peer) {
                Some(admitted) => Some(admitted),
                None => {
                    // Over its address's share: closed at once, the slot given back.
                    tracing::debug!(%peer, "connection refused: too many from this address");
                    continue;
                }
            }
        };
        shared.pressure.update(slots.available_permits());
        let sweeps = shared.pressure.sweeps.subscribe();
        let swept = shared.pressure.is_pressed();
        // Small responses (304s) go out at once rather than waiting for more to send.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
        // Handed to a core's runtime: registered with its reactor there.
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(e) => {
                tracing::debug!("handing a connection over: {e}");
                continue;
            }
        };
        let connection = Arc::new(Connection {
            app: TowerToHyperService::new(app.clone()),
            state: state.clone(),
            peer,
            proxied,
            started: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            shared: shared.clone(),
        });
        let stop = stop.subscribe();
        let shared = shared.clone();
        let slots = slots.clone();
        let http = http.clone();
        let write_timeout = limits.write_timeout;
        cores.spawn(async move {
            match tokio::net::TcpStream::from_std(stream) {
                Ok(stream) => {
                    let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
                    stream.set_write_timeout(Some(write_timeout));
                    let io = TokioIo::new(Box::pin(stream));
                    let serving = http.serve_connection(
                        io,
                        hyper::service::service_fn({
                            let connection = connection.clone();
                            move |request| connection.clone().answer(request)
                        }),
                    );
                    connection.watch(serving, stop, sweeps, swept).await;
                }
                Err(e) => tracing::debug!("taking a connection over: {e}"),
            }
            drop(admitted);
            drop(slot);
            shared.pressure.update(slots.available_permits());
        });
    }
    // Stop accepting: new clients are refused from here on.
    drop(listener);
    let open = stop.receiver_count();
    stop.send_replace(true);
    tokio::select! {
        () = stop.closed() => {
            tracing::info!(connections = open, "every connection finished");
        }
        () = tokio::time::sleep(limits.shutdown_timeout) => {
            tracing::warn!(
                "connections still open after {:?}; closing them",
                limits.shutdown_timeout
            );
        }
    }
    cores.finish().await;
    stopped
}

/// The threads connections are served on: one single-threaded runtime per core, each on a
/// thread of its own, as nginx has one worker process per core. A connection stays on the
/// core it was given (in turn), so answering a poll wakes no other thread and no task moves
/// between cores; a multi-threaded runtime's work-stealing costs a poll ending in `304` about a
/// tenth of its time on two cores (`benches/serve_vs_nginx.sh`). Rendering and compressing
/// still run on a blocking pool beside them.
struct Cores {
    handles: Vec<tokio::runtime::Handle>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Set to `true` when serving has ended: the threads end their runtimes.
    stop: watch::Sender<bool>,
    next: usize,
}

impl Cores {
    /// A runtime on its own thread per core. When one cannot be made, connections are served
    /// on the calling runtime (logged).
    fn start() -> Self {
        let count = crate::cores();
        let (stop, _) = watch::channel(false);
        let mut cores = Cores {
            handles: Vec::with_capacity(count),
            threads: Vec::with_capacity(count),
            stop,
            next: 0,
        };
        for core in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .max_blocking_threads(crate::BLOCKING_THREADS_PER_CORE)
                .thread_name(format!("paperboy-http-{core}-blocking"))
                .build();
            let runtime = match runtime {
                Ok(runtime) => runtime,
                Err(e) => {
                    tracing::warn!("cannot start a serving runtime: {e}; serving on fewer cores");
                    break;
                }
            };
            let handle = runtime.handle().clone();
            let mut stopped = cores.stop.subscribe();
            let thread = std::thread::Builder::new()
                .name(format!("paperboy-http-{core}"))
                .spawn(move || {
                    runtime.block_on(async {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    });
                    // Whatever is left (connections given up on after the shutdown timeout)
                    // is dropped with the runtime.
                    runtime.shutdown_timeout(Duration::from_secs(1));
                });
            match thread {
                Ok(thread) => {
                    cores.handles.push(handle);
                    cores.threads.push(thread);
                }
                Err(e) => {
                    tracing::warn!("cannot start a serving thread: {e}; serving on fewer cores");
                    break;
                }
            }
        }
        cores
    }

    /// Runs `connection` on the next core in turn (on the calling runtime when there are no
    /// cores of its own).
    fn spawn(&mut self, connection: impl Future<Output = ()> + Send + 'static) {
        if self.handles.is_empty() {
            tokio::spawn(connection);
            return;
        }
        self.next = (self.next + 1) % self.handles.len();
        self.handles[self.next].spawn(connection);
    }

    /// Ends the cores' runtimes and waits for their threads.
    async fn finish(self) {
        self.stop.send_replace(true);
        let threads = self.threads;
        let joined = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        });
        let _ = joined.await;
    }
}

/// What the accept loop shares with every connection.
struct Listening {
    pressure: Pressure,
    trusted: Vec<IpNet>,
    /// Requests in flight per client that a trusted proxy forwards.
    requests_per_client: PerAddress,
    pressed_header_timeout: Duration,
}

/// Whether the connection slots are nearly full. When they become so, every kept-alive
/// connection that is idle is closed, and every connection that is not answering a request has
/// [`PRESSED_HEADER_TIMEOUT`] to send one; while they are, new connections get that shorter
/// time too and responses close their connection, so the slots go to clients with requests.
struct Pressure {
    /// Free slots at or below which the slots count as nearly full: an eighth of them.
    low: usize,
    /// Read per response; written under `changing`.
    pressed: AtomicBool,
    changing: std::sync::Mutex<()>,
    /// How many times the slots have become nearly full: each time is one sweep.
    sweeps: watch::Sender<u64>,
}

impl Pressure {
    fn new(slots: usize) -> Self {
        Pressure {
            low: (slots / 8).max(1),
            pressed: AtomicBool::new(false),
            changing: std::sync::Mutex::new(()),
            sweeps: watch::channel(0).0,
        }
    }

    fn is_pressed(&self) -> bool {
        self.pressed.load(Ordering::Relaxed)
    }

    /// Takes note of how many slots are free now. Pressed at an eighth free or fewer, relieved
    /// at more than a quarter free (between the two it stays as it was, so it does not flap).
    fn update(&self, free: usize) {
        let _one_at_a_time = self
            .changing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let was = self.is_pressed();
        let now = if was {
            free <= self.low * 2
        } else {
            free <= self.low
        };
        if now == was {
            return;
        }
        self.pressed.store(now, Ordering::Relaxed);
        if now {
            self.sweeps.send_modify(|n| *n += 1);
            tracing::warn!(
                free,
                "connection slots nearly full: closing idle connections, shortening the time \
                 to send a request"
            );
        } else {
            tracing::info!(free, "connection slots free again");
        }
    }
}

/// One client connection: what it is serving, so that it can be closed when it is idle.
struct Connection {
    app: TowerToHyperService<Router>,
    /// What the router serves, for polls answered from the feed cache without it.
    state: super::AppState,
    peer: IpAddr,
    /// Whether `peer` is a trusted proxy.
    proxied: bool,
    /// Requests whose head has arrived, ever.
    started: AtomicU64,
    /// Requests being answered now.
    in_flight: AtomicUsize,
    shared: Arc<Listening>,
}

/// Counts a request as in flight until dropped.
struct Busy<'a>(&'a AtomicUsize);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Connection {
    /// Answers one request: from the feed cache when it is a poll of a cached feed
    /// ([`super::cached`]), else through the router.
    async fn answer(self: Arc<Self>, request: Request<Incoming>) -> Result<Response, Infallible> {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let _busy = Busy(&self.in_flight);
        let _admitted = if self.proxied {
            let client =
                forwarded::client_address(self.peer, request.headers(), &self.shared.trusted);
            match self.shared.requests_per_client.admit(client) {
                Some(admitted) => Some(admitted),
                None => {
                    tracing::debug!(%client, "request refused: too many in flight from this client");
                    let mut refused = super::plain(
                        StatusCode::TOO_MANY_REQUESTS,
                        "too many requests at once from this address",
                    );
                    refused
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                    return Ok(refused);
                }
            }
        } else {
            None
        };
        let mut response = match super::cached::answer(&self.state, &request) {
            Some(response) => response,
            None => {
                let Ok(response) = hyper::service::Service::call(&self.app, request).await;
                response
            }
        };
        if self.shared.pressure.is_pressed() {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Ok(response)
    }

    /// Drives `serving` to its end: closes it gracefully when `stop` says so, and closes it
    /// early while the slots are nearly full and it is not answering a request.
    /// `swept` says the connection was accepted while the slots were nearly full, `sweeps`
    /// tells of the times they become so after that.
    async fn watch<F>(
        &self,
        serving: F,
        mut stop: watch::Receiver<bool>,
        mut sweeps: watch::Receiver<u64>,
        mut swept: bool,
    ) where
        F: Future<Output = hyper::Result<()>> + GracefulConnection,
    {
        let mut serving = std::pin::pin!(serving);
        let mut stopping = false;
        // When the connection must have started a request by, and how many it had started
        // when the clock began.
        let mut deadline: Option<(Instant, u64)> = None;
        loop {
            if std::mem::take(&mut swept)
                && !stopping
                && deadline.is_none()
                && self.in_flight.load(Ordering::Relaxed) == 0
            {
                let started = self.started.load(Ordering::Relaxed);
                if started > 0 {
                    // Kept alive after a response: closed now (at once when no byte of the
                    // next request has come, else after answering it).
                    serving.as_mut().graceful_shutdown();
                }
                deadline = Some((Instant::now() + self.shared.pressed_header_timeout, started));
            }
            let expiry = async {
                match deadline {
                    Some((at, _)) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ended = serving.as_mut() => {
                    if let Err(e) = ended {
                        // Timeouts, resets and malformed requests: the client's problem.
                        tracing::debug!("connection ended: {e}");
                    }
                    return;
                }
                Ok(()) = stop.changed(), if !stopping => {
                    stopping = true;
                    serving.as_mut().graceful_shutdown();
                }
                Ok(()) = sweeps.changed() => swept = true,
                () = expiry => {
                    let (_, started) = deadline.take().unwrap_or((Instant::now(), 0));
                    if self.started.load(Ordering::Relaxed) == started
                        && self.in_flight.load(Ordering::Relaxed) == 0
                    {
                        tracing::debug!(peer = %self.peer, "connection closed: no request while the slots are nearly full");
                        return;
                    }
                }
            }
        }
    }
}

/// A connection that can be asked to finish what it is doing and close.
trait GracefulConnection {
    fn graceful_shutdown(self: std::pin::Pin<&mut Self>);
}

impl<I, S> GracefulConnection for hyper::server::conn::http1::Connection<I, S>
where
    S: hyper::service::HttpService<Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful_shutdown(self: std::pin::Pin<&mut Self>) {
        hyper::server::conn::http1::Connection::graceful_shutdown(self);
    }
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
