//! The background pollers of `serve`: one task per source, polling it on its schedule (first
//! poll at once). A reload starts pollers for added sources, stops those of removed ones and
//! restarts those whose config changed (the new poller starts once the old one has finished
//! any write it began); shutdown stops them all.

use std::collections::HashMap;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::SourceConfig;
use crate::ingest::Ingestor;

/// One source's poller.
struct Running {
    source: SourceConfig,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// How [`Pollers::apply`] changed the set of pollers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct PollerChanges {
    pub(super) added: usize,
    pub(super) changed: usize,
    pub(super) removed: usize,
}

/// Every source's poller, by source id.
pub(super) struct Pollers {
    ingestor: Ingestor,
    running: HashMap<String, Running>,
}

impl Pollers {
    /// Starts a poller for each of `sources`.
    pub(super) fn start(ingestor: Ingestor, sources: &[SourceConfig]) -> Self {
        let mut pollers = Pollers {
            ingestor,
            running: HashMap::new(),
        };
        pollers.apply(sources);
        pollers
    }

    /// Makes the pollers poll exactly `sources`, as configured now.
    pub(super) fn apply(&mut self, sources: &[SourceConfig]) -> PollerChanges {
        let mut changes = PollerChanges::default();
        let wanted: HashMap<&str, &SourceConfig> =
            sources.iter().map(|s| (s.id.as_str(), s)).collect();
        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|id| !wanted.contains_key(id.as_str()))
            .cloned()
            .collect();
        for id in gone {
            if let Some(running) = self.running.remove(&id) {
                // Nobody may be listening any more (the poller ended: the source is gone).
                let _ = running.stop.send(true);
                changes.removed += 1;
            }
        }
        for source in sources {
            let previous = match self.running.remove(&source.id) {
                Some(running) if running.source == *source => {
                    self.running.insert(source.id.clone(), running);
                    continue;
                }
                Some(running) => {
                    let _ = running.stop.send(true);
                    changes.changed += 1;
                    Some(running.task)
                }
                None => {
                    changes.added += 1;
                    None
                }
            };
            let (stop, stop_seen) = watch::channel(false);
            let ingestor = self.ingestor.clone();
            let polled = source.clone();
            let task = tokio::spawn(async move {
                if let Some(previous) = previous {
                    // The old poller finishes a write it began before the new one reads.
                    let _ = previous.await;
                }
                poll_forever(ingestor, polled, stop_seen).await;
            });
            self.running.insert(
                source.id.clone(),
                Running {
                    source: source.clone(),
                    stop,
                    task,
                },
            );
        }
        changes
    }

    /// Tells every poller to stop; returns their tasks, to wait for the writes in progress.
    pub(super) fn stop_all(&mut self) -> Vec<JoinHandle<()>> {
        self.running
            .drain()
            .map(|(_, running)| {
                let _ = running.stop.send(true);
                running.task
            })
            .collect()
    }
}

/// Polls one source on its schedule until told to stop or the source is gone.
async fn poll_forever(ingestor: Ingestor, source: SourceConfig, stop: watch::Receiver<bool>) {
    loop {
        let next = match ingestor.poll_unless(&source, stopped(stop.clone())).await {
            Ok(Some(report)) => {
                let line = report.to_string();
                tracing::info!("{}", crate::pipeline::redact::in_text(&line, &source.url));
                // A topic's example papers may have come with this poll.
                match ingestor.retrain_if_examples_arrived().await {
                    Ok(Some(retagged)) => tracing::info!("example papers arrived: {retagged}"),
                    Ok(None) => {}
                    Err(e) => tracing::error!("store error while training topics: {e}"),
                }
                // Replaced versions leave dead bytes behind: given back when they add up.
                match ingestor.compact_if_outgrown().await {
                    Ok(_) => {}
                    Err(e @ crate::store::StoreError::Locked { .. }) => tracing::warn!(
                        "the store could not be compacted now (tried again after the next \
                         poll): {e}"
                    ),
                    Err(e) => tracing::warn!(
                        "the store could not be compacted (tried again in an hour): {e}"
                    ),
                }
                report.next_poll
            }
            Ok(None) => return,
            Err(e) => {
                tracing::error!(source = %source.id, "store error while polling: {e}");
                Some(
                    chrono::Utc::now()
                        + chrono::Duration::from_std(source.every)
                            .unwrap_or(chrono::Duration::hours(1)),
                )
            }
        };
        // None: the source is gone; its poller stops until the config changes.
        let Some(next) = next else { return };
        let wait = (next - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            () = stopped(stop.clone()) => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Completes once this poller is told to stop.
async fn stopped(mut stop: watch::Receiver<bool>) {
    // An error means the sender is gone, which only happens once the poller is dropped.
    let _ = stop.wait_for(|stopping| *stopping).await;
}
