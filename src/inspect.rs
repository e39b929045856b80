//! Help with writing queries: the listing `paperboy search` prints (the search itself is the
//! index's, [`crate::index::SearchIndex::search`]), `paperboy explain` (why a paper is or is
//! not in a topic) and `paperboy status`. The matching and explaining are the pure core's.

use chrono::{DateTime, Utc};

use crate::config::TopicConfig;
use crate::index::Hit;
use crate::model::StoredPaper;
use crate::pipeline::query::Document;
use crate::pipeline::redact;
use crate::store::{PaperStore, StoreError};

/// How a paper is named in listings: its arXiv id, else its DOI, else its store key.
pub fn display_id(paper: &StoredPaper) -> String {
    let ids = &paper.paper.ids;
    ids.arxiv
        .clone()
        .or_else(|| ids.doi.as_ref().map(|d| format!("doi:{d}")))
        .unwrap_or_else(|| paper.key.clone())
}

/// One line per paper a search found: id, date, title.
pub fn format_listing(hits: &[Hit]) -> String {
    listing(hits.iter().map(|h| (h, None)))
}

/// Papers found with a relevance, one a line: the relevance (0 to 1), then as
/// [`format_listing`].
pub fn format_scored_listing(hits: &[(Hit, f32)]) -> String {
    listing(hits.iter().map(|(h, score)| (h, Some(*score))))
}

/// One line a paper: its relevance when given, display id, date and title, ids aligned.
fn listing<'a>(rows: impl Iterator<Item = (&'a Hit, Option<f32>)> + Clone) -> String {
    let width = rows
        .clone()
        .map(|(h, _)| h.display_id.len())
        .max()
        .unwrap_or(0);
    rows.map(|(h, score)| {
        let score = score.map_or(String::new(), |s| format!("{s:.2}  "));
        format!(
            "{score}{:<width$}  {}  {}\n",
            h.display_id,
            h.updated.format("%Y-%m-%d"),
            h.title
        )
    })
    .collect()
}

/// Whether the paper is in the topic and why, part by part.
pub fn explain(topic: &TopicConfig, paper: &StoredPaper, scored: Option<&Scored>) -> String {
    let doc = Document::of(&paper.paper);
    let matches = topic.query.matches(&doc);
    // A topic learned from examples with no score (none of its liked papers stored) holds none.
    let belongs = matches
        && match (&topic.examples, scored) {
            (None, _) => true,
            (Some(_), Some(s)) => s.relevance >= s.min_score,
            (Some(_), None) => false,
        };
    let mut out = format!(
        "paper {}: {}\ntopic {} ({}): {}\nquery: {}\n\n",
        display_id(paper),
        paper.paper.title,
        topic.id,
        topic.title,
        if belongs {
            "IN this topic"
        } else {
            "NOT in this topic"
        },
        topic.query_text
    );
    out.push_str(&topic.query.explain(&doc));
    if let Some(scored) = scored {
        out.push_str(&scored.explain());
    }
    let stored = paper.topics.contains(&topic.id);
    if stored != belongs {
        out.push_str(
            "\nnote: the store's tags predate this topic's definition; the next `ingest` or `serve` re-tags it.\n",
        );
    }
    out
}

/// How a paper scores against a topic learned from examples, for [`explain`].
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Its relevance, in [0, 1].
    pub relevance: f32,
    /// The relevance the topic asks for.
    pub min_score: f32,
    /// The liked papers it is closest to: (cosine, display id, title), closest first.
    pub closest: Vec<(f32, String, String)>,
    /// The words that weigh most in its relevance: (word, share of the cosine), largest first.
    pub words: Vec<(String, f32)>,
}

impl Scored {
    fn explain(&self) -> String {
        use std::fmt::Write as _;
        let mut out = format!(
            "\n{} relevance {:.2} to the example papers (min_score {:.2})\n",
            if self.relevance >= self.min_score {
                "✓"
            } else {
                "✗"
            },
            self.relevance,
            self.min_score
        );
        if !self.closest.is_empty() {
            out.push_str("  closest examples:\n");
            for (cosine, id, title) in &self.closest {
                let _ = writeln!(out, "    {cosine:.2}  {id}  {title}");
            }
        }
        if !self.words.is_empty() {
            let words: Vec<String> = self
                .words
                .iter()
                .map(|(w, share)| format!("{w} {share:.3}"))
                .collect();
            let _ = writeln!(out, "  words that weigh most: {}", words.join(", "));
        }
        out
    }
}

/// A paged source's harvest in a few words: in progress (records so far, of how many) or
/// complete, and what the next one asks for.
pub fn harvest_line(harvest: &crate::model::Harvest) -> String {
    let of = harvest
        .total
        .map(|total| format!(" of {total}"))
        .unwrap_or_default();
    match (&harvest.next, &harvest.since) {
        (Some(_), _) => format!(
            "in progress: {} records{of} so far; the next poll goes on",
            harvest.records
        ),
        (None, Some(since)) => format!(
            "complete ({} records{of}); the next asks for records changed since {since}",
            harvest.records
        ),
        (None, None) => format!("{} records{of} read by the last poll", harvest.records),
    }
}

/// Every source's state, a few lines each: last fetch and result, next poll, failures in a
/// row, a permanent redirect, whether it is gone, a harvest's progress.
pub fn status(config: &crate::config::Config, store: &PaperStore) -> Result<String, StoreError> {
    Ok(status_of(config, &store.source_states()?))
}

/// [`status`] from the copy of the sources' states that the process holding the store keeps
/// beside it ([`crate::store::states`]), headed by who wrote it and when; `writer_gone` when
/// the process that wrote it is known to have stopped (another holds the store, and has not
/// written a copy of its own yet).
pub fn status_from_copy(
    config: &crate::config::Config,
    copy: &crate::store::states::Snapshot,
    writer_gone: bool,
) -> String {
    let at = copy.written.format("%Y-%m-%d %H:%M:%S UTC");
    let head = if writer_gone {
        format!(
            "the store is in use by another process; its sources as paperboy process {} (no \
             longer running) last copied them at {at}:\n",
            copy.pid
        )
    } else {
        format!(
            "the store is in use by paperboy process {}; its sources as that process last \
             copied them at {at}:\n",
            copy.pid
        )
    };
    head + &status_of(config, &copy.sources)
}

/// Each configured source's lines, with its state in `states` (a source without one has not
/// been fetched yet).
fn status_of(
    config: &crate::config::Config,
    states: &std::collections::BTreeMap<String, crate::model::SourceState>,
) -> String {
    let when = |d: Option<DateTime<Utc>>| {
        d.map_or_else(
            || "-".into(),
            |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
    };
    let mut out = String::new();
    for source in &config.sources {
        let state = states.get(&source.id).cloned().unwrap_or_default();
        let result = state
            .last_result
            .as_ref()
            .map_or_else(|| "not fetched yet".into(), ToString::to_string);
        // A source URL's credentials stay private, in the URL and in messages that quote it.
        let result = redact::in_text(&result, &source.url);
        out.push_str(&format!(
            "{} ({}) {}\n",
            source.id,
            source.kind.name(),
            redact::url(&source.url)
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
        if let Some(harvest) = &state.harvest {
            out.push_str(&format!("  harvest:     {}\n", harvest_line(harvest)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PollResult, SourceState};

    /// `status` beside a running process: the copy's states under a head that names its
    /// writer, or says it has stopped; a source the copy lacks shows as not fetched yet.
    #[test]
    fn status_from_a_copy_names_its_writer_and_shows_each_source() {
        let config = crate::config::Config::parse(
            "[[sources]]\nid = \"a\"\nkind = \"feed\"\nurl = \"https://bob:pw@h.example/a.xml\"\n\n\
             [[sources]]\nid = \"b\"\nkind = \"feed\"\nurl = \"https://h.example/b.xml\"\n",
            std::path::Path::new("/"),
            "test",
        )
        .unwrap();
        let copy = crate::store::states::Snapshot {
            pid: 77,
            written: "2026-12-04T23:45:27Z".parse().unwrap(),
            sources: std::collections::BTreeMap::from([(
                "a".to_string(),
                SourceState {
                    last_result: Some(PollResult::Failed {
                        error: "timed out".into(),
                    }),
                    failures_in_row: 2,
                    ..SourceState::default()
                },
            )]),
        };
        let running = status_from_copy(&config, &copy, false);
        assert!(
            running.starts_with(
                "the store is in use by paperboy process 77; its sources as that process last \
                 copied them at 2026-12-04 23:45:27 UTC:\na (feed) https://h.example/a.xml\n"
            ),
            "{running}"
        );
        assert!(
            running.contains("  result:      error: timed out\n"),
            "{running}"
        );
        assert!(running.contains("  failures in a row: 2\n"), "{running}");
        assert!(
            running.contains("b (feed) https://h.example/b.xml\n  last fetch:  -\n  result:      not fetched yet\n"),
            "{running}"
        );
        let stale = status_from_copy(&config, &copy, true);
        assert!(
            stale.starts_with(
                "the store is in use by another process; its sources as paperboy process 77 \
                 (no longer running) last copied them at 2026-12-04 23:45:27 UTC:\n"
            ),
            "{stale}"
        );
    }
}
