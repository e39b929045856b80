//! What a running paperboy works with now: the config and the tagger compiled from its topics,
//! replaced whole when `serve` reloads its config. A request or a poll takes one snapshot
//! ([`Live::get`]) and keeps it to the end, so it sees the old view or the new, never a mix.
//! Batches are tagged while holding the current view ([`Live::hold`]): a replacement waits for
//! them, so once [`Live::replace`] returns, every later batch is tagged with the new topics and
//! every earlier one is in the store for re-tagging to see.

use std::sync::{Arc, RwLock};

use crate::config::Config;
use crate::examples::Trained;
use crate::pipeline::tag::{Tagger, TopicFingerprints, TopicQuery};

/// Trains the topics learned from examples of a config (from the store and its index).
pub type Trainer = Arc<dyn Fn(&Config) -> Trained + Send + Sync>;

/// One view: a config and its topics compiled.
#[derive(Debug)]
pub struct Setup {
    /// The validated config.
    pub config: Arc<Config>,
    /// Its topics, compiled for tagging new papers.
    pub tagger: Arc<Tagger>,
    /// What the topics learned from examples found when trained.
    pub trained: Trained,
    /// Counts replacements from 0, so caches of what was built from a view can tell.
    pub epoch: u64,
}

impl Setup {
    fn new(config: Arc<Config>, trainer: Option<&Trainer>, epoch: u64) -> Self {
        let trained = match trainer {
            Some(train) => train(&config),
            None => Trained::untrained(&config),
        };
        let tagger = Arc::new(Tagger::with_profiles(
            config.topics.iter().map(TopicQuery::from).collect(),
            trained.scored.clone(),
            trained.vocabulary.clone(),
        ));
        Setup {
            config,
            tagger,
            trained,
            epoch,
        }
    }

    /// The fingerprint of each topic as this view tags it: a topic whose fingerprint differs
    /// from the one the store was tagged for is tagged again.
    pub fn fingerprints(&self) -> TopicFingerprints {
        self.trained.fingerprints(&self.config)
    }
}

/// The current view, shared by the server, the pollers and ingest.
pub struct Live {
    /// The view, read without a lock (and, by [`Live::peek`], without touching its reference
    /// count): readers never wait for a batch or a replacement, and the cores answering polls
    /// do not contend for one word.
    current: arc_swap::ArcSwap<Setup>,
    /// Held shared by batches being tagged, and exclusively by a replacement.
    gate: RwLock<()>,
    /// Trains the topics learned from examples of each view; without one they hold nothing.
    trainer: Option<Trainer>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

impl Live {
    /// Starts with `config`, without a store to train topics learned from examples.
    pub fn new(config: Arc<Config>) -> Self {
        Live {
            current: arc_swap::ArcSwap::from_pointee(Setup::new(config, None, 0)),
            gate: RwLock::new(()),
            trainer: None,
        }
    }

    /// Starts with `config`, its topics learned from examples trained by `trainer` (and those
    /// of every replacement).
    pub fn with_trainer(config: Arc<Config>, trainer: Trainer) -> Self {
        Live {
            current: arc_swap::ArcSwap::from_pointee(Setup::new(config, Some(&trainer), 0)),
            gate: RwLock::new(()),
            trainer: Some(trainer),
        }
    }

    /// The current view.
    pub fn get(&self) -> Arc<Setup> {
        self.current.load_full()
    }

    /// The current view, for a moment (answering one request): cheaper than [`Live::get`] on
    /// a hot path, not to be held across an `await` or for long.
    pub fn peek(&self) -> arc_swap::Guard<Arc<Setup>> {
        self.current.load()
    }

    /// Runs `work` with the current view, which is not replaced until `work` returns. Blocks
    /// while a replacement is under way: call it off the async threads.
    pub fn hold<R>(&self, work: impl FnOnce(&Setup) -> R) -> R {
        let _gate = self
            .gate
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        work(&self.get())
    }

    /// Makes `config` the current view, once every [`Live::hold`] in progress has returned;
    /// returns it. Blocks: call it off the async threads.
    pub fn replace(&self, config: Arc<Config>) -> Arc<Setup> {
        self.replace_unless_replaced(config, None)
            .expect("an unconditional replacement always happens")
    }

    /// Trains `config` again and makes it the current view, unless the view has been replaced
    /// since epoch `seen` (a reload got there first: its view stands). Returns the new view, or
    /// `None` when it stood down. Blocks: call it off the async threads.
    pub fn retrain(&self, config: Arc<Config>, seen: u64) -> Option<Arc<Setup>> {
        self.replace_unless_replaced(config, Some(seen))
    }

    fn replace_unless_replaced(
        &self,
        config: Arc<Config>,
        seen: Option<u64>,
    ) -> Option<Arc<Setup>> {
        // Compiling many topics takes a while: before batches are made to wait.
        let mut next = Setup::new(config, self.trainer.as_ref(), 0);
        let _gate = self
            .gate
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Replacements are serialized by the gate, so the epoch read here is still current.
        let current = self.get().epoch;
        if seen.is_some_and(|seen| seen != current) {
            return None;
        }
        next.epoch = current + 1;
        let next = Arc::new(next);
        self.current.store(next.clone());
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(query: &str) -> Arc<Config> {
        let text = format!("[[topics]]\nid = \"t\"\nquery = {query:?}\n");
        Arc::new(Config::parse(&text, std::path::Path::new("/"), "test").expect("valid config"))
    }

    #[test]
    fn a_replacement_waits_for_holders_and_counts_epochs() {
        let live = Arc::new(Live::new(config("alpha")));
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started, holding) = std::sync::mpsc::channel::<()>();
        let holder = {
            let live = live.clone();
            std::thread::spawn(move || {
                live.hold(|setup| {
                    started.send(()).expect("tell");
                    held.recv().expect("wait");
                    setup.config.topics[0].query_text.clone()
                })
            })
        };
        holding.recv().expect("holding");
        let replacer = {
            let live = live.clone();
            std::thread::spawn(move || live.replace(config("beta")).epoch)
        };
        // The holder keeps the old view for as long as it holds it, and readers are answered
        // meanwhile (with the old view).
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(live.get().epoch, 0);
        assert!(!replacer.is_finished());
        release.send(()).expect("release");
        assert_eq!(holder.join().expect("holder"), "alpha");
        assert_eq!(replacer.join().expect("replacer"), 1);
        let now = live.get();
        assert_eq!(now.config.topics[0].query_text, "beta");
        assert_eq!(now.epoch, 1);
    }
}
