//! One paper, one entry: arXiv 2604.21952 arrives from a journal feed (DOI only), arXiv's cs.LG
//! and cs.AI listings, Hugging Face, a v2 replacement and the arXiv API (see
//! `tests/fixtures/overlap/README.md`). Exactly one paper must come out, with the best of what
//! every source said, under the entry id it was first given.

use chrono::{Duration, TimeZone, Utc};
use paperboy::model::{LinkKind, SourceState, StoredPaper};
use paperboy::pipeline::query::Query;
use paperboy::pipeline::render::{atom, FeedMeta};
use paperboy::pipeline::tag::{Tagger, TopicQuery};
use paperboy::sources::{SourceContext, SourceKind};
use paperboy::store::PaperStore;

const STEPS: &[(&str, SourceKind, &str)] = &[
    ("journal", SourceKind::Feed, "0-journal-doi-only.rss.xml"),
    ("arxiv-cs-lg", SourceKind::Arxiv, "1-arxiv-cs-lg-v1.rss.xml"),
    (
        "arxiv-cs-ai",
        SourceKind::Arxiv,
        "2-arxiv-cs-ai-cross.rss.xml",
    ),
    ("hf-daily", SourceKind::HfDaily, "3-hf-daily.json"),
    (
        "arxiv-cs-lg",
        SourceKind::Arxiv,
        "4-arxiv-cs-lg-v2-replace.rss.xml",
    ),
    ("arxiv-api", SourceKind::ArxivApi, "5-arxiv-api-v2.atom.xml"),
];

fn tagger() -> Tagger {
    Tagger::new(vec![
        TopicQuery {
            id: "all".into(),
            query: Query::parse("*").unwrap(),
        },
        TopicQuery {
            id: "mfm".into(),
            query: Query::parse(r#""multimodal foundation model*""#).unwrap(),
        },
    ])
}

fn ingest(store: &PaperStore, steps: &[(&str, SourceKind, &str)]) {
    let t0 = Utc.with_ymd_and_hms(2026, 4, 23, 12, 0, 0).unwrap();
    for (i, (source, kind, file)) in steps.iter().enumerate() {
        let path = format!(
            "{}/tests/fixtures/overlap/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let bytes = std::fs::read(&path).unwrap();
        let ctx = SourceContext {
            source_id: source,
            url: "https://example.org/",
        };
        let papers = kind
            .parse(&bytes, &ctx)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let now = t0 + Duration::hours(i as i64);
        store
            .apply_batch(source, &papers, &tagger(), |_| SourceState::default(), now)
            .unwrap();
    }
}

fn the_paper(store: &PaperStore) -> StoredPaper {
    let mfm = store.topic_papers("mfm", 100).unwrap();
    assert_eq!(mfm.len(), 1, "one paper in the topic: {mfm:#?}");
    mfm.into_iter().next().unwrap()
}

#[test]
fn every_source_merges_into_one_paper() {
    let store = PaperStore::in_memory();
    ingest(&store, STEPS);
    let stored = the_paper(&store);
    let p = &stored.paper;

    // Identity: the journal saw it first, so its DOI entry id stays.
    assert_eq!(stored.entry_id, "https://doi.org/10.5555/mfm.2026.0001");
    assert_eq!(p.ids.arxiv.as_deref(), Some("2604.21952"));
    assert_eq!(p.ids.doi.as_deref(), Some("10.5555/mfm.2026.0001"));
    // v2 updated it in place.
    assert_eq!(p.version, Some(2));
    assert_eq!(p.announce_type.as_deref(), Some("replace"));
    assert!(
        p.title.starts_with("Focus Session (extended):"),
        "{}",
        p.title
    );
    assert_eq!(p.updated.unwrap().to_rfc3339(), "2026-05-04T04:00:00+00:00");
    assert_eq!(
        p.published.unwrap().to_rfc3339(),
        "2026-04-23T09:00:00+00:00"
    );
    // Authors from the most structured source (the API, with affiliations).
    assert_eq!(p.authors.len(), 6);
    assert_eq!(
        p.authors[0].affiliation.as_deref(),
        Some("New York University Abu Dhabi")
    );
    // The longest clean abstract, without tags or scripts from the journal.
    assert!(p
        .abstract_text
        .starts_with("This work presents a multi-layered methodology"));
    assert!(
        p.abstract_text.ends_with("energy-efficient spiking-MFMs."),
        "{}",
        p.abstract_text
    );
    assert!(!p.abstract_text.contains('<'));
    // Categories united, primary first.
    assert_eq!(p.primary_category.as_deref(), Some("cs.LG"));
    assert_eq!(
        p.categories,
        vec!["cs.LG", "cs.AI", "cs.AR", "cs.NE", "cs.RO"]
    );
    // Every link, each once, arXiv's page leading.
    let kinds: Vec<(LinkKind, &str)> = p.links.iter().map(|l| (l.kind, l.href.as_str())).collect();
    assert_eq!(
        kinds,
        vec![
            (LinkKind::Page, "https://arxiv.org/abs/2604.21952"),
            (
                LinkKind::Page,
                "https://journal.example.org/date2026/paper/0001"
            ),
            (LinkKind::Pdf, "https://arxiv.org/pdf/2604.21952"),
            (LinkKind::Doi, "https://doi.org/10.5555/mfm.2026.0001"),
            (
                LinkKind::HuggingFace,
                "https://huggingface.co/papers/2604.21952"
            ),
            (LinkKind::Code, "https://github.com/example/mfm-accel"),
        ]
    );
    assert_eq!(
        (p.upvotes, p.discussion_comments, p.github_stars),
        (Some(42), Some(7), Some(128))
    );
    assert_eq!(p.journal_ref.as_deref(), Some("Proc. DATE 2026"));
    let sources: Vec<&str> = p.sources.iter().map(String::as_str).collect();
    assert_eq!(
        sources,
        vec![
            "arxiv-api",
            "arxiv-cs-ai",
            "arxiv-cs-lg",
            "hf-daily",
            "journal"
        ]
    );

    // Every identifier leads to it; the store holds 4 papers in all (2 other cs.LG items, one
    // other Hugging Face paper).
    assert_eq!(store.topic_count("all").unwrap(), 4);
    assert_eq!(store.topic_count("mfm").unwrap(), 1);

    // One entry in the rendered feed, with the links readers want.
    let papers = store.topic_papers("mfm", 50).unwrap();
    let rendered = atom(
        &FeedMeta {
            topic_id: "mfm",
            title: "MFM",
            query: "x",
            self_url: "http://h/feeds/mfm.atom",
            page_url: "http://h/",
            next_url: None,
            hub_url: None,
        },
        &papers,
    );
    let xml = String::from_utf8(rendered.bytes).unwrap();
    let feed = feed_rs::parser::parse(xml.as_bytes()).unwrap();
    assert_eq!(feed.entries.len(), 1);
    assert_eq!(feed.entries[0].id, "https://doi.org/10.5555/mfm.2026.0001");
    assert_eq!(feed.entries[0].authors.len(), 6);
    assert!(
        xml.contains(
            r#"<link href="https://arxiv.org/abs/2604.21952" rel="alternate" type="text/html"/>"#
        ),
        "{xml}"
    );
    assert!(xml.contains(r#"title="Hugging Face""#));
    assert!(xml.contains("42 upvotes, 7 comments on Hugging Face"));
    assert!(xml.contains("(128 stars)"));
    assert!(
        !xml.contains("<script"),
        "no markup from a source reaches the reader unescaped"
    );
}

#[test]
fn arrival_order_does_not_change_the_result() {
    let forward = PaperStore::in_memory();
    ingest(&forward, STEPS);
    let mut reversed_steps = STEPS.to_vec();
    reversed_steps.reverse();
    let backward = PaperStore::in_memory();
    ingest(&backward, &reversed_steps);
    let (a, b) = (the_paper(&forward).paper, the_paper(&backward).paper);
    assert_eq!(a.version, b.version);
    assert_eq!(a.title, b.title);
    assert_eq!(a.authors, b.authors);
    assert_eq!(a.abstract_text, b.abstract_text);
    assert_eq!(a.categories, b.categories);
    assert_eq!(a.upvotes, b.upvotes);
    assert_eq!(a.sources, b.sources);
    assert_eq!(a.published, b.published);
    assert_eq!(a.updated, b.updated);
    let mut la: Vec<_> = a.links.iter().map(|l| &l.href).collect();
    let mut lb: Vec<_> = b.links.iter().map(|l| &l.href).collect();
    la.sort();
    lb.sort();
    assert_eq!(la, lb);
    assert_eq!(backward.topic_count("all").unwrap(), 4);
}
