//! Training the topics learned from example papers (`like`, `unlike`, `like_file`): the IO edge
//! of [`crate::pipeline::profile`]. The examples are looked up in the store; word statistics
//! come from a sample of the stored papers spread over the search index
//! ([`SAMPLE_PAPERS`]), which is also what the profiles learn from (pseudo-relevance feedback)
//! and what the default `min_score` is set on. Trained when a config is loaded or reloaded.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crate::config::{Config, TopicConfig};
use crate::index::SearchIndex;
use crate::model::StoredPaper;
use crate::pipeline::profile::{Profile, TermVector, Vocabulary};
use crate::pipeline::tag::{topic_fingerprint, ScoredTopic, TopicFingerprints};
use crate::store::PaperStore;

/// How many stored papers the word statistics and the training read: enough for stable word
/// weights, few enough to train in about a second at any store size.
pub const SAMPLE_PAPERS: usize = 20_000;

/// How many papers a topic learned from examples scores again when it changes: those the
/// search index ranks highest on the profile's words. A paper further down shares too little
/// with the profile to reach any useful threshold; new papers are all scored as they arrive.
pub const RESCORE_CANDIDATES: usize = 20_000;

/// How many entries of the index's word lists finding those candidates reads at most (see
/// [`crate::index::SearchIndex::ranked_by_words`]): what bounds the memory of scoring a topic
/// again at any store size.
pub const RESCORE_POSTINGS: u64 = 30_000_000;

/// What training found for every topic with examples.
#[derive(Debug, Clone, Default)]
pub struct Trained {
    /// Each topic with examples: its profile (when a liked paper is stored) and threshold.
    pub scored: Vec<ScoredTopic>,
    /// The words the profiles are over.
    pub vocabulary: Arc<Vocabulary>,
    /// Per topic, the example names (as configured) that are not in the store.
    pub missing: BTreeMap<String, Vec<String>>,
    /// Per topic, the store keys of the examples found: part of its fingerprint, so that a
    /// topic is scored again once its examples arrive.
    pub found: BTreeMap<String, Vec<String>>,
}

impl Trained {
    /// No profile for any topic: every topic with examples holds no paper. What a view gets
    /// without a store to learn from.
    pub fn untrained(config: &Config) -> Self {
        let mut trained = Trained::default();
        for topic in config.topics.iter().filter(|t| t.examples.is_some()) {
            trained.scored.push(ScoredTopic {
                id: topic.id.clone(),
                profile: None,
                min_score: 1.0,
            });
        }
        trained
    }

    /// The fingerprint of each topic: its definition, and for a topic with examples the
    /// examples the store held when it was trained.
    pub fn fingerprints(&self, config: &Config) -> TopicFingerprints {
        config
            .topics
            .iter()
            .map(|t| {
                let mut definition = t.definition();
                if let Some(found) = self.found.get(&t.id) {
                    definition.push_str("\u{0}found ");
                    definition.push_str(&found.join(" "));
                }
                (t.id.clone(), topic_fingerprint(&definition))
            })
            .collect()
    }
}

/// Trains every topic of `config` that has examples, from the store and its search index.
/// An index that fails leaves the sample to the examples themselves (logged).
pub fn train(config: &Config, store: &PaperStore, index: &SearchIndex) -> Trained {
    let topics: Vec<&TopicConfig> = config
        .topics
        .iter()
        .filter(|t| t.examples.is_some())
        .collect();
    if topics.is_empty() {
        return Trained::default();
    }
    let mut trained = Trained::default();
    // Each topic's liked and unliked papers, as stored.
    let mut examples: Vec<(Vec<StoredPaper>, Vec<StoredPaper>)> = Vec::new();
    for topic in &topics {
        let Some(ex) = &topic.examples else {
            continue;
        };
        let mut look = |names: &[String]| look_up(store, &topic.id, names, &mut trained.missing);
        let liked = look(&ex.like);
        let unliked = look(&ex.unlike);
        let keys = liked
            .iter()
            .chain(&unliked)
            .map(|p| p.key.clone())
            .collect();
        trained.found.insert(topic.id.clone(), keys);
        examples.push((liked, unliked));
    }
    let sample = sample(store, index);
    let mut corpus_papers: Vec<&StoredPaper> = sample.iter().collect();
    let sampled: HashSet<&str> = sample.iter().map(|p| p.key.as_str()).collect();
    for (liked, unliked) in &examples {
        corpus_papers.extend(
            liked
                .iter()
                .chain(unliked)
                .filter(|p| !sampled.contains(p.key.as_str())),
        );
    }
    let vocabulary = Arc::new(Vocabulary::build(corpus_papers.iter().map(|p| &p.paper)));
    let corpus: Vec<TermVector> = crate::in_parallel(&corpus_papers, |part: &[&StoredPaper]| {
        part.iter().map(|p| vocabulary.vector(&p.paper)).collect()
    });
    for (topic, (liked, unliked)) in topics.iter().zip(&examples) {
        let vectors = |papers: &[StoredPaper]| -> Vec<TermVector> {
            papers.iter().map(|p| vocabulary.vector(&p.paper)).collect()
        };
        let (liked_vectors, unliked_vectors) = (vectors(liked), vectors(unliked));
        let example_keys: HashSet<&str> = liked
            .iter()
            .chain(unliked)
            .map(|p| p.key.as_str())
            .collect();
        let profile = Profile::train(&liked_vectors, &unliked_vectors, &corpus, |i| {
            example_keys.contains(corpus_papers[i].key.as_str())
        });
        let configured = topic.examples.as_ref().and_then(|e| e.min_score);
        let min_score = match (&profile, configured) {
            (_, Some(min)) => min,
            (Some(profile), None) => profile
                .default_min_score(&liked_vectors, &corpus)
                .unwrap_or(0.0),
            (None, None) => 1.0,
        };
        tracing::debug!(
            topic = %topic.id,
            liked = liked.len(),
            unliked = unliked.len(),
            min_score,
            sample = corpus.len(),
            "trained a topic from its example papers"
        );
        trained.scored.push(ScoredTopic {
            id: topic.id.clone(),
            profile,
            min_score,
        });
    }
    tracing::info!(
        topics = trained.scored.len(),
        sample = corpus.len(),
        words = vocabulary.len(),
        missing = trained.missing.values().map(Vec::len).sum::<usize>(),
        "trained the topics learned from example papers"
    );
    trained.vocabulary = vocabulary;
    trained
}

/// The stored papers `names` name; the names not found are added to `missing` under `topic`.
fn look_up(
    store: &PaperStore,
    topic: &str,
    names: &[String],
    missing: &mut BTreeMap<String, Vec<String>>,
) -> Vec<StoredPaper> {
    let mut found = Vec::new();
    for name in names {
        match store.lookup(name) {
            Ok(Some(paper)) => found.push(paper),
            Ok(None) => missing
                .entry(topic.to_string())
                .or_default()
                .push(name.clone()),
            Err(error) => {
                tracing::warn!(%topic, example = %name, %error, "cannot read an example paper");
            }
        }
    }
    found
}

/// Per topic, the example papers (as configured) that the store does not hold.
pub fn missing(config: &Config, store: &PaperStore) -> BTreeMap<String, Vec<String>> {
    let mut missing = BTreeMap::new();
    for topic in &config.topics {
        if let Some(ex) = &topic.examples {
            look_up(store, &topic.id, &ex.like, &mut missing);
            look_up(store, &topic.id, &ex.unlike, &mut missing);
        }
    }
    missing
}

/// What `check` says of example papers missing from the store: which, per topic, and a source
/// that fetches those with an arXiv id (arXiv's API takes a list of ids). Empty when none is.
pub fn missing_report(missing: &BTreeMap<String, Vec<String>>) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut arxiv = Vec::new();
    for (topic, names) in missing {
        let _ = writeln!(
            out,
            "topic {topic}: {} example paper{} not in the store: {}",
            names.len(),
            if names.len() == 1 { " is" } else { "s are" },
            names.join(", ")
        );
        arxiv.extend(
            names
                .iter()
                .filter_map(|n| crate::pipeline::identity::find_arxiv_id(n))
                .map(|a| a.id),
        );
    }
    arxiv.sort();
    arxiv.dedup();
    if !arxiv.is_empty() {
        let _ = write!(
            out,
            "fetch the arXiv ones with a source; the topic is trained once they arrive:\n\n[[sources]]\nid = \"examples\"\nkind = \"arxiv-api\"\n\
             url = \"https://export.arxiv.org/api/query?id_list={}\"\nmax_results = {}\n",
            arxiv.join(","),
            arxiv.len()
        );
    }
    out
}

/// How `paper` scores against `topic` (learned from examples) as `trained` has it: its
/// relevance, the liked papers it is closest to and the words that weigh most. `None` for a
/// topic without examples, or whose liked papers are not stored.
pub fn explain(
    trained: &Trained,
    topic: &TopicConfig,
    paper: &StoredPaper,
    store: &PaperStore,
) -> Option<crate::inspect::Scored> {
    let scored = trained.scored.iter().find(|s| s.id == topic.id)?;
    let profile = scored.profile.as_ref()?;
    let vocabulary = &trained.vocabulary;
    let vector = vocabulary.vector(&paper.paper);
    let liked = look_up(
        store,
        &topic.id,
        &topic.examples.as_ref()?.like,
        &mut BTreeMap::new(),
    );
    let mut closest: Vec<(f32, String, String)> = liked
        .iter()
        .filter(|l| l.key != paper.key)
        .map(|l| {
            (
                vocabulary.vector(&l.paper).dot(&vector),
                crate::inspect::display_id(l),
                l.paper.title.clone(),
            )
        })
        .collect();
    closest.sort_by(|a, b| b.0.total_cmp(&a.0));
    closest.truncate(3);
    let words = profile
        .contributions(&vector)
        .into_iter()
        .take(10)
        .map(|(id, share)| (vocabulary.word(id).to_string(), share))
        .collect();
    Some(crate::inspect::Scored {
        relevance: profile.score(&vector),
        min_score: scored.min_score,
        closest,
        words,
    })
}

/// About [`SAMPLE_PAPERS`] stored papers, spread over the search index.
fn sample(store: &PaperStore, index: &SearchIndex) -> Vec<StoredPaper> {
    let keys = match index.sample_keys(SAMPLE_PAPERS) {
        Ok(keys) => keys,
        Err(error) => {
            tracing::warn!(%error, "the search index cannot give a sample; training on the examples alone");
            return Vec::new();
        }
    };
    let mut keys: Vec<String> = keys.into_iter().collect();
    keys.sort_unstable();
    // Decoding is most of reading a paper: a share of the keys per core.
    crate::in_parallel(&keys, |part: &[String]| {
        part.iter()
            .filter_map(|key| store.get(key).ok().flatten())
            .collect()
    })
}
