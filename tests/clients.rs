//! Real clients against `paperboy serve` on the snapshot feeds, over real HTTP on 127.0.0.1:
//! jing validates the Atom against RFC 4287's RELAX NG schema, Python's feedparser reads the
//! Atom and RSS (no released feedparser reads JSON Feed yet: 6.0.14 is the newest, and its JSON
//! support is unreleased work in progress), the JSON Feed 1.1 schema validates the JSON and
//! feed-rs reads its entries, newsboat subscribes and polls twice, and headless Chromium
//! renders the pages. `.ci/run` installs the tools; where `CI` is set a
//! missing tool fails the test, elsewhere the test says so and skips.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{get, run, Serve};

/// Debian's Python, which Debian's feedparser and jsonschema packages install into.
const PYTHON: &str = "/usr/bin/python3";

/// The tool's path, or `None` (skip) when it is missing outside CI.
fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    let found = found.or_else(|| Path::new(name).is_file().then(|| PathBuf::from(name)));
    if found.is_none() {
        assert!(!common::in_ci(), "{name} is missing; .ci/run installs it");
        eprintln!("SKIPPED: {name} is not installed (.ci/run installs it)");
    }
    found
}

/// Whether Debian's Python has these modules.
fn python_with(modules: &[&str]) -> bool {
    if tool(PYTHON).is_none() {
        return false;
    }
    let ok = Command::new(PYTHON)
        .arg("-c")
        .arg(format!("import {}", modules.join(", ")))
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !common::in_ci(),
            "python modules {modules:?} are missing; .ci/run installs them"
        );
        eprintln!("SKIPPED: python modules {modules:?} are not installed");
    }
    ok
}

/// A store filled from the snapshot feeds through the offline config's sources, served.
struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    serve: Serve,
    topics: Vec<String>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = common::offline_config(dir.path(), "");
    let out = run(&path, &["ingest"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let topics = paperboy::config::Config::from_file(&path)
        .unwrap()
        .topics
        .into_iter()
        .map(|t| t.id)
        .collect();
    let serve = Serve::start(&path);
    Fixture {
        dir: dir.path().to_path_buf(),
        _dir: dir,
        serve,
        topics,
    }
}

#[test]
fn jing_feedparser_and_the_json_feed_schema_accept_every_feed() {
    let jing = tool("jing");
    let python = python_with(&["feedparser", "jsonschema"]);
    let f = fixture();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/schema/atom.rnc");
    let json_schema = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpora/jsonfeed/sonicdoe-jsonfeed-schema/schema-v1.1.json");
    let mut checked = 0;
    // Every topic's feeds, and a query feed: (name, path without extension, query string).
    let mut feeds: Vec<(String, String, String)> = f
        .topics
        .iter()
        .map(|t| (t.clone(), format!("/feeds/{t}"), String::new()))
        .collect();
    feeds.push((
        "search".into(),
        "/search".into(),
        "?q=quantiz%2A%20OR%20cat%3Acs.CL".into(),
    ));
    for (topic, stem, suffix) in &feeds {
        let atom = get(&format!("{}{stem}.atom{suffix}", f.serve.base));
        let ids = common::entry_ids(&atom.body);
        if let Some(jing) = &jing {
            let file = f.dir.join(format!("{topic}.atom"));
            std::fs::write(&file, &atom.body).unwrap();
            let out = Command::new(jing)
                .arg("-c")
                .arg(&schema)
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                out.status.success() && out.stdout.is_empty(),
                "jing rejects {topic}.atom:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if python {
            let script = r#"
import json, sys, feedparser, jsonschema
base, stem, suffix, schema_path = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
out = {}
for ext in ("atom", "rss"):
    d = feedparser.parse(f"{base}{stem}.{ext}{suffix}")
    out[ext] = {"bozo": bool(d.bozo), "error": str(d.get("bozo_exception", "")),
                "ids": [e.get("id") for e in d.entries],
                "titles": [e.get("title") for e in d.entries],
                "authors": [len(e.get("authors", [])) for e in d.entries],
                "scores": [e.get("paperboy_score") for e in d.entries]}
import urllib.request
feed = json.load(urllib.request.urlopen(f"{base}{stem}.json{suffix}"))
jsonschema.validate(feed, json.load(open(schema_path)))
print(json.dumps(out))
"#;
            let out = Command::new(PYTHON)
                .arg("-c")
                .arg(script)
                .arg(&f.serve.base)
                .arg(stem)
                .arg(suffix)
                .arg(&json_schema)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "feedparser or the JSON Feed schema rejects {topic}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let json = get(&format!("{}{stem}.json{suffix}", f.serve.base));
            assert_eq!(
                common::entry_ids(&json.body),
                ids,
                "{topic}.json: the same entries in the same order"
            );
            for ext in ["atom", "rss"] {
                let r = &result[ext];
                assert_eq!(r["bozo"], false, "{topic}.{ext}: {}", r["error"]);
                let got: Vec<String> = serde_json::from_value(r["ids"].clone()).unwrap();
                assert_eq!(
                    got, ids,
                    "{topic}.{ext}: the same entries in the same order"
                );
            }
            assert_eq!(result["atom"]["titles"], result["rss"]["titles"], "{topic}");
            // A topic learned from examples: feedparser reads each entry's paperboy:score.
            let scored = paperboy::config::Config::from_file(&f.dir.join("paperboy.toml"))
                .unwrap()
                .topic(topic)
                .is_some_and(|t| t.examples.is_some());
            for ext in ["atom", "rss"] {
                let scores = result[ext]["scores"].as_array().unwrap();
                assert!(
                    scores.iter().all(|s| s.is_string() == scored),
                    "{topic}.{ext}: scores {scores:?}"
                );
                if scored {
                    assert!(!scores.is_empty(), "{topic}.{ext} has entries");
                }
            }
        }
        if topic == "search" {
            assert!(!ids.is_empty(), "the query feed has entries");
        }
        checked += 1;
    }
    assert_eq!(checked, f.topics.len() + 1);
}

#[test]
fn newsboat_subscribes_and_its_conditional_reload_is_answered_304() {
    let Some(newsboat) = tool("newsboat") else {
        return;
    };
    if !python_with(&["sqlite3"]) {
        return;
    }
    let f = fixture();
    let topic = "efficient-inference";
    let config = f.dir.join("newsboat.conf");
    std::fs::write(&config, "download-retries 1\ndownload-timeout 20\n").unwrap();
    let not_modified =
        || common::metric(&f.serve.base, "paperboy_feed_responses_total{code=\"304\"}");
    let expected = get(&format!("{}/feeds/{topic}.atom", f.serve.base));
    let feed = feed_rs::parser::parse(expected.body.as_slice()).unwrap();
    assert!(!feed.entries.is_empty());
    // One scratch subscription per format: newsboat keeps one article per guid, and both
    // formats carry the same ids.
    for ext in ["atom", "rss"] {
        let urls = f.dir.join(format!("urls-{ext}"));
        std::fs::write(&urls, format!("{}/feeds/{topic}.{ext}\n", f.serve.base)).unwrap();
        let cache = f.dir.join(format!("cache-{ext}.db"));
        let reload = || newsboat_reload(&newsboat, &urls, &cache, &config, &f.dir);
        reload();
        let script = r#"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("select title, author, url, guid from rss_item").fetchall()
print(json.dumps(rows))
"#;
        let out = Command::new(PYTHON)
            .arg("-c")
            .arg(script)
            .arg(&cache)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows: Vec<(String, String, String, String)> =
            serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            rows.len(),
            feed.entries.len(),
            "{ext}: exactly the expected articles: {rows:?}"
        );
        for entry in &feed.entries {
            let title = entry.title.as_ref().unwrap().content.clone();
            let row = rows
                .iter()
                .find(|r| r.0 == title)
                .unwrap_or_else(|| panic!("{ext}: no article {title:?} in {rows:?}"));
            for author in &entry.authors {
                assert!(
                    row.1.contains(author.name.as_str()),
                    "{ext}: authors {:?} lack {}",
                    row.1,
                    author.name
                );
            }
            assert_eq!(row.2, entry.links[0].href, "{ext}: link");
            assert_eq!(row.3, entry.id, "{ext}: guid");
        }
        // newsboat 2.21 (Debian 12) stores a feed's ETag and Last-Modified only from its
        // second fetch on (on the first, the feed's row is created after the validators are
        // written), so its third reload is the first conditional one.
        let before = not_modified();
        reload();
        assert_eq!(
            not_modified(),
            before,
            "{ext}: newsboat sent no validators yet"
        );
        reload();
        assert_eq!(
            not_modified(),
            before + 1,
            "{ext}: the conditional reload is answered 304"
        );
    }
}

/// `newsboat -x reload` of the feeds listed in `urls`, into `cache`, with `config`.
fn newsboat_reload(newsboat: &Path, urls: &Path, cache: &Path, config: &Path, home: &Path) {
    let out = Command::new(newsboat)
        .arg("-u")
        .arg(urls)
        .arg("-c")
        .arg(cache)
        .arg("-C")
        .arg(config)
        .arg("-x")
        .arg("reload")
        .env("HOME", home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "newsboat: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The articles newsboat's cache at `cache` holds.
fn newsboat_articles(cache: &Path) -> usize {
    let out = Command::new(PYTHON)
        .arg("-c")
        .arg("import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from rss_item').fetchone()[0])")
        .arg(cache)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn newsboat_misses_no_paper_when_300_arrive_between_two_reloads() {
    let Some(newsboat) = tool("newsboat") else {
        return;
    };
    if !python_with(&["sqlite3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("paperboy.toml");
    let write_config = |sources: &[&str]| {
        let mut text = "[store]\npath = \"store.sled\"\n\n".to_string();
        for id in sources {
            text.push_str(&format!(
                "[[sources]]\nid = \"{id}\"\nkind = \"feed\"\nurl = \"file://{id}.xml\"\n\n"
            ));
        }
        text.push_str("[[topics]]\nid = \"graphs\"\nquery = 'graph*'\n");
        std::fs::write(&config, text).unwrap();
    };
    std::fs::write(dir.path().join("monday.xml"), common::generated_feed(0, 20)).unwrap();
    write_config(&["monday"]);
    let out = run(&config, &["ingest"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = dir.path().join("serve.log");
    let serve = Serve::start_logged(&config, &log);
    let feed_url = format!("{}/feeds/graphs.atom", serve.base);
    let urls = dir.path().join("urls");
    std::fs::write(&urls, format!("{feed_url}\n")).unwrap();
    let cache = dir.path().join("cache.db");
    let newsboat_config = dir.path().join("newsboat.conf");
    std::fs::write(
        &newsboat_config,
        "download-retries 1\ndownload-timeout 20\n",
    )
    .unwrap();
    let reload = || newsboat_reload(&newsboat, &urls, &cache, &newsboat_config, dir.path());
    reload();
    assert_eq!(newsboat_articles(&cache), 20);

    // 300 new papers in one batch: a source added by a reload, polled at once.
    std::fs::write(
        dir.path().join("tuesday.xml"),
        common::generated_feed(100, 300),
    )
    .unwrap();
    write_config(&["monday", "tuesday"]);
    assert!(common::signal(&serve.child, "HUP"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let count = common::entry_ids(&get(&feed_url).body).len();
        if count == 320 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the feed holds {count} papers, not 320; serve's log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    reload();
    assert_eq!(
        newsboat_articles(&cache),
        320,
        "newsboat holds every paper, not the newest 50"
    );
    // `?limit=N` keeps its meaning: N papers and a next page.
    let limited = get(&format!("{feed_url}?limit=50"));
    assert_eq!(common::entry_ids(&limited.body).len(), 50);
    assert!(limited.text().contains("rel=\"next\""));
}

#[test]
fn chromium_renders_the_index_and_topic_pages() {
    let Some(chromium) = tool("chromium") else {
        return;
    };
    let f = fixture();
    let profile = f.dir.join("chromium-profile");
    let dump = |path: &str| -> String {
        let out = Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--dump-dom")
            .arg(format!("{}{path}", f.serve.base))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "chromium: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let index = dump("/");
    for topic in &f.topics {
        for ext in ["atom", "rss", "json"] {
            assert!(
                index
                    .lines()
                    .any(|l| l.starts_with("<link rel=\"alternate\"")
                        && l.contains(&format!("/feeds/{topic}.{ext}\""))),
                "autodiscovery of {topic}.{ext} in the rendered DOM"
            );
        }
        assert!(
            index.contains(&format!("/topics/{topic}\"")),
            "link to {topic}'s page"
        );
    }
    assert!(index.contains("Quantization and efficient inference"));
    assert!(index.contains("<td class=\"n\">"), "paper counts");
    assert!(index.contains("arxiv-cs-lg"), "sources");
    let topic = dump("/topics/efficient-inference");
    assert!(
        topic.contains("<h1>Quantization and efficient inference</h1>"),
        "{topic}"
    );
    assert!(topic.contains("<article>"));
    assert!(topic.contains(r#"rel="alternate" type="application/feed+json""#));
    assert!(
        index.contains(r#"<input type="search" name="q""#),
        "the search box"
    );
    let search = dump("/search?q=quantiz*");
    assert!(search.contains("papers match"), "{search}");
    assert!(search.contains("<article>"), "{search}");
    assert!(search.contains("[[topics]]"), "{search}");
}
