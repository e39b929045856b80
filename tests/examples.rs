//! Topics learned from example papers (`like`, `unlike`, `min_score`), against the real binary
//! on the offline snapshots: `check` names examples the store lacks and how to fetch them;
//! one `ingest` fetches them, trains the topic and scores the papers; the feeds carry each
//! paper's score in all three formats (the clients test validates every topic's feeds with
//! jing, feedparser and the JSON Feed schema, this one included), best first with
//! `?sort=relevance`; `explain` shows why; changing the examples and sending `SIGHUP` scores the
//! topic again; and a `serve` whose own polls bring the examples trains the topic.

mod common;

use common::{entry_ids, get, run, Serve};

const TOPIC: &str = "like-diffusion-llms";
const LIKED: [&str; 2] = ["2604.26951", "2604.26841"];
const MIN_SCORE: f32 = 0.25;

/// The numbers of every `<paperboy:score>` element.
fn scores(xml: &str) -> Vec<f32> {
    xml.split("<paperboy:score>")
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap().parse().expect("a number"))
        .collect()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_topic_of_example_papers_is_scored_served_and_scored_again_when_they_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::offline_config(dir.path(), "");

    // Before any ingest, check names the missing examples and a source that fetches them.
    let out = run(&path, &["check"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains(&format!(
            "topic {TOPIC}: 2 example papers are not in the store"
        )),
        "{said}"
    );
    assert!(said.contains("id_list=2604.26841,2604.26951"), "{said}");
    assert!(
        !dir.path().join("store.sled").exists(),
        "check creates no store"
    );

    // One ingest fetches them (the offline sources hold them), trains and scores.
    let out = run(&path, &["ingest"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("example papers arrived"),
        "{}",
        text(&out)
    );
    let out = run(&path, &["check"]);
    assert!(!text(&out).contains("not in the store"), "{}", text(&out));

    // explain: the relevance, the closest example and the words that weigh most.
    let out = run(&path, &["explain", TOPIC, LIKED[0]]);
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains(&format!("topic {TOPIC} (")) && said.contains("IN this topic"),
        "{said}"
    );
    assert!(
        said.contains("✓ relevance 0.") && said.contains("(min_score 0.25)"),
        "{said}"
    );
    assert!(
        said.contains("closest examples:\n    0.") && said.contains(LIKED[1]),
        "{said}"
    );
    assert!(said.contains("words that weigh most: diffusion"), "{said}");
    let out = run(&path, &["explain", TOPIC, "1201.4869"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains("NOT in this topic") && said.contains("✗ relevance"),
        "{said}"
    );

    let serve = Serve::start(&path);
    let base = &serve.base;
    let atom = get(&format!("{base}/feeds/{TOPIC}.atom")).text();
    assert!(atom.contains("xmlns:paperboy=\"urn:paperboy:feed:1\""));
    let ids = entry_ids(atom.as_bytes());
    let atom_scores = scores(&atom);
    assert!(ids.len() >= 3, "{ids:?}");
    assert_eq!(atom_scores.len(), ids.len(), "a score on every entry");
    assert!(
        atom_scores.iter().all(|s| (MIN_SCORE..=1.0).contains(s)),
        "{atom_scores:?}"
    );
    for liked in LIKED {
        assert!(
            ids.iter().any(|id| id.contains(liked)),
            "{liked} is in its own topic: {ids:?}"
        );
    }
    assert!(atom.contains("Relevance 0."), "the entry says it in words");

    let rss = get(&format!("{base}/feeds/{TOPIC}.rss")).text();
    assert!(rss.contains("xmlns:paperboy=\"urn:paperboy:feed:1\""));
    assert_eq!(scores(&rss), atom_scores, "the same scores in RSS");
    let json: serde_json::Value =
        serde_json::from_slice(&get(&format!("{base}/feeds/{TOPIC}.json")).body).unwrap();
    let json_scores: Vec<f32> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["_paperboy"]["score"].as_f64().expect("a score") as f32)
        .collect();
    assert_eq!(json_scores, atom_scores, "the same scores in JSON Feed");

    // The topic's page says what it learned from and shows each paper's relevance.
    let page = get(&format!("{base}/topics/{TOPIC}")).text();
    assert!(
        page.contains("Learned from 2 example papers: papers with a relevance of 0.25 or more"),
        "{page}"
    );
    assert!(page.contains(&format!("/feeds/{TOPIC}.atom?sort=relevance")));
    assert_eq!(
        page.matches("relevance 0.").count(),
        ids.len().min(50),
        "{page}"
    );

    // Best first, a page at a time, with `?sort=relevance`.
    let mut ranked: Vec<(String, f64)> = Vec::new();
    let mut url = format!("{base}/feeds/{TOPIC}.json?sort=relevance&limit=2");
    let mut pages = 0;
    loop {
        let reply = get(&url);
        assert_eq!(reply.status, 200, "{url}");
        let page: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        for item in page["items"].as_array().unwrap() {
            ranked.push((
                item["id"].as_str().unwrap().to_string(),
                item["_paperboy"]["score"].as_f64().unwrap(),
            ));
        }
        pages += 1;
        match page["next_url"].as_str() {
            // The link names the configured base URL; this server listens elsewhere.
            Some(next) => url = format!("{base}{}", &next[next.find("/feeds/").unwrap()..]),
            None => break,
        }
        assert!(pages < 50, "paging ends");
    }
    assert!(pages >= 2, "{pages} pages");
    assert!(
        ranked.windows(2).all(|w| w[0].1 >= w[1].1),
        "best first across pages: {ranked:?}"
    );
    let mut by_rank: Vec<String> = ranked.iter().map(|(id, _)| id.clone()).collect();
    let mut by_date = common::entry_ids(&get(&format!("{base}/feeds/{TOPIC}.json?limit=500")).body);
    by_rank.sort();
    by_date.sort();
    assert_eq!(
        by_rank, by_date,
        "every paper once, none skipped or repeated"
    );
    for bad in [
        format!("{base}/feeds/generalization.atom?sort=relevance"),
        format!("{base}/feeds/{TOPIC}.atom?sort=stars"),
    ] {
        assert_eq!(get(&bad).status, 400, "{bad}");
    }

    // A topic written as a query carries no score.
    let plain = get(&format!("{base}/feeds/generalization.atom")).text();
    assert!(!plain.contains("paperboy:score") && !plain.contains("urn:paperboy:feed"));
    // Other examples, on SIGHUP: the topic is scored again while serving.
    let config = std::fs::read_to_string(&path).unwrap();
    let changed = config.replace(
        r#"like = ["2604.26951", "arXiv:2604.26841"]"#,
        r#"like = ["1201.4869", "cond-mat/0603029"]"#,
    );
    assert_ne!(config, changed, "the offline config has the example topic");
    std::fs::write(&path, changed).unwrap();
    assert!(common::signal(&serve.child, "HUP"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let atom = get(&format!("{base}/feeds/{TOPIC}.atom")).text();
        let ids = entry_ids(atom.as_bytes());
        let new_in = ids.iter().any(|id| id.contains("1201.4869"));
        let old_out = !ids.iter().any(|id| LIKED.iter().any(|l| id.contains(l)));
        if new_in && old_out {
            assert_eq!(scores(&atom).len(), ids.len());
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not scored again after SIGHUP: {ids:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // The examples replaced by a query: the papers that stay show no stale score.
    let config = std::fs::read_to_string(&path).unwrap();
    let plain = config
        .replace(
            r#"like = ["1201.4869", "cond-mat/0603029"]"#,
            "query = \"*\"",
        )
        .replace("min_score = 0.25\n", "");
    std::fs::write(&path, plain).unwrap();
    assert!(common::signal(&serve.child, "HUP"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let atom = get(&format!("{base}/feeds/{TOPIC}.atom?limit=500")).text();
        let ids = entry_ids(atom.as_bytes());
        if ids.len() > 20 {
            assert!(!atom.contains("paperboy:score"), "stale scores");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not re-tagged as a query topic: {ids:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    drop(serve);
}

#[test]
fn examples_fetched_while_serving_train_the_topic() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::offline_config(dir.path(), "");
    // No ingest first: serve's own polls bring the example papers in.
    let serve = Serve::start(&path);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let atom = get(&format!("{}/feeds/{TOPIC}.atom", serve.base)).text();
        let ids = entry_ids(atom.as_bytes());
        if LIKED.iter().all(|l| ids.iter().any(|id| id.contains(l))) {
            assert_eq!(scores(&atom).len(), ids.len());
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the topic was not trained once its examples arrived: {ids:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
