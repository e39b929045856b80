//! `[[topics]]`: the research topics, each a query in paperboy's query language, example
//! papers (`like`, `unlike`, `like_file`, scored by [`crate::pipeline::profile`]), or both.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::validate::{check_id, valid_id, Problem};
use crate::pipeline::query::Query;
use crate::pipeline::tag::TopicQuery;

/// One topic: a feed of the papers its query matches.
#[derive(Debug, Clone)]
pub struct TopicConfig {
    /// The topic's id, `[a-z0-9-]+`: its feeds are `/feeds/<id>.atom` and so on.
    pub id: String,
    /// The feed's title.
    pub title: String,
    /// The query as written.
    pub query_text: String,
    /// The query, parsed.
    pub query: Query,
    /// The group the topic belongs to (`[a-z0-9-]+`, often whoever follows it): its topics are
    /// listed together on `/groups/<group>` and in `/groups/<group>.opml`.
    pub group: Option<String>,
    /// The example papers the topic learns from, when it has any.
    pub examples: Option<Examples>,
}

/// A topic's example papers: each named as written (an arXiv id, a DOI, a link), those of a
/// BibTeX file as `arXiv:<id>` or the DOI.
#[derive(Debug, Clone, PartialEq)]
pub struct Examples {
    /// Papers like the ones wanted: `like`, then the entries of `like_file`.
    pub like: Vec<String>,
    /// Papers that are not what is meant.
    pub unlike: Vec<String>,
    /// The BibTeX file the `like_file` examples came from, resolved.
    pub like_file: Option<PathBuf>,
    /// The relevance a paper needs; `None`: derived from the examples
    /// ([`crate::pipeline::profile::Profile::default_min_score`]).
    pub min_score: Option<f32>,
}

impl TopicConfig {
    /// What the topic's papers depend on, as written: its query, and its examples and
    /// threshold under the scoring's version. A change re-tags the topic.
    pub fn definition(&self) -> String {
        match &self.examples {
            None => self.query_text.clone(),
            Some(examples) => format!(
                "{}\u{0}profile {}\u{0}like {}\u{0}unlike {}\u{0}min {:?}",
                self.query_text,
                crate::pipeline::profile::PROFILE_VERSION,
                examples.like.join(" "),
                examples.unlike.join(" "),
                examples.min_score
            ),
        }
    }
}

impl From<&TopicConfig> for TopicQuery {
    fn from(topic: &TopicConfig) -> Self {
        TopicQuery {
            id: topic.id.clone(),
            query: topic.query.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTopic {
    id: Option<String>,
    title: Option<String>,
    query: Option<String>,
    group: Option<String>,
    like: Option<Vec<String>>,
    unlike: Option<Vec<String>>,
    like_file: Option<PathBuf>,
    min_score: Option<f64>,
}

/// Whether `name` names a paper as `like` and `unlike` take them: an arXiv id (bare,
/// `arXiv:`, an arXiv or Hugging Face link), a DOI (bare, `doi:`, a resolver link) or a link.
fn names_a_paper(name: &str) -> bool {
    let named = crate::pipeline::identity::named(name);
    named.arxiv.is_some() || named.doi.is_some() || named.link.is_some()
}

/// The examples of a BibTeX file: each entry's arXiv id (as `arXiv:<id>`) or DOI.
fn read_like_file(path: &Path) -> Result<Vec<String>, String> {
    use crate::pipeline::bibtex::{entries, BibReference};
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot be read: {e}"))?;
    let entries = entries(&text).map_err(|e| format!("is not valid BibTeX: {e}"))?;
    let names: Vec<String> = entries
        .iter()
        .filter_map(|e| e.reference.as_ref())
        .map(|r| match r {
            BibReference::Arxiv(id) => format!("arXiv:{id}"),
            BibReference::Doi(doi) => doi.clone(),
        })
        .collect();
    if names.is_empty() {
        return Err(format!(
            "has {} entries and none with an arXiv id (eprint) or a DOI",
            entries.len()
        ));
    }
    Ok(names)
}

/// The examples of a topic, or `None` when it has none; problems found are pushed.
fn validate_examples(
    topic: &mut RawTopic,
    label: &str,
    base_dir: &Path,
    problems: &mut Vec<Problem>,
) -> Option<Examples> {
    let like_given = topic.like.is_some() || topic.like_file.is_some();
    if !like_given && topic.unlike.is_none() && topic.min_score.is_none() {
        return None;
    }
    let mut names = |key: &str, list: Option<Vec<String>>| -> Vec<String> {
        let list = list.unwrap_or_default();
        for (i, name) in list.iter().enumerate() {
            if !names_a_paper(name) {
                problems.push(Problem::new(
                    format!("{label}.{key}[{i}]"),
                    format!("{name:?} is not an arXiv id, a DOI or a link to a paper"),
                ));
            }
        }
        list
    };
    let mut like = names("like", topic.like.take());
    let unlike = names("unlike", topic.unlike.take());
    let like_file = topic.like_file.take().map(|f| base_dir.join(f));
    if let Some(file) = &like_file {
        match read_like_file(file) {
            Ok(found) => like.extend(found),
            Err(reason) => problems.push(Problem::new(
                format!("{label}.like_file"),
                format!("{} {reason}", file.display()),
            )),
        }
    }
    if !like_given {
        problems.push(Problem::new(
            format!("{label}.like"),
            "`unlike` and `min_score` need example papers: add `like` or `like_file`",
        ));
    }
    let min_score = topic.min_score.and_then(|m| {
        if (0.0..=1.0).contains(&m) {
            Some(m as f32)
        } else {
            problems.push(Problem::new(
                format!("{label}.min_score"),
                format!("{m} is not between 0 and 1"),
            ));
            None
        }
    });
    Some(Examples {
        like,
        unlike,
        like_file,
        min_score,
    })
}

pub(super) fn validate(
    raw: Vec<RawTopic>,
    base_dir: &Path,
    problems: &mut Vec<Problem>,
) -> Vec<TopicConfig> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, mut topic) in raw.into_iter().enumerate() {
        let path = format!("topics[{i}]");
        let id = check_id(topic.id.take(), &path, &mut seen, problems);
        let label = id
            .as_deref()
            .map(|id| format!("{path} ({id})"))
            .unwrap_or(path.clone());
        let examples = validate_examples(&mut topic, &label, base_dir, problems);
        let query = match topic.query.take() {
            // A topic of examples alone: every paper is scored.
            None if examples.is_some() => Some(("*".to_string(), Query::All)),
            None => {
                problems.push(Problem::new(
                    format!("{label}.query"),
                    "missing; write `*` to match every paper, or give example papers (`like`)",
                ));
                None
            }
            Some(text) => match Query::parse(&text) {
                Ok(q) => Some((text, q)),
                Err(e) => {
                    problems.push(Problem::new(
                        format!("{label}.query"),
                        format!("{e} in {text:?}"),
                    ));
                    None
                }
            },
        };
        let group = match topic.group.take() {
            Some(group) if !valid_id(&group) => {
                problems.push(Problem::new(
                    format!("{label}.group"),
                    format!("{group:?} must be lower-case letters, digits and '-' only"),
                ));
                None
            }
            group => group,
        };
        if let (Some(id), Some((query_text, query))) = (id, query) {
            out.push(TopicConfig {
                title: topic
                    .title
                    .filter(|t| !t.trim().is_empty())
                    .unwrap_or_else(|| id.clone()),
                id,
                query_text,
                query,
                group,
                examples,
            });
        }
    }
    out
}
