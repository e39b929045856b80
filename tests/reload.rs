//! Reloading the config on `SIGHUP` through the real binary: a changed, an added and a removed
//! topic and an added source take effect while requests run throughout and none fails; an
//! invalid config is refused with every problem logged and the running one keeps serving.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{entry_ids, get, request, run, wait_for, FixtureServer, Serve};

/// The config: `sources` and `topics` are TOML tables as they appear in the file.
fn write_config(path: &Path, sources: &str, topics: &str) {
    let text = format!(
        "[server]\nbase_url = \"http://feeds.example.org\"\n\n[store]\npath = \"store.sled\"\n\n\
         {sources}\n{topics}\n"
    );
    std::fs::write(path, text).unwrap();
}

fn source(id: &str, kind: &str, url: &str) -> String {
    format!("[[sources]]\nid = \"{id}\"\nkind = \"{kind}\"\nurl = \"{url}\"\nevery = \"1h\"\n\n")
}

fn topic(id: &str, query: &str) -> String {
    format!("[[topics]]\nid = \"{id}\"\nquery = '{query}'\n\n")
}

fn ids(base: &str, path: &str) -> BTreeSet<String> {
    let reply = get(&format!("{base}{path}"));
    assert_eq!(reply.status, 200, "{path}");
    entry_ids(&reply.body).into_iter().collect()
}

/// Requests pages that exist before and after every reload in this test, from a thread, until
/// told to stop; returns how many were made and what failed.
struct Readers {
    stop: Arc<AtomicBool>,
    made: Arc<std::sync::atomic::AtomicUsize>,
    failures: Arc<Mutex<Vec<String>>>,
    thread: std::thread::JoinHandle<usize>,
}

impl Readers {
    fn start(base: &str) -> Readers {
        let stop = Arc::new(AtomicBool::new(false));
        let counted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let paths = [
            "/feeds/agents.atom",
            "/feeds/anomaly.rss",
            "/",
            "/feeds.opml",
            "/topics/agents",
            "/search.json?q=agent*",
            "/search?q=learning",
        ];
        let thread = {
            let (stop, failures, base) = (stop.clone(), failures.clone(), base.to_string());
            let counted = counted.clone();
            std::thread::spawn(move || {
                let mut made = 0;
                while !stop.load(Ordering::Relaxed) {
                    for path in paths {
                        match request("GET", &format!("{base}{path}"), &[]) {
                            Ok(reply) if reply.status == 200 => {}
                            Ok(reply) => failures
                                .lock()
                                .unwrap()
                                .push(format!("{path}: {}", reply.status)),
                            Err(e) => failures.lock().unwrap().push(format!("{path}: {e}")),
                        }
                        made += 1;
                        counted.store(made, Ordering::Relaxed);
                    }
                }
                made
            })
        };
        Readers {
            stop,
            made: counted,
            failures,
            thread,
        }
    }

    /// Stops the readers once they have made a fair number of requests (the reloads can be
    /// over in a fraction of a second); returns how many they made and what failed.
    fn finish(self) -> (usize, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.made.load(Ordering::Relaxed) <= 100 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop.store(true, Ordering::Relaxed);
        let made = self.thread.join().expect("readers");
        let failures = self.failures.lock().unwrap().clone();
        (made, failures)
    }
}

#[test]
fn sighup_applies_changed_added_and_removed_topics_and_refuses_an_invalid_config() {
    let fixtures = FixtureServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("paperboy.toml");
    let log = dir.path().join("serve.log");
    let hf = source(
        "hf",
        "hf-daily",
        &fixtures.url("/plain/hf-daily-papers.json"),
    );
    let lg = source(
        "cs-lg",
        "arxiv",
        &fixtures.url("/feeds/arxiv-cs-lg.rss.xml"),
    );
    let plants = source(
        "plants",
        "feed",
        &fixtures.url("/plain/biorxiv-plant-biology.rdf"),
    );
    let agents = topic("agents", "agent OR agents OR \"multi-agent\"");
    write_config(
        &config,
        &format!("{hf}{lg}"),
        &format!(
            "{agents}{}{}",
            topic("anomaly", "anomal* AND detection"),
            topic("everything", "*")
        ),
    );
    assert!(run(&config, &["ingest"]).status.success());
    let serve = Serve::start_logged(&config, &log);
    let base = serve.base.clone();
    assert_eq!(get(&format!("{base}/feeds/everything.atom")).status, 200);
    assert!(ids(&base, "/feeds/anomaly.atom").contains("https://arxiv.org/abs/2604.21953"));
    let readers = Readers::start(&base);

    // Edit one topic, add one, remove one, add a source and remove one; then SIGHUP.
    write_config(
        &config,
        &format!("{lg}{plants}"),
        &format!(
            "{agents}{}{}",
            topic("anomaly", "medical OR clinical"),
            topic("plants", "plant*")
        ),
    );
    assert!(common::signal(&serve.child, "HUP"));
    wait_for("the removed topic's feed becoming a 404", &log, || {
        get(&format!("{base}/feeds/everything.atom")).status == 404
    });
    // The edited topic is re-tagged from the index: "clinical alerting" and "medical-MFMs"
    // now match; the athletics paper no longer does.
    wait_for("the edited topic being re-tagged", &log, || {
        let now = ids(&base, "/feeds/anomaly.atom");
        now.contains("https://arxiv.org/abs/2604.21956")
            && now.contains("https://arxiv.org/abs/2604.21952")
            && !now.contains("https://arxiv.org/abs/2604.21953")
    });
    // The added topic holds exactly what its query finds, including the added source's papers.
    wait_for("the added topic and source", &log, || {
        let topic = ids(&base, "/feeds/plants.atom?limit=500");
        let search = ids(&base, "/search.atom?q=plant*&limit=500");
        let from_new_source = ids(&base, "/search.atom?q=src:plants&limit=500");
        !from_new_source.is_empty()
            && topic == search
            && topic.intersection(&from_new_source).next().is_some()
    });
    let reloaded = std::fs::read_to_string(&log).unwrap();
    assert!(
        reloaded.contains("config reloaded sources=2 sources_added=1 sources_changed=0 sources_removed=1 topics=3"),
        "{reloaded}"
    );
    assert!(
        reloaded.contains("re-tagged anomaly set") && reloaded.contains("everything removed"),
        "{reloaded}"
    );

    // An invalid config (two problems) is refused; the running one keeps serving.
    write_config(
        &config,
        &format!("{hf}[[sources]]\nid = \"bad\"\nkind = \"gopher\"\nurl = \"x\"\n\n"),
        &topic("broken", "((learning"),
    );
    assert!(common::signal(&serve.child, "HUP"));
    wait_for("the invalid config being refused", &log, || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("reload refused")
    });
    let refused = std::fs::read_to_string(&log).unwrap();
    assert!(
        refused.contains("gopher") && refused.contains("(broken).query"),
        "every problem is logged: {refused}"
    );
    assert_eq!(get(&format!("{base}/feeds/plants.atom")).status, 200);
    assert_eq!(get(&format!("{base}/feeds/broken.atom")).status, 404);
    assert_eq!(get(&format!("{base}/feeds/everything.atom")).status, 404);

    let (made, failures) = readers.finish();
    assert!(failures.is_empty(), "requests failed: {failures:?}");
    assert!(made > 50, "only {made} requests ran during the reloads");
    assert!(serve.stop().success());
}
