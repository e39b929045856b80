//! Tagging: which topics a paper belongs to. The topics are compiled once into a
//! [`Matcher`], so a paper's text is scanned once whatever the number of topics. Pure.

use super::matcher::Matcher;
use super::query::Query;
use crate::model::Paper;

/// A topic ready to match: its id and parsed query.
#[derive(Debug, Clone)]
pub struct CompiledTopic {
    pub id: String,
    pub query: Query,
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
    pub fn new(topics: Vec<CompiledTopic>) -> Self {
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
