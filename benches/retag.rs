//! Re-tagging every paper of a store of 100,000 papers, as `serve` and `ingest` do at start-up
//! when the store does not know which topics it was tagged for: every paper is read, tagged
//! against the new topics and its index entries moved.
//! The store is sled, on disk, built once from the real captures' papers.
//!
//! `cargo bench --bench retag`

mod support;

/// The allocator the `paperboy` binary runs with, so the figures are those of `serve`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Duration;

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use paperboy::config::Config;
use paperboy::model::SourceState;
use paperboy::pipeline::tag::{Tagger, TopicFingerprints, TopicQuery};
use paperboy::store::PaperStore;

const PAPERS: usize = 100_000;

fn retag(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = PaperStore::open(&dir.path().join("bench.sled")).expect("store");
    let config_path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/paperboy.toml");
    let config = Config::from_file(std::path::Path::new(config_path)).expect("default config");
    let defaults = Tagger::new(config.topics.iter().map(TopicQuery::from).collect());
    let papers = support::papers(PAPERS);
    for chunk in papers.chunks(1000) {
        store
            .apply_batch(
                "bench",
                chunk,
                &defaults,
                |_| SourceState::default(),
                Utc::now(),
            )
            .expect("store the papers");
    }
    store.flush().expect("flush");
    // Two topic sets that tag differently, swapped on every run, so each run re-tags for real.
    let generated = Tagger::new(support::topics(100));
    let mut group = c.benchmark_group("retag");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(60));
    let mut flip = false;
    group.bench_function("100,000 papers, topics changed", |b| {
        b.iter(|| {
            flip = !flip;
            let tagger = if flip { &generated } else { &defaults };
            // Tags every paper again, as a store that does not know its topics' fingerprints
            // is (a changed topic alone is re-tagged from the search index: benches/search.rs).
            store
                .retag_all(tagger, &TopicFingerprints::new())
                .expect("retag")
        });
    });
    group.finish();
}

criterion_group!(benches, retag);
criterion_main!(benches);
