//! All topics' queries compiled together, so tagging a paper costs about the same with 1,000
//! topics as with 10: every term of every topic becomes one pattern of a single Aho-Corasick
//! automaton, a paper's text is scanned once to find which patterns occur in which fields, and
//! only the topics one of those hits can satisfy (plus those with no positive term at all)
//! evaluate their boolean expression, over a table of hits. Pure.
//!
//! The paper's fields are laid out as one string of folded words, each word between `\x01`
//! separators, authors apart by `\x02` and fields apart by `\x03`, so a pattern
//! `\x01language\x01model` (the phrase `"language model*"`) can match only inside one field and
//! never across two authors.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::query::{Field, Query, Term};
use super::text::{fold, fold_token, for_each_word};
use crate::model::Paper;

const WORD: char = '\u{1}';
const AUTHOR: char = '\u{2}';
const FIELD: char = '\u{3}';

/// A field's bit in a hit mask.
fn field_bits(field: Field) -> u8 {
    match field {
        Field::Title => 1,
        Field::Abstract => 2,
        Field::TitleAbstract => 1 | 2,
        Field::Author => 4,
        Field::Category => 8,
        Field::Source => 16,
    }
}

/// Up to this many patterns the automaton is a DFA, beyond it a contiguous NFA.
const DFA_MAX_PATTERNS: usize = 1000;

/// The order fields are laid out in the scanned text.
const LAYOUT: [u8; 5] = [1, 2, 4, 8, 16];

/// A query with its terms replaced by pattern ids.
#[derive(Debug, Clone)]
enum Expr {
    All,
    Leaf { pattern: u32, fields: u8 },
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

impl Expr {
    fn eval(&self, hits: &[u8]) -> bool {
        match self {
            Expr::All => true,
            Expr::Leaf { pattern, fields } => hits[*pattern as usize] & fields != 0,
            Expr::And(parts) => parts.iter().all(|p| p.eval(hits)),
            Expr::Or(parts) => parts.iter().any(|p| p.eval(hits)),
            Expr::Not(inner) => !inner.eval(hits),
        }
    }

    /// Patterns at least one of which must occur for the expression to hold, or `None` when
    /// it can hold with no hit at all (it has a NOT or `*` on every path).
    fn triggers(&self) -> Option<Vec<u32>> {
        match self {
            Expr::All | Expr::Not(_) => None,
            Expr::Leaf { pattern, .. } => Some(vec![*pattern]),
            Expr::Or(parts) => {
                let mut all = Vec::new();
                for part in parts {
                    all.extend(part.triggers()?);
                }
                Some(all)
            }
            Expr::And(parts) => parts.iter().filter_map(Expr::triggers).min_by_key(Vec::len),
        }
    }
}

/// Every topic's query, compiled into one automaton.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    automaton: Option<AhoCorasick>,
    topics: Vec<Expr>,
    /// For each pattern, the topics whose expression it can satisfy.
    triggered_by: Vec<Vec<u32>>,
    /// Topics to evaluate for every paper.
    always: Vec<u32>,
}

impl Matcher {
    /// Compiles queries; the matcher reports matches by their index in `queries`.
    pub(crate) fn new<'a>(queries: impl IntoIterator<Item = &'a Query>) -> Self {
        let mut strings: Vec<String> = Vec::new();
        let mut ids = std::collections::HashMap::new();
        let topics: Vec<Expr> = queries
            .into_iter()
            .map(|q| compile(q, &mut strings, &mut ids))
            .collect();
        let mut triggered_by = vec![Vec::new(); strings.len()];
        let mut always = Vec::new();
        for (i, expr) in topics.iter().enumerate() {
            match expr.triggers() {
                Some(mut patterns) => {
                    patterns.sort_unstable();
                    patterns.dedup();
                    for p in patterns {
                        triggered_by[p as usize].push(i as u32);
                    }
                }
                None => always.push(i as u32),
            }
        }
        let automaton = (!strings.is_empty()).then(|| {
            // A DFA is fastest while it fits in cache; past that, the contiguous NFA's smaller
            // tables win (measured by `benches/tagging.rs`).
            let kind = if strings.len() <= DFA_MAX_PATTERNS {
                AhoCorasickKind::DFA
            } else {
                AhoCorasickKind::ContiguousNFA
            };
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .kind(Some(kind))
                .build(&strings)
                // Falls back to whatever aho-corasick can build if that kind is too big.
                .or_else(|_| {
                    AhoCorasick::builder()
                        .match_kind(MatchKind::Standard)
                        .build(&strings)
                })
                .expect("patterns of plain text always build")
        });
        Matcher {
            automaton,
            topics,
            triggered_by,
            always,
        }
    }

    /// The indexes of the queries the paper matches, ascending.
    pub(crate) fn matching(&self, paper: &Paper) -> Vec<usize> {
        let mut hits = vec![0u8; self.triggered_by.len()];
        let mut marked = vec![false; self.topics.len()];
        let mut candidates: Vec<u32> = self.always.clone();
        for &t in &self.always {
            marked[t as usize] = true;
        }
        if let Some(automaton) = &self.automaton {
            let (text, bounds) = layout(paper);
            for m in automaton.find_overlapping_iter(&text) {
                let field = bounds.partition_point(|&end| end <= m.start());
                let bit = LAYOUT.get(field).copied().unwrap_or(0);
                let pattern = m.pattern().as_usize();
                if hits[pattern] & bit == 0 {
                    hits[pattern] |= bit;
                    for &t in &self.triggered_by[pattern] {
                        if !std::mem::replace(&mut marked[t as usize], true) {
                            candidates.push(t);
                        }
                    }
                }
            }
        }
        let mut out: Vec<usize> = candidates
            .into_iter()
            .filter(|&t| self.topics[t as usize].eval(&hits))
            .map(|t| t as usize)
            .collect();
        out.sort_unstable();
        out
    }
}

/// The paper's fields as one string to scan, and where each field ends.
fn layout(paper: &Paper) -> (String, [usize; 5]) {
    let mut text = String::with_capacity(paper.title.len() + paper.abstract_text.len() + 256);
    let mut bounds = [0; 5];
    let words = |text: &mut String, s: &str| {
        for_each_word(s, |w| {
            text.push_str(w);
            text.push(WORD);
        });
    };
    text.push(WORD);
    words(&mut text, &paper.title);
    bounds[0] = text.len();
    text.push(FIELD);
    text.push(WORD);
    words(&mut text, &paper.abstract_text);
    bounds[1] = text.len();
    text.push(FIELD);
    for author in &paper.authors {
        text.push(WORD);
        words(&mut text, &author.name);
        text.push(AUTHOR);
    }
    bounds[2] = text.len();
    text.push(FIELD);
    text.push(WORD);
    for category in &paper.categories {
        text.push_str(&fold_token(category));
        text.push(WORD);
    }
    bounds[3] = text.len();
    text.push(FIELD);
    text.push(WORD);
    for source in &paper.sources {
        text.push_str(&fold(source));
        text.push(WORD);
    }
    bounds[4] = text.len();
    (text, bounds)
}

/// The pattern a term looks for in the laid-out text.
fn pattern(term: &Term) -> String {
    let mut out = String::new();
    out.push(WORD);
    for (i, w) in term.words.iter().enumerate() {
        if i > 0 {
            out.push(WORD);
        }
        out.push_str(&w.word);
    }
    if !term.words.last().is_some_and(|w| w.prefix) {
        out.push(WORD);
    }
    out
}

fn compile(
    query: &Query,
    strings: &mut Vec<String>,
    ids: &mut std::collections::HashMap<String, u32>,
) -> Expr {
    match query {
        Query::All => Expr::All,
        Query::Term(term) => {
            let text = pattern(term);
            let next = strings.len() as u32;
            let pattern = *ids.entry(text.clone()).or_insert_with(|| {
                strings.push(text);
                next
            });
            Expr::Leaf {
                pattern,
                fields: field_bits(term.field),
            }
        }
        Query::And(parts) => Expr::And(parts.iter().map(|p| compile(p, strings, ids)).collect()),
        Query::Or(parts) => Expr::Or(parts.iter().map(|p| compile(p, strings, ids)).collect()),
        Query::Not(inner) => Expr::Not(Box::new(compile(inner, strings, ids))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;
    use crate::model::Author;
    use crate::pipeline::query::Document;

    fn paper(
        title: &str,
        abstract_text: &str,
        authors: &[&str],
        cats: &[&str],
        srcs: &[&str],
    ) -> Paper {
        Paper {
            title: title.into(),
            abstract_text: abstract_text.into(),
            authors: authors.iter().map(|a| Author::named(*a)).collect(),
            categories: cats.iter().map(std::string::ToString::to_string).collect(),
            sources: srcs
                .iter()
                .map(std::string::ToString::to_string)
                .collect::<BTreeSet<_>>(),
            ..Default::default()
        }
    }

    #[test]
    fn compiled_topics_match_like_the_reference() {
        let queries: Vec<Query> = [
            "diffusion",
            "ti:diffusion",
            "\"language model*\"",
            "au:\"yann lecun\"",
            "au:\"lecun yoshua\"",
            "cat:cs.*",
            "cat:stat.ml",
            "src:hf-*",
            "NOT diffusion",
            "*",
            "a ANDNOT b",
            "(x OR y) AND -z",
        ]
        .iter()
        .map(|q| Query::parse(q).unwrap())
        .collect();
        let matcher = Matcher::new(&queries);
        let papers = [
            paper(
                "Diffusion Language Models",
                "x and a",
                &["Yann LeCun", "Yoshua Bengio"],
                &["cs.LG"],
                &["hf-daily"],
            ),
            paper(
                "Other",
                "language modelling of b",
                &["Ann"],
                &["stat.ML"],
                &["arxiv"],
            ),
            paper("", "", &[], &[], &[]),
        ];
        for p in &papers {
            let doc = Document::of(p);
            let expected: Vec<usize> = (0..queries.len())
                .filter(|&i| queries[i].matches(&doc))
                .collect();
            assert_eq!(matcher.matching(p), expected, "{p:?}");
        }
        assert_eq!(
            matcher.matching(&papers[0]),
            vec![0, 1, 2, 3, 5, 7, 9, 10, 11]
        );
    }

    #[test]
    fn no_topics_and_no_terms() {
        let none: Vec<Query> = Vec::new();
        assert!(Matcher::new(&none)
            .matching(&paper("a", "b", &[], &[], &[]))
            .is_empty());
        let all = [Query::parse("*").unwrap()];
        assert_eq!(
            Matcher::new(&all).matching(&paper("", "", &[], &[], &[])),
            vec![0]
        );
    }

    // Random queries over a small vocabulary, so that they hit and miss often, against random
    // papers over the same vocabulary: the compiled matcher agrees with the reference.
    const VOCAB: &[&str] = &["alpha", "beta", "gamma", "delta", "alp", "be", "Ölm", "olm"];

    fn word() -> impl Strategy<Value = String> {
        prop::sample::select(VOCAB).prop_map(str::to_string)
    }

    fn term() -> impl Strategy<Value = String> {
        let field = prop::sample::select(vec!["", "ti:", "abs:", "all:", "au:", "cat:", "src:"]);
        let body = prop_oneof![
            word(),
            word().prop_map(|w| format!("{w}*")),
            prop::collection::vec(word(), 1..3).prop_map(|ws| format!("\"{}\"", ws.join(" "))),
        ];
        (field, body).prop_map(|(f, b)| format!("{f}{b}"))
    }

    fn query() -> impl Strategy<Value = String> {
        term().prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} AND {b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} {b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} ANDNOT {b})")),
                inner.clone().prop_map(|a| format!("NOT {a}")),
                inner.prop_map(|a| format!("-{a}")),
            ]
        })
    }

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(word(), 0..8).prop_map(|ws| ws.join(" "))
    }

    fn any_paper() -> impl Strategy<Value = Paper> {
        (
            text(),
            text(),
            prop::collection::vec(text(), 0..3),
            prop::collection::vec(word(), 0..3),
            prop::collection::vec(word(), 0..2),
        )
            .prop_map(|(title, abstract_text, authors, cats, srcs)| Paper {
                title,
                abstract_text,
                authors: authors.into_iter().map(Author::named).collect(),
                categories: cats,
                sources: srcs.into_iter().collect(),
                ..Default::default()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn compiled_matcher_agrees_with_the_reference(
            queries in prop::collection::vec(query(), 1..6),
            papers in prop::collection::vec(any_paper(), 1..6),
        ) {
            let parsed: Vec<Query> = queries.iter().map(|q| Query::parse(q).unwrap()).collect();
            let matcher = Matcher::new(&parsed);
            for p in &papers {
                let doc = Document::of(p);
                let expected: Vec<usize> = (0..parsed.len()).filter(|&i| parsed[i].matches(&doc)).collect();
                prop_assert_eq!(matcher.matching(p), expected, "queries {:?} paper {:?}", queries, p);
            }
        }
    }
}
