//! Help with writing queries: `paperboy search` (which stored papers a query matches) and
//! `paperboy explain` (why a paper is or is not in a topic). Reads the store; the matching and
//! explaining themselves are the pure core's.

use chrono::{DateTime, Utc};

use crate::config::TopicConfig;
use crate::model::StoredPaper;
use crate::pipeline::matcher::Matcher;
use crate::pipeline::query::{Document, Query};
use crate::store::{PaperStore, StoreError};

/// The papers a query matches, newest first (at most `limit`), and how many match in all.
pub fn search(
    store: &PaperStore,
    query: &Query,
    limit: usize,
) -> Result<(Vec<StoredPaper>, usize), StoreError> {
    let matcher = Matcher::new([query]);
    // The newest `limit` matches, kept sorted oldest first so the oldest is cheap to drop.
    let mut newest: Vec<(DateTime<Utc>, StoredPaper)> = Vec::new();
    let mut total = 0;
    store.for_each_paper(|paper| {
        if matcher.matching(&paper.paper).is_empty() {
            return;
        }
        total += 1;
        let date = paper.updated();
        if newest.len() < limit || newest.first().is_some_and(|(d, _)| *d < date) {
            let at = newest.partition_point(|(d, _)| *d <= date);
            newest.insert(at, (date, paper));
            if newest.len() > limit {
                newest.remove(0);
            }
        }
    })?;
    Ok((newest.into_iter().rev().map(|(_, p)| p).collect(), total))
}

/// How a paper is named in listings: its arXiv id, else its DOI, else its store key.
pub fn display_id(paper: &StoredPaper) -> String {
    let ids = &paper.paper.ids;
    ids.arxiv
        .clone()
        .or_else(|| ids.doi.as_ref().map(|d| format!("doi:{d}")))
        .unwrap_or_else(|| paper.key.clone())
}

/// One line per paper: id, date, title.
pub fn format_listing(papers: &[StoredPaper]) -> String {
    let width = papers
        .iter()
        .map(|p| display_id(p).len())
        .max()
        .unwrap_or(0);
    papers
        .iter()
        .map(|p| {
            format!(
                "{:<width$}  {}  {}\n",
                display_id(p),
                p.updated().format("%Y-%m-%d"),
                p.paper.title
            )
        })
        .collect()
}

/// Whether the paper is in the topic and why, part by part.
pub fn explain(topic: &TopicConfig, paper: &StoredPaper) -> String {
    let doc = Document::of(&paper.paper);
    let matches = topic.query.matches(&doc);
    let mut out = format!(
        "paper {}: {}\ntopic {} ({}): {}\nquery: {}\n\n",
        display_id(paper),
        paper.paper.title,
        topic.id,
        topic.title,
        if matches {
            "IN this topic"
        } else {
            "NOT in this topic"
        },
        topic.query_text
    );
    out.push_str(&topic.query.explain(&doc));
    let stored = paper.topics.contains(&topic.id);
    if stored != matches {
        out.push_str(
            "\nnote: the store's tags predate this query; the next `ingest` or `serve` re-tags every paper.\n",
        );
    }
    out
}

/// Every source's state, a few lines each: last fetch and result, next poll, failures in a
/// row, a permanent redirect, whether it is gone.
pub fn status(config: &crate::config::Config, store: &PaperStore) -> Result<String, StoreError> {
    let when = |d: Option<DateTime<Utc>>| {
        d.map_or_else(
            || "-".into(),
            |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
    };
    let mut out = String::new();
    for source in &config.sources {
        let state = store.source_state(&source.id)?;
        let result = state
            .last_result
            .as_ref()
            .map_or_else(|| "not fetched yet".into(), ToString::to_string);
        out.push_str(&format!(
            "{} ({}) {}\n",
            source.id,
            source.kind.name(),
            source.url
        ));
        out.push_str(&format!(
            "  last fetch:  {}\n  result:      {result}\n",
            when(state.last_fetch)
        ));
        let next = if state.gone {
            "never: the source is gone (HTTP 410); change its URL to poll again".to_string()
        } else {
            when(state.next_poll)
        };
        out.push_str(&format!(
            "  next poll:   {next}\n  failures in a row: {}\n",
            state.failures_in_row
        ));
        if let Some(to) = &state.moved_to {
            out.push_str(&format!(
                "  moved permanently to {to} (update the config)\n"
            ));
        }
    }
    Ok(out)
}
