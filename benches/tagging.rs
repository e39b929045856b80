//! Tagging cost against the number of topics: 10,000 papers made from the real abstracts in
//! `../shared/fixtures/sources`, tagged against 10, 100 and 1,000 topics with the compiled
//! matcher, and against 10 and 100 with the straightforward per-topic evaluator for reference.
//! The goal: 1,000 topics at no more than twice the time of 10.
//!
//! `cargo bench --bench tagging`

mod support;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use paperboy::pipeline::query::Document;
use paperboy::pipeline::tag::Tagger;

fn tagging(c: &mut Criterion) {
    let papers = support::papers(10_000);
    let mut group = c.benchmark_group("tag 10,000 papers");
    group.sample_size(10);
    group.throughput(Throughput::Elements(papers.len() as u64));
    for n in [10, 100, 1000] {
        let tagger = Tagger::new(support::topics(n));
        group.bench_with_input(BenchmarkId::new("compiled", n), &n, |b, _| {
            b.iter(|| papers.iter().map(|p| tagger.tag(p).len()).sum::<usize>());
        });
    }
    for n in [10, 100] {
        let topics = support::topics(n);
        group.bench_with_input(BenchmarkId::new("reference", n), &n, |b, _| {
            b.iter(|| {
                papers
                    .iter()
                    .map(|p| {
                        let doc = Document::of(p);
                        topics.iter().filter(|t| t.query.matches(&doc)).count()
                    })
                    .sum::<usize>()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, tagging);
criterion_main!(benches);
