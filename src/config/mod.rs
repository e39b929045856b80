//! Configuration: a raw, input-shaped layer read from TOML with unknown keys refused, validated
//! into the typed [`Config`] the program uses. One file per section (`server`, `store`,
//! `fetch`, `sources`, `topics`, `websub`), with the helpers they share in `validate`. Validation collects
//! every problem, each with its key path, so `paperboy check` reports them all at once.
//! [`Config::parse`] is pure; [`Config::from_file`] adds the file read.

mod fetch;
mod server;
mod sources;
mod store;
mod topics;
mod validate;
mod websub;

use std::path::Path;

use serde::Deserialize;

pub use fetch::*;
pub use server::*;
pub use sources::*;
pub use store::*;
pub use topics::*;
pub use validate::{valid_id, Problem, MAX_TIMEOUT};
pub use websub::*;

/// The config path when neither `--config` nor `PAPERBOY_CONFIG` gives one.
pub const DEFAULT_CONFIG_PATH: &str = "config/paperboy.toml";

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `[server]`.
    pub server: ServerConfig,
    /// `[store]`.
    pub store: StoreConfig,
    /// `[fetch]`.
    pub fetch: FetchConfig,
    /// `[[sources]]`, in config order.
    pub sources: Vec<SourceConfig>,
    /// `[[topics]]`, in config order.
    pub topics: Vec<TopicConfig>,
    /// `[websub]`.
    pub websub: WebSubConfig,
    /// Each topic's position in `topics`, by id: a request finds its topic at once among
    /// 10,000.
    by_id: std::collections::HashMap<String, usize>,
    /// Each group's topics' positions in `topics`, in config order, by group name.
    groups: std::collections::BTreeMap<String, Vec<usize>>,
}

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The config file's path.
        path: String,
        #[source]
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The text is not TOML of the expected shape (bad syntax, unknown key, wrong type).
    #[error("config {origin}: {message}")]
    Syntax {
        /// The file (or other input) the config came from.
        origin: String,
        /// What TOML or the config's shape found wrong, with the line.
        message: String,
    },
    /// The text parsed but some values are wrong.
    #[error("config {origin} has {} problem(s):\n{}", problems.len(), problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The file (or other input) the config came from.
        origin: String,
        /// Every problem found, in config order.
        problems: Vec<Problem>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    server: Option<server::RawServer>,
    store: Option<store::RawStore>,
    fetch: Option<fetch::RawFetch>,
    #[serde(default)]
    sources: Vec<sources::RawSource>,
    #[serde(default)]
    topics: Vec<topics::RawTopic>,
    websub: Option<websub::RawWebSub>,
}

impl Config {
    /// Reads and validates the config file at `path`. Relative paths inside it resolve against
    /// the folder the file is in.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let base_dir = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::parse(&text, &base_dir, &path.display().to_string())
    }

    /// Validates config text. `base_dir` is what relative paths resolve against; `origin`
    /// names the input in error messages.
    pub fn parse(text: &str, base_dir: &Path, origin: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            origin: origin.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let mut problems = Vec::new();
        let server = server::validate(raw.server, &mut problems);
        let store = store::validate(raw.store, base_dir, &mut problems);
        let fetch = fetch::validate(raw.fetch, &mut problems);
        let sources = sources::validate(raw.sources, base_dir, &mut problems);
        let topics = topics::validate(raw.topics, base_dir, &mut problems);
        let websub = websub::validate(raw.websub, &mut problems);
        if problems.is_empty() {
            let by_id = topics
                .iter()
                .enumerate()
                .map(|(i, t)| (t.id.clone(), i))
                .collect();
            let mut groups = std::collections::BTreeMap::<String, Vec<usize>>::new();
            for (i, topic) in topics.iter().enumerate() {
                if let Some(group) = &topic.group {
                    groups.entry(group.clone()).or_default().push(i);
                }
            }
            Ok(Config {
                server,
                store,
                fetch,
                sources,
                topics,
                websub,
                by_id,
                groups,
            })
        } else {
            Err(ConfigError::Invalid {
                origin: origin.to_string(),
                problems,
            })
        }
    }

    /// The topic with this id.
    pub fn topic(&self, id: &str) -> Option<&TopicConfig> {
        self.by_id.get(id).and_then(|&i| self.topics.get(i))
    }

    /// The topics of the group `name`, in config order; `None` when no topic is in it.
    pub fn group(&self, name: &str) -> Option<Vec<&TopicConfig>> {
        let positions = self.groups.get(name)?;
        Some(
            positions
                .iter()
                .filter_map(|&i| self.topics.get(i))
                .collect(),
        )
    }

    /// Every group's name and how many topics it has, by name.
    pub fn groups(&self) -> impl Iterator<Item = (&str, usize)> {
        self.groups
            .iter()
            .map(|(name, topics)| (name.as_str(), topics.len()))
    }

    /// The fingerprint of each configured topic's definition ([`TopicConfig::definition`],
    /// [`crate::pipeline::tag::topic_fingerprint`]):
    /// a topic whose fingerprint differs from the one the store was tagged for is re-tagged.
    pub fn topic_fingerprints(&self) -> crate::pipeline::tag::TopicFingerprints {
        self.topics
            .iter()
            .map(|t| {
                (
                    t.id.clone(),
                    crate::pipeline::tag::topic_fingerprint(&t.definition()),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
