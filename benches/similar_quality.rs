//! How good "more like this" is, measured where the method cannot see the labels: every real
//! paper of `../shared/fixtures/sources` that has categories is asked for its 10 most similar
//! papers, which [`SearchIndex::similar`] finds from the words of titles and abstracts only
//! (categories are not part of its query). A neighbour counts as right when its first category
//! is the paper's first category. The reference, in the same run: 10 papers drawn at random
//! (what a feed with no ranking shows). Prints precision at 10 of both and the ratio.
//!
//! `cargo bench --bench similar_quality`

mod support;

use chrono::{TimeZone, Utc};
use paperboy::index::SearchIndex;
use paperboy::model::SourceState;
use paperboy::pipeline::tag::Tagger;
use paperboy::store::PaperStore;

const K: usize = 10;

fn main() {
    let store = PaperStore::in_memory();
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    store
        .apply_batch(
            "fixtures",
            &support::real_papers(),
            &Tagger::default(),
            |_| SourceState::default(),
            now,
        )
        .expect("stored");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let index = SearchIndex::open(&dir.path().join("index")).expect("an index");
    index.catch_up(&store).expect("indexed");
    let mut papers = Vec::new();
    store.for_each_paper(|p| papers.push(p)).expect("read");
    let first = |key: &str| -> Option<String> {
        store
            .get(key)
            .ok()
            .flatten()
            .and_then(|p| p.paper.categories.first().cloned())
    };
    let labelled: Vec<_> = papers
        .iter()
        .filter(|p| !p.paper.categories.is_empty())
        .collect();
    let (mut right, mut asked) = (0usize, 0usize);
    let (mut random_right, mut random_asked) = (0usize, 0usize);
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for paper in &labelled {
        let wanted = &paper.paper.categories[0];
        let full = store.get(&paper.key).expect("read").expect("stored");
        for (hit, _) in index.similar(&full, K).expect("similar") {
            asked += 1;
            right += usize::from(first(&hit.key).as_ref() == Some(wanted));
        }
        for _ in 0..K {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let other = labelled[(seed % labelled.len() as u64) as usize];
            if other.key == paper.key {
                continue;
            }
            random_asked += 1;
            random_right += usize::from(other.paper.categories.first() == Some(wanted));
        }
    }
    let precision = right as f64 / asked.max(1) as f64;
    let random = random_right as f64 / random_asked.max(1) as f64;
    println!(
        "{} labelled papers, {} categories in all",
        labelled.len(),
        labelled
            .iter()
            .map(|p| &p.paper.categories[0])
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );
    println!("more like this, precision at {K}: {precision:.3} ({right} of {asked})");
    println!("random papers (reference), precision at {K}: {random:.3} ({random_right} of {random_asked})");
    println!("ratio: {:.1} x", precision / random.max(f64::MIN_POSITIVE));
}
