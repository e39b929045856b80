//! How well topics learned from example papers find the rest of their field, measured where the
//! method cannot see the labels. The 1,000 real records of
//! `../shared/fixtures/sources/arxiv-oai-pmh-arxivraw-1000.xml` carry arXiv categories; for
//! each category with at least 30 papers, 5 of its papers are picked at random as `like`, every
//! other paper is ranked by [`Profile::score`] (from titles and abstracts only: the categories
//! are never given to the method), and precision at 20 is the share of the top 20 in the
//! category, averaged over 20 picks.
//!
//! The reference, in the same run: the cosine of plain tf-idf vectors (raw counts, every word,
//! title once) to the mean of the examples' vectors. And with `unlike`: a user shown the
//! ranking rejects the first 3 papers outside the category (what a researcher would mark
//! "not this"); both rankings are then measured on the same papers, those 3 left out.
//!
//! `cargo bench --bench example_quality`

use std::collections::{BTreeMap, HashMap, HashSet};

use paperboy::model::Paper;
use paperboy::pipeline::profile::{Profile, TermVector, Vocabulary};
use paperboy::sources::{SourceContext, SourceKind};

const LIKES: usize = 5;
const UNLIKES: usize = 3;
const PICKS: u64 = 20;
const K: usize = 20;
const MIN_PAPERS: usize = 30;

fn main() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/sources/arxiv-oai-pmh-arxivraw-1000.xml"
    );
    let bytes = std::fs::read(file).expect("the shared captures are beside the project");
    let ctx = SourceContext {
        source_id: "oai",
        url: "https://export.arxiv.org/oai2",
    };
    let papers = SourceKind::ArxivOai
        .parse(&bytes, &ctx)
        .expect("the capture parses");
    // Labels, kept apart from what the methods see.
    let labels: Vec<HashSet<String>> = papers
        .iter()
        .map(|p| p.categories.iter().cloned().collect())
        .collect();
    let unlabelled: Vec<Paper> = papers
        .iter()
        .map(|p| Paper {
            title: p.title.clone(),
            abstract_text: p.abstract_text.clone(),
            ..Paper::default()
        })
        .collect();
    let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
    for set in &labels {
        for c in set {
            *sizes.entry(c.as_str()).or_default() += 1;
        }
    }
    let categories: Vec<&str> = sizes
        .iter()
        .filter(|&(_, &n)| n >= MIN_PAPERS)
        .map(|(&c, _)| c)
        .collect();

    let vocabulary = Vocabulary::build(&unlabelled);
    let vectors: Vec<TermVector> = unlabelled.iter().map(|p| vocabulary.vector(p)).collect();
    let baseline = Baseline::new(&unlabelled);

    println!(
        "{} papers, {} categories with at least {MIN_PAPERS}; {LIKES} likes, {PICKS} picks each, precision at {K}",
        papers.len(),
        categories.len()
    );
    println!(
        "{:<22} {:>6} {:>9} {:>8} {:>12}",
        "category", "papers", "baseline", "profile", "with unlike"
    );
    let mut sums = [0.0f64; 3];
    for &category in &categories {
        let members: Vec<usize> = (0..papers.len())
            .filter(|&i| labels[i].contains(category))
            .collect();
        let mut got = [0.0f64; 3];
        for pick in 0..PICKS {
            let mut rng = XorShift::new(pick, category);
            let likes = rng.sample(&members, LIKES);
            let liked: Vec<TermVector> = likes.iter().map(|&i| vectors[i].clone()).collect();
            let profile = Profile::train(&liked, &[], &vectors, |i| likes.contains(&i))
                .expect("examples with words");
            let scores: Vec<f32> = vectors.iter().map(|v| profile.score(v)).collect();
            let unlikes: Vec<usize> = ranked(&scores, &likes)
                .into_iter()
                .filter(|&i| !labels[i].contains(category))
                .take(UNLIKES)
                .collect();
            let unliked: Vec<TermVector> = unlikes.iter().map(|&i| vectors[i].clone()).collect();
            let examples: Vec<usize> = likes.iter().chain(&unlikes).copied().collect();
            let with_unlike = Profile::train(&liked, &unliked, &vectors, |i| examples.contains(&i))
                .expect("examples with words");
            let scored_unlike: Vec<f32> = vectors.iter().map(|v| with_unlike.score(v)).collect();
            let precision = |scores: &[f32]| {
                let top = ranked(scores, &examples);
                top.iter()
                    .take(K)
                    .filter(|&&i| labels[i].contains(category))
                    .count() as f64
                    / K as f64
            };
            got[0] += precision(&baseline.scores(&likes));
            got[1] += precision(&scores);
            got[2] += precision(&scored_unlike);
        }
        for (sum, g) in sums.iter_mut().zip(&mut got) {
            *g /= PICKS as f64;
            *sum += *g;
        }
        println!(
            "{category:<22} {:>6} {:>9.3} {:>8.3} {:>12.3}",
            members.len(),
            got[0],
            got[1],
            got[2]
        );
    }
    let n = categories.len() as f64;
    let [base, profile, unlike] = sums.map(|s| s / n);
    println!(
        "{:<22} {:>6} {base:>9.3} {profile:>8.3} {unlike:>12.3}",
        "mean", ""
    );
    println!(
        "profile - baseline = {:+.3} (goal +0.10); with unlike - without = {:+.3}",
        profile - base,
        unlike - profile
    );
}

/// Every paper but the excluded ones, best score first (ties by position, so runs agree).
fn ranked(scores: &[f32], excluded: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len())
        .filter(|i| !excluded.contains(i))
        .collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order
}

/// The reference: plain tf-idf (raw counts, every word of title and abstract, smooth idf),
/// cosine to the mean of the examples' unit vectors.
struct Baseline {
    vectors: Vec<HashMap<String, f64>>,
}

impl Baseline {
    fn new(papers: &[Paper]) -> Self {
        let counts: Vec<HashMap<String, f64>> = papers
            .iter()
            .map(|p| {
                let mut tf = HashMap::new();
                for w in
                    paperboy::pipeline::text::words(&format!("{} {}", p.title, p.abstract_text))
                {
                    *tf.entry(w).or_insert(0.0) += 1.0;
                }
                tf
            })
            .collect();
        let mut df: HashMap<&str, f64> = HashMap::new();
        for tf in &counts {
            for w in tf.keys() {
                *df.entry(w).or_default() += 1.0;
            }
        }
        let n = papers.len() as f64;
        let vectors = counts
            .iter()
            .map(|tf| {
                let mut v: HashMap<String, f64> = tf
                    .iter()
                    .map(|(w, c)| {
                        (
                            w.clone(),
                            c * (((1.0 + n) / (1.0 + df[w.as_str()])).ln() + 1.0),
                        )
                    })
                    .collect();
                let norm = v.values().map(|x| x * x).sum::<f64>().sqrt();
                v.values_mut()
                    .for_each(|x| *x /= norm.max(f64::MIN_POSITIVE));
                v
            })
            .collect();
        Baseline { vectors }
    }

    fn scores(&self, likes: &[usize]) -> Vec<f32> {
        let mut mean: HashMap<&str, f64> = HashMap::new();
        for &i in likes {
            for (w, x) in &self.vectors[i] {
                *mean.entry(w).or_default() += x / likes.len() as f64;
            }
        }
        self.vectors
            .iter()
            .map(|v| {
                v.iter()
                    .map(|(w, x)| x * mean.get(w.as_str()).copied().unwrap_or(0.0))
                    .sum::<f64>() as f32
            })
            .collect()
    }
}

/// A small deterministic generator, seeded by the pick and the category.
struct XorShift(u64);

impl XorShift {
    fn new(pick: u64, category: &str) -> Self {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64 ^ pick.wrapping_mul(0x2545_f491_4f6c_dd1d);
        for b in category.bytes() {
            seed = seed.rotate_left(5) ^ u64::from(b);
        }
        XorShift(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `n` distinct items of `from`.
    fn sample(&mut self, from: &[usize], n: usize) -> Vec<usize> {
        let mut pool = from.to_vec();
        let mut out = Vec::with_capacity(n);
        while out.len() < n && !pool.is_empty() {
            let at = (self.next() % pool.len() as u64) as usize;
            out.push(pool.swap_remove(at));
        }
        out
    }
}
