//! Where the search index's files are read from: tantivy's memory-mapped directory, except
//! that posting lists and positions (`.idx` and `.pos` files) are read with positioned reads
//! into buffers of their own size.
//!
//! A query reads a posting list whole (tantivy asks for each term's byte range at once), so a
//! mapped posting file gains nothing over a read, and costs much: every list a query touches,
//! in every segment, maps in the pages around it (the kernel's fault-around and read-ahead),
//! and those pages stay resident for as long as the segment is open. Scoring a topic learned
//! from examples again looks up the lists of its profile's words (148 of them at a million
//! generated papers) in every segment: on three million papers the
//! index files it mapped reached 268 MiB, over the memory budget (at a million, 67 of its 94
//! MiB were posting files). Read, a list takes its own bytes
//! while it is in use and the file's pages stay in the kernel's page cache, shared and given
//! back under pressure, as a database's files are. Term dictionaries, stored documents, fast
//! fields and norms stay mapped: they are read piecemeal, by offset, where mapping pays. Only
//! searches use this directory; the writer, whose merges read every list in turn, maps them
//! all (`Postings` in the module above).

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tantivy::directory::error::{
    DeleteError, LockError, OpenDirectoryError, OpenReadError, OpenWriteError,
};
use tantivy::directory::{
    Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, OwnedBytes, WatchCallback,
    WatchHandle, WritePtr,
};
use tantivy::HasLen;

/// The kinds of segment file read rather than mapped: postings and positions.
const READ_NOT_MAPPED: [&str; 2] = ["idx", "pos"];

/// The index's directory: an [`MmapDirectory`] that reads posting and position files.
#[derive(Debug, Clone)]
pub(crate) struct IndexDirectory {
    root: PathBuf,
    mapped: MmapDirectory,
}

impl IndexDirectory {
    /// The directory at `root`, which must exist.
    pub(crate) fn open(root: &Path) -> Result<Self, OpenDirectoryError> {
        Ok(IndexDirectory {
            root: root.to_path_buf(),
            mapped: MmapDirectory::open(root)?,
        })
    }
}

/// One file, read by offset as tantivy asks. (tantivy-common's `WrapFile` does the same but
/// refuses an empty range, which a term without positions asks for.)
#[derive(Debug)]
struct ReadFile {
    file: File,
    len: usize,
    path: PathBuf,
}

impl HasLen for ReadFile {
    fn len(&self) -> usize {
        self.len
    }
}

impl FileHandle for ReadFile {
    fn read_bytes(&self, range: Range<usize>) -> io::Result<OwnedBytes> {
        if range.is_empty() {
            return Ok(OwnedBytes::empty());
        }
        if range.end > self.len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "bytes {}..{} asked of {}, which holds {}",
                    range.start,
                    range.end,
                    self.path.display(),
                    self.len
                ),
            ));
        }
        let mut bytes = vec![0; range.len()];
        self.file.read_exact_at(&mut bytes, range.start as u64)?;
        Ok(OwnedBytes::new(bytes))
    }
}

impl Directory for IndexDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        let read = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| READ_NOT_MAPPED.contains(&e));
        if !read {
            let handle = self.mapped.get_file_handle(path);
            // The mapped directory forgets a file it no longer maps only when it deletes one
            // or is asked this; the writer deletes through a directory of its own.
            let _ = self.mapped.get_cache_info();
            return handle;
        }
        let full = self.root.join(path);
        let wrap = |e: io::Error| {
            if e.kind() == io::ErrorKind::NotFound {
                OpenReadError::FileDoesNotExist(path.to_path_buf())
            } else {
                OpenReadError::wrap_io_error(e, full.clone())
            }
        };
        let file = File::open(&full).map_err(wrap)?;
        let len = file.metadata().map_err(wrap)?.len() as usize;
        Ok(Arc::new(ReadFile {
            file,
            len,
            path: full.clone(),
        }))
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.mapped.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.mapped.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        self.mapped.open_write(path)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.mapped.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.mapped.atomic_write(path, data)
    }

    fn sync_directory(&self) -> io::Result<()> {
        self.mapped.sync_directory()
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.mapped.acquire_lock(lock)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.mapped.watch(watch_callback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posting_files_are_read_and_the_rest_mapped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.idx"), b"postings").unwrap();
        std::fs::write(dir.path().join("s.term"), b"terms").unwrap();
        let directory = IndexDirectory::open(dir.path()).unwrap();
        let idx = directory.get_file_handle(Path::new("s.idx")).unwrap();
        assert_eq!(idx.len(), 8);
        assert_eq!(idx.read_bytes(2..6).unwrap().as_slice(), b"stin");
        assert!(idx.read_bytes(3..3).unwrap().as_slice().is_empty());
        let past = idx.read_bytes(4..9).unwrap_err().to_string();
        assert!(past.contains("s.idx") && past.contains("holds 8"), "{past}");
        let term = directory.get_file_handle(Path::new("s.term")).unwrap();
        assert_eq!(term.read_bytes(0..5).unwrap().as_slice(), b"terms");
        // The process maps the term file, not the postings.
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let mapped = |name: &str| {
            let path = dir.path().join(name);
            maps.lines().any(|l| l.ends_with(path.to_str().unwrap()))
        };
        assert!(mapped("s.term"), "{maps}");
        assert!(!mapped("s.idx"), "{maps}");
        assert!(matches!(
            directory.get_file_handle(Path::new("gone.pos")),
            Err(OpenReadError::FileDoesNotExist(_))
        ));
    }
}
