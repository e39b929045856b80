//! HTML pages for people: the index listing topics and sources. Pure: data in, HTML out. All
//! text from config or sources is escaped; the page needs no external assets.

use chrono::{DateTime, Utc};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use crate::model::SourceState;

/// A topic as the index shows it.
pub struct TopicRow<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub query: &'a str,
    pub count: u64,
    pub newest: Option<DateTime<Utc>>,
}

/// A source as the index shows it.
pub struct SourceRow<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub url: &'a str,
    pub state: SourceState,
}

/// The index page: every topic with its feed and autodiscovery link, every source with its
/// last fetch and result.
pub fn index(base_url: &str, topics: &[TopicRow<'_>], sources: &[SourceRow<'_>]) -> String {
    let mut head_links = String::new();
    for t in topics {
        head_links.push_str(&format!(
            "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"{}\" href=\"{}/feeds/{}.atom\">\n",
            attr(t.title),
            attr(base_url),
            attr(t.id)
        ));
    }
    let mut topic_rows = String::new();
    for t in topics {
        let newest = t
            .newest
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| "–".into());
        topic_rows.push_str(&format!(
            "<tr><td><strong>{}</strong><br><code>{}</code></td><td class=\"n\">{}</td><td>{}</td>\
             <td><a href=\"{}/feeds/{}.atom\">Atom</a></td></tr>\n",
            text(t.title),
            text(t.query),
            t.count,
            newest,
            attr(base_url),
            attr(t.id),
        ));
    }
    let mut source_rows = String::new();
    for s in sources {
        let last_fetch = s
            .state
            .last_fetch
            .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "never".into());
        let result = s
            .state
            .last_result
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_else(|| "not fetched yet".into());
        let class = match &s.state.last_result {
            Some(crate::model::FetchResult::Failed { .. }) => " class=\"err\"",
            _ => "",
        };
        source_rows.push_str(&format!(
            "<tr><td><strong>{}</strong> <small>({})</small><br><small>{}</small></td><td>{}</td><td{}>{}</td></tr>\n",
            text(s.id),
            text(s.kind),
            text(s.url),
            last_fetch,
            class,
            text(&result),
        ));
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>paperboy</title>
{head_links}<style>
body {{ font-family: system-ui, sans-serif; max-width: 60rem; margin: 1rem auto; padding: 0 1rem; line-height: 1.4; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .4rem; border-bottom: 1px solid #ddd; vertical-align: top; }}
td.n {{ text-align: right; }}
code, small {{ color: #555; overflow-wrap: anywhere; }}
.err {{ color: #a00; }}
</style>
</head>
<body>
<h1>paperboy</h1>
<p>One feed per research topic. Subscribe to a topic's feed in any feed reader.</p>
<h2>Topics</h2>
<table>
<thead><tr><th>Topic</th><th>Papers</th><th>Newest</th><th>Feed</th></tr></thead>
<tbody>
{topic_rows}</tbody>
</table>
<h2>Sources</h2>
<table>
<thead><tr><th>Source</th><th>Last fetch</th><th>Last result</th></tr></thead>
<tbody>
{source_rows}</tbody>
</table>
</body>
</html>
"#
    )
}
