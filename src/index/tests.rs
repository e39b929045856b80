//! The index against the reference evaluator: table-driven cases for each construct of the
//! query language, and random queries over every real capture in
//! `../shared/fixtures/sources/`, which must match exactly the same papers.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{TimeZone, Utc};

use super::*;
use crate::model::{Author, Identifiers, Paper, SourceState};
use crate::pipeline::query::Document;
use crate::pipeline::tag::Tagger;
use crate::sources::SourceContext;

/// Every paper of every real capture, stored (and so merged) as ingestion would store them.
fn fixture_store() -> PaperStore {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/sources");
    let captures = crate::selfcheck::CAPTURES;
    let store = PaperStore::in_memory();
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    for &(kind, file) in captures {
        let bytes = std::fs::read(format!("{dir}/{file}")).expect("the shared captures");
        let source = file.split('-').take(2).collect::<Vec<_>>().join("-");
        let ctx = SourceContext {
            source_id: &source,
            url: "https://example.org/",
        };
        let papers = kind.read(&bytes, &ctx, now).expect("captures parse");
        store
            .apply_batch(
                &source,
                &papers,
                &Tagger::default(),
                |_| SourceState::default(),
                now,
            )
            .expect("stored");
    }
    store
}

/// Stores `papers` as one batch of source `s`, untagged.
fn store_as_s(store: &PaperStore, papers: &[Paper]) {
    store
        .apply_batch(
            "s",
            papers,
            &Tagger::default(),
            |_| SourceState::default(),
            Utc::now(),
        )
        .unwrap();
}

/// Every stored paper's key and the text the reference evaluator reads, made once.
fn documents(store: &PaperStore) -> Vec<(String, Document)> {
    let mut docs = Vec::new();
    store
        .for_each_paper(|p| docs.push((p.key.clone(), Document::of(&p.paper))))
        .unwrap();
    docs
}

/// The keys of the papers the reference evaluator says `query` matches.
fn reference(docs: &[(String, Document)], query: &Query) -> BTreeSet<String> {
    docs.iter()
        .filter(|(_, doc)| query.matches(doc))
        .map(|(key, _)| key.clone())
        .collect()
}

/// The keys the index returns for `query`, checking that the count and the key set (how a
/// changed topic finds its papers) agree.
fn indexed(index: &SearchIndex, query: &Query) -> BTreeSet<String> {
    let (hits, total) = index.search(query, 100_000).unwrap();
    assert_eq!(hits.len(), total, "{query}");
    let (_, count) = index.search(query, 0).unwrap();
    assert_eq!(count, total, "{query}: count alone");
    let keys: BTreeSet<String> = hits.into_iter().map(|h| h.key).collect();
    let matching: BTreeSet<String> = index.keys_matching(query).unwrap().into_iter().collect();
    assert_eq!(matching, keys, "{query}: keys_matching");
    keys
}

fn index_of(store: &PaperStore) -> (tempfile::TempDir, SearchIndex) {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(&dir.path().join("index")).unwrap();
    let indexed = index.catch_up(store).unwrap();
    assert!(indexed > 1000, "{indexed} papers indexed");
    (dir, index)
}

/// A small deterministic generator (xorshift), so failures replay.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The words and tokens of the stored papers, to build queries that hit.
struct Vocabulary<'a> {
    docs: &'a [(String, Document)],
}

impl Vocabulary<'_> {
    /// A random term: a word, a prefix, a phrase (with or without prefixes) in a random field,
    /// or a category or source token.
    fn term(&self, rng: &mut Rng) -> String {
        let (_, doc) = rng.pick(self.docs);
        let text = |rng: &mut Rng| -> (&'static str, &Vec<String>) {
            match rng.below(3) {
                0 if !doc.title.is_empty() => ("ti:", &doc.title),
                1 if !doc.authors.is_empty() => ("au:", rng.pick(&doc.authors)),
                _ => ("", &doc.abstract_words),
            }
        };
        let word = |w: &str, rng: &mut Rng| {
            let chars: Vec<char> = w.chars().collect();
            if chars.len() > 3 && rng.below(3) == 0 {
                let cut = 2 + rng.below(chars.len() - 2);
                format!("{}*", chars[..cut].iter().collect::<String>())
            } else {
                w.to_string()
            }
        };
        match rng.below(7) {
            0 if !doc.categories.is_empty() => {
                let c = rng.pick(&doc.categories);
                match c.split_once('.') {
                    Some((archive, _)) if rng.below(2) == 0 => format!("cat:{archive}.*"),
                    _ => format!("cat:{c}"),
                }
            }
            1 if !doc.sources.is_empty() => format!("src:{}", rng.pick(&doc.sources)),
            2 | 3 => {
                let (field, words) = text(rng);
                if words.len() < 2 {
                    return "*".into();
                }
                let len = 2 + rng.below(2.min(words.len() - 1));
                let at = rng.below(words.len() - len + 1);
                // The language allows a `*` on a phrase's last word only.
                let mut phrase: Vec<String> = words[at..at + len].to_vec();
                let last = phrase.len() - 1;
                phrase[last] = word(&phrase[last], rng);
                let prefix = if field.is_empty() && rng.below(2) == 0 {
                    "all:"
                } else {
                    field
                };
                format!("{prefix}\"{}\"", phrase.join(" "))
            }
            _ => {
                let (field, words) = text(rng);
                if words.is_empty() {
                    return "*".into();
                }
                let w = rng.pick(words.as_slice()).clone();
                format!("{field}{}", word(&w, rng))
            }
        }
    }

    /// A random query of up to `depth` levels of AND, OR, ANDNOT, NOT, `-` and parentheses.
    fn query(&self, rng: &mut Rng, depth: usize) -> String {
        if depth == 0 || rng.below(3) == 0 {
            return self.term(rng);
        }
        let a = self.query(rng, depth - 1);
        let b = self.query(rng, depth - 1);
        match rng.below(6) {
            0 => format!("({a} AND {b})"),
            1 => format!("({a} OR {b})"),
            2 => format!("({a} ANDNOT {b})"),
            3 => format!("NOT ({a})"),
            4 => format!("({a} -{b})"),
            _ => format!("({a} {b})"),
        }
    }
}

#[test]
fn random_queries_match_exactly_what_the_reference_matches() {
    let store = fixture_store();
    let (_dir, index) = index_of(&store);
    let docs = documents(&store);
    let vocabulary = Vocabulary { docs: &docs };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut matched_some = 0;
    for _ in 0..400 {
        let text = vocabulary.query(&mut rng, 3);
        let query = Query::parse(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let expected = reference(&docs, &query);
        let found = indexed(&index, &query);
        assert_eq!(
            found,
            expected,
            "{text:?}: index only {:?}, reference only {:?}",
            found.difference(&expected).collect::<Vec<_>>(),
            expected.difference(&found).collect::<Vec<_>>()
        );
        if !expected.is_empty() {
            matched_some += 1;
        }
    }
    // The queries are drawn from the papers' own words, so most hit something.
    assert!(
        matched_some > 200,
        "only {matched_some} of 400 queries matched a paper"
    );
}

#[test]
fn each_construct_matches_what_the_reference_matches() {
    let store = fixture_store();
    let (_dir, index) = index_of(&store);
    let docs = documents(&store);
    let cases = [
        "*",
        "learning",
        "quantiz*",
        "ti:learning",
        "abs:transformer",
        "all:\"language model\"",
        "\"large language model*\"",
        "\"large language mod*\"",
        "ti:\"neural network*\"",
        "au:smith",
        "au:\"del maestro\"",
        "cat:cs.LG",
        "cat:cs.*",
        "cat:math.*",
        "src:arxiv-api",
        "src:hf-daily",
        "learning AND cat:cs.CL",
        "learning OR cat:q-bio.*",
        "learning ANDNOT cat:cs.LG",
        "NOT learning",
        "-learning",
        "diffusion -cat:cs.CV",
        "(graph OR network*) AND NOT (ti:survey OR abs:review)",
        "nosuchwordanywhere",
        "NOT nosuchwordanywhere",
    ];
    for text in cases {
        let query = Query::parse(text).unwrap();
        let expected = reference(&docs, &query);
        assert_eq!(indexed(&index, &query), expected, "{text}");
    }
    // A few constructs, checked to be more than empty agreement.
    for (text, at_least) in [
        ("*", 1000),
        ("cat:cs.*", 100),
        ("quantiz*", 2),
        ("au:smith", 1),
    ] {
        let query = Query::parse(text).unwrap();
        assert!(reference(&docs, &query).len() >= at_least, "{text}");
    }
}

fn paper(arxiv: &str, title: &str, authors: &[&str]) -> Paper {
    Paper {
        ids: Identifiers {
            arxiv: Some(arxiv.into()),
            entry: format!("e:{arxiv}"),
            ..Default::default()
        },
        title: title.into(),
        authors: authors
            .iter()
            .map(|a| Author {
                name: (*a).into(),
                affiliation: None,
            })
            .collect(),
        published: Some(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()),
        ..Default::default()
    }
}

#[test]
fn a_phrase_never_spans_two_authors_or_title_and_abstract() {
    let store = PaperStore::in_memory();
    let mut p = paper("2611.00001", "Deep nets", &["Ann Smith", "John Doe"]);
    p.abstract_text = "learning works".into();
    store_as_s(&store, &[p]);
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(&dir.path().join("i")).unwrap();
    index.catch_up(&store).unwrap();
    for (text, hits) in [
        ("au:\"smith john\"", 0),
        ("au:\"ann smith\"", 1),
        ("au:\"john doe\"", 1),
        ("\"nets learning\"", 0),
        ("\"deep nets\"", 1),
    ] {
        let query = Query::parse(text).unwrap();
        assert_eq!(index.search(&query, 0).unwrap().1, hits, "{text}");
        assert_eq!(
            reference(&documents(&store), &query).len(),
            hits,
            "{text} (reference)"
        );
    }
}

#[test]
fn the_index_follows_the_store_and_catches_up_after_a_crash() {
    let store = PaperStore::in_memory();
    let write = |papers: &[Paper]| store_as_s(&store, papers);
    write(&[paper("2611.00001", "Graph learning", &["A"])]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("i");
    let all = Query::parse("*").unwrap();
    {
        let index = SearchIndex::open(&path).unwrap();
        assert_eq!(index.catch_up(&store).unwrap(), 1, "built from the store");
        assert_eq!(index.search(&all, 0).unwrap().1, 1);
        // A batch is committed to the store, and the process dies before the index's commit.
        write(&[
            paper("2611.00002", "Graph diffusion", &["B"]),
            paper("2611.00001", "Graph learning, revised", &["A"]),
        ]);
    }
    let index = SearchIndex::open(&path).unwrap();
    assert_eq!(index.search(&all, 0).unwrap().1, 1, "behind the store");
    assert_eq!(
        index.papers_if_caught_up(&store).unwrap(),
        None,
        "no count while behind"
    );
    assert_eq!(index.catch_up(&store).unwrap(), 2, "the two changes");
    assert_eq!(index.papers_if_caught_up(&store).unwrap(), Some(2));
    let (hits, total) = index.search(&Query::parse("graph").unwrap(), 10).unwrap();
    assert_eq!(total, 2);
    assert!(hits.iter().any(|h| h.title == "Graph learning, revised"));
    assert_eq!(index.catch_up(&store).unwrap(), 0, "nothing left");
    assert!(
        store.changes_after(0, 10).unwrap().is_empty(),
        "changes forgotten"
    );

    // A reader in another process sees the writer's commits after a refresh.
    let reader = SearchIndex::open_read_only(&path).unwrap();
    assert_eq!(reader.search(&all, 0).unwrap().1, 2);
    assert!(matches!(
        reader.catch_up(&store),
        Err(IndexError::ReadOnly { .. })
    ));
    write(&[paper("2611.00003", "Graph sampling", &["C"])]);
    index.catch_up(&store).unwrap();
    reader.refresh().unwrap();
    assert_eq!(reader.search(&all, 0).unwrap().1, 3);

    // Rebuilding from scratch gives the same.
    assert_eq!(index.rebuild(&store).unwrap(), 3);
    assert_eq!(index.search(&all, 0).unwrap().1, 3);
}

#[test]
fn pages_never_skip_or_repeat_papers_that_share_a_date() {
    let store = PaperStore::in_memory();
    let days: Vec<_> = (1..=3)
        .map(|d| Utc.with_ymd_and_hms(2026, 11, d, 0, 0, 0).unwrap())
        .collect();
    let papers: Vec<Paper> = (0..40)
        .map(|i| {
            let mut p = paper(&format!("2611.{i:05}"), "Graph learning", &["A"]);
            p.published = Some(days[i % 3]);
            p
        })
        .collect();
    store_as_s(&store, &papers);
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(&dir.path().join("i")).unwrap();
    index.catch_up(&store).unwrap();
    let query = Query::parse("graph").unwrap();

    // The reference order: newest first, then by key descending, as topic feeds list them.
    let mut expected: Vec<(chrono::DateTime<Utc>, String)> = Vec::new();
    store
        .for_each_paper(|p| expected.push((p.updated(), p.key)))
        .unwrap();
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<String> = expected.into_iter().map(|(_, k)| k).collect();

    for limit in [1, 7, 13, 40, 100] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let (hits, next) = index.page(&query, cursor.as_ref(), limit).unwrap();
            assert!(hits.len() <= limit);
            seen.extend(hits.into_iter().map(|h| h.key));
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, expected, "pages of {limit}");
    }
    let (first, _) = index.search(&query, 5).unwrap();
    let first: Vec<String> = first.into_iter().map(|h| h.key).collect();
    assert_eq!(first, expected[..5], "search lists the first page");
}

#[test]
fn an_index_ahead_of_its_store_is_rebuilt_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(&dir.path().join("i")).unwrap();
    let old = PaperStore::in_memory();
    for n in 1..=3 {
        let p = paper(&format!("2611.0000{n}"), "Graph learning", &["A"]);
        store_as_s(&old, &[p]);
    }
    index.catch_up(&old).unwrap();
    // The store is replaced (or lost its last writes): its change numbers start again.
    let new = PaperStore::in_memory();
    let p = paper("2611.00009", "Graph sampling", &["B"]);
    store_as_s(&new, &[p]);
    assert_eq!(
        index.catch_up(&new).unwrap(),
        1,
        "rebuilt from the new store"
    );
    let (hits, total) = index.search(&Query::parse("graph").unwrap(), 10).unwrap();
    assert_eq!(total, 1);
    assert_eq!(hits[0].title, "Graph sampling");
}

#[test]
fn an_index_of_the_layout_before_is_rebuilt_in_this_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("i");
    {
        // Version 2's schema: the date stored too, tantivy's default docstore (lz4).
        let mut builder = Schema::builder();
        builder.add_text_field("key", STRING | STORED | FAST);
        builder.add_i64_field("updated", INDEXED | FAST | STORED);
        builder.add_text_field("title", tantivy::schema::TEXT | STORED);
        let old = builder.build();
        std::fs::create_dir_all(&path).unwrap();
        let index = Index::create_in_dir(&path, old.clone()).unwrap();
        let mut writer: IndexWriter = index.writer_with_num_threads(1, 15 << 20).unwrap();
        let mut doc = TantivyDocument::default();
        doc.add_text(old.get_field("key").unwrap(), "arxiv:2611.00001");
        doc.add_text(old.get_field("title").unwrap(), "Old graph paper");
        writer.add_document(doc).unwrap();
        writer.commit().unwrap();
    }
    let index = SearchIndex::open(&path).unwrap();
    let store = PaperStore::in_memory();
    store_as_s(&store, &[paper("2611.00002", "Graph sampling", &["B"])]);
    assert_eq!(index.catch_up(&store).unwrap(), 1, "rebuilt from the store");
    let (hits, total) = index.search(&Query::parse("graph").unwrap(), 10).unwrap();
    assert_eq!(total, 1);
    assert_eq!(
        (hits[0].key.as_str(), hits[0].title.as_str()),
        ("arxiv:2611.00002", "Graph sampling")
    );
    assert!(matches!(
        index.index.settings().docstore_compression,
        Compressor::Zstd(_)
    ));
}

#[test]
fn papers_taken_in_wait_for_a_commit_and_are_taken_in_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("i");
    let index = SearchIndex::open(&path).unwrap();
    let store = PaperStore::in_memory();
    index.catch_up(&store).unwrap();
    let graphs = |index: &SearchIndex| index.search(&Query::parse("graph").unwrap(), 10).unwrap().1;
    store_as_s(&store, &[paper("2611.00001", "Graph learning", &["A"])]);
    assert_eq!(index.take_in(&store).unwrap(), 1);
    assert_eq!(graphs(&index), 0, "waiting for a commit");
    assert_eq!(
        index.papers_if_caught_up(&store).unwrap(),
        None,
        "taken in, not committed"
    );
    store_as_s(&store, &[paper("2611.00002", "Graph sampling", &["B"])]);
    assert_eq!(index.take_in(&store).unwrap(), 1, "only the change after");
    // A catch-up commits what waited, and takes nothing in twice.
    assert_eq!(index.catch_up(&store).unwrap(), 0);
    assert_eq!((graphs(&index), index.len()), (2, 2));
    // Due: a commit once enough papers wait.
    for n in 3..=4 {
        store_as_s(&store, &[paper(&format!("2611.0000{n}"), "Graph", &["C"])]);
        let took = index
            .with_writer(|open| index.catch_up_locked(&store, open, Commit::After(2)))
            .unwrap();
        assert_eq!(took, 1);
    }
    assert_eq!(graphs(&index), 4, "committed when two waited");
    // Dropped before a commit (a crash, or `finish`): taken in again from the store.
    store_as_s(&store, &[paper("2611.00005", "Graph five", &["D"])]);
    assert_eq!(index.take_in(&store).unwrap(), 1);
    index.finish().unwrap();
    drop(index);
    let index = SearchIndex::open(&path).unwrap();
    assert_eq!(graphs(&index), 4);
    assert_eq!(index.catch_up(&store).unwrap(), 1);
    assert_eq!((graphs(&index), index.len()), (5, 5));
}

#[test]
fn a_reader_refuses_an_index_that_was_never_built() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("i");
    let index = SearchIndex::open(&path).unwrap();
    assert!(matches!(
        SearchIndex::open_read_only(&path),
        Err(IndexError::Building { .. })
    ));
    index.catch_up(&PaperStore::in_memory()).unwrap();
    assert!(SearchIndex::open_read_only(&path).is_ok());
}

#[test]
fn setting_a_topic_while_batches_land_never_deadlocks() {
    // A topic is set under the store's write lock and brings the index up to date there;
    // a batch brings the index up to date after its commit. Neither may wait for the other
    // in a circle.
    let store = Arc::new(PaperStore::in_memory());
    let dir = tempfile::tempdir().unwrap();
    let index = Arc::new(SearchIndex::open(&dir.path().join("index")).unwrap());
    let (done, finished) = std::sync::mpsc::channel();
    let batches = {
        let (store, index, done) = (store.clone(), index.clone(), done.clone());
        std::thread::spawn(move || {
            for i in 0..40 {
                let id = format!("2611.{i:05}");
                store
                    .apply_batch(
                        "s",
                        &[paper(&id, "Graph learning", &["A"])],
                        &Tagger::default(),
                        |_| SourceState::default(),
                        Utc::now(),
                    )
                    .unwrap();
                index.catch_up(&store).unwrap();
            }
            done.send("batches").unwrap();
        })
    };
    let topics = std::thread::spawn(move || {
        let query = Query::parse("graph").unwrap();
        for _ in 0..40 {
            store
                .set_topic("t", Some("graph"), || {
                    index.catch_up(&store)?;
                    index.keys_matching(&query)
                })
                .unwrap();
        }
        done.send("topics").unwrap();
    });
    for _ in 0..2 {
        finished
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("both finish: no deadlock between the store's lock and the index's");
    }
    batches.join().unwrap();
    topics.join().unwrap();
}

#[test]
fn similar_papers_share_words_and_leave_the_paper_out() {
    let store = fixture_store();
    let (_dir, index) = index_of(&store);
    let mut papers = Vec::new();
    store.for_each_paper(|p| papers.push(p)).unwrap();
    let paper = store
        .get(&papers[papers.len() / 2].key)
        .unwrap()
        .expect("stored");
    let similar = index.similar(&paper, 10).unwrap();
    assert_eq!(similar.len(), 10);
    assert!(similar.iter().all(|(hit, _)| hit.key != paper.key));
    let scores: Vec<f32> = similar.iter().map(|(_, s)| *s).collect();
    assert!(
        scores.iter().all(|s| *s > 0.0 && *s <= 1.0),
        "relevance in (0, 1]: {scores:?}"
    );
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "best first: {scores:?}"
    );
    // The best match shares at least one of the paper's own words.
    let words = |text: &str| -> BTreeSet<String> {
        crate::pipeline::text::words(text)
            .into_iter()
            .filter(|w| w.len() > 3)
            .collect()
    };
    let own = words(&format!(
        "{} {}",
        paper.paper.title, paper.paper.abstract_text
    ));
    let best = store.get(&similar[0].0.key).unwrap().expect("stored");
    let theirs = words(&format!(
        "{} {}",
        best.paper.title, best.paper.abstract_text
    ));
    assert!(own.intersection(&theirs).next().is_some());
    assert!(index.similar(&paper, 0).unwrap().is_empty());
}

#[test]
fn ranking_by_words_reads_the_heaviest_lists_that_fit_its_budget() {
    let store = PaperStore::in_memory();
    let mut papers = Vec::new();
    for (n, abstract_text) in ["common words", "common again", "common too", "a rare one"]
        .into_iter()
        .enumerate()
    {
        let title = if n == 3 {
            "Title 3 rare".to_string()
        } else {
            format!("Title {n}")
        };
        let mut p = paper(&format!("2611.0000{n}"), &title, &["Ann Smith"]);
        p.abstract_text = abstract_text.into();
        papers.push(p);
    }
    store_as_s(&store, &papers);
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(&dir.path().join("i")).unwrap();
    assert_eq!(index.catch_up(&store).unwrap(), 4);
    let mut key_of = std::collections::HashMap::new();
    store
        .for_each_paper(|p| {
            key_of.insert(p.paper.abstract_text.clone(), p.key.clone());
        })
        .unwrap();
    let keys =
        |texts: &[&str]| -> HashSet<String> { texts.iter().map(|t| key_of[*t].clone()).collect() };
    // Lightest first: the ranking orders them.
    let words = [("rare", 1.0), ("absent", 3.0), ("common", 2.0)];
    // Room for every list: each paper with either word.
    assert_eq!(
        index.ranked_by_words(&words, 10, 100).unwrap(),
        keys(&["common words", "common again", "common too", "a rare one"])
    );
    // The heaviest word's list (three papers) does not fit in two: the rarer one's two do.
    assert_eq!(
        index.ranked_by_words(&words, 10, 2).unwrap(),
        keys(&["a rare one"])
    );
    // Exactly room for the heaviest: the next no longer fits.
    assert_eq!(
        index.ranked_by_words(&words, 10, 3).unwrap(),
        keys(&["common words", "common again", "common too"])
    );
    assert!(index.ranked_by_words(&words, 10, 0).unwrap().is_empty());
    assert!(index.ranked_by_words(&words, 0, 100).unwrap().is_empty());
    // A word counts by its lists in title and abstract together: "rare" is in one title and
    // one abstract, two entries, taken whole or not at all.
    assert!(index
        .ranked_by_words(&[("rare", 1.0)], 10, 1)
        .unwrap()
        .is_empty());
    assert_eq!(
        index.ranked_by_words(&[("rare", 1.0)], 10, 2).unwrap(),
        keys(&["a rare one"])
    );

    // Searching read the posting lists rather than mapping them; the term dictionaries are
    // mapped.
    index.search(&Query::parse("rare").unwrap(), 10).unwrap();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let root = dir.path().canonicalize().unwrap();
    let mapped = |kind: &str| {
        maps.lines()
            .any(|l| l.contains(root.to_str().unwrap()) && l.ends_with(&format!(".{kind}")))
    };
    assert!(mapped("term"), "{maps}");
    assert!(!mapped("idx") && !mapped("pos"), "{maps}");
}

/// A store that, the first time a scan of the papers begins, has a batch written first: what a
/// batch stored while a rebuild reads the store looks like.
struct WritesDuringScan {
    inner: crate::store::MemoryStore,
    store: std::sync::OnceLock<std::sync::Weak<PaperStore>>,
    batch: std::sync::Mutex<Option<Vec<Paper>>>,
}

impl crate::store::Store for WritesDuringScan {
    fn get(&self, tree: crate::store::Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(tree, key)
    }
    fn scan(
        &self,
        tree: crate::store::Tree,
        prefix: &[u8],
        from: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<crate::store::Row>, StoreError> {
        if tree == crate::store::Tree::Papers {
            let batch = self.batch.lock().unwrap().take();
            let store = self.store.get().and_then(std::sync::Weak::upgrade);
            if let (Some(papers), Some(store)) = (batch, store) {
                store_as_s(&store, &papers);
            }
        }
        self.inner.scan(tree, prefix, from, reverse, limit)
    }
    fn commit(&self, ops: &[crate::store::Op]) -> Result<(), StoreError> {
        self.inner.commit(ops)
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }
}

#[test]
fn a_paper_stored_while_a_rebuild_reads_the_store_is_indexed_once() {
    let kv = Arc::new(WritesDuringScan {
        inner: crate::store::MemoryStore::default(),
        store: std::sync::OnceLock::new(),
        batch: std::sync::Mutex::new(None),
    });
    let store = Arc::new(PaperStore::new(kv.clone()));
    kv.store.set(Arc::downgrade(&store)).unwrap();
    store
        .apply_batch(
            "s",
            &[paper("2611.00001", "Graph learning", &["A"])],
            &Tagger::default(),
            |_| SourceState::default(),
            Utc::now(),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let index = SearchIndex::open(&dir.path().join("i")).unwrap();
    // The rebuild's scan sees the new paper, and so does the catch-up after it (the batch's
    // change is after the point the rebuild started from): indexed once all the same.
    *kv.batch.lock().unwrap() = Some(vec![paper("2611.00002", "Graph diffusion", &["B"])]);
    index.rebuild(&store).unwrap();
    index.catch_up(&store).unwrap();
    let all = Query::parse("*").unwrap();
    assert_eq!(index.search(&all, 10).unwrap().1, 2);
    let diffusion = Query::parse("diffusion").unwrap();
    assert_eq!(index.search(&diffusion, 10).unwrap().1, 1);
}

#[test]
fn finishing_waits_for_the_merge_the_last_commit_began() {
    let store = PaperStore::in_memory();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("i");
    let index = SearchIndex::open(&path).unwrap();
    // One commit a batch, one segment a commit: the eighth gives tantivy's log merge policy
    // the eight segments it merges, and the merge starts as that commit ends.
    for n in 0..8 {
        store_as_s(
            &store,
            &[paper(&format!("2611.{n:05}"), "Graph learning", &["A"])],
        );
        assert_eq!(index.catch_up(&store).unwrap(), 1);
    }
    index.finish().unwrap();
    assert!(matches!(
        index.catch_up(&store),
        Err(IndexError::Finished { .. })
    ));
    index.finish().unwrap();
    drop(index);
    let segments = Index::open_in_dir(&path)
        .unwrap()
        .searchable_segment_metas()
        .unwrap();
    assert_eq!(segments.len(), 1, "the eight segments merged: {segments:?}");
    assert_eq!(segments[0].num_docs(), 8);
}
