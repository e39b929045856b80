//! Batch planning: the papers a batch is about to write, with what was committed before for
//! each, and the [`Writes`] that turn one into the other (records, aliases, memberships, index
//! entries, count deltas). Pure: reads come in through [`super::PaperStore`], writes go out to
//! a commit.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::keys::encode_membership;
use super::kv::{Op, Tree};
use super::postings::Postings;
use crate::model::StoredPaper;
use crate::pipeline::identity::needs_no_alias;

/// What a commit will write: record ops, per-topic count deltas, and changes to topics'
/// posting lists (turned into ops by [`super::PaperStore::commit_writes`], which reads the
/// counts and records they change).
#[derive(Default)]
pub(super) struct Writes {
    pub(super) ops: Vec<Op>,
    pub(super) deltas: HashMap<String, i64>,
    pub(super) postings: Postings,
}

impl Writes {
    /// Adds `delta` to the count of `topic`'s papers.
    fn count(&mut self, topic: &str, delta: i64) {
        match self.deltas.get_mut(topic) {
            Some(count) => *count += delta,
            None => {
                self.deltas.insert(topic.to_string(), delta);
            }
        }
    }
}

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
pub(super) fn remove_paper(paper: &StoredPaper, w: &mut Writes) {
    w.ops
        .push(Op::Delete(Tree::Papers, paper.key.as_bytes().to_vec()));
    w.ops
        .push(Op::Delete(Tree::Memberships, paper.key.as_bytes().to_vec()));
    let at = w.postings.position(paper.updated(), &paper.key);
    for topic in &paper.topics {
        w.postings.delete(topic, at);
        w.count(topic, -1);
    }
}

/// The ops that turn `before` into `after`: the paper `record` (`after` encoded), its aliases, its index entries
/// and the count deltas of the topics it joins or leaves.
pub(super) fn diff_paper(
    before: Option<&StoredPaper>,
    after: &StoredPaper,
    record: Vec<u8>,
    w: &mut Writes,
) {
    w.ops
        .push(Op::Put(Tree::Papers, after.key.as_bytes().to_vec(), record));
    for id in &after.aliases {
        // The paper's own key, and an entry id that is its arXiv id, lead to it without an
        // alias record ([`super::PaperStore`] looks an identifier up as a key first).
        if !needs_no_alias(id, &after.key, &after.aliases)
            && !before.is_some_and(|b| b.aliases.contains(id))
        {
            w.ops.push(Op::Put(
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
        w,
    );
}

/// Writes a paper's relevance to each topic learned from examples into its index entry of
/// that topic (after [`diff_topics`], whose empty entry it replaces): a topic's feed reads the
/// scores with its papers, and a score that changed is written even when the topics did not.
pub(super) fn relevance_ops(
    key: &str,
    date: DateTime<Utc>,
    relevance: &[(String, crate::model::Relevance)],
    w: &mut Writes,
) {
    if relevance.is_empty() {
        return;
    }
    let at = w.postings.position(date, key);
    for (topic, score) in relevance {
        w.postings.put(topic, at, score.to_bytes().to_vec());
    }
}

/// A paper's topics and the date its index entries are filed under.
pub(super) type Membership<'a> = (DateTime<Utc>, &'a [String]);

/// The ops that move a paper's topics from `before` (`None`: a new paper, or one in no topic)
/// to `after`: its
/// membership record, the index entries that change and the count deltas of the topics it
/// joins or leaves. The paper's own record is not touched.
pub(super) fn diff_topics(
    key: &str,
    before: Option<Membership<'_>>,
    after: Membership<'_>,
    w: &mut Writes,
) {
    let (old_date, old_topics) = before.unwrap_or((after.0, &[]));
    if before == Some(after) || (old_topics.is_empty() && after.1.is_empty()) {
        // Nothing to change: a paper in no topic has no index entries, and needs no membership
        // record (one written by a store before version 4 may stay: it says the same).
        return;
    }
    if after.1.is_empty() {
        w.ops
            .push(Op::Delete(Tree::Memberships, key.as_bytes().to_vec()));
    } else {
        w.ops.push(Op::Put(
            Tree::Memberships,
            key.as_bytes().to_vec(),
            encode_membership(after.0, after.1),
        ));
    }
    // Positions hold dates to the millisecond, as membership records do.
    let moved = old_date.timestamp_millis() != after.0.timestamp_millis();
    if !old_topics.is_empty() {
        let old_at = w.postings.position(old_date, key);
        for topic in old_topics {
            let stays = after.1.contains(topic);
            if moved || !stays {
                w.postings.delete(topic, old_at);
            }
            if !stays {
                w.count(topic, -1);
            }
        }
    }
    let at = w.postings.position(after.0, key);
    for topic in after.1 {
        let joins = !old_topics.contains(topic);
        if moved || joins {
            // The entry's value (a relevance) is [`relevance_ops`]'s to write.
            w.postings.put(topic, at, Vec::new());
        }
        if joins {
            w.count(topic, 1);
        }
    }
}
