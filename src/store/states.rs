//! Every source's state as last committed, copied to a file beside the store
//! (`<store>.sources.json`) by the process that holds the store: sled lets one process open a
//! store, so `paperboy status` run beside a `serve` or an `ingest` (a long harvest, above all)
//! reads this copy instead. Written after each commit of a state, to a temporary file renamed
//! over the last, so a reader sees one whole copy or the one before; a copy that cannot be
//! written only warns (the store is the record).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::model::{PollResult, SourceState};
use crate::pipeline::redact;

/// The copy of the source states, as written beside the store.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// The process that wrote it.
    pub pid: u32,
    /// When it was written.
    pub written: DateTime<Utc>,
    /// Every source the store has a state for, by id.
    pub sources: BTreeMap<String, SourceState>,
}

/// Why the copy beside a store could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// No copy: no process has written a state since this store began keeping one.
    #[error("{path} does not exist")]
    Missing {
        /// The file.
        path: String,
    },
    /// The file could not be read.
    #[error("{path}: {reason}")]
    Unreadable {
        /// The file.
        path: String,
        /// What reading it said.
        reason: String,
    },
    /// The file is not a copy of source states.
    #[error("{path} is not a copy of the sources' states: {reason}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Where the copy of the source states of the store at `store` is kept.
pub fn path_for(store: &Path) -> PathBuf {
    super::compact::beside(store, "sources.json")
}

/// What the copy keeps of a source's state: what `status` shows, with the credentials a URL
/// may carry taken out of every URL in it (an error that quotes the source's URL or a page's,
/// a redirect's target, a harvest's next page), as `status` and the pages show them.
/// Validators and the URL they belong to stay in the store alone.
pub(super) fn shown(mut state: SourceState) -> SourceState {
    let source_url = state.url.take();
    if let Some(PollResult::Failed { error }) = &mut state.last_result {
        let quoted = match &source_url {
            Some(url) => redact::in_text(error, url).into_owned(),
            None => error.clone(),
        };
        *error = redact::every_url(&quoted).into_owned();
    }
    state.moved_to = state.moved_to.map(|to| redact::url(&to).into_owned());
    if let Some(harvest) = &mut state.harvest {
        harvest.next = harvest
            .next
            .take()
            .map(|next| redact::url(&next).into_owned());
    }
    state.etag = None;
    state.last_modified = None;
    state
}

/// Writes `snapshot` to `file` whole: to a temporary file beside it, then renamed over it.
pub(super) fn write(file: &Path, snapshot: &Snapshot) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(snapshot).map_err(std::io::Error::other)?;
    let temporary = super::compact::beside(file, "new");
    // Readable by its owner alone, as the store's files are meant to be.
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    std::io::Write::write_all(&mut open.open(&temporary)?, &text)?;
    std::fs::rename(&temporary, file)
}

/// The copy of the source states beside the store at `store`.
pub fn read(store: &Path) -> Result<Snapshot, SnapshotError> {
    let file = path_for(store);
    let path = file.display().to_string();
    let bytes = match std::fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SnapshotError::Missing { path })
        }
        Err(e) => {
            return Err(SnapshotError::Unreadable {
                path,
                reason: e.to_string(),
            })
        }
    };
    serde_json::from_slice(&bytes).map_err(|e| SnapshotError::Corrupt {
        path,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        let state = SourceState {
            last_result: Some(PollResult::Stored {
                new: 3,
                updated: 1,
                unchanged: 2,
            }),
            failures_in_row: 1,
            ..SourceState::default()
        };
        Snapshot {
            pid: 42,
            written: "2026-12-04T23:00:00Z".parse().unwrap(),
            sources: BTreeMap::from([("arxiv".to_string(), state)]),
        }
    }

    #[test]
    fn a_written_copy_reads_back_whole_and_replaces_the_one_before() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("s.sled");
        let mut first = snapshot();
        write(&path_for(&store), &first).unwrap();
        assert_eq!(read(&store).unwrap(), first);
        first.pid = 43;
        first.sources.clear();
        write(&path_for(&store), &first).unwrap();
        assert_eq!(read(&store).unwrap(), first);
        // Nothing but the copy is left beside the store.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["s.sled.sources.json"]);
    }

    #[test]
    fn a_missing_or_damaged_copy_says_which_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("s.sled");
        let missing = read(&store).unwrap_err();
        assert!(
            matches!(missing, SnapshotError::Missing { .. }),
            "{missing}"
        );
        assert!(
            missing.to_string().contains("s.sled.sources.json"),
            "{missing}"
        );
        std::fs::write(path_for(&store), b"{\"pid\": 1, \"sour").unwrap();
        let corrupt = read(&store).unwrap_err();
        assert!(
            matches!(corrupt, SnapshotError::Corrupt { .. }),
            "{corrupt}"
        );
        assert!(
            corrupt.to_string().contains("s.sled.sources.json"),
            "{corrupt}"
        );
    }
}
