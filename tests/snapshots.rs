//! Normalization of the real captures in `feeds/`: paper counts, named papers' fields, and ids
//! that do not change between two parses of the same bytes.

use paperboy::model::{LinkKind, Paper};
use paperboy::sources::{SourceContext, SourceKind};

fn parse(file: &str, source_id: &str) -> Vec<Paper> {
    let path = format!("{}/feeds/{file}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let ctx = SourceContext {
        source_id,
        url: "https://example.org/feed",
    };
    SourceKind::Feed
        .parse(&bytes, &ctx)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn link(paper: &Paper, kind: LinkKind) -> &str {
    paper.link(kind).map_or("", |l| l.href.as_str())
}

#[test]
fn arxiv_listing_rss() {
    let papers = parse("arxiv-cs-lg.rss.xml", "arxiv-cs-lg");
    assert_eq!(papers.len(), 3);
    let p = &papers[0];
    assert_eq!(p.ids.arxiv.as_deref(), Some("2604.21952"));
    assert_eq!(p.version, Some(1));
    assert_eq!(
        p.title,
        "Focus Session: Hardware and Software Techniques for Accelerating Multimodal Foundation Models"
    );
    let authors: Vec<&str> = p.authors.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(authors.len(), 6, "{authors:?}");
    assert_eq!(authors[0], "Muhammad Shafique");
    assert_eq!(authors[5], "Minghao Shao");
    assert_eq!(
        p.categories,
        vec!["cs.LG", "cs.AI", "cs.AR", "cs.NE", "cs.RO"]
    );
    assert!(
        p.abstract_text
            .starts_with("This work presents a multi-layered methodology"),
        "{}",
        p.abstract_text
    );
    assert!(p.abstract_text.contains("visual resolution & stride"));
    assert_eq!(link(p, LinkKind::Page), "https://arxiv.org/abs/2604.21952");
    assert_eq!(link(p, LinkKind::Pdf), "https://arxiv.org/pdf/2604.21952");
    assert_eq!(
        p.published.map(|d| d.to_rfc3339()).as_deref(),
        Some("2026-04-27T04:00:00+00:00")
    );

    // "Deepti" is one author among comma-joined names with an odd double space.
    let cl = parse("arxiv-cs-cl.rss.xml", "arxiv-cs-cl");
    let names: Vec<&str> = cl[0].authors.iter().map(|a| a.name.as_str()).collect();
    assert!(names.contains(&"Deepti"), "{names:?}");
}

#[test]
fn arxiv_api_atom() {
    let papers = parse("arxiv-api-cslg-or-csai.atom.xml", "api");
    assert_eq!(papers.len(), 20);
    let p = papers
        .iter()
        .find(|p| p.title.starts_with("Turning the TIDE"))
        .expect("named paper");
    assert!(p.ids.arxiv.is_some());
    assert!(!p.authors.is_empty());
    assert!(
        p.categories.contains(&"cs.LG".to_string()) || p.categories.contains(&"cs.CL".to_string())
    );
    assert!(link(p, LinkKind::Page).starts_with("https://arxiv.org/abs/"));
    assert!(link(p, LinkKind::Pdf).starts_with("https://arxiv.org/pdf/"));
    // One canonical abstract page, not a versioned duplicate beside it.
    assert_eq!(
        p.links.iter().filter(|l| l.kind == LinkKind::Page).count(),
        1,
        "{:?}",
        p.links
    );
    assert!(p.published.is_some() && p.updated.is_some());
}

#[test]
fn biorxiv_rss1() {
    let papers = parse("biorxiv-plant-biology.rdf", "biorxiv");
    assert_eq!(papers.len(), 30);
    let p = &papers[0];
    assert!(
        p.title
            .starts_with("Wheat inositol pyrophosphate kinase (TaVIH2-3B)"),
        "{}",
        p.title
    );
    let authors: Vec<&str> = p.authors.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(authors.len(), 13, "{authors:?}");
    assert_eq!(authors[0], "Kaur, M.");
    assert_eq!(authors[8], "Bhati, K. K.");
    assert_eq!(
        p.published.map(|d| d.date_naive().to_string()).as_deref(),
        Some("2019-08-27")
    );
    // The DOI behind the link is the identity; the link itself is then no identifier.
    assert_eq!(p.ids.doi.as_deref(), Some("10.1101/743294"));
    assert_eq!(p.ids.link, None);
    assert!(!p.abstract_text.is_empty());
}

#[test]
fn ids_are_the_same_on_every_parse() {
    for file in [
        "arxiv-cs-lg.rss.xml",
        "arxiv-cs-cl.rss.xml",
        "arxiv-cs-ai.rss.xml",
        "arxiv-api-cslg-or-csai.atom.xml",
        "arxiv-api-transformer-cslg.atom.xml",
        "biorxiv-plant-biology.rdf",
    ] {
        let a: Vec<_> = parse(file, "s").into_iter().map(|p| p.ids).collect();
        let b: Vec<_> = parse(file, "s").into_iter().map(|p| p.ids).collect();
        assert!(!a.is_empty(), "{file}");
        assert_eq!(a, b, "{file}");
        let mut entries: Vec<_> = a.iter().map(|i| i.entry.clone()).collect();
        entries.sort();
        entries.dedup();
        assert_eq!(entries.len(), a.len(), "{file}: entry ids are distinct");
    }
}
