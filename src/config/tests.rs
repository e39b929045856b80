//! The config's validation, end to end: text in, a [`Config`] or every problem out.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/paperboy"), "test.toml")
}

#[test]
fn a_full_config_validates() {
    let config = parse(
        r#"
        [server]
        listen = "127.0.0.1:9000"
        base_url = "https://papers.example.org/"
        [store]
        path = "data/x.sled"
        [[sources]]
        id = "arxiv-cs-lg"
        kind = "feed"
        url = "https://rss.arxiv.org/rss/cs.LG"
        every = "30m"
        [[sources]]
        id = "local"
        kind = "feed"
        url = "file://../feeds/x.xml"
        [[topics]]
        id = "generalization"
        title = "Generalization"
        query = 'generaliz* OR "out-of-distribution"'
        "#,
    )
    .expect("valid");
    assert_eq!(config.server.listen.port(), 9000);
    assert_eq!(config.server.base_url, "https://papers.example.org");
    assert_eq!(config.store.path, Path::new("/etc/paperboy/data/x.sled"));
    assert_eq!(config.sources[0].every, Duration::from_secs(1800));
    assert_eq!(config.sources[1].every, DEFAULT_EVERY);
    assert_eq!(
        config.sources[1].location,
        Location::File(PathBuf::from("/etc/paperboy/../feeds/x.xml"))
    );
    assert_eq!(config.topics[0].title, "Generalization");
}

/// The problems validation finds in `text`, which must be invalid.
fn problems_of(text: &str) -> Vec<Problem> {
    match parse(text) {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        Err(e) => panic!("expected problems, got {e}"),
        Ok(_) => panic!("expected problems, got a valid config"),
    }
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let problems = problems_of(
        r#"
        [server]
        listen = "nope"
        [[sources]]
        id = "Bad_Id"
        kind = "gopher"
        url = "ftp://x"
        every = "5s"
        [[sources]]
        id = "dup"
        kind = "feed"
        url = "https://a.example/feed"
        [[sources]]
        id = "dup"
        kind = "feed"
        [[topics]]
        id = "t"
        query = "a OR"
        "#,
    );
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "server.listen",
            "sources[0].id",
            "sources[0].kind",
            "sources[0].url",
            "sources[0].every",
            "sources[2].id",
            "sources[2].url",
            "topics[0] (t).query"
        ]
    );
    assert!(
        problems[7].message.contains("at position 5"),
        "{}",
        problems[7]
    );
}

#[test]
fn server_limits_have_defaults_and_bounds() {
    let config = parse("").unwrap();
    assert_eq!(config.server.header_timeout, DEFAULT_HEADER_TIMEOUT);
    assert_eq!(config.server.max_connections, DEFAULT_MAX_CONNECTIONS);
    assert_eq!(
        config.server.max_header_bytes,
        DEFAULT_MAX_HEADER_KIB * 1024
    );
    assert_eq!(config.server.cache_bytes, 64 << 20);
    assert_eq!(config.server.window, Duration::from_secs(2 * 86_400));
    assert_eq!(config.server.max_entries, 1000);
    let config = parse(
        "[server]\nheader_timeout = \"2s\"\nwrite_timeout = \"1m\"\nmax_header_kib = 8\n\
         max_connections = 10\nshutdown_timeout = \"5s\"\nrequest_timeout = \"3s\"\n\
         cache_mib = 3\nwindow = \"36h\"\nmax_entries = 200\n",
    )
    .unwrap();
    assert_eq!(config.server.header_timeout, Duration::from_secs(2));
    assert_eq!(config.server.write_timeout, Duration::from_secs(60));
    assert_eq!(config.server.request_timeout, Duration::from_secs(3));
    assert_eq!(config.server.shutdown_timeout, Duration::from_secs(5));
    assert_eq!(config.server.max_header_bytes, 8192);
    assert_eq!(config.server.max_connections, 10);
    assert_eq!(config.server.cache_bytes, 3 << 20);
    assert_eq!(config.server.window, Duration::from_secs(36 * 3600));
    assert_eq!(config.server.max_entries, 200);
    // Zero, absurdly long (they would overflow timers) and out-of-range values are errors.
    let problems = problems_of(
        "[server]\nheader_timeout = \"0s\"\nwrite_timeout = \"30days\"\n\
         max_connections = 0\nmax_header_kib = 4096\ncache_mib = 0\nwindow = \"2years\"\n\
         max_entries = 10\n\
         [[sources]]\nid = \"s\"\nkind = \"feed\"\nurl = \"https://a.example/\"\nevery = \"2years\"\n",
    );
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "server.header_timeout",
            "server.write_timeout",
            "server.window",
            "server.max_header_kib",
            "server.max_connections",
            "server.cache_mib",
            "server.max_entries",
            "sources[0].every"
        ],
        "{problems:?}"
    );
}

#[test]
fn trusted_proxies_are_addresses_or_networks() {
    assert!(parse("").unwrap().server.trusted_proxies.is_empty());
    let config = parse(
        "[server]\ntrusted_proxies = [\"127.0.0.1\", \"10.1.2.3/8\", \"::1\", \"fd00::/8\"]\n",
    )
    .unwrap();
    let shown: Vec<String> = config
        .server
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(shown, ["127.0.0.1/32", "10.0.0.0/8", "::1/128", "fd00::/8"]);
    let problems = problems_of("[server]\ntrusted_proxies = [\"nginx\", \"10.0.0.0/33\"]\n");
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.iter().all(|p| p.path == "server.trusted_proxies"));
    assert!(problems[0].message.contains("\"nginx\""), "{}", problems[0]);
}

#[test]
fn topics_may_have_groups() {
    let config = parse(
        "[[topics]]\nid = \"a\"\nquery = \"x\"\ngroup = \"alice\"\n\
         [[topics]]\nid = \"b\"\nquery = \"y\"\n\
         [[topics]]\nid = \"c\"\nquery = \"z\"\ngroup = \"alice\"\n\
         [[topics]]\nid = \"d\"\nquery = \"w\"\ngroup = \"bob\"\n",
    )
    .unwrap();
    let ids = |group: &str| -> Option<Vec<String>> {
        config
            .group(group)
            .map(|topics| topics.iter().map(|t| t.id.clone()).collect())
    };
    assert_eq!(ids("alice"), Some(vec!["a".into(), "c".into()]));
    assert_eq!(ids("bob"), Some(vec!["d".into()]));
    assert_eq!(ids("carol"), None);
    assert_eq!(
        config.groups().collect::<Vec<_>>(),
        [("alice", 2), ("bob", 1)]
    );
    assert_eq!(config.topic("c").map(|t| t.query_text.as_str()), Some("z"));
    assert!(config.topic("e").is_none());
    let problems = problems_of("[[topics]]\nid = \"a\"\nquery = \"x\"\ngroup = \"Alice Smith\"\n");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "topics[0] (a).group");
}

#[test]
fn unknown_keys_are_errors() {
    let err = parse("[server]\nlisten = \"127.0.0.1:1\"\nport = 3\n").expect_err("unknown key");
    assert!(err.to_string().contains("port"), "{err}");
}

#[test]
fn fingerprint_changes_with_queries_only() {
    let a = parse("[[topics]]\nid = \"a\"\nquery = \"x\"\n").unwrap();
    let b = parse("[[topics]]\nid = \"a\"\ntitle = \"A\"\nquery = \"x\"\n").unwrap();
    let c = parse("[[topics]]\nid = \"a\"\nquery = \"y\"\n").unwrap();
    assert_eq!(a.topic_fingerprints(), b.topic_fingerprints());
    assert_ne!(a.topic_fingerprints(), c.topic_fingerprints());
}

#[test]
fn a_kind_takes_its_own_keys_and_names_the_owner_of_others() {
    let config = parse(
        "[[sources]]\nid = \"a\"\nkind = \"arxiv\"\ncategories = [\"cs.LG\", \"stat.ML\"]\n\
         [[sources]]\nid = \"q\"\nkind = \"arxiv-api\"\nquery = \"cat:cs.LG\"\nmax_results = 250\n\
         [[sources]]\nid = \"h\"\nkind = \"hf-daily\"\n\
         [[sources]]\nid = \"o\"\nkind = \"arxiv-oai\"\nurl = \"https://export.arxiv.org/oai2?verb=ListRecords\"\n",
    )
    .unwrap();
    assert_eq!(
        config.sources[0].url,
        "https://rss.arxiv.org/rss/cs.LG+stat.ML"
    );
    assert!(config.sources[1].url.contains("search_query=cat%3Acs.LG"));
    assert_eq!(config.sources[1].max_results, Some(250));
    assert_eq!(
        config.sources[2].url,
        crate::sources::hf_daily::DAILY_PAPERS_URL
    );
    assert_eq!(config.sources[3].max_results, Some(1000));
    assert_eq!(config.sources[0].max_results, None);
    // arXiv's API host is gapped by default, once.
    let gaps: Vec<&str> = config
        .fetch
        .host_gaps
        .iter()
        .map(|(h, _)| h.as_str())
        .collect();
    assert_eq!(gaps, vec!["export.arxiv.org"]);

    let problems = problems_of(
        "[[sources]]\nid = \"f\"\nkind = \"feed\"\nurl = \"https://a.example/\"\ncategories = [\"cs.LG\"]\nmax_results = 5\nwhatever = 1\n\
         [[sources]]\nid = \"a\"\nkind = \"arxiv\"\ncategories = [\"CS LG\"]\n\
         [[sources]]\nid = \"b\"\nkind = \"arxiv\"\n\
         [[sources]]\nid = \"q\"\nkind = \"arxiv-api\"\nquery = \"x\"\nurl = \"https://export.arxiv.org/api/query\"\nmax_results = 0\n\
         [[sources]]\nid = \"w\"\nkind = \"arxiv\"\ncategories = \"cs.LG\"\n\
         [[sources]]\nid = \"big\"\nkind = \"arxiv-api\"\nquery = \"x\"\nmax_results = 10001\n\
         [[sources]]\nid = \"all\"\nkind = \"arxiv-oai\"\nurl = \"https://export.arxiv.org/oai2?verb=ListRecords&metadataPrefix=arXiv\"\nmax_results = 3000000\n\
         [[sources]]\nid = \"none\"\nkind = \"arxiv-oai\"\nurl = \"https://export.arxiv.org/oai2?verb=ListRecords&metadataPrefix=arXiv\"\nmax_results = 0\n",
    );
    let found: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        vec![
            "sources[0].categories: only `arxiv` sources take categories, not `feed`",
            "sources[0].max_results: only `arxiv-api`, `arxiv-oai` sources take max_results, not `feed`",
            "sources[0].whatever: unknown key; a `feed` source takes id, kind, url, every",
            "sources[1].categories: [\"CS LG\"] are not arXiv categories such as \"cs.LG\" or \"hep-th\"",
            "sources[2].url: missing (or categories)",
            "sources[3].query: give either url or query, not both",
            "sources[3].max_results: 0 is not between 1 and 10000, the most this kind's service answers",
            "sources[4].categories: must be a list of strings, not \"cs.LG\"",
            "sources[5].max_results: 10001 is not between 1 and 10000, the most this kind's service answers",
            // A harvest of all of arXiv is one poll.
            "sources[7].max_results: 0 is not at least 1",
        ],
        "{found:#?}"
    );
}

#[test]
fn the_store_cache_is_bounded_by_cache_mib() {
    assert_eq!(parse("").unwrap().store.cache_bytes, 64 << 20);
    let config = parse("[store]\ncache_mib = 256\n").unwrap();
    assert_eq!(config.store.cache_bytes, 256 << 20);
    let found: Vec<String> = problems_of("[store]\ncache_mib = 1\n")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(found, vec!["store.cache_mib: 1 is not between 8 and 65536"]);
}

#[test]
fn ingest_compacts_the_store_unless_told_not_to() {
    assert!(parse("").unwrap().store.auto_compact);
    assert!(
        !parse("[store]\nauto_compact = false\n")
            .unwrap()
            .store
            .auto_compact
    );
    assert!(parse("[store]\nauto_compact = \"no\"\n").is_err());
}

#[test]
fn topics_may_learn_from_example_papers() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bibtex");
    let config = Config::parse(
        "[[topics]]\nid = \"a\"\nlike = [\"0704.0002\", \"arXiv:0803.1234\", \"10.1016/j.disc.2007.07.104\"]\n\
         unlike = [\"https://arxiv.org/abs/0705.4321\"]\nmin_score = 0.35\n\
         [[topics]]\nid = \"b\"\nquery = \"cat:cs.*\"\nlike_file = \"zotero.bib\"\n\
         [[topics]]\nid = \"c\"\nquery = \"x\"\n",
        &fixtures,
        "test.toml",
    )
    .unwrap();
    let a = config.topic("a").unwrap();
    assert_eq!(a.query_text, "*", "examples alone: every paper is scored");
    let examples = a.examples.as_ref().unwrap();
    assert_eq!(examples.like.len(), 3);
    assert_eq!(examples.unlike, ["https://arxiv.org/abs/0705.4321"]);
    assert_eq!(examples.min_score, Some(0.35));
    let b = config.topic("b").unwrap().examples.as_ref().unwrap();
    assert!(
        b.like.contains(&"arXiv:1706.03762".to_string()),
        "{:?}",
        b.like
    );
    assert!(b.like.contains(&"10.1038/s41586-021-03819-2".to_string()));
    assert_eq!(
        b.like_file.as_deref(),
        Some(fixtures.join("zotero.bib").as_path())
    );
    assert_eq!(b.min_score, None, "derived from the examples");
    assert!(config.topic("c").unwrap().examples.is_none());

    let problems = Config::parse(
        "[[topics]]\nid = \"a\"\nlike = [\"not a paper\"]\nmin_score = 1.5\n\
         [[topics]]\nid = \"b\"\nunlike = [\"0704.0002\"]\n\
         [[topics]]\nid = \"c\"\nlike_file = \"malformed.bib\"\n\
         [[topics]]\nid = \"d\"\nlike_file = \"absent.bib\"\n\
         [[topics]]\nid = \"e\"\n",
        &fixtures,
        "test.toml",
    )
    .map(|_| ())
    .expect_err("invalid");
    let ConfigError::Invalid { problems, .. } = problems else {
        panic!("{problems}")
    };
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "topics[0] (a).like[0]",
            "topics[0] (a).min_score",
            "topics[1] (b).like",
            "topics[2] (c).like_file",
            "topics[3] (d).like_file",
            "topics[4] (e).query",
        ],
        "{problems:?}"
    );
    assert!(
        problems[3].message.contains("line"),
        "{}",
        problems[3].message
    );
    assert!(problems[4].message.contains("cannot be read"));
}

#[test]
fn fingerprint_follows_examples_and_threshold() {
    let fp = |extra: &str| {
        parse(&format!("[[topics]]\nid = \"a\"\nquery = \"x\"\n{extra}"))
            .unwrap()
            .topic_fingerprints()
    };
    assert_ne!(fp(""), fp("like = [\"0704.0002\"]\n"));
    assert_ne!(
        fp("like = [\"0704.0002\"]\n"),
        fp("like = [\"0704.0003\"]\n")
    );
    assert_ne!(
        fp("like = [\"0704.0002\"]\n"),
        fp("like = [\"0704.0002\"]\nmin_score = 0.5\n")
    );
    assert_ne!(
        fp("like = [\"0704.0002\"]\n"),
        fp("like = [\"0704.0002\"]\nunlike = [\"0704.0003\"]\n")
    );
}
