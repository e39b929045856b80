//! What topics learned from example papers cost a batch: 10,000 papers made from the real
//! abstracts in `../shared/fixtures/sources`, tagged (one thread) against the 10 query topics
//! of a small instance, then against the same 10 plus 1,000 topics of 5 liked papers each
//! (profiles trained on the real papers, as `examples::train` does). Prints papers per second
//! of both, and what the 1,000 profiles add per paper; and, for scale, feed-rs's
//! single-threaded parse rate of the same papers as one Atom feed, the reference of the ingest
//! goals.
//!
//! `cargo bench --bench example_scoring`

mod support;

use std::time::Instant;

use paperboy::pipeline::profile::{Profile, TermVector, Vocabulary};
use paperboy::pipeline::tag::{ScoredTopic, Tagger, TopicQuery};

const PAPERS: usize = 10_000;
const EXAMPLE_TOPICS: usize = 1_000;
const LIKES: usize = 5;

fn main() {
    let papers = support::papers(PAPERS);
    let real = support::real_papers();
    let vocabulary = std::sync::Arc::new(Vocabulary::build(&real));
    let corpus: Vec<TermVector> = real.iter().map(|p| vocabulary.vector(p)).collect();
    let queries = support::topics(10);

    let started = Instant::now();
    let mut scored = Vec::new();
    let mut topics: Vec<TopicQuery> = queries.clone();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for t in 0..EXAMPLE_TOPICS {
        let liked: Vec<usize> = (0..LIKES)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % real.len() as u64) as usize
            })
            .collect();
        let vectors: Vec<TermVector> = liked.iter().map(|&i| corpus[i].clone()).collect();
        let profile = Profile::train(&vectors, &[], &corpus, |i| liked.contains(&i));
        let min_score = profile
            .as_ref()
            .and_then(|p| p.default_min_score(&vectors, &corpus))
            .unwrap_or(1.0);
        let id = format!("examples-{t}");
        topics.push(TopicQuery {
            id: id.clone(),
            query: paperboy::pipeline::query::Query::All,
        });
        scored.push(ScoredTopic {
            id,
            profile,
            min_score,
        });
    }
    let trained = started.elapsed();

    let plain = Tagger::new(queries);
    let with_examples = Tagger::with_profiles(topics, scored, vocabulary);
    let rate = |tagger: &Tagger| {
        // Warm up once, then time the best of three.
        let count = |t: &Tagger| papers.iter().map(|p| t.tag(p).len()).sum::<usize>();
        let tags = count(tagger);
        let best = (0..3)
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(count(tagger));
                start.elapsed()
            })
            .min()
            .expect("three runs");
        (PAPERS as f64 / best.as_secs_f64(), tags)
    };
    let (plain_rate, plain_tags) = rate(&plain);
    let (examples_rate, examples_tags) = rate(&with_examples);

    let feed = atom_of(&papers);
    let start = Instant::now();
    let parsed = feed_rs::parser::parse(feed.as_bytes()).expect("the feed parses");
    let parse_rate = parsed.entries.len() as f64 / start.elapsed().as_secs_f64();

    println!(
        "{EXAMPLE_TOPICS} topics of {LIKES} liked papers trained in {:.2} s",
        trained.as_secs_f64()
    );
    println!("10 query topics:                     {plain_rate:>9.0} papers/s ({plain_tags} memberships)");
    println!(
        "10 query + {EXAMPLE_TOPICS} example topics:         {examples_rate:>9.0} papers/s ({examples_tags} memberships)"
    );
    println!(
        "the example topics add {:.1} us per paper",
        (1.0 / examples_rate - 1.0 / plain_rate) * 1e6
    );
    println!(
        "feed-rs parse of the same papers:    {parse_rate:>9.0} papers/s (scoring is {:.2} x of it)",
        parse_rate / examples_rate
    );
}

/// The papers as one Atom feed (title, abstract, id): what feed-rs would be handed.
fn atom_of(papers: &[paperboy::model::Paper]) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut out = String::from(
        "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title><id>urn:t</id><updated>2026-12-01T00:00:00Z</updated>",
    );
    for p in papers {
        out.push_str(&format!(
            "<entry><id>{}</id><title>{}</title><updated>2026-12-01T00:00:00Z</updated><summary>{}</summary></entry>",
            escape(&p.ids.entry),
            escape(&p.title),
            escape(&p.abstract_text)
        ));
    }
    out.push_str("</feed>");
    out
}
