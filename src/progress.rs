//! Progress bars for long harvests on a terminal (`paperboy ingest`), drawn with indicatif: one
//! bar per source being harvested, with the records so far, of the list's size when the server
//! gives it (OAI-PMH's `completeListSize`), the rate and the time left. Without a terminal
//! the harvest logs its progress instead.

use std::collections::HashMap;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::ingest::Progress;

/// A bar per source being harvested.
pub struct TerminalProgress {
    bars: MultiProgress,
    by_source: Mutex<HashMap<String, ProgressBar>>,
}

impl Default for TerminalProgress {
    fn default() -> Self {
        TerminalProgress::to(ProgressDrawTarget::stderr())
    }
}

impl TerminalProgress {
    /// Bars drawn to `target` (standard error on a terminal; hidden in tests).
    pub fn to(target: ProgressDrawTarget) -> Self {
        TerminalProgress {
            bars: MultiProgress::with_draw_target(target),
            by_source: Mutex::default(),
        }
    }

    /// The position and length of `source`'s bar, while it is shown.
    pub fn bar(&self, source: &str) -> Option<(u64, Option<u64>)> {
        self.lock()
            .get(source)
            .map(|bar| (bar.position(), bar.length()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ProgressBar>> {
        self.by_source
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A bar of known length: `cs-all [####----] 46000/907096 records, 310/s, 48m left`.
const KNOWN: &str = "{prefix} [{bar:30}] {human_pos}/{human_len} records, {per_sec}, {eta} left";
/// A bar whose list size is not known: `cs-all 46000 records, 310/s`.
const UNKNOWN: &str = "{prefix} {spinner} {human_pos} records, {per_sec}";

impl Progress for TerminalProgress {
    fn harvested(&self, source: &str, records: u64, total: Option<u64>) {
        let mut bars = self.lock();
        let bar = bars.entry(source.to_string()).or_insert_with(|| {
            let bar = self.bars.add(ProgressBar::no_length());
            bar.set_prefix(source.to_string());
            bar
        });
        // Templates are constants checked by the tests; a bad one would only lose the style.
        let style = match total {
            Some(total) => {
                bar.set_length(total.max(records));
                ProgressStyle::with_template(KNOWN)
            }
            None => ProgressStyle::with_template(UNKNOWN),
        };
        if let Ok(style) = style {
            bar.set_style(style.progress_chars("#>-"));
        }
        bar.set_position(records);
    }

    fn done(&self, source: &str) {
        if let Some(bar) = self.lock().remove(source) {
            bar.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_follows_each_harvest_and_goes_when_it_is_done() {
        assert!(ProgressStyle::with_template(KNOWN).is_ok());
        assert!(ProgressStyle::with_template(UNKNOWN).is_ok());
        let progress = TerminalProgress::to(ProgressDrawTarget::hidden());
        progress.harvested("oai", 100, None);
        assert_eq!(progress.bar("oai"), Some((100, None)));
        progress.harvested("oai", 200, Some(1000));
        progress.harvested("other", 5, Some(10));
        assert_eq!(progress.bar("oai"), Some((200, Some(1000))));
        assert_eq!(progress.bar("other"), Some((5, Some(10))));
        progress.done("oai");
        assert_eq!(progress.bar("oai"), None);
        assert!(progress.bar("other").is_some());
    }
}
