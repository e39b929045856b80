//! The server under abuse: slowloris clients, floods of idle connections, oversized request
//! heads and clients that stop reading must not stop other readers from being served. Each
//! test runs the real binary with small limits in `[server]` and talks raw TCP to it.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{feeds_dir, request, Serve};

/// A config with one snapshot source, one topic matching everything, and `server` limits.
fn config(dir: &tempfile::TempDir, server: &str) -> PathBuf {
    let path = dir.path().join("paperboy.toml");
    let text = format!(
        "[server]\n{server}\n[store]\npath = \"s.sled\"\n\
         [[sources]]\nid = \"cs-lg\"\nkind = \"arxiv\"\nurl = \"file://{}\"\n\
         [[topics]]\nid = \"all\"\nquery = \"*\"\n",
        feeds_dir().join("arxiv-cs-lg.rss.xml").display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The host and port of a served base URL.
fn addr(serve: &Serve) -> String {
    serve.base.trim_start_matches("http://").to_string()
}

/// A reader's feed request, which must succeed within the client's timeout. serve's first
/// poll runs beside the listener, so the feed may still be empty at first: every answer must
/// be a 200, and the papers must be there within 20 s.
fn reader_is_served(serve: &Serve) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = request("GET", &format!("{}/feeds/all.atom", serve.base), &[])
            .expect("a reader is served despite the abusive clients");
        assert_eq!(reply.status, 200);
        if reply.text().contains("<entry>") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the first poll's papers never reached the feed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the server closes `stream` (a read gives end of file or a reset), up to
/// `limit`; returns whether it did.
fn closed_by_server(stream: &mut TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            // A 408 or other last words before closing; keep reading to the end.
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

#[test]
fn slowloris_and_idle_floods_do_not_starve_readers() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, "header_timeout = \"1s\"\nmax_connections = 32");
    let serve = Serve::start(&config);
    let target = addr(&serve);

    // 24 connections that never send a byte, and 24 that send a request head one byte at a
    // time and never finish it: 48 clients for 32 connection slots.
    let mut idle: Vec<TcpStream> = (0..24)
        .map(|_| TcpStream::connect(&target).unwrap())
        .collect();
    let slow: Vec<TcpStream> = (0..24)
        .map(|_| TcpStream::connect(&target).unwrap())
        .collect();
    let dropped = Arc::new(AtomicUsize::new(0));
    let trickle = {
        let dropped = dropped.clone();
        std::thread::spawn(move || {
            let head = b"GET /feeds/all.atom HTTP/1.1\r\nHost: x\r\nX-Slow: ";
            let mut open: Vec<(TcpStream, usize)> = slow.into_iter().map(|s| (s, 0)).collect();
            let started = Instant::now();
            while !open.is_empty() && started.elapsed() < Duration::from_secs(30) {
                open.retain_mut(|(stream, sent)| {
                    let byte = head.get(*sent).copied().unwrap_or(b'a');
                    *sent += 1;
                    let alive = stream.write_all(&[byte]).is_ok();
                    if !alive {
                        dropped.fetch_add(1, Ordering::SeqCst);
                    }
                    alive
                });
                std::thread::sleep(Duration::from_millis(200));
            }
            open.len()
        })
    };

    // Readers get through while the slow and idle clients are there.
    for _ in 0..3 {
        reader_is_served(&serve);
    }
    // Every idle connection is closed by the server after the header timeout.
    for (n, stream) in idle.iter_mut().enumerate() {
        assert!(
            closed_by_server(stream, Duration::from_secs(15)),
            "idle connection {n} is still open"
        );
    }
    // Every slowloris connection is cut off too: writes to it start failing.
    let still_open = trickle.join().unwrap();
    assert_eq!(still_open, 0, "slowloris connections still open after 30 s");
    assert_eq!(dropped.load(Ordering::SeqCst), 24);
    reader_is_served(&serve);
    assert!(serve.stop().success());
}

#[test]
fn oversized_request_heads_get_431() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, "max_header_kib = 8");
    let serve = Serve::start(&config);
    let status_of = |head: String| {
        let mut stream = TcpStream::connect(addr(&serve)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        // The server may answer and close before reading all of an oversized head.
        let _ = stream.write_all(head.as_bytes());
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        let reply = String::from_utf8_lossy(&reply).into_owned();
        reply
            .split(' ')
            .nth(1)
            .unwrap_or_else(|| panic!("no status line in {reply:?}"))
            .to_string()
    };
    let request = |headers: &str| {
        format!("GET /feeds/all.atom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n")
    };
    // One 9 KiB header.
    let big = format!("X-Big: {}\r\n", "a".repeat(9 * 1024));
    assert_eq!(status_of(request(&big)), "431");
    // Too many header fields, each small.
    let many: String = (0..150).map(|n| format!("X-H{n}: v\r\n")).collect();
    assert_eq!(status_of(request(&many)), "431");
    // 100 fields (Host and Connection, and 98 more) are the most.
    let fields = |n: usize| -> String { (0..n).map(|n| format!("X-H{n}: v\r\n")).collect() };
    assert_eq!(status_of(request(&fields(98))), "200");
    assert_eq!(status_of(request(&fields(99))), "431");
    // A head under the limit is served.
    let fine = format!("X-Fine: {}\r\n", "a".repeat(4 * 1024));
    assert_eq!(status_of(request(&fine)), "200");
    reader_is_served(&serve);
}

#[test]
fn a_client_that_stops_reading_gives_up_its_connection() {
    let dir = tempfile::tempdir().unwrap();
    // One connection slot: while the stalled client holds it, nobody else is served.
    let config = config(
        &dir,
        "max_connections = 1\nwrite_timeout = \"1s\"\nheader_timeout = \"5s\"",
    );
    let serve = Serve::start(&config);
    let mut stalled = TcpStream::connect(addr(&serve)).unwrap();
    // Thousands of pipelined requests whose responses are never read: far more bytes than the
    // socket buffers hold, so the server's writes stop making progress. (Writing them may block
    // once the server stops reading, hence the thread.)
    let mut writer = stalled.try_clone().unwrap();
    std::thread::spawn(move || {
        let pipelined = "GET /feeds/all.atom HTTP/1.1\r\nHost: x\r\n\r\n".repeat(4000);
        let _ = writer.write_all(pipelined.as_bytes());
    });
    // The server drops the stalled client after its write timeout, and the reader gets the slot.
    reader_is_served(&serve);
    assert!(closed_by_server(&mut stalled, Duration::from_secs(15)));
    assert!(serve.stop().success());
}

#[test]
fn connections_past_the_limit_wait_for_a_free_slot() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, "max_connections = 1\nheader_timeout = \"2s\"");
    let serve = Serve::start(&config);
    // The one slot is taken by a connection that sends nothing (Serve::start's own check has
    // closed its connection).
    let mut idle = TcpStream::connect(addr(&serve)).unwrap();
    let started = Instant::now();
    reader_is_served(&serve);
    let waited = started.elapsed();
    // The reader was served only once the idle connection's header timeout freed the slot.
    assert!(
        waited >= Duration::from_millis(1500),
        "served after {waited:?}, while the only slot was taken"
    );
    assert!(closed_by_server(&mut idle, Duration::from_secs(1)));
    assert!(serve.stop().success());
}

/// The status line of a raw request `head` (ending in an empty line) sent to `serve`.
fn raw_status(serve: &Serve, head: &str) -> String {
    let mut stream = TcpStream::connect(addr(serve)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.lines().next().unwrap_or_default().to_string()
}

#[test]
fn a_public_instance_keeps_secrets_headers_and_the_rfcs() {
    let dir = tempfile::tempdir().unwrap();
    // A second source whose URL carries credentials, and which fails (nothing listens).
    let path = config(&dir, "");
    let secret = "http://alice:s3cretPassw0rd@127.0.0.1:9/feed.xml?api_key=TOPSECRET123";
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&format!(
        "[[sources]]\nid = \"private\"\nkind = \"feed\"\nurl = \"{secret}\"\n"
    ));
    std::fs::write(&path, text).unwrap();
    let out = common::run(&path, &["ingest"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("private: error"));
    // Secrets stay private: `status`, the index page and the log show no userinfo or key.
    let leaks = |text: &str| text.contains("s3cretPassw0rd") || text.contains("TOPSECRET123");
    let status = common::run(&path, &["status"]);
    let status_text = String::from_utf8_lossy(&status.stdout);
    assert!(status_text.contains("private (feed)"), "{status_text}");
    assert!(status_text.contains("error"), "{status_text}");
    assert!(!leaks(&status_text), "{status_text}");
    // Nor the copy of the sources' states kept beside the store for `status`.
    let copy = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".sources.json"))
        .expect("the copy of the sources' states beside the store");
    let copied = std::fs::read_to_string(&copy).unwrap();
    assert!(copied.contains("\"private\""), "{copied}");
    assert!(!leaks(&copied), "{copied}");
    let log = dir.path().join("serve.log");
    let serve = Serve::start_logged(&path, &log);
    reader_is_served(&serve);
    let index = common::get(&format!("{}/", serve.base)).text();
    assert!(
        index.contains("127.0.0.1:9/feed.xml"),
        "the source is listed"
    );
    assert!(!leaks(&index), "{index}");
    // serve polled the failing source at start and logged it.
    common::wait_for("the failing poll logged", &log, || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("fetch failed"))
    });
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!leaks(&logged), "{logged}");
    drop(serve);
    // `server.show_sources = false` leaves the sources table out of the index page.
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "[server]\n",
        "[server]\nshow_sources = false\n",
        1,
    );
    std::fs::write(&path, text).unwrap();
    let serve = Serve::start(&path);
    let index = common::get(&format!("{}/", serve.base)).text();
    assert!(index.contains("<h2>Topics</h2>"), "{index}");
    assert!(
        !index.contains("<h2>Sources</h2>") && !index.contains("127.0.0.1:9"),
        "{index}"
    );

    // Headers: nosniff everywhere; the pages' policy and referrer policy.
    for path in [
        "/",
        "/feeds/all.atom",
        "/feeds/all.json",
        "/search?q=x",
        "/topics/all",
        "/groups/nobody",
        "/feeds.opml",
        "/metrics",
        "/healthz",
        "/nowhere",
        "/feeds/all.atom?limit=0",
    ] {
        let reply = request("GET", &format!("{}{path}", serve.base), &[]).unwrap();
        assert_eq!(
            reply.header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
    }
    for path in ["/", "/search?q=x", "/topics/all"] {
        let reply = common::get(&format!("{}{path}", serve.base));
        let policy = reply.header("content-security-policy").unwrap_or_default();
        assert!(
            policy.contains("default-src 'none'") && policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(reply.header("referrer-policy").is_some(), "{path}");
    }

    // HTTP/1.1 needs exactly one Host; HTTP/1.0 may omit it.
    let get = |headers: &str, version: &str| {
        raw_status(
            &serve,
            &format!("GET /healthz HTTP/{version}\r\n{headers}Connection: close\r\n\r\n"),
        )
    };
    assert!(get("Host: a\r\n", "1.1").contains("200"), "one Host");
    assert!(get("", "1.1").contains("400"), "no Host");
    assert!(
        get("Host: a\r\nHost: b\r\n", "1.1").contains("400"),
        "two Hosts"
    );
    assert!(get("", "1.0").contains("200"), "HTTP/1.0 without Host");

    // A cursor that is no position is 400; one of the right shape that is not a paper's
    // position is answered but not cached.
    let bad = common::get(&format!("{}/feeds/all.atom?before=00", serve.base));
    assert_eq!(bad.status, 400, "{}", bad.text());
    let made_up = format!("{}{}", "00".repeat(8), "61626364");
    let renders = || common::metric(&serve.base, "paperboy_feed_renders_total ");
    let before = renders();
    for _ in 0..3 {
        let reply = common::get(&format!("{}/feeds/all.atom?before={made_up}", serve.base));
        assert_eq!(reply.status, 200);
    }
    assert_eq!(
        renders() - before,
        3,
        "a made-up position is rendered each time, never cached"
    );
    // A real next link's page is cached.
    let first = common::get(&format!("{}/feeds/all.atom?limit=1", serve.base)).text();
    let next = first
        .split("rel=\"next\"")
        .next()
        .and_then(|s| s.rsplit("href=\"").next())
        .map(|s| {
            s.split('"')
                .next()
                .unwrap_or_default()
                .replace("&amp;", "&")
        })
        .expect("a next link");
    let next = next.replacen("http://127.0.0.1:8080", &serve.base, 1);
    common::get(&next);
    let before = renders();
    common::get(&next);
    assert_eq!(
        renders(),
        before,
        "a real position's page comes from the cache"
    );
}

#[test]
fn one_address_cannot_take_every_slot_and_the_open_file_limit_is_raised() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(
        &dir,
        "max_connections_per_ip = 40\nheader_timeout = \"30s\"\n",
    );
    let port = common::free_port();
    let log = dir.path().join("serve.log");
    // Started with a soft limit of 1,024 open files, as systemd's default gives.
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -Sn 1024 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_paperboy"))
        .args(["--config", path.to_str().unwrap(), "serve", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .env_remove("PAPERBOY_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    common::wait_for("serve answering", &log, || {
        request("GET", &format!("{base}/healthz"), &[]).is_ok_and(|r| r.status == 200)
    });
    let logged = std::fs::read_to_string(&log).unwrap();
    let line = logged
        .lines()
        .find(|l| l.contains("open-file limit"))
        .unwrap_or_else(|| panic!("the limits are logged: {logged}"));
    assert!(line.contains("soft=1024"), "{line}");
    let hard: u64 = line
        .split("hard=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(
        line.contains(&format!("now={hard}")),
        "raised to the hard limit: {line}"
    );

    // 200 idle connections from 127.0.0.1: 40 are kept, the rest closed at once.
    let mut idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(format!("127.0.0.1:{port}")).unwrap())
        .collect();
    let mut closed = 0;
    for stream in &mut idle {
        if closed_by_server(stream, Duration::from_millis(100)) {
            closed += 1;
        }
    }
    assert!(
        closed >= 160,
        "{closed} of 200 closed: each address keeps at most 40"
    );
    // A client from another address is served meanwhile.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(
            &"127.0.0.2:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    socket
        .connect(
            &format!("127.0.0.1:{port}")
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    let mut other: TcpStream = socket.into();
    other
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    other
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = other.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(idle);
    assert!(common::sigterm(&child));
    let _ = child.wait();
}

#[test]
fn markup_in_a_sources_title_reaches_no_output_as_a_tag() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("hostile.xml");
    std::fs::write(
        &feed,
        "<?xml version=\"1.0\"?>\n<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>t</title><link>https://h.example/</link>\
         <description>d</description><item>\
         <title>Generalization bounds &lt;script&gt;alert(1)&lt;/script&gt; for XSS</title>\
         <link>https://h.example/p1</link><guid>https://h.example/p1</guid>\
         <dc:creator>&lt;b&gt;Eve&lt;/b&gt; Example</dc:creator>\
         <category>&lt;i&gt;cs.LG&lt;/i&gt;</category>\
         <description>An abstract.</description>\
         <pubDate>Mon, 30 Nov 2026 10:00:00 GMT</pubDate></item></channel></rss>\n",
    )
    .unwrap();
    let path = dir.path().join("paperboy.toml");
    std::fs::write(
        &path,
        format!(
            "[store]\npath = \"s.sled\"\n[[sources]]\nid = \"h\"\nkind = \"feed\"\nurl = \"file://{}\"\n\
             [[topics]]\nid = \"all\"\nquery = \"*\"\n",
            feed.display()
        ),
    )
    .unwrap();
    let out = common::run(&path, &["ingest"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let serve = Serve::start(&path);
    for page in [
        "/feeds/all.atom",
        "/feeds/all.rss",
        "/feeds/all.json",
        "/search.rss?q=generalization",
        "/topics/all",
        "/search?q=generalization",
        "/",
    ] {
        let text = common::get(&format!("{}{page}", serve.base)).text();
        for tag in [
            "<script",
            "&lt;script",
            "\\u003cscript",
            "<b>",
            "&lt;b&gt;",
            "<i>",
            "&lt;i&gt;",
            "alert(1)",
        ] {
            assert!(!text.contains(tag), "{page} carries {tag}: {text}");
        }
        if page != "/" {
            assert!(
                text.contains("Generalization bounds for XSS"),
                "{page}: {text}"
            );
        }
    }
    let rss = common::get(&format!("{}/feeds/all.rss", serve.base)).text();
    assert!(
        rss.contains("Eve Example") && rss.contains("<category>cs.LG</category>"),
        "{rss}"
    );
}

/// The resident memory of a process, in KiB, from `/proc`.
fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .expect("VmRSS in /proc")
}

#[test]
fn a_flood_of_made_up_cursors_costs_no_memory() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("big.xml");
    let abstract_text = "A long abstract about sparse graphs and their rigidity. ".repeat(70);
    let entries: String = (0..600)
        .map(|n| {
            format!(
                "<entry><id>https://arxiv.org/abs/2611.{n:05}</id><title>Paper {n}</title>\
                 <link href=\"https://arxiv.org/abs/2611.{n:05}\"/><author><name>A. B.</name></author>\
                 <summary>{abstract_text}</summary><updated>2026-11-{:02}T00:00:00Z</updated></entry>",
                1 + n % 28
            )
        })
        .collect();
    std::fs::write(
        &feed,
        format!("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title><id>urn:t</id><updated>2026-11-30T00:00:00Z</updated>{entries}</feed>"),
    )
    .unwrap();
    let path = dir.path().join("paperboy.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\ncache_mib = 16\n[store]\npath = \"s.sled\"\n[[sources]]\nid = \"big\"\nkind = \"feed\"\n\
             url = \"file://{}\"\n[[topics]]\nid = \"all\"\nquery = \"*\"\n",
            feed.display()
        ),
    )
    .unwrap();
    assert!(common::run(&path, &["ingest"]).status.success());
    let serve = Serve::start(&path);
    let pid = serve.child.id();
    // Warm up: the real pages, rendered and cached once.
    common::get(&format!("{}/feeds/all.atom?limit=500", serve.base));
    let before = resident_kib(pid);
    // 300 distinct cursors of the right shape, each asking for 500 entries of about 4 KB.
    let renders = || common::metric(&serve.base, "paperboy_feed_renders_total ");
    let rendered = renders();
    for n in 0..300u32 {
        // A date after every paper's (the index orders dates with the sign bit flipped).
        let cursor: String = [0xffu8; 8]
            .iter()
            .chain(format!("arxiv:2611.{n:05}x").as_bytes())
            .map(|b| format!("{b:02x}"))
            .collect();
        let reply = request(
            "HEAD",
            &format!("{}/feeds/all.atom?before={cursor}&limit=500", serve.base),
            &[],
        )
        .unwrap();
        assert_eq!(reply.status, 200);
    }
    let after = resident_kib(pid);
    assert_eq!(
        renders() - rendered,
        300,
        "each made-up page rendered, none cached"
    );
    let page = common::get(&format!(
        "{}/feeds/all.atom?before={}&limit=500",
        serve.base,
        [0xffu8; 8]
            .iter()
            .chain(b"arxiv:x")
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ));
    assert_eq!(
        common::entry_ids(&page.body).len(),
        500,
        "the pages are full ones"
    );
    let cached = common::metric(&serve.base, "paperboy_feed_cache_bytes ");
    assert!(
        cached <= 16 << 20,
        "the cache holds {cached} bytes of 16 MiB"
    );
    // Each of those pages is about 2.5 MB rendered: kept, they would be 750 MB.
    assert!(
        after < before + 96 * 1024,
        "resident memory grew from {before} KiB to {after} KiB"
    );
}

/// A connection to the server at `port` from the loopback address `source` (127.0.0.2, say:
/// a client other than the flood's).
fn connect_from(source: &str, port: u16) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let from: std::net::SocketAddr = format!("{source}:0").parse().unwrap();
    socket.bind(&from.into()).unwrap();
    let to: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    socket.connect(&to.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Sends `head` (a whole request without a body) on `stream` and reads one response: its
/// head, lower-cased, and its body (by `Content-Length`), leaving the connection open.
fn exchange(stream: &mut TcpStream, head: &str) -> (String, Vec<u8>) {
    stream.write_all(head.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut buf).expect("a response");
        assert!(n > 0, "closed before a response: {bytes:?}");
        bytes.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |n| n.trim().parse().unwrap());
    let mut body = bytes[end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf).expect("the body");
        assert!(n > 0, "closed in the body");
        body.extend_from_slice(&buf[..n]);
    }
    (head, body)
}

const HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

#[test]
fn idle_connections_give_way_when_the_slots_are_nearly_full() {
    let dir = tempfile::tempdir().unwrap();
    // 16 slots, and a head timeout long enough that only the pressure rule closes anything.
    let path = config(
        &dir,
        "max_connections = 16\nmax_connections_per_ip = 0\nheader_timeout = \"60s\"\n",
    );
    let log = dir.path().join("serve.log");
    let serve = Serve::start_logged(&path, &log);
    let port: u16 = addr(&serve).rsplit(':').next().unwrap().parse().unwrap();

    // Eight readers that made a request and keep their connections alive, as readers do.
    let mut kept: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut stream = connect_from("127.0.0.1", port);
            let (head, body) = exchange(&mut stream, HEALTHZ);
            assert!(head.starts_with("http/1.1 200"), "{head}");
            assert!(!head.contains("connection: close"), "kept alive: {head}");
            assert_eq!(body, b"ok\n");
            stream
        })
        .collect();
    // Six clients that connect and send nothing: 14 of 16 slots taken.
    let silent: Vec<TcpStream> = (0..6).map(|_| connect_from("127.0.0.1", port)).collect();
    // The idle kept-alive connections are closed first, long before the 60 s head timeout
    // (which frees enough slots that the silent ones may stay).
    for (n, stream) in kept.iter_mut().enumerate() {
        assert!(
            closed_by_server(stream, Duration::from_secs(10)),
            "idle kept-alive connection {n} still open: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    drop(silent);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("connection slots nearly full"), "{logged}");
    std::thread::sleep(Duration::from_millis(300));

    // Fourteen silent clients: while the slots are nearly full, a new client is answered and
    // told the connection closes after the answer, and the silent ones get the shortened
    // time to send a request head.
    let mut silent: Vec<TcpStream> = (0..14).map(|_| connect_from("127.0.0.1", port)).collect();
    let mut other = connect_from("127.0.0.2", port);
    let (head, body) = exchange(&mut other, HEALTHZ);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("connection: close"), "{head}");
    assert_eq!(body, b"ok\n");
    assert!(closed_by_server(&mut other, Duration::from_secs(5)));
    for (n, stream) in silent.iter_mut().enumerate() {
        assert!(
            closed_by_server(stream, Duration::from_secs(15)),
            "silent connection {n} still open"
        );
    }
    // Then the slots are free again, and readers keep their connections.
    common::wait_for("the slots freed twice", &log, || {
        std::fs::read_to_string(&log)
            .is_ok_and(|l| l.matches("connection slots free again").count() >= 2)
    });
    let mut reader = connect_from("127.0.0.2", port);
    for _ in 0..2 {
        let (head, _) = exchange(&mut reader, HEALTHZ);
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert!(!head.contains("connection: close"), "{head}");
    }
    assert!(serve.stop().success());
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_client_is_limited_not_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(
        &dir,
        "max_connections_per_ip = 2\ntrusted_proxies = [\"127.0.0.1\"]\nrequest_timeout = \"20s\"\n",
    );
    let serve = Serve::start(&path);
    let port: u16 = addr(&serve).rsplit(':').next().unwrap().parse().unwrap();

    // The proxy (127.0.0.1) holds more connections than the per-address limit.
    let mut proxy: Vec<TcpStream> = (0..6).map(|_| connect_from("127.0.0.1", port)).collect();
    for stream in &mut proxy {
        let (head, _) = exchange(stream, HEALTHZ);
        assert!(head.starts_with("http/1.1 200"), "{head}");
    }
    // Client 203.0.113.9 has two requests in flight (bodies that do not come)...
    let hanging = "POST /websub HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\n\
                   Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n";
    for stream in &mut proxy[..2] {
        stream.write_all(hanging.as_bytes()).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    // ...so a third from it is refused, however it dresses its own part of the chain...
    for forwarded in [
        "X-Forwarded-For: 203.0.113.9",
        "X-Forwarded-For: 198.51.100.7, 203.0.113.9",
        "Forwarded: for=\"203.0.113.9:5123\"",
    ] {
        let (head, _) = exchange(
            &mut proxy[2],
            &format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{forwarded}\r\n\r\n"),
        );
        assert!(head.starts_with("http/1.1 429"), "{forwarded}: {head}");
        assert!(head.contains("retry-after: 1"), "{head}");
    }
    // ...while other clients through the same proxy are answered.
    let (head, _) = exchange(
        &mut proxy[3],
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.10\r\n\r\n",
    );
    assert!(head.starts_with("http/1.1 200"), "{head}");
    // A peer that is not a trusted proxy is held to its connections, whatever it forwards.
    let mut direct: Vec<TcpStream> = (0..3).map(|_| connect_from("127.0.0.2", port)).collect();
    let closed: Vec<bool> = direct
        .iter_mut()
        .map(|s| closed_by_server(s, Duration::from_millis(300)))
        .collect();
    assert_eq!(
        closed.iter().filter(|c| **c).count(),
        1,
        "two connections per address from 127.0.0.2"
    );
    let open = &mut direct[closed.iter().position(|c| !c).unwrap()];
    let (head, _) = exchange(
        open,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n",
    );
    assert!(
        head.starts_with("http/1.1 200"),
        "not the proxied client: {head}"
    );
    drop(proxy);
    assert!(serve.stop().success());
}
