//! Pages for people: the index of topics and sources, a topic's newest papers, and the OPML
//! list of every feed. Pure: data in, markup out. All text from the config or from sources is
//! escaped; the pages need no external assets.

use chrono::{DateTime, Utc};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use crate::model::{LinkKind, PollResult, SourceState, StoredPaper};
use crate::pipeline::redact;
use crate::pipeline::render::Format;

/// A topic as the pages show it.
pub(super) struct TopicRow<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub query: &'a str,
    pub count: u64,
    pub newest: Option<DateTime<Utc>>,
    pub group: Option<&'a str>,
}

/// A group of topics as the index shows it.
pub(super) struct GroupRow<'a> {
    pub name: &'a str,
    /// How many topics it has.
    pub topics: usize,
}

/// Whether `filter` (lower-cased) is in any of `texts`, ignoring case; an empty filter is in
/// everything.
pub(super) fn filter_matches(filter: &str, texts: &[&str]) -> bool {
    filter.is_empty() || texts.iter().any(|t| t.to_lowercase().contains(filter))
}

/// A source as the index shows it.
pub(super) struct SourceRow<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub url: &'a str,
    pub state: SourceState,
}

const STYLE: &str =
    "body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 1rem auto; \
padding: 0 1rem; line-height: 1.45; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem; border-bottom: 1px solid #ddd; vertical-align: top; }
td.n { text-align: right; }
code, small, .meta { color: #555; overflow-wrap: anywhere; }
.err { color: #a00; }
article { border-bottom: 1px solid #ddd; padding: .6rem 0; }
article h2 { font-size: 1.1rem; margin: 0 0 .2rem; }
nav a { margin-right: .8rem; }
@media (max-width: 40rem) { table, tbody, tr, td { display: block; } thead { display: none; } }";

fn feed_url(base: &str, topic: &str, format: Format) -> String {
    format!("{base}/feeds/{topic}.{}", format.extension())
}

/// `<link rel="alternate">` for each format of a topic's feed, for autodiscovery.
fn discovery(base: &str, id: &str, title: &str) -> String {
    Format::ALL
        .into_iter()
        .map(|f| {
            format!(
                "<link rel=\"alternate\" type=\"{}\" title=\"{} ({})\" href=\"{}\">\n",
                f.media_type(),
                attr(title),
                f.extension(),
                attr(&feed_url(base, id, f))
            )
        })
        .collect()
}

/// The autodiscovery links of every topic's feeds.
fn discoveries(base: &str, topics: &[TopicRow<'_>]) -> String {
    topics
        .iter()
        .map(|t| discovery(base, t.id, t.title))
        .collect()
}

/// Links to a topic's three feeds.
fn feed_links(base: &str, id: &str) -> String {
    Format::ALL
        .into_iter()
        .map(|f| {
            format!(
                "<a href=\"{}\">{}</a>",
                attr(&feed_url(base, id, f)),
                f.label()
            )
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

fn page(title: &str, head: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n{head}<style>\n{STYLE}\n</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        text(title)
    )
}

fn day(date: Option<DateTime<Utc>>) -> String {
    date.map_or_else(|| "–".into(), |d| d.format("%Y-%m-%d").to_string())
}

/// The index page: the groups of topics (with how many each has) and every topic in no group
/// with its feeds, page and autodiscovery links, both narrowed by `filter` (its form is on the
/// page); then every source with its last fetch, result and next poll.
pub(super) fn index(
    base_url: &str,
    topics: &[TopicRow<'_>],
    groups: &[GroupRow<'_>],
    sources: &[SourceRow<'_>],
    filter: &str,
) -> String {
    let mut head = discoveries(base_url, topics);
    head.push_str(&format!(
        "<link rel=\"outline\" type=\"text/x-opml\" title=\"All topic feeds\" href=\"{}/feeds.opml\">\n",
        attr(base_url)
    ));
    let topic_rows = topic_table(base_url, topics);
    let mut group_rows = String::new();
    for g in groups {
        group_rows.push_str(&format!(
            "<tr><td><a href=\"{base}/groups/{name}\"><strong>{shown}</strong></a></td>\
             <td class=\"n\">{}</td><td><a href=\"{base}/groups/{name}.opml\">OPML</a></td></tr>\n",
            g.topics,
            base = attr(base_url),
            name = attr(g.name),
            shown = text(g.name),
        ));
    }
    let groups_table = if group_rows.is_empty() {
        String::new()
    } else {
        format!(
            "<h2>Groups</h2>\n<table>\n<thead><tr><th>Group</th><th>Topics</th><th>Subscribe</th></tr></thead>\n\
             <tbody>\n{group_rows}</tbody>\n</table>\n"
        )
    };
    let topics_table = if topics.is_empty() && !groups.is_empty() {
        String::new()
    } else {
        format!("<h2>Topics</h2>\n{topic_rows}")
    };
    let nothing = if topics.is_empty() && groups.is_empty() && !filter.is_empty() {
        "<p>No group or topic matches the filter.</p>\n"
    } else {
        ""
    };
    let mut source_rows = String::new();
    for s in sources {
        let when = |d: Option<DateTime<Utc>>, none: &str| {
            d.map_or_else(
                || none.into(),
                |d| d.format("%Y-%m-%d %H:%M UTC").to_string(),
            )
        };
        let result = s
            .state
            .last_result
            .as_ref()
            .map_or_else(|| "not fetched yet".into(), ToString::to_string);
        // A source URL's credentials stay private, in the URL and in messages that quote it.
        let result = redact::in_text(&result, s.url);
        let class = match &s.state.last_result {
            Some(PollResult::Failed { .. }) => " class=\"err\"",
            _ => "",
        };
        let moved = s
            .state
            .moved_to
            .as_ref()
            .map(|to| {
                format!(
                    "<br><small>moved permanently to {}</small>",
                    text(&redact::url(to))
                )
            })
            .unwrap_or_default();
        source_rows.push_str(&format!(
            "<tr><td><strong>{}</strong> <small>({})</small><br><small>{}</small>{moved}</td><td>{}</td>\
             <td{}>{}</td><td>{}</td></tr>\n",
            text(s.id),
            text(s.kind),
            text(&redact::url(s.url)),
            when(s.state.last_fetch, "never"),
            class,
            text(&result),
            match (&s.state.gone, s.state.next_poll) {
                (true, _) => "never (gone)".to_string(),
                (false, next) => when(next, "–"),
            },
        ));
    }
    let body = format!(
        "<h1>paperboy</h1>\n<p>One feed per research topic. Subscribe to a topic's feed in any \
         feed reader, or to <a href=\"{base}/feeds.opml\">all of them at once (OPML)</a>. Any \
         query is a feed too: try one.</p>\n{form}{filter_form}{nothing}{groups_table}{topics_table}{sources}",
        base = attr(base_url),
        form = search_form(base_url, ""),
        filter_form = filter_form(&format!("{base_url}/"), filter),
        // `server.show_sources = false` (no rows given) leaves the table out.
        sources = if sources.is_empty() {
            String::new()
        } else {
            format!(
                "<h2>Sources</h2>\n<table>\n\
                 <thead><tr><th>Source</th><th>Last fetch</th><th>Last result</th><th>Next poll</th></tr></thead>\n\
                 <tbody>\n{source_rows}</tbody>\n</table>\n"
            )
        }
    );
    page("paperboy", &head, &body)
}

/// Topics as a table: title (linked to its page) and query, papers, newest, feeds.
fn topic_table(base_url: &str, topics: &[TopicRow<'_>]) -> String {
    let mut rows = String::new();
    for t in topics {
        rows.push_str(&format!(
            "<tr><td><a href=\"{}/topics/{}\"><strong>{}</strong></a><br><code>{}</code></td>\
             <td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>\n",
            attr(base_url),
            attr(t.id),
            text(t.title),
            text(t.query),
            t.count,
            day(t.newest),
            feed_links(base_url, t.id),
        ));
    }
    format!(
        "<table>\n<thead><tr><th>Topic</th><th>Papers</th><th>Newest</th><th>Feeds</th></tr></thead>\n\
         <tbody>\n{rows}</tbody>\n</table>\n"
    )
}

/// A form that narrows the page at `action` to the groups and topics whose names, titles or
/// queries hold the text (sent to this server: the pages run no scripts).
fn filter_form(action: &str, filter: &str) -> String {
    format!(
        "<form action=\"{}\" method=\"get\"><input type=\"search\" name=\"filter\" value=\"{}\" \
         size=\"30\" placeholder=\"group, topic or word\" aria-label=\"Filter topics\"> \
         <button type=\"submit\">Filter</button></form>\n",
        attr(action),
        attr(filter)
    )
}

/// A group's page: its topics, as the index lists topics, with the OPML that subscribes a
/// reader to exactly those.
pub(super) fn group(base_url: &str, name: &str, topics: &[TopicRow<'_>], filter: &str) -> String {
    let mut head = discoveries(base_url, topics);
    head.push_str(&format!(
        "<link rel=\"outline\" type=\"text/x-opml\" title=\"{} topic feeds\" href=\"{}/groups/{}.opml\">\n",
        attr(name),
        attr(base_url),
        attr(name)
    ));
    let body = format!(
        "<nav><a href=\"{base}/\">← all topics</a></nav>\n<h1>{shown}</h1>\n<p>{count} · subscribe to \
         <a href=\"{base}/groups/{name}.opml\">all of them at once (OPML)</a>.</p>\n{form}{table}",
        base = attr(base_url),
        shown = text(name),
        name = attr(name),
        count = if topics.len() == 1 && filter.is_empty() {
            "1 topic".to_string()
        } else if filter.is_empty() {
            format!("{} topics", topics.len())
        } else {
            format!("{} topics match the filter", topics.len())
        },
        form = filter_form(&format!("{base_url}/groups/{name}"), filter),
        table = topic_table(base_url, topics),
    );
    page(&format!("{name} · paperboy"), &head, &body)
}

/// A topic learned from examples as its page describes it: how many liked papers, and the
/// relevance its papers need.
pub(super) struct Learned {
    pub liked: usize,
    pub min_score: f32,
}

/// A topic's newest papers as a page: title, authors, date, abstract and links of each.
pub(super) fn topic(
    base_url: &str,
    row: &TopicRow<'_>,
    learned: Option<&Learned>,
    papers: &[StoredPaper],
) -> String {
    let head = discovery(base_url, row.id, row.title);
    let mut body = format!(
        "<nav><a href=\"{}/\">← all topics</a>{}</nav>\n<h1>{}</h1>\n<p class=\"meta\"><code>{}</code><br>\
         {} papers · feeds: {}</p>\n",
        attr(base_url),
        row.group
            .map(|g| format!(
                "<a href=\"{}/groups/{}\">group {}</a>",
                attr(base_url),
                attr(g),
                text(g)
            ))
            .unwrap_or_default(),
        text(row.title),
        text(row.query),
        row.count,
        feed_links(base_url, row.id)
    );
    if let Some(learned) = learned {
        let feed = format!("{}/feeds/{}", attr(base_url), attr(row.id));
        body.push_str(&format!(
            "<p class=\"meta\">Learned from {} example paper{}: papers with a relevance of \
             {:.2} or more. Best first: <a href=\"{feed}.atom?sort=relevance\">Atom</a> · \
             <a href=\"{feed}.rss?sort=relevance\">RSS</a> · \
             <a href=\"{feed}.json?sort=relevance\">JSON</a></p>\n",
            learned.liked,
            if learned.liked == 1 { "" } else { "s" },
            learned.min_score
        ));
    }
    if papers.is_empty() {
        body.push_str("<p>No papers yet.</p>\n");
    }
    body.push_str(&paper_list(papers));
    page(&format!("{} · paperboy", row.title), &head, &body)
}

/// Papers as articles: title (linked to its page), authors, date, categories, abstract, links.
fn paper_list(papers: &[StoredPaper]) -> String {
    let mut out = String::new();
    for stored in papers {
        let p = &stored.paper;
        let title = match p.link(LinkKind::Page) {
            Some(link) => format!("<a href=\"{}\">{}</a>", attr(&link.href), text(&p.title)),
            None => text(&p.title).into_owned(),
        };
        let authors: Vec<&str> = p.authors.iter().map(|a| a.name.as_str()).collect();
        let links: Vec<String> = p
            .links
            .iter()
            .filter(|l| l.kind != LinkKind::Page && l.kind != LinkKind::Related)
            .map(|l| {
                let name = match l.kind {
                    LinkKind::Pdf => "PDF",
                    LinkKind::Doi => "DOI",
                    LinkKind::HuggingFace => "Hugging Face",
                    LinkKind::Code => "Code",
                    _ => "Project page",
                };
                format!("<a href=\"{}\">{name}</a>", attr(&l.href))
            })
            .collect();
        let relevance = stored
            .relevance
            .map(|r| format!("relevance {r} · "))
            .unwrap_or_default();
        out.push_str(&format!(
            "<article>\n<h2>{title}</h2>\n<p class=\"meta\">{relevance}{} · {} · {}</p>\n<p>{}</p>\n<p>{}</p>\n</article>\n",
            text(&authors.join(", ")),
            stored.updated().format("%Y-%m-%d"),
            text(&p.categories.join(", ")),
            text(&p.abstract_text),
            links.join(" · ")
        ));
    }
    out
}

/// The links to a query's three feeds.
fn search_feed_links(base: &str, query: &str) -> String {
    let q: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
    Format::ALL
        .into_iter()
        .map(|f| {
            format!(
                "<a href=\"{}\">{}</a>",
                attr(&format!("{base}/search.{}?q={q}", f.extension())),
                f.label()
            )
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A search form, prefilled with `query`.
pub(super) fn search_form(base_url: &str, query: &str) -> String {
    format!(
        "<form action=\"{}/search\" method=\"get\"><input type=\"search\" name=\"q\" value=\"{}\" \
         size=\"60\" placeholder=\"ti:diffusion AND cat:cs.*\" aria-label=\"Query\"> \
         <button type=\"submit\">Search</button></form>\n",
        attr(base_url),
        attr(query)
    )
}

/// The preview of a query: `Ok(None)` when none was given, `Err` with the parser's message,
/// or how many papers match and the newest of them, with the query's feeds and the TOML of a
/// topic made of it.
pub(super) fn search(
    base_url: &str,
    query: &str,
    outcome: Result<Option<(usize, Vec<StoredPaper>)>, String>,
) -> String {
    let mut head = String::new();
    let mut body = format!(
        "<nav><a href=\"{}/\">← all topics</a></nav>\n<h1>Search</h1>\n{}",
        attr(base_url),
        search_form(base_url, query)
    );
    match outcome {
        Ok(None) => body.push_str(
            "<p>Write a query in the topic language (<code>ti:</code>, <code>abs:</code>, \
             <code>au:</code>, <code>cat:</code>, <code>src:</code>, AND, OR, NOT, \
             <code>\"phrases\"</code>, <code>prefix*</code>), look at what it finds, adjust, \
             then subscribe to it or make it a topic.</p>\n",
        ),
        Err(message) => body.push_str(&format!(
            "<p class=\"err\">This query does not parse: {}</p>\n",
            text(&message)
        )),
        Ok(Some((total, papers))) => {
            let q: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
            for f in Format::ALL {
                head.push_str(&format!(
                    "<link rel=\"alternate\" type=\"{}\" title=\"Search: {} ({})\" href=\"{}\">\n",
                    f.media_type(),
                    attr(query),
                    f.extension(),
                    attr(&format!("{base_url}/search.{}?q={q}", f.extension()))
                ));
            }
            let toml_query = toml::Value::String(query.to_string()).to_string();
            body.push_str(&format!(
                "<p class=\"meta\">{total} {} · feeds: {}</p>\n\
                 <details><summary>Make it a topic: add this to the config</summary>\n\
                 <pre>[[topics]]\nid = \"my-topic\"\ntitle = \"My topic\"\nquery = {}</pre>\n</details>\n",
                if total == 1 { "paper matches" } else { "papers match" },
                search_feed_links(base_url, query),
                text(&toml_query)
            ));
            if papers.is_empty() {
                body.push_str("<p>No paper matches yet.</p>\n");
            }
            body.push_str(&paper_list(&papers));
        }
    }
    page("Search · paperboy", &head, &body)
}

/// OPML 2.0 titled `title` listing each topic's Atom feed, so a reader subscribes to all at
/// once.
pub(super) fn opml(
    base_url: &str,
    title: &str,
    topics: &[TopicRow<'_>],
    created: DateTime<Utc>,
) -> String {
    use html_escape::encode_double_quoted_attribute as xml_attr;
    let mut outlines = String::new();
    for t in topics {
        outlines.push_str(&format!(
            "    <outline type=\"rss\" text=\"{}\" title=\"{}\" xmlUrl=\"{}\" htmlUrl=\"{}/topics/{}\"/>\n",
            xml_attr(t.title),
            xml_attr(t.title),
            xml_attr(&feed_url(base_url, t.id, Format::Atom)),
            xml_attr(base_url),
            xml_attr(t.id)
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">\n  <head>\n    \
         <title>{}</title>\n    <dateCreated>{}</dateCreated>\n  </head>\n  <body>\n{outlines}  </body>\n</opml>\n",
        html_escape::encode_text(title),
        created.to_rfc2822()
    )
}
