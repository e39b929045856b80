//! Re-tagging stored papers when the topics change. The store records the fingerprint of each
//! topic its papers were tagged for; a topic added, edited or removed since then has its
//! papers set again, either from a set of member keys that the caller finds (the search index
//! answers that in one query: [`PaperStore::set_topic`]) or, when the store does not know
//! which topics it was tagged for, by tagging every stored paper again
//! ([`PaperStore::retag_all`]).

use std::collections::{HashMap, HashSet};

use super::keys::{
    decode, decode_paper, encode, StoredMembership, SCAN_CHUNK, TAGGED_TOPICS, TOPICS_FINGERPRINT,
};
use super::kv::{Op, Row, StoreError, Tree};
use super::papers::PaperStore;
use super::plan::{diff_topics, relevance_ops, Writes};
use super::postings::paper_key_of;
use crate::model::{Relevance, StoredPaper};
use crate::pipeline::tag::{Tagger, Tags, TopicFingerprints};

/// How setting one topic's papers changed the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopicRetag {
    /// Papers that joined the topic.
    pub added: usize,
    /// Papers that left it.
    pub removed: usize,
}

impl PaperStore {
    /// The fingerprint of each topic the stored papers are tagged for; `None` when the store
    /// does not know (a new store, or one written before fingerprints were kept per topic).
    pub fn tagged_topics(&self) -> Result<Option<TopicFingerprints>, StoreError> {
        self.kv
            .get(Tree::Meta, TAGGED_TOPICS)?
            .map(|bytes| decode(Tree::Meta, TAGGED_TOPICS, &bytes))
            .transpose()
    }

    /// Tags every stored paper again with `tagger`, then records `topics` (the fingerprints of
    /// the tagger's topics) as what the store is tagged for. Returns how many papers changed
    /// topics. Reads the whole store: for a store that does not know what it was tagged for.
    /// The store is locked a chunk at a time, so batches (and a shutdown's flush) wait for one
    /// chunk, not for the whole store.
    pub fn retag_all(
        &self,
        tagger: &Tagger,
        topics: &TopicFingerprints,
    ) -> Result<usize, StoreError> {
        let mut changed = 0;
        let mut from: Option<Vec<u8>> = None;
        loop {
            let _guard = self
                .write
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            super::journal::finish(&*self.kv)?;
            // Read under the lock: a batch between two chunks is seen as it left the papers.
            let rows = self
                .kv
                .scan(Tree::Papers, b"", from.as_deref(), false, SCAN_CHUNK)?;
            let Some((last, _)) = rows.last() else {
                break;
            };
            from = Some(last.clone());
            let mut writes = Writes::default();
            for retagged in retag_rows(&rows, tagger) {
                let (paper, (topics, relevance)) = retagged?;
                let before = self.membership(&paper.key)?;
                let before = before.as_ref().map(|(date, t)| (*date, t.as_slice()));
                // No membership record: a paper in no topic.
                if before.map_or(&[][..], |(_, t)| t) != topics.as_slice() {
                    changed += 1;
                    diff_topics(&paper.key, before, (paper.updated(), &topics), &mut writes);
                }
                // Scores are written whether or not the topics changed: the profiles may have.
                relevance_ops(&paper.key, paper.updated(), &relevance, &mut writes);
            }
            self.commit_writes(writes)?;
        }
        self.kv.commit(&[
            Op::Put(
                Tree::Meta,
                TAGGED_TOPICS.to_vec(),
                encode(Tree::Meta, TAGGED_TOPICS, topics)?,
            ),
            // The single fingerprint of all topics that stores before this one kept.
            Op::Delete(Tree::Meta, TOPICS_FINGERPRINT.to_vec()),
        ])?;
        Ok(changed)
    }

    /// Re-tags every stored paper when `topics` differ from what the store was tagged for.
    /// Returns how many papers changed topics, or `None` when nothing needed doing.
    pub fn retag_if_changed(
        &self,
        tagger: &Tagger,
        topics: &TopicFingerprints,
    ) -> Result<Option<usize>, StoreError> {
        if self.tagged_topics()?.as_ref() == Some(topics) {
            return Ok(None);
        }
        self.retag_all(tagger, topics).map(Some)
    }

    /// Makes `topic`'s papers exactly the papers whose keys `members` returns, and records
    /// `fingerprint` as what the topic is tagged for (a removed topic, with `None`, is
    /// forgotten). `members` runs while no batch can be written, so that it sees the store as
    /// the change applies to it (the caller brings its search index up to date there).
    /// Only the papers that join or leave the topic are read and written.
    pub fn set_topic<E: From<StoreError>>(
        &self,
        topic: &str,
        fingerprint: Option<&str>,
        members: impl FnOnce() -> Result<HashSet<String>, E>,
    ) -> Result<TopicRetag, E> {
        self.set_topic_with(topic, fingerprint, || members().map(|m| (m, None)))
    }

    /// [`PaperStore::set_topic`] for a topic learned from examples: `members` returns each
    /// member's relevance, written into its index entry before the fingerprint is recorded
    /// (so a crash part way leaves the topic to be set again, scores included).
    pub fn set_scored_topic<E: From<StoreError>>(
        &self,
        topic: &str,
        fingerprint: Option<&str>,
        members: impl FnOnce() -> Result<HashMap<String, Relevance>, E>,
    ) -> Result<TopicRetag, E> {
        self.set_topic_with(topic, fingerprint, || {
            members().map(|scores| (scores.keys().cloned().collect(), Some(scores)))
        })
    }

    /// Sets a topic's members and their scores (`None`: a topic without scores, whose entries
    /// hold none), then records its fingerprint.
    #[allow(clippy::type_complexity)]
    fn set_topic_with<E: From<StoreError>>(
        &self,
        topic: &str,
        fingerprint: Option<&str>,
        members: impl FnOnce() -> Result<(HashSet<String>, Option<HashMap<String, Relevance>>), E>,
    ) -> Result<TopicRetag, E> {
        let _guard = self
            .write
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        super::journal::finish(&*self.kv)?;
        let (members, scores) = members()?;
        let current = self.topic_keys(topic)?;
        // In key order: neighbouring records share the store's pages, which a random order
        // would read and rewrite again and again.
        let mut joining: Vec<&String> = members.difference(&current).collect();
        let mut leaving: Vec<&String> = current.difference(&members).collect();
        joining.sort_unstable();
        leaving.sort_unstable();
        let mut retag = TopicRetag::default();
        // The papers that stay get their new scores (or lose stale ones) first, and those that
        // join come with theirs: no feed read in between shows a stale score.
        self.write_scores(topic, scores.as_ref())?;
        for chunk in joining.chunks(SCAN_CHUNK) {
            retag.added += self.move_papers(topic, chunk, true, scores.as_ref())?;
        }
        for chunk in leaving.chunks(SCAN_CHUNK) {
            retag.removed += self.move_papers(topic, chunk, false, None)?;
        }
        // Last, so that a crash part way leaves the topic to be set again at the next start.
        let mut tagged = self.tagged_topics()?.unwrap_or_default();
        match fingerprint {
            Some(fingerprint) => tagged.insert(topic.to_string(), fingerprint.to_string()),
            None => tagged.remove(topic),
        };
        self.kv.commit(&[Op::Put(
            Tree::Meta,
            TAGGED_TOPICS.to_vec(),
            encode(Tree::Meta, TAGGED_TOPICS, &tagged)?,
        )])?;
        Ok(retag)
    }

    /// Makes the value of each of `topic`'s index entries its paper's relevance in `scores`
    /// (empty for a paper not in it, and for every paper when `scores` is `None`: a topic that
    /// lost its examples shows no stale scores), reading the topic's index only. Under the
    /// caller's write lock.
    fn write_scores(
        &self,
        topic: &str,
        scores: Option<&HashMap<String, Relevance>>,
    ) -> Result<usize, StoreError> {
        let mut writes = Writes::default();
        let mut changed = 0;
        self.for_each_topic_entry(topic, |position, value| {
            let key = paper_key_of(topic, position)?;
            let wanted: &[u8] = &scores
                .and_then(|s| s.get(key))
                .map_or_else(Vec::new, |score| score.to_bytes().to_vec());
            if value != wanted {
                let at = writes.postings.raw_position(position);
                writes.postings.put(topic, at, wanted.to_vec());
                changed += 1;
            }
            Ok(())
        })?;
        self.commit_writes(writes)?;
        Ok(changed)
    }

    /// Adds `topic` to (or removes it from) the papers with these keys, in one commit, through
    /// their membership records (no paper is written, and only one in no topic is read, for
    /// its date), a joining paper with its
    /// relevance in `scores`. Returns how many changed; a key with no stored paper is skipped.
    fn move_papers(
        &self,
        topic: &str,
        keys: &[&String],
        join: bool,
        scores: Option<&HashMap<String, Relevance>>,
    ) -> Result<usize, StoreError> {
        let mut writes = Writes::default();
        let mut moved = 0;
        // Reads spread over the cores; the writes go in one commit.
        let read = crate::in_parallel(keys, |part: &[&String]| {
            part.iter()
                .map(|key| self.membership_or_none(key))
                .collect()
        });
        for (key, membership) in keys.iter().zip(read) {
            let Some((date, before)) = membership? else {
                continue;
            };
            let mut after = before.clone();
            match (join, after.binary_search_by(|t| t.as_str().cmp(topic))) {
                (true, Err(at)) => after.insert(at, topic.to_string()),
                (false, Ok(at)) => {
                    after.remove(at);
                }
                _ => continue,
            }
            diff_topics(key, Some((date, &before)), (date, &after), &mut writes);
            if let Some(score) = scores.and_then(|s| s.get(key.as_str())).filter(|_| join) {
                relevance_ops(key, date, &[(topic.to_string(), *score)], &mut writes);
            }
            moved += 1;
        }
        self.commit_writes(writes)?;
        Ok(moved)
    }

    /// A paper's membership record, or, for a stored paper in no topic (which has none), its
    /// date with no topics; `None` when no paper is stored under `key`.
    fn membership_or_none(&self, key: &str) -> Result<Option<StoredMembership>, StoreError> {
        if let Some(membership) = self.membership(key)? {
            return Ok(Some(membership));
        }
        let Some(bytes) = self.kv.get(Tree::Papers, key.as_bytes())? else {
            return Ok(None);
        };
        let paper: StoredPaper = decode_paper(key.as_bytes(), &bytes)?;
        Ok(Some((paper.updated(), Vec::new())))
    }

    /// The keys of every paper in `topic`, from its index (no paper is read).
    fn topic_keys(&self, topic: &str) -> Result<HashSet<String>, StoreError> {
        let mut keys = HashSet::new();
        self.for_each_topic_entry(topic, |position, _| {
            keys.insert(paper_key_of(topic, position)?.to_string());
            Ok(())
        })?;
        Ok(keys)
    }
}

/// Decodes and tags a chunk of stored papers, spread over the machine's cores (decoding and
/// tagging are the CPU-bound part of re-tagging), in the chunk's order.
fn retag_rows(rows: &[Row], tagger: &Tagger) -> Vec<Result<(StoredPaper, Tags), StoreError>> {
    crate::in_parallel(rows, |part: &[Row]| {
        part.iter()
            .map(|(key, bytes)| {
                let paper: StoredPaper = decode_paper(key, bytes)?;
                let tagged = tagger.tag_scored(&paper.paper);
                Ok((paper, tagged))
            })
            .collect()
    })
}
