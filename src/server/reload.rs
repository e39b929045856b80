//! Reloading the config while serving, on `SIGHUP` (as `nginx -s reload` does). The file is
//! read and validated first; an invalid one is refused with every problem logged, and the
//! running config stays. A valid one replaces sources and topics at once: requests from then
//! on see the new topics (a removed topic's feed is a 404), pollers start, stop or restart for
//! the sources that changed, and each added, edited or removed topic has its papers set again
//! from one search-index query. `[server]`, `[store]` and `[fetch]` are bound at start (the
//! socket, the store, the fetcher): changes to them are logged and wait for a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Mutex;

use super::pollers::Pollers;
use crate::config::Config;
use crate::ingest::Ingestor;

/// Reloads from `path` each time `hangups` yields, until it ends.
pub(super) async fn run(
    path: PathBuf,
    ingestor: Ingestor,
    pollers: Arc<Mutex<Pollers>>,
    mut hangups: impl futures_util::Stream<Item = ()> + Unpin,
) {
    use futures_util::StreamExt;
    while hangups.next().await.is_some() {
        tracing::info!(config = %path.display(), "reloading the config");
        reload(&path, &ingestor, &pollers).await;
    }
}

/// Reads, validates and applies the config at `path`.
async fn reload(path: &Path, ingestor: &Ingestor, pollers: &Arc<Mutex<Pollers>>) {
    let read = {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || Config::from_file(&path)).await
    };
    let next = match read {
        Ok(Ok(config)) => config,
        Ok(Err(error)) => {
            tracing::error!("reload refused, still serving the config loaded before: {error}");
            return;
        }
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    };
    let running = ingestor.live().get().config.clone();
    let next = Arc::new(keep_bound_sections(&running, next));
    let live = ingestor.live().clone();
    let replaced = {
        let next = next.clone();
        tokio::task::spawn_blocking(move || live.replace(next)).await
    };
    let setup = match replaced {
        Ok(setup) => setup,
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    };
    let sources = pollers.lock().await.apply(&setup.config.sources);
    tracing::info!(
        sources = setup.config.sources.len(),
        sources_added = sources.added,
        sources_changed = sources.changed,
        sources_removed = sources.removed,
        topics = setup.config.topics.len(),
        "config reloaded"
    );
    match ingestor.retag_topics().await {
        Ok(retagged) => tracing::info!("after the reload: {retagged}"),
        Err(error) => tracing::error!("re-tagging after the reload failed: {error}"),
    }
}

/// `next` with the sections that are bound at start taken from `running`, logging each that
/// differs.
fn keep_bound_sections(running: &Config, next: Config) -> Config {
    let differs = [
        ("[server]", running.server != next.server),
        ("[store]", running.store != next.store),
        ("[fetch]", running.fetch != next.fetch),
    ];
    for (section, changed) in differs {
        if changed {
            tracing::warn!("{section} changed: it takes effect at the next restart, not on reload");
        }
    }
    let mut next = next;
    next.server = running.server.clone();
    next.store = running.store.clone();
    next.fetch = running.fetch.clone();
    next
}

/// The `SIGHUP`s this process gets, from now on (the default action, ending the process, is
/// replaced at once). `None` where there are no such signals, or they cannot be listened for.
pub(super) fn hangups() -> Option<impl futures_util::Stream<Item = ()> + Unpin> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::hangup()) {
            Ok(mut hangup) => Some(Box::pin(futures_util::stream::poll_fn(move |cx| {
                hangup.poll_recv(cx)
            }))),
            Err(e) => {
                tracing::error!("cannot listen for SIGHUP, so the config cannot be reloaded: {e}");
                None
            }
        }
    }
    #[cfg(not(unix))]
    {
        None::<futures_util::stream::Empty<()>>
    }
}
