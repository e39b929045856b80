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

/// Threads for blocking work on a runtime that serves every core: at least 4, so that a
/// long task (a search index rebuild) leaves others to run.
pub fn blocking_threads() -> usize {
    (BLOCKING_THREADS_PER_CORE * cores()).max(4)
}
