//! How records and keys are encoded: JSON records (paper records compressed with zstd), topic
//! index keys whose byte order is time order, big-endian counts, and the named keys of the
//! `meta` tree. Pure.

use chrono::{DateTime, Utc};

use super::kv::{StoreError, Tree};

/// The layout version of the store this paperboy writes and reads. Version 2 keeps each
/// paper's topics in the `memberships` tree rather than in the paper's record; version 3 keeps
/// each topic's index as posting records of many papers ([`super::postings`]) rather than one
/// entry per paper. Version 4 writes no alias record for a paper's own key and no membership
/// record for a paper in no topic (a version 3 store's are still read, and say the same; an
/// older paperboy would miss what they no longer say, hence the new version).
pub const SCHEMA_VERSION: u32 = 4;
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
/// The meta key holding the store's size and paper count at its leanest (JSON,
/// [`super::Baseline`]), against which `paperboy ingest` judges its growth.
pub(super) const COMPACTED: &[u8] = b"compacted";
/// How many papers a scan of the whole store (re-tagging, `for_each_paper`) reads at once.
pub(super) const SCAN_CHUNK: usize = 1000;

pub(super) fn index_prefix(topic: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(topic.len() + 1);
    key.extend_from_slice(topic.as_bytes());
    key.push(0);
    key
}

/// A date as 8 bytes whose byte order is time order.
pub(super) fn ordered_millis(date: DateTime<Utc>) -> [u8; 8] {
    ((date.timestamp_millis() as u64) ^ (1 << 63)).to_be_bytes()
}

/// A paper's membership record: the date its index entries are filed under (as in
/// [`index_key`]), then its topics, one per line (topic ids never hold a newline).
pub(super) fn encode_membership(date: DateTime<Utc>, topics: &[String]) -> Vec<u8> {
    let mut bytes = ordered_millis(date).to_vec();
    bytes.extend_from_slice(topics.join("\n").as_bytes());
    bytes
}

/// A paper's membership as stored: the date its index entries are filed under, and its topics.
pub(super) type StoredMembership = (DateTime<Utc>, Vec<String>);

/// The date and topics of a membership record, or an error naming it.
pub(super) fn decode_membership(key: &[u8], bytes: &[u8]) -> Result<StoredMembership, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        tree: Tree::Memberships.name(),
        key: String::from_utf8_lossy(key).into_owned(),
        reason: reason.to_string(),
    };
    let (millis, topics) = bytes
        .split_at_checked(8)
        .ok_or_else(|| corrupt("shorter than a date"))?;
    let millis = u64::from_be_bytes(millis.try_into().map_err(|_| corrupt("no date"))?);
    let date = DateTime::from_timestamp_millis((millis ^ (1 << 63)) as i64)
        .ok_or_else(|| corrupt("a date out of range"))?;
    let topics = std::str::from_utf8(topics).map_err(|_| corrupt("topics not UTF-8"))?;
    let topics = if topics.is_empty() {
        Vec::new()
    } else {
        topics.split('\n').map(str::to_string).collect()
    };
    Ok((date, topics))
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

/// The first bytes of a zstd frame: a paper record that starts with them is compressed; one
/// that does not is plain JSON (as stores before compression wrote them, which stay readable).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// zstd's level for paper records (zstd's default: every ingested paper is compressed).
const PAPER_LEVEL: i32 = 3;
/// The largest record a paper may decompress to (a frame that claims more is corrupt, not a
/// reason to allocate it).
const MAX_PAPER_BYTES: u64 = 16 << 20;
/// What every paper record shares, given to zstd as a raw-content dictionary: a record's field
/// names, link prefixes and media types. A lone record of 2 KB compresses far better when
/// these need not be spelled out in it. The frames it makes carry no dictionary id, so this
/// text must never change: a new dictionary needs a new magic of its own.
const PAPER_DICTIONARY: &[u8] = concat!(
    r#"{"key":"arxiv:","entry_id":"https://arxiv.org/abs/","first_seen":"2026-01-01T00:00:00.000000000Z","#,
    r#""aliases":["arxiv:","doi:10.","entry:arxiv:oai:arXiv.org:","entry:https://","url:https://"],"#,
    r#""paper":{"ids":{"arxiv":"","doi":"10.","link":"https://","entry":"arxiv:oai:arXiv.org:"},"version":1,"#,
    r#""title":"","authors":[{"name":""},{"name":"","affiliation":""}],"abstract":"","#,
    r#""links":[{"kind":"page","href":"https://arxiv.org/abs/","media_type":"text/html"},"#,
    r#"{"kind":"pdf","href":"https://arxiv.org/pdf/","media_type":"application/pdf"},"#,
    r#"{"kind":"doi","href":"https://doi.org/10."},{"kind":"code","href":"https://github.com/"},"#,
    r#"{"kind":"project","href":"https://huggingface.co/papers/"}],"#,
    r#""categories":["cs.LG","cs.AI","cs.CL","cs.CV","stat.ML","math.","physics.","quant-ph","cond-mat.","#,
    r#""hep-th","astro-ph.","q-bio.","eess."],"primary_category":"cs.","author_rank":1,"#,
    r#""comment":" pages, figures","journal_ref":"","announce_type":"new","upvotes":0,"#,
    r#""discussion_comments":0,"stars":0,"published":"2026-01-01T00:00:00Z","#,
    r#""updated":"2026-01-01T00:00:00Z","sources":["arxiv"]}}"#
)
.as_bytes();

thread_local! {
    static PAPER_COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
    static PAPER_DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `work` with this thread's codec in `cell`, made by `make` on first use (a codec
/// primed with the dictionary is reused rather than made again for every record).
fn with_codec<C, T>(
    cell: &'static std::thread::LocalKey<std::cell::RefCell<Option<C>>>,
    make: impl FnOnce() -> std::io::Result<C>,
    work: impl FnOnce(&mut C) -> std::io::Result<T>,
) -> std::io::Result<T> {
    cell.with(|cell| {
        let mut slot = cell.borrow_mut();
        let codec = match &mut *slot {
            Some(codec) => codec,
            empty => empty.insert(make()?),
        };
        work(codec)
    })
}

/// A paper's record as stored: its JSON, compressed with zstd and [`PAPER_DICTIONARY`].
pub(super) fn encode_paper<T: serde::Serialize>(
    key: &[u8],
    paper: &T,
) -> Result<Vec<u8>, StoreError> {
    let json = encode(Tree::Papers, key, paper)?;
    let failed = |reason: String| StoreError::Encode {
        tree: Tree::Papers.name(),
        key: String::from_utf8_lossy(key).into_owned(),
        reason,
    };
    with_codec(
        &PAPER_COMPRESSOR,
        || zstd::bulk::Compressor::with_dictionary(PAPER_LEVEL, PAPER_DICTIONARY),
        |compressor| compressor.compress(&json),
    )
    .map_err(|e| failed(format!("zstd: {e}")))
}

/// A paper's record as [`encode_paper`] wrote it, or as plain JSON from before compression.
pub(super) fn decode_paper<T: serde::de::DeserializeOwned>(
    key: &[u8],
    bytes: &[u8],
) -> Result<T, StoreError> {
    if !bytes.starts_with(&ZSTD_MAGIC) {
        return decode(Tree::Papers, key, bytes);
    }
    let corrupt = |reason: String| StoreError::Corrupt {
        tree: Tree::Papers.name(),
        key: String::from_utf8_lossy(key).into_owned(),
        reason,
    };
    let size = match zstd::zstd_safe::get_frame_content_size(bytes) {
        Ok(Some(size)) if size <= MAX_PAPER_BYTES => size as usize,
        Ok(Some(size)) => {
            return Err(corrupt(format!(
                "a compressed record claiming {size} bytes"
            )))
        }
        _ => return Err(corrupt("a compressed record without its size".into())),
    };
    let json = with_codec(
        &PAPER_DECOMPRESSOR,
        || zstd::bulk::Decompressor::with_dictionary(PAPER_DICTIONARY),
        |decompressor| decompressor.decompress(bytes, size),
    )
    .map_err(|e| corrupt(format!("zstd: {e}")))?;
    decode(Tree::Papers, key, &json)
}

/// The first byte of a change record that lists several papers; a record without it is one
/// paper's key (as stores before per-batch change records wrote them; keys never start with
/// a zero byte).
const CHANGED_LIST: u8 = 0;

/// A change record: the keys of the papers one batch wrote or removed, each as a big-endian
/// u32 length and its bytes.
pub(super) fn encode_changed(keys: &[String]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1 + keys.iter().map(|k| k.len() + 4).sum::<usize>());
    bytes.push(CHANGED_LIST);
    for key in keys {
        bytes.extend_from_slice(&(key.len() as u32).to_be_bytes());
        bytes.extend_from_slice(key.as_bytes());
    }
    bytes
}

/// The keys of change record `number`, or an error naming it.
pub(super) fn decode_changed(number: u64, bytes: &[u8]) -> Result<Vec<String>, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        tree: Tree::Changes.name(),
        key: number.to_string(),
        reason,
    };
    let text = |bytes: &[u8]| {
        String::from_utf8(bytes.to_vec()).map_err(|e| corrupt(format!("a key not UTF-8: {e}")))
    };
    let Some((&CHANGED_LIST, mut rest)) = bytes.split_first() else {
        return Ok(vec![text(bytes)?]);
    };
    let mut keys = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_at_checked(4)
            .ok_or_else(|| corrupt("a key's length cut short".into()))?;
        let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
        let (key, tail) = tail
            .split_at_checked(len)
            .ok_or_else(|| corrupt(format!("a key of {len} bytes cut short")))?;
        keys.push(text(key)?);
        rest = tail;
    }
    Ok(keys)
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
    fn paper_records_are_compressed_and_plain_json_records_still_read() {
        let record = serde_json::json!({
            "key": "arxiv:2604.21952",
            "paper": {"title": "Focus Session", "abstract": "This work presents a multi-layered \
                methodology for efficiently accelerating multimodal foundation models. ".repeat(8)},
        });
        let json = serde_json::to_vec(&record).unwrap();
        let bytes = encode_paper(b"k", &record).unwrap();
        assert!(bytes.starts_with(&ZSTD_MAGIC));
        assert!(
            bytes.len() * 3 < json.len(),
            "{} of {} bytes",
            bytes.len(),
            json.len()
        );
        let back: serde_json::Value = decode_paper(b"k", &bytes).unwrap();
        assert_eq!(back, record);
        // A store written before compression holds plain JSON.
        let back: serde_json::Value = decode_paper(b"k", &json).unwrap();
        assert_eq!(back, record);
    }

    #[test]
    fn a_damaged_compressed_record_is_an_error_naming_it() {
        let record = serde_json::json!({"title": "a paper"});
        let mut bytes = encode_paper(b"k", &record).unwrap();
        let cut = bytes[..bytes.len() - 3].to_vec();
        let err = decode_paper::<serde_json::Value>(b"arxiv:1", &cut).unwrap_err();
        assert!(
            err.to_string().contains("tree papers, key \"arxiv:1\""),
            "{err}"
        );
        // A frame header claiming far more than any record.
        bytes.truncate(4);
        bytes.extend_from_slice(&[0xc0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
        let err = decode_paper::<serde_json::Value>(b"arxiv:1", &bytes).unwrap_err();
        assert!(err.to_string().contains("corrupt record"), "{err}");
        assert!(decode_paper::<serde_json::Value>(b"k", &ZSTD_MAGIC).is_err());
    }

    #[test]
    fn change_records_list_a_batch_and_read_the_one_key_records_of_older_stores() {
        let keys = vec!["arxiv:2604.21952".to_string(), "doi:10.1/x\ny".to_string()];
        assert_eq!(decode_changed(1, &encode_changed(&keys)).unwrap(), keys);
        assert_eq!(decode_changed(1, b"arxiv:1").unwrap(), vec!["arxiv:1"]);
        let mut cut = encode_changed(&keys);
        cut.pop();
        let err = decode_changed(7, &cut).unwrap_err();
        assert!(err.to_string().contains("tree changes, key \"7\""), "{err}");
    }

    #[test]
    fn membership_records_round_trip() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        for topics in [vec![], vec!["a".to_string(), "b-2".to_string()]] {
            let bytes = encode_membership(at, &topics);
            assert_eq!(decode_membership(b"k", &bytes).unwrap(), (at, topics));
        }
        assert!(decode_membership(b"k", b"short").is_err());
    }

    #[test]
    fn dates_sort_by_time() {
        let at = |s| DateTime::from_timestamp(s, 0).unwrap();
        assert!(ordered_millis(at(-5)) < ordered_millis(at(5)));
        assert!(ordered_millis(at(5)) < ordered_millis(at(6)));
    }
}
