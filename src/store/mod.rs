//! Storage, in six parts: `kv` (the [`Store`] trait, an ordered key-value store with atomic
//! multi-key commits, and [`StoreError`]) with its sled and in-memory implementations; `keys`
//! (how records and keys are encoded); `plan` (what a batch will write); `postings` (topics'
//! papers as posting records); and `papers`
//! ([`PaperStore`], the typed layer that keeps papers, their aliases, per-topic indexes and
//! per-source state consistent), with `retag` (setting topics' papers again when the topics
//! change), `compact` (rewriting the store with only its live records) and `states` (a copy of
//! the sources' states beside the store, for `status` while another process holds it).
//!
//! Layout (one tree each):
//! - `papers`: paper key → JSON [`StoredPaper`]
//! - `aliases`: every identifier a paper is known by (`arxiv:…`, `doi:…`, `url:…`,
//!   `entry:…`) → paper key
//! - `topic_index`: `topic \0 position` → a posting record of up to 64 of the topic's papers
//!   ([`postings`]), a position being a paper's updated-millis (BE, order-preserving) and key,
//!   so the newest N papers of a topic are a reverse range scan, whatever the store's size
//! - `memberships`: paper key → the date its `topic_index` entries are filed under and its
//!   topics, so a topic's papers change without reading or writing the papers
//! - `topic_counts`: topic → paper count (u64 BE)
//! - `sources`: source id → JSON [`SourceState`]
//! - `changes`: change number (u64 BE) → key of a paper written or removed, until the search
//!   index has taken it in
//! - `meta`: named values (schema version, last change number, the fingerprint of each topic
//!   the papers are tagged for)
//! - `subscriptions`: `feed URL \0 callback URL` → JSON WebSub [`Subscription`]
//!   ([`subscriptions`]), so pushes go on after a restart
//! - `journal`: the writes of a large commit while they are applied ([`journal`])

mod compact;
mod journal;
mod keys;
mod kv;
mod marks;
mod memory;
mod papers;
mod plan;
mod postings;
mod retag;
mod sled_store;
pub mod states;
mod subscriptions;

pub use compact::{compact, disk_bytes, judge, Baseline, Compacted, Judgement};
pub use keys::SCHEMA_VERSION;
pub use kv::{BackendError, Op, Row, Store, StoreError, Tree};
pub use memory::MemoryStore;
pub(crate) use papers::split_ranked_cursor;
pub use papers::{BatchCounts, Outgrown, PaperStore, Pretagged, Written, WrittenPaper};
pub use retag::TopicRetag;
pub use sled_store::SledStore;

#[cfg(test)]
mod tests;
