//! Tagging: which topics a paper belongs to. Topics are compiled once from the config and
//! applied to each paper. Pure.

use super::query::{Document, Query};
use crate::model::Paper;

/// A topic ready to match: its id and parsed query.
#[derive(Debug, Clone)]
pub struct CompiledTopic {
    pub id: String,
    pub query: Query,
}

/// All configured topics, compiled.
#[derive(Debug, Clone, Default)]
pub struct Tagger {
    topics: Vec<CompiledTopic>,
}

impl Tagger {
    /// A tagger over already-parsed topics.
    pub fn new(topics: Vec<CompiledTopic>) -> Self {
        Tagger { topics }
    }

    /// The ids of the topics whose query matches the paper, sorted.
    pub fn tag(&self, paper: &Paper) -> Vec<String> {
        let doc = Document::new(&paper.title, &paper.abstract_text);
        let mut ids: Vec<String> = self
            .topics
            .iter()
            .filter(|t| t.query.matches(&doc))
            .map(|t| t.id.clone())
            .collect();
        ids.sort();
        ids
    }
}
