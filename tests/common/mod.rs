//! Shared test helpers: a fixture HTTP server on 127.0.0.1 that stands in for the internet,
//! and helpers to run the real `paperboy` binary.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing;
use axum::Router;

/// The repository's `feeds/` folder.
pub(crate) fn feeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds")
}

/// The offline config (`config/offline.toml`, its sources on the `feeds/` snapshots) written
/// into `dir` with its store there, `server_lines` added to its `[server]` table; its path.
pub(crate) fn offline_config(dir: &Path, server_lines: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let offline = std::fs::read_to_string(root.join("config/offline.toml")).unwrap();
    let config = offline
        .replace(
            "file://../feeds/",
            &format!("file://{}/feeds/", root.display()),
        )
        .replace("../data/offline.sled", "store.sled")
        .replacen("[server]\n", &format!("[server]\n{server_lines}"), 1);
    let path = dir.join("paperboy.toml");
    std::fs::write(&path, config).unwrap();
    path
}

/// An Atom feed of `count` papers numbered from `first` (arXiv ids `2612.NNNNN`, titles on
/// sparse graphs), dated a minute apart back from now.
pub(crate) fn generated_feed(first: usize, count: usize) -> String {
    let now = chrono::Utc::now();
    let entries: String = (first..first + count)
        .map(|n| {
            let date = (now - chrono::TimeDelta::minutes((n - first) as i64)).to_rfc3339();
            format!(
                "<entry><id>https://arxiv.org/abs/2612.{n:05}</id>\
                 <title>Sparse graphs and rigidity, part {n}</title>\
                 <link href=\"https://arxiv.org/abs/2612.{n:05}\"/>\
                 <author><name>Ada Example</name></author>\
                 <summary>Abstract of paper {n} on sparse graphs.</summary>\
                 <published>{date}</published><updated>{date}</updated></entry>\n"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <feed xmlns=\"http://www.w3.org/2005/Atom\"><title>generated</title>\
         <id>urn:test:generated</id><updated>{}</updated>\n{entries}</feed>\n",
        now.to_rfc3339()
    )
}

/// Waits up to 30 s for `ready`, panicking with `what` and the log at `log` when it never is.
pub(crate) fn wait_for(what: &str, log: &Path, ready: impl FnMut() -> bool) {
    wait_for_every(Duration::from_millis(50), what, log, ready);
}

/// [`wait_for`], asking `ready` every `interval`.
pub(crate) fn wait_for_every(
    interval: Duration,
    what: &str,
    log: &Path,
    mut ready: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen; serve's log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(interval);
    }
}

/// What the fixture server has seen.
#[derive(Default)]
pub(crate) struct Hits {
    pub requests: AtomicUsize,
    pub not_modified: AtomicUsize,
    /// The query strings `/api` and `/oai` were asked with, in order.
    pub paged: std::sync::Mutex<Vec<String>>,
}

/// A fixture server: `/feeds/<file>` serves `feeds/<file>` with a strong ETag and honours
/// `If-None-Match`; `/plain/<file>` serves it without validators; `/status/<code>` answers
/// that status; `/html` answers a web page instead of a feed.
pub(crate) struct FixtureServer {
    pub addr: SocketAddr,
    pub hits: Arc<Hits>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    _thread: std::thread::JoinHandle<()>,
}

impl FixtureServer {
    pub(crate) fn start() -> FixtureServer {
        let hits = Arc::new(Hits::default());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let state = hits.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let app = Router::new()
                    .route("/feeds/{file}", routing::get(feed))
                    .route("/plain/{file}", routing::get(plain_feed))
                    .route("/status/{code}", routing::get(status))
                    .route("/html", routing::get(html))
                    .route("/api", routing::get(api_pages))
                    .route("/retry/{secs}", routing::get(retry_later))
                    .route("/hostile/{kind}", routing::get(hostile))
                    .route("/moved/{file}", routing::get(moved))
                    .route(
                        "/loop",
                        routing::get(|| async {
                            (StatusCode::FOUND, [(header::LOCATION, "/loop")]).into_response()
                        }),
                    )
                    .route("/oai", routing::get(oai_pages))
                    .with_state(state);
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("fixture server starts");
        FixtureServer {
            addr,
            hits,
            _shutdown: tx,
            _thread: thread,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

fn read_feed(file: &str) -> Option<Vec<u8>> {
    if file.contains('/') || file.contains("..") {
        return None;
    }
    std::fs::read(feeds_dir().join(file)).ok()
}

async fn feed(
    State(hits): State<Arc<Hits>>,
    UrlPath(file): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    hits.requests.fetch_add(1, Ordering::SeqCst);
    let Some(bytes) = read_feed(&file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}-{}\"", file.len(), bytes.len());
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        hits.not_modified.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "application/xml".to_string()),
            (header::ETAG, etag),
        ],
        bytes,
    )
        .into_response()
}

async fn plain_feed(State(hits): State<Arc<Hits>>, UrlPath(file): UrlPath<String>) -> Response {
    hits.requests.fetch_add(1, Ordering::SeqCst);
    match read_feed(&file) {
        Some(bytes) => ([(header::CONTENT_TYPE, "application/rss+xml")], bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn shared_source(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/sources")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The arXiv API over 250 results: the 20 real entries of a capture, replicated under new ids
/// (`2611.00000` …) without their DOIs, served `start`/`max_results` at a time.
async fn api_pages(
    State(hits): State<Arc<Hits>>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    hits.paged.lock().unwrap().push(query.clone());
    let params: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
    let start: usize = params
        .get("start")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let max: usize = params
        .get("max_results")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let capture = shared_source("arxiv-api-cslg-or-csai-m20.atom.xml");
    let head = &capture[..capture.find("<entry>").unwrap()];
    let entries: Vec<&str> = capture
        .split("<entry>")
        .skip(1)
        .map(|e| &e[..e.find("</entry>").unwrap() + "</entry>".len()])
        .collect();
    let doi =
        regex::Regex::new(r"(?s)<arxiv:doi>.*?</arxiv:doi>|<link[^>]*title=.doi.[^>]*/>").unwrap();
    let mut body = head.to_string();
    for i in start..(start + max).min(250) {
        let entry = entries[i % entries.len()];
        let id_at = entry.find("arxiv.org/abs/").unwrap() + "arxiv.org/abs/".len();
        let old_id = &entry[id_at..id_at + 10];
        // New ids, and no DOIs: replicas sharing a DOI would rightly merge into one paper.
        body.push_str("<entry>");
        body.push_str(&doi.replace_all(&entry.replace(old_id, &format!("2611.{i:05}")), ""));
    }
    body.push_str("</feed>");
    ([(header::CONTENT_TYPE, "application/atom+xml")], body).into_response()
}

/// OAI-PMH: the real 1,000-record page first, then (for its resumption token) a last page of
/// two records.
async fn oai_pages(
    State(hits): State<Arc<Hits>>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    hits.paged.lock().unwrap().push(query.clone());
    let body = if query.contains("resumptionToken=496549%7C47001") {
        r#"<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>
        <record><header><identifier>oai:arXiv.org:0802.0001</identifier></header><metadata>
        <arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>0802.0001</id><version version="v1"><date>Fri, 1 Feb 2008 00:00:01 GMT</date></version><title>Last page one</title><authors>A. Author</authors><categories>cs.LG</categories><abstract>One.</abstract></arXivRaw></metadata></record>
        <record><header><identifier>oai:arXiv.org:0802.0002</identifier></header><metadata>
        <arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>0802.0002</id><version version="v1"><date>Fri, 1 Feb 2008 00:00:02 GMT</date></version><title>Last page two</title><authors>B. Author</authors><categories>cs.LG</categories><abstract>Two.</abstract></arXivRaw></metadata></record>
        <resumptionToken completeListSize="1002" cursor="1000"/></ListRecords></OAI-PMH>"#
            .to_string()
    } else {
        shared_source("arxiv-oai-pmh-arxivraw-1000.xml")
    };
    ([(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

/// Misbehaving answers, by kind: a body that never ends, 1 GiB of body, a gzip bomb,
/// truncated XML, invalid UTF-8, an entity-expansion ("billion laughs") document and an
/// external-entity (XXE) document.
async fn hostile(UrlPath(kind): UrlPath<String>) -> Response {
    use axum::body::Body;
    let feed = || std::fs::read(feeds_dir().join("arxiv-cs-lg.rss.xml")).unwrap();
    match kind.as_str() {
        "endless" => {
            let stream = futures_util::stream::unfold((), |()| async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Some((
                    Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"<item>")),
                    (),
                ))
            });
            let body = b"<rss version=\"2.0\"><channel><title>x</title>".to_vec();
            (
                [(header::CONTENT_TYPE, "application/rss+xml")],
                Body::from_stream(futures_util::StreamExt::chain(
                    futures_util::stream::once(async move { Ok(axum::body::Bytes::from(body)) }),
                    stream,
                )),
            )
                .into_response()
        }
        "huge" => {
            // 1 GiB, in 1 MiB chunks, with no Content-Length to warn the client.
            let chunk = axum::body::Bytes::from(vec![b' '; 1 << 20]);
            let stream = futures_util::stream::iter(
                (0..1024).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
            );
            (
                [(header::CONTENT_TYPE, "application/rss+xml")],
                Body::from_stream(stream),
            )
                .into_response()
        }
        "gzip-bomb" => {
            // 64 MiB of spaces, gzipped to about 64 KiB.
            use std::io::Write;
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            let block = vec![b' '; 1 << 20];
            for _ in 0..64 {
                encoder.write_all(&block).unwrap();
            }
            let body = encoder.finish().unwrap();
            (
                [
                    (header::CONTENT_TYPE, "application/rss+xml"),
                    (header::CONTENT_ENCODING, "gzip"),
                ],
                body,
            )
                .into_response()
        }
        "truncated" => {
            let bytes = feed();
            (
                [(header::CONTENT_TYPE, "application/rss+xml")],
                bytes[..bytes.len() / 2].to_vec(),
            )
                .into_response()
        }
        "invalid-utf8" => {
            let mut bytes = feed();
            let at = bytes.windows(7).position(|w| w == b"<title>").unwrap() + 7;
            bytes.splice(at..at, [0xff, 0xfe, 0xc3, 0x28]);
            (
                [(header::CONTENT_TYPE, "application/rss+xml; charset=utf-8")],
                bytes,
            )
                .into_response()
        }
        "billion-laughs" => {
            let mut doc =
                String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE rss [\n<!ENTITY lol \"lol\">\n");
            doc.push_str("<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n");
            for i in 2..=9 {
                let prev = format!("&lol{};", i - 1);
                doc.push_str(&format!("<!ENTITY lol{i} \"{}\">\n", prev.repeat(10)));
            }
            doc.push_str("]>\n<rss version=\"2.0\"><channel><title>&lol9;</title><item><title>&lol9;</title><guid>laughs</guid></item></channel></rss>\n");
            ([(header::CONTENT_TYPE, "application/rss+xml")], doc).into_response()
        }
        "xxe" => {
            let doc = "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n\
                <rss version=\"2.0\"><channel><title>x</title><item><title>leak &xxe;</title><guid>xxe</guid>\
                <description>&xxe;</description></item></channel></rss>\n";
            ([(header::CONTENT_TYPE, "application/rss+xml")], doc).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A server that accepts connections and never answers, until the returned guard is dropped.
pub(crate) fn silent_server() -> (SocketAddr, std::net::TcpListener) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    (listener.local_addr().unwrap(), listener)
}

/// 429 with a `Retry-After` of `secs` seconds.
async fn retry_later(UrlPath(secs): UrlPath<u64>) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, secs.to_string())],
        "slow down",
    )
        .into_response()
}

/// A permanent redirect to `/feeds/<file>`.
async fn moved(UrlPath(file): UrlPath<String>) -> Response {
    (
        StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, format!("/feeds/{file}"))],
    )
        .into_response()
}

async fn status(UrlPath(code): UrlPath<u16>) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, "fixture status").into_response()
}

async fn html() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html")],
        "<!DOCTYPE html><html><head><title>Not a feed</title></head><body><p>Hello</p></body></html>",
    )
        .into_response()
}

/// The real binary.
pub(crate) fn paperboy() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_paperboy"));
    cmd.env("RUST_LOG", "warn");
    cmd.env_remove("PAPERBOY_CONFIG");
    cmd
}

/// `paperboy --config CONFIG ingest` under `/usr/bin/time`, which reports the peak resident
/// memory on standard error ([`maxrss_kb`]), ready to spawn.
pub(crate) fn timed_ingest(config: &Path) -> Command {
    let mut cmd = Command::new("/usr/bin/time");
    cmd.args(["-f", "maxrss_kb=%M"])
        .arg(env!("CARGO_BIN_EXE_paperboy"))
        .arg("--config")
        .arg(config)
        .arg("ingest")
        .env("RUST_LOG", "error");
    cmd
}

/// The peak resident memory `/usr/bin/time` reported in `stderr`, in KiB.
pub(crate) fn maxrss_kb(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kb="))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no report of /usr/bin/time in {stderr}"))
}

/// Runs `paperboy --config CONFIG ARGS…` to completion.
pub(crate) fn run(config: &Path, args: &[&str]) -> Output {
    paperboy()
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("paperboy runs")
}

/// A free port on 127.0.0.1.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `paperboy serve`, stopped with SIGTERM when dropped.
pub(crate) struct Serve {
    pub child: Child,
    pub base: String,
}

/// `paperboy --config CONFIG serve --listen 127.0.0.1:PORT`, ready to spawn.
pub(crate) fn serve_command(config: &Path, port: u16) -> Command {
    let mut cmd = paperboy();
    cmd.arg("--config")
        .arg(config)
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"));
    cmd
}

/// Sends SIGTERM to a child process; whether `kill` could send it.
pub(crate) fn sigterm(child: &Child) -> bool {
    signal(child, "TERM")
}

/// Sends the signal named `name` (`HUP`, `TERM`, `KILL`) to a child process; whether `kill`
/// could send it.
pub(crate) fn signal(child: &Child, name: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .is_ok_and(|s| s.success())
}

/// Waits up to `limit` for a child to exit; `None` if it is still running.
pub(crate) fn wait_within(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Serve {
    pub(crate) fn start(config: &Path) -> Serve {
        Serve::start_with(config, Stdio::inherit(), "warn")
    }

    /// Like [`Serve::start`], with the log at `level` written to the file at `log`.
    pub(crate) fn start_logged(config: &Path, log: &Path) -> Serve {
        let file = std::fs::File::create(log).expect("log file");
        Serve::start_with(config, Stdio::from(file), "info,tantivy=warn")
    }

    fn start_with(config: &Path, stderr: Stdio, level: &str) -> Serve {
        let port = free_port();
        let child = serve_command(config, port)
            .env("RUST_LOG", level)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("serve starts");
        let serve = Serve {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = request("GET", &format!("{}/healthz", serve.base), &[]) {
                if r.status == 200 {
                    return serve;
                }
            }
            assert!(
                Instant::now() < deadline,
                "serve did not answer /healthz in time"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and waits; returns the exit status.
    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        let status = self.terminate();
        std::mem::forget(self);
        status
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        sigterm(&self.child);
        wait_within(&mut self.child, Duration::from_secs(20)).unwrap_or_else(|| {
            let _ = self.child.kill();
            self.child.wait().expect("wait after kill")
        })
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// An HTTP reply, read whole.
pub(crate) struct Reply {
    pub status: u16,
    pub headers: ::reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("test runtime")
    })
}

/// A blocking HTTP request with optional extra headers; no automatic decompression.
pub(crate) fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> Result<Reply, String> {
    runtime().block_on(async {
        let client = ::reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .no_gzip()
            .build()
            .map_err(|e| e.to_string())?;
        let method = ::reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut req = client.request(method, url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(|e| e.to_string())?.to_vec();
        Ok(Reply {
            status,
            headers,
            body,
        })
    })
}

/// `POST url` with a form body (`application/x-www-form-urlencoded`), panicking on a
/// transport error.
pub(crate) fn post_form(url: &str, body: &str) -> Reply {
    runtime().block_on(async {
        let resp = ::reqwest::Client::new()
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        Reply {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.bytes().await.expect("body").to_vec(),
        }
    })
}

/// `GET url`, panicking on a transport error.
pub(crate) fn get(url: &str) -> Reply {
    request("GET", url, &[]).unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// The entry ids of a feed document, in order.
pub(crate) fn entry_ids(body: &[u8]) -> Vec<String> {
    feed_rs::parser::parse(body)
        .expect("the served feed parses")
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect()
}

/// The value of the `/metrics` line of the server at `base` that starts with `prefix`.
pub(crate) fn metric(base: &str, prefix: &str) -> u64 {
    get(&format!("{base}/metrics"))
        .text()
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no metric {prefix:?}"))
}

/// Whether the tests run in CI (`CI` set to anything but empty or `false`).
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

/// How many rounds a slow, randomized test runs: the number in the environment variable `var`
/// when set, else `ci` in CI (the full count) and `local` elsewhere (a quick run). An unusable
/// value is an error, not a silent default.
pub(crate) fn rounds(var: &str, ci: u32, local: u32) -> u32 {
    match std::env::var(var) {
        Ok(text) => text
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or_else(|| panic!("{var}={text:?}: expected a whole number above 0")),
        Err(_) if in_ci() => ci,
        Err(_) => local,
    }
}
