//! Which segments of the search index are merged: tantivy's log merge policy, with no merge
//! of more than [`MAX_MERGE_DOCS`] documents. A merge reads every segment it merges through
//! memory maps, which count as the process's resident memory while it runs: merging eight
//! segments of 40,000 papers held 190 MiB of index files resident at a million papers, above
//! what the memory budget leaves for it. Bounded, an index of 3 million papers ends as some
//! twenty segments of up to [`MAX_MERGE_DOCS`], which a search reads one after another.

use std::collections::HashMap;

use tantivy::index::{SegmentId, SegmentMeta};
use tantivy::indexer::{LogMergePolicy, MergeCandidate, MergePolicy};

/// The most documents one merge takes in (about 390 bytes of index files each).
pub(super) const MAX_MERGE_DOCS: u32 = 150_000;

/// The share of a segment's documents that may be deleted (replaced by newer versions) before
/// the segment is merged to drop them.
const DELETED_BEFORE_MERGE: f32 = 0.2;

/// tantivy's log merge policy, each of its merges cut to at most `max_docs` documents.
#[derive(Debug)]
pub(super) struct BoundedMerges {
    log: LogMergePolicy,
    max_docs: u32,
}

impl BoundedMerges {
    /// Merges of at most `max_docs` documents.
    pub(super) fn new(max_docs: u32) -> Self {
        let mut log = LogMergePolicy::default();
        // Every new version of a paper deletes its old document; tantivy's default merges
        // never purge deletes alone, so an index re-fed the same papers grew without bound.
        log.set_del_docs_ratio_before_merge(DELETED_BEFORE_MERGE);
        BoundedMerges { log, max_docs }
    }
}

impl MergePolicy for BoundedMerges {
    fn compute_merge_candidates(&self, segments: &[SegmentMeta]) -> Vec<MergeCandidate> {
        let by_id: HashMap<SegmentId, &SegmentMeta> =
            segments.iter().map(|s| (s.id(), s)).collect();
        self.log
            .compute_merge_candidates(segments)
            .into_iter()
            .filter_map(|MergeCandidate(ids)| {
                let mut metas: Vec<&SegmentMeta> =
                    ids.iter().filter_map(|id| by_id.get(id).copied()).collect();
                // The smallest first: the most segments fit.
                metas.sort_by_key(|s| s.num_docs());
                let mut docs = 0u32;
                let fit = metas
                    .iter()
                    .take_while(|s| {
                        docs = docs.saturating_add(s.num_docs());
                        docs <= self.max_docs
                    })
                    .count();
                if fit >= 2 {
                    return Some(MergeCandidate(
                        metas[..fit].iter().map(|s| s.id()).collect(),
                    ));
                }
                // Alone, a segment is worth merging only to drop its deleted documents, and
                // is, whatever its size: else an index of updated papers would grow.
                metas
                    .iter()
                    .find(|s| too_many_deleted(s))
                    .map(|s| MergeCandidate(vec![s.id()]))
            })
            .collect()
    }
}

/// Whether so many of a segment's documents are deleted that it is rewritten without them.
fn too_many_deleted(segment: &SegmentMeta) -> bool {
    let max = segment.max_doc();
    max > 0 && segment.num_deleted_docs() as f32 / max as f32 > DELETED_BEFORE_MERGE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(sizes: &[(u32, u32)]) -> Vec<SegmentMeta> {
        let index = tantivy::Index::create_in_ram(tantivy::schema::Schema::builder().build());
        sizes
            .iter()
            .map(|&(docs, deleted)| {
                let meta = index.new_segment_meta(SegmentId::generate_random(), docs);
                if deleted > 0 {
                    meta.with_delete_meta(deleted, 0)
                } else {
                    meta
                }
            })
            .collect()
    }

    fn merged_sizes(policy: &BoundedMerges, segments: &[SegmentMeta]) -> Vec<Vec<u32>> {
        let by_id: HashMap<SegmentId, u32> =
            segments.iter().map(|s| (s.id(), s.max_doc())).collect();
        policy
            .compute_merge_candidates(segments)
            .into_iter()
            .map(|MergeCandidate(ids)| {
                let mut sizes: Vec<u32> = ids.iter().map(|id| by_id[id]).collect();
                sizes.sort_unstable();
                sizes
            })
            .collect()
    }

    #[test]
    fn small_segments_merge_as_tantivy_would() {
        let policy = BoundedMerges::new(150_000);
        let eight = segments(&[(5_000, 0); 8]);
        assert_eq!(merged_sizes(&policy, &eight), vec![vec![5_000; 8]]);
        // Too few to merge: as tantivy's policy has it.
        assert!(merged_sizes(&policy, &segments(&[(5_000, 0); 3])).is_empty());
    }

    #[test]
    fn no_merge_takes_more_than_the_bound() {
        let policy = BoundedMerges::new(150_000);
        // Eight of 40,000: tantivy would merge all 320,000; three fit.
        let big = segments(&[(40_000, 0); 8]);
        assert_eq!(merged_sizes(&policy, &big), vec![vec![40_000; 3]]);
        // Segments at the bound merge no more.
        assert!(merged_sizes(&policy, &segments(&[(150_000, 0); 8])).is_empty());
    }

    #[test]
    fn a_segment_of_mostly_deleted_documents_is_still_rewritten() {
        let policy = BoundedMerges::new(150_000);
        let worn = segments(&[(400_000, 200_000)]);
        assert_eq!(merged_sizes(&policy, &worn), vec![vec![400_000]]);
        assert!(merged_sizes(&policy, &segments(&[(400_000, 1_000)])).is_empty());
    }
}
