//! The `arxiv` source kind: arXiv's listing feeds (`https://rss.arxiv.org/rss/<cats>` and
//! `/atom/<cats>`, the 2024 format). On top of the generic feed mapping it reads the arXiv id
//! and version, the announce type, the bare abstract, every category, the DOI and journal
//! reference when present, and authors with their parenthesised affiliations. Pure.

use std::collections::HashMap;

use super::feed::{normalize_entry, parse_feed, ItemDois};
use super::{xml, ParseError, SourceContext, SourceKeys};
use crate::model::Paper;
use crate::pipeline::identity::{find_arxiv_id, find_doi};
use crate::pipeline::normalize::{split_arxiv_listing, with_affiliation};
use crate::pipeline::text::collapse_whitespace;

/// The `arxiv` kind: a listing feed's `url`, or the `categories` it lists.
pub struct Arxiv;

impl super::Kind for Arxiv {
    fn name(&self) -> &'static str {
        "arxiv"
    }

    fn parse(&self, bytes: &[u8], ctx: &SourceContext<'_>) -> Result<Vec<Paper>, ParseError> {
        parse(bytes, ctx)
    }

    fn own_keys(&self) -> &'static [&'static str] {
        &["categories"]
    }

    fn url(&self, keys: &mut SourceKeys) -> Option<String> {
        let url = keys.required_url(&["categories"]);
        let categories = keys.take_strings("categories");
        match (url, categories) {
            (Some(_), Some(_)) => {
                keys.problem("categories", "give either url or categories, not both");
                None
            }
            (Some(url), None) => Some(url),
            (None, Some(categories)) if categories.is_empty() => {
                keys.problem(
                    "categories",
                    "is empty; name at least one, such as \"cs.LG\"",
                );
                None
            }
            (None, Some(categories)) => {
                let bad: Vec<&String> = categories.iter().filter(|c| !valid_category(c)).collect();
                if bad.is_empty() {
                    Some(listing_url(&categories))
                } else {
                    keys.problem(
                        "categories",
                        format!("{bad:?} are not arXiv categories such as \"cs.LG\" or \"hep-th\""),
                    );
                    None
                }
            }
            (None, None) => None,
        }
    }
}

/// `cs.LG`, `stat.ML`, `hep-th`, `math.AG`, `q-bio.NC`.
fn valid_category(c: &str) -> bool {
    let (archive, sub) = c.split_once('.').unwrap_or((c, "x"));
    !archive.is_empty()
        && archive.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        && !sub.is_empty()
        && sub.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
}

/// The listing feed URL for these categories (`cs.LG+stat.ML`).
pub fn listing_url(categories: &[String]) -> String {
    format!("https://rss.arxiv.org/rss/{}", categories.join("+"))
}

/// What arXiv's namespace adds to an item, keyed by arXiv id.
#[derive(Debug, Default, Clone)]
struct Extras {
    announce_type: Option<String>,
    doi: Option<String>,
    journal_ref: Option<String>,
}

/// Parses an arXiv listing feed.
pub fn parse(bytes: &[u8], ctx: &SourceContext<'_>) -> Result<Vec<Paper>, ParseError> {
    let feed = parse_feed(bytes, ctx.url)?;
    let extras = scan_extras(bytes);
    let mut papers = Vec::with_capacity(feed.entries.len());
    for entry in &feed.entries {
        let Some(mut paper) = normalize_entry(entry, ctx, &ItemDois::default()) else {
            continue;
        };
        let Some(id) = paper.ids.arxiv.clone() else {
            continue;
        };
        if let Some(extra) = extras.get(&id) {
            paper.announce_type = extra.announce_type.clone().or(paper.announce_type);
            paper.journal_ref = extra.journal_ref.clone();
            if paper.ids.doi.is_none() {
                paper.ids.doi = extra.doi.clone();
            }
        }
        paper.authors = paper
            .authors
            .into_iter()
            .map(|a| with_affiliation(&a.name))
            .collect();
        papers.push(paper);
    }
    if papers.is_empty() && !feed.entries.is_empty() {
        return Err(ParseError::Unexpected(format!(
            "none of the {} entries carries an arXiv id; is this an arXiv listing?",
            feed.entries.len()
        )));
    }
    Ok(papers)
}

fn scan_extras(bytes: &[u8]) -> HashMap<String, Extras> {
    let mut out = HashMap::new();
    let Some(doc) = std::str::from_utf8(bytes)
        .ok()
        .and_then(|t| xml::parse(t).ok())
    else {
        return out;
    };
    for item in xml::items(&doc) {
        let id = ["guid", "id", "link"]
            .iter()
            .filter_map(|name| xml::child_text(item, name))
            .find_map(|t| find_arxiv_id(&t))
            .or_else(|| {
                let description = xml::child_text(item, "description")
                    .or_else(|| xml::child_text(item, "summary"))?;
                split_arxiv_listing(&description).0.map(|l| l.arxiv)
            });
        let Some(id) = id else { continue };
        let text = |name: &str| {
            xml::child_text_ns(item, xml::ARXIV, name).map(|t| collapse_whitespace(&t))
        };
        out.insert(
            id.id,
            Extras {
                announce_type: text("announce_type").map(|t| t.to_ascii_lowercase()),
                doi: text("DOI")
                    .or_else(|| text("doi"))
                    .and_then(|d| find_doi(&d)),
                journal_ref: text("journal_reference").or_else(|| text("journal_ref")),
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ITEM: &str = r#"<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0"><channel><title>cs.LG updates on arXiv.org</title>
      <item>
        <title>A replaced paper</title>
        <link>https://arxiv.org/abs/2401.00001</link>
        <description>arXiv:2401.00001v3 Announce Type: replace-cross
Abstract: We revisit things &amp; stuff.</description>
        <guid isPermaLink="false">oai:arXiv.org:2401.00001v3</guid>
        <category>stat.ML</category>
        <category>cs.LG</category>
        <pubDate>Mon, 27 Apr 2026 00:00:00 -0400</pubDate>
        <arxiv:announce_type>replace-cross</arxiv:announce_type>
        <dc:creator>Ann Lee (MIT, Cambridge), Bo Chen</dc:creator>
        <arxiv:DOI>10.1000/XYZ.1</arxiv:DOI>
        <arxiv:journal_reference>J. Things 1 (2026)</arxiv:journal_reference>
      </item></channel></rss>"#;

    fn ctx() -> SourceContext<'static> {
        SourceContext {
            source_id: "arxiv-cs-lg",
            url: "https://rss.arxiv.org/rss/cs.LG",
        }
    }

    #[test]
    fn listing_items_carry_arxiv_extras() {
        let papers = parse(ITEM.as_bytes(), &ctx()).unwrap();
        assert_eq!(papers.len(), 1);
        let p = &papers[0];
        assert_eq!(p.ids.arxiv.as_deref(), Some("2401.00001"));
        assert_eq!(p.version, Some(3));
        assert_eq!(p.announce_type.as_deref(), Some("replace-cross"));
        assert_eq!(p.abstract_text, "We revisit things & stuff.");
        assert_eq!(p.ids.doi.as_deref(), Some("10.1000/xyz.1"));
        assert_eq!(p.journal_ref.as_deref(), Some("J. Things 1 (2026)"));
        assert_eq!(p.categories, vec!["stat.ML", "cs.LG"]);
        assert_eq!(p.authors[0].name, "Ann Lee");
        assert_eq!(p.authors[0].affiliation.as_deref(), Some("MIT, Cambridge"));
        assert_eq!(p.authors[1].name, "Bo Chen");
    }

    #[test]
    fn other_feeds_are_refused_with_a_reason() {
        let rss = r#"<rss version="2.0"><channel><title>A journal</title>
            <item><title>x</title><link>https://journal.example/1</link></item></channel></rss>"#;
        let err = parse(rss.as_bytes(), &ctx()).unwrap_err();
        assert!(err.to_string().contains("arXiv listing"), "{err}");
        // An empty listing (arXiv announces nothing at weekends) is fine.
        let empty = r#"<rss version="2.0"><channel><title>cs.LG updates on arXiv.org</title></channel></rss>"#;
        assert!(parse(empty.as_bytes(), &ctx()).unwrap().is_empty());
    }

    #[test]
    fn categories_make_a_listing_url() {
        assert_eq!(
            listing_url(&["cs.LG".into(), "stat.ML".into()]),
            "https://rss.arxiv.org/rss/cs.LG+stat.ML"
        );
    }
}
