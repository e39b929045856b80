//! The search index at growing store sizes: stores of 10,000 and 100,000 papers (and more with
//! `PAPERBOY_BENCH_SIZES=10000,100000,1000000`) made from the real captures' papers, each with
//! its own arXiv id, date and shuffled title words. At each size it prints: building the index
//! from the store, `search --count` for typical queries (the median of 21 runs inside the
//! process), the first render of a query feed (index page, store reads and the Atom render),
//! and the index's size on disk; beside it, the reference: the same count by scanning every
//! stored paper with the query evaluator (what `search` did before the index), and the ratio.
//!
//! Then, in a second table, applying one edited topic as `serve` does after `SIGHUP` (the
//! store is tagged with 20 generated topics; one of them gets an extra `OR` term): the new
//! config swapped in and the topic's papers set from one index query, beside the reference,
//! re-tagging by tagging every stored paper again (what a topic edit cost before).
//!
//! `cargo bench --bench search`

mod support;

/// The allocator the `paperboy` binary runs with, so the figures are those of `serve`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use std::sync::Arc;

use paperboy::config::Config;
use paperboy::fetch::Fetcher;
use paperboy::index::SearchIndex;
use paperboy::ingest::{Ingestor, Retagged};
use paperboy::model::SourceState;
use paperboy::pipeline::query::{Document, Query};
use paperboy::pipeline::render::{FeedMeta, Format};
use paperboy::store::PaperStore;

/// How many topics the store is tagged with.
const TOPICS: usize = 20;

/// The queries measured: a word, a prefix, a phrase, a field, a boolean mix.
const QUERIES: &[&str] = &[
    "learning",
    "quantiz*",
    "\"language model*\"",
    "ti:graph",
    "(diffusion OR \"generative model*\") AND cat:cs.* ANDNOT survey",
];

fn main() {
    let sizes: Vec<usize> = std::env::var("PAPERBOY_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .map(|n| {
            n.trim()
                .parse()
                .expect("PAPERBOY_BENCH_SIZES: whole numbers")
        })
        .collect();
    println!(
        "| papers | index build | index on disk | query | search --count | store scan (reference) \
         | ratio | first feed render |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut edits = Vec::new();
    for n in sizes {
        let dir = tempfile::tempdir().expect("temp dir");
        let (before, after) = configs(dir.path());
        let store = Arc::new(PaperStore::open(&dir.path().join("s.sled")).expect("store"));
        let start = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
        let mut papers = support::papers(n);
        for (i, p) in papers.iter_mut().enumerate() {
            // Dates a few minutes apart; title words rotated so that papers differ.
            p.published = Some(start + chrono::Duration::minutes(5 * i as i64));
            p.updated = p.published;
            let mut words: Vec<&str> = p.title.split_whitespace().collect();
            if !words.is_empty() {
                let by = i % words.len();
                words.rotate_left(by);
            }
            p.title = words.join(" ");
        }
        let tagger = paperboy::live::Live::new(before.clone())
            .get()
            .tagger
            .clone();
        for chunk in papers.chunks(1000) {
            store
                .apply_batch(
                    "bench",
                    chunk,
                    &tagger,
                    |_| SourceState::default(),
                    Utc::now(),
                )
                .expect("store the papers");
        }
        drop(papers);
        let index_dir = dir.path().join("s.sled.index");
        let index = Arc::new(SearchIndex::open(&index_dir).expect("index"));
        let built = Instant::now();
        index.catch_up(&store).expect("build the index");
        let build = built.elapsed();
        let disk = du(&index_dir);
        for text in QUERIES {
            let query = Query::parse(text).expect("the bench queries parse");
            let count = median(|| {
                index.search(&query, 0).expect("search");
            });
            let scanned = Instant::now();
            let mut reference = 0;
            store
                .for_each_paper(|p| {
                    if query.matches(&Document::of(&p.paper)) {
                        reference += 1;
                    }
                })
                .expect("scan");
            let scan = scanned.elapsed();
            let total = index.search(&query, 0).expect("search").1;
            assert_eq!(total, reference, "the index and the scan agree on {text}");
            let render = Instant::now();
            let (hits, _) = index.page(&query, None, 50).expect("page");
            let stored: Vec<_> = hits
                .iter()
                .filter_map(|h| store.get(&h.key).expect("read"))
                .collect();
            let meta = FeedMeta {
                topic_id: "search",
                title: text,
                query: text,
                self_url: "http://localhost/search.atom",
                page_url: "http://localhost/search",
                next_url: None,
                hub_url: None,
            };
            let doc = Format::Atom.render(&meta, &stored);
            let render = render.elapsed();
            assert!(!doc.bytes.is_empty());
            println!(
                "| {n} | {:.1} s | {:.1} MiB | `{text}` | {:.2} ms ({total} papers) | {:.0} ms | {:.0} × | {:.1} ms |",
                build.as_secs_f64(),
                disk as f64 / (1 << 20) as f64,
                count.as_secs_f64() * 1000.0,
                scan.as_secs_f64() * 1000.0,
                scan.as_secs_f64() / count.as_secs_f64().max(1e-6),
                render.as_secs_f64() * 1000.0
            );
        }
        edits.push(apply_edit(n, &store, &index, &before, &after));
    }
    println!();
    println!(
        "| papers | edited topic applied (swap + one index query) | papers moved \
         | re-tag by store scan (reference) | ratio |"
    );
    println!("|---|---|---|---|---|");
    for line in edits {
        println!("{line}");
    }
}

/// The config with [`TOPICS`] generated topics, and the same with one topic edited.
fn configs(dir: &std::path::Path) -> (Arc<Config>, Arc<Config>) {
    let topics = support::topics(TOPICS);
    let text = |edited: bool| {
        let mut text = "[store]\npath = \"s.sled\"\n\n".to_string();
        for (i, topic) in topics.iter().enumerate() {
            let query = if edited && i == 0 {
                format!("({}) OR ti:quantum", topic.query)
            } else {
                topic.query.to_string()
            };
            text.push_str(&format!(
                "[[topics]]\nid = \"{}\"\nquery = {query:?}\n\n",
                topic.id
            ));
        }
        let config = Config::parse(&text, dir, "bench").expect("the bench config is valid");
        Arc::new(config)
    };
    (text(false), text(true))
}

/// Applies the edited topic as a reload does, then the reference; one table row.
fn apply_edit(
    n: usize,
    store: &Arc<PaperStore>,
    index: &Arc<SearchIndex>,
    before: &Arc<Config>,
    after: &Arc<Config>,
) -> String {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let fetcher = Fetcher::from_config(&before.fetch).expect("fetcher");
    let ingestor = Ingestor::new(before.clone(), store.clone(), index.clone(), fetcher);
    // The store records what it is tagged for (a fresh store does not know yet).
    let first = runtime.block_on(ingestor.retag_topics()).expect("retag");
    assert_eq!(first, Retagged::All { changed: 0 }, "tagged while stored");
    let applied = Instant::now();
    ingestor.live().replace(after.clone());
    let retagged = runtime.block_on(ingestor.retag_topics()).expect("retag");
    let applied = applied.elapsed();
    let Retagged::Topics(topics) = &retagged else {
        panic!("one topic edited, yet {retagged}");
    };
    let moved: usize = topics.iter().map(|(_, r)| r.added + r.removed).sum();
    let tagger = ingestor.live().get().tagger.clone();
    let scanned = Instant::now();
    let changed = store
        .retag_all(&tagger, &after.topic_fingerprints())
        .expect("re-tag by scan");
    let scan = scanned.elapsed();
    assert_eq!(
        changed, 0,
        "the index query moved exactly the papers a scan would"
    );
    format!(
        "| {n} | {:.0} ms | {moved} | {:.1} s | {:.0} × |",
        applied.as_secs_f64() * 1000.0,
        scan.as_secs_f64(),
        scan.as_secs_f64() / applied.as_secs_f64().max(1e-6)
    )
}

/// The median time of 21 runs of `f`.
fn median(mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..21)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// The bytes of the files under `path`.
fn du(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => du(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    })
}
