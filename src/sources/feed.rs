//! The `feed` source kind: any RSS 0.9x/1.0/2.0, Atom or JSON Feed, parsed by feed-rs and
//! mapped onto [`Paper`]s. It recognizes arXiv ids and DOIs in links, ids and guids, and arXiv's
//! listing descriptions, so a generic feed merges with arXiv's own. Pure: bytes in, papers out.

use std::collections::{BTreeSet, HashMap};

use feed_rs::model::{Entry, Text};

use super::{xml, ParseError, SourceContext};
use crate::model::{Author, Identifiers, Link, LinkKind, Paper};
use crate::pipeline::digest::short_hash;
use crate::pipeline::identity::{
    arxiv_from_doi, arxiv_links, biorxiv_doi, doi_link, find_arxiv_id, find_doi, normalize_link,
    ArxivRef,
};
use crate::pipeline::merge::UNTITLED;
use crate::pipeline::normalize::{split_arxiv_listing, split_authors};
use crate::pipeline::text::{collapse_whitespace, html_to_text};

/// The `feed` kind: a `url` and nothing else.
pub struct Feed;

impl super::Kind for Feed {
    fn name(&self) -> &'static str {
        "feed"
    }

    fn parse(&self, bytes: &[u8], ctx: &SourceContext<'_>) -> Result<Vec<Paper>, ParseError> {
        parse(bytes, ctx)
    }
}

/// Parses a feed's bytes into papers, one per entry that has a title, a link or an id.
pub fn parse(bytes: &[u8], ctx: &SourceContext<'_>) -> Result<Vec<Paper>, ParseError> {
    let feed = parse_feed(bytes, ctx.url)?;
    let dois = ItemDois::scan(bytes);
    let mut papers: Vec<Paper> = feed
        .entries
        .iter()
        .filter_map(|entry| normalize_entry(entry, ctx, &dois))
        .collect();
    forget_shared_links(&mut papers, ctx);
    Ok(papers)
}

/// A link that several entries of one document share (a journal's "current issue" page) says
/// nothing about which paper an entry is: it stops being an identity, so those entries are not
/// merged into one.
fn forget_shared_links(papers: &mut [Paper], ctx: &SourceContext<'_>) {
    let mut uses: HashMap<String, usize> = HashMap::new();
    for link in papers.iter().filter_map(|p| p.ids.link.clone()) {
        *uses.entry(link).or_default() += 1;
    }
    let link_key = format!("{}:link:", ctx.source_id);
    for paper in papers.iter_mut() {
        let Some(link) = paper.ids.link.clone() else {
            continue;
        };
        if uses.get(&link).copied().unwrap_or(0) > 1 {
            paper.ids.link = None;
            if paper.ids.entry.starts_with(&link_key) {
                let title = &paper.title;
                paper.ids.entry = format!(
                    "{}:title:{}",
                    ctx.source_id,
                    short_hash(format!("{link}\n{title}"))
                );
            }
        }
    }
}

/// DOIs that feeds carry in elements feed-rs does not keep (`dc:identifier`, `prism:doi`,
/// `dc:source`), keyed by the item's normalized link, `rdf:about` and guid.
#[derive(Debug, Default)]
pub struct ItemDois(HashMap<String, String>);

impl ItemDois {
    /// Scans the raw XML; a document roxmltree cannot read (not UTF-8, a DTD, JSON) simply
    /// yields none.
    pub fn scan(bytes: &[u8]) -> Self {
        let mut map: HashMap<String, Option<String>> = HashMap::new();
        let Some(doc) = std::str::from_utf8(bytes)
            .ok()
            .and_then(|t| xml::parse(t).ok())
        else {
            return ItemDois::default();
        };
        for item in xml::items(&doc) {
            let doi = ["identifier", "doi", "source"]
                .iter()
                .flat_map(|name| xml::children(item, name))
                .filter_map(xml::text_of)
                .find_map(|t| find_doi(&t));
            let Some(doi) = doi else { continue };
            let about = item
                .attributes()
                .find(|a| a.name() == "about")
                .map(|a| a.value().to_string());
            let keys = [
                xml::child_text(item, "link"),
                about,
                xml::child_text(item, "guid"),
                xml::child_text(item, "id"),
            ];
            for key in keys.into_iter().flatten() {
                let key = normalize_link(&key).unwrap_or(key);
                // A key two items share with different DOIs identifies neither.
                match map.get(&key) {
                    Some(Some(other)) if *other != doi => {
                        map.insert(key, None);
                    }
                    Some(_) => {}
                    None => {
                        map.insert(key, Some(doi.clone()));
                    }
                }
            }
        }
        ItemDois(map.into_iter().filter_map(|(k, v)| Some((k, v?))).collect())
    }

    fn lookup(&self, entry: &Entry) -> Option<String> {
        if self.0.is_empty() {
            return None;
        }
        std::iter::once(entry.id.trim())
            .chain(entry.links.iter().map(|l| l.href.trim()))
            .find_map(|k| {
                let key = normalize_link(k).unwrap_or_else(|| k.to_string());
                self.0.get(&key).cloned()
            })
    }
}

/// Namespaces of feed formats older than the ones feed-rs reads, and the namespace of the
/// format each maps onto element for element (RSS 0.90 is RSS 1.0's predecessor; Atom 0.3
/// names its core elements as Atom 1.0 does; Userland's RSS 2.0 namespace is plain RSS 2.0).
const LEGACY_NAMESPACES: &[(&str, &str)] = &[
    (
        "\"http://my.netscape.com/rdf/simple/0.9/\"",
        "\"http://purl.org/rss/1.0/\"",
    ),
    (
        "\"http://purl.org/atom/ns#\"",
        "\"http://www.w3.org/2005/Atom\"",
    ),
    ("xmlns=\"http://backend.userland.com/rss2\"", "xmlns=\"\""),
];

/// Parses bytes with feed-rs, never letting it invent random ids: entries without an id keep an
/// empty one, and [`normalize_entry`] derives a deterministic one. Legacy namespaces are mapped
/// onto the formats feed-rs reads; a document with items of which feed-rs could read none is an
/// error, never an empty success.
pub fn parse_feed(bytes: &[u8], base_url: &str) -> Result<feed_rs::model::Feed, ParseError> {
    let base = base_url.starts_with("http").then_some(base_url);
    let bytes = modern_namespaces(bytes);
    let feed = feed_rs::parser::Builder::new()
        .base_uri(base)
        .id_generator(|_, _, _| String::new())
        .build()
        .parse(bytes.as_ref())
        .map_err(|e| ParseError::NotAFeed(e.to_string()))?;
    if feed.entries.is_empty() {
        let items = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| xml::parse(t).ok())
            .map_or(0, |doc| xml::items(&doc).count());
        if items > 0 {
            return Err(ParseError::Unexpected(format!(
                "the document has {items} items or entries, but in a format or namespace paperboy \
                 cannot read"
            )));
        }
    }
    Ok(feed)
}

/// The bytes with legacy feed namespaces replaced by their modern equivalents.
fn modern_namespaces(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let mut out = std::borrow::Cow::Borrowed(bytes);
    for (old, new) in LEGACY_NAMESPACES {
        if let Some(at) = find_bytes(&out, old.as_bytes()) {
            let mut replaced = Vec::with_capacity(out.len());
            replaced.extend_from_slice(&out[..at]);
            replaced.extend_from_slice(new.as_bytes());
            replaced.extend_from_slice(&out[at + old.len()..]);
            out = std::borrow::Cow::Owned(replaced);
        }
    }
    out
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Maps one feed-rs entry onto a paper. Returns `None` for an entry with nothing to identify
/// or show (no title, no link, no id).
pub fn normalize_entry(entry: &Entry, ctx: &SourceContext<'_>, dois: &ItemDois) -> Option<Paper> {
    let title = entry.title.as_ref().map(text_of).unwrap_or_default();
    // The abstract: the summary, else the content body; HTML unless declared plain.
    let (raw_abstract, is_html) = match (&entry.summary, &entry.content) {
        (Some(summary), _) => (
            summary.content.as_str(),
            !is_plain(summary.content_type.subty().as_str()),
        ),
        (None, Some(content)) => (
            content.body.as_deref().unwrap_or(""),
            !is_plain(content.content_type.subty().as_str()),
        ),
        (None, None) => ("", false),
    };
    // arXiv's listing descriptions are plain text even where the feed format says HTML.
    let (listing, rest) = split_arxiv_listing(raw_abstract);
    let abstract_text = if is_html && listing.is_none() {
        html_to_text(rest)
    } else {
        collapse_whitespace(rest)
    };

    let hrefs: Vec<&str> = entry.links.iter().map(|l| l.href.trim()).collect();
    let arxiv: Option<ArxivRef> = listing
        .as_ref()
        .map(|l| l.arxiv.clone())
        .or_else(|| find_arxiv_id(&entry.id))
        .or_else(|| hrefs.iter().find_map(|h| find_arxiv_id(h)));
    let biorxiv = hrefs.iter().find_map(|h| biorxiv_doi(h));
    let doi = std::iter::once(entry.id.as_str())
        .chain(hrefs.iter().copied())
        .find_map(|t| find_doi(t).filter(|d| arxiv_from_doi(d).is_none()))
        .or_else(|| biorxiv.as_ref().map(|(doi, _)| doi.clone()))
        .or_else(|| dois.lookup(entry));

    let links = links_of(entry, arxiv.as_ref(), doi.as_deref());
    let page = links
        .iter()
        .find(|l| l.kind == LinkKind::Page)
        .map(|l| l.href.as_str());
    let link_id = page.and_then(normalize_link);

    if title.is_empty() && link_id.is_none() && entry.id.trim().is_empty() {
        return None;
    }
    let entry_key = if !entry.id.trim().is_empty() {
        format!("{}:{}", ctx.source_id, entry.id.trim())
    } else if let Some(link) = &link_id {
        format!("{}:link:{link}", ctx.source_id)
    } else {
        format!("{}:title:{}", ctx.source_id, short_hash(&title))
    };

    let authors: Vec<Author> = entry
        .authors
        .iter()
        .flat_map(|p| split_authors(&p.name))
        .map(Author::named)
        .collect();
    // One name per element is a list; names split out of one string are less certain.
    let author_rank = match entry.authors.len() {
        0 => 0,
        n if n == authors.len() && n > 1 => 2,
        _ => 1,
    };

    let mut seen = BTreeSet::new();
    let categories = entry
        .categories
        .iter()
        .map(|c| {
            collapse_whitespace(
                c.label
                    .as_deref()
                    .filter(|_| c.term.trim().is_empty())
                    .unwrap_or(&c.term),
            )
        })
        .filter(|c| !c.is_empty() && seen.insert(c.clone()))
        .collect();

    Some(Paper {
        ids: Identifiers {
            arxiv: arxiv.as_ref().map(|a| a.id.clone()),
            // A link identifies a paper only where nothing stronger does.
            link: link_id.filter(|_| arxiv.is_none() && doi.is_none()),
            doi,
            entry: entry_key,
        },
        version: arxiv
            .as_ref()
            .and_then(|a| a.version)
            .or_else(|| biorxiv.and_then(|(_, v)| v)),
        title: if title.is_empty() {
            UNTITLED.to_string()
        } else {
            title
        },
        authors,
        author_rank,
        abstract_text,
        links,
        categories,
        published: entry.published.or(entry.updated),
        updated: entry.updated.or(entry.published),
        announce_type: listing.map(|l| l.announce_type),
        sources: BTreeSet::from([ctx.source_id.to_string()]),
        ..Default::default()
    })
}

fn is_arxiv_host(href: &str) -> bool {
    url::Url::parse(href)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| h == "arxiv.org" || h.ends_with(".arxiv.org"))
        })
        .unwrap_or(false)
}

/// The plain text of a feed-rs text construct.
fn text_of(text: &Text) -> String {
    if is_plain(text.content_type.subty().as_str()) {
        collapse_whitespace(&text.content)
    } else {
        html_to_text(&text.content)
    }
}

fn is_plain(subtype: &str) -> bool {
    subtype == "plain"
}

/// Classifies an entry's links, and adds the arXiv abstract page, PDF and DOI links that can
/// be derived from its identifiers when the feed did not give them.
fn links_of(entry: &Entry, arxiv: Option<&ArxivRef>, doi: Option<&str>) -> Vec<Link> {
    let mut links: Vec<Link> = Vec::new();
    let mut push = |link: Link| {
        if !links.iter().any(|l| l.href == link.href) {
            links.push(link);
        }
    };
    for l in &entry.links {
        let href = l.href.trim();
        if !(href.starts_with("http://") || href.starts_with("https://")) {
            continue;
        }
        // arXiv's own abstract and PDF links, and DOI resolver links, are rebuilt below in one
        // canonical form.
        if (arxiv.is_some() && is_arxiv_host(href) && find_arxiv_id(href).is_some())
            || (doi.is_some() && find_doi(href).is_some())
        {
            continue;
        }
        let media_type = l.media_type.clone().filter(|m| !m.is_empty());
        let rel = l.rel.as_deref().unwrap_or("alternate");
        let is_pdf = media_type.as_deref() == Some("application/pdf")
            || l.title.as_deref() == Some("pdf")
            || href.contains("arxiv.org/pdf/");
        let kind = if is_pdf {
            LinkKind::Pdf
        } else if find_doi(href).is_some() {
            LinkKind::Doi
        } else if href.contains("huggingface.co/papers/") {
            LinkKind::HuggingFace
        } else if href.starts_with("https://github.com/") {
            LinkKind::Code
        } else if rel == "alternate" {
            LinkKind::Page
        } else {
            LinkKind::Related
        };
        push(Link {
            kind,
            href: href.to_string(),
            media_type,
        });
    }
    if let Some(a) = arxiv {
        arxiv_links(&a.id).into_iter().for_each(&mut push);
    }
    if let Some(doi) = doi {
        push(doi_link(doi));
    }
    // The first page link leads; when the feed gave none, the first other link stands in.
    if !links.iter().any(|l| l.kind == LinkKind::Page) {
        if let Some(first) = links.iter_mut().find(|l| l.kind == LinkKind::Related) {
            first.kind = LinkKind::Page;
        }
    }
    links.sort_by_key(|l| l.kind);
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> SourceContext<'static> {
        SourceContext {
            source_id: "test",
            url: "https://example.org/feed",
        }
    }

    fn parse_str(xml: &str) -> Vec<Paper> {
        parse(xml.as_bytes(), &ctx()).expect("parses")
    }

    #[test]
    fn entries_without_ids_get_the_same_id_every_parse() {
        let xml = r#"<rss version="2.0"><channel><title>t</title>
            <item><title>Only a title</title></item>
            <item><title>Linked</title><link>https://example.org/p/1</link></item>
            </channel></rss>"#;
        let first = parse_str(xml);
        let second = parse_str(xml);
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].ids, second[0].ids);
        assert_eq!(first[1].ids, second[1].ids);
        assert!(first[0].ids.entry.starts_with("test:title:"));
        assert_eq!(first[1].ids.entry, "test:link:https://example.org/p/1");
    }

    #[test]
    fn html_in_titles_and_summaries_becomes_text() {
        let xml = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>f</id>
            <updated>2026-01-01T00:00:00Z</updated>
            <entry><id>tag:x,2026:1</id><title type="html">A &lt;b&gt;bold&lt;/b&gt; claim</title>
            <updated>2026-01-01T00:00:00Z</updated>
            <summary type="html">&lt;p&gt;We show &lt;i&gt;x&lt;/i&gt; &amp;amp; y.&lt;/p&gt;&lt;script&gt;bad()&lt;/script&gt;</summary>
            </entry></feed>"#;
        let papers = parse_str(xml);
        assert_eq!(papers[0].title, "A bold claim");
        assert_eq!(papers[0].abstract_text, "We show x & y.");
    }

    #[test]
    fn a_link_shared_by_several_entries_is_no_identity() {
        let xml = r#"<rss version="2.0"><channel><title>J</title>
            <item><title>One</title><guid>j-1</guid><link>https://j.example/current-issue</link></item>
            <item><title>Two</title><link>https://j.example/current-issue</link></item>
            <item><title>Three</title><link>https://j.example/current-issue</link></item>
            <item><title>Own</title><link>https://j.example/papers/4</link></item>
            </channel></rss>"#;
        let papers = parse_str(xml);
        assert_eq!(papers.len(), 4);
        assert_eq!(papers[0].ids.link, None);
        assert_eq!(papers[1].ids.link, None);
        assert_ne!(papers[1].ids.entry, papers[2].ids.entry);
        assert_eq!(
            papers[3].ids.link.as_deref(),
            Some("https://j.example/papers/4")
        );
        let mut keys: Vec<_> = papers
            .iter()
            .flat_map(|p| crate::pipeline::identity::identifiers(&p.ids))
            .collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 5, "no identifier is shared: {keys:?}");
    }

    #[test]
    fn legacy_formats_are_read_or_refused_never_empty() {
        let rss090 = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/">
            <channel><title>Mozilla Dot Org</title><link>http://www.mozilla.org</link><description>d</description></channel>
            <item><title>New Status Updates</title><link>http://www.mozilla.org/status/</link></item>
            <item><title>Bugzilla Reorganized</title><link>http://www.mozilla.org/bugs/</link></item>
            </rdf:RDF>"#;
        let papers = parse_str(rss090);
        assert_eq!(papers.len(), 2);
        assert_eq!(papers[1].title, "Bugzilla Reorganized");

        let atom03 = r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>t</title>
            <entry><title>Old Atom</title><link rel="alternate" type="text/html" href="http://example.org/1"/>
            <id>tag:example.org,2003:1</id><issued>2003-12-13T08:29:29-04:00</issued></entry></feed>"#;
        assert_eq!(parse_str(atom03)[0].title, "Old Atom");

        let unknown =
            r#"<feed xmlns="http://example.org/not-atom"><entry><title>x</title></entry></feed>"#;
        let err = parse(unknown.as_bytes(), &ctx()).expect_err("unreadable items are an error");
        assert!(err.to_string().contains("1 items or entries"), "{err}");
    }

    #[test]
    fn non_feeds_are_errors() {
        let err =
            parse(b"<html><body>hello</body></html>", &ctx()).expect_err("html is not a feed");
        assert!(err.to_string().starts_with("not a feed"), "{err}");
        assert!(parse(b"\x00\x01garbage", &ctx()).is_err());
    }
}
