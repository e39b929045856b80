//! The `hf-daily` source kind: Hugging Face's daily papers (`/api/daily_papers`, a JSON array
//! whose `paper.id` is the arXiv id). Reads the title, authors, abstract, upvotes, comment
//! count, listing date, code repository and stars, and project page. Pure.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{ParseError, SourceContext, SourceKeys};
use crate::model::{Author, Identifiers, Link, LinkKind, Paper};
use crate::pipeline::identity::{arxiv_links, parse_arxiv_id};
use crate::pipeline::text::collapse_whitespace;

/// Hugging Face's daily papers, the URL an `hf-daily` source reads when it gives none.
pub const DAILY_PAPERS_URL: &str = "https://huggingface.co/api/daily_papers";

/// The `hf-daily` kind: [`DAILY_PAPERS_URL`] unless `url` says otherwise.
pub struct HfDaily;

impl super::Kind for HfDaily {
    fn name(&self) -> &'static str {
        "hf-daily"
    }

    fn parse(&self, bytes: &[u8], ctx: &SourceContext<'_>) -> Result<Vec<Paper>, ParseError> {
        parse(bytes, ctx)
    }

    fn url(&self, keys: &mut SourceKeys) -> Option<String> {
        Some(
            keys.take_url()
                .unwrap_or_else(|| DAILY_PAPERS_URL.to_string()),
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Listing {
    paper: Option<HfPaper>,
    title: Option<String>,
    summary: Option<String>,
    num_comments: Option<u32>,
    published_at: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HfPaper {
    id: Option<String>,
    title: Option<String>,
    summary: Option<String>,
    #[serde(default)]
    authors: Vec<HfAuthor>,
    upvotes: Option<u32>,
    published_at: Option<String>,
    submitted_on_daily_at: Option<String>,
    github_repo: Option<String>,
    github_stars: Option<u32>,
    project_page: Option<String>,
}

#[derive(Debug, Deserialize)]
struct HfAuthor {
    name: Option<String>,
}

/// Parses a daily papers listing.
pub fn parse(bytes: &[u8], ctx: &SourceContext<'_>) -> Result<Vec<Paper>, ParseError> {
    let items: Vec<serde_json::Value> = serde_json::from_slice(bytes).map_err(|e| {
        let start = String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
            .trim()
            .to_string();
        ParseError::Unexpected(format!(
            "expected Hugging Face's JSON array of daily papers: {e} (the body starts {start:?})"
        ))
    })?;
    // One odd item (a field of an unexpected type) costs that item, not the listing.
    Ok(items
        .into_iter()
        .filter_map(|item| serde_json::from_value::<Listing>(item).ok())
        .filter_map(|l| listing_paper(l, ctx))
        .collect())
}

fn date(text: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text?)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

fn web_link(text: Option<String>) -> Option<String> {
    let text = text?.trim().to_string();
    (text.starts_with("https://") || text.starts_with("http://")).then_some(text)
}

fn listing_paper(listing: Listing, ctx: &SourceContext<'_>) -> Option<Paper> {
    let paper = listing.paper?;
    let arxiv = parse_arxiv_id(paper.id.as_deref()?)?;
    let title = paper
        .title
        .or(listing.title)
        .map(|t| collapse_whitespace(&t))
        .unwrap_or_default();
    let abstract_text = paper
        .summary
        .or(listing.summary)
        .map(|t| collapse_whitespace(&t))
        .unwrap_or_default();
    let authors: Vec<Author> = paper
        .authors
        .into_iter()
        .filter_map(|a| a.name)
        .map(|n| collapse_whitespace(&n))
        .filter(|n| !n.is_empty())
        .map(Author::named)
        .collect();
    let id = &arxiv.id;
    let mut links = arxiv_links(id).to_vec();
    links.extend([Link {
        kind: LinkKind::HuggingFace,
        href: format!("https://huggingface.co/papers/{id}"),
        media_type: Some("text/html".into()),
    }]);
    if let Some(repo) = web_link(paper.github_repo) {
        links.push(Link {
            kind: LinkKind::Code,
            href: repo,
            media_type: None,
        });
    }
    if let Some(page) = web_link(paper.project_page) {
        links.push(Link {
            kind: LinkKind::Project,
            href: page,
            media_type: None,
        });
    }
    let listed =
        date(paper.submitted_on_daily_at.as_deref()).or(date(listing.published_at.as_deref()));
    Some(Paper {
        ids: Identifiers {
            arxiv: Some(id.clone()),
            entry: format!("{}:{id}", ctx.source_id),
            ..Default::default()
        },
        version: arxiv.version,
        title,
        author_rank: if authors.is_empty() { 0 } else { 2 },
        authors,
        abstract_text,
        links,
        published: date(paper.published_at.as_deref()).or(listed),
        updated: listed,
        upvotes: paper.upvotes,
        discussion_comments: listing.num_comments,
        github_stars: paper.github_stars,
        sources: BTreeSet::from([ctx.source_id.to_string()]),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> SourceContext<'static> {
        SourceContext {
            source_id: "hf",
            url: "https://huggingface.co/api/daily_papers",
        }
    }

    #[test]
    fn wrong_payloads_are_clear_errors() {
        for (bytes, needle) in [
            (&b"<html><body>Rate limited</body></html>"[..], "<html>"),
            (&b"[{\"paper\": {\"id\": \"2606.0"[..], "EOF"),
            (&b"{\"error\": \"Invalid\"}"[..], "expected Hugging Face"),
        ] {
            let err = parse(bytes, &ctx()).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn entries_without_an_arxiv_id_are_skipped() {
        let json = br#"[{"paper": {"id": "not-an-id", "title": "x"}}, {"paper": {"id": "2606.00001", "title": "  Real  "}}, {},
            {"paper": {"id": "2606.00002", "title": "odd", "githubStars": -3}}]"#;
        let papers = parse(json, &ctx()).unwrap();
        assert_eq!(papers.len(), 1, "{papers:?}");
        assert_eq!(papers[0].title, "Real");
    }
}
