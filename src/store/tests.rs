//! Tests of [`PaperStore`] over both implementations of [`Store`].

use std::collections::{BTreeSet, HashSet};

use chrono::{TimeZone, Utc};

use super::keys::SCHEMA_VERSION_KEY;
use super::*;
use std::sync::Arc;

use crate::model::{Identifiers, Paper, PollResult, SourceState};
use crate::pipeline::query::Query;
use crate::pipeline::tag::{fingerprints, Tagger, TopicQuery};

fn tagger(topics: &[(&str, &str)]) -> Tagger {
    Tagger::new(
        topics
            .iter()
            .map(|(id, q)| TopicQuery {
                id: id.to_string(),
                query: Query::parse(q).unwrap(),
            })
            .collect(),
    )
}

fn paper(arxiv: &str, title: &str, day: u32) -> Paper {
    let date = Utc.with_ymd_and_hms(2026, 4, day, 0, 0, 0).unwrap();
    Paper {
        ids: Identifiers {
            arxiv: Some(arxiv.into()),
            entry: format!("src:{arxiv}"),
            ..Default::default()
        },
        version: Some(1),
        title: title.into(),
        authors: vec![],
        abstract_text: String::new(),
        links: vec![],
        categories: vec![],
        published: Some(date),
        updated: Some(date),
        sources: BTreeSet::from(["src".to_string()]),
        ..Default::default()
    }
}

fn stores() -> Vec<(&'static str, PaperStore, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let sled = PaperStore::open(&dir.path().join("db")).unwrap();
    vec![
        ("memory", PaperStore::in_memory(), None),
        ("sled", sled, Some(dir)),
    ]
}

fn titles(store: &PaperStore, topic: &str) -> Vec<String> {
    store
        .topic_papers(topic, 100)
        .unwrap()
        .into_iter()
        .map(|p| p.paper.title)
        .collect()
}

#[test]
fn batches_are_stored_indexed_and_counted() {
    let now = Utc::now();
    let t = tagger(&[("diff", "diffusion"), ("all", "*")]);
    for (name, store, _dir) in stores() {
        let batch = vec![
            paper("2604.00001", "Diffusion one", 1),
            paper("2604.00002", "Other", 2),
            paper("2604.00003", "Diffusion three", 3),
        ];
        let counts = store
            .apply_batch("src", &batch, &t, |_| SourceState::default(), now)
            .unwrap();
        assert_eq!(
            counts,
            BatchCounts {
                new: 3,
                updated: 0,
                unchanged: 0
            },
            "{name}"
        );
        assert_eq!(
            titles(&store, "diff"),
            vec!["Diffusion three", "Diffusion one"],
            "{name}"
        );
        assert_eq!(store.topic_count("diff").unwrap(), 2, "{name}");
        assert_eq!(store.topic_count("all").unwrap(), 3, "{name}");
        assert_eq!(
            store.topic_papers("all", 2).unwrap().len(),
            2,
            "{name}: limit"
        );

        // The same batch again changes nothing, so cached feeds stay valid.
        let generation = store.generation();
        let again = store
            .apply_batch("src", &batch, &t, |_| SourceState::default(), now)
            .unwrap();
        assert_eq!(
            store.generation(),
            generation,
            "{name}: nothing to re-render"
        );
        assert_eq!(
            again,
            BatchCounts {
                new: 0,
                updated: 0,
                unchanged: 3
            },
            "{name}"
        );
        assert_eq!(store.topic_count("all").unwrap(), 3, "{name}");

        // A changed entry is updated in place and moves in the index.
        let mut changed = paper("2604.00002", "Diffusion now", 9);
        changed.ids.entry = "other-source:x".into();
        // The source's state is the caller's, made from the batch's counts and written with it.
        let counts = store
            .apply_batch(
                "src",
                &[changed],
                &t,
                |counts| SourceState {
                    last_result: Some(PollResult::Stored {
                        new: counts.new,
                        updated: counts.updated,
                        unchanged: counts.unchanged,
                    }),
                    ..SourceState::default()
                },
                now,
            )
            .unwrap();
        assert_eq!(
            counts,
            BatchCounts {
                new: 0,
                updated: 1,
                unchanged: 0
            },
            "{name}"
        );
        assert_eq!(
            titles(&store, "diff"),
            vec!["Diffusion now", "Diffusion three", "Diffusion one"],
            "{name}"
        );
        assert_eq!(store.topic_count("all").unwrap(), 3, "{name}");
        let stored = store.find(&["arxiv:2604.00002".into()]).unwrap().unwrap();
        assert_eq!(
            stored.entry_id, "https://arxiv.org/abs/2604.00002",
            "{name}"
        );
        // Both entry identifiers now lead to the one paper.
        let via_alias = store
            .find(&["entry:other-source:x".into()])
            .unwrap()
            .unwrap();
        assert_eq!(via_alias.key, stored.key, "{name}");

        let state = store.source_state("src").unwrap();
        assert_eq!(
            state.last_result,
            Some(PollResult::Stored {
                new: 0,
                updated: 1,
                unchanged: 0
            }),
            "{name}"
        );
    }
}

#[test]
fn duplicates_within_a_batch_become_one_paper() {
    for (name, store, _dir) in stores() {
        let t = tagger(&[("all", "*")]);
        let mut second = paper("2604.00001", "Same paper, longer abstract", 1);
        second.abstract_text = "longer".into();
        let batch = vec![paper("2604.00001", "Same paper", 1), second];
        let counts = store
            .apply_batch("src", &batch, &t, |_| SourceState::default(), Utc::now())
            .unwrap();
        assert_eq!(counts.new, 1, "{name}");
        assert_eq!(store.topic_count("all").unwrap(), 1, "{name}");
        assert_eq!(
            store.topic_papers("all", 10).unwrap()[0]
                .paper
                .abstract_text,
            "longer"
        );
    }
}

#[test]
fn retagging_follows_topic_changes() {
    for (name, store, _dir) in stores() {
        let before = tagger(&[("a", "alpha"), ("gone", "*")]);
        let batch = vec![paper("1", "alpha beta", 1), paper("2", "beta", 2)];
        store
            .apply_batch(
                "src",
                &batch,
                &before,
                |_| SourceState::default(),
                Utc::now(),
            )
            .unwrap();
        let v1 = fingerprints(&[("a", "alpha"), ("gone", "*")]);
        assert_eq!(
            store.retag_if_changed(&before, &v1).unwrap(),
            Some(0),
            "{name}"
        );
        assert_eq!(
            store.retag_if_changed(&before, &v1).unwrap(),
            None,
            "{name}: current"
        );
        assert_eq!(store.tagged_topics().unwrap(), Some(v1), "{name}");

        let after = tagger(&[("a", "beta")]);
        assert_eq!(
            store
                .retag_if_changed(&after, &fingerprints(&[("a", "beta")]))
                .unwrap(),
            Some(2),
            "{name}"
        );
        assert_eq!(titles(&store, "a"), vec!["beta", "alpha beta"], "{name}");
        assert_eq!(store.topic_count("a").unwrap(), 2, "{name}");
        assert!(titles(&store, "gone").is_empty(), "{name}");
        assert_eq!(store.topic_count("gone").unwrap(), 0, "{name}");
    }
}

#[test]
fn setting_a_topic_moves_only_the_papers_that_join_or_leave_it() {
    for (name, store, _dir) in stores() {
        let t = tagger(&[("a", "alpha"), ("b", "*")]);
        let batch = vec![
            paper("1", "alpha one", 1),
            paper("2", "beta two", 2),
            paper("3", "alpha three", 3),
        ];
        store
            .apply_batch("src", &batch, &t, |_| SourceState::default(), Utc::now())
            .unwrap();
        store
            .retag_all(&t, &fingerprints(&[("a", "alpha"), ("b", "*")]))
            .unwrap();
        let key = |title: &str| {
            store
                .topic_papers("b", 10)
                .unwrap()
                .into_iter()
                .find(|p| p.paper.title == title)
                .unwrap()
                .key
        };
        // "a" becomes "beta two" and "alpha three": one joins, one leaves, one stays.
        let members: HashSet<String> = [key("beta two"), key("alpha three")].into();
        let retag = store
            .set_topic("a", Some("new"), || Ok::<_, StoreError>(members.clone()))
            .unwrap();
        assert_eq!(
            retag,
            TopicRetag {
                added: 1,
                removed: 1
            },
            "{name}"
        );
        assert_eq!(
            titles(&store, "a"),
            vec!["alpha three", "beta two"],
            "{name}"
        );
        assert_eq!(store.topic_count("a").unwrap(), 2, "{name}");
        let two = store.get(&key("beta two")).unwrap().unwrap();
        assert_eq!(
            two.topics,
            vec!["a".to_string(), "b".to_string()],
            "{name}: sorted"
        );
        let tagged = store.tagged_topics().unwrap().unwrap();
        assert_eq!(tagged.get("a").map(String::as_str), Some("new"), "{name}");

        // A removed topic leaves every paper and the record.
        let retag = store
            .set_topic("b", None, || Ok::<_, StoreError>(HashSet::new()))
            .unwrap();
        assert_eq!(
            retag,
            TopicRetag {
                added: 0,
                removed: 3
            },
            "{name}"
        );
        assert!(titles(&store, "b").is_empty(), "{name}");
        assert_eq!(store.topic_count("b").unwrap(), 0, "{name}");
        assert!(
            !store.tagged_topics().unwrap().unwrap().contains_key("b"),
            "{name}"
        );

        // When finding the members fails, nothing is written.
        let failed = store.set_topic("a", Some("newer"), || {
            Err(StoreError::Io {
                op: "search",
                source: "index gone".into(),
            })
        });
        assert!(failed.is_err(), "{name}");
        assert_eq!(store.topic_count("a").unwrap(), 2, "{name}");
        let tagged = store.tagged_topics().unwrap().unwrap();
        assert_eq!(tagged.get("a").map(String::as_str), Some("new"), "{name}");
    }
}

#[test]
fn sled_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let t = tagger(&[("all", "*")]);
    {
        let store = PaperStore::open(&path).unwrap();
        store
            .apply_batch(
                "src",
                &[paper("1", "kept", 1)],
                &t,
                |_| SourceState::default(),
                Utc::now(),
            )
            .unwrap();
        store.flush().unwrap();
    }
    let store = PaperStore::open(&path).unwrap();
    assert_eq!(titles(&store, "all"), vec!["kept"]);
}

#[test]
fn corrupt_records_are_errors_not_panics() {
    let kv = Arc::new(MemoryStore::default());
    kv.commit(&[Op::Put(Tree::Papers, b"k".to_vec(), b"{not json".to_vec())])
        .unwrap();
    let store = PaperStore::new(kv);
    let err = store.get("k").expect_err("corrupt");
    assert!(
        err.to_string().contains("corrupt record in tree papers"),
        "{err}"
    );
}

#[test]
fn a_doi_paper_and_an_arxiv_paper_become_one() {
    for (name, store, _dir) in stores() {
        let t = tagger(&[("all", "*")]);
        let t0 = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap();
        // A journal feed first: only a DOI.
        let journal = Paper {
            ids: Identifiers {
                doi: Some("10.1000/j.1".into()),
                entry: "journal:1".into(),
                ..Default::default()
            },
            title: "Shared paper".into(),
            ..paper("x", "Shared paper", 1)
        };
        let journal = Paper {
            ids: Identifiers {
                arxiv: None,
                ..journal.ids
            },
            sources: BTreeSet::from(["journal".to_string()]),
            ..journal
        };
        store
            .apply_batch("journal", &[journal], &t, |_| SourceState::default(), t0)
            .unwrap();
        // arXiv's listing without the DOI: a second paper, for now.
        let mut listing = paper("2604.00009", "Shared paper", 2);
        listing.sources = BTreeSet::from(["arxiv".to_string()]);
        store
            .apply_batch(
                "arxiv",
                &[listing],
                &t,
                |_| SourceState::default(),
                t0 + chrono::Duration::hours(1),
            )
            .unwrap();
        assert_eq!(store.topic_count("all").unwrap(), 2, "{name}");
        // The API carries both ids: the two become one, under the journal paper's entry id.
        let mut api = paper("2604.00009", "Shared paper", 3);
        api.ids.doi = Some("10.1000/j.1".into());
        api.ids.entry = "api:2604.00009".into();
        api.sources = BTreeSet::from(["api".to_string()]);
        store
            .apply_batch(
                "api",
                &[api],
                &t,
                |_| SourceState::default(),
                t0 + chrono::Duration::hours(2),
            )
            .unwrap();
        assert_eq!(store.topic_count("all").unwrap(), 1, "{name}");
        let all = store.topic_papers("all", 10).unwrap();
        assert_eq!(all.len(), 1, "{name}");
        assert_eq!(
            all[0].entry_id, "https://doi.org/10.1000/j.1",
            "{name}: the first entry id stays"
        );
        assert_eq!(
            all[0].paper.ids.arxiv.as_deref(),
            Some("2604.00009"),
            "{name}"
        );
        assert_eq!(all[0].paper.sources.len(), 3, "{name}");
        for id in [
            "arxiv:2604.00009",
            "doi:10.1000/j.1",
            "entry:journal:1",
            "entry:src:2604.00009",
        ] {
            let found = store.find(&[id.to_string()]).unwrap().expect(id);
            assert_eq!(found.key, all[0].key, "{name}: {id}");
        }
        assert!(
            store.get("arxiv:2604.00009").unwrap().is_none(),
            "{name}: the folded record is gone"
        );
    }
}

#[test]
fn a_store_from_a_newer_schema_is_refused_with_instructions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = PaperStore::open(&path).unwrap();
        assert_eq!(
            store.kv.get(Tree::Meta, SCHEMA_VERSION_KEY).unwrap(),
            Some(SCHEMA_VERSION.to_be_bytes().to_vec()),
            "a new store records its version"
        );
        store
            .kv
            .commit(&[Op::Put(
                Tree::Meta,
                SCHEMA_VERSION_KEY.to_vec(),
                7u32.to_be_bytes().to_vec(),
            )])
            .unwrap();
        store.flush().unwrap();
    }
    let err = PaperStore::open(&path).err().expect("refused");
    let message = err.to_string();
    assert!(
        message.contains("schema version 7") && message.contains("upgrade paperboy"),
        "{message}"
    );
}

/// The records of `tree` in a store, as (key, value) text.
fn records(store: &PaperStore, tree: Tree) -> Vec<(String, Vec<u8>)> {
    let rows = store.kv.scan(tree, b"", None, false, usize::MAX).unwrap();
    rows.into_iter()
        .map(|(k, v)| (String::from_utf8(k).unwrap(), v))
        .collect()
}

#[test]
fn a_papers_key_and_a_paper_in_no_topic_need_no_records_of_their_own() {
    for (name, store, _dir) in stores() {
        let t = tagger(&[("a", "alpha")]);
        let batch = vec![paper("1", "alpha one", 1), paper("2", "beta two", 2)];
        let first = store
            .apply_batch("src", &batch, &t, |_| SourceState::default(), Utc::now())
            .unwrap();
        assert_eq!(first.new, 2, "{name}");
        // Only the identifiers that are not a key have alias records; only the paper in a
        // topic has a membership record.
        let aliases: Vec<String> = records(&store, Tree::Aliases)
            .into_iter()
            .map(|(k, v)| format!("{k} -> {}", String::from_utf8(v).unwrap()))
            .collect();
        assert_eq!(
            aliases,
            ["entry:src:1 -> arxiv:1", "entry:src:2 -> arxiv:2"],
            "{name}"
        );
        let members: Vec<String> = records(&store, Tree::Memberships)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(members, ["arxiv:1"], "{name}");
        // Found by its key as by its other identifier, with no topics; the same batch again
        // is two unchanged papers, not two new ones.
        for id in ["arxiv:2", "entry:src:2"] {
            let found = store.find(&[id.to_string()]).unwrap().expect(id);
            assert_eq!(
                (found.key.as_str(), found.topics.len()),
                ("arxiv:2", 0),
                "{name}"
            );
        }
        let again = store
            .apply_batch("src", &batch, &t, |_| SourceState::default(), Utc::now())
            .unwrap();
        assert_eq!((again.new, again.unchanged), (0, 2), "{name}");
        // A paper in no topic joins one set from its members (its date read from its
        // record), under that date.
        let members: HashSet<String> = ["arxiv:1".to_string(), "arxiv:2".to_string()].into();
        let retag = store
            .set_topic("a", Some("both"), || Ok::<_, StoreError>(members.clone()))
            .unwrap();
        assert_eq!((retag.added, retag.removed), (1, 0), "{name}");
        assert_eq!(titles(&store, "a"), ["beta two", "alpha one"], "{name}");
        assert_eq!(
            store.get("arxiv:2").unwrap().unwrap().topics,
            ["a"],
            "{name}"
        );
        // Re-tagged for a topic neither matches: both leave it, and their membership
        // records go.
        let none = tagger(&[("a", "gamma")]);
        let changed = store
            .retag_all(&none, &fingerprints(&[("a", "gamma")]))
            .unwrap();
        assert_eq!(changed, 2, "{name}");
        assert!(records(&store, Tree::Memberships).is_empty(), "{name}");
        assert_eq!(store.topic_count("a").unwrap(), 0, "{name}");
        assert!(titles(&store, "a").is_empty(), "{name}");
        // An entry named by the paper's arXiv id (as arXiv's API names them) needs no alias:
        // the entry comes with the id.
        let api = vec![paper("2604.00009", "gamma nine", 9)];
        for round in 0..2 {
            let counts = store
                .apply_batch("src", &api, &none, |_| SourceState::default(), Utc::now())
                .unwrap();
            assert_eq!((counts.new, counts.unchanged), (1 - round, round), "{name}");
        }
        assert_eq!(
            store
                .kv
                .get(Tree::Aliases, b"entry:src:2604.00009")
                .unwrap(),
            None,
            "{name}"
        );
        let found = store.find(&["entry:src:2604.00009".to_string()]).unwrap();
        assert_eq!(
            found.map(|p| p.key).as_deref(),
            Some("arxiv:2604.00009"),
            "{name}"
        );
        // Nothing changes when re-tagged the same way again.
        let changed = store
            .retag_all(&none, &fingerprints(&[("a", "gamma!")]))
            .unwrap();
        assert_eq!(changed, 0, "{name}");
        // A paper folded into another leaves an alias from its key to the survivor.
        let mut doi = paper("3", "alpha three", 3);
        doi.ids.doi = Some("10.1/three".into());
        doi.ids.arxiv = None;
        doi.ids.entry = "journal:3".into();
        store
            .apply_batch("j", &[doi], &t, |_| SourceState::default(), Utc::now())
            .unwrap();
        let mut both = paper("3", "alpha three", 3);
        both.ids.doi = Some("10.1/three".into());
        store
            .apply_batch("src", &[both], &t, |_| SourceState::default(), Utc::now())
            .unwrap();
        let survivor = store.find(&["arxiv:3".to_string()]).unwrap().unwrap();
        assert_eq!(survivor.key, "doi:10.1/three", "{name}: seen first");
        assert_eq!(
            store.kv.get(Tree::Aliases, b"arxiv:3").unwrap().as_deref(),
            Some(&b"doi:10.1/three"[..]),
            "{name}"
        );
        assert_eq!(
            store.kv.get(Tree::Aliases, b"doi:10.1/three").unwrap(),
            None,
            "{name}"
        );
    }
}

#[test]
fn a_version_3_store_with_key_aliases_and_empty_memberships_reads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let t = tagger(&[("a", "alpha")]);
    let batch = vec![paper("1", "alpha one", 1), paper("2", "beta two", 2)];
    {
        let store = PaperStore::open(&path).unwrap();
        store
            .apply_batch("src", &batch, &t, |_| SourceState::default(), Utc::now())
            .unwrap();
        // The records version 3 wrote besides: each key's alias, an empty membership.
        let date = store.get("arxiv:2").unwrap().unwrap().updated();
        let mut ops = vec![Op::Put(
            Tree::Meta,
            SCHEMA_VERSION_KEY.to_vec(),
            3u32.to_be_bytes().to_vec(),
        )];
        for key in ["arxiv:1", "arxiv:2"] {
            ops.push(Op::Put(Tree::Aliases, key.into(), key.into()));
        }
        ops.push(Op::Put(
            Tree::Memberships,
            b"arxiv:2".to_vec(),
            super::keys::encode_membership(date, &[]),
        ));
        store.kv.commit(&ops).unwrap();
        store.flush().unwrap();
    }
    let store = PaperStore::open(&path).unwrap();
    assert_eq!(
        store.kv.get(Tree::Meta, SCHEMA_VERSION_KEY).unwrap(),
        Some(SCHEMA_VERSION.to_be_bytes().to_vec())
    );
    let again = store
        .apply_batch("src", &batch, &t, |_| SourceState::default(), Utc::now())
        .unwrap();
    assert_eq!((again.new, again.unchanged), (0, 2));
    // The paper with an empty membership record joins a topic, and leaves it again.
    let both = tagger(&[("a", "alpha OR beta")]);
    let changed = store
        .retag_all(&both, &fingerprints(&[("a", "alpha OR beta")]))
        .unwrap();
    assert_eq!(changed, 1);
    assert_eq!(titles(&store, "a"), ["beta two", "alpha one"]);
    let changed = store
        .retag_all(&t, &fingerprints(&[("a", "alpha")]))
        .unwrap();
    assert_eq!(changed, 1);
    assert_eq!(titles(&store, "a"), ["alpha one"]);
    assert_eq!(store.topic_count("a").unwrap(), 1);
}

/// How many keys the store's topic index holds.
fn index_keys(store: &PaperStore) -> usize {
    store
        .kv
        .scan(Tree::TopicIndex, b"", None, false, usize::MAX)
        .unwrap()
        .len()
}

#[test]
fn a_version_2_store_gets_its_index_entries_gathered_into_posting_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let t = tagger(&[("a", "alpha"), ("all", "*")]);
    let papers: Vec<Paper> = (1..=300)
        .map(|i| {
            let title = if i % 3 == 0 { "alpha" } else { "beta" };
            paper(&format!("{i}"), &format!("{title} {i}"), 1 + i % 28)
        })
        .collect();
    let before;
    {
        let store = PaperStore::open(&path).unwrap();
        store
            .apply_batch("src", &papers, &t, |_| SourceState::default(), Utc::now())
            .unwrap();
        before = (
            store.topic_papers("a", 1000).unwrap(),
            store.topic_papers("all", 1000).unwrap(),
        );
        assert_eq!((before.0.len(), before.1.len()), (100, 300));
        let records = index_keys(&store);
        assert_eq!(records, 2 + 5, "100 papers in two records, 300 in five");
        let mut ops = super::postings::unpost_ops(&*store.kv);
        ops.push(Op::Put(
            Tree::Meta,
            SCHEMA_VERSION_KEY.to_vec(),
            2u32.to_be_bytes().to_vec(),
        ));
        store.kv.commit(&ops).unwrap();
        let entries = index_keys(&store);
        assert_eq!(entries, 400);
        // The version-2 paperboy crashed in a large batch: its journal holds an index entry
        // not applied yet, which must land before the entries are gathered into records.
        let (key, value) = store
            .kv
            .scan(Tree::TopicIndex, b"a\0", None, true, 1)
            .unwrap()
            .pop()
            .unwrap();
        store
            .kv
            .commit(&[
                Op::Delete(Tree::TopicIndex, key.clone()),
                super::journal::old_record(&[Op::Put(Tree::TopicIndex, key, value)]),
            ])
            .unwrap();
        assert_eq!(index_keys(&store), 399);
        store.flush().unwrap();
    }
    let store = PaperStore::open(&path).unwrap();
    assert_eq!(
        store.kv.get(Tree::Meta, SCHEMA_VERSION_KEY).unwrap(),
        Some(SCHEMA_VERSION.to_be_bytes().to_vec())
    );
    let records = index_keys(&store);
    assert_eq!(records, 7);
    let after = (
        store.topic_papers("a", 1000).unwrap(),
        store.topic_papers("all", 1000).unwrap(),
    );
    assert_eq!(after, before);
}

#[test]
fn a_version_1_store_gets_its_topics_moved_to_membership_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let t = tagger(&[("a", "alpha"), ("all", "*")]);
    {
        let store = PaperStore::open(&path).unwrap();
        store
            .apply_batch(
                "src",
                &[paper("1", "alpha one", 1), paper("2", "beta two", 2)],
                &t,
                |_| SourceState::default(),
                Utc::now(),
            )
            .unwrap();
        // Rewrite it as version 1 wrote it: topics inside each paper's record, no memberships,
        // one index entry per paper and topic.
        store
            .kv
            .commit(&super::postings::unpost_ops(&*store.kv))
            .unwrap();
        let mut ops = vec![Op::Put(
            Tree::Meta,
            SCHEMA_VERSION_KEY.to_vec(),
            1u32.to_be_bytes().to_vec(),
        )];
        let mut keys = Vec::new();
        store.for_each_paper(|p| keys.push(p.key)).unwrap();
        for key in keys {
            let p = store.get(&key).unwrap().unwrap();
            let mut record = serde_json::to_value(&p).unwrap();
            record["topics"] = serde_json::json!(p.topics);
            ops.push(Op::Put(
                Tree::Papers,
                key.clone().into_bytes(),
                serde_json::to_vec(&record).unwrap(),
            ));
            ops.push(Op::Delete(Tree::Memberships, key.into_bytes()));
        }
        store.kv.commit(&ops).unwrap();
        store.flush().unwrap();
        assert!(store
            .kv
            .scan(Tree::Memberships, b"", None, false, 10)
            .unwrap()
            .is_empty());
    }
    let store = PaperStore::open(&path).unwrap();
    assert_eq!(
        store.kv.get(Tree::Meta, SCHEMA_VERSION_KEY).unwrap(),
        Some(SCHEMA_VERSION.to_be_bytes().to_vec())
    );
    assert_eq!(titles(&store, "a"), vec!["alpha one"]);
    let all = store.topic_papers("all", 10).unwrap();
    assert_eq!(all.len(), 2);
    assert!(all
        .iter()
        .any(|p| p.topics == vec!["a".to_string(), "all".to_string()]));
    // A topic moves through the migrated records.
    let key = all
        .iter()
        .find(|p| p.paper.title == "beta two")
        .unwrap()
        .key
        .clone();
    store
        .set_topic("a", Some("x"), || {
            Ok::<_, StoreError>(HashSet::from([key.clone()]))
        })
        .unwrap();
    assert_eq!(titles(&store, "a"), vec!["beta two"]);
    assert_eq!(store.get(&key).unwrap().unwrap().topics, vec!["a", "all"]);
    // A paper written now keeps its topics out of its record.
    store
        .apply_batch(
            "src",
            &[paper("3", "alpha three", 3)],
            &t,
            |_| SourceState::default(),
            Utc::now(),
        )
        .unwrap();
    let key = store
        .topic_papers("all", 10)
        .unwrap()
        .into_iter()
        .find(|p| p.paper.title == "alpha three")
        .expect("stored")
        .key;
    let record = store.kv.get(Tree::Papers, key.as_bytes()).unwrap().unwrap();
    let record: serde_json::Value = super::keys::decode_paper(key.as_bytes(), &record).unwrap();
    assert!(record.get("topics").is_none(), "{record}");
    assert_eq!(record["key"], key.as_str());
    assert_eq!(titles(&store, "a"), vec!["alpha three", "beta two"]);
}

#[test]
fn a_feed_window_holds_every_paper_that_entered_it_and_skips_none_when_paged() {
    let t = tagger(&[("all", "*")]);
    let at = |day: u32, hour: u32| Utc.with_ymd_and_hms(2026, 5, day, hour, 0, 0).unwrap();
    let dated = |id: String, date: chrono::DateTime<Utc>| Paper {
        published: Some(date),
        updated: Some(date),
        ..paper(&id, &format!("Paper {id}"), 1)
    };
    let keys = |papers: &[crate::model::StoredPaper]| {
        papers.iter().map(|p| p.key.clone()).collect::<Vec<_>>()
    };
    for (name, store, _dir) in stores() {
        // 120 papers first seen on May 10, dated hourly back from May 10 to May 5.
        let first: Vec<Paper> = (0..120)
            .map(|i| {
                dated(
                    format!("2605.{i:05}"),
                    at(10, 0) - chrono::TimeDelta::hours(i),
                )
            })
            .collect();
        store
            .apply_batch("src", &first, &t, |_| SourceState::default(), at(10, 0))
            .unwrap();
        let (all, _) = store.topic_page("all", None, 1000).unwrap();
        assert_eq!(all.len(), 120, "{name}");

        // All of them entered on May 10: a window since May 9 holds them all, up to `max`,
        // and the next page goes on exactly after it.
        let (window, next) = store.topic_window("all", at(9, 0), 50, 1000).unwrap();
        assert_eq!(keys(&window), keys(&all), "{name}");
        assert_eq!(next, None, "{name}: nothing after the last paper");
        let (window, next) = store.topic_window("all", at(9, 0), 50, 100).unwrap();
        assert_eq!(keys(&window), keys(&all[..100]), "{name}: at most max");
        let (rest, after) = store.topic_page("all", next.as_deref(), 50).unwrap();
        assert_eq!(keys(&rest), keys(&all[100..]), "{name}: next skips nothing");
        assert_eq!(after, None, "{name}");

        // Nothing entered since May 12: the newest `min` papers, and a next page.
        let (window, next) = store.topic_window("all", at(12, 0), 50, 1000).unwrap();
        assert_eq!(keys(&window), keys(&all[..50]), "{name}: at least min");
        let (rest, _) = store.topic_page("all", next.as_deref(), 100).unwrap();
        assert_eq!(keys(&rest), keys(&all[50..]), "{name}: next skips nothing");

        // On May 13, 60 papers of that day arrive, with one dated May 8 (announced late) and
        // one dated a month before (older than the look-back of ANNOUNCEMENT_LAG).
        let mut second: Vec<Paper> = (0..60)
            .map(|i| {
                dated(
                    format!("2605.{:05}", 500 + i),
                    at(13, 0) - chrono::TimeDelta::minutes(i),
                )
            })
            .collect();
        second.push(dated("2605.00900".into(), at(8, 12)));
        second.push(dated(
            "2605.00901".into(),
            at(12, 0) - chrono::TimeDelta::days(30),
        ));
        store
            .apply_batch("src", &second, &t, |_| SourceState::default(), at(13, 0))
            .unwrap();
        let (all, _) = store.topic_page("all", None, 1000).unwrap();
        let (window, next) = store.topic_window("all", at(12, 0), 50, 1000).unwrap();
        let late = all
            .iter()
            .position(|p| p.paper.ids.arxiv.as_deref() == Some("2605.00900"))
            .unwrap();
        assert_eq!(
            keys(&window),
            keys(&all[..=late]),
            "{name}: every paper down to the late one, in date order"
        );
        assert!(late > 60, "{name}: the late paper sits among older ones");
        let (rest, _) = store.topic_page("all", next.as_deref(), 1000).unwrap();
        assert_eq!(
            keys(&rest),
            keys(&all[late + 1..]),
            "{name}: next skips nothing"
        );
        assert!(
            rest.iter()
                .any(|p| p.paper.ids.arxiv.as_deref() == Some("2605.00901")),
            "{name}: a paper dated before the look-back is on the next pages"
        );
        // An empty topic is an empty page.
        assert_eq!(
            store.topic_window("none", at(12, 0), 50, 1000).unwrap(),
            (Vec::new(), None),
            "{name}"
        );
    }
}

#[test]
fn ranked_cursors_carry_their_relevance_after_a_nul() {
    use crate::model::Relevance;
    let position = b"\x80\x00\x01\x9d\xd9\xfe\x26\x08arxiv:2604.26841".to_vec();
    let mut cursor = position.clone();
    cursor.extend_from_slice(b"\x004213");
    assert_eq!(
        super::split_ranked_cursor(&cursor),
        (position.as_slice(), Some(Relevance::new(0.4213)))
    );
    // No relevance, or one that is not a score: the whole cursor is the position.
    assert_eq!(
        super::split_ranked_cursor(&position),
        (position.as_slice(), None)
    );
    let mut bad = position.clone();
    bad.extend_from_slice(b"\x0099999");
    assert_eq!(super::split_ranked_cursor(&bad), (bad.as_slice(), None));
}

#[test]
fn papers_tagged_ahead_are_stored_as_if_tagged_in_the_batch() {
    let now = Utc::now();
    let t = tagger(&[("diff", "diffusion"), ("graphs", "graph*"), ("all", "*")]);
    let stale = tagger(&[("diff", "graph*"), ("graphs", "diffusion"), ("all", "*")]);
    for (name, store, _dir) in stores() {
        // The same batches without tagging ahead, for comparison.
        let plain = PaperStore::in_memory();
        let first = vec![paper("2604.00001", "Diffusion one", 1)];
        for s in [&store, &plain] {
            s.apply_batch("src", &first, &t, |_| SourceState::default(), now)
                .unwrap();
        }
        // A stored paper that comes back changed, two new ones, and a new one twice in the
        // batch (its second copy merged into the first).
        let mut again = paper("2604.00001", "Diffusion on graphs", 1);
        again.version = Some(2);
        let mut twice = paper("2604.00004", "Graph networks", 4);
        twice.ids.doi = Some("10.1/x".into());
        let mut twice_again = paper("2604.00004", "Diffusion graph networks", 4);
        twice_again.ids.doi = Some("10.1/x".into());
        let batch = vec![
            again,
            paper("2604.00002", "Graphs", 2),
            paper("2604.00003", "Diffusion three", 3),
            twice,
            twice_again,
        ];
        let pretagged = store.pretag(&batch, &t).unwrap();
        let ahead: Vec<bool> = pretagged.tags.iter().map(Option::is_some).collect();
        assert_eq!(
            ahead,
            [false, true, true, true, true],
            "{name}: only new papers"
        );
        store
            .apply_batch_pretagged(
                "src",
                batch.clone(),
                &[],
                &t,
                Some(pretagged),
                |_| SourceState::default(),
                now,
            )
            .unwrap();
        plain
            .apply_batch("src", &batch, &t, |_| SourceState::default(), now)
            .unwrap();
        for topic in ["diff", "graphs", "all"] {
            assert_eq!(
                titles(&store, topic),
                titles(&plain, topic),
                "{name}: {topic}"
            );
            assert_eq!(
                store.topic_count(topic).unwrap(),
                plain.topic_count(topic).unwrap(),
                "{name}: {topic}"
            );
        }
        assert_eq!(
            titles(&store, "diff"),
            vec![
                "Diffusion graph networks",
                "Diffusion three",
                "Diffusion on graphs"
            ],
            "{name}: the merged paper is tagged as merged"
        );

        // Tagged ahead by topics since replaced: tagged again with the current ones.
        let late = vec![paper("2604.00005", "Diffusion five", 5)];
        let pretagged = store.pretag(&late, &stale).unwrap();
        assert!(pretagged.tags[0].is_some());
        store
            .apply_batch_pretagged(
                "src",
                late,
                &[],
                &t,
                Some(pretagged),
                |_| SourceState::default(),
                now,
            )
            .unwrap();
        assert_eq!(titles(&store, "diff")[0], "Diffusion five", "{name}");
        assert!(
            !titles(&store, "graphs").contains(&"Diffusion five".to_string()),
            "{name}"
        );
    }
}

#[test]
fn unchanged_papers_are_counted_once_and_a_later_copy_still_changes_or_folds_them() {
    let now = Utc::now();
    let t = tagger(&[("all", "*"), ("longer", "longer")]);
    for (name, store, _dir) in stores() {
        let stored = vec![paper("2604.00001", "One", 1), paper("2604.00002", "Two", 2)];
        store
            .apply_batch("src", &stored, &t, |_| SourceState::default(), now)
            .unwrap();
        let generation = store.generation();
        let counts = |batch: &[Paper]| {
            let c = store
                .apply_batch("src", batch, &t, |_| SourceState::default(), now)
                .unwrap();
            (c.new, c.updated, c.unchanged)
        };
        // Twice unchanged in one batch: one unchanged paper, nothing written.
        let batch = [stored[0].clone(), stored[0].clone(), stored[1].clone()];
        assert_eq!(counts(&batch), (0, 0, 2), "{name}");
        assert_eq!(store.generation(), generation, "{name}");

        // Unchanged, then changed by a later copy in the same batch: updated, not unchanged.
        let mut longer = stored[0].clone();
        longer.abstract_text = "longer".into();
        let batch = [stored[0].clone(), longer, stored[1].clone()];
        assert_eq!(counts(&batch), (0, 1, 1), "{name}");
        assert_eq!(titles(&store, "longer"), vec!["One"], "{name}");

        // Unchanged, then folded into another paper by a later entry carrying both papers'
        // identifiers (a DOI stored under one, the arXiv id under the other).
        let mut journal = paper("2604.00009", "Journal version", 3);
        journal.ids.arxiv = None;
        journal.ids.doi = Some("10.1/two".into());
        journal.ids.entry = "journal:two".into();
        // Seen first (an hour earlier), so it survives and the arXiv paper is folded into it.
        let earlier = now - chrono::Duration::hours(1);
        store
            .apply_batch(
                "j",
                &[journal.clone()],
                &t,
                |_| SourceState::default(),
                earlier,
            )
            .unwrap();
        assert_eq!(store.topic_count("all").unwrap(), 3, "{name}");
        let mut both = stored[1].clone();
        both.ids.doi = Some("10.1/two".into());
        let batch = [stored[1].clone(), both];
        assert_eq!(counts(&batch).2, 0, "{name}: folded, not unchanged");
        assert_eq!(
            store.topic_count("all").unwrap(),
            2,
            "{name}: one paper now"
        );
        let found = store.find(&["doi:10.1/two".to_string()]).unwrap().unwrap();
        let again = store.find(&["arxiv:2604.00002".to_string()]).unwrap();
        assert_eq!(again.map(|p| p.key), Some(found.key.clone()), "{name}");
        assert_eq!(
            found.key, "doi:10.1/two",
            "{name}: the paper seen first survives"
        );
    }
}

#[test]
fn entry_marks_are_written_with_their_papers_and_a_new_digest_replaces_the_old() {
    use crate::model::EntryMark;
    let now = Utc::now();
    let t = tagger(&[("all", "*")]);
    for (name, store, _dir) in stores() {
        let mark = |digest: u8| EntryMark {
            key: b"src\x002604.00001".to_vec(),
            digest: [digest; 16],
        };
        assert!(!store.is_marked(&mark(1)).unwrap(), "{name}");
        let papers = [paper("2604.00001", "One", 1)];
        let store_marked = |digest: u8| {
            store
                .apply_batch_pretagged(
                    "src",
                    papers.to_vec(),
                    &[mark(digest)],
                    &t,
                    None,
                    |_| SourceState::default(),
                    now,
                )
                .unwrap()
        };
        store_marked(1);
        assert!(store.is_marked(&mark(1)).unwrap(), "{name}");
        assert!(
            !store.is_marked(&mark(2)).unwrap(),
            "{name}: another digest"
        );
        // The entry written anew: its mark replaces the old one, even when the paper comes
        // back unchanged (nothing else is written).
        let generation = store.generation();
        store_marked(2);
        assert_eq!(store.generation(), generation, "{name}: no paper changed");
        assert!(store.is_marked(&mark(2)).unwrap(), "{name}");
        assert!(!store.is_marked(&mark(1)).unwrap(), "{name}");
    }
}

#[test]
fn a_batch_hands_its_papers_to_the_index_as_written_once() {
    let now = Utc::now();
    let t = tagger(&[("all", "*")]);
    for (name, store, _dir) in stores() {
        let batch = |papers: &[Paper]| {
            store
                .apply_batch_pretagged(
                    "src",
                    papers.to_vec(),
                    &[],
                    &t,
                    None,
                    |_| SourceState::default(),
                    now,
                )
                .unwrap()
        };
        batch(&[paper("2604.00001", "One", 1), paper("2604.00002", "Two", 2)]);
        let first = store.last_change().unwrap();
        batch(&[paper("2604.00001", "One, again", 1)]);
        let second = store.last_change().unwrap();
        // Nothing changed: no change, nothing kept.
        batch(&[paper("2604.00001", "One, again", 1)]);
        assert_eq!(store.last_change().unwrap(), second, "{name}");
        // What was kept is what a read gives back.
        let mut kept = store.take_written(first).expect("the first batch's papers");
        assert_eq!(kept.len(), 2, "{name}");
        let two = kept.remove("arxiv:2604.00002").expect("by key");
        assert!(two.new, "{name}");
        assert_eq!(
            Some(two.paper),
            store.get("arxiv:2604.00002").unwrap(),
            "{name}"
        );
        // The first batch's One is the version it wrote, not the store's newer one.
        assert_eq!(kept["arxiv:2604.00001"].paper.paper.title, "One", "{name}");
        assert!(store.take_written(first).is_none(), "{name}: given once");
        let later = store
            .take_written(second)
            .expect("the second batch's papers");
        let again = &later["arxiv:2604.00001"];
        assert_eq!(again.paper.paper.title, "One, again", "{name}");
        assert!(!again.new, "{name}: an update replaces what the index has");
        // Only the last few changes are kept: an index far behind reads the store.
        for day in 3..6 {
            batch(&[paper(&format!("2604.0000{day}"), "More", day)]);
        }
        let last = store.last_change().unwrap();
        assert!(store.take_written(last - 2).is_none(), "{name}: dropped");
        assert!(store.take_written(last).is_some(), "{name}");
    }
}

/// A store on disk keeps a copy of every source's state beside it, as last committed, for
/// `status` while another process holds the store: after a batch and after a lone state, and
/// without the validators and URL the state keeps for the next fetch.
#[test]
fn the_sources_states_are_copied_beside_the_store_at_each_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = PaperStore::open(&path).unwrap();
    let copy = super::states::read(&path).expect("written at open");
    assert_eq!(copy.pid, std::process::id());
    assert!(copy.sources.is_empty(), "{copy:?}");

    let t = tagger(&[("all", "*")]);
    let batch = vec![paper("2604.00001", "One", 1), paper("2604.00002", "Two", 2)];
    let state = |counts: BatchCounts| SourceState {
        last_result: Some(PollResult::from(counts)),
        etag: Some("\"v1\"".into()),
        url: Some("https://user:secret@example.org/feed".into()),
        ..SourceState::default()
    };
    store
        .apply_batch("src", &batch, &t, state, Utc::now())
        .unwrap();
    let copy = super::states::read(&path).unwrap();
    let stored = store.source_state("src").unwrap();
    assert_eq!(stored.etag.as_deref(), Some("\"v1\""));
    let copied = &copy.sources["src"];
    assert_eq!(
        copied.last_result,
        Some(PollResult::Stored {
            new: 2,
            updated: 0,
            unchanged: 0
        })
    );
    assert_eq!((&copied.etag, &copied.url), (&None, &None));

    store
        .put_source_state(
            "other",
            &SourceState {
                failures_in_row: 3,
                ..SourceState::default()
            },
        )
        .unwrap();
    let copy = super::states::read(&path).unwrap();
    assert_eq!(copy.sources.len(), 2);
    assert_eq!(copy.sources["other"].failures_in_row, 3);
    assert_eq!(copy.sources["src"], *copied);

    // Credentials stay out of the copy wherever a URL is quoted.
    let secret = "https://user:s3cret@example.org/oai?verb=ListRecords&api_key=K3Y";
    store
        .put_source_state(
            "private",
            &SourceState {
                url: Some(secret.into()),
                last_result: Some(PollResult::Failed {
                    error: format!(
                        "request to {secret} failed; then                          https://user:s3cret@example.org/oai?resumptionToken=9 timed out"
                    ),
                }),
                moved_to: Some("https://user:s3cret@example.org/new".into()),
                harvest: Some(crate::model::Harvest {
                    next: Some(format!("{secret}&resumptionToken=9")),
                    records: 9,
                    ..crate::model::Harvest::default()
                }),
                ..SourceState::default()
            },
        )
        .unwrap();
    let text = std::fs::read_to_string(super::states::path_for(&path)).unwrap();
    assert!(text.contains("\"private\""), "{text}");
    assert!(
        !text.contains("s3cret") && !text.contains("K3Y") && !text.contains("user@"),
        "{text}"
    );
    let private = &super::states::read(&path).unwrap().sources["private"];
    assert!(private.harvest.as_ref().is_some_and(|h| h.next.is_some()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(super::states::path_for(&path))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
}
