//! Golden tests: every real capture in `../shared/fixtures/sources/` through its source kind,
//! with the right number of papers and the right fields on named papers.

use paperboy::model::{LinkKind, Paper};
use paperboy::sources::{SourceContext, SourceKind};

fn parse(kind: SourceKind, file: &str) -> Vec<Paper> {
    let path = format!(
        "{}/../shared/fixtures/sources/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let ctx = SourceContext {
        source_id: "s",
        url: "https://example.org/source",
    };
    kind.parse(&bytes, &ctx)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn find<'a>(papers: &'a [Paper], arxiv: &str) -> &'a Paper {
    papers
        .iter()
        .find(|p| p.ids.arxiv.as_deref() == Some(arxiv))
        .unwrap_or_else(|| panic!("no paper {arxiv}"))
}

fn names(p: &Paper) -> Vec<&str> {
    p.authors.iter().map(|a| a.name.as_str()).collect()
}

fn href(p: &Paper, kind: LinkKind) -> Option<&str> {
    p.link(kind).map(|l| l.href.as_str())
}

fn date(p: Option<chrono::DateTime<chrono::Utc>>) -> String {
    p.map(|d| d.to_rfc3339()).unwrap_or_default()
}

#[test]
fn arxiv_listing_rss_2024() {
    for (file, count, first) in [
        ("arxiv-rss2024-cslg-jmamath.xml", 3, "2604.21952"),
        ("arxiv-rss2024-cscl-jmamath.xml", 3, ""),
        ("arxiv-rss2024-csai-jmamath.xml", 3, ""),
    ] {
        let papers = parse(SourceKind::Arxiv, file);
        assert_eq!(papers.len(), count, "{file}");
        for p in &papers {
            assert!(p.ids.arxiv.is_some(), "{file}");
            assert_eq!(p.version, Some(1), "{file}");
            assert_eq!(p.announce_type.as_deref(), Some("new"), "{file}");
            assert!(
                !p.abstract_text.starts_with("arXiv:"),
                "{file}: {}",
                p.abstract_text
            );
            assert!(!p.authors.is_empty() && !p.categories.is_empty(), "{file}");
            assert_eq!(date(p.published), "2026-04-27T04:00:00+00:00", "{file}");
        }
        if !first.is_empty() {
            let p = find(&papers, first);
            assert_eq!(names(p)[..2], ["Muhammad Shafique", "Abdul Basit"]);
            assert_eq!(
                p.categories,
                vec!["cs.LG", "cs.AI", "cs.AR", "cs.NE", "cs.RO"]
            );
            assert_eq!(
                href(p, LinkKind::Page),
                Some("https://arxiv.org/abs/2604.21952")
            );
            assert_eq!(
                href(p, LinkKind::Pdf),
                Some("https://arxiv.org/pdf/2604.21952")
            );
            assert!(p
                .abstract_text
                .starts_with("This work presents a multi-layered methodology"));
        }
    }
}

#[test]
fn arxiv_api_2026() {
    let papers = parse(SourceKind::ArxivApi, "arxiv-api-cslg-or-csai-m20.atom.xml");
    assert_eq!(papers.len(), 20);
    assert!(papers
        .iter()
        .all(|p| p.primary_category.is_some() && p.author_rank == 3));

    let p = find(&papers, "2604.26888");
    assert_eq!(p.version, Some(1));
    assert_eq!(names(p), vec!["Janis Mohr", "Jörg Frochte"]);
    assert_eq!(p.ids.doi.as_deref(), Some("10.1007/978-3-031-85252-7_10"));
    assert_eq!(
        href(p, LinkKind::Doi),
        Some("https://doi.org/10.1007/978-3-031-85252-7_10")
    );
    assert!(p
        .journal_ref
        .as_deref()
        .unwrap()
        .starts_with("In: Bäck, T. et al. (eds.), Computational Intelligence"));
    assert!(p
        .comment
        .as_deref()
        .unwrap()
        .starts_with("Accepted author manuscript"));
    assert_eq!(p.categories, vec!["cs.LG"]);
    assert_eq!(date(p.published), "2026-04-29T16:57:40+00:00");
    assert_eq!(
        href(p, LinkKind::Page),
        Some("https://arxiv.org/abs/2604.26888")
    );
    assert_eq!(
        href(p, LinkKind::Pdf),
        Some("https://arxiv.org/pdf/2604.26888")
    );

    let p = find(&papers, "2604.26851");
    assert_eq!(p.primary_category.as_deref(), Some("cs.CY"));
    assert_eq!(p.categories, vec!["cs.CY", "cs.AI"]);
    assert_eq!(
        names(p),
        vec!["Sajel Surati", "Rosanna Bellini", "Emily Black"]
    );
    assert_eq!(p.ids.doi.as_deref(), Some("10.1145/3805689.3806498"));

    let p = papers
        .iter()
        .find(|p| p.title.starts_with("A Note on How to Remove the"))
        .unwrap();
    assert!(
        p.title.contains(r"$\ln\ln T$"),
        "LaTeX stays readable: {}",
        p.title
    );

    let five = parse(
        SourceKind::ArxivApi,
        "arxiv-api-transformer-cslg-m5.atom.xml",
    );
    assert_eq!(five.len(), 5);
    let mana = find(&five, "2606.13677");
    assert_eq!(
        mana.title,
        "Mana: Dexterous Manipulation of Articulated Tools"
    );
    assert_eq!(mana.primary_category.as_deref(), Some("cs.RO"));
    assert_eq!(mana.categories[0], "cs.RO");
    assert!(mana.categories.contains(&"cs.LG".to_string()));
    assert!(
        mana.abstract_text.contains("(<1 minute per tool)"),
        "{}",
        mana.abstract_text
    );
}

#[test]
fn arxiv_api_2016_layout() {
    let papers = parse(
        SourceKind::ArxivApi,
        "arxiv-api-query-au-delmaestro-2016.atom.xml",
    );
    assert_eq!(papers.len(), 10);
    let p = find(&papers, "1201.4869");
    assert_eq!(p.version, Some(1));
    assert_eq!(
        p.title,
        "A Luttinger Liquid Core Inside Helium-4 Filled Nanopores"
    );
    assert_eq!(names(p), vec!["Adrian Del Maestro"]);
    assert_eq!(p.ids.doi.as_deref(), Some("10.1142/s021797921244002x"));
    assert_eq!(
        p.journal_ref.as_deref(),
        Some("Int. J. Mod. Phys. B, 26, 1244002 (2012)")
    );
    assert_eq!(p.comment.as_deref(), Some("26 pages, 10 figures"));
    assert_eq!(p.categories, vec!["cond-mat.mes-hall", "cond-mat.other"]);
    assert_eq!(date(p.published), "2012-01-23T21:15:02+00:00");
    assert!(
        p.abstract_text
            .starts_with("As helium-4 is cooled below 2.17 K"),
        "{}",
        p.abstract_text
    );
    assert!(!p.abstract_text.contains('\n'));
}

#[test]
fn hugging_face_daily_papers() {
    let papers = parse(SourceKind::HfDaily, "hf-daily-papers-30.json");
    assert_eq!(papers.len(), 30);
    let p = find(&papers, "2606.00467");
    assert!(
        p.title.starts_with("On the Limits of LLM Adaptability"),
        "{}",
        p.title
    );
    assert_eq!(
        names(p),
        vec!["Etienne Casanova", "Rafal Kocielnik", "R. Michael Alvarez"]
    );
    assert!(p
        .abstract_text
        .starts_with("Large Language Models (LLMs) are increasingly used"));
    assert_eq!(p.upvotes, Some(0));
    assert_eq!(p.discussion_comments, Some(2));
    assert_eq!(date(p.published), "2026-05-30T00:00:00+00:00");
    assert_eq!(date(p.updated), "2026-06-12T00:00:00+00:00");
    assert_eq!(
        href(p, LinkKind::HuggingFace),
        Some("https://huggingface.co/papers/2606.00467")
    );
    assert_eq!(
        href(p, LinkKind::Page),
        Some("https://arxiv.org/abs/2606.00467")
    );
    assert_eq!(
        href(p, LinkKind::Pdf),
        Some("https://arxiv.org/pdf/2606.00467")
    );
    assert_eq!(href(p, LinkKind::Code), None);

    let p = find(&papers, "2606.10423");
    assert_eq!(
        href(p, LinkKind::Code),
        Some("https://github.com/jayoohwang1/webchallenger")
    );
    assert_eq!(p.github_stars, Some(2));
    assert_eq!(
        href(p, LinkKind::Project),
        Some("https://jayoohwang1.github.io/webchallenger-site/")
    );
    assert_eq!(p.upvotes, Some(2));
}

#[test]
fn biorxiv_rss1_through_the_feed_kind() {
    let papers = parse(SourceKind::Feed, "biorxiv-plantbio-rss1.rdf");
    assert_eq!(papers.len(), 30);
    let p = &papers[0];
    assert_eq!(p.ids.doi.as_deref(), Some("10.1101/743294"));
    assert_eq!(p.version, Some(1));
    assert_eq!(names(p).len(), 13);
    assert_eq!(names(p)[12], "Pandey, A. K.");
    assert_eq!(
        href(p, LinkKind::Doi),
        Some("https://doi.org/10.1101/743294")
    );
    assert_eq!(date(p.published), "2019-08-27T00:00:00+00:00");
    let dois: std::collections::BTreeSet<_> =
        papers.iter().filter_map(|p| p.ids.doi.clone()).collect();
    assert_eq!(dois.len(), 30, "every item has its own DOI");

    let genomics = parse(SourceKind::Feed, "biorxiv-genomics-rss1-feedrs.xml");
    assert_eq!(genomics.len(), 1);
    let p = &genomics[0];
    assert_eq!(p.ids.doi.as_deref(), Some("10.1101/2023.12.16.571984"));
    assert!(
        p.title
            .starts_with("Complete genome of the Medicago anthracnose fungus"),
        "{}",
        p.title
    );
    assert_eq!(names(p).len(), 10);
    assert_eq!(names(p)[0], "LAPALU, N.");
    assert_eq!(names(p)[9], "O'Connell, R. J.");
    assert!(p
        .abstract_text
        .starts_with("Colletotrichum destructivum (Cd)"));
}

#[test]
fn a_payload_of_the_wrong_kind_is_a_clear_error() {
    let ctx = SourceContext {
        source_id: "s",
        url: "https://example.org/source",
    };
    let rss = std::fs::read(format!(
        "{}/../shared/fixtures/sources/arxiv-rss2024-cslg-jmamath.xml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let err = SourceKind::ArxivApi
        .parse(&rss, &ctx)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("expected the arXiv API's Atom <feed>, found <rss>"),
        "{err}"
    );
    let err = SourceKind::HfDaily
        .parse(&rss, &ctx)
        .unwrap_err()
        .to_string();
    assert!(err.contains("JSON array of daily papers"), "{err}");
    let json = br#"[{"paper": {"id": "2606.00467"}}]"#;
    assert!(SourceKind::Arxiv.parse(json, &ctx).is_err());
}

#[test]
fn arxiv_oai_pmh_arxivraw() {
    let papers = parse(SourceKind::ArxivOai, "arxiv-oai-pmh-arxivraw-1000.xml");
    assert_eq!(papers.len(), 1000);
    let p = find(&papers, "0801.3674");
    assert_eq!(p.version, Some(4));
    assert_eq!(
        p.title,
        "A Study of Structure Formation and Reheating in the D3/D7 Brane Inflation Model"
    );
    let authors: Vec<(&str, Option<&str>)> = p
        .authors
        .iter()
        .map(|a| (a.name.as_str(), a.affiliation.as_deref()))
        .collect();
    assert_eq!(
        authors,
        vec![
            ("Robert H. Brandenberger", Some("McGill")),
            ("Keshav Dasgupta", Some("McGill")),
            ("Anne-Christine Davis", Some("DAMTP, Cambridge")),
        ]
    );
    assert_eq!(p.categories, vec!["hep-th", "astro-ph", "gr-qc", "hep-ph"]);
    assert_eq!(p.primary_category.as_deref(), Some("hep-th"));
    assert_eq!(p.ids.doi.as_deref(), Some("10.1103/physrevd.78.083502"));
    assert_eq!(p.journal_ref.as_deref(), Some("Phys.Rev.D78:083502,2008"));
    assert!(p
        .comment
        .as_deref()
        .unwrap()
        .starts_with("Some sections expanded"));
    assert_eq!(date(p.published), "2008-01-23T21:13:53+00:00");
    assert_eq!(date(p.updated), "2008-09-11T22:03:53+00:00");
    assert!(p
        .abstract_text
        .starts_with("We study the spectrum of cosmological fluctuations"));
    // A record with two DOIs keeps the first.
    let two = papers
        .iter()
        .find(|p| p.ids.doi.as_deref() == Some("10.1140/epja/i2008-10623-5"))
        .expect("first of two DOIs");
    assert!(two.ids.arxiv.is_some());
    assert!(papers
        .iter()
        .all(|p| !p.title.is_empty() && !p.categories.is_empty()));
}

/// An arXiv API page read leaving out the entries stored before: every entry is marked, an
/// entry whose mark is known is left out (and counted), and an entry written differently is
/// read again under the same key with another digest.
#[test]
fn arxiv_api_entries_stored_unchanged_are_left_out() {
    use paperboy::model::EntryMark;
    let path = format!(
        "{}/../shared/fixtures/sources/arxiv-api-cslg-or-csai-m20.atom.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).unwrap();
    let ctx = SourceContext {
        source_id: "s",
        url: "https://example.org/source",
    };
    let now = chrono::Utc::now();
    let kind = SourceKind::ArxivApi;
    let all = kind.read_unknown(&bytes, &ctx, now, &|_| false).unwrap();
    assert_eq!(all.known, 0);
    assert_eq!(all.papers, kind.read(&bytes, &ctx, now).unwrap());
    assert_eq!(all.marks.len(), 20);
    // Keyed by source and arXiv id without its version: a new version replaces the mark.
    assert!(all.marks.iter().any(|m| m.key == b"s\x002604.26888"));
    let stored: std::collections::HashSet<Vec<u8>> = all
        .marks
        .iter()
        .map(|m| [&m.key[..], &m.digest].concat())
        .collect();
    let known = |m: &EntryMark| stored.contains(&[&m.key[..], &m.digest].concat());

    let again = kind.read_unknown(&bytes, &ctx, now, &known).unwrap();
    assert_eq!(
        (again.papers.len(), again.marks.len(), again.known),
        (0, 0, 20)
    );

    // One abstract written longer: that entry alone is read, under the key it had.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let edited = text.replacen(
        "<summary>We introduce Hyper Input",
        "<summary>We introduce zzqx Hyper Input",
        1,
    );
    assert_ne!(edited, text);
    let changed = kind
        .read_unknown(edited.as_bytes(), &ctx, now, &known)
        .unwrap();
    assert_eq!((changed.papers.len(), changed.known), (1, 19));
    assert!(changed.papers[0].abstract_text.contains("zzqx"));
    let old = all
        .marks
        .iter()
        .find(|m| m.key == changed.marks[0].key)
        .unwrap();
    assert_ne!(old.digest, changed.marks[0].digest);

    // The same entries on another page of the same source (a paged query's offsets move as
    // new papers arrive) are known all the same.
    let moved = SourceContext {
        url: "https://example.org/source?start=100",
        ..ctx
    };
    let there = kind.read_unknown(&bytes, &moved, now, &known).unwrap();
    assert_eq!((there.papers.len(), there.known), (0, 20));

    // The same bytes from another source are that source's own entries.
    let other = SourceContext {
        source_id: "t",
        ..ctx
    };
    let theirs = kind.read_unknown(&bytes, &other, now, &known).unwrap();
    assert_eq!((theirs.papers.len(), theirs.known), (20, 0));
}
