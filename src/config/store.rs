//! `[store]`: where the sled database lives.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::validate::Problem;

/// Where the store lives when the config does not say (relative to the config file's folder).
pub const DEFAULT_STORE_PATH: &str = "data/paperboy.sled";

/// Where paperboy keeps its papers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The sled database folder, resolved against the config file's folder.
    pub path: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    path: Option<String>,
}

pub(super) fn validate(
    raw: Option<RawStore>,
    base_dir: &Path,
    problems: &mut Vec<Problem>,
) -> StoreConfig {
    let path = raw
        .and_then(|s| s.path)
        .unwrap_or_else(|| DEFAULT_STORE_PATH.to_string());
    if path.trim().is_empty() {
        problems.push(Problem::new(
            "store.path",
            "is empty; name a folder for the database",
        ));
    }
    StoreConfig {
        path: base_dir.join(path),
    }
}
