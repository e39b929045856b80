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

/// Identifies one topic's query as written, under the matcher's version: it changes exactly
/// when the topic's papers need re-tagging.
pub fn topic_fingerprint(query_text: &str) -> String {
    crate::pipeline::digest::short_hash(format!("matcher {MATCHER_VERSION}\u{0}{query_text}"))
}

/// The fingerprint of every topic, by id.
pub type TopicFingerprints = std::collections::BTreeMap<String, String>;

/// A topic whose papers must be found again: added or with a changed query (`fingerprint` is
/// its new one), or removed (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicChange {
    /// The topic's id.
    pub id: String,
    /// The topic's fingerprint now; `None` when it was removed.
    pub fingerprint: Option<String>,
}

/// What changed between the topics the store was tagged for and the topics now, in id order.
pub fn topic_changes(tagged: &TopicFingerprints, now: &TopicFingerprints) -> Vec<TopicChange> {
    let changed = now
        .iter()
        .filter(|&(id, fingerprint)| tagged.get(id) != Some(fingerprint))
        .map(|(id, fingerprint)| TopicChange {
            id: id.clone(),
            fingerprint: Some(fingerprint.clone()),
        });
    let removed = tagged
        .keys()
        .filter(|id| !now.contains_key(*id))
        .map(|id| TopicChange {
            id: id.clone(),
            fingerprint: None,
        });
    let mut changes: Vec<TopicChange> = changed.chain(removed).collect();
    changes.sort_by(|a, b| a.id.cmp(&b.id));
    changes
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

/// The fingerprints of topics given as (id, query) pairs, for tests.
#[cfg(test)]
pub(crate) fn fingerprints(pairs: &[(&str, &str)]) -> TopicFingerprints {
    pairs
        .iter()
        .map(|(id, q)| (id.to_string(), topic_fingerprint(q)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_the_added_the_edited_and_the_removed_topics() {
        let tagged = fingerprints(&[("kept", "a"), ("edited", "b"), ("removed", "c")]);
        let now = fingerprints(&[("kept", "a"), ("edited", "b OR d"), ("added", "e")]);
        let changes = topic_changes(&tagged, &now);
        let summary: Vec<(&str, bool)> = changes
            .iter()
            .map(|c| (c.id.as_str(), c.fingerprint.is_some()))
            .collect();
        assert_eq!(
            summary,
            vec![("added", true), ("edited", true), ("removed", false)]
        );
        assert_eq!(changes[1].fingerprint, now.get("edited").cloned());
        assert!(topic_changes(&now, &now).is_empty());
    }

    #[test]
    fn a_fingerprint_follows_the_query_text_and_the_matcher_version() {
        assert_eq!(topic_fingerprint("x"), topic_fingerprint("x"));
        assert_ne!(topic_fingerprint("x"), topic_fingerprint("y"));
    }
}
