//! Batch planning: the papers a batch is about to write, with what was committed before for
//! each, and the ops that turn one into the other (records, aliases, memberships, index
//! entries, count deltas). Pure: reads come in through [`super::PaperStore`], ops go out to a commit.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::keys::{encode_membership, encode_paper, index_key};
use super::kv::{Op, StoreError, Tree};
use crate::model::StoredPaper;

/// The papers a batch is about to write, with what was committed before for each.
#[derive(Default)]
pub(super) struct Plan {
    /// Committed state of every key the batch touches (`None`: new).
    pub(super) originals: HashMap<String, Option<StoredPaper>>,
    /// The state each touched key will have.
    pub(super) pending: HashMap<String, StoredPaper>,
    /// Identifiers of pending papers, for duplicates within the batch.
    pub(super) aliases: HashMap<String, String>,
    /// Keys folded into another paper by this batch, with the key they were folded into.
    pub(super) retired: HashMap<String, String>,
}

impl Plan {
    pub(super) fn stage(&mut self, paper: StoredPaper) {
        for id in &paper.aliases {
            self.aliases.insert(id.clone(), paper.key.clone());
        }
        self.pending.insert(paper.key.clone(), paper);
    }

    /// Folds `key` into `into`: it is no longer staged, and whatever led to it leads to `into`.
    pub(super) fn retire(&mut self, key: &str, into: &str) {
        self.pending.remove(key);
        self.retired.insert(key.to_string(), into.to_string());
        for target in self.retired.values_mut() {
            if target == key {
                *target = into.to_string();
            }
        }
    }

    /// The key a paper lives under now (itself, unless this batch folded it into another).
    pub(super) fn survivor_of(&self, key: String) -> String {
        match self.retired.get(&key) {
            Some(into) => into.clone(),
            None => key,
        }
    }
}

/// The ops that remove a stored paper: its record, its index entries and its counts. Its
/// aliases are taken over by the paper it was folded into.
pub(super) fn remove_paper(
    paper: &StoredPaper,
    ops: &mut Vec<Op>,
    deltas: &mut HashMap<String, i64>,
) {
    ops.push(Op::Delete(Tree::Papers, paper.key.as_bytes().to_vec()));
    ops.push(Op::Delete(Tree::Memberships, paper.key.as_bytes().to_vec()));
    for topic in &paper.topics {
        ops.push(Op::Delete(
            Tree::TopicIndex,
            index_key(topic, paper.updated(), &paper.key),
        ));
        *deltas.entry(topic.clone()).or_default() -= 1;
    }
}

/// The ops that turn `before` into `after`: the paper record, its aliases, its index entries
/// and the count deltas of the topics it joins or leaves.
pub(super) fn diff_paper(
    before: Option<&StoredPaper>,
    after: &StoredPaper,
    ops: &mut Vec<Op>,
    deltas: &mut HashMap<String, i64>,
) -> Result<(), StoreError> {
    ops.push(Op::Put(
        Tree::Papers,
        after.key.as_bytes().to_vec(),
        encode_paper(after.key.as_bytes(), after)?,
    ));
    for id in &after.aliases {
        if !before.is_some_and(|b| b.aliases.contains(id)) {
            ops.push(Op::Put(
                Tree::Aliases,
                id.clone().into_bytes(),
                after.key.as_bytes().to_vec(),
            ));
        }
    }
    diff_topics(
        &after.key,
        before.map(|b| (b.updated(), b.topics.as_slice())),
        (after.updated(), &after.topics),
        ops,
        deltas,
    );
    Ok(())
}

/// Writes a paper's relevance to each topic learned from examples into its index entry of
/// that topic (after [`diff_topics`], whose empty entry it replaces): a topic's feed reads the
/// scores with its papers, and a score that changed is written even when the topics did not.
pub(super) fn relevance_ops(
    key: &str,
    date: DateTime<Utc>,
    relevance: &[(String, crate::model::Relevance)],
    ops: &mut Vec<Op>,
) {
    for (topic, score) in relevance {
        ops.push(Op::Put(
            Tree::TopicIndex,
            super::keys::index_key(topic, date, key),
            score.to_bytes().to_vec(),
        ));
    }
}

/// A paper's topics and the date its index entries are filed under.
pub(super) type Membership<'a> = (DateTime<Utc>, &'a [String]);

/// The ops that move a paper's topics from `before` (`None`: a new paper) to `after`: its
/// membership record, the index entries that change and the count deltas of the topics it
/// joins or leaves. The paper's own record is not touched.
pub(super) fn diff_topics(
    key: &str,
    before: Option<Membership<'_>>,
    after: Membership<'_>,
    ops: &mut Vec<Op>,
    deltas: &mut HashMap<String, i64>,
) {
    if before == Some(after) {
        return;
    }
    ops.push(Op::Put(
        Tree::Memberships,
        key.as_bytes().to_vec(),
        encode_membership(after.0, after.1),
    ));
    let old_entries: Vec<Vec<u8>> = before
        .map(|(date, topics)| topics.iter().map(|t| index_key(t, date, key)).collect())
        .unwrap_or_default();
    let new_entries: Vec<Vec<u8>> = after.1.iter().map(|t| index_key(t, after.0, key)).collect();
    for old in &old_entries {
        if !new_entries.contains(old) {
            ops.push(Op::Delete(Tree::TopicIndex, old.clone()));
        }
    }
    for new in &new_entries {
        if !old_entries.contains(new) {
            ops.push(Op::Put(Tree::TopicIndex, new.clone(), Vec::new()));
        }
    }
    let old_topics = before.map(|(_, topics)| topics).unwrap_or_default();
    for topic in old_topics {
        if !after.1.contains(topic) {
            *deltas.entry(topic.clone()).or_default() -= 1;
        }
    }
    for topic in after.1 {
        if !old_topics.contains(topic) {
            *deltas.entry(topic.clone()).or_default() += 1;
        }
    }
}
