//! The `arxiv-oai` source kind: arXiv's OAI-PMH interface (`export.arxiv.org/oai2`,
//! `ListRecords`), for harvesting whole categories or backfilling, in the `arXivRaw` or `arXiv`
//! metadata formats. Pages follow the `resumptionToken`. Pure.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use roxmltree::Node;

use super::{xml, PageInfo, Pager, ParseError, SourceContext};
use crate::model::{Author, Identifiers, Paper};
use crate::pipeline::identity::{arxiv_links, doi_link, find_doi, parse_arxiv_id};
use crate::pipeline::normalize::{split_authors, with_affiliation};
use crate::pipeline::text::collapse_whitespace;

/// The OAI-PMH namespace.
const OAI: &str = "http://www.openarchives.org/OAI/2.0/";

/// How many records a source reads per poll when it does not say (one page of arXiv's).
pub const DEFAULT_MAX_RESULTS: usize = 1000;

/// The `arxiv-oai` kind: a `ListRecords` `url`; paged by resumption token.
pub struct ArxivOai;

impl super::Kind for ArxivOai {
    fn name(&self) -> &'static str {
        "arxiv-oai"
    }

    fn parse(&self, bytes: &[u8], ctx: &SourceContext<'_>) -> Result<Vec<Paper>, ParseError> {
        parse(bytes, ctx)
    }

    fn pager(&self) -> Option<&'static dyn Pager> {
        Some(&TokenPager)
    }

    fn host_gaps(&self) -> &'static [(&'static str, std::time::Duration)] {
        // arXiv's OAI-PMH endpoint is on the API host, under the same terms.
        &[(super::arxiv_api::API_HOST, super::arxiv_api::API_GAP)]
    }
}

/// Pages by OAI-PMH resumption token: the list goes on while a page names the next.
struct TokenPager;

impl Pager for TokenPager {
    fn default_max_results(&self) -> usize {
        DEFAULT_MAX_RESULTS
    }

    fn max_results_cap(&self) -> Option<usize> {
        None
    }

    fn first_page(&self, base: &url::Url, _max_results: usize, since: Option<&str>) -> url::Url {
        match since {
            // arXiv's datestamps are days: a day's overlap re-reads a few records, which are
            // stored unchanged, and misses none.
            Some(since) => super::with_params(base, &[("from", since.get(..10).unwrap_or(since))]),
            None => base.clone(),
        }
    }

    fn read_page(
        &self,
        base: &url::Url,
        page: &[u8],
        _got: usize,
        _so_far: usize,
        _max_results: usize,
    ) -> PageInfo {
        let facts = page_facts(page);
        PageInfo {
            next: facts.token.map(|token| next_page_url(base, &token)),
            stamp: facts.stamp,
            total: facts.total,
        }
    }

    fn resumable(&self) -> bool {
        true
    }
}

/// What a `ListRecords` page says about its list.
#[derive(Debug, Default)]
struct PageFacts {
    token: Option<String>,
    stamp: Option<String>,
    total: Option<u64>,
}

fn page_facts(bytes: &[u8]) -> PageFacts {
    let Some(doc) = std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| xml::parse(text).ok())
    else {
        return PageFacts::default();
    };
    let root = doc.root_element();
    let stamp = xml::child_text(root, "responseDate").map(|d| d.trim().to_string());
    let token = xml::children(root, "ListRecords")
        .next()
        .and_then(|list| xml::children(list, "resumptionToken").next());
    PageFacts {
        token: token
            .and_then(xml::text_of)
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty()),
        stamp,
        total: token
            .and_then(|t| t.attribute("completeListSize"))
            .and_then(|n| n.trim().parse().ok()),
    }
}

/// Parses one `ListRecords` page.
pub fn parse(bytes: &[u8], ctx: &SourceContext<'_>) -> Result<Vec<Paper>, ParseError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ParseError::Unexpected(format!(
            "OAI-PMH answers UTF-8 XML; these bytes are not UTF-8 ({e})"
        ))
    })?;
    let doc = xml::parse(text).map_err(|e| ParseError::Unexpected(format!("not XML: {e}")))?;
    let root = doc.root_element();
    if root.tag_name().name() != "OAI-PMH" || root.tag_name().namespace() != Some(OAI) {
        return Err(ParseError::Unexpected(format!(
            "expected an OAI-PMH response, found <{}>",
            root.tag_name().name()
        )));
    }
    if let Some(error) = xml::children(root, "error").next() {
        let code = error.attribute("code").unwrap_or("error");
        if code == "noRecordsMatch" {
            return Ok(Vec::new());
        }
        let message = xml::text_of(error).unwrap_or_default();
        return Err(ParseError::Unexpected(format!(
            "OAI-PMH error {code}: {message}"
        )));
    }
    let Some(list) = xml::children(root, "ListRecords").next() else {
        return Err(ParseError::Unexpected(
            "the OAI-PMH response has no ListRecords".into(),
        ));
    };
    Ok(xml::children(list, "record")
        .filter(|r| {
            xml::children(*r, "header")
                .next()
                .is_none_or(|h| h.attribute("status") != Some("deleted"))
        })
        .filter_map(|r| {
            let metadata = xml::children(r, "metadata").next()?;
            let record = metadata.children().find(roxmltree::Node::is_element)?;
            match record.tag_name().name() {
                "arXivRaw" => raw_record(record, ctx),
                "arXiv" => arxiv_record(record, ctx),
                _ => None,
            }
        })
        .collect())
}

/// The token for the next page, when the list goes on.
pub fn resumption_token(bytes: &[u8]) -> Option<String> {
    page_facts(bytes).token
}

/// The URL of the page a resumption token names: the endpoint of `base` with only `verb` and
/// `resumptionToken` (OAI-PMH's rule: the token replaces every other argument).
pub fn next_page_url(base: &url::Url, token: &str) -> url::Url {
    let mut url = base.clone();
    url.query_pairs_mut()
        .clear()
        .append_pair("verb", "ListRecords")
        .append_pair("resumptionToken", token);
    url
}

fn text(node: Node<'_, '_>, name: &str) -> Option<String> {
    xml::child_text(node, name).map(|t| collapse_whitespace(&t))
}

fn rfc2822(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(text.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn ymd(text: &str) -> Option<DateTime<Utc>> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

/// What both metadata formats share, built into a paper.
struct Record {
    id: String,
    version: Option<u32>,
    title: String,
    authors: Vec<Author>,
    author_rank: u8,
    abstract_text: String,
    categories: Vec<String>,
    comment: Option<String>,
    journal_ref: Option<String>,
    doi: Option<String>,
    published: Option<DateTime<Utc>>,
    updated: Option<DateTime<Utc>>,
}

impl Record {
    /// The elements both formats name alike (title, abstract, categories, comments, journal
    /// reference, DOI); versions and dates are the caller's. `rank` is how structured the
    /// format's author list is.
    fn read(node: Node<'_, '_>, id: String, authors: Vec<Author>, rank: u8) -> Self {
        Record {
            id,
            version: None,
            title: text(node, "title").unwrap_or_default(),
            author_rank: if authors.is_empty() { 0 } else { rank },
            authors,
            abstract_text: text(node, "abstract").unwrap_or_default(),
            categories: text(node, "categories")
                .map(|c| c.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
            comment: text(node, "comments"),
            journal_ref: text(node, "journal-ref"),
            doi: first_doi(text(node, "doi")),
            published: None,
            updated: None,
        }
    }

    fn into_paper(self, ctx: &SourceContext<'_>) -> Paper {
        let mut links = arxiv_links(&self.id).to_vec();
        if let Some(doi) = &self.doi {
            links.push(doi_link(doi));
        }
        Paper {
            ids: Identifiers {
                arxiv: Some(self.id.clone()),
                doi: self.doi,
                link: None,
                entry: format!("{}:{}", ctx.source_id, self.id),
            },
            version: self.version,
            title: self.title,
            authors: self.authors,
            author_rank: self.author_rank,
            abstract_text: self.abstract_text,
            links,
            primary_category: self.categories.first().cloned(),
            categories: self.categories,
            comment: self.comment,
            journal_ref: self.journal_ref,
            published: self.published,
            updated: self.updated.or(self.published),
            sources: BTreeSet::from([ctx.source_id.to_string()]),
            ..Default::default()
        }
    }
}

/// The first DOI of a space-separated list.
fn first_doi(text: Option<String>) -> Option<String> {
    text?.split_whitespace().find_map(find_doi)
}

/// `arXivRaw`: every version with its date, the raw author string, space-separated categories.
fn raw_record(node: Node<'_, '_>, ctx: &SourceContext<'_>) -> Option<Paper> {
    let id = parse_arxiv_id(&text(node, "id")?)?.id;
    let versions: Vec<(u32, Option<DateTime<Utc>>)> = xml::children(node, "version")
        .filter_map(|v| {
            let n = v
                .attribute("version")?
                .trim_start_matches('v')
                .parse()
                .ok()?;
            Some((n, xml::child_text(v, "date").as_deref().and_then(rfc2822)))
        })
        .collect();
    let first = versions.iter().min_by_key(|(n, _)| *n);
    let last = versions.iter().max_by_key(|(n, _)| *n);
    let authors = split_authors(&text(node, "authors").unwrap_or_default())
        .iter()
        .map(|a| with_affiliation(a))
        .collect::<Vec<_>>();
    let mut record = Record::read(node, id, authors, 1);
    record.version = last.map(|(n, _)| *n);
    record.published = first.and_then(|(_, d)| *d);
    record.updated = last.and_then(|(_, d)| *d);
    Some(record.into_paper(ctx))
}

/// `arXiv`: structured authors (keyname, forenames, affiliation), created/updated dates.
fn arxiv_record(node: Node<'_, '_>, ctx: &SourceContext<'_>) -> Option<Paper> {
    let id = parse_arxiv_id(&text(node, "id")?)?.id;
    let authors: Vec<Author> = xml::children(node, "authors")
        .flat_map(|list| xml::children(list, "author"))
        .filter_map(|a| {
            let keyname = text(a, "keyname")?;
            let name = match (text(a, "forenames"), text(a, "suffix")) {
                (Some(f), Some(s)) => format!("{f} {keyname} {s}"),
                (Some(f), None) => format!("{f} {keyname}"),
                (None, _) => keyname,
            };
            Some(Author {
                name,
                affiliation: text(a, "affiliation"),
            })
        })
        .collect();
    let mut record = Record::read(node, id, authors, 3);
    record.published = text(node, "created").as_deref().and_then(ymd);
    record.updated = text(node, "updated").as_deref().and_then(ymd);
    Some(record.into_paper(ctx))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> SourceContext<'static> {
        SourceContext {
            source_id: "oai",
            url: "https://export.arxiv.org/oai2",
        }
    }

    const ARXIV_FORMAT: &str = r#"<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>
      <record><header><identifier>oai:arXiv.org:2401.00001</identifier></header><metadata>
        <arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>2401.00001</id><created>2024-01-01</created>
        <updated>2024-02-03</updated><authors><author><keyname>Lee</keyname><forenames>Ann</forenames>
        <affiliation>MIT</affiliation></author><author><keyname>Chen</keyname><forenames>Bo</forenames></author></authors>
        <title>A  title</title><categories>cs.LG stat.ML</categories><abstract> Text. </abstract></arXiv>
      </metadata></record>
      <record><header status="deleted"><identifier>oai:arXiv.org:2401.00002</identifier></header></record>
      <resumptionToken cursor="0" completeListSize="2">abc|1001</resumptionToken>
    </ListRecords></OAI-PMH>"#;

    #[test]
    fn the_arxiv_format_has_structured_authors() {
        let papers = parse(ARXIV_FORMAT.as_bytes(), &ctx()).unwrap();
        assert_eq!(papers.len(), 1, "deleted records are skipped");
        let p = &papers[0];
        assert_eq!(p.title, "A title");
        assert_eq!(p.authors[0].name, "Ann Lee");
        assert_eq!(p.authors[0].affiliation.as_deref(), Some("MIT"));
        assert_eq!(p.author_rank, 3);
        assert_eq!(p.primary_category.as_deref(), Some("cs.LG"));
        assert_eq!(p.updated.unwrap().to_rfc3339(), "2024-02-03T00:00:00+00:00");
        assert_eq!(
            resumption_token(ARXIV_FORMAT.as_bytes()).as_deref(),
            Some("abc|1001")
        );
    }

    #[test]
    fn oai_errors_and_next_pages() {
        let none = r#"<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><error code="noRecordsMatch">none</error></OAI-PMH>"#;
        assert!(parse(none.as_bytes(), &ctx()).unwrap().is_empty());
        let bad = r#"<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><error code="badArgument">Illegal set</error></OAI-PMH>"#;
        let err = parse(bad.as_bytes(), &ctx()).unwrap_err().to_string();
        assert!(
            err.contains("badArgument") && err.contains("Illegal set"),
            "{err}"
        );
        assert!(parse(b"<rss/>", &ctx())
            .unwrap_err()
            .to_string()
            .contains("found <rss>"));
        let base = url::Url::parse(
            "https://export.arxiv.org/oai2?verb=ListRecords&metadataPrefix=arXivRaw&set=cs",
        )
        .unwrap();
        assert_eq!(
            next_page_url(&base, "496549|47001").as_str(),
            "https://export.arxiv.org/oai2?verb=ListRecords&resumptionToken=496549%7C47001"
        );
    }
}
