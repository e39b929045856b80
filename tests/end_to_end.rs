//! The whole pipeline through the real binary and real HTTP over 127.0.0.1: ingest from a
//! fixture server (with a failing and a non-feed source beside the good ones), serve, read the
//! topic feeds, conditional GET, restart, errors.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::Ordering;

use common::{get, request, run, FixtureServer, Serve};

/// A feed's gzip and brotli forms: negotiated from `Accept-Encoding` with its q-values, each
/// with its own ETag (a conditional request is answered 304 per form), `Vary` on every form,
/// made once per change however often they are asked for, and decoding to exactly the bytes
/// of the plain feed.
fn compressed_forms_are_made_once(serve: &Serve, plain: &[u8]) {
    use std::io::Read;
    let url = format!("{}/feeds/everything.atom", serve.base);
    let ask = |accept: &str, extra: &[(&str, &str)]| {
        let mut headers = vec![("Accept-Encoding", accept)];
        headers.extend_from_slice(extra);
        request("GET", &url, &headers).unwrap()
    };
    let compressions = || common::metric(&serve.base, "paperboy_feed_compressions_total ");
    let before = compressions();
    let identity = ask("identity", &[]);
    let identity_etag = identity.header("etag").expect("etag");
    let mut decoded = Vec::new();
    let gzip = ask("gzip, deflate", &[]);
    assert_eq!(gzip.status, 200);
    assert_eq!(gzip.header("content-encoding").as_deref(), Some("gzip"));
    flate2::read::GzDecoder::new(gzip.body.as_slice())
        .read_to_end(&mut decoded)
        .expect("the gzip form decodes");
    assert_eq!(decoded, plain, "gzip decodes to the plain feed's bytes");
    let br = ask("gzip, deflate, br", &[]);
    assert_eq!(br.header("content-encoding").as_deref(), Some("br"));
    decoded.clear();
    brotli::Decompressor::new(br.body.as_slice(), 4096)
        .read_to_end(&mut decoded)
        .expect("the brotli form decodes");
    assert_eq!(decoded, plain, "br decodes to the plain feed's bytes");
    assert!(br.body.len() < gzip.body.len() && gzip.body.len() < plain.len() / 3);
    // Three forms, three strong ETags; Vary on each.
    let etags: Vec<String> = [&identity, &gzip, &br]
        .iter()
        .map(|r| {
            let vary = r.header("vary").unwrap_or_default().to_ascii_lowercase();
            assert!(vary.contains("accept-encoding"), "{vary}");
            r.header("etag").expect("etag")
        })
        .collect();
    assert!(
        !etags[0].starts_with("W/") && etags[1].ends_with("-gzip\"") && etags[2].ends_with("-br\"")
    );
    assert_eq!(etags.iter().collect::<BTreeSet<_>>().len(), 3, "{etags:?}");
    // Made once: more requests for both forms compress nothing again.
    for _ in 0..5 {
        assert_eq!(ask("gzip", &[]).body, gzip.body);
        assert_eq!(ask("br", &[]).body, br.body);
    }
    assert_eq!(
        compressions() - before,
        2,
        "one gzip and one br form per change"
    );
    // Conditional requests are per form.
    let again = ask("gzip", &[("If-None-Match", &etags[1])]);
    assert_eq!(again.status, 304);
    assert_eq!(again.header("etag").as_deref(), Some(etags[1].as_str()));
    assert!(again.header("vary").is_some());
    assert_eq!(
        ask("gzip", &[("If-None-Match", &identity_etag)]).status,
        200
    );
    assert_eq!(
        ask("identity", &[("If-None-Match", &identity_etag)]).status,
        304
    );
    // q-values decide; what is ruled out is never sent.
    let coding = |accept: &str| {
        let reply = ask(accept, &[]);
        (reply.status, reply.header("content-encoding"))
    };
    assert_eq!(coding("br;q=0.5, gzip"), (200, Some("gzip".into())));
    assert_eq!(coding("gzip;q=0, br;q=0"), (200, None));
    assert_eq!(coding("*"), (200, Some("br".into())));
    assert_eq!(coding("*;q=0, gzip;q=0.1"), (200, Some("gzip".into())));
    assert_eq!(coding("identity;q=0, gzip"), (200, Some("gzip".into())));
    let refused = ask("identity;q=0", &[]);
    assert_eq!(refused.status, 406, "{}", refused.text());
    assert_eq!(coding("*;q=0").0, 406);
    // A query feed has its forms too; HTML pages are still compressed when asked.
    let query = request(
        "GET",
        &format!("{}/search.json?q=learning", serve.base),
        &[("Accept-Encoding", "gzip")],
    )
    .unwrap();
    assert_eq!(query.header("content-encoding").as_deref(), Some("gzip"));
    assert!(query.header("etag").is_some_and(|e| e.ends_with("-gzip\"")));
    let page = request(
        "GET",
        &format!("{}/", serve.base),
        &[("Accept-Encoding", "gzip")],
    )
    .unwrap();
    assert_eq!(page.header("content-encoding").as_deref(), Some("gzip"));
}

#[test]
fn the_feed_cache_stays_within_its_byte_budget() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::offline_config(dir.path(), "cache_mib = 1\n");
    let out = run(&config, &["ingest"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let serve = Serve::start(&config);
    let url = |ext: &str, limit: usize| format!("{}/search.{ext}?q=*&limit={limit}", serve.base);
    let first = get(&url("atom", 1));
    let mut asked = 0;
    for limit in (1..=500).step_by(50) {
        for ext in ["atom", "rss", "json"] {
            for accept in ["identity", "gzip", "br"] {
                let reply =
                    request("GET", &url(ext, limit), &[("Accept-Encoding", accept)]).unwrap();
                assert_eq!(reply.status, 200, "{ext} {limit} {accept}");
                asked += reply.body.len();
            }
        }
    }
    assert!(
        asked > 4 << 20,
        "the feeds asked for ({asked} bytes) exceed the budget"
    );
    let held = common::metric(&serve.base, "paperboy_feed_cache_bytes ");
    assert!(
        held > 0 && held <= 1 << 20,
        "the cache holds {held} bytes of 1 MiB"
    );
    // A feed that fell out is rendered again on demand, the same bytes.
    assert_eq!(get(&url("atom", 1)).body, first.body);
}

fn write_config(dir: &Path, fixtures: &FixtureServer) -> std::path::PathBuf {
    let config = format!(
        r#"
[server]
listen = "127.0.0.1:1"
base_url = "http://feeds.example.org/"

[store]
path = "store.sled"

[[sources]]
id = "cs-lg"
kind = "arxiv"
url = "{lg}"

[[sources]]
id = "cs-ai"
kind = "feed"
url = "{ai}"

[[sources]]
id = "broken"
kind = "feed"
url = "{broken}"

[[sources]]
id = "webpage"
kind = "feed"
url = "{html}"

[[sources]]
id = "hf"
kind = "hf-daily"
url = "{hf}"

[[sources]]
id = "api"
kind = "arxiv-api"
url = "{api}"
max_results = 250

[[topics]]
id = "anomaly"
title = "Anomaly <detection> & friends"
query = 'anomal* AND detection'

[[topics]]
id = "agents"
title = "Agents"
query = 'agent OR agents OR "multi-agent"'

[[topics]]
id = "everything"
title = "Everything"
query = '*'
"#,
        lg = fixtures.url("/feeds/arxiv-cs-lg.rss.xml"),
        ai = fixtures.url("/plain/arxiv-cs-ai.rss.xml"),
        broken = fixtures.url("/status/500"),
        html = fixtures.url("/html"),
        hf = fixtures.url("/plain/hf-daily-papers.json"),
        api =
            fixtures.url("/plain/arxiv-api-transformer-cslg.atom.xml?search_query=all:transformer"),
    );
    let path = dir.join("paperboy.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ingest_serve_restart() {
    let fixtures = FixtureServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fixtures);

    // First pass: the good sources are stored, the bad ones reported, exit 0.
    let out = run(&config, &["ingest"]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "ingest failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        vec![
            "cs-lg: 3 new, 0 updated, 0 unchanged",
            "cs-ai: 3 new, 0 updated, 0 unchanged",
            &format!(
                "broken: error: HTTP 500 Internal Server Error from {}",
                fixtures.url("/status/500")
            ),
            &format!(
                "webpage: error: not a feed: unable to parse feed: no root element (from {})",
                fixtures.url("/html")
            ),
            "hf: 30 new, 0 updated, 0 unchanged",
            "api: 5 new, 0 updated, 0 unchanged",
        ],
        "{text}"
    );
    // The store is relative to the config file's folder.
    assert!(dir.path().join("store.sled").is_dir());

    // Second pass: the ETag source answers 304, the other is unchanged; nothing is added.
    let out = run(&config, &["ingest"]);
    let text = stdout(&out);
    assert!(text.contains("cs-lg: not modified"), "{text}");
    assert!(
        text.contains("cs-ai: 0 new, 0 updated, 3 unchanged"),
        "{text}"
    );
    assert_eq!(fixtures.hits.not_modified.load(Ordering::SeqCst), 1);

    let serve = Serve::start(&config);
    let feed = get(&format!("{}/feeds/anomaly.atom", serve.base));
    assert_eq!(feed.status, 200);
    assert_eq!(
        feed.header("content-type").as_deref(),
        Some("application/atom+xml; charset=utf-8")
    );
    let ids = common::entry_ids(&feed.body);
    assert_eq!(
        ids.iter().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "https://arxiv.org/abs/2604.21953".to_string(),
            "https://arxiv.org/abs/2604.21956".to_string()
        ]),
        "{}",
        feed.text()
    );
    let xml = feed.text();
    assert!(xml.contains("<id>urn:paperboy:topic:anomaly</id>"), "{xml}");
    assert!(xml.contains("Anomaly &lt;detection&gt; &amp; friends"));
    assert!(
        xml.contains(r#"href="http://feeds.example.org/feeds/anomaly.atom" rel="self""#),
        "{xml}"
    );

    let everything = get(&format!("{}/feeds/everything.atom", serve.base));
    let all_ids = common::entry_ids(&everything.body);
    assert_eq!(all_ids.len(), 41, "no duplicates, nothing missing");
    let limited = get(&format!("{}/feeds/everything.atom?limit=2", serve.base));
    assert_eq!(
        common::entry_ids(&limited.body),
        all_ids[..2].to_vec(),
        "newest first, limited"
    );
    assert_eq!(
        get(&format!("{}/feeds/everything.atom?limit=0", serve.base)).status,
        400
    );
    assert_eq!(
        get(&format!("{}/feeds/everything.atom?limit=501", serve.base)).status,
        400
    );

    // Conditional GET.
    let etag = feed.header("etag").expect("etag");
    let last_modified = feed.header("last-modified").expect("last-modified");
    let url = format!("{}/feeds/anomaly.atom", serve.base);
    let again = request("GET", &url, &[("If-None-Match", &etag)]).unwrap();
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("etag").as_deref(), Some(etag.as_str()));
    let since = request("GET", &url, &[("If-Modified-Since", &last_modified)]).unwrap();
    assert_eq!(since.status, 304);
    // Rendering happens once per change: asking again is answered from the cache.
    let renders = |serve: &Serve| common::metric(&serve.base, "paperboy_feed_renders_total ");
    let before = renders(&serve);
    assert_eq!(get(&url).body, feed.body);
    assert_eq!(
        renders(&serve),
        before,
        "the second request is served from the cache"
    );
    let metrics = get(&format!("{}/metrics", serve.base)).text();
    assert!(
        metrics.contains("paperboy_feed_responses_total{code=\"304\"} 2"),
        "{metrics}"
    );
    let stale = request("GET", &url, &[("If-None-Match", "\"stale\"")]).unwrap();
    assert_eq!(stale.status, 200);
    assert_eq!(stale.body, feed.body, "the same bytes for the same papers");

    // Unknown topics and paths are 404 with a short plain-text body.
    let missing = get(&format!("{}/feeds/nope.atom", serve.base));
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert!(missing.text().contains("no topic"));
    assert_eq!(get(&format!("{}/nowhere", serve.base)).status, 404);
    assert_eq!(
        get(&format!("{}/feeds/anomaly.txt", serve.base)).status,
        404
    );
    let post = request("POST", &url, &[]).unwrap();
    assert_eq!(post.status, 405);
    assert!(
        post.text().contains("method not allowed"),
        "a short plain-text body"
    );
    assert_eq!(
        get(&format!("{}/feeds/everything.atom?before=zz", serve.base)).status,
        400
    );

    // The three formats carry the same entries in the same order.
    for (ext, content_type) in [
        ("rss", "application/rss+xml; charset=utf-8"),
        ("json", "application/feed+json; charset=utf-8"),
    ] {
        let other = get(&format!("{}/feeds/everything.{ext}", serve.base));
        assert_eq!(other.status, 200, "{ext}");
        assert_eq!(other.header("content-type").as_deref(), Some(content_type));
        assert_eq!(common::entry_ids(&other.body), all_ids, "{ext}");
    }

    // HEAD answers with the headers and no body; compression when asked, with Vary.
    let head = request("HEAD", &url, &[]).unwrap();
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("etag").as_deref(), Some(etag.as_str()));
    compressed_forms_are_made_once(&serve, &everything.body);

    // Paging: the next links walk the whole history, each paper once, newest first.
    let mut walked = Vec::new();
    let mut next = Some(format!("{}/feeds/everything.atom?limit=10", serve.base));
    let mut pages = 0;
    while let Some(page_url) = next.take() {
        let page = get(&page_url.replace("http://feeds.example.org", &serve.base));
        assert_eq!(page.status, 200, "{page_url}");
        let parsed = feed_rs::parser::parse(page.body.as_slice()).unwrap();
        walked.extend(parsed.entries.iter().map(|e| e.id.clone()));
        next = parsed
            .links
            .iter()
            .find(|l| l.rel.as_deref() == Some("next"))
            .map(|l| l.href.clone());
        pages += 1;
        assert!(pages <= 10, "paging does not end");
    }
    assert_eq!(pages, 5);
    assert_eq!(walked, all_ids, "every paper once, in order");

    // The topic page, and OPML with every topic's feed.
    let topic_page = get(&format!("{}/topics/anomaly", serve.base));
    assert_eq!(topic_page.status, 200);
    let html = topic_page.text();
    assert!(
        html.contains("Conditional anomaly detection using soft harmonic functions"),
        "{html}"
    );
    assert!(html.contains("Michal Valko"));
    assert!(html.contains(r#"type="application/feed+json""#));
    assert_eq!(get(&format!("{}/topics/nope", serve.base)).status, 404);
    let opml = get(&format!("{}/feeds.opml", serve.base));
    assert_eq!(opml.status, 200);
    let opml_text = opml.text();
    let doc = roxmltree::Document::parse(&opml_text).expect("OPML is XML");
    let outlines: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("outline"))
        .filter_map(|n| n.attribute("xmlUrl"))
        .collect();
    assert_eq!(
        outlines,
        vec![
            "http://feeds.example.org/feeds/anomaly.atom",
            "http://feeds.example.org/feeds/agents.atom",
            "http://feeds.example.org/feeds/everything.atom"
        ]
    );

    // The index lists topics with counts and autodiscovery, and sources with their results.
    let index = get(&format!("{}/", serve.base)).text();
    assert!(index.contains(r#"<link rel="alternate" type="application/atom+xml" title="Agents (atom)" href="http://feeds.example.org/feeds/agents.atom">"#), "{index}");
    assert!(index.contains(r#"<link rel="alternate" type="application/rss+xml" title="Agents (rss)" href="http://feeds.example.org/feeds/agents.rss">"#), "{index}");
    assert!(index.contains("/feeds.opml"));
    assert!(index.contains("Anomaly &lt;detection&gt; &amp; friends"));
    assert!(index.contains("<td class=\"n\">2</td>"), "{index}");
    assert!(index.contains("HTTP 500"), "{index}");
    assert!(index.contains("not a feed"), "{index}");
    assert_eq!(get(&format!("{}/healthz", serve.base)).status, 200);

    let status = serve.stop();
    assert!(status.success(), "serve exits cleanly on SIGTERM: {status}");

    // After a restart the papers are still there (serve polls again at start-up, and the
    // fixture server still answers; the ETag source answers 304).
    let serve = Serve::start(&config);
    let after = get(&format!("{}/feeds/everything.atom", serve.base));
    assert_eq!(common::entry_ids(&after.body), all_ids);
    drop(serve);
}

#[test]
fn changed_topics_retag_stored_papers() {
    let fixtures = FixtureServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &fixtures);
    assert!(run(&config, &["ingest"]).status.success());
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("'anomal* AND detection'", "'medical OR clinical'"),
    )
    .unwrap();
    // serve answers at once; the re-tagging runs beside it and lands within seconds.
    let serve = Serve::start(&config);
    let retagged = |ids: &[String]| !ids.contains(&"https://arxiv.org/abs/2604.21953".to_string());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let ids = loop {
        let feed = get(&format!("{}/feeds/anomaly.atom", serve.base));
        assert_eq!(feed.status, 200, "answered while re-tagging");
        let ids = common::entry_ids(&feed.body);
        if retagged(&ids) || std::time::Instant::now() > deadline {
            break ids;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    // "clinical alerting" and "medical-MFMs" now match; the athletics paper no longer does.
    assert!(
        ids.contains(&"https://arxiv.org/abs/2604.21956".to_string()),
        "{ids:?}"
    );
    assert!(
        ids.contains(&"https://arxiv.org/abs/2604.21952".to_string()),
        "{ids:?}"
    );
    assert!(
        !ids.contains(&"https://arxiv.org/abs/2604.21953".to_string()),
        "{ids:?}"
    );
}

#[test]
fn check_reports_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[[sources]]\nid = \"A\"\nkind = \"feed\"\nurl = \"gopher://x\"\n[[topics]]\nid = \"t\"\nquery = \"x AND\"\n",
    )
    .unwrap();
    let out = run(&path, &["check"]);
    assert_eq!(out.status.code(), Some(2));
    // serve and ingest refuse the same config, with the same report.
    for command in [&["serve", "--listen", "127.0.0.1:0"][..], &["ingest"][..]] {
        let refused = run(&path, command);
        assert_eq!(refused.status.code(), Some(2), "{command:?}");
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("topics[0] (t).query: at position 6")
        );
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sources[0].id"), "{err}");
    assert!(err.contains("sources[0].url"), "{err}");
    assert!(err.contains("topics[0] (t).query: at position 6"), "{err}");

    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    for file in ["paperboy.toml", "offline.toml"] {
        let out = run(&good.join(file), &["check"]);
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let missing = run(&dir.path().join("none.toml"), &["check"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("none.toml"));
}

#[test]
fn config_path_comes_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("env.toml");
    std::fs::write(&path, "[[topics]]\nid = \"t\"\nquery = \"*\"\n").unwrap();
    let out = common::paperboy()
        .env("PAPERBOY_CONFIG", &path)
        .arg("check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("env.toml: ok"));
}

#[test]
fn paged_sources_follow_every_page() {
    let fixtures = FixtureServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("paged.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[store]
path = "store.sled"

[[sources]]
id = "api"
kind = "arxiv-api"
url = "{api}"
max_results = 250

[[sources]]
id = "oai"
kind = "arxiv-oai"
url = "{oai}"
max_results = 5000

[[topics]]
id = "everything"
query = "*"
"#,
            api = fixtures.url("/api?search_query=cat:cs.LG"),
            oai = fixtures.url("/oai?verb=ListRecords&metadataPrefix=arXivRaw&set=cs"),
        ),
    )
    .unwrap();
    let out = run(&config, &["ingest"]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("api: 250 new, 0 updated, 0 unchanged"),
        "{text}"
    );
    assert!(
        text.contains("oai: 1002 new, 0 updated, 0 unchanged"),
        "{text}"
    );
    let asked = fixtures.hits.paged.lock().unwrap().clone();
    let api: Vec<&String> = asked
        .iter()
        .filter(|q| q.contains("search_query"))
        .collect();
    assert_eq!(api.len(), 3, "{asked:?}");
    assert!(api[0].ends_with("start=0&max_results=100"), "{}", api[0]);
    assert!(api[1].ends_with("start=100&max_results=100"), "{}", api[1]);
    assert!(api[2].ends_with("start=200&max_results=50"), "{}", api[2]);
    let oai: Vec<&String> = asked.iter().filter(|q| q.contains("ListRecords")).collect();
    assert_eq!(
        oai,
        vec![
            "verb=ListRecords&metadataPrefix=arXivRaw&set=cs",
            "verb=ListRecords&resumptionToken=496549%7C47001"
        ]
    );

    // Again: the API's entries are known as stored, left out unread, and counted; the pages
    // still run to the same end (the pager counts the entries left out).
    let out = run(&config, &["ingest"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("api: 0 new, 0 updated, 250 unchanged"),
        "{text}"
    );
    let asked = fixtures.hits.paged.lock().unwrap().clone();
    let api = asked.iter().filter(|q| q.contains("search_query")).count();
    assert_eq!(api, 6, "{asked:?}");
}

/// An entry a source serves again exactly as before is not read again, and one written
/// differently is: the store ends with the new text.
#[test]
fn entries_served_unchanged_are_left_out_and_changed_ones_read() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("page.atom.xml");
    let original = std::fs::read_to_string(format!(
        "{}/../shared/fixtures/sources/arxiv-api-cslg-or-csai-m20.atom.xml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    std::fs::write(&feed, &original).unwrap();
    let config = dir.path().join("paperboy.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = \"store.sled\"\n\n[[sources]]\nid = \"api\"\nkind = \"arxiv-api\"\nurl = \"file://{}\"\n\n[[topics]]\nid = \"all\"\nquery = \"*\"\n",
            feed.display()
        ),
    )
    .unwrap();
    let ingest = |expected: &str| {
        let out = run(&config, &["ingest"]);
        let text = stdout(&out);
        assert!(out.status.success(), "{text}");
        assert!(text.contains(expected), "{expected}: {text}");
    };
    ingest("api: 20 new, 0 updated, 0 unchanged");
    ingest("api: 0 new, 0 updated, 20 unchanged");
    let edited = original.replacen(
        "<summary>We introduce Hyper Input",
        "<summary>We introduce zzqx Hyper Input",
        1,
    );
    assert_ne!(edited, original);
    std::fs::write(&feed, &edited).unwrap();
    ingest("api: 0 new, 1 updated, 19 unchanged");
    let out = run(&config, &["search", "--count", "abs:zzqx"]);
    assert_eq!(stdout(&out).trim(), "1", "{}", stdout(&out));
    ingest("api: 0 new, 0 updated, 20 unchanged");
}

#[test]
fn hostile_bytes_cost_only_their_own_source() {
    let dir = tempfile::tempdir().unwrap();
    // feed-rs 2.4 panics on an itunes:duration that overflows u64.
    std::fs::write(
        dir.path().join("panic.xml"),
        r#"<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"><channel><title>x</title>
        <item><title>boom</title><guid>1</guid><itunes:duration>99999999999999999999999</itunes:duration></item>
        </channel></rss>"#,
    )
    .unwrap();
    // Dates HTTP cannot express, and a control character in a link.
    std::fs::write(
        dir.path().join("dates.xml"),
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>d</title><id>urn:d</id><updated>2026-01-01T00:00:00Z</updated>\
        <entry><id>urn:d:1</id><title>Year one</title><updated>0001-01-01T00:00:00Z</updated><link href=\"https://d.example/1&#x1;\"/></entry>\
        <entry><id>urn:d:2</id><title>From 1960</title><updated>1960-01-01T00:00:00Z</updated></entry>\
        </feed>",
    )
    .unwrap();
    let good = common::feeds_dir().join("arxiv-cs-lg.rss.xml");
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[store]
path = "s.sled"
[[sources]]
id = "panics"
kind = "feed"
url = "file://panic.xml"
[[sources]]
id = "dates"
kind = "feed"
url = "file://dates.xml"
[[sources]]
id = "good"
kind = "arxiv"
url = "file://{}"
[[topics]]
id = "all"
query = "*"
"#,
            good.display()
        ),
    )
    .unwrap();
    let out = run(&config, &["ingest"]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("panics: error: the feed parser failed on this input (it panicked)"),
        "{text}"
    );
    assert!(text.contains("dates: 2 new"), "{text}");
    assert!(text.contains("good: 3 new"), "{text}");

    let serve = Serve::start(&config);
    let feed = get(&format!("{}/feeds/all.atom", serve.base));
    assert_eq!(feed.status, 200);
    let xml = feed.text();
    assert_eq!(common::entry_ids(&feed.body).len(), 5);
    assert!(
        roxmltree::Document::parse(&xml).is_ok(),
        "well-formed XML: {xml}"
    );
    assert!(!xml.contains("0001-01-01"), "{xml}");
    assert!(feed.header("last-modified").is_some());
}

#[test]
fn search_and_explain_help_write_queries() {
    let dir = tempfile::tempdir().unwrap();
    let feeds = common::feeds_dir();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[store]
path = "s.sled"
[[sources]]
id = "lg"
kind = "arxiv"
url = "file://{lg}"
[[sources]]
id = "hf"
kind = "hf-daily"
url = "file://{hf}"
[[topics]]
id = "anomaly"
title = "Anomaly detection"
query = 'anomal* AND detect*'
"#,
            lg = feeds.join("arxiv-cs-lg.rss.xml").display(),
            hf = feeds.join("hf-daily-papers.json").display(),
        ),
    )
    .unwrap();
    assert!(run(&config, &["ingest"]).status.success());

    let count = run(&config, &["search", "anomal*", "--count"]);
    assert!(count.status.success());
    assert_eq!(stdout(&count), "2\n");
    let all = run(&config, &["search", "*", "--count"]);
    assert_eq!(stdout(&all), "33\n");

    let listing = stdout(&run(&config, &["search", "cat:cs.LG AND anomal*"]));
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 3, "{listing}");
    assert!(
        lines[0].starts_with("2604.2195") && lines[0].contains("  2026-04-27  "),
        "{listing}"
    );
    assert_eq!(lines[2], "2 papers match");
    let limited = stdout(&run(&config, &["search", "src:hf", "--limit", "3"]));
    assert_eq!(limited.lines().count(), 4, "{limited}");
    assert!(limited.ends_with("30 papers match\n"), "{limited}");

    let bad = run(&config, &["search", "a OR"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("at position 5"));

    // The search index: rebuilt from scratch by reindex, and from the store when it is lost.
    let reindexed = run(&config, &["reindex"]);
    assert!(reindexed.status.success());
    assert_eq!(stdout(&reindexed), "reindexed 33 papers\n");
    assert_eq!(stdout(&run(&config, &["search", "*", "--count"])), "33\n");
    std::fs::remove_dir_all(dir.path().join("s.sled.index")).unwrap();
    assert_eq!(
        stdout(&run(&config, &["search", "anomal*", "--count"])),
        "2\n"
    );

    // While serve holds the store, search reads the index serve keeps.
    let serve = Serve::start(&config);
    let during = run(&config, &["search", "cat:cs.LG AND anomal*"]);
    assert!(
        during.status.success(),
        "{}",
        String::from_utf8_lossy(&during.stderr)
    );
    assert_eq!(stdout(&during), listing);

    // Any query is a feed, with the papers search lists, in the same order.
    let q = "cat%3Acs.LG%20AND%20anomal*";
    let atom = get(&format!("{}/search.atom?q={q}", serve.base));
    assert_eq!(atom.status, 200);
    let feed = feed_rs::parser::parse(atom.body.as_slice()).expect("the query feed parses");
    let titles: Vec<String> = feed
        .entries
        .iter()
        .map(|e| e.title.as_ref().unwrap().content.clone())
        .collect();
    let listed: Vec<&str> = listing
        .lines()
        .take(2)
        .map(|l| l.splitn(3, "  ").nth(2).unwrap())
        .collect();
    assert_eq!(titles, listed);
    assert!(
        feed.title
            .unwrap()
            .content
            .contains("cat:cs.LG AND anomal*"),
        "the title says the query"
    );
    // Conditional GET, as topic feeds.
    let etag = atom.headers["etag"].to_str().unwrap().to_string();
    let again = request(
        "GET",
        &format!("{}/search.atom?q={q}", serve.base),
        &[("If-None-Match", &etag)],
    )
    .unwrap();
    assert_eq!(again.status, 304);
    // Paging: one entry a page, then the next page by the feed's own link.
    let first = get(&format!("{}/search.json?q={q}&limit=1", serve.base));
    let first: serde_json::Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    let next = first["next_url"].as_str().expect("a next page");
    // The links use the configured base URL; this serve listens elsewhere.
    let path = &next[next.find("/search.json").unwrap()..];
    let second = get(&format!("{}{path}", serve.base));
    let second: serde_json::Value = serde_json::from_slice(&second.body).unwrap();
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second.get("next_url").is_none(), "two papers, two pages");
    assert_ne!(first["items"][0]["id"], second["items"][0]["id"]);
    assert_eq!(get(&format!("{}/search.rss?q={q}", serve.base)).status, 200);
    // A query that does not parse is a 400 with the parser's message.
    let bad = get(&format!("{}/search.atom?q=a%20OR", serve.base));
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("at position 5"), "{}", bad.text());
    assert_eq!(get(&format!("{}/search.atom", serve.base)).status, 400);

    // The preview: how many match, the newest, the feeds and the TOML of a topic.
    let preview = get(&format!("{}/search?q=anomal*", serve.base)).text();
    assert!(preview.contains("2 papers match"), "{preview}");
    assert!(preview.contains("/search.atom?q=anomal*"), "{preview}");
    assert!(preview.contains("query = \"anomal*\""), "{preview}");
    assert!(
        preview.contains("Conditional anomaly detection"),
        "{preview}"
    );
    let broken = get(&format!("{}/search?q=a%20OR", serve.base)).text();
    assert!(broken.contains("does not parse: at position 5"), "{broken}");
    assert!(get(&format!("{}/", serve.base))
        .text()
        .contains("action=\"http://127.0.0.1"));
    assert!(serve.stop().success());

    let inside = stdout(&run(&config, &["explain", "anomaly", "arXiv:2604.21953v1"]));
    assert!(
        inside.contains("topic anomaly (Anomaly detection): IN this topic"),
        "{inside}"
    );
    assert!(
        inside.contains("✓ anomal*  matched \"anomaly\" in the title"),
        "{inside}"
    );
    let outside = stdout(&run(
        &config,
        &[
            "explain",
            "anomaly",
            "https://huggingface.co/papers/2606.00467",
        ],
    ));
    assert!(outside.contains("NOT in this topic"), "{outside}");
    assert!(
        outside.contains("✗ anomal*  not found in the title or abstract"),
        "{outside}"
    );

    let unknown = run(&config, &["explain", "nope", "2604.21953"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no topic \"nope\"; topics are: anomaly")
    );
    let missing = run(&config, &["explain", "anomaly", "1111.11111"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no stored paper"));
}

#[test]
fn polling_honours_retry_after_gone_and_permanent_redirects() {
    let fixtures = FixtureServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[store]
path = "s.sled"
[[sources]]
id = "busy"
kind = "feed"
url = "{busy}"
[[sources]]
id = "gone"
kind = "feed"
url = "{gone}"
[[sources]]
id = "moved"
kind = "arxiv"
url = "{moved}"
[[sources]]
id = "loop"
kind = "feed"
url = "{looping}"
[[topics]]
id = "all"
query = "*"
"#,
            busy = fixtures.url("/retry/7200"),
            gone = fixtures.url("/status/410"),
            moved = fixtures.url("/moved/arxiv-cs-lg.rss.xml"),
            looping = fixtures.url("/loop"),
        ),
    )
    .unwrap();
    let first = stdout(&run(&config, &["ingest"]));
    assert!(
        first.contains("busy: error: HTTP 429 Too Many Requests from"),
        "{first}"
    );
    assert!(first.contains("(retry after 7200s)"), "{first}");
    assert!(first.contains("gone: error: HTTP 410 Gone from"), "{first}");
    assert!(
        first.contains("moved: 3 new, 0 updated, 0 unchanged"),
        "{first}"
    );
    assert!(
        first.contains("loop: error: more than 5 redirects from"),
        "{first}"
    );

    let status = stdout(&run(&config, &["status"]));
    // The block of lines about one source: its header line and the indented lines after it.
    let block = |id: &str| -> String {
        let mut lines = status
            .lines()
            .skip_while(|l| !l.starts_with(&format!("{id} (")));
        let head = lines.next().unwrap_or_else(|| panic!("{id} in {status}"));
        std::iter::once(head)
            .chain(lines.take_while(|l| l.starts_with("  ")))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let busy = block("busy");
    assert!(busy.contains("failures in a row: 1"), "{busy}");
    // Retry-After pushed the next poll two hours out, past the hourly interval.
    let next: chrono::DateTime<chrono::Utc> = busy
        .lines()
        .find_map(|l| l.trim().strip_prefix("next poll:"))
        .map(|t| {
            chrono::NaiveDateTime::parse_from_str(
                t.trim().trim_end_matches(" UTC"),
                "%Y-%m-%d %H:%M:%S",
            )
            .unwrap()
            .and_utc()
        })
        .expect("a next poll");
    let ahead = next - chrono::Utc::now();
    assert!(
        ahead > chrono::Duration::minutes(115) && ahead < chrono::Duration::minutes(140),
        "{busy}"
    );
    assert!(
        block("gone").contains("never: the source is gone"),
        "{status}"
    );
    let moved = block("moved");
    assert!(
        moved.contains(&format!(
            "moved permanently to {}",
            fixtures.url("/feeds/arxiv-cs-lg.rss.xml")
        )),
        "{moved}"
    );

    // A gone source is not polled again; the others are.
    let before = fixtures.hits.requests.load(Ordering::SeqCst);
    let second = stdout(&run(&config, &["ingest"]));
    assert!(second.contains("gone: error: gone:"), "{second}");
    assert!(second.contains("busy: error: HTTP 429"), "{second}");
    assert_eq!(
        fixtures.hits.requests.load(Ordering::SeqCst),
        before + 1,
        "one request to /feeds for the moved source"
    );
}

#[test]
fn hostile_servers_cost_only_their_own_sources() {
    let fixtures = FixtureServer::start();
    let (silent, _listener) = common::silent_server();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    let hostile = [
        ("e500", fixtures.url("/status/500")),
        ("e429", fixtures.url("/retry/30")),
        ("endless", fixtures.url("/hostile/endless")),
        ("silent", format!("http://{silent}/feed")),
        ("huge", fixtures.url("/hostile/huge")),
        ("bomb", fixtures.url("/hostile/gzip-bomb")),
        ("loop", fixtures.url("/loop")),
        ("html", fixtures.url("/html")),
        ("truncated", fixtures.url("/hostile/truncated")),
        ("badutf8", fixtures.url("/hostile/invalid-utf8")),
        ("laughs", fixtures.url("/hostile/billion-laughs")),
        ("xxe", fixtures.url("/hostile/xxe")),
    ];
    let mut text = String::from(
        "[store]\npath = \"s.sled\"\n[fetch]\ntimeout = \"3s\"\nconnect_timeout = \"2s\"\nmax_body_mib = 2\n",
    );
    for (id, url) in &hostile {
        text.push_str(&format!(
            "[[sources]]\nid = \"{id}\"\nkind = \"feed\"\nurl = \"{url}\"\n"
        ));
    }
    text.push_str(&format!(
        "[[sources]]\nid = \"good\"\nkind = \"arxiv\"\nurl = \"{}\"\n[[topics]]\nid = \"all\"\nquery = \"*\"\n",
        fixtures.url("/feeds/arxiv-cs-lg.rss.xml")
    ));
    std::fs::write(&config, text).unwrap();

    // Under /usr/bin/time for the peak memory; bounded in time (the fetch timeout is 3 s, and
    // four fetches run at once).
    let started = std::time::Instant::now();
    let mut child = common::timed_ingest(&config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("/usr/bin/time runs paperboy");
    let limit = std::time::Duration::from_secs(120).saturating_sub(started.elapsed());
    if common::wait_within(&mut child, limit).is_none() {
        let _ = child.kill();
        panic!("ingest hung on hostile sources");
    }
    let out = child.wait_with_output().unwrap();
    let report = stdout(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}{stderr}");
    let line = |id: &str| -> &str {
        report
            .lines()
            .find(|l| l.starts_with(&format!("{id}: ")))
            .unwrap_or_else(|| panic!("no line for {id} in {report}"))
    };
    let expectations = [
        ("e500", "HTTP 500"),
        ("e429", "HTTP 429 Too Many Requests"),
        ("endless", "timed out"),
        ("silent", "timed out"),
        ("huge", "larger than 2097152 bytes"),
        ("bomb", "larger than 2097152 bytes"),
        ("loop", "more than 5 redirects"),
        ("html", "not a feed"),
        ("truncated", "error"),
        ("laughs", ""),
        ("xxe", ""),
        ("badutf8", ""),
    ];
    for (id, needle) in expectations {
        let l = line(id);
        assert!(l.contains(needle), "{l}");
    }
    // The truncated and mis-encoded copies of the same listing may have stored these papers
    // first (sources run concurrently); either way the good source is stored without error.
    let good = line("good");
    assert!(good.contains(" new, ") && !good.contains("error"), "{good}");
    let maxrss_kb = common::maxrss_kb(&stderr);
    println!(
        "{report}hostile ingest: {:?}, peak memory {} MiB",
        started.elapsed(),
        maxrss_kb / 1024
    );
    assert!(
        maxrss_kb < 256 * 1024,
        "memory stays bounded: {maxrss_kb} KiB"
    );

    // Nothing from /etc/passwd reached the store, and the entities were not expanded.
    let leaked = stdout(&run(&config, &["search", "root OR lollollol", "--count"]));
    assert_eq!(leaked, "0\n");

    // serve stays up and serves the good source's papers while the hostile ones misbehave.
    let serve = Serve::start(&config);
    let feed = get(&format!("{}/feeds/all.atom", serve.base));
    assert_eq!(feed.status, 200);
    let ids = common::entry_ids(&feed.body);
    for id in ["2604.21952", "2604.21953", "2604.21956"] {
        assert!(
            ids.contains(&format!("https://arxiv.org/abs/{id}")),
            "{ids:?}"
        );
    }
    assert_eq!(get(&format!("{}/healthz", serve.base)).status, 200);
}

/// An Atom feed of `count` arXiv papers, every title and abstract saying `version`: each
/// version replaces every stored record.
fn versioned_feed(count: usize, version: usize) -> String {
    let words = "sparse graphs rigidity percolation spectra expansion random walks ";
    let entries: String = (0..count)
        .map(|n| {
            format!(
                "<entry><id>https://arxiv.org/abs/2612.{n:05}</id>\
                 <title>Sparse graphs, part {n}, version {version}</title>\
                 <link href=\"https://arxiv.org/abs/2612.{n:05}\"/>\
                 <author><name>Ada Example</name></author>\
                 <summary>Version {version} of paper {n}: {}</summary>\
                 <updated>2026-11-{:02}T00:00:00Z</updated></entry>\n",
                words.repeat(12),
                version + 1
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <feed xmlns=\"http://www.w3.org/2005/Atom\"><title>versions</title>\
         <id>urn:test:versions</id><updated>2026-11-30T00:00:00Z</updated>\n{entries}</feed>\n"
    )
}

/// `ingest` compacts the store itself once new versions of its papers have grown it well past
/// its size at the first ingest (sled keeps replaced records' bytes until it rewrites their
/// segment), keeping every paper; with `auto_compact = false` it never does.
#[test]
fn ingest_compacts_a_store_that_new_versions_grew() {
    const PAPERS: usize = 3000;
    let mut sizes = Vec::new();
    for auto in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let feed = dir.path().join("feed.xml");
        let config = dir.path().join("paperboy.toml");
        std::fs::write(
            &config,
            format!(
                "[store]\npath = \"s.sled\"\nauto_compact = {auto}\n\n\
                 [[sources]]\nid = \"g\"\nkind = \"feed\"\nurl = \"file://{}\"\n\n\
                 [[topics]]\nid = \"all\"\nquery = '*'\n",
                feed.display()
            ),
        )
        .unwrap();
        // The ingests that compacted, and why: never compacted before, or grown.
        let mut compactions = Vec::new();
        for version in 1..=6 {
            std::fs::write(&feed, versioned_feed(PAPERS, version)).unwrap();
            let ingest = run(&config, &["ingest"]);
            let stderr = String::from_utf8_lossy(&ingest.stderr).into_owned();
            assert!(ingest.status.success(), "version {version}: {stderr}");
            let first = stderr.contains("was never compacted: compacting");
            let grown = stderr.contains("at its leanest: compacting");
            if first || grown {
                assert!(!(first && grown), "version {version}: {stderr}");
                // Replaced by its copy, or kept when the copy was no smaller.
                assert!(
                    stderr.contains("store compacted: ")
                        || stderr.contains("store kept as it was: "),
                    "version {version}: {stderr}"
                );
                compactions.push((version, first));
            }
        }
        if auto {
            // The first ingest, which wrote the store in bulk; then new versions outgrow it.
            assert_eq!(compactions.first(), Some(&(1, true)), "{compactions:?}");
            assert!(
                compactions.iter().any(|&(v, first)| v > 1 && !first),
                "{compactions:?}"
            );
        } else {
            assert!(compactions.is_empty(), "compacted though told not to");
        }
        let counted = run(&config, &["search", "--count", "*"]);
        assert_eq!(String::from_utf8_lossy(&counted.stdout).trim(), "3000");
        let latest = run(&config, &["search", "--count", "ti:\"version 6\""]);
        assert_eq!(String::from_utf8_lossy(&latest.stdout).trim(), "3000");
        sizes.push(paperboy::store::disk_bytes(&dir.path().join("s.sled")));
    }
    assert!(
        sizes[0] < sizes[1],
        "compacted {} bytes, not compacted {}",
        sizes[0],
        sizes[1]
    );
}

/// A running `serve` gives back the bytes that replaced versions leave in its store: polls that
/// bring a new version of every paper (each reload points the source at the next version)
/// grow the store until it is compacted in place, while its feeds answer throughout. Nothing
/// is lost: every paper is there, at its last version.
#[test]
fn serve_compacts_its_store_in_place_as_new_versions_arrive() {
    let log = serve_new_versions(true);
    assert!(log.contains("was never compacted: compacting"), "{log}");
}

/// With `auto_compact = false`, `serve` leaves the store as it grows.
#[test]
fn serve_never_compacts_when_told_not_to() {
    let log = serve_new_versions(false);
    for said in [
        "compacting",
        "store compacted",
        "store kept as it was",
        "not be compacted",
    ] {
        assert!(!log.contains(said), "{log}");
    }
}

/// A compaction that finds the lock beside the store taken (another command opening the
/// store, as `status` does while `serve` holds it) never began: `serve` tries again after its
/// next polls, not an hour later as after a compaction that failed part way.
#[test]
fn serve_compacts_after_the_next_poll_when_another_command_held_the_store() {
    const PAPERS: usize = 3000;
    const VERSIONS: usize = 14;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("paperboy.toml");
    let log = dir.path().join("serve.log");
    let point_at = versions_config(dir.path(), PAPERS, VERSIONS, true);
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    point_at(1);
    let serve = Serve::start_logged(&config, &log);
    let feed_url = format!("{}/feeds/all.atom", serve.base);
    // The first poll's compaction (the store was never compacted) records its leanest size.
    common::wait_for("the first compaction", &log, || {
        let log = logged();
        log.contains("store compacted: ") || log.contains("store kept as it was")
    });
    let poll = |version: usize| {
        point_at(version);
        assert!(common::signal(&serve.child, "HUP"));
        wait_for_version(&feed_url, version, &log);
    };
    // Another command holds the lock while new versions grow the store until a compaction
    // is due and finds it taken.
    let lock = std::fs::File::options()
        .read(true)
        .write(true)
        .open(dir.path().join("s.sled.lock"))
        .unwrap();
    lock.lock().unwrap();
    let mut version = 1;
    while !logged().contains("at its leanest: compacting") {
        version += 1;
        assert!(version < VERSIONS, "no compaction came due:\n{}", logged());
        poll(version);
    }
    common::wait_for("the compaction to find the store held", &log, || {
        logged().contains("could not be compacted now (tried again after the next poll)")
    });
    let failed_at = logged().len();
    lock.unlock().unwrap();
    let compacted = || {
        logged()
            .get(failed_at..)
            .is_some_and(|after| after.contains("store compacted: "))
    };
    // sled gives back some bytes of its own accord, so the store may take another version or
    // two to be due again; without the retry, none of these polls would compact it.
    loop {
        version += 1;
        assert!(
            version <= VERSIONS,
            "no compaction after the lock was let go:\n{}",
            logged()
        );
        poll(version);
        let checked = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while !compacted() && std::time::Instant::now() < checked {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if compacted() {
            break;
        }
    }
    drop(serve);
    let counted = run(&config, &["search", "--count", "*"]);
    assert_eq!(
        String::from_utf8_lossy(&counted.stdout).trim(),
        PAPERS.to_string()
    );
}

/// Writes `versions` feeds of the same `papers` in `dir` (`feed-1.xml`, … each a new version
/// of every paper); returns what points `dir`'s `paperboy.toml` (a store `s.sled`, one feed
/// source `g`, the topic `all`) at one of them.
fn versions_config(
    dir: &std::path::Path,
    papers: usize,
    versions: usize,
    auto_compact: bool,
) -> impl Fn(usize) {
    for version in 1..=versions {
        let feed = dir.join(format!("feed-{version}.xml"));
        std::fs::write(feed, versioned_feed(papers, version)).unwrap();
    }
    let config = dir.join("paperboy.toml");
    move |version: usize| {
        std::fs::write(
            &config,
            format!(
                "[store]\npath = \"s.sled\"\nauto_compact = {auto_compact}\n\n\
                 [[sources]]\nid = \"g\"\nkind = \"feed\"\nurl = \"file://feed-{version}.xml\"\n\n\
                 [[topics]]\nid = \"all\"\nquery = '*'\n"
            ),
        )
        .unwrap();
    }
}

/// Waits until the feed at `feed_url` lists the papers at `version` ([`versioned_feed`]).
fn wait_for_version(feed_url: &str, version: usize, log: &std::path::Path) {
    let title = format!("version {version}</title>");
    common::wait_for(&format!("version {version} in the feed"), log, || {
        get(feed_url).text().contains(&title)
    });
}

/// Runs `serve` (with `auto_compact` as given) while five versions of 3,000 papers arrive one
/// poll each, a reader fetching the feed all along; returns its log once it has stopped.
/// With `auto_compact`, waits for a compaction after the store grew.
fn serve_new_versions(auto_compact: bool) -> String {
    const PAPERS: usize = 3000;
    const VERSIONS: usize = 5;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("paperboy.toml");
    let log = dir.path().join("serve.log");
    let point_at = versions_config(dir.path(), PAPERS, VERSIONS, auto_compact);
    point_at(1);
    let serve = Serve::start_logged(&config, &log);
    let feed_url = format!("{}/feeds/all.atom", serve.base);
    let done = std::sync::atomic::AtomicBool::new(false);
    // Set once the first version is searchable: from then on every search finds papers.
    let first_stored = std::sync::atomic::AtomicBool::new(false);
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    /// Tells the reader to stop when dropped: when the test ends, and when it fails.
    struct Stop<'a>(&'a std::sync::atomic::AtomicBool);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let statuses = std::thread::scope(|s| {
        let stop = Stop(&done);
        // A reader all along: the topic feed, and searches no cache has seen.
        let reader = s.spawn(|| {
            let mut statuses = BTreeSet::new();
            let mut n = 0;
            while !done.load(Ordering::SeqCst) {
                n += 1;
                statuses.insert(get(&feed_url).status);
                // The search page reads each paper it lists from the store.
                // Read before asking: an answer from before the papers were searchable
                // finds none.
                let stored = first_stored.load(Ordering::SeqCst);
                let search = format!("{}/search?q=sparse+OR+unseen{n}", serve.base);
                let found = get(&search);
                statuses.insert(found.status);
                if stored && found.status == 200 && !found.text().contains("Sparse graphs, part") {
                    statuses.insert(0);
                }
            }
            statuses
        });
        for version in 1..=VERSIONS {
            if version > 1 {
                point_at(version);
                assert!(common::signal(&serve.child, "HUP"));
            }
            wait_for_version(&feed_url, version, &log);
            // The index follows the store: searches find the papers a moment later.
            let search = format!("{}/search?q=sparse", serve.base);
            common::wait_for("the papers in the search index", &log, || {
                get(&search).text().contains("Sparse graphs, part")
            });
            first_stored.store(true, Ordering::SeqCst);
        }
        if auto_compact {
            // Grown by the replaced versions, then compacted: the compaction follows the poll.
            common::wait_for("a compaction after the store grew", &log, || {
                let log = logged();
                log.find("at its leanest: compacting")
                    .is_some_and(|at| log[at..].contains("store compacted: "))
            });
        }
        drop(stop);
        reader.join().unwrap()
    });
    // 0: a search that found nothing.
    assert_eq!(statuses, BTreeSet::from([200]), "{}", logged());
    // Stopped (SIGTERM, waited for: each poll's compaction check is done) before the store
    // is read again.
    drop(serve);
    let count = |query: &str| {
        let counted = run(&config, &["search", "--count", query]);
        String::from_utf8_lossy(&counted.stdout).trim().to_string()
    };
    assert_eq!(count("*"), PAPERS.to_string());
    assert_eq!(
        count(&format!("ti:\"version {VERSIONS}\"")),
        PAPERS.to_string()
    );
    logged()
}
