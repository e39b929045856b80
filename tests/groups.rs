//! A department's shared instance: 10,000 topics generated from the real abstracts'
//! vocabulary (as the benchmarks make them), in groups of 20, beside a few topics in no group.
//! `check` accepts the config, `ingest` tags exactly as the straightforward evaluator does,
//! and the groups' pages and OPML list exactly their topics.

mod common;

#[path = "../benches/support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::Path;

use common::{get, run, Serve};
use paperboy::pipeline::query::{Document, Query};
use paperboy::store::PaperStore;

const TOPICS: usize = 10_000;
const GROUPS: usize = 500;

/// The offline config with its own topics (in no group) and the 10,000 generated ones.
fn config(dir: &Path) -> std::path::PathBuf {
    let path = common::offline_config(dir, "");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str(&support::topics_toml(TOPICS, Some(GROUPS)));
    std::fs::write(&path, text).unwrap();
    path
}

/// The hrefs of `<a>` elements in `html` that start with `prefix`, in order.
fn links(html: &str, prefix: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|href| href.starts_with(prefix))
        .map(|href| href.replace("&amp;", "&"))
        .collect()
}

/// The `xmlUrl` of every outline of an OPML document, which must parse.
fn opml_feeds(text: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(text).expect("OPML is XML");
    assert_eq!(doc.root_element().tag_name().name(), "opml");
    doc.descendants()
        .filter(|n| n.has_tag_name("outline"))
        .map(|n| {
            n.attribute("xmlUrl")
                .expect("every outline has a feed")
                .to_string()
        })
        .collect()
}

#[test]
fn ten_thousand_topics_are_tagged_exactly_and_grouped() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(dir.path());
    let checked = run(&path, &["check"]);
    assert!(
        checked.status.success(),
        "check accepts 10,000 topics: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let ingested = run(&path, &["ingest"]);
    assert!(
        ingested.status.success(),
        "{}",
        String::from_utf8_lossy(&ingested.stderr)
    );

    // Every 37th generated topic against the straightforward evaluator, over every stored
    // paper: the same papers, no more, no fewer.
    let queries = support::topic_texts(TOPICS);
    {
        let store = PaperStore::open(&dir.path().join("store.sled")).unwrap();
        let mut papers = Vec::new();
        store.for_each_paper(|p| papers.push(p)).unwrap();
        assert!(papers.len() > 100, "{} papers", papers.len());
        let mut members = 0;
        for (i, text) in queries.iter().enumerate().step_by(37) {
            let query = Query::parse(text).unwrap();
            let expected: BTreeSet<String> = papers
                .iter()
                .filter(|p| query.matches(&Document::of(&p.paper)))
                .map(|p| p.key.clone())
                .collect();
            let tagged: BTreeSet<String> = store
                .topic_papers(&format!("topic-{i}"), usize::MAX)
                .unwrap()
                .into_iter()
                .map(|p| p.key)
                .collect();
            assert_eq!(tagged, expected, "topic-{i}: {text}");
            members += expected.len();
        }
        assert!(members > 0, "the sample holds papers");
    }

    let serve = Serve::start(&path);
    let base = &serve.base;
    // Links name the configured public address; requests go to where serve listens.
    let public = "http://127.0.0.1:8080";
    let local = |link: &str| link.replacen(public, base, 1);
    // The index lists the groups, with counts, and only the topics in no group.
    let index = get(&format!("{base}/")).text();
    let group_links: BTreeSet<String> = links(&index, &format!("{public}/groups/"))
        .into_iter()
        .filter(|l| !l.ends_with(".opml"))
        .collect();
    assert_eq!(group_links.len(), GROUPS);
    let offline_topics = [
        "generalization",
        "llm-reasoning",
        "diffusion-models",
        "reinforcement-learning",
        "efficient-inference",
        "federated-learning",
        "interpretability",
        "like-diffusion-llms",
    ];
    let topic_links = links(&index, &format!("{public}/topics/"));
    assert!(
        topic_links.len() < 50,
        "the index lists groups, not 10,000 topics: {} topic links",
        topic_links.len()
    );
    for t in offline_topics {
        assert!(
            topic_links.contains(&format!("{public}/topics/{t}")),
            "{t} is in no group"
        );
    }
    assert!(index.contains("name=\"filter\""), "a filter box");
    assert!(index.contains(">20</td>"), "each group's topic count");

    // The filter narrows the groups and topics to those that hold the text.
    let filtered = get(&format!("{base}/?filter=GROUP-49")).text();
    let shown: BTreeSet<String> = links(&filtered, &format!("{public}/groups/"))
        .into_iter()
        .filter(|l| !l.ends_with(".opml"))
        .collect();
    let expected: BTreeSet<String> = ["group-49", "group-490", "group-491", "group-492"]
        .iter()
        .chain(&[
            "group-493",
            "group-494",
            "group-495",
            "group-496",
            "group-497",
            "group-498",
            "group-499",
        ])
        .map(|g| format!("{public}/groups/{g}"))
        .collect();
    assert_eq!(shown, expected);

    // A group's page and OPML: exactly its topics (i % 500 == 7), each feed resolvable.
    let members: Vec<String> = (0..TOPICS)
        .filter(|i| i % GROUPS == 7)
        .map(|i| format!("topic-{i}"))
        .collect();
    let page = get(&format!("{base}/groups/group-7"));
    assert_eq!(page.status, 200);
    let policy = page.header("content-security-policy").unwrap_or_default();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    let page = page.text();
    let listed: Vec<String> = links(&page, &format!("{public}/topics/"))
        .iter()
        .map(|l| l.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(listed, members);
    assert!(page.contains(&format!("{public}/groups/group-7.opml")));
    let opml = get(&format!("{base}/groups/group-7.opml"));
    assert_eq!(opml.status, 200);
    assert!(opml
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/x-opml")));
    let feeds = opml_feeds(&opml.text());
    let expected: Vec<String> = members
        .iter()
        .map(|t| format!("{public}/feeds/{t}.atom"))
        .collect();
    assert_eq!(feeds, expected);
    for feed in &feeds {
        let reply = get(&local(feed));
        assert_eq!(reply.status, 200, "{feed}");
        assert!(reply.text().contains("<feed"), "{feed}");
    }
    // A topic's page names its group.
    let topic = get(&format!("{base}/topics/topic-7")).text();
    assert!(topic.contains(&format!("{public}/groups/group-7")));
    // Unknown groups are 404, in both forms.
    for missing in ["group-500", "nobody", "nobody.opml", "group-7.rss"] {
        assert_eq!(
            get(&format!("{base}/groups/{missing}")).status,
            404,
            "{missing}"
        );
    }
    // /feeds.opml lists every topic.
    let all = opml_feeds(&get(&format!("{base}/feeds.opml")).text());
    assert_eq!(all.len(), TOPICS + offline_topics.len());
    assert!(serve.stop().success());
}
