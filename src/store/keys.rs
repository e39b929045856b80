//! How records and keys are encoded: JSON records, topic index keys whose byte order is time
//! order, big-endian counts, and the named keys of the `meta` tree. Pure.

use chrono::{DateTime, Utc};

use super::kv::{StoreError, Tree};

/// The layout version of the store this paperboy writes and reads.
pub const SCHEMA_VERSION: u32 = 1;
/// The meta key holding the store's schema version.
pub(super) const SCHEMA_VERSION_KEY: &[u8] = b"schema_version";
/// The meta key of the single fingerprint of all topics that stores before per-topic
/// fingerprints kept; removed when the store is next tagged.
pub(super) const TOPICS_FINGERPRINT: &[u8] = b"topics_fingerprint";
/// The meta key holding the fingerprint of each topic the stored papers are tagged for (JSON,
/// topic id → fingerprint).
pub(super) const TAGGED_TOPICS: &[u8] = b"tagged_topics";
/// The meta key holding the number of the last change recorded in the `changes` tree.
pub(super) const LAST_CHANGE: &[u8] = b"last_change";
/// How many papers a scan of the whole store (re-tagging, `for_each_paper`) reads at once.
pub(super) const SCAN_CHUNK: usize = 1000;

pub(super) fn index_prefix(topic: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(topic.len() + 1);
    key.extend_from_slice(topic.as_bytes());
    key.push(0);
    key
}

/// `topic \0 millis paper-key`, with the millis encoded so byte order is time order.
pub(super) fn index_key(topic: &str, date: DateTime<Utc>, paper_key: &str) -> Vec<u8> {
    let mut key = index_prefix(topic);
    let millis = (date.timestamp_millis() as u64) ^ (1 << 63);
    key.extend_from_slice(&millis.to_be_bytes());
    key.extend_from_slice(paper_key.as_bytes());
    key
}

/// A record as stored, in JSON. Records are plain data (strings, numbers, dates), which JSON
/// always encodes; should one ever fail, the write fails with an error naming it rather than
/// storing empty bytes.
pub(super) fn encode<T: serde::Serialize>(
    tree: Tree,
    key: &[u8],
    value: &T,
) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Encode {
        tree: tree.name(),
        key: String::from_utf8_lossy(key).into_owned(),
        reason: e.to_string(),
    })
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(
    tree: Tree,
    key: &[u8],
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        tree: tree.name(),
        key: String::from_utf8_lossy(key).into_owned(),
        reason: e.to_string(),
    })
}

/// A big-endian u64 (a change number), or an error naming the record.
pub(super) fn decode_u64(tree: Tree, key: &[u8], bytes: &[u8]) -> Result<u64, StoreError> {
    bytes
        .try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt {
            tree: tree.name(),
            key: String::from_utf8_lossy(key).into_owned(),
            reason: format!("{} bytes, not a 64-bit number", bytes.len()),
        })
}

pub(super) fn decode_count(bytes: &[u8]) -> u64 {
    bytes.try_into().map_or(0, u64::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unencodable_record_is_an_error_not_empty_bytes() {
        // JSON object keys must be strings; a map keyed by pairs cannot be written.
        let record: std::collections::BTreeMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let err = encode(Tree::Papers, b"k", &record).expect_err("not encodable");
        assert!(err.to_string().contains("tree papers, key \"k\""), "{err}");
        assert_eq!(encode(Tree::Meta, b"k", &7u32).unwrap(), b"7");
    }

    #[test]
    fn index_keys_sort_by_time() {
        let at = |s| DateTime::from_timestamp(s, 0).unwrap();
        let before = index_key("t", at(-5), "b");
        let after = index_key("t", at(5), "a");
        assert!(before < after);
        assert!(before.starts_with(&index_prefix("t")));
    }
}
