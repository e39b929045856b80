//! Arbitrary stored papers from fuzzer bytes: any strings (control characters and markup
//! included), any dates, any identifiers. Shared by the `render` fuzz target and the
//! fuzz regression test (`tests/fuzz_regressions.rs`), so a kept crash input replays the same.

use arbitrary::{Arbitrary, Unstructured};
use paperboy::model::{Author, Identifiers, Link, LinkKind, Paper, StoredPaper};
use paperboy::pipeline::identity::first_seen;
use paperboy::selfcheck;

/// Up to eight papers from `data`, newest first, as a feed lists them.
pub(crate) fn stored_papers(data: &[u8]) -> Vec<StoredPaper> {
    let mut u = Unstructured::new(data);
    let mut stored = Vec::new();
    while !u.is_empty() && stored.len() < 8 {
        match stored_paper(&mut u) {
            Ok(paper) => stored.push(paper),
            Err(_) => break,
        }
    }
    stored.sort_by_key(|s| std::cmp::Reverse(s.updated()));
    stored
}

fn stored_paper(u: &mut Unstructured<'_>) -> arbitrary::Result<StoredPaper> {
    let ids = Identifiers {
        arxiv: Option::<String>::arbitrary(u)?,
        doi: Option::<String>::arbitrary(u)?,
        link: Option::<String>::arbitrary(u)?,
        entry: String::arbitrary(u)?,
    };
    let kinds = [
        LinkKind::Page,
        LinkKind::Pdf,
        LinkKind::Doi,
        LinkKind::HuggingFace,
        LinkKind::Code,
        LinkKind::Project,
        LinkKind::Related,
    ];
    let mut links = Vec::new();
    for _ in 0..u.int_in_range(0..=4)? {
        links.push(Link {
            kind: *u.choose(&kinds)?,
            href: String::arbitrary(u)?,
            media_type: Option::<String>::arbitrary(u)?,
        });
    }
    let mut authors = Vec::new();
    for _ in 0..u.int_in_range(0..=4)? {
        authors.push(Author {
            name: String::arbitrary(u)?,
            affiliation: Option::<String>::arbitrary(u)?,
        });
    }
    let paper = Paper {
        version: Option::<u32>::arbitrary(u)?,
        title: String::arbitrary(u)?,
        authors,
        abstract_text: String::arbitrary(u)?,
        links,
        categories: Vec::<String>::arbitrary(u)?,
        primary_category: Option::<String>::arbitrary(u)?,
        author_rank: u8::arbitrary(u)?,
        comment: Option::<String>::arbitrary(u)?,
        journal_ref: Option::<String>::arbitrary(u)?,
        announce_type: Option::<String>::arbitrary(u)?,
        upvotes: Option::<u32>::arbitrary(u)?,
        discussion_comments: Option::<u32>::arbitrary(u)?,
        github_stars: Option::<u32>::arbitrary(u)?,
        published: date(u)?,
        updated: date(u)?,
        sources: Arbitrary::arbitrary(u)?,
        ids,
    };
    let mut stored = first_seen(paper, date(u)?.unwrap_or_default());
    stored.topics = vec![selfcheck::ALL_TOPIC.to_string()];
    Ok(stored)
}

/// Any date chrono can represent, or none.
fn date(u: &mut Unstructured<'_>) -> arbitrary::Result<Option<chrono::DateTime<chrono::Utc>>> {
    if bool::arbitrary(u)? {
        let seconds = u.int_in_range(-8_334_601_228_800_i64..=8_210_266_876_799)?;
        Ok(chrono::DateTime::from_timestamp(
            seconds,
            u32::arbitrary(u)? % 1_000_000_000,
        ))
    } else {
        Ok(None)
    }
}
