//! The `paperboy` command line: parses arguments, runs a command from the library, and maps
//! errors to exit codes. No logic of its own.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use paperboy::config::{Config, ConfigError, DEFAULT_CONFIG_PATH};
use paperboy::fetch::Fetcher;
use paperboy::index::{self, SearchIndex};
use paperboy::ingest::{Ingestor, Retagged};
use paperboy::inspect;
use paperboy::pipeline::query::Query;
use paperboy::server;
use paperboy::store::{PaperStore, StoreError};

/// Exit codes scripts can rely on.
#[repr(u8)]
enum Exit {
    Ok = 0,
    /// Something at run time failed (the store, the listening socket).
    Failure = 1,
    /// The config is missing or invalid.
    Config = 2,
}

#[derive(Parser)]
#[command(
    name = "paperboy",
    version,
    about = "One feed per research topic, from many paper sources"
)]
struct Cli {
    /// The config file.
    #[arg(long, global = true, env = "PAPERBOY_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the config and print every problem.
    Check,
    /// Fetch every source once, store and tag what is new, print one line per source.
    Ingest,
    /// Serve the topic feeds and poll the sources in the background.
    Serve {
        /// Listen here instead of `server.listen`.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// List the stored papers a query matches, newest first, with the total count.
    Search {
        /// A query in the topic language, e.g. 'ti:diffusion AND cat:cs.*'.
        query: String,
        /// How many papers to list.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print only the number of matching papers.
        #[arg(long)]
        count: bool,
    },
    /// Print each source's state: last fetch and result, next poll, failures, redirects.
    Status,
    /// Rebuild the search index from the store, from scratch.
    Reindex,
    /// Rewrite the store with only its live records, giving back the disk that rewritten and
    /// removed records still take (stop `serve` first: it holds the store).
    Compact,
    /// List the stored papers most like one paper (by the words of titles and abstracts), best
    /// first, with their relevance from 0 to 1.
    Similar {
        /// The paper: an arXiv id, a DOI, a link or an entry id.
        paper: String,
        /// How many papers to list.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Say whether a stored paper is in a topic, and why.
    Explain {
        /// The topic id.
        topic: String,
        /// The paper: an arXiv id, a DOI, a link or an entry id.
        paper: String,
    },
}

/// mimalloc rather than glibc's malloc: ingest allocates and frees on many threads at once, and
/// glibc's per-thread arenas held three times the memory in use (2.3 GB peak for an ingest of
/// 100,000 papers, 0.8 GB with two arenas; see `benches/ingest.sh`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in the v3 sources of libmimalloc-sys 0.1.49 (pinned in Cargo.toml;
/// the crate's own option constants follow mimalloc v2's numbering, where 15 is another option).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long mimalloc keeps freed memory before returning it to the system, in milliseconds.
/// Its default, 1,000, held freed pages through the bursts of an ingest: a million new papers
/// peaked at 576 MiB, over the 512 MiB budget; with 10 the same ingest peaks lower at the same
/// speed (README, Performance, Ingest).
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// Sets mimalloc's purge delay to [`PURGE_DELAY_MS`], unless `MIMALLOC_PURGE_DELAY` is set in
/// the environment: mimalloc has read that at start-up, and an operator's choice wins.
#[allow(unsafe_code)]
fn return_freed_memory_promptly() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: mi_option_set takes two integers and writes one value in mimalloc's option table;
    // it touches no memory of ours. The write is not synchronized, which is why this runs
    // first thing in main, before any thread of ours exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) }
}

fn main() -> ExitCode {
    return_freed_memory_promptly();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // tantivy logs every commit at info: a detail of the index, not news.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tantivy=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let config = match Config::from_file(&cli.config) {
        Ok(config) => Arc::new(config),
        Err(e) => {
            eprintln!("{e}");
            if matches!(e, ConfigError::Read { .. }) {
                eprintln!("(set the config with --config PATH or PAPERBOY_CONFIG)");
            }
            return ExitCode::from(Exit::Config as u8);
        }
    };
    let result = match cli.command {
        Command::Check => {
            println!(
                "{}: ok ({} sources, {} topics)",
                cli.config.display(),
                config.sources.len(),
                config.topics.len()
            );
            check_examples(&config);
            Ok(())
        }
        Command::Ingest => runtime().and_then(|rt| {
            let compact = rt.block_on(ingest(config.clone()))?;
            // Its threads end, and with them whatever they held.
            drop(rt);
            if compact {
                compact_after_ingest(&config);
            }
            Ok(())
        }),
        Command::Serve { listen } => runtime().and_then(|rt| {
            let served = rt.block_on(serve(config, cli.config.clone(), listen));
            // What serve left running (connections past the shutdown timeout, a parse whose
            // fetch was abandoned) is dropped rather than waited for: nothing of it is a write.
            rt.shutdown_timeout(std::time::Duration::from_secs(1));
            served
        }),
        Command::Search {
            query,
            limit,
            count,
        } => {
            let query = match Query::parse(&query) {
                Ok(q) => q,
                Err(e) => {
                    eprintln!("query {query:?}: {e}");
                    return ExitCode::from(Exit::Config as u8);
                }
            };
            search(&config, &query, limit, count)
        }
        Command::Explain { topic, paper } => explain(&config, &topic, &paper),
        Command::Similar { paper, limit } => similar(&config, &paper, limit),
        Command::Reindex => reindex(&config),
        Command::Compact => compact(&config),
        Command::Status => status(&config).map(|text| print!("{text}")),
    };
    match result {
        Ok(()) => ExitCode::from(Exit::Ok as u8),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(Exit::Failure as u8)
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(paperboy::blocking_threads())
        .build()
        .context("cannot start the async runtime")
}

/// `check`'s word on the topics' example papers: those the store does not hold, and how to
/// fetch them. Says so when the store cannot be opened (a running `serve` holds it).
fn check_examples(config: &Config) {
    if config.topics.iter().all(|t| t.examples.is_none()) {
        return;
    }
    if !config.store.path.exists() {
        // Not created yet (check never creates it): every example is missing.
        let all = config
            .topics
            .iter()
            .filter_map(|t| {
                let ex = t.examples.as_ref()?;
                Some((
                    t.id.clone(),
                    ex.like.iter().chain(&ex.unlike).cloned().collect(),
                ))
            })
            .collect();
        print!("{}", paperboy::examples::missing_report(&all));
        return;
    }
    match PaperStore::open_configured(&config.store) {
        Ok(store) => print!(
            "{}",
            paperboy::examples::missing_report(&paperboy::examples::missing(config, &store))
        ),
        Err(error) => println!("example papers not checked against the store: {error}"),
    }
}

/// The store and its search index, brought up to date with the store when `catch_up` says.
fn open_store(
    config: &Config,
    catch_up: bool,
) -> anyhow::Result<(Arc<PaperStore>, Arc<SearchIndex>)> {
    let store = Arc::new(PaperStore::open_configured(&config.store)?);
    let index = Arc::new(SearchIndex::open(&index::path_for(&config.store.path))?);
    if catch_up {
        let caught_up = index.catch_up(&store)?;
        if caught_up > 0 {
            tracing::info!(
                papers = caught_up,
                "the search index caught up with the store"
            );
        }
    }
    Ok((store, index))
}

type Opened = (Arc<PaperStore>, Arc<SearchIndex>, Ingestor);

fn open(config: &Arc<Config>, catch_up: bool) -> anyhow::Result<Opened> {
    let (store, index) = open_store(config, catch_up)?;
    let fetcher = Fetcher::from_config(&config.fetch)?;
    let ingestor = Ingestor::new(config.clone(), store.clone(), index.clone(), fetcher);
    Ok((store, index, ingestor))
}

/// `ingest`'s polls; `Ok(true)` when the store is to be compacted ([`compact_after_ingest`]).
async fn ingest(config: Arc<Config>) -> anyhow::Result<bool> {
    let (store, index, ingestor) = open(&config, true)?;
    // Nothing searches the index while `ingest` runs: batches wait for a commit of many.
    let mut ingestor = ingestor.deferring_index_commits();
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ingestor =
            ingestor.with_progress(Arc::new(paperboy::progress::TerminalProgress::default()));
    }
    match ingestor.retag_topics().await? {
        Retagged::Nothing | Retagged::All { changed: 0 } => {}
        retagged => eprintln!("topics changed: {retagged}"),
    }
    let reports = ingestor.ingest_all().await?;
    // What waits in the index is committed (the store is the record: a failure only warns,
    // and the next start catches up).
    if let Err(e) = ingestor.catch_up_index().await {
        tracing::warn!("the search index is behind the store: {e}");
    }
    if let Some(retagged) = ingestor.retrain_if_examples_arrived().await? {
        eprintln!("example papers arrived: {retagged}");
    }
    ingestor.flush().await?;
    let papers = index.len();
    // The index's merges under way are let finish: dropped at exit, they would leave replaced
    // papers' documents behind. Everything is committed already, so a failure only warns.
    if let Err(e) = tokio::task::spawn_blocking(move || index.finish()).await? {
        tracing::warn!("the search index's merges did not finish: {e}");
    }
    for report in reports {
        println!("{report}");
    }
    let outgrown = config
        .store
        .auto_compact
        .then(|| store.outgrown(papers))
        .flatten();
    if let Some(outgrown) = &outgrown {
        eprintln!("{outgrown}: compacting");
    }
    Ok(outgrown.is_some())
}

/// The compaction that ends an `ingest` whose store has outgrown its leanest size. Run once the
/// ingest's runtime is gone: its threads' heaps are given back first, and no handle on the
/// store is left when the copy opens it.
fn compact_after_ingest(config: &Config) {
    let (path, cache_bytes) = (&config.store.path, config.store.cache_bytes);
    match paperboy::store::compact(path, cache_bytes) {
        Ok(done) if done.replaced => eprintln!(
            "store compacted: {:.1} MiB -> {:.1} MiB on disk",
            mib(done.before),
            mib(done.after)
        ),
        Ok(done) => eprintln!(
            "store kept as it was: {:.1} MiB on disk, and a copy was no smaller",
            mib(done.after)
        ),
        // The papers are stored; a compaction that could not run is tried again next time.
        Err(e) => tracing::warn!("the store could not be compacted: {e}"),
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

/// `compact`: finishes what a crash left (as every open does), then rewrites the store.
fn compact(config: &Config) -> anyhow::Result<()> {
    let path = &config.store.path;
    if !path.exists() {
        anyhow::bail!("no store at {} to compact", path.display());
    }
    drop(PaperStore::open_configured(&config.store)?);
    let done = paperboy::store::compact(path, config.store.cache_bytes)?;
    if done.replaced {
        println!(
            "store {}: {:.1} MiB -> {:.1} MiB on disk ({} records kept)",
            path.display(),
            mib(done.before),
            mib(done.after),
            done.records
        );
    } else {
        println!(
            "store {}: {:.1} MiB on disk, kept as it was: a copy of its {} records was no smaller",
            path.display(),
            mib(done.after),
            done.records
        );
    }
    Ok(())
}

/// `status`: from the store, or, while another process holds it (a `serve`, a long
/// harvest's `ingest`), from the copy of the sources' states that process keeps beside it.
fn status(config: &Config) -> anyhow::Result<String> {
    match PaperStore::open_configured(&config.store) {
        Ok(store) => Ok(inspect::status(config, &store)?),
        Err(held @ StoreError::Locked { .. }) => {
            match paperboy::store::states::read(&config.store.path) {
                Ok(copy) => Ok(inspect::status_from_copy(
                    config,
                    &copy,
                    has_stopped(copy.pid),
                )),
                Err(e) => Err(anyhow::anyhow!(
                    "{held}, and its sources' states cannot be shown: {e}"
                )),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether process `pid` is known to have stopped: it has no entry under `/proc` (on a system
/// without `/proc`, nothing is known and this says no).
fn has_stopped(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    proc.join("self").exists() && !proc.join(pid.to_string()).exists()
}

/// Answers from the search index: brought up to date first when the store is free, read as
/// the running `serve` keeps it when `serve` holds the store.
fn search(config: &Config, query: &Query, limit: usize, count: bool) -> anyhow::Result<()> {
    let index = match open_store(config, true) {
        Ok((_store, index)) => index,
        Err(e) if matches!(e.downcast_ref(), Some(StoreError::Locked { .. })) => Arc::new(
            SearchIndex::open_read_only(&index::path_for(&config.store.path))?,
        ),
        Err(e) => return Err(e),
    };
    let (hits, total) = index.search(query, if count { 0 } else { limit })?;
    if count {
        println!("{total}");
    } else {
        print!("{}", inspect::format_listing(&hits));
        println!(
            "{total} paper{} match{}",
            if total == 1 { "" } else { "s" },
            if total == 1 { "es" } else { "" }
        );
    }
    Ok(())
}

fn similar(config: &Config, paper: &str, limit: usize) -> anyhow::Result<()> {
    let (store, index) = open_store(config, true)?;
    let stored = store
        .lookup(paper)?
        .with_context(|| format!("no stored paper {paper:?} (try an arXiv id, a DOI or a link)"))?;
    let similar = index.similar(&stored, limit)?;
    println!(
        "papers like {}: {}",
        inspect::display_id(&stored),
        stored.paper.title
    );
    print!("{}", inspect::format_scored_listing(&similar));
    Ok(())
}

fn reindex(config: &Config) -> anyhow::Result<()> {
    let store = PaperStore::open_configured(&config.store)?;
    let index = SearchIndex::open(&index::path_for(&config.store.path))?;
    let papers = index.rebuild(&store)?;
    // The rebuild is committed; merges that could not finish are done by the next writer.
    if let Err(e) = index.finish() {
        tracing::warn!("the search index's merges did not finish: {e}");
    }
    println!("reindexed {papers} papers");
    Ok(())
}

fn explain(config: &Config, topic_id: &str, paper: &str) -> anyhow::Result<()> {
    let topic = config.topic(topic_id).with_context(|| {
        let known: Vec<&str> = config.topics.iter().map(|t| t.id.as_str()).collect();
        format!("no topic {topic_id:?}; topics are: {}", known.join(", "))
    })?;
    let (store, index) = open_store(config, true)?;
    let stored = store
        .lookup(paper)?
        .with_context(|| format!("no stored paper {paper:?} (try an arXiv id, a DOI or a link)"))?;
    let scored = match &topic.examples {
        None => None,
        Some(_) => {
            let trained = paperboy::examples::train(config, &store, &index);
            let scored = paperboy::examples::explain(&trained, topic, &stored, &store);
            if scored.is_none() {
                println!("none of the topic's liked papers is stored: it holds no paper yet (see `paperboy check`)");
            }
            scored
        }
    };
    print!("{}", inspect::explain(topic, &stored, scored.as_ref()));
    Ok(())
}

async fn serve(
    config: Arc<Config>,
    config_path: PathBuf,
    listen: Option<SocketAddr>,
) -> anyhow::Result<()> {
    let (store, index, ingestor) = open(&config, false)?;
    let listener = server::bind(listen.unwrap_or(config.server.listen)).await?;
    // Serve from the first moment: the index catches up and changed topics are re-tagged in
    // the background (meanwhile readers get the store and index as they were).
    let preparing = ingestor.clone();
    tokio::spawn(async move {
        match preparing.catch_up_index().await {
            Ok(0) => {}
            Ok(papers) => tracing::info!(papers, "the search index caught up with the store"),
            Err(e) => tracing::error!("the search index could not catch up: {e}"),
        }
        match preparing.retag_topics().await {
            Ok(Retagged::Nothing | Retagged::All { changed: 0 }) => {}
            Ok(retagged) => tracing::info!("topics changed: {retagged}"),
            Err(e) => tracing::error!("re-tagging after a topic change failed: {e}"),
        }
    });
    server::serve(
        store,
        index,
        ingestor,
        listener,
        server::shutdown_signal(),
        Some(config_path),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Option 15 is the purge delay: its default is mimalloc's documented 1,000 ms (no other
    /// option defaults to that), and the binary's start-up sets it to ten.
    #[test]
    #[allow(unsafe_code)]
    fn the_allocator_returns_freed_memory_after_ten_milliseconds() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            // The operator's value wins; nothing of ours to check.
            return;
        }
        // SAFETY: mi_option_get reads one integer from mimalloc's option table.
        let get = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(get(), 1000, "option 15 is not mimalloc's purge delay");
        return_freed_memory_promptly();
        assert_eq!(get(), PURGE_DELAY_MS);
    }

    /// This process runs; no process has a number past the kernel's largest (2^22).
    #[test]
    fn a_stopped_process_is_told_from_a_running_one() {
        assert!(!has_stopped(std::process::id()));
        assert!(has_stopped(u32::MAX));
    }
}
