//! Round-trip checks shared by the corpus test, the fuzz targets (`fuzz/`) and the fuzz
//! regression test: a source's bytes through the path ingestion takes (adapter → clean →
//! identify → tag), and stored papers through every renderer with each document read back.
//!
//! A check returns the problems it found; an empty list is a pass. A panic inside is itself a
//! finding, for the caller (a fuzzer, or a test under `catch_unwind`) to report.

use chrono::{DateTime, Utc};

use crate::model::StoredPaper;
use crate::pipeline::identity::first_seen;
use crate::pipeline::query::Query;
use crate::pipeline::render::{FeedMeta, Format, Rendered};
use crate::pipeline::tag::{Tagger, TopicQuery};
use crate::sources::{SourceContext, SourceKind};

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
/// The root element of an Atom document.
const ATOM_FEED: (Option<&str>, &str) = (Some(ATOM_NS), "feed");

/// The real captures in `../shared/fixtures/sources/` (beside the project) and the kind that
/// reads each: the real papers that tests and benchmarks build their stores from.
pub const CAPTURES: &[(SourceKind, &str)] = &[
    (SourceKind::Arxiv, "arxiv-rss2024-cslg-jmamath.xml"),
    (SourceKind::Arxiv, "arxiv-rss2024-cscl-jmamath.xml"),
    (SourceKind::Arxiv, "arxiv-rss2024-csai-jmamath.xml"),
    (SourceKind::ArxivApi, "arxiv-api-cslg-or-csai-m20.atom.xml"),
    (
        SourceKind::ArxivApi,
        "arxiv-api-transformer-cslg-m5.atom.xml",
    ),
    (
        SourceKind::ArxivApi,
        "arxiv-api-query-au-delmaestro-2016.atom.xml",
    ),
    (SourceKind::HfDaily, "hf-daily-papers-30.json"),
    (SourceKind::ArxivOai, "arxiv-oai-pmh-arxivraw-1000.xml"),
    (SourceKind::Feed, "biorxiv-plantbio-rss1.rdf"),
    (SourceKind::Feed, "biorxiv-genomics-rss1-feedrs.xml"),
];

/// The topic every check tags with; its query `*` matches every paper.
pub const ALL_TOPIC: &str = "all";

/// The context adapters run in during checks.
fn context() -> SourceContext<'static> {
    SourceContext {
        source_id: "check",
        url: "https://example.org/feeds/check.xml",
    }
}

/// A few topics, so the tagger runs over every paper's words; [`ALL_TOPIC`] matches every
/// paper.
pub fn tagger() -> Tagger {
    let topics = [
        (ALL_TOPIC, "*"),
        ("feeds", "feed OR atom OR rss"),
        (
            "phrase",
            "\"example entry\" OR test* OR ti:(neural AND -network)",
        ),
        ("unicode", "(caf* AND über) OR 日本語 OR cat:cs.*"),
    ];
    Tagger::new(
        topics
            .iter()
            .filter_map(|(id, q)| {
                Some(TopicQuery {
                    id: (*id).to_string(),
                    query: Query::parse(q).ok()?,
                })
            })
            .collect(),
    )
}

/// Runs `bytes` through `kind`'s adapter and the rest of ingestion up to the store: clean,
/// identify, tag. The papers come back newest first, as a feed lists them. `problems` gets
/// anything that breaks an invariant (a paper the `*` topic did not match).
pub fn ingest(
    kind: SourceKind,
    bytes: &[u8],
    tagger: &Tagger,
    now: DateTime<Utc>,
    problems: &mut Vec<String>,
) -> Result<Vec<StoredPaper>, String> {
    let papers = kind
        .read(bytes, &context(), now)
        .map_err(|e| e.to_string())?;
    let mut stored: Vec<StoredPaper> = papers
        .into_iter()
        .map(|paper| {
            let mut stored = first_seen(paper, now);
            stored.topics = tagger.tag(&stored.paper);
            if !stored.topics.iter().any(|t| t == ALL_TOPIC) {
                problems.push(format!(
                    "the `*` topic did not match {:?}",
                    stored.paper.title
                ));
            }
            stored
        })
        .collect();
    stored.sort_by_key(|s| std::cmp::Reverse(s.updated()));
    Ok(stored)
}

/// The `adapters` fuzz target's check, which its regression test replays: the first byte
/// picks the source kind, the rest go through [`ingest`] and, when they parse,
/// [`check_rendered`]. A parse error is a pass; a broken invariant is a problem, named with
/// the kind.
pub fn check_source_bytes(data: &[u8]) -> Vec<String> {
    let Some((&pick, bytes)) = data.split_first() else {
        return Vec::new();
    };
    let kind = SourceKind::ALL[usize::from(pick) % SourceKind::ALL.len()];
    // A fixed clock, so an input replays the same whenever it runs.
    let now = DateTime::from_timestamp(1_780_000_000, 0).unwrap_or_default();
    let mut problems = Vec::new();
    if let Ok(stored) = ingest(kind, bytes, &tagger(), now, &mut problems) {
        problems.extend(check_rendered(&stored));
    }
    problems
        .into_iter()
        .map(|p| format!("{}: {p}", kind.name()))
        .collect()
}

/// The feed metadata checks render with.
fn meta(self_url: &str) -> FeedMeta<'_> {
    FeedMeta {
        topic_id: ALL_TOPIC,
        title: "Every paper",
        query: "*",
        self_url,
        page_url: "http://127.0.0.1:8080/",
        next_url: Some("http://127.0.0.1:8080/feeds/all.atom?before=x"),
        hub_url: None,
    }
}

/// Renders `stored` (newest first) as Atom, RSS and JSON Feed and reads each back: UTF-8,
/// well-formed XML or JSON with the right root, one entry per paper, feed-rs reads the same
/// entries back, and all three formats carry the same entry ids in the same order.
pub fn check_rendered(stored: &[StoredPaper]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut ids: Vec<(Format, Vec<String>)> = Vec::new();
    for format in Format::ALL {
        let self_url = format!("http://127.0.0.1:8080/feeds/all.{}", format.extension());
        let doc = format.render(&meta(&self_url), stored);
        check_syntax(format, &doc, stored.len(), &mut problems);
        let label = format.label();
        match feed_rs::parser::parse(doc.bytes.as_slice()) {
            Err(e) => problems.push(format!("feed-rs cannot read the rendered {label}: {e}")),
            Ok(feed) if feed.entries.len() != stored.len() => problems.push(format!(
                "feed-rs reads {} entries back from the {label} of {} papers",
                feed.entries.len(),
                stored.len()
            )),
            Ok(feed) => ids.push((format, feed.entries.into_iter().map(|e| e.id).collect())),
        }
    }
    if ids.len() == Format::ALL.len() && ids.iter().any(|(_, i)| *i != ids[0].1) {
        problems.push(format!(
            "the formats disagree on entry ids: {}",
            ids.iter()
                .map(|(f, i)| format!("{} {i:?}", f.label()))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    problems
}

/// The document is well-formed in its format's syntax, with that format's root and
/// `entries` entries.
fn check_syntax(format: Format, doc: &Rendered, entries: usize, problems: &mut Vec<String>) {
    let label = format.label();
    match format {
        Format::Atom => check_xml(label, doc, ATOM_FEED, entries, problems),
        Format::Rss => check_xml(label, doc, (None, "rss"), entries, problems),
        Format::Json => check_json(doc, entries, problems),
    }
}

/// Well-formed UTF-8 XML with `root` as its root element and `entries` entry elements.
fn check_xml(
    format: &str,
    doc: &Rendered,
    root: (Option<&str>, &str),
    entries: usize,
    problems: &mut Vec<String>,
) {
    let text = match std::str::from_utf8(&doc.bytes) {
        Ok(text) => text,
        Err(e) => return problems.push(format!("the rendered {format} is not UTF-8: {e}")),
    };
    let parsed = match roxmltree::Document::parse(text) {
        Ok(parsed) => parsed,
        Err(e) => {
            return problems.push(format!("the rendered {format} is not well-formed XML: {e}"))
        }
    };
    let top = parsed.root_element();
    if !is(top, root) {
        problems.push(format!(
            "the rendered {format}'s root is {:?}",
            top.tag_name()
        ));
    }
    let found = top
        .descendants()
        .filter(|&n| is(n, (Some(ATOM_NS), "entry")) || is(n, (None, "item")))
        .count();
    if found != entries {
        problems.push(format!(
            "the rendered {format} has {found} entries for {entries} papers"
        ));
    }
}

/// Whether `node` is the element `(namespace, local name)`.
fn is(node: roxmltree::Node<'_, '_>, (namespace, name): (Option<&str>, &str)) -> bool {
    node.is_element() && node.tag_name().namespace() == namespace && node.tag_name().name() == name
}

/// Valid JSON, a JSON Feed 1.1 object with `entries` items.
fn check_json(doc: &Rendered, entries: usize, problems: &mut Vec<String>) {
    let value: serde_json::Value = match serde_json::from_slice(&doc.bytes) {
        Ok(value) => value,
        Err(e) => return problems.push(format!("the rendered JSON Feed is not JSON: {e}")),
    };
    if value["version"] != "https://jsonfeed.org/version/1.1" {
        problems.push(format!(
            "the rendered JSON Feed's version is {}",
            value["version"]
        ));
    }
    let items = value["items"].as_array().map_or(0, Vec::len);
    if items != entries {
        problems.push(format!(
            "the rendered JSON Feed has {items} items for {entries} papers"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_capture_passes_every_check() {
        let bytes = include_bytes!("../feeds/arxiv-cs-lg.rss.xml");
        let mut problems = Vec::new();
        let stored = ingest(
            SourceKind::Arxiv,
            bytes,
            &tagger(),
            Utc::now(),
            &mut problems,
        )
        .expect("the snapshot parses");
        assert!(stored.len() >= 3, "{} papers", stored.len());
        problems.extend(check_rendered(&stored));
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn a_broken_document_is_a_finding() {
        let stored = ingest(
            SourceKind::Arxiv,
            include_bytes!("../feeds/arxiv-cs-lg.rss.xml"),
            &tagger(),
            Utc::now(),
            &mut Vec::new(),
        )
        .expect("the snapshot parses");
        let mut problems = Vec::new();
        let mut atom = Format::Atom.render(&meta("http://x/"), &stored);
        atom.bytes.truncate(atom.bytes.len() / 2);
        check_xml("Atom", &atom, ATOM_FEED, stored.len(), &mut problems);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("not well-formed"), "{problems:?}");
        let json = Format::Json.render(&meta("http://x/"), &stored[..1]);
        check_json(&json, 2, &mut problems);
        assert!(problems[1].contains("1 items for 2 papers"), "{problems:?}");
    }
}
