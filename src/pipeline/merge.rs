//! Merging what several sources (or several fetches of one source) say about one paper into
//! one record. Pure: two papers in, one paper out.

use crate::model::Paper;

/// Merges `incoming` into `existing`: identifiers are filled in, never replaced; the newer
/// title and author list win; the longest abstract wins; links, categories and sources are
/// united (existing order first); `published` is the earliest date and `updated` the latest.
pub fn merge(existing: &Paper, incoming: &Paper) -> Paper {
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
    out.version = existing.version.max(incoming.version);
    if !incoming.title.is_empty() && incoming.title != "(untitled)" {
        out.title = incoming.title.clone();
    }
    if !incoming.authors.is_empty() {
        out.authors = incoming.authors.clone();
    }
    if incoming.abstract_text.len() > existing.abstract_text.len() {
        out.abstract_text = incoming.abstract_text.clone();
    }
    for link in &incoming.links {
        if !out.links.iter().any(|l| l.href == link.href) {
            out.links.push(link.clone());
        }
    }
    out.links.sort_by_key(|l| l.kind);
    for category in &incoming.categories {
        if !out.categories.contains(category) {
            out.categories.push(category.clone());
        }
    }
    out.published = match (existing.published, incoming.published) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    out.updated = existing.updated.max(incoming.updated);
    out.sources.extend(incoming.sources.iter().cloned());
    out
}

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
}
