//! Merging what several sources (or several fetches of one source) say about one paper into
//! one record. Pure: two papers in, one paper out.

use crate::model::Paper;
use crate::pipeline::identity::arxiv_abs;

/// Merges `incoming` into `existing`. Identifiers are filled in, never replaced. The title
/// comes from the newest version seen; the author list from the most structured source (ties go
/// to the newer); the longest abstract wins. Links, categories and sources are united, with the
/// primary category first once any source names it. `published` is the earliest date and
/// `updated` the latest; counts from Hugging Face take the latest value.
pub(crate) fn merge(existing: &Paper, incoming: &Paper) -> Paper {
    let mut out = existing.clone();
    out.ids.arxiv = existing
        .ids
        .arxiv
        .clone()
        .or_else(|| incoming.ids.arxiv.clone());
    out.ids.doi = existing
        .ids
        .doi
        .clone()
        .or_else(|| incoming.ids.doi.clone());
    out.ids.link = existing
        .ids
        .link
        .clone()
        .or_else(|| incoming.ids.link.clone());
    let not_older = incoming.version.unwrap_or(0) >= existing.version.unwrap_or(0);
    out.version = existing.version.max(incoming.version);
    if (not_older || existing.title.is_empty() || existing.title == UNTITLED)
        && !incoming.title.is_empty()
        && incoming.title != UNTITLED
    {
        out.title = incoming.title.clone();
    }
    if !incoming.authors.is_empty()
        && (incoming.author_rank >= existing.author_rank || existing.authors.is_empty())
    {
        out.authors = incoming.authors.clone();
        out.author_rank = incoming.author_rank;
    }
    if incoming.abstract_text.len() > existing.abstract_text.len() {
        out.abstract_text = incoming.abstract_text.clone();
    }
    for link in &incoming.links {
        if !out.links.iter().any(|l| l.href == link.href) {
            out.links.push(link.clone());
        }
    }
    // Grouped by kind; arXiv's abstract page leads the pages when the paper is on arXiv.
    let abs = out.ids.arxiv.as_deref().map(arxiv_abs);
    out.links
        .sort_by_key(|l| (l.kind, Some(&l.href) != abs.as_ref()));
    out.primary_category = existing
        .primary_category
        .clone()
        .or_else(|| incoming.primary_category.clone());
    for category in &incoming.categories {
        if !out.categories.contains(category) {
            out.categories.push(category.clone());
        }
    }
    if let Some(primary) = &out.primary_category {
        if let Some(at) = out.categories.iter().position(|c| c == primary) {
            let primary = out.categories.remove(at);
            out.categories.insert(0, primary);
        }
    }
    out.published = match (existing.published, incoming.published) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    out.updated = existing.updated.max(incoming.updated);
    out.comment = incoming
        .comment
        .clone()
        .or_else(|| existing.comment.clone());
    out.journal_ref = incoming
        .journal_ref
        .clone()
        .or_else(|| existing.journal_ref.clone());
    out.announce_type = incoming
        .announce_type
        .clone()
        .or_else(|| existing.announce_type.clone());
    out.upvotes = incoming.upvotes.or(existing.upvotes);
    out.discussion_comments = incoming
        .discussion_comments
        .or(existing.discussion_comments);
    out.github_stars = incoming.github_stars.or(existing.github_stars);
    out.sources.extend(incoming.sources.iter().cloned());
    out
}

/// The title given to entries that have none.
pub(crate) const UNTITLED: &str = "(untitled)";

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::model::{Author, Identifiers, Link, LinkKind};

    fn paper(source: &str, title: &str, abstract_text: &str, day: u32) -> Paper {
        Paper {
            ids: Identifiers {
                arxiv: Some("2604.00001".into()),
                entry: format!("{source}:1"),
                ..Default::default()
            },
            version: Some(1),
            title: title.into(),
            authors: vec![Author::named("A")],
            abstract_text: abstract_text.into(),
            links: vec![Link {
                kind: LinkKind::Page,
                href: "https://arxiv.org/abs/2604.00001".into(),
                media_type: None,
            }],
            categories: vec!["cs.LG".into()],
            published: Some(Utc.with_ymd_and_hms(2026, 4, day, 0, 0, 0).unwrap()),
            updated: Some(Utc.with_ymd_and_hms(2026, 4, day, 0, 0, 0).unwrap()),
            sources: BTreeSet::from([source.to_string()]),
            ..Default::default()
        }
    }

    #[test]
    fn merge_unites_and_keeps_the_best() {
        let a = paper("lg", "Title", "short", 1);
        let mut b = paper("cl", "Title v2", "a longer abstract", 8);
        b.version = Some(2);
        b.ids.doi = Some("10.1/x".into());
        b.categories = vec!["cs.CL".into(), "cs.LG".into()];
        b.links.push(Link {
            kind: LinkKind::Pdf,
            href: "https://arxiv.org/pdf/2604.00001v2".into(),
            media_type: None,
        });
        let m = merge(&a, &b);
        assert_eq!(m.ids.entry, "lg:1", "the entry identifier is kept");
        assert_eq!(m.ids.doi.as_deref(), Some("10.1/x"));
        assert_eq!(m.version, Some(2));
        assert_eq!(m.title, "Title v2");
        assert_eq!(m.abstract_text, "a longer abstract");
        assert_eq!(m.categories, vec!["cs.LG", "cs.CL"]);
        assert_eq!(m.links.len(), 2);
        assert_eq!(m.published, a.published);
        assert_eq!(m.updated, b.updated);
        assert_eq!(m.sources.len(), 2);
        // merging the same thing again changes nothing
        assert_eq!(merge(&m, &b), m);
    }

    #[test]
    fn structured_authors_and_primary_category_win() {
        let mut api = paper("api", "T", "abstract", 1);
        api.authors = vec![Author {
            name: "Ann Lee".into(),
            affiliation: Some("MIT".into()),
        }];
        api.author_rank = 3;
        api.primary_category = Some("stat.ML".into());
        api.categories = vec!["stat.ML".into(), "cs.LG".into()];
        let mut rss = paper("rss", "T", "abstract", 2);
        rss.authors = vec![Author::named("Ann Lee (MIT)")];
        rss.author_rank = 1;
        rss.categories = vec!["cs.LG".into(), "cs.AI".into()];
        let mut hf = paper("hf", "T", "abstract", 3);
        hf.upvotes = Some(12);
        hf.author_rank = 2;

        for m in [
            merge(&merge(&rss, &api), &hf),
            merge(&merge(&api, &rss), &hf),
        ] {
            assert_eq!(m.authors[0].affiliation.as_deref(), Some("MIT"));
            assert_eq!(m.categories, vec!["stat.ML", "cs.LG", "cs.AI"]);
            assert_eq!(m.upvotes, Some(12));
            assert_eq!(m.sources.len(), 3);
        }
    }

    #[test]
    fn an_older_version_does_not_replace_the_title() {
        let mut v2 = paper("a", "New title", "x", 9);
        v2.version = Some(2);
        let v1 = paper("b", "Old title", "x", 1);
        let m = merge(&v2, &v1);
        assert_eq!(m.title, "New title");
        assert_eq!(m.version, Some(2));
        assert_eq!(m.updated, v2.updated);
        assert_eq!(m.published, v1.published);
    }
}
