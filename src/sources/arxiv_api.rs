//! The `arxiv-api` source kind: a query against arXiv's API (`export.arxiv.org/api/query`),
//! whose Atom responses carry `arxiv:` extensions feed-rs does not keep: primary category,
//! affiliations, comment, journal reference, DOI. Both the 2016 and the current layout are read
//! by namespace and element name. Also builds the paged request URLs. Pure.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use roxmltree::Node;

use std::time::Duration;

use super::{
    entry_mark, xml, Known, PageInfo, Pager, ParseError, Parsed, SourceContext, SourceKeys,
};
use crate::model::{Author, Identifiers, Paper};
use crate::pipeline::identity::{arxiv_from_doi, arxiv_links, doi_link, find_arxiv_id, find_doi};
use crate::pipeline::text::collapse_whitespace;

/// The API endpoint queries go to.
pub const API_URL: &str = "https://export.arxiv.org/api/query";
/// Results per request (arXiv asks for modest pages).
pub const PAGE_SIZE: usize = 100;

/// arXiv's API host, which asks for 3 s between requests (its terms of use).
pub const API_HOST: &str = "export.arxiv.org";
/// The least time between two requests to [`API_HOST`], a default of `fetch.host_gap`.
pub const API_GAP: Duration = Duration::from_secs(3);
/// How many results a source reads per poll when it does not say.
pub const DEFAULT_MAX_RESULTS: usize = 100;
/// The most results one poll may read: arXiv's API answers no more than this many for one
/// query, however it is paged.
pub const MAX_RESULTS_CAP: usize = 10_000;

/// The `arxiv-api` kind: an API `url`, or the search `query` to build one from; paged by
/// offset.
pub struct ArxivApi;

impl super::Kind for ArxivApi {
    fn name(&self) -> &'static str {
        "arxiv-api"
    }

    fn parse(&self, bytes: &[u8], ctx: &SourceContext<'_>) -> Result<Vec<Paper>, ParseError> {
        parse(bytes, ctx)
    }

    fn parse_unknown(
        &self,
        bytes: &[u8],
        ctx: &SourceContext<'_>,
        known: Known<'_>,
    ) -> Result<Parsed, ParseError> {
        read_page(bytes, ctx, Some(known))
    }

    fn own_keys(&self) -> &'static [&'static str] {
        &["query"]
    }

    fn url(&self, keys: &mut SourceKeys) -> Option<String> {
        let url = keys.required_url(&["query"]);
        match (url, keys.take_string("query")) {
            (Some(_), Some(_)) => {
                keys.problem("query", "give either url or query, not both");
                None
            }
            (Some(url), None) => Some(url),
            (None, Some(query)) if query.trim().is_empty() => {
                keys.problem("query", "is empty");
                None
            }
            (None, Some(query)) => Some(query_url(&query).to_string()),
            (None, None) => None,
        }
    }

    fn pager(&self) -> Option<&'static dyn Pager> {
        Some(&OffsetPager)
    }

    fn host_gaps(&self) -> &'static [(&'static str, Duration)] {
        &[(API_HOST, API_GAP)]
    }
}

/// Pages by `start`/`max_results` offsets, [`PAGE_SIZE`] at a time; a short page is the last.
struct OffsetPager;

impl Pager for OffsetPager {
    fn default_max_results(&self) -> usize {
        DEFAULT_MAX_RESULTS
    }

    fn max_results_cap(&self) -> Option<usize> {
        Some(MAX_RESULTS_CAP)
    }

    fn first_page(&self, base: &url::Url, max_results: usize, _since: Option<&str>) -> url::Url {
        page_url(base, 0, PAGE_SIZE.min(max_results))
    }

    fn read_page(
        &self,
        base: &url::Url,
        _page: &[u8],
        got: usize,
        so_far: usize,
        max_results: usize,
    ) -> PageInfo {
        let asked = PAGE_SIZE.min(max_results.saturating_sub(so_far - got));
        PageInfo {
            next: (got >= asked && so_far < max_results)
                .then(|| page_url(base, so_far, PAGE_SIZE.min(max_results - so_far))),
            ..PageInfo::default()
        }
    }
}

/// The URL of one page of results: `base` (the configured URL, or [`API_URL`] with the query)
/// with `start` and `max_results` set.
pub fn page_url(base: &url::Url, start: usize, page_size: usize) -> url::Url {
    super::with_params(
        base,
        &[
            ("start", &start.to_string()),
            ("max_results", &page_size.to_string()),
        ],
    )
}

/// The request URL for a search query, newest submissions first.
pub fn query_url(query: &str) -> url::Url {
    let mut url = url::Url::parse(API_URL).expect("static URL");
    url.query_pairs_mut()
        .append_pair("search_query", query)
        .append_pair("sortBy", "submittedDate")
        .append_pair("sortOrder", "descending");
    url
}

/// Parses one API response page.
pub fn parse(bytes: &[u8], ctx: &SourceContext<'_>) -> Result<Vec<Paper>, ParseError> {
    read_page(bytes, ctx, None).map(|parsed| parsed.papers)
}

/// Reads a page; with `known`, leaves out the entries it knows and marks the others.
fn read_page(
    bytes: &[u8],
    ctx: &SourceContext<'_>,
    known: Option<Known<'_>>,
) -> Result<Parsed, ParseError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ParseError::Unexpected(format!(
            "the arXiv API answers UTF-8 Atom; these bytes are not UTF-8 ({e})"
        ))
    })?;
    let not_xml = |e: String| ParseError::NotAFeed(format!("not XML: {e}"));
    // An entry at a time: the whole page as one document tree took five times its size.
    let split = xml::split(text).map_err(not_xml)?;
    let (name, atom) = split
        .root(|root| {
            (
                root.tag_name().name().to_string(),
                root.tag_name().namespace() == Some(xml::ATOM),
            )
        })
        .map_err(not_xml)?;
    if name != "feed" || !atom {
        return Err(ParseError::Unexpected(format!(
            "expected the arXiv API's Atom <feed>, found <{name}>"
        )));
    }
    let mut parsed = Parsed::default();
    for i in split.named("entry") {
        let mark = known.and_then(|_| {
            let raw = split.raw(i)?;
            let arxiv = find_arxiv_id(raw_id(raw)?)?;
            Some(entry_mark(ctx.source_id, &arxiv.id, split.open_tag(), raw))
        });
        if let (Some(known), Some(mark)) = (known, &mark) {
            if known(mark) {
                parsed.known += 1;
                continue;
            }
        }
        let paper = split
            .child(i, |entry| {
                let id = xml::child_text(entry, "id").unwrap_or_default();
                if id.contains("/api/errors") {
                    let message =
                        xml::child_text(entry, "summary").unwrap_or_else(|| "unknown error".into());
                    return Err(ParseError::Unexpected(format!(
                        "the arXiv API reports an error: {message}"
                    )));
                }
                Ok(entry_paper(entry, &id, ctx))
            })
            .map_err(not_xml)??;
        if let Some(paper) = paper {
            parsed.papers.push(paper);
            parsed.marks.extend(mark);
        }
    }
    Ok(parsed)
}

/// The text of an entry's `<id>` as written, when it is written plainly (no prefix, no
/// markup inside): what identifies an entry before it is parsed. Any other entry is read
/// every time.
fn raw_id(raw: &str) -> Option<&str> {
    let start = raw.find("<id>")? + "<id>".len();
    let len = raw[start..].find("</id>")?;
    let id = raw[start..start + len].trim();
    (!id.contains(['<', '&'])).then_some(id)
}

fn entry_paper(entry: Node<'_, '_>, id: &str, ctx: &SourceContext<'_>) -> Option<Paper> {
    let arxiv = find_arxiv_id(id)?;
    let authors: Vec<Author> = xml::children(entry, "author")
        .filter_map(|a| {
            Some(Author {
                name: collapse_whitespace(&xml::child_text(a, "name")?),
                affiliation: xml::child_text_ns(a, xml::ARXIV, "affiliation")
                    .map(|t| collapse_whitespace(&t)),
            })
        })
        .collect();
    let primary = xml::child_ns(entry, xml::ARXIV, "primary_category")
        .and_then(|n| n.attribute("term"))
        .map(str::to_string);
    let mut categories: Vec<String> = primary.iter().cloned().collect();
    for c in xml::children(entry, "category").filter_map(|c| c.attribute("term")) {
        if !categories.iter().any(|x| x == c) {
            categories.push(c.to_string());
        }
    }
    let doi = xml::child_text_ns(entry, xml::ARXIV, "doi")
        .and_then(|d| d.split_whitespace().find_map(find_doi))
        .filter(|d| arxiv_from_doi(d).is_none());
    let mut links = arxiv_links(&arxiv.id).to_vec();
    if let Some(doi) = &doi {
        links.push(doi_link(doi));
    }
    let date = |name: &str| {
        xml::child_text(entry, name).and_then(|t| {
            DateTime::parse_from_rfc3339(&t)
                .ok()
                .map(|d| d.with_timezone(&Utc))
        })
    };
    Some(Paper {
        ids: Identifiers {
            arxiv: Some(arxiv.id.clone()),
            doi,
            link: None,
            entry: format!("{}:{}", ctx.source_id, arxiv.id),
        },
        version: arxiv.version,
        title: xml::child_text(entry, "title")
            .map(|t| collapse_whitespace(&t))
            .unwrap_or_default(),
        author_rank: if authors.is_empty() { 0 } else { 3 },
        authors,
        abstract_text: xml::child_text(entry, "summary")
            .map(|t| collapse_whitespace(&t))
            .unwrap_or_default(),
        links,
        categories,
        primary_category: primary,
        published: date("published"),
        updated: date("updated"),
        comment: xml::child_text_ns(entry, xml::ARXIV, "comment").map(|t| collapse_whitespace(&t)),
        journal_ref: xml::child_text_ns(entry, xml::ARXIV, "journal_ref")
            .map(|t| collapse_whitespace(&t)),
        sources: BTreeSet::from([ctx.source_id.to_string()]),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> SourceContext<'static> {
        SourceContext {
            source_id: "api",
            url: API_URL,
        }
    }

    #[test]
    fn page_urls_keep_the_query_and_set_the_window() {
        let base = query_url("cat:cs.LG AND abs:generalization");
        let page = page_url(&base, 200, 100);
        assert_eq!(
            page.as_str(),
            "https://export.arxiv.org/api/query?search_query=cat%3Acs.LG+AND+abs%3Ageneralization&sortBy=submittedDate&sortOrder=descending&start=200&max_results=100"
        );
        let custom = url::Url::parse(
            "https://export.arxiv.org/api/query?search_query=all:x&start=5&max_results=3",
        )
        .unwrap();
        assert_eq!(
            page_url(&custom, 0, 50).as_str(),
            "https://export.arxiv.org/api/query?search_query=all%3Ax&start=0&max_results=50"
        );
    }

    #[test]
    fn entries_read_one_at_a_time_are_what_the_whole_document_gives() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/sources");
        let mut files = 0;
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.starts_with("arxiv-api-") {
                continue;
            }
            files += 1;
            let text = std::fs::read_to_string(&path).unwrap();
            // The reference: the whole page as one document tree.
            let doc = xml::parse(&text).unwrap();
            let whole: Vec<Paper> = xml::children(doc.root_element(), "entry")
                .filter_map(|entry| {
                    let id = xml::child_text(entry, "id").unwrap_or_default();
                    entry_paper(entry, &id, &ctx())
                })
                .collect();
            let split = parse(text.as_bytes(), &ctx()).unwrap();
            assert!(!split.is_empty(), "{name}");
            assert_eq!(split, whole, "{name}");
        }
        assert_eq!(files, 3, "the arXiv API fixtures");
    }

    #[test]
    fn api_errors_and_wrong_documents_are_reported() {
        let error = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>arXiv Query</title>
            <entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_1234</id><title>Error</title>
            <summary>incorrect id format for 1234</summary></entry></feed>"#;
        let err = parse(error.as_bytes(), &ctx()).unwrap_err();
        assert!(err.to_string().contains("incorrect id format"), "{err}");
        let rss = r#"<rss version="2.0"><channel><title>x</title></channel></rss>"#;
        let err = parse(rss.as_bytes(), &ctx()).unwrap_err();
        assert!(err.to_string().contains("found <rss>"), "{err}");
        assert!(parse(b"<html><body>busy</body>", &ctx()).is_err());
        // Cut short in the middle of an entry, or after one: nothing is taken.
        let page = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../shared/fixtures/sources/arxiv-api-transformer-cslg-m5.atom.xml"),
        )
        .unwrap();
        let second = page.match_indices("<entry").nth(1).unwrap().0;
        for cut in [second + 40, second - 3] {
            let err = parse(&page.as_bytes()[..cut], &ctx()).unwrap_err();
            assert!(err.to_string().contains("not XML"), "{err}");
        }
        assert!(parse(b"\xff\xfe", &ctx()).is_err());
    }
}
