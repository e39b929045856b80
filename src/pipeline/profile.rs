//! Topics learned from example papers: each paper as a tf-idf vector of its words, a topic as
//! a profile vector trained on the papers it likes (and pushed away from those it does not),
//! and a paper's relevance to the topic as the cosine of the two. Pure: the caller reads the
//! papers; nothing here touches the store or the index.
//!
//! The method was chosen by measurement (`cargo bench --bench example_quality`, 1,000 real
//! arXiv records with their categories hidden): against the plain tf-idf centroid, what
//! helped was a damped term frequency (`1 + ln tf`), leaving out common English words and
//! words only one paper of the corpus has, counting the title twice, and one round of
//! pseudo-relevance feedback (the profile moves toward the ten papers of the corpus it ranks
//! highest, of those sharing a word with it); a linear SVM over the same vectors did no better than the centroid. Unliked
//! papers lower the score of papers close to one of them.
//!
//! Word statistics come from a sample of the stored papers ([`Vocabulary::build`]), so a
//! vector is the same whichever topic asks, and one vocabulary serves every topic.

use std::collections::HashMap;
use std::sync::LazyLock;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::model::Paper;
use crate::pipeline::text::for_each_word;

/// Bumped whenever scoring changes (the words, the weights, the training), so that topics with
/// examples are scored again.
pub const PROFILE_VERSION: u32 = 1;

/// A word kept in the vocabulary must be in at least this many papers of the sample: a word of
/// one paper says nothing about any other.
const MIN_PAPERS: u32 = 2;

/// How many of the corpus papers the profile ranks highest it moves toward (pseudo-relevance
/// feedback), and how far.
const FEEDBACK_PAPERS: usize = 10;
const FEEDBACK_WEIGHT: f32 = 0.5;

/// How much a paper's closeness to its nearest unliked paper lowers its score.
const UNLIKE_WEIGHT: f32 = 0.15;

/// The profile keeps its heaviest words only: a paper is scored by a few hundred lookups
/// whatever the number of example papers.
const PROFILE_WORDS: usize = 300;

/// The default `min_score` keeps about this share of papers (of the sample the vocabulary was
/// built from): about 8 of arXiv's 800 new papers a day.
pub const DEFAULT_SHARE: f64 = 0.01;

/// Common English words, sorted: they are in most abstracts and say nothing about a subject.
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "either",
    "et",
    "etc",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "however",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "may",
    "me",
    "might",
    "more",
    "most",
    "much",
    "must",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "since",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "therefore",
    "these",
    "they",
    "this",
    "those",
    "thus",
    "to",
    "too",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "very",
    "via",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "whether",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "within",
    "without",
    "would",
    "yet",
    "you",
    "your",
    "yours",
];

/// [`STOP_WORDS`] as a set: every word of every paper trained on is looked up.
static STOP_SET: LazyLock<FxHashSet<&'static str>> =
    LazyLock::new(|| STOP_WORDS.iter().copied().collect());

fn is_stop_word(word: &str) -> bool {
    STOP_SET.contains(word)
}

/// Calls `f` with every word of a paper that can carry meaning: the title's twice (a title
/// says what a paper is about in fewer words), then the abstract's.
fn for_each_paper_word(paper: &Paper, mut f: impl FnMut(&str)) {
    let mut keep = |word: &str| {
        if word.len() > 1 && !is_stop_word(word) && !word.bytes().all(|b| b.is_ascii_digit()) {
            f(word);
        }
    };
    for_each_word(&paper.title, &mut keep);
    for_each_word(&paper.title, &mut keep);
    for_each_word(&paper.abstract_text, &mut keep);
}

/// How many of `papers` have each word: a word is counted once per paper, when it is not the
/// paper of its last count.
fn paper_counts(papers: &[&Paper]) -> FxHashMap<Box<str>, u32> {
    let mut counts: FxHashMap<Box<str>, (u32, usize)> = FxHashMap::default();
    for (i, paper) in papers.iter().enumerate() {
        for_each_paper_word(paper, |word| match counts.get_mut(word) {
            Some((n, last)) if *last != i => {
                *n += 1;
                *last = i;
            }
            Some(_) => {}
            None => {
                counts.insert(word.into(), (1, i));
            }
        });
    }
    counts.into_iter().map(|(w, (n, _))| (w, n)).collect()
}

/// The words of a corpus and how rare each is: the shared part of every paper's vector.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    ids: FxHashMap<Box<str>, u32>,
    words: Vec<Box<str>>,
    idf: Vec<f32>,
    papers: u32,
}

impl Vocabulary {
    /// The vocabulary of `papers` (a sample of the store is enough: only how rare a word is
    /// matters): every word in at least two of them, with its inverse document frequency.
    pub fn build<'a>(papers: impl IntoIterator<Item = &'a Paper>) -> Self {
        let papers: Vec<&Paper> = papers.into_iter().collect();
        // How many papers have each word, counted a share of the papers per core.
        let parts = crate::in_parallel(&papers, |part: &[&Paper]| vec![paper_counts(part)]);
        let mut parts = parts.into_iter();
        let mut counts = parts.next().unwrap_or_default();
        for part in parts {
            for (word, n) in part {
                *counts.entry(word).or_default() += n;
            }
        }
        let total = u32::try_from(papers.len()).unwrap_or(u32::MAX);
        let mut kept: Vec<(Box<str>, u32)> = counts
            .into_iter()
            .filter(|&(_, n)| n >= MIN_PAPERS)
            .collect();
        kept.sort_unstable();
        let n = f64::from(total);
        let idf = kept
            .iter()
            .map(|&(_, df)| ((1.0 + n) / (1.0 + f64::from(df))).ln() as f32 + 1.0)
            .collect();
        let words: Vec<Box<str>> = kept.into_iter().map(|(w, _)| w).collect();
        let ids = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        Vocabulary {
            ids,
            words,
            idf,
            papers: total,
        }
    }

    /// How many papers the statistics come from.
    pub fn papers(&self) -> u32 {
        self.papers
    }

    /// How many words it knows.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether it knows no word.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The word with this id.
    pub fn word(&self, id: u32) -> &str {
        self.words.get(id as usize).map_or("", |w| w)
    }

    /// A paper's unit tf-idf vector over the known words (empty when it has none).
    pub fn vector(&self, paper: &Paper) -> TermVector {
        let mut tf: FxHashMap<u32, u32> = FxHashMap::default();
        for_each_paper_word(paper, |word| {
            if let Some(&id) = self.ids.get(word) {
                *tf.entry(id).or_default() += 1;
            }
        });
        let weights = tf
            .into_iter()
            .map(|(id, n)| (id, (1.0 + (n as f32).ln()) * self.idf[id as usize]))
            .collect();
        TermVector::unit(weights)
    }
}

/// A sparse vector over a [`Vocabulary`]'s words, sorted by word id; of length 1 unless empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TermVector(Vec<(u32, f32)>);

impl TermVector {
    /// The vector of these weights scaled to length 1.
    fn unit(mut weights: Vec<(u32, f32)>) -> Self {
        weights.retain(|&(_, w)| w > 0.0);
        weights.sort_unstable_by_key(|&(id, _)| id);
        let norm = weights.iter().map(|&(_, w)| w * w).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (_, w) in &mut weights {
                *w /= norm;
            }
        }
        TermVector(weights)
    }

    /// The word ids and weights.
    pub fn entries(&self) -> &[(u32, f32)] {
        &self.0
    }

    /// The cosine of two unit vectors.
    pub fn dot(&self, other: &TermVector) -> f32 {
        let (mut a, mut b) = (self.0.iter().peekable(), other.0.iter().peekable());
        let mut sum = 0.0;
        while let (Some(&&(i, x)), Some(&&(j, y))) = (a.peek(), b.peek()) {
            match i.cmp(&j) {
                std::cmp::Ordering::Less => {
                    a.next();
                }
                std::cmp::Ordering::Greater => {
                    b.next();
                }
                std::cmp::Ordering::Equal => {
                    sum += x * y;
                    a.next();
                    b.next();
                }
            }
        }
        sum
    }

    /// The unit vector of the mean of `vectors` (empty for none).
    fn mean<'a>(vectors: impl IntoIterator<Item = &'a TermVector>) -> TermVector {
        let mut sum: HashMap<u32, f32> = HashMap::new();
        for v in vectors {
            for &(id, w) in &v.0 {
                *sum.entry(id).or_default() += w;
            }
        }
        TermVector::unit(sum.into_iter().collect())
    }

    /// `self + weight * other`, scaled to length 1.
    fn plus(&self, other: &TermVector, weight: f32) -> TermVector {
        let mut sum: HashMap<u32, f32> = self.0.iter().copied().collect();
        for &(id, w) in &other.0 {
            *sum.entry(id).or_default() += weight * w;
        }
        TermVector::unit(sum.into_iter().collect())
    }

    /// The `n` heaviest entries, scaled to length 1 again.
    fn heaviest(&self, n: usize) -> TermVector {
        let mut entries = self.0.clone();
        if entries.len() > n {
            entries.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
            entries.truncate(n);
        }
        TermVector::unit(entries)
    }
}

/// One topic's profile: what its liked papers have in common, and the papers it does not like.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    centre: TermVector,
    unliked: Vec<TermVector>,
}

impl Profile {
    /// Trains a profile on the vectors of the liked and unliked papers and of a corpus to
    /// learn from (a sample of the store; the examples in it are skipped by `is_example`).
    /// `None` when no liked paper has a known word.
    pub fn train(
        liked: &[TermVector],
        unliked: &[TermVector],
        corpus: &[TermVector],
        is_example: impl Fn(usize) -> bool,
    ) -> Option<Profile> {
        let centre = TermVector::mean(liked);
        if centre.0.is_empty() {
            return None;
        }
        let first = Profile {
            centre,
            unliked: unliked
                .iter()
                .filter(|v| !v.0.is_empty())
                .cloned()
                .collect(),
        };
        let mut ranked: Vec<(f32, usize)> = corpus
            .iter()
            .enumerate()
            .filter(|&(i, _)| !is_example(i))
            .map(|(i, v)| (first.score(v), i))
            .filter(|&(s, _)| s > 0.0)
            .collect();
        let feedback = FEEDBACK_PAPERS.min(ranked.len());
        let centre = if feedback > 0 {
            ranked.select_nth_unstable_by(feedback - 1, |a, b| b.0.total_cmp(&a.0));
            let top = TermVector::mean(ranked[..feedback].iter().map(|&(_, i)| &corpus[i]));
            first.centre.plus(&top, FEEDBACK_WEIGHT)
        } else {
            first.centre.clone()
        };
        Some(Profile {
            centre: centre.heaviest(PROFILE_WORDS),
            unliked: first.unliked,
        })
    }

    /// The profile's words and weights, heaviest first.
    pub fn words(&self) -> Vec<(u32, f32)> {
        let mut words = self.centre.0.clone();
        words.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
        words
    }

    /// A paper's relevance, in [0, 1]: the cosine of its vector and the profile, lowered by
    /// its closeness to the nearest unliked paper.
    pub fn score(&self, paper: &TermVector) -> f32 {
        self.penalized(self.centre.dot(paper), paper)
    }

    fn penalized(&self, cosine: f32, paper: &TermVector) -> f32 {
        if cosine <= 0.0 {
            return 0.0;
        }
        let nearest_unliked = self
            .unliked
            .iter()
            .map(|u| u.dot(paper))
            .fold(0.0f32, f32::max);
        (cosine - UNLIKE_WEIGHT * nearest_unliked).clamp(0.0, 1.0)
    }

    /// The default threshold: the score that the best [`DEFAULT_SHARE`] of `corpus` reach,
    /// but never above the lowest score of a liked paper (a paper as close as the examples are
    /// always gets in). `None` for an empty corpus.
    pub fn default_min_score(&self, liked: &[TermVector], corpus: &[TermVector]) -> Option<f32> {
        if corpus.is_empty() {
            return None;
        }
        let mut scores: Vec<f32> = corpus.iter().map(|v| self.score(v)).collect();
        let rank = ((corpus.len() as f64 * DEFAULT_SHARE).ceil() as usize).clamp(1, scores.len());
        scores.select_nth_unstable_by(rank - 1, |a, b| b.total_cmp(a));
        let share = scores[rank - 1];
        let lowest_liked = liked
            .iter()
            .map(|v| self.score(v))
            .filter(|&s| s > 0.0)
            .fold(f32::INFINITY, f32::min);
        Some(share.min(lowest_liked))
    }

    /// The words that weigh most in a paper's score: (word id, share of the cosine), largest
    /// first.
    pub fn contributions(&self, paper: &TermVector) -> Vec<(u32, f32)> {
        let weights: HashMap<u32, f32> = self.centre.0.iter().copied().collect();
        let mut parts: Vec<(u32, f32)> = paper
            .0
            .iter()
            .filter_map(|&(id, w)| weights.get(&id).map(|p| (id, p * w)))
            .collect();
        parts.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
        parts
    }
}

/// Every example-based topic's profile, scored together: a paper's vector is made once and
/// each of its words looked up once, whatever the number of topics.
#[derive(Debug, Clone, Default)]
pub struct ProfileSet {
    vocabulary: std::sync::Arc<Vocabulary>,
    profiles: Vec<Profile>,
    /// Word id → (profile, weight).
    postings: HashMap<u32, Vec<(u32, f32)>>,
}

impl ProfileSet {
    /// The profiles, all over `vocabulary`.
    pub fn new(vocabulary: std::sync::Arc<Vocabulary>, profiles: Vec<Profile>) -> Self {
        let mut postings: HashMap<u32, Vec<(u32, f32)>> = HashMap::new();
        for (slot, profile) in profiles.iter().enumerate() {
            for &(id, w) in &profile.centre.0 {
                postings.entry(id).or_default().push((slot as u32, w));
            }
        }
        ProfileSet {
            vocabulary,
            profiles,
            postings,
        }
    }

    /// Whether there is no profile.
    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }

    /// The vocabulary the profiles are over.
    pub fn vocabulary(&self) -> &Vocabulary {
        &self.vocabulary
    }

    /// The words of the profile at `slot` with their weights, heaviest first.
    pub fn profile_words(&self, slot: usize) -> Vec<(String, f32)> {
        self.profiles.get(slot).map_or_else(Vec::new, |p| {
            p.words()
                .into_iter()
                .map(|(id, w)| (self.vocabulary.word(id).to_string(), w))
                .collect()
        })
    }

    /// The paper's score for the profile at `slot` (0 for no such profile).
    pub fn score_one(&self, slot: usize, paper: &Paper) -> f32 {
        self.profiles
            .get(slot)
            .map_or(0.0, |p| p.score(&self.vocabulary.vector(paper)))
    }

    /// The paper's score for every profile, indexed by profile (0 for a profile it shares no
    /// word with).
    pub fn scores(&self, paper: &Paper) -> Vec<f32> {
        let mut dots = vec![0.0f32; self.profiles.len()];
        if self.profiles.is_empty() {
            return dots;
        }
        let vector = self.vocabulary.vector(paper);
        for &(id, w) in &vector.0 {
            for &(slot, p) in self.postings.get(&id).into_iter().flatten() {
                dots[slot as usize] += w * p;
            }
        }
        for (dot, profile) in dots.iter_mut().zip(&self.profiles) {
            if *dot > 0.0 {
                *dot = profile.penalized(*dot, &vector);
            }
        }
        dots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper(title: &str, abstract_text: &str) -> Paper {
        Paper {
            title: title.into(),
            abstract_text: abstract_text.into(),
            ..Paper::default()
        }
    }

    fn corpus() -> Vec<Paper> {
        vec![
            paper(
                "Rigidity of sparse graphs",
                "pebble games decide rigidity of sparse graphs",
            ),
            paper(
                "Pebble games",
                "a pebble game algorithm for sparse graph rigidity",
            ),
            paper(
                "Laman graphs",
                "rigidity matroids of Laman graphs and pebble games",
            ),
            paper(
                "Dark matter halos",
                "simulations of dark matter halos in galaxies",
            ),
            paper(
                "Galaxy clusters",
                "dark matter in galaxy clusters from lensing",
            ),
            paper("Lensing surveys", "weak lensing surveys of galaxy clusters"),
            paper("Quantum walks", "quantum walks on graphs and their mixing"),
            paper("Quantum codes", "quantum error correcting codes on graphs"),
        ]
    }

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_stop_word("the") && !is_stop_word("graph"));
    }

    #[test]
    fn the_vocabulary_keeps_words_of_two_papers_and_vectors_are_unit() {
        let papers = corpus();
        let vocabulary = Vocabulary::build(&papers);
        assert_eq!(vocabulary.papers(), 8);
        let known: Vec<&str> = (0..vocabulary.len() as u32)
            .map(|i| vocabulary.word(i))
            .collect();
        assert!(known.contains(&"pebble") && known.contains(&"galaxy"));
        assert!(!known.contains(&"simulations"), "in one paper only");
        assert!(!known.contains(&"of"), "a stop word");
        let v = vocabulary.vector(&papers[0]);
        assert!((v.dot(&v) - 1.0).abs() < 1e-5);
        assert_eq!(
            vocabulary.vector(&paper("Nothing known", "zzz")),
            TermVector::default()
        );
    }

    #[test]
    fn a_profile_ranks_papers_like_its_examples_first_and_unlikes_push_away() {
        let papers = corpus();
        let vocabulary = Vocabulary::build(&papers);
        let vectors: Vec<TermVector> = papers.iter().map(|p| vocabulary.vector(p)).collect();
        let liked = [vectors[0].clone()];
        let profile = Profile::train(&liked, &[], &vectors, |i| i == 0).expect("trained");
        let mut ranked: Vec<(f32, usize)> = (1..papers.len())
            .map(|i| (profile.score(&vectors[i]), i))
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        let top: std::collections::HashSet<usize> = ranked[..2].iter().map(|&(_, i)| i).collect();
        assert_eq!(top, std::collections::HashSet::from([1, 2]), "{ranked:?}");
        assert!(ranked.iter().all(|&(s, _)| (0.0..=1.0).contains(&s)));
        assert_eq!(profile.score(&vectors[3]), 0.0, "no shared word");

        // Unliking the quantum walks paper lowers the other graph paper that is like it.
        let quantum_before = profile.score(&vectors[7]);
        let unliked = [vectors[6].clone()];
        let with_unlike =
            Profile::train(&liked, &unliked, &vectors, |i| i == 0 || i == 6).expect("trained");
        assert!(with_unlike.score(&vectors[7]) < quantum_before);

        let min = profile
            .default_min_score(&liked, &vectors)
            .expect("a corpus");
        assert!(min > 0.0 && min <= profile.score(&vectors[0]));
        let contributions = profile.contributions(&vectors[1]);
        assert!(["pebble", "games", "rigidity", "sparse"]
            .contains(&vocabulary.word(contributions[0].0)));
    }

    #[test]
    fn the_set_scores_each_profile_as_the_profile_does() {
        let papers = corpus();
        let vocabulary = std::sync::Arc::new(Vocabulary::build(&papers));
        let vectors: Vec<TermVector> = papers.iter().map(|p| vocabulary.vector(p)).collect();
        let graphs = Profile::train(
            &[vectors[0].clone()],
            &[vectors[6].clone()],
            &vectors,
            |i| i == 0 || i == 6,
        )
        .expect("trained");
        let galaxies =
            Profile::train(&[vectors[3].clone()], &[], &vectors, |i| i == 3).expect("trained");
        let set = ProfileSet::new(vocabulary, vec![graphs.clone(), galaxies.clone()]);
        for (p, v) in papers.iter().zip(&vectors) {
            let expected = [graphs.score(v), galaxies.score(v)];
            let got = set.scores(p);
            assert_eq!(got.len(), 2, "{}", p.title);
            for (x, y) in got.into_iter().zip(expected) {
                assert!((x - y).abs() < 1e-5, "{}: {x} {y}", p.title);
            }
        }
        assert!(Profile::train(&[TermVector::default()], &[], &vectors, |_| false).is_none());
    }
}
