//! `[[topics]]`: the research topics, each a query in paperboy's query language.

use std::collections::HashSet;

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
}

pub(super) fn validate(raw: Vec<RawTopic>, problems: &mut Vec<Problem>) -> Vec<TopicConfig> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, topic) in raw.into_iter().enumerate() {
        let path = format!("topics[{i}]");
        let id = check_id(topic.id, &path, &mut seen, problems);
        let label = id
            .as_deref()
            .map(|id| format!("{path} ({id})"))
            .unwrap_or(path.clone());
        let query = match topic.query {
            None => {
                problems.push(Problem::new(
                    format!("{label}.query"),
                    "missing; write `*` to match every paper",
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
        let group = match topic.group {
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
            });
        }
    }
    out
}
