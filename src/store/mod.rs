//! Storage, in four parts: `kv` (the [`Store`] trait, an ordered key-value store with atomic
//! multi-key commits, and [`StoreError`]) with its sled and in-memory implementations; `keys`
//! (how records and keys are encoded); `plan` (what a batch will write); and `papers`
//! ([`PaperStore`], the typed layer that keeps papers, their aliases, per-topic indexes and
//! per-source state consistent).
//!
//! Layout (one tree each):
//! - `papers`: paper key → JSON [`StoredPaper`]
//! - `aliases`: every identifier a paper is known by (`arxiv:…`, `doi:…`, `url:…`,
//!   `entry:…`) → paper key
//! - `topic_index`: `topic \0 updated-millis(BE, order-preserving) paper-key` → empty, so the
//!   newest N papers of a topic are one reverse range scan, whatever the store's size
//! - `topic_counts`: topic → paper count (u64 BE)
//! - `sources`: source id → JSON [`SourceState`]
//! - `meta`: named values (the fingerprint of the topics the index was built for)

mod keys;
mod kv;
mod memory;
mod papers;
mod plan;
mod sled_store;

pub use keys::SCHEMA_VERSION;
pub use kv::{BackendError, Op, Row, Store, StoreError, Tree};
pub use memory::MemoryStore;
pub use papers::{BatchCounts, PaperStore};
pub use sled_store::SledStore;

#[cfg(test)]
mod tests;
