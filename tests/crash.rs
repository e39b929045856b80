//! Nothing lost, nothing corrupted: `paperboy ingest` is killed with SIGKILL at pseudo-random
//! moments, twenty times in CI (three elsewhere; `PAPERBOY_CRASH_KILLS` sets the number), while
//! it stores a 10,000-entry feed (real entries replicated under new
//! ids). After every kill the store opens, what a completed pass reported is intact, and the big
//! batch is all there or not there at all, never half.
//!
//! Graceful shutdown: `paperboy serve` gets SIGTERM at moments spread over its first pass. It
//! exits 0 every time; a write that had begun is finished and reported, one that had not left
//! nothing behind. A response in flight at the signal arrives whole, and new connections are
//! refused.
//!
//! Compaction: `paperboy compact` is killed with SIGKILL at moments spread over a whole
//! compaction, and so is `serve` while it compacts its store in place; the store opens whole
//! after each.
//!
//! Between the two commits: `ingest` is killed after the store's flush and before the search
//! index's commit; the next start's catch-up brings the index level with the store.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{feeds_dir, get, run, Serve};

const BIG: usize = 10_000;

/// SIGKILLs during ingest: `PAPERBOY_CRASH_KILLS`, else 20 in CI and 3 elsewhere.
fn kills() -> u32 {
    common::rounds("PAPERBOY_CRASH_KILLS", 20, 3)
}

/// SIGTERMs spread over a serve pass: `PAPERBOY_CRASH_TERMS`, else 4 in CI and 1 elsewhere.
fn spread_terms() -> u32 {
    common::rounds("PAPERBOY_CRASH_TERMS", 4, 1)
}

/// A 10,000-item arXiv listing made from the real cs.LG capture's items under new ids.
fn big_listing() -> String {
    let capture = std::fs::read_to_string(feeds_dir().join("arxiv-cs-lg.rss.xml")).unwrap();
    let head = &capture[..capture.find("<item>").unwrap()];
    let items: Vec<&str> = capture
        .split("<item>")
        .skip(1)
        .map(|i| &i[..i.find("</item>").unwrap() + "</item>".len()])
        .collect();
    let mut out = String::with_capacity(BIG * 3000);
    out.push_str(head);
    for n in 0..BIG {
        let item = items[n % items.len()];
        let at = item.find("arxiv.org/abs/").unwrap() + "arxiv.org/abs/".len();
        let old = &item[at..at + 10];
        out.push_str("<item>");
        out.push_str(&item.replace(old, &format!("2611.{n:05}")));
        out.push('\n');
    }
    out.push_str("</channel>\n</rss>\n");
    out
}

/// Runs `paperboy COMMAND` and kills it with SIGKILL after `delay`.
fn kill_after(config: &std::path::Path, command: &str, delay: Duration) {
    let mut child = common::paperboy()
        .arg("--config")
        .arg(config)
        .arg(command)
        .env("RUST_LOG", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
}

/// A folder with the big listing (`big.xml`) and a config `c.toml` of a store `s.sled`, the
/// `extra` sources, a source `big` of the listing and a topic `all` of every paper.
fn beside_big_listing(extra: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.xml"), big_listing()).unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = \"s.sled\"\n{extra}\
             [[sources]]\nid = \"big\"\nkind = \"arxiv\"\nurl = \"file://big.xml\"\n\
             [[topics]]\nid = \"all\"\nquery = \"*\"\n"
        ),
    )
    .unwrap();
    (dir, config)
}

/// The topic's count and how many papers its index holds, read from the store directly (after
/// a kill, opening it finishes a journalled batch the kill cut short).
fn topic_sizes(store: &std::path::Path, topic: &str) -> (u64, usize) {
    let store = paperboy::store::PaperStore::open(store).expect("the store opens");
    (
        store.topic_count(topic).unwrap(),
        store.topic_papers(topic, usize::MAX).unwrap().len(),
    )
}

fn count(config: &std::path::Path, query: &str) -> usize {
    let out = run(config, &["search", query, "--count"]);
    assert!(
        out.status.success(),
        "the store opens after a kill: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// The next pseudo-random kill delay (xorshift of `seed`), spread over 1.1 × `pass`.
fn next_delay(seed: &mut u64, pass: Duration) -> Duration {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    let pass_ms = pass.as_millis() as u64;
    Duration::from_millis(*seed % (pass_ms * 11 / 10 + 1))
}

/// After a kill during a compaction, the store of `config` in `dir` opens whole: every paper,
/// the topic `all` whole, nothing but the index, the lock and the copy of the sources' states
/// beside it.
fn assert_whole_after_kill(dir: &std::path::Path, config: &std::path::Path, why: &str) {
    assert_eq!(count(config, "*"), BIG, "{why}");
    assert_eq!(
        topic_sizes(&dir.join("s.sled"), "all"),
        (BIG as u64, BIG),
        "{why}: the topic whole"
    );
    let leftovers: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("s.sled."))
        .filter(|name| !["s.sled.index", "s.sled.lock", "s.sled.sources.json"].contains(&&**name))
        .collect();
    assert_eq!(leftovers, Vec::<String>::new(), "{why}");
}

#[test]
fn sigkill_during_ingest_loses_and_corrupts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.xml"), big_listing()).unwrap();
    let small = feeds_dir().join("arxiv-cs-cl.rss.xml");
    let config = dir.path().join("c.toml");
    let write_config = |with_big: bool| {
        let mut text = format!(
            "[store]\npath = \"s.sled\"\n[[sources]]\nid = \"small\"\nkind = \"arxiv\"\nurl = \"file://{}\"\n",
            small.display()
        );
        if with_big {
            text.push_str(
                "[[sources]]\nid = \"big\"\nkind = \"arxiv\"\nurl = \"file://big.xml\"\n",
            );
        }
        text.push_str("[[topics]]\nid = \"all\"\nquery = \"*\"\n[[topics]]\nid = \"agents\"\nquery = \"agent*\"\n");
        std::fs::write(&config, text).unwrap();
    };

    // A completed pass reports the small source's papers: they must survive every kill.
    write_config(false);
    let first = run(&config, &["ingest"]);
    assert!(String::from_utf8_lossy(&first.stdout).contains("small: 3 new"));
    write_config(true);

    // How long a whole pass takes, to aim the kills inside it.
    let started = Instant::now();
    let full = run(&config, &["ingest"]);
    assert!(String::from_utf8_lossy(&full.stdout).contains(&format!("big: {BIG} new")));
    let pass = started.elapsed();
    // Start again from a store without the big batch, so the kills land while it is written.
    std::fs::remove_dir_all(dir.path().join("s.sled")).unwrap();
    write_config(false);
    assert!(run(&config, &["ingest"]).status.success());
    write_config(true);

    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut outcomes = (0, 0);
    let kills = kills();
    for kill in 0..kills {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Between half the pass and a little past its end: parsing comes first, the write last.
        let pass_ms = pass.as_millis() as u64;
        let delay = Duration::from_millis(pass_ms / 2 + seed % (pass_ms * 6 / 10 + 1));
        kill_after(&config, "ingest", delay);

        let all = count(&config, "*");
        assert_eq!(
            count(&config, "src:small"),
            3,
            "kill {kill}: the completed pass's papers are intact"
        );
        assert!(
            all == 3 || all == 3 + BIG,
            "kill {kill} after {delay:?}: {all} papers, half a batch"
        );
        // The topic index and count hold the same papers, whole (a batch this large is
        // journalled: the kill may land between its commit and its last write).
        assert_eq!(
            topic_sizes(&dir.path().join("s.sled"), "all"),
            (all as u64, all),
            "kill {kill} after {delay:?}: the topic index agrees with the papers"
        );
        if all == 3 {
            outcomes.0 += 1;
        } else {
            outcomes.1 += 1;
            // The batch is whole: the index agrees with the papers.
            assert_eq!(
                count(&config, "agent*"),
                count(&config, "src:big AND agent*") + count(&config, "src:small AND agent*")
            );
            // Start again without it, so the next kill lands inside a write again.
            std::fs::remove_dir_all(dir.path().join("s.sled")).unwrap();
            write_config(false);
            assert!(run(&config, &["ingest"]).status.success());
            write_config(true);
        }
    }
    println!(
        "{kills} kills during a {pass:?} pass: {} before the batch committed, {} after",
        outcomes.0, outcomes.1
    );

    // A last, uninterrupted pass; then serve opens the store and the feeds render.
    let last = run(&config, &["ingest"]);
    assert!(last.status.success());
    assert_eq!(count(&config, "*"), 3 + BIG);
    let serve = Serve::start(&config);
    let feed = get(&format!("{}/feeds/all.atom?limit=500", serve.base));
    assert_eq!(feed.status, 200);
    let parsed = feed_rs::parser::parse(feed.body.as_slice()).expect("the feed renders");
    assert_eq!(parsed.entries.len(), 500);
    assert!(roxmltree::Document::parse(&feed.text()).is_ok());
}

/// Sends SIGTERM to `child` and waits for it to exit, up to a minute.
fn terminate(child: &mut std::process::Child) -> std::process::ExitStatus {
    assert!(common::sigterm(child), "kill could not send SIGTERM");
    common::wait_within(child, Duration::from_secs(60)).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("serve did not exit within a minute of SIGTERM");
    })
}

/// `paperboy serve` on a free port, logging at info level to `log`.
fn spawn_serve(config: &std::path::Path, log: &std::path::Path) -> (std::process::Child, String) {
    let port = common::free_port();
    let child = common::serve_command(config, port)
        .env("RUST_LOG", "info,paperboy::ingest=debug")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    (child, format!("127.0.0.1:{port}"))
}

/// Waits until `log` contains `text`, up to two minutes; returns how long that took.
fn wait_for_log(log: &std::path::Path, text: &str) -> Duration {
    let started = Instant::now();
    while !std::fs::read_to_string(log)
        .unwrap_or_default()
        .contains(text)
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "serve never logged {text:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    started.elapsed()
}

/// Where a SIGTERM landed relative to the big source's write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Landed {
    /// Before the write began: nothing of it was stored.
    Before,
    /// While it was being written: it was finished and reported after the signal.
    During,
    /// After it was reported.
    After,
}

/// Checks the store after serve exited on SIGTERM: the big batch is whole and reported, or
/// absent and unreported; the small source likewise. Returns where the signal landed.
fn check_after_sigterm(config: &std::path::Path, logged: &str, context: &str) -> Landed {
    assert!(
        logged.contains("store flushed; stopped"),
        "{context}\n{logged}"
    );
    let signal = logged
        .find("shutting down")
        .unwrap_or_else(|| panic!("{context}: the signal is not logged\n{logged}"));
    let big = count(config, "src:big");
    let landed = match logged.find(&format!("big: {BIG} new")) {
        Some(at) => {
            assert_eq!(big, BIG, "{context}: reported but not all stored");
            if at > signal {
                Landed::During
            } else {
                Landed::After
            }
        }
        None => {
            assert_eq!(big, 0, "{context}: stored without a report");
            Landed::Before
        }
    };
    let small = count(config, "src:small");
    if logged.contains("small: 3 new") {
        assert_eq!(small, 3, "{context}: the small source was reported");
    } else {
        assert_eq!(small, 0, "{context}: the small source was not reported");
    }
    landed
}

#[test]
fn sigterm_during_serve_finishes_the_write_and_loses_nothing() {
    use std::io::{Read, Write};

    let (dir, config) = beside_big_listing(&format!(
        "[[sources]]\nid = \"small\"\nkind = \"arxiv\"\nurl = \"file://{}\"\n",
        feeds_dir().join("arxiv-cs-cl.rss.xml").display()
    ));
    let store = dir.path().join("s.sled");
    let log = dir.path().join("serve.log");
    let reported = format!("big: {BIG} new");
    let storing = "storing papers source=big";
    let fresh = || {
        if store.exists() {
            std::fs::remove_dir_all(&store).unwrap();
        }
    };
    let sigterm = |delay: Option<Duration>| {
        fresh();
        let (mut child, _) = spawn_serve(&config, &log);
        match delay {
            Some(delay) => std::thread::sleep(delay),
            // The moment serve says it has begun writing the big batch.
            None => {
                wait_for_log(&log, storing);
            }
        }
        let status = terminate(&mut child);
        let logged = std::fs::read_to_string(&log).unwrap();
        let context = format!("SIGTERM after {delay:?}");
        assert!(status.success(), "{context}: exit {status:?}\n{logged}");
        check_after_sigterm(&config, &logged, &context)
    };

    // How long serve takes to store the big source, to spread signals over that time.
    fresh();
    let (mut child, _) = spawn_serve(&config, &log);
    let pass = wait_for_log(&log, &reported);
    assert!(terminate(&mut child).success());

    // Signals sent as the big write begins: the write is finished, reported, then serve exits.
    let mut during = 0;
    for _ in 0..3 {
        let landed = sigterm(None);
        assert_ne!(landed, Landed::Before, "a write that had begun was dropped");
        if landed == Landed::During {
            during += 1;
        }
    }
    assert!(during > 0, "no SIGTERM landed during the write in 3 tries");
    // Signals spread from half way through the pass to its end.
    let mut spread = Vec::new();
    let terms = spread_terms();
    for n in 0..terms {
        spread.push(sigterm(Some(pass * (5 + 8 * n / terms) / 10)));
    }
    println!(
        "SIGTERM in a {pass:?} serve pass: {during} of 3 aimed at the write landed during it \
         (finished, then exit 0); spread over the pass: {spread:?}"
    );

    // A response in flight when SIGTERM arrives is finished; new connections are refused. The
    // reader's receive buffer is small, so most of the ~1 MB response is still in serve when
    // the signal comes.
    fresh();
    let (mut child, addr) = spawn_serve(&config, &log);
    wait_for_log(&log, &reported);
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let target: std::net::SocketAddr = addr.parse().unwrap();
    socket.connect(&target.into()).unwrap();
    let mut reader: std::net::TcpStream = socket.into();
    reader
        .write_all(
            b"GET /feeds/all.atom?limit=500 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
    let mut first = [0u8; 1024];
    reader.read_exact(&mut first).unwrap();
    assert!(common::sigterm(&child));
    let refused_by = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&addr).is_ok() {
        assert!(
            Instant::now() < refused_by,
            "new connections still accepted 20 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "serve exited before sending the response in flight"
    );
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    let response = [first.as_slice(), rest.as_slice()].concat();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let body = &response[split + 4..];
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .expect("content-length")
        .trim()
        .parse()
        .unwrap();
    assert!(length > 500_000, "a large response: {length} bytes");
    assert_eq!(body.len(), length, "the response in flight arrived whole");
    let feed = feed_rs::parser::parse(body).expect("the feed parses");
    assert_eq!(feed.entries.len(), 500);
    assert!(terminate(&mut child).success());
}

/// `kill -9` between the store's commit and the index's (the index's crash point): the next
/// start's catch-up brings the index level with the store, exactly as a rebuild would.
#[test]
fn sigkill_between_the_store_and_index_commits_is_caught_up() {
    use std::os::unix::process::ExitStatusExt;

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("paperboy.toml");
    let feeds = feeds_dir();
    let source = |id: &str, kind: &str, file: &str| {
        format!(
            "[[sources]]\nid = \"{id}\"\nkind = \"{kind}\"\nurl = \"file://{}\"\n\n",
            feeds.join(file).display()
        )
    };
    let head = "[store]\npath = \"store.sled\"\n\n[[topics]]\nid = \"all\"\nquery = '*'\n\n";
    let lg = source("cs-lg", "arxiv", "arxiv-cs-lg.rss.xml");
    std::fs::write(&config, format!("{head}{lg}")).unwrap();
    assert!(run(&config, &["ingest"]).status.success());

    let plants = source("plants", "feed", "biorxiv-plant-biology.rdf");
    std::fs::write(&config, format!("{head}{lg}{plants}")).unwrap();
    let crashed = common::paperboy()
        .arg("--config")
        .arg(&config)
        .arg("ingest")
        .env(paperboy::index::CRASH_AT, "index-commit")
        .output()
        .expect("ingest runs");
    assert_eq!(
        crashed.status.signal(),
        Some(9),
        "killed at the crash point: {crashed:?}"
    );

    // The store holds the new papers; the index, as committed, does not.
    let index_path = paperboy::index::path_for(&dir.path().join("store.sled"));
    let behind = paperboy::index::SearchIndex::open_read_only(&index_path).expect("index opens");
    let in_index = |text: &str| {
        let query = paperboy::pipeline::query::Query::parse(text).unwrap();
        behind.search(&query, 0).unwrap().1
    };
    assert_eq!(in_index("src:plants"), 0, "the index missed the batch");
    assert_eq!(in_index("*"), 3);

    // The next start catches up; a rebuild from scratch agrees.
    let caught_up = (count(&config, "src:plants"), count(&config, "*"));
    assert_eq!(caught_up, (30, 33));
    assert!(run(&config, &["reindex"]).status.success());
    assert_eq!(
        (count(&config, "src:plants"), count(&config, "*")),
        caught_up
    );
}

/// `paperboy compact` killed with SIGKILL at moments spread over a whole compaction: after
/// each kill the store opens with every paper and its topics whole, and nothing of the
/// compaction is left beside it; a compaction that runs to its end gives back disk. Refused,
/// naming the store, while `serve` holds it.
#[test]
fn sigkill_during_compact_loses_nothing() {
    // Left as the ingest wrote it: an ingest would compact a store never compacted itself.
    let (dir, config) = beside_big_listing("auto_compact = false\n");
    assert!(run(&config, &["ingest"]).status.success());
    let started = Instant::now();
    let compacted = run(&config, &["compact"]);
    let pass = started.elapsed();
    let said = String::from_utf8_lossy(&compacted.stdout).into_owned();
    assert!(
        compacted.status.success() && said.contains(" MiB -> "),
        "{said}"
    );

    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for kill in 0..common::rounds("PAPERBOY_COMPACT_KILLS", 8, 2) {
        let delay = next_delay(&mut seed, pass);
        kill_after(&config, "compact", delay);
        assert_whole_after_kill(dir.path(), &config, &format!("kill {kill} after {delay:?}"));
    }

    let serve = Serve::start(&config);
    let refused = run(&config, &["compact"]);
    let stderr = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(!refused.status.success(), "compacted under serve");
    assert!(stderr.contains("s.sled"), "{stderr}");
    let feed = get(&format!("{}/feeds/all.atom?limit=500", serve.base));
    assert_eq!(feed.status, 200, "serve goes on");
}

/// The files under `from`, copied to `to` (created).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `serve` compacts a store it finds never compacted after its first poll, in place; killed
/// with SIGKILL at moments spread over that compaction (each round from the same store, as the
/// ingest left it), the store opens whole every time: every paper, the topic whole, nothing
/// left beside it.
#[test]
fn sigkill_during_serve_compaction_loses_nothing() {
    let (dir, config) = beside_big_listing("auto_compact = false\n");
    assert!(run(&config, &["ingest"]).status.success());
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("auto_compact = false", "auto_compact = true"),
    )
    .unwrap();
    let kept = dir.path().join("as-ingested");
    let names = ["s.sled", "s.sled.index"];
    for name in names {
        copy_dir(&dir.path().join(name), &kept.join(name));
    }
    let restore = || {
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let path = dir.path().join(&name);
            if name.starts_with("s.sled") && path.is_dir() {
                std::fs::remove_dir_all(&path).unwrap();
            }
        }
        for name in names {
            copy_dir(&kept.join(name), &dir.path().join(name));
        }
    };
    let log = dir.path().join("serve.log");
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    // Read often: the kills below are timed from the line that starts a compaction.
    let wait_for = |said: &str| {
        common::wait_for_every(Duration::from_millis(2), said, &log, || {
            logged().contains(said)
        });
    };
    // One whole compaction, timed from the line that starts it.
    let serve = Serve::start_logged(&config, &log);
    wait_for("was never compacted: compacting");
    let started = Instant::now();
    // Replaced by its copy: the swap is among what the kills below may cut short.
    wait_for("store compacted: ");
    let pass = started.elapsed();
    drop(serve);

    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for kill in 0..common::rounds("PAPERBOY_COMPACT_KILLS", 8, 2) {
        restore();
        // Every other kill near the end, where the swap is (a few ms of the pass).
        let delay = if kill % 2 == 1 {
            pass * 9 / 10 + next_delay(&mut seed, pass / 5) * 10 / 11
        } else {
            next_delay(&mut seed, pass)
        };
        let mut serve = Serve::start_logged(&config, &log);
        wait_for("was never compacted: compacting");
        std::thread::sleep(delay);
        assert!(common::signal(&serve.child, "KILL"));
        let _ = serve.child.wait();
        // Killed and reaped: nothing for its drop to stop.
        std::mem::forget(serve);
        let was = logged();
        let finished = was.contains("store compacted: ") || was.contains("store kept as it was");
        println!(
            "kill {kill} after {delay:?} of a {pass:?} compaction; it had finished: {finished}"
        );
        assert_whole_after_kill(
            dir.path(),
            &config,
            &format!("kill {kill} after {delay:?}: {was}"),
        );
    }
}
