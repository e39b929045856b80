//! `[[sources]]`: the paper sources to poll. The keys every source has (`id`, `kind`, `url`,
//! `every`, and `max_results` for paged kinds) are read here; everything else about a kind (its
//! own keys, its default URL) is the kind's ([`crate::sources::Kind::url`]).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::validate::{check_id, Problem};
use crate::sources::{SourceKeys, SourceKind};

/// How often a source is polled when it does not say.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(3600);
/// The shortest poll interval accepted: polling faster is impolite to any source.
pub const MIN_EVERY: Duration = Duration::from_secs(60);
/// The longest poll interval accepted (a year); longer ones overflow date arithmetic.
pub const MAX_EVERY: Duration = Duration::from_secs(365 * 24 * 3600);

/// Where a source's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An `http://` or `https://` URL.
    Http(url::Url),
    /// A file, from a `file://` URL.
    File(PathBuf),
}

/// One source to poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceConfig {
    /// The source's id, `[a-z0-9-]+`.
    pub id: String,
    /// What kind of source it is.
    pub kind: SourceKind,
    /// The URL as written in the config (or built by the kind from its own keys), for display
    /// and error messages.
    pub url: String,
    /// Where the bytes come from.
    pub location: Location,
    /// How often to poll it.
    pub every: Duration,
    /// For paged kinds: how many results one poll reads at most, a page at a time.
    pub max_results: Option<usize>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawSource {
    id: Option<String>,
    kind: Option<String>,
    url: Option<String>,
    every: Option<String>,
    /// The kind's own keys (and `max_results`), checked by the kind.
    #[serde(flatten)]
    rest: BTreeMap<String, toml::Value>,
}

pub(super) fn validate(
    raw: Vec<RawSource>,
    base_dir: &Path,
    problems: &mut Vec<Problem>,
) -> Vec<SourceConfig> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, source) in raw.into_iter().enumerate() {
        let path = format!("sources[{i}]");
        let id = check_id(source.id, &path, &mut seen, problems);
        let kind = match source.kind.as_deref() {
            None => {
                problems.push(Problem::new(format!("{path}.kind"), "missing"));
                None
            }
            Some(name) => SourceKind::from_name(name).or_else(|| {
                let known: Vec<&str> = SourceKind::ALL.iter().map(|k| k.name()).collect();
                problems.push(Problem::new(
                    format!("{path}.kind"),
                    format!("unknown kind {name:?}; known kinds: {}", known.join(", ")),
                ));
                None
            }),
        };
        let (url, max_results) = match kind {
            Some(kind) => kind_keys(kind, source.url, source.rest, &path, problems),
            None => (source.url, None),
        };
        let location = url.as_deref().and_then(|url| {
            parse_location(url, base_dir)
                .map_err(|message| problems.push(Problem::new(format!("{path}.url"), message)))
                .ok()
        });
        let every = every(source.every.as_deref(), &path, problems);
        if let (Some(id), Some(kind), Some(location), Some(every), Some(url)) =
            (id, kind, location, every, url)
        {
            out.push(SourceConfig {
                id,
                kind,
                url,
                location,
                every,
                max_results,
            });
        }
    }
    out
}

/// The kind's view of a source's keys: the URL it reads (from `url`, or from the kind's own
/// keys or default) and, for paged kinds, `max_results`. A key no one takes is a problem
/// that names the kinds it belongs to.
fn kind_keys(
    kind: SourceKind,
    url: Option<String>,
    rest: BTreeMap<String, toml::Value>,
    path: &str,
    problems: &mut Vec<Problem>,
) -> (Option<String>, Option<usize>) {
    let mut keys = SourceKeys::new(url, rest);
    let url = kind.def().url(&mut keys);
    let max_results = kind.pager().map(|pager| {
        let default = pager.default_max_results();
        let cap = pager.max_results_cap();
        match keys.take_count("max_results") {
            None => default,
            Some(n) if n >= 1 && cap.is_none_or(|cap| n <= cap) => n,
            Some(n) => {
                let range = match cap {
                    Some(cap) => {
                        format!("between 1 and {cap}, the most this kind's service answers")
                    }
                    None => "at least 1".to_string(),
                };
                keys.problem("max_results", format!("{n} is not {range}"));
                default
            }
        }
    });
    let (left, found) = keys.finish();
    for (key, message) in found {
        problems.push(Problem::new(format!("{path}.{key}"), message));
    }
    for key in left {
        let takers: Vec<String> = SourceKind::taking(&key)
            .iter()
            .map(|k| format!("`{}`", k.name()))
            .collect();
        let message = if takers.is_empty() {
            format!(
                "unknown key; a `{}` source takes id, kind, url, every{}",
                kind.name(),
                kind.def()
                    .own_keys()
                    .iter()
                    .chain(kind.pager().map(|_| &"max_results"))
                    .map(|k| format!(", {k}"))
                    .collect::<String>()
            )
        } else {
            format!(
                "only {} sources take {key}, not `{}`",
                takers.join(", "),
                kind.name()
            )
        };
        problems.push(Problem::new(format!("{path}.{key}"), message));
    }
    (url, max_results)
}

/// The poll interval at `path`, when absent [`DEFAULT_EVERY`].
fn every(text: Option<&str>, path: &str, problems: &mut Vec<Problem>) -> Option<Duration> {
    let Some(text) = text else {
        return Some(DEFAULT_EVERY);
    };
    let message = match humantime::parse_duration(text) {
        Ok(d) if (MIN_EVERY..=MAX_EVERY).contains(&d) => return Some(d),
        Ok(d) if d < MIN_EVERY => format!("{text:?} is shorter than the minimum of 1m"),
        Ok(_) => format!("{text:?} is longer than the maximum of a year"),
        Err(e) => format!("{text:?} is not a duration such as \"30m\" or \"1h\": {e}"),
    };
    problems.push(Problem::new(format!("{path}.every"), message));
    None
}

/// `http://` and `https://` URLs, or `file://` paths: `file:///abs/path` is absolute,
/// `file://rel/path` resolves against the config file's folder.
fn parse_location(text: &str, base_dir: &Path) -> Result<Location, String> {
    if let Some(path) = text.strip_prefix("file://") {
        if path.is_empty() {
            return Err(format!("{text:?} names no file"));
        }
        let path = Path::new(path);
        return Ok(Location::File(if path.is_absolute() {
            path.to_path_buf()
        } else {
            base_dir.join(path)
        }));
    }
    match url::Url::parse(text) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some() => {
            Ok(Location::Http(u))
        }
        Ok(u) => Err(format!(
            "{text:?}: scheme {:?} is not http, https or file",
            u.scheme()
        )),
        Err(e) => Err(format!("{text:?} is not a URL: {e}")),
    }
}
