//! Tagging: which topics a paper belongs to. The topics are compiled once into a
//! [`Matcher`], so a paper's text is scanned once whatever the number of topics. Pure.

use super::matcher::Matcher;
use super::query::Query;
use crate::model::Paper;

/// Bumped whenever matching changes (word splitting, the query language), so stored papers
/// are re-tagged under the new rules.
pub const MATCHER_VERSION: u32 = 1;

/// A topic to match: its id and parsed query (compiled, with every other topic, by
/// [`Tagger::new`]).
#[derive(Debug, Clone)]
pub struct TopicQuery {
    /// The topic's id.
    pub id: String,
    /// The topic's query, parsed.
    pub query: Query,
}

/// Identifies a set of topics (id and query as written) and the matcher's version: it changes
/// exactly when stored papers need re-tagging.
pub fn topics_fingerprint<'a>(topics: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut parts: Vec<String> = std::iter::once(format!("matcher {MATCHER_VERSION}"))
        .chain(
            topics
                .into_iter()
                .map(|(id, query)| format!("{id}\u{0}{query}")),
        )
        .collect();
    parts.sort();
    crate::pipeline::digest::short_hash(parts.join("\u{1}"))
}

/// All configured topics, compiled.
#[derive(Debug, Clone)]
pub struct Tagger {
    ids: Vec<String>,
    matcher: Matcher,
}

impl Default for Tagger {
    fn default() -> Self {
        Tagger::new(Vec::new())
    }
}

impl Tagger {
    /// Compiles the topics.
    pub fn new(topics: Vec<TopicQuery>) -> Self {
        let matcher = Matcher::new(topics.iter().map(|t| &t.query));
        Tagger {
            ids: topics.into_iter().map(|t| t.id).collect(),
            matcher,
        }
    }

    /// The ids of the topics whose query matches the paper, sorted.
    pub fn tag(&self, paper: &Paper) -> Vec<String> {
        let mut ids: Vec<String> = self
            .matcher
            .matching(paper)
            .into_iter()
            .map(|i| self.ids[i].clone())
            .collect();
        ids.sort();
        ids
    }
}
