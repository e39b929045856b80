//! `[store]`: where the sled database lives, and how much memory its cache may take.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::validate::Problem;

/// Where the store lives when the config does not say (relative to the config file's folder).
pub const DEFAULT_STORE_PATH: &str = "data/paperboy.sled";
/// `store.cache_mib` when the config does not say.
pub const DEFAULT_CACHE_MIB: u64 = 64;
/// The smallest and largest `store.cache_mib`.
pub const CACHE_MIB_RANGE: std::ops::RangeInclusive<u64> = 8..=65_536;

/// Where paperboy keeps its papers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The sled database folder, resolved against the config file's folder.
    pub path: PathBuf,
    /// The most memory sled's page cache may hold, in bytes (`cache_mib`).
    pub cache_bytes: u64,
    /// Whether `paperboy ingest` and `serve` compact the store when it has grown well past its leanest
    /// size a paper (`auto_compact`, default true; see `crate::store::judge`).
    pub auto_compact: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    path: Option<String>,
    cache_mib: Option<u64>,
    auto_compact: Option<bool>,
}

pub(super) fn validate(
    raw: Option<RawStore>,
    base_dir: &Path,
    problems: &mut Vec<Problem>,
) -> StoreConfig {
    let (path, cache_mib, auto_compact) = raw.map_or((None, None, None), |s| {
        (s.path, s.cache_mib, s.auto_compact)
    });
    let path = path.unwrap_or_else(|| DEFAULT_STORE_PATH.to_string());
    let cache_mib = match cache_mib {
        None => DEFAULT_CACHE_MIB,
        Some(mib) if CACHE_MIB_RANGE.contains(&mib) => mib,
        Some(mib) => {
            problems.push(Problem::new(
                "store.cache_mib",
                format!(
                    "{mib} is not between {} and {}",
                    CACHE_MIB_RANGE.start(),
                    CACHE_MIB_RANGE.end()
                ),
            ));
            DEFAULT_CACHE_MIB
        }
    };
    if path.trim().is_empty() {
        problems.push(Problem::new(
            "store.path",
            "is empty; name a folder for the database",
        ));
    }
    StoreConfig {
        path: base_dir.join(path),
        cache_bytes: cache_mib << 20,
        auto_compact: auto_compact.unwrap_or(true),
    }
}
