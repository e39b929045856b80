//! Rendering a topic's papers as a feed document. Pure: papers in, bytes out. The bytes, their
//! strong `ETag` and the `Last-Modified` date are computed together so the server can answer
//! conditional requests from the cache.

use atom_syndication::{
    Category, Content, Entry, Feed, FixedDateTime, Generator, Link as AtomLink, Person, Text,
};
use chrono::{DateTime, Utc};

use crate::model::{LinkKind, StoredPaper};

/// The namespace of paperboy's own feed elements (`paperboy:score`, a paper's relevance to a
/// topic learned from examples), declared on the root of Atom and RSS feeds that use it.
pub const PAPERBOY_NS: &str = "urn:paperboy:feed:1";

/// The `paperboy:score` element of a paper with a relevance, made by `element` (qualified
/// name, text) as either XML writer takes it: prefix → name → elements.
fn score_extension<E>(
    stored: &StoredPaper,
    element: impl Fn(String, String) -> E,
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, Vec<E>>> {
    let mut map = std::collections::BTreeMap::new();
    if let Some(relevance) = stored.relevance {
        let score = element("paperboy:score".into(), format!("{:.4}", relevance.value()));
        map.insert(
            "paperboy".to_string(),
            std::collections::BTreeMap::from([("score".to_string(), vec![score])]),
        );
    }
    map
}

/// The namespaces an XML feed of `papers` declares: paperboy's when an entry has a score.
fn namespaces(papers: &[StoredPaper]) -> std::collections::BTreeMap<String, String> {
    let mut map = std::collections::BTreeMap::new();
    if papers.iter().any(|p| p.relevance.is_some()) {
        map.insert("paperboy".to_string(), PAPERBOY_NS.to_string());
    }
    map
}

/// What a feed says about itself.
#[derive(Debug, Clone)]
pub struct FeedMeta<'a> {
    /// The topic's id, which the feed's stable id is made from.
    pub topic_id: &'a str,
    /// The feed's title.
    pub title: &'a str,
    /// The topic's query, shown as the feed's subtitle.
    pub query: &'a str,
    /// The public URL of this feed document (`rel="self"`).
    pub self_url: &'a str,
    /// The public URL of a page for people (`rel="alternate"`).
    pub page_url: &'a str,
    /// The public URL of the next (older) page of this feed, when there is one (RFC 5005).
    pub next_url: Option<&'a str>,
    /// The WebSub hub that pushes this feed to subscribers (`rel="hub"`), when there is one.
    pub hub_url: Option<&'a str>,
}

/// A rendered feed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The document.
    pub bytes: Vec<u8>,
    /// A strong validator computed from the bytes, quoted (`"…"`).
    pub etag: String,
    /// The newest entry's `updated`, or the Unix epoch for an empty feed.
    pub last_modified: DateTime<Utc>,
}

impl Rendered {
    fn new(bytes: Vec<u8>, last_modified: DateTime<Utc>) -> Self {
        let etag = format!("\"{}\"", crate::pipeline::digest::short_hash(&bytes));
        Rendered {
            bytes,
            etag,
            last_modified,
        }
    }
}

/// The feed formats paperboy serves. Each format owns everything about itself in one row of
/// [`FORMATS`]: its file extension, media type, label and renderer; the server, the pages and
/// the self-checks iterate over [`Format::ALL`]. Adding a format is one renderer and one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Atom 1.0 (RFC 4287).
    Atom,
    /// RSS 2.0.
    Rss,
    /// JSON Feed 1.1.
    Json,
}

/// What a format is, in one place.
struct FormatSpec {
    format: Format,
    /// The file extension of its feeds (`/feeds/<topic>.<extension>`).
    extension: &'static str,
    /// The media type, as autodiscovery links announce it.
    media_type: &'static str,
    /// The `Content-Type` of its responses.
    content_type: &'static str,
    /// Its name for people.
    label: &'static str,
    /// Renders papers (newest first) as a document of this format.
    render: fn(&FeedMeta<'_>, &[StoredPaper]) -> Rendered,
}

/// The registry of formats, in the order pages list them.
const FORMATS: [FormatSpec; 3] = [
    FormatSpec {
        format: Format::Atom,
        extension: "atom",
        media_type: "application/atom+xml",
        content_type: "application/atom+xml; charset=utf-8",
        label: "Atom",
        render: atom,
    },
    FormatSpec {
        format: Format::Rss,
        extension: "rss",
        media_type: "application/rss+xml",
        content_type: "application/rss+xml; charset=utf-8",
        label: "RSS",
        render: rss,
    },
    FormatSpec {
        format: Format::Json,
        extension: "json",
        media_type: "application/feed+json",
        content_type: "application/feed+json; charset=utf-8",
        label: "JSON Feed",
        render: json_feed,
    },
];

impl Format {
    /// Every format, in the order pages list them.
    pub const ALL: [Format; 3] = [FORMATS[0].format, FORMATS[1].format, FORMATS[2].format];

    fn spec(self) -> &'static FormatSpec {
        // FORMATS holds one row per variant, in declaration order (checked by a test).
        &FORMATS[self as usize]
    }

    /// The file extension of this format's feeds.
    pub fn extension(self) -> &'static str {
        self.spec().extension
    }

    /// The media type autodiscovery links announce.
    pub fn media_type(self) -> &'static str {
        self.spec().media_type
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        self.spec().content_type
    }

    /// The format's name for people ("JSON Feed").
    pub fn label(self) -> &'static str {
        self.spec().label
    }

    /// Renders `papers` (newest first) in this format.
    pub fn render(self, meta: &FeedMeta<'_>, papers: &[StoredPaper]) -> Rendered {
        (self.spec().render)(meta, papers)
    }

    /// The format whose extension this is.
    pub fn from_extension(extension: &str) -> Option<Format> {
        Self::ALL.into_iter().find(|f| f.extension() == extension)
    }

    /// `generalization.atom` → (`generalization`, Atom).
    pub fn split_file_name(file: &str) -> Option<(&str, Format)> {
        let (stem, extension) = file.rsplit_once('.')?;
        Some((stem, Format::from_extension(extension)?))
    }
}

/// The stable Atom id of a topic's feed. It does not depend on `base_url`.
pub fn feed_id(topic_id: &str) -> String {
    format!("urn:paperboy:topic:{topic_id}")
}

/// The id an entry is rendered with: its stored entry id, or, when that is no usable id
/// (empty, or holding whitespace, control characters or U+FFFE/U+FFFF, which readers trim or
/// reject), a stable URN made from it and the paper's key. Sources never give such ids; a
/// damaged store might.
pub fn rendered_entry_id(stored: &StoredPaper) -> std::borrow::Cow<'_, str> {
    let id = stored.entry_id.as_str();
    if !id.is_empty()
        && !id
            .chars()
            .any(|c| c.is_whitespace() || !crate::pipeline::text::is_xml_char(c))
    {
        return id.into();
    }
    crate::pipeline::identity::entry_urn(&format!("{id}\u{1}{}", stored.key)).into()
}

/// The date a feed of these papers (newest first) was last modified: its newest paper's date,
/// or the last time one of its papers was first seen when that is later (a paper dated days
/// ago that arrived just now changes the feed now, and a reader asking `If-Modified-Since`
/// must get it).
pub fn newest(papers: &[StoredPaper]) -> DateTime<Utc> {
    papers
        .iter()
        .map(StoredPaper::arrived_or_updated)
        .max()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// Renders an Atom 1.0 (RFC 4287) feed of `papers`, which come newest first.
pub fn atom(meta: &FeedMeta<'_>, papers: &[StoredPaper]) -> Rendered {
    let last_modified = newest(papers);
    let mut feed = Feed {
        title: Text::plain(meta.title),
        id: feed_id(meta.topic_id),
        updated: fixed(last_modified),
        subtitle: Some(Text::plain(format!("Papers matching: {}", meta.query))),
        generator: Some(Generator {
            value: "paperboy".into(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
        // Atom requires an author on every entry; entries whose sources named none inherit
        // this one.
        authors: vec![Person {
            name: "paperboy".into(),
            ..Default::default()
        }],
        links: [
            Some(AtomLink {
                href: meta.self_url.into(),
                rel: "self".into(),
                mime_type: Some("application/atom+xml".into()),
                ..Default::default()
            }),
            Some(AtomLink {
                href: meta.page_url.into(),
                rel: "alternate".into(),
                mime_type: Some("text/html".into()),
                ..Default::default()
            }),
            meta.next_url.map(|next| AtomLink {
                href: next.into(),
                rel: "next".into(),
                mime_type: Some("application/atom+xml".into()),
                ..Default::default()
            }),
            meta.hub_url.map(|hub| AtomLink {
                href: hub.into(),
                rel: "hub".into(),
                ..Default::default()
            }),
        ]
        .into_iter()
        .flatten()
        .collect(),
        namespaces: namespaces(papers),
        ..Default::default()
    };
    feed.entries = papers.iter().map(atom_entry).collect();
    let bytes = Vec::with_capacity(2048 + papers.len() * 2048);
    // atom_syndication writes the XML declaration itself.
    let bytes = feed
        .write_to(bytes)
        .expect("the XML writer fails only when its output does, and a Vec<u8> takes any write");
    Rendered::new(xml_chars_only(bytes), last_modified)
}

/// A rendered XML document without the characters XML 1.0 forbids (control characters other
/// than tab, newline and carriage return; U+FFFE and U+FFFF), which the XML writers pass
/// through from text and which make every reader reject the whole feed. Titles and abstracts
/// are cleaned of them on the way in; other fields and older stores may still hold some. The
/// writers never emit such characters themselves, so only text and attribute values lose them.
fn xml_chars_only(bytes: Vec<u8>) -> Vec<u8> {
    let forbidden_byte = |b: u8| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r');
    let nonchar = |w: &[u8]| matches!(w, [0xEF, 0xBF, 0xBE | 0xBF]);
    if !bytes.iter().any(|&b| forbidden_byte(b)) && !bytes.windows(3).any(nonchar) {
        return bytes;
    }
    match String::from_utf8(bytes) {
        Ok(text) => text
            .chars()
            .filter(|&c| matches!(c, '\t' | '\n' | '\r') || crate::pipeline::text::is_xml_char(c))
            .collect::<String>()
            .into_bytes(),
        Err(e) => e.into_bytes(),
    }
}

/// What a link is called where readers show it.
fn link_title(kind: LinkKind) -> Option<&'static str> {
    match kind {
        LinkKind::Page | LinkKind::Related => None,
        LinkKind::Pdf => Some("PDF"),
        LinkKind::Doi => Some("DOI"),
        LinkKind::HuggingFace => Some("Hugging Face"),
        LinkKind::Code => Some("Code"),
        LinkKind::Project => Some("Project page"),
    }
}

/// The entry body as HTML built from plain text (every piece escaped, nothing from a source
/// passed through as markup): the abstract, then a line of what a reader wants at a glance.
pub fn entry_html(stored: &StoredPaper) -> String {
    use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
    let paper = &stored.paper;
    let mut out = String::new();
    if !paper.abstract_text.is_empty() {
        out.push_str(&format!("<p>{}</p>", text(&paper.abstract_text)));
    }
    let mut facts: Vec<String> = Vec::new();
    if let Some(relevance) = stored.relevance {
        facts.push(format!(
            "Relevance {relevance} (how close it is to the topic's example papers, 0 to 1)"
        ));
    }
    if let Some(id) = &paper.ids.arxiv {
        let version = paper.version.map(|v| format!("v{v}")).unwrap_or_default();
        facts.push(format!("arXiv:{}{}", text(id), version));
    }
    if !paper.categories.is_empty() {
        facts.push(text(&paper.categories.join(", ")).into_owned());
    }
    if let Some(upvotes) = paper.upvotes {
        let comments = paper
            .discussion_comments
            .map(|c| format!(", {c} comments"))
            .unwrap_or_default();
        facts.push(format!("{upvotes} upvotes{comments} on Hugging Face"));
    }
    for link in &paper.links {
        let Some(title) = link_title(link.kind) else {
            continue;
        };
        let stars = match (link.kind, paper.github_stars) {
            (LinkKind::Code, Some(stars)) => format!(" ({stars} stars)"),
            _ => String::new(),
        };
        facts.push(format!(
            "<a href=\"{}\">{title}</a>{stars}",
            attr(&link.href)
        ));
    }
    if let Some(journal) = &paper.journal_ref {
        facts.push(format!("Published in {}", text(journal)));
    }
    if let Some(comment) = &paper.comment {
        facts.push(text(comment).into_owned());
    }
    if !facts.is_empty() {
        out.push_str(&format!("<p>{}</p>", facts.join(" · ")));
    }
    let sources: Vec<&str> = paper.sources.iter().map(String::as_str).collect();
    out.push_str(&format!("<p>Seen in: {}</p>", text(&sources.join(", "))));
    out
}

fn atom_entry(stored: &StoredPaper) -> Entry {
    let paper = &stored.paper;
    let mut links = Vec::new();
    for link in &paper.links {
        let rel = match link.kind {
            LinkKind::Page if !links.iter().any(|l: &AtomLink| l.rel == "alternate") => "alternate",
            _ => "related",
        };
        links.push(AtomLink {
            href: link.href.clone(),
            rel: rel.into(),
            mime_type: link.media_type.clone(),
            title: link_title(link.kind).map(str::to_string),
            ..Default::default()
        });
    }
    Entry {
        title: Text::plain(paper.title.clone()),
        id: rendered_entry_id(stored).into_owned(),
        updated: fixed(stored.updated()),
        published: Some(fixed(stored.published())),
        authors: paper
            .authors
            .iter()
            .map(|a| Person {
                name: a.name.clone(),
                ..Default::default()
            })
            .collect(),
        categories: paper
            .categories
            .iter()
            .map(|c| Category {
                term: c.clone(),
                ..Default::default()
            })
            .collect(),
        summary: (!paper.abstract_text.is_empty())
            .then(|| Text::plain(paper.abstract_text.clone())),
        content: Some(Content {
            value: Some(entry_html(stored)),
            content_type: Some("html".into()),
            ..Default::default()
        }),
        links,
        extensions: score_extension(stored, |name, value| {
            atom_syndication::extension::Extension {
                name,
                value: Some(value),
                ..Default::default()
            }
        }),
        ..Default::default()
    }
}

fn fixed(date: DateTime<Utc>) -> FixedDateTime {
    date.fixed_offset()
}

/// Renders an RSS 2.0 feed of `papers` (newest first): the same entries, in the same order,
/// with the Atom entry id as each item's `guid`, `atom:link`s for `self` and `next`, the
/// authors in `dc:creator` (RSS's own `author` wants an e-mail address) and a `category` per
/// subject category.
pub fn rss(meta: &FeedMeta<'_>, papers: &[StoredPaper]) -> Rendered {
    use rss::extension::atom::{AtomExtension, Link as RssAtomLink};
    use rss::extension::dublincore::DublinCoreExtension;

    let last_modified = newest(papers);
    let atom_link = |rel: &str, href: &str| RssAtomLink {
        rel: rel.into(),
        href: href.into(),
        mime_type: Some("application/rss+xml".into()),
        ..Default::default()
    };
    let mut links = vec![atom_link("self", meta.self_url)];
    if let Some(next) = meta.next_url {
        links.push(atom_link("next", next));
    }
    if let Some(hub) = meta.hub_url {
        links.push(RssAtomLink {
            rel: "hub".into(),
            href: hub.into(),
            ..Default::default()
        });
    }
    let items = papers
        .iter()
        .map(|stored| {
            let paper = &stored.paper;
            rss::Item {
                title: Some(paper.title.clone()),
                link: paper.link(LinkKind::Page).map(|l| l.href.clone()),
                description: Some(entry_html(stored)),
                guid: Some({
                    let id = rendered_entry_id(stored);
                    rss::Guid {
                        permalink: id.starts_with("http"),
                        value: id.into_owned(),
                    }
                }),
                pub_date: Some(stored.updated().to_rfc2822()),
                categories: paper
                    .categories
                    .iter()
                    .map(|c| rss::Category {
                        name: c.clone(),
                        domain: None,
                    })
                    .collect(),
                // One dc:creator naming every author, as arXiv's own RSS does: readers such as
                // newsboat keep only one dc:creator per item.
                dublin_core_ext: (!paper.authors.is_empty()).then(|| DublinCoreExtension {
                    creators: vec![paper
                        .authors
                        .iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")],
                    ..Default::default()
                }),
                extensions: score_extension(stored, |name, value| rss::extension::Extension {
                    name,
                    value: Some(value),
                    ..Default::default()
                }),
                ..Default::default()
            }
        })
        .collect();
    let channel = rss::Channel {
        namespaces: namespaces(papers),
        title: meta.title.into(),
        link: meta.page_url.into(),
        description: format!("Papers matching: {}", meta.query),
        generator: Some(format!("paperboy {}", env!("CARGO_PKG_VERSION"))),
        last_build_date: Some(last_modified.to_rfc2822()),
        pub_date: Some(last_modified.to_rfc2822()),
        atom_ext: Some(AtomExtension { links }),
        items,
        ..Default::default()
    };
    let bytes = channel
        .write_to(Vec::with_capacity(2048 + papers.len() * 2048))
        .expect("the XML writer fails only when its output does, and a Vec<u8> takes any write");
    Rendered::new(xml_chars_only(bytes), last_modified)
}

/// Renders a JSON Feed 1.1 of `papers` (newest first): the same entries, in the same order,
/// with the same ids.
pub fn json_feed(meta: &FeedMeta<'_>, papers: &[StoredPaper]) -> Rendered {
    let last_modified = newest(papers);
    let items: Vec<serde_json::Value> = papers
        .iter()
        .map(|stored| {
            let paper = &stored.paper;
            let mut item = serde_json::json!({
                "id": rendered_entry_id(stored),
                "title": paper.title,
                "content_html": entry_html(stored),
                "date_published": stored.published().to_rfc3339(),
                "date_modified": stored.updated().to_rfc3339(),
            });
            if let Some(page) = paper.link(LinkKind::Page) {
                item["url"] = page.href.clone().into();
            }
            if !paper.abstract_text.is_empty() {
                item["summary"] = paper.abstract_text.clone().into();
            }
            if !paper.authors.is_empty() {
                item["authors"] = paper
                    .authors
                    .iter()
                    .map(|a| serde_json::json!({ "name": a.name }))
                    .collect();
            }
            if !paper.categories.is_empty() {
                item["tags"] = paper.categories.clone().into();
            }
            let attachments: Vec<serde_json::Value> = paper
                .links
                .iter()
                .filter(|l| l.kind == LinkKind::Pdf)
                .map(|l| serde_json::json!({ "url": l.href, "mime_type": "application/pdf", "title": "PDF" }))
                .collect();
            if !attachments.is_empty() {
                item["attachments"] = attachments.into();
            }
            // JSON Feed's extension convention: a key starting with an underscore.
            if let Some(relevance) = stored.relevance {
                item["_paperboy"] = serde_json::json!({
                    "score": (f64::from(relevance.value()) * 10_000.0).round() / 10_000.0,
                });
            }
            item
        })
        .collect();
    let mut feed = serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": meta.title,
        "description": format!("Papers matching: {}", meta.query),
        "home_page_url": meta.page_url,
        "feed_url": meta.self_url,
        "items": items,
    });
    if let Some(next) = meta.next_url {
        feed["next_url"] = next.into();
    }
    if let Some(hub) = meta.hub_url {
        feed["hubs"] = serde_json::json!([{ "type": "WebSub", "url": hub }]);
    }
    let mut bytes = serde_json::to_vec_pretty(&feed)
        .expect("a serde_json::Value (string keys only) always serializes");
    bytes.push(b'\n');
    Rendered::new(bytes, last_modified)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::TimeZone;

    use super::*;
    use crate::model::{Author, Identifiers, Link, Paper};

    fn stored(title: &str, abstract_text: &str, day: u32) -> StoredPaper {
        let date = Utc.with_ymd_and_hms(2026, 4, day, 4, 0, 0).unwrap();
        StoredPaper {
            key: format!("arxiv:2604.0000{day}"),
            entry_id: format!("https://arxiv.org/abs/2604.0000{day}"),
            first_seen: date,
            topics: vec!["t".into()],
            relevance: None,
            aliases: Default::default(),
            paper: Paper {
                ids: Identifiers {
                    arxiv: Some(format!("2604.0000{day}")),
                    entry: format!("s:{day}"),
                    ..Default::default()
                },
                version: Some(1),
                title: title.into(),
                authors: vec![Author::named("Ada Lovelace"), Author::named("Alan Turing")],
                abstract_text: abstract_text.into(),
                links: vec![
                    Link {
                        kind: LinkKind::Page,
                        href: format!("https://arxiv.org/abs/2604.0000{day}"),
                        media_type: None,
                    },
                    Link {
                        kind: LinkKind::Pdf,
                        href: format!("https://arxiv.org/pdf/2604.0000{day}v1"),
                        media_type: Some("application/pdf".into()),
                    },
                ],
                categories: vec!["cs.LG".into(), "stat.ML".into()],
                published: Some(date),
                updated: Some(date),
                sources: BTreeSet::from(["s".to_string()]),
                ..Default::default()
            },
        }
    }

    fn meta() -> FeedMeta<'static> {
        FeedMeta {
            topic_id: "t",
            title: "Topic <T> & co",
            query: "a OR b",
            self_url: "http://127.0.0.1:8080/feeds/t.atom",
            page_url: "http://127.0.0.1:8080/",
            next_url: Some("http://127.0.0.1:8080/feeds/t.atom?before=abc"),
            hub_url: Some("http://127.0.0.1:8080/websub"),
        }
    }

    #[test]
    fn every_format_has_its_own_row() {
        for format in Format::ALL {
            assert_eq!(format.spec().format, format);
            assert_eq!(Format::from_extension(format.extension()), Some(format));
        }
        assert_eq!(
            Format::split_file_name("generalization.json"),
            Some(("generalization", Format::Json))
        );
        assert_eq!(Format::split_file_name("generalization.xml"), None);
        assert_eq!(Format::split_file_name("atom"), None);
    }

    #[test]
    fn a_late_arrival_moves_last_modified() {
        let old = stored("Old", "a", 1);
        let mut late = stored("Late", "b", 2);
        assert_eq!(newest(&[old.clone(), late.clone()]), late.updated());
        // Dated April 2, first seen April 9: the feed changed on April 9.
        late.first_seen = Utc.with_ymd_and_hms(2026, 4, 9, 0, 0, 0).unwrap();
        assert_eq!(newest(&[old, late.clone()]), late.first_seen);
    }

    #[test]
    fn stored_text_with_control_characters_still_renders_well_formed() {
        // Found by the render fuzzer: a damaged or old store may hold what sources never give.
        let mut odd = stored("Bell \u{7} and \u{fffe} in the title", "tab\there", 3);
        odd.paper.authors[0].name = "Ada\u{1b}[31m".into();
        odd.paper.categories.push("cs\u{0}.LG".into());
        for format in [atom, rss] {
            let doc = format(&meta(), std::slice::from_ref(&odd));
            let text = std::str::from_utf8(&doc.bytes).unwrap();
            roxmltree::Document::parse(text).expect("well-formed");
            assert!(text.contains("Bell  and  in the title"), "{text}");
            assert!(text.contains("tab\there"), "tabs are XML");
        }
    }

    #[test]
    fn an_unusable_entry_id_is_replaced_by_a_stable_urn() {
        let mut odd = stored("t", "a", 3);
        assert_eq!(rendered_entry_id(&odd), "https://arxiv.org/abs/2604.00003");
        for bad in ["", "https://arxiv.org/abs/\u{3}", "x\u{ffff}", "two words"] {
            odd.entry_id = bad.into();
            let id = rendered_entry_id(&odd).into_owned();
            assert!(id.starts_with("urn:paperboy:entry:"), "{bad:?} → {id}");
            assert_eq!(rendered_entry_id(&odd), id, "stable");
        }
        // The three formats agree on it.
        let ids: Vec<Vec<String>> = [atom, rss, json_feed]
            .iter()
            .map(|format| {
                let doc = format(&meta(), std::slice::from_ref(&odd));
                let feed = feed_rs::parser::parse(doc.bytes.as_slice()).unwrap();
                feed.entries.into_iter().map(|e| e.id).collect()
            })
            .collect();
        assert!(ids.iter().all(|i| i == &ids[0]), "{ids:?}");
    }

    #[test]
    fn three_formats_carry_the_same_entries() {
        let papers = vec![
            stored("Bounds for <T> & friends", "We prove x < y & y > z.", 9),
            stored("Older", "old", 2),
        ];
        let ids = |bytes: &[u8]| -> Vec<String> {
            feed_rs::parser::parse(bytes)
                .expect("re-parses")
                .entries
                .into_iter()
                .map(|e| e.id)
                .collect()
        };
        let a = atom(&meta(), &papers);
        let r = rss(&meta(), &papers);
        let j = json_feed(&meta(), &papers);
        let expected = vec![
            "https://arxiv.org/abs/2604.00009",
            "https://arxiv.org/abs/2604.00002",
        ];
        assert_eq!(ids(&a.bytes), expected);
        assert_eq!(ids(&r.bytes), expected);
        assert_eq!(ids(&j.bytes), expected);
        assert_eq!(a.last_modified, r.last_modified);

        let rss_xml = String::from_utf8(r.bytes).unwrap();
        assert!(
            rss_xml.contains(r#"<atom:link href="http://127.0.0.1:8080/feeds/t.atom" rel="self""#),
            "{rss_xml}"
        );
        assert!(rss_xml.contains(r#"rel="next""#));
        assert!(
            rss_xml.contains(r#"<atom:link href="http://127.0.0.1:8080/websub" rel="hub"/>"#),
            "{rss_xml}"
        );
        let atom_xml = String::from_utf8(a.bytes.clone()).unwrap();
        assert!(
            atom_xml.contains(r#"<link href="http://127.0.0.1:8080/websub" rel="hub"/>"#),
            "{atom_xml}"
        );
        assert!(
            rss_xml.contains(r#"<guid>https://arxiv.org/abs/2604.00009</guid>"#),
            "{rss_xml}"
        );
        assert_eq!(
            rss_xml
                .matches("<dc:creator>Ada Lovelace, Alan Turing</dc:creator>")
                .count(),
            2
        );
        assert!(rss_xml.contains("<category>stat.ML</category>"));
        assert!(rss_xml.contains("Bounds for &lt;T&gt; &amp; friends"));
        assert!(roxmltree::Document::parse(&rss_xml).is_ok());

        let json: serde_json::Value = serde_json::from_slice(&j.bytes).unwrap();
        assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
        assert_eq!(
            json["hubs"],
            serde_json::json!([{ "type": "WebSub", "url": "http://127.0.0.1:8080/websub" }])
        );
        assert_eq!(
            json["next_url"],
            "http://127.0.0.1:8080/feeds/t.atom?before=abc"
        );
        assert_eq!(json["items"][0]["authors"][1]["name"], "Alan Turing");
        assert_eq!(json["items"][0]["tags"][1], "stat.ML");
        assert_eq!(json["items"][0]["summary"], "We prove x < y & y > z.");
        assert_eq!(
            json["items"][0]["attachments"][0]["url"],
            "https://arxiv.org/pdf/2604.00009v1"
        );
    }

    #[test]
    fn atom_has_required_elements_and_escapes_text() {
        let papers = vec![
            stored("Bounds for <T> & friends", "We prove x < y & y > z.", 9),
            stored("Older", "old", 2),
        ];
        let out = atom(&meta(), &papers);
        let xml = String::from_utf8(out.bytes.clone()).unwrap();
        assert!(xml.contains("<id>urn:paperboy:topic:t</id>"), "{xml}");
        assert!(xml.contains("Bounds for &lt;T&gt; &amp; friends"), "{xml}");
        assert!(xml.contains("We prove x &lt; y &amp; y &gt; z."), "{xml}");
        assert!(xml.contains("Topic &lt;T&gt; &amp; co"));
        assert!(xml.contains(r#"rel="self""#));
        assert!(xml.contains("<updated>2026-04-09T04:00:00+00:00</updated>"));
        assert_eq!(xml.matches("<entry>").count(), 2);
        assert_eq!(xml.matches("<name>Ada Lovelace</name>").count(), 2);
        assert!(xml.contains(r#"<category term="stat.ML"/>"#));
        assert!(xml.contains(r#"href="https://arxiv.org/pdf/2604.00009v1""#));
        assert_eq!(
            out.last_modified,
            Utc.with_ymd_and_hms(2026, 4, 9, 4, 0, 0).unwrap()
        );

        // The entry body is escaped HTML built from text.
        assert!(xml.contains("&lt;p&gt;We prove x &amp;lt; y"), "{xml}");
        assert!(xml.contains("Seen in: s"), "{xml}");

        // The output parses back as a feed with the same entries.
        let parsed = feed_rs::parser::parse(out.bytes.as_slice()).expect("re-parses");
        assert_eq!(parsed.entries.len(), 2);
        assert_eq!(parsed.entries[0].id, "https://arxiv.org/abs/2604.00009");
        assert_eq!(parsed.entries[0].authors.len(), 2);
    }

    #[test]
    fn etag_follows_content_not_time() {
        let papers = vec![stored("A", "x", 3)];
        let a = atom(&meta(), &papers);
        let b = atom(&meta(), &papers);
        assert_eq!(a.etag, b.etag);
        let c = atom(&meta(), &[stored("B", "x", 3)]);
        assert_ne!(a.etag, c.etag);
        let empty = atom(&meta(), &[]);
        assert_eq!(empty.last_modified, DateTime::<Utc>::UNIX_EPOCH);
    }
}
