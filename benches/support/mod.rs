//! Shared by the benchmarks: papers made from the real captures in `../shared/fixtures/sources`,
//! and topic queries generated from their vocabulary.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use paperboy::model::Paper;
use paperboy::pipeline::query::Query;
use paperboy::pipeline::tag::TopicQuery;
use paperboy::sources::SourceContext;

/// Every paper of every real capture (about 1,100, real titles, abstracts, authors and
/// categories).
pub(crate) fn real_papers() -> Vec<Paper> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/sources");
    let captures = paperboy::selfcheck::CAPTURES;
    let mut papers = Vec::new();
    for &(kind, file) in captures {
        let bytes = std::fs::read(format!("{dir}/{file}"))
            .expect("the shared captures are beside the project");
        let ctx = SourceContext {
            source_id: file.split('-').next().unwrap_or("src"),
            url: "https://example.org/",
        };
        papers.extend(kind.parse(&bytes, &ctx).expect("captures parse"));
    }
    papers
}

/// The arXiv id of the `i`-th generated paper: 100,000 a month, going back a month per
/// 100,000 from December 2026.
pub(crate) fn arxiv_id(i: usize) -> String {
    let month = i / 100_000;
    let (year, month) = (26 - month / 12, 12 - month % 12);
    format!("{year:02}{month:02}.{:05}", i % 100_000)
}

/// `n` papers cycling through the real ones, each with its own arXiv id ([`arxiv_id`]).
pub(crate) fn papers(n: usize) -> Vec<Paper> {
    let real = real_papers();
    (0..n)
        .map(|i| {
            let mut p = real[i % real.len()].clone();
            p.ids.arxiv = Some(arxiv_id(i));
            p.ids.doi = None;
            p.ids.link = None;
            p.ids.entry = format!("bench:{i}");
            p
        })
        .collect()
}

/// A small deterministic generator (an LCG), so every run builds the same topics.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % below.max(1)
    }
}

/// `n` topic queries of the shapes researchers write (terms, prefixes, phrases, fields,
/// AND/OR/ANDNOT, categories), over words that occur in the real abstracts; the `i`-th is
/// topic `topic-i`.
pub(crate) fn topics(n: usize) -> Vec<TopicQuery> {
    topic_texts(n)
        .into_iter()
        .enumerate()
        .map(|(i, text)| TopicQuery {
            id: format!("topic-{i}"),
            query: Query::parse(&text).expect("generated queries parse"),
        })
        .collect()
}

/// The text of the queries of [`topics`], all different.
pub(crate) fn topic_texts(n: usize) -> Vec<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for p in real_papers() {
        for w in paperboy::pipeline::text::words(&format!("{} {}", p.title, p.abstract_text)) {
            if w.len() > 4 && w.chars().all(|c| c.is_ascii_lowercase()) {
                *counts.entry(w).or_default() += 1;
            }
        }
    }
    let vocab: Vec<String> = counts
        .into_iter()
        .filter(|(_, c)| *c >= 3)
        .map(|(w, _)| w)
        .collect();
    let cats = [
        "cs.*",
        "cs.LG",
        "cs.CL",
        "stat.ML",
        "hep-th",
        "cond-mat.*",
        "q-bio.*",
    ];
    let mut rng = Lcg(42);
    let word = |rng: &mut Lcg| vocab[rng.next(vocab.len())].clone();
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let (a, b, c, d) = (
            word(&mut rng),
            word(&mut rng),
            word(&mut rng),
            word(&mut rng),
        );
        let text = match rng.next(6) {
            0 => format!("{a} OR {b}* OR \"{c} {d}\""),
            1 => format!("({a} OR {b}) AND {c}*"),
            2 => format!("ti:{a} OR abs:\"{b} {c}\" ANDNOT {d}"),
            3 => format!("{a}* AND cat:{}", cats[rng.next(cats.len())]),
            4 => format!("\"{a} {b}*\" OR au:{c} OR {d}"),
            _ => format!("{a} {b} -{c}"),
        };
        if seen.insert(text.clone()) {
            out.push(text);
        }
    }
    out
}

/// The `[[topics]]` tables of [`topics`] as TOML, spread over `groups` groups (`group-0`, …;
/// topic `i` in group `i % groups`) when given.
pub(crate) fn topics_toml(count: usize, groups: Option<usize>) -> String {
    use std::fmt::Write as _;
    let mut toml = String::new();
    for (i, query) in topic_texts(count).iter().enumerate() {
        let _ = writeln!(toml, "[[topics]]\nid = \"topic-{i}\"");
        if let Some(groups) = groups.filter(|g| *g > 0) {
            let _ = writeln!(toml, "group = \"group-{}\"", i % groups);
        }
        let _ = writeln!(toml, "query = {}\n", toml::Value::String(query.clone()));
    }
    toml
}
