//! Tagging: which topics a paper belongs to. The topics are compiled once into a
//! [`Matcher`], so a paper's text is scanned once whatever the number of topics. Pure.

use std::collections::HashMap;

use super::matcher::Matcher;
use super::profile::{Profile, ProfileSet, Vocabulary};
use super::query::Query;
use crate::model::{Paper, Relevance};

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

/// A paper's topics as [`Tagger::tag_scored`] gives them: ids, sorted, and its relevance to
/// each topic learned from examples.
pub type Tags = (Vec<String>, Vec<(String, Relevance)>);

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

/// A topic learned from examples: its profile (`None` when none of its liked papers is in the
/// store yet, so that no paper can be scored and none belongs) and the relevance a paper
/// needs.
#[derive(Debug, Clone)]
pub struct ScoredTopic {
    /// The topic's id (one of the tagger's topics).
    pub id: String,
    /// What it learned from its examples.
    pub profile: Option<Profile>,
    /// The relevance a paper needs to belong, in [0, 1].
    pub min_score: f32,
}

/// All configured topics, compiled.
#[derive(Debug, Clone)]
pub struct Tagger {
    ids: Vec<String>,
    matcher: Matcher,
    /// The profiles of the topics learned from examples, scored together.
    profiles: ProfileSet,
    /// By topic index: for a topic learned from examples, its slot in `profiles` (`None`
    /// without a profile) and its threshold.
    scored: Vec<Option<(Option<usize>, f32)>>,
    /// Topic id → the entry of `scored` (topics learned from examples only), so that the
    /// per-paper calls of re-scoring do not search the ids.
    scored_by_id: HashMap<String, (Option<usize>, f32)>,
}

impl Default for Tagger {
    fn default() -> Self {
        Tagger::new(Vec::new())
    }
}

impl Tagger {
    /// Compiles the topics.
    pub fn new(topics: Vec<TopicQuery>) -> Self {
        Tagger::with_profiles(topics, Vec::new(), std::sync::Arc::default())
    }

    /// Compiles the topics, those of `scored` (ids among `topics`) learned from examples with
    /// profiles over `vocabulary`: a paper belongs to one of those when its query matches and
    /// its relevance reaches the topic's threshold.
    pub fn with_profiles(
        topics: Vec<TopicQuery>,
        scored: Vec<ScoredTopic>,
        vocabulary: std::sync::Arc<Vocabulary>,
    ) -> Self {
        let matcher = Matcher::new(topics.iter().map(|t| &t.query));
        let ids: Vec<String> = topics.into_iter().map(|t| t.id).collect();
        let index: HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let mut profiles = Vec::new();
        let mut by_topic = vec![None; ids.len()];
        for topic in scored {
            let Some(&i) = index.get(topic.id.as_str()) else {
                continue;
            };
            let slot = topic.profile.map(|p| {
                profiles.push(p);
                profiles.len() - 1
            });
            by_topic[i] = Some((slot, topic.min_score));
        }
        let scored_by_id = ids
            .iter()
            .zip(&by_topic)
            .filter_map(|(id, scored)| scored.map(|s| (id.clone(), s)))
            .collect();
        Tagger {
            matcher,
            ids,
            profiles: ProfileSet::new(vocabulary, profiles),
            scored: by_topic,
            scored_by_id,
        }
    }

    /// The ids of the topics the paper belongs to, sorted.
    pub fn tag(&self, paper: &Paper) -> Vec<String> {
        self.tag_scored(paper).0
    }

    /// The ids of the topics the paper belongs to, sorted, and its relevance to each of them
    /// that is learned from examples.
    pub fn tag_scored(&self, paper: &Paper) -> Tags {
        let matching = self.matcher.matching(paper);
        let scores = if self.profiles.is_empty() {
            Vec::new()
        } else {
            self.profiles.scores(paper)
        };
        let mut ids = Vec::with_capacity(matching.len());
        let mut relevance = Vec::new();
        for i in matching {
            match self.scored[i] {
                None => ids.push(self.ids[i].clone()),
                Some((slot, min_score)) => {
                    // A paper sharing no word with the profile scores 0.
                    let Some(score) = slot.map(|s| scores.get(s).copied().unwrap_or(0.0)) else {
                        continue;
                    };
                    if score >= min_score {
                        ids.push(self.ids[i].clone());
                        relevance.push((self.ids[i].clone(), Relevance::new(score)));
                    }
                }
            }
        }
        ids.sort();
        relevance.sort();
        (ids, relevance)
    }

    /// The paper's relevance to `topic` when it is learned from examples and has a profile
    /// (whether or not the topic's query matches or its threshold is reached).
    pub fn relevance(&self, topic: &str, paper: &Paper) -> Option<Relevance> {
        self.score(topic, paper).map(Relevance::new)
    }

    /// [`Tagger::relevance`] unrounded, as thresholds are compared.
    pub fn score(&self, topic: &str, paper: &Paper) -> Option<f32> {
        let slot = self.scored_by_id.get(topic)?.0?;
        Some(self.profiles.score_one(slot, paper))
    }

    /// The heaviest words of a topic's profile, with their weights (empty without one).
    pub fn profile_words(&self, topic: &str) -> Vec<(String, f32)> {
        let Some(&(Some(slot), _)) = self.scored_by_id.get(topic) else {
            return Vec::new();
        };
        self.profiles.profile_words(slot)
    }

    /// The threshold of a topic learned from examples.
    pub fn min_score(&self, topic: &str) -> Option<f32> {
        self.scored_by_id.get(topic).map(|&(_, min)| min)
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

    #[test]
    fn topics_learned_from_examples_need_their_query_and_their_threshold() {
        use crate::pipeline::profile::{Profile, Vocabulary};
        let paper = |title: &str| Paper {
            title: title.into(),
            abstract_text: title.into(),
            ..Paper::default()
        };
        let papers = [
            paper("pebble games on sparse graphs"),
            paper("pebble games and rigidity"),
            paper("dark matter halos"),
            paper("dark matter lensing"),
        ];
        let vocabulary = std::sync::Arc::new(Vocabulary::build(&papers));
        let vectors: Vec<_> = papers.iter().map(|p| vocabulary.vector(p)).collect();
        let profile = Profile::train(&vectors[..1], &[], &vectors, |i| i == 0);
        let topic = |id: &str, query: &str| TopicQuery {
            id: id.into(),
            query: Query::parse(query).unwrap(),
        };
        let scored = |id: &str, min_score: f32| ScoredTopic {
            id: id.into(),
            profile: profile.clone(),
            min_score,
        };
        let tagger = Tagger::with_profiles(
            vec![
                topic("strict", "*"),
                topic("all", "*"),
                topic("queried", "rigidity"),
                topic("untrained", "*"),
                topic("plain", "dark"),
            ],
            vec![
                scored("strict", 0.2),
                scored("all", 0.0),
                scored("queried", 0.0),
                ScoredTopic {
                    id: "untrained".into(),
                    profile: None,
                    min_score: 0.0,
                },
            ],
            vocabulary,
        );
        let (ids, relevance) = tagger.tag_scored(&papers[1]);
        assert_eq!(ids, ["all", "queried", "strict"]);
        assert_eq!(relevance.len(), 3);
        assert!(relevance.iter().all(|(_, r)| r.value() >= 0.2));
        // No shared word: only `min_score = 0` keeps it, with relevance 0.
        let (ids, relevance) = tagger.tag_scored(&papers[2]);
        assert_eq!(ids, ["all", "plain"]);
        assert_eq!(relevance, [("all".to_string(), Relevance::new(0.0))]);
        assert_eq!(tagger.min_score("strict"), Some(0.2));
        assert_eq!(tagger.min_score("plain"), None);
        assert!(tagger.relevance("strict", &papers[0]).unwrap().value() > 0.5);
        assert!(tagger.relevance("untrained", &papers[0]).is_none());
        assert!(!tagger.profile_words("strict").is_empty());
    }
}
