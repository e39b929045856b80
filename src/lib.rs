//! paperboy: turns the daily flood of new research papers into one feed per research topic.
//!
//! The pipeline runs one way: config → fetch (IO) → parse + normalize (pure) → identify +
//! merge (pure) → tag (pure) → store (IO) → query → render (pure) → serve (IO). The pure core
//! lives in [`pipeline`] and [`sources`]; IO is in [`fetch`], [`store`], [`ingest`] and
//! [`server`].

pub mod config;
pub mod examples;
pub mod fetch;
pub mod index;
pub mod ingest;
pub mod inspect;
pub mod live;
pub mod model;
pub mod pipeline;
pub mod polling;
pub mod progress;
pub mod selfcheck;
pub mod server;
pub mod sources;
pub mod store;
pub mod websub;

/// Threads each core may give to blocking work (store reads and writes, parsing, rendering),
/// on every runtime: the async runtime of `ingest` and `serve` has this many per core, each
/// serving core's runtime this many of its own. tokio's default is 512 a runtime, and it
/// starts a thread whenever every other is busy; each thread keeps an allocator heap of its
/// own, whose freed memory no other thread reuses. Serving every feed of 10,000 topics
/// started 23 such threads and peaked at 618 MiB resident; with this bound, 493 MiB
/// (`benches/topics.sh`). The work is CPU-bound: more threads than this would not be faster.
pub const BLOCKING_THREADS_PER_CORE: usize = 2;

/// The cores this process may run on (1 when the system cannot say): what the thread pools,
/// the render slots and the bound on parsed batches are sized by.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// `work` over `items` split across the machine's cores (up to 8), the results in the items'
/// order; one thread for a few items. Decoding and tagging (re-tags, batches), applying a
/// journal's writes and training topics from examples are spread this way.
pub(crate) fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&[T]) -> Vec<R> + Sync,
) -> Vec<R> {
    let threads = crate::cores().min(8);
    if threads < 2 || items.len() < 64 {
        return work(items);
    }
    let size = items.len().div_ceil(threads);
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(size)
            .map(|part| scope.spawn(move || work(part)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// Threads for blocking work on a runtime that serves every core: at least 4, so that a
/// long task (a search index rebuild) leaves others to run.
pub fn blocking_threads() -> usize {
    (BLOCKING_THREADS_PER_CORE * cores()).max(4)
}
