//! "More like this": `paperboy similar` and `/papers/<paper>/similar.atom` (`.rss`, `.json`)
//! on the offline snapshots, against the real binary.

mod common;

use common::{entry_ids, get, run, Serve};

#[test]
fn papers_like_one_are_listed_and_served_as_feeds() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::offline_config(dir.path(), "");
    assert!(run(&path, &["ingest"]).status.success());

    // The newest stored paper, by its display id.
    let listed = run(&path, &["search", "cat:cs.LG", "--limit", "1"]);
    let listing = String::from_utf8_lossy(&listed.stdout).into_owned();
    let id = listing
        .split_whitespace()
        .next()
        .expect("a paper in cs.LG")
        .to_string();

    let out = run(&path, &["similar", &id, "--limit", "5"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with(&format!("papers like {id}: ")));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 5, "{text}");
    let scores: Vec<f32> = rows
        .iter()
        .map(|r| r.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)), "{text}");
    assert!(
        scores.windows(2).all(|w| w[0] >= w[1]),
        "best first: {text}"
    );
    assert!(
        rows.iter()
            .all(|r| r.split_whitespace().nth(1) != Some(id.as_str())),
        "the paper itself is left out: {text}"
    );
    let missing = run(&path, &["similar", "9999.99999"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no stored paper"));

    let serve = Serve::start(&path);
    let base = &serve.base;
    let atom = get(&format!("{base}/papers/{id}/similar.atom?limit=5"));
    assert_eq!(atom.status, 200);
    assert!(atom
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/atom+xml")));
    let ids = entry_ids(&atom.body);
    assert_eq!(ids.len(), 5);
    // Not the paper itself (its entry id names its arXiv id).
    assert!(
        ids.iter().all(|entry| !entry.ends_with(&id)),
        "{ids:?} holds {id}"
    );
    let text = atom.text();
    assert!(text.contains("Papers like: "), "titled after the paper");
    assert!(
        !text.contains("rel=\"hub\""),
        "no WebSub hub for a ranked feed"
    );
    for format in ["rss", "json"] {
        let reply = get(&format!("{base}/papers/{id}/similar.{format}"));
        assert_eq!(reply.status, 200, "{format}");
        assert!(!entry_ids(&reply.body).is_empty(), "{format}");
    }
    // A 304 for a reader that has it.
    let etag = atom.header("etag").unwrap();
    let again = common::request(
        "GET",
        &format!("{base}/papers/{id}/similar.atom?limit=5"),
        &[("if-none-match", &etag)],
    )
    .unwrap();
    assert_eq!(again.status, 304);
    for (path, status) in [
        (format!("/papers/{id}/similar.atom?before=00"), 400),
        (format!("/papers/{id}/similar.atom?limit=0"), 400),
        ("/papers/9999.99999/similar.atom".to_string(), 404),
        (format!("/papers/{id}/other.atom"), 404),
        (format!("/papers/{id}"), 404),
    ] {
        assert_eq!(get(&format!("{base}{path}")).status, status, "{path}");
    }
    assert!(serve.stop().success());
}
