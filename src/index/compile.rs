//! Compiles a parsed [`Query`] (paperboy's one parser) into a tantivy query that matches
//! exactly the papers the reference evaluator ([`Query::matches`]) accepts:
//!
//! - a word is a term query on the field's folded words; a prefix (`quantiz*`) a regex query on
//!   the terms that start with it;
//! - a phrase is a phrase query (positions are indexed), or a regex phrase query when any of its
//!   words is a prefix; every expansion is allowed, so none is cut short;
//! - `all:` is the title or the abstract; `au:` looks within each author's name (tantivy leaves
//!   a gap between the values of a field, so a phrase never spans two authors);
//! - `cat:` and `src:` match whole folded tokens (`cat:cs.*` is a prefix on them);
//! - AND, OR and NOT are boolean queries; NOT is "every paper except".

use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, Occur, PhraseQuery, Query as TantivyQuery,
    RegexPhraseQuery, RegexQuery, TermQuery,
};
use tantivy::schema::{Field as IndexField, IndexRecordOption};
use tantivy::Term as IndexTerm;

use super::Fields;
use crate::pipeline::query::{Field, Query, Term, WordPattern};

/// A compiled query, or why tantivy refused to build one.
type Compiled = Result<Box<dyn TantivyQuery>, tantivy::TantivyError>;

/// The tantivy query for `query`.
pub(super) fn compile(query: &Query, fields: &Fields) -> Compiled {
    Ok(match query {
        Query::All => Box::new(AllQuery),
        Query::Term(term) => term_query(term, fields)?,
        Query::And(parts) => boolean(parts, Occur::Must, fields)?,
        Query::Or(parts) => boolean(parts, Occur::Should, fields)?,
        Query::Not(inner) => Box::new(BooleanQuery::new(vec![
            (Occur::Must, Box::new(AllQuery) as Box<dyn TantivyQuery>),
            (Occur::MustNot, compile(inner, fields)?),
        ])),
    })
}

fn boolean(parts: &[Query], occur: Occur, fields: &Fields) -> Compiled {
    if parts.is_empty() {
        return Ok(Box::new(EmptyQuery));
    }
    Ok(Box::new(BooleanQuery::new(
        parts
            .iter()
            .map(|p| Ok((occur, compile(p, fields)?)))
            .collect::<Result<_, tantivy::TantivyError>>()?,
    )))
}

fn term_query(term: &Term, fields: &Fields) -> Compiled {
    match term.field {
        Field::Title => words_query(fields.title, &term.words),
        Field::Abstract => words_query(fields.abstract_text, &term.words),
        Field::TitleAbstract => Ok(Box::new(BooleanQuery::new(vec![
            (Occur::Should, words_query(fields.title, &term.words)?),
            (
                Occur::Should,
                words_query(fields.abstract_text, &term.words)?,
            ),
        ]))),
        Field::Author => words_query(fields.authors, &term.words),
        // A token field's term is one whole token.
        Field::Category | Field::Source => {
            let field = if term.field == Field::Category {
                fields.categories
            } else {
                fields.sources
            };
            match term.words.as_slice() {
                [pattern] => word_query(field, pattern),
                _ => Ok(Box::new(EmptyQuery)),
            }
        }
    }
}

/// One word, or consecutive words, in a text field.
fn words_query(field: IndexField, words: &[WordPattern]) -> Compiled {
    Ok(match words {
        [] => Box::new(EmptyQuery),
        [word] => word_query(field, word)?,
        words if words.iter().any(|w| w.prefix) => {
            let mut query =
                RegexPhraseQuery::new(field, words.iter().map(regex_of).collect::<Vec<_>>());
            query.set_max_expansions(u32::MAX);
            Box::new(query)
        }
        words => Box::new(PhraseQuery::new(
            words
                .iter()
                .map(|w| IndexTerm::from_field_text(field, &w.word))
                .collect(),
        )),
    })
}

/// One word (or token), exactly or as a prefix.
fn word_query(field: IndexField, word: &WordPattern) -> Compiled {
    Ok(if word.prefix {
        Box::new(RegexQuery::from_pattern(&regex_of(word), field)?)
    } else {
        Box::new(TermQuery::new(
            IndexTerm::from_field_text(field, &word.word),
            IndexRecordOption::Basic,
        ))
    })
}

/// The regex (matched against whole terms) for a word or a prefix.
fn regex_of(word: &WordPattern) -> String {
    let literal = regex::escape(&word.word);
    if word.prefix {
        format!("{literal}.*")
    } else {
        literal
    }
}
