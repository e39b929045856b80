//! Topic queries: the parser from query text to a [`Query`] tree, a straightforward evaluator
//! (the reference the compiled [`super::matcher`] is checked against), and explanations of why
//! a paper does or does not match. Pure: no IO.
//!
//! The language follows arXiv's search syntax. Operators are written in capitals; a lower-case
//! `and`/`or`/`not` is a word to match.
//!
//! ```text
//! query   := or
//! or      := and ("OR" and)*
//! and     := unary (("AND" | "ANDNOT" | ε) unary)*     -- juxtaposition is AND
//! unary   := "NOT" unary | "-" unary | primary          -- NOT binds tightest
//! primary := [field ":"] ( "(" or ")" | term )
//! term    := word | word"*" | "\"" phrase "\"" | "*"
//! field   := ti | abs | au | cat | src | all
//! ```

use std::fmt;

use super::text::{fold, fold_token, words};
use crate::model::Paper;

/// Where a term looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// `ti:` the title.
    Title,
    /// `abs:` the abstract.
    Abstract,
    /// `all:` title and abstract; the default.
    TitleAbstract,
    /// `au:` any author's name.
    Author,
    /// `cat:` a subject category (`cat:cs.LG`, `cat:cs.*`).
    Category,
    /// `src:` the id of a source the paper was seen in.
    Source,
}

impl Field {
    /// Every field, with its prefix.
    pub const PREFIXES: &'static [(&'static str, Field)] = &[
        ("ti", Field::Title),
        ("abs", Field::Abstract),
        ("all", Field::TitleAbstract),
        ("au", Field::Author),
        ("cat", Field::Category),
        ("src", Field::Source),
    ];

    /// The prefix written in queries.
    pub fn prefix(self) -> &'static str {
        Self::PREFIXES
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("all", |(p, _)| p)
    }

    /// What explanations call this field.
    pub fn describe(self) -> &'static str {
        match self {
            Field::Title => "the title",
            Field::Abstract => "the abstract",
            Field::TitleAbstract => "the title or abstract",
            Field::Author => "the authors",
            Field::Category => "the categories",
            Field::Source => "the sources",
        }
    }

    /// Whether the field holds whole tokens (category names, source ids) rather than text
    /// split into words.
    pub fn is_token_field(self) -> bool {
        matches!(self, Field::Category | Field::Source)
    }
}

/// One word of a term: matched exactly, or as a prefix when the term ended in `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WordPattern {
    /// The word, folded as paperboy's tokenizer folds text.
    pub word: String,
    /// Whether it matches every word that starts with it (`quantiz*`).
    pub prefix: bool,
}

/// A term: one or more words that must appear consecutively in the field. In `cat:` and
/// `src:` a term is one whole token (`cs.lg`, or `cs.` as a prefix for `cs.*`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Term {
    /// The field the words are looked for in.
    pub field: Field,
    /// The words, one after another (more than one: a phrase).
    pub words: Vec<WordPattern>,
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field != Field::TitleAbstract {
            write!(f, "{}:", self.field.prefix())?;
        }
        let quoted = self.words.len() > 1;
        if quoted {
            f.write_str("\"")?;
        }
        for (i, w) in self.words.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(&w.word)?;
            if w.prefix {
                f.write_str("*")?;
            }
        }
        if quoted {
            f.write_str("\"")?;
        }
        Ok(())
    }
}

/// A parsed topic query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// `*`: every paper.
    All,
    /// One term: a word, a prefix or a phrase in a field.
    Term(Term),
    /// Every part matches.
    And(Vec<Query>),
    /// Some part matches.
    Or(Vec<Query>),
    /// The part does not match.
    Not(Box<Query>),
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, parts: &[Query], op: &str| {
            f.write_str("(")?;
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                write!(f, "{p}")?;
            }
            f.write_str(")")
        };
        match self {
            Query::All => f.write_str("*"),
            Query::Term(t) => write!(f, "{t}"),
            Query::And(parts) => join(f, parts, "AND"),
            Query::Or(parts) => join(f, parts, "OR"),
            Query::Not(inner) => write!(f, "NOT {inner}"),
        }
    }
}

/// Why a query did not parse, with the 1-based character position of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at position {position}: {message}")]
pub struct QueryError {
    /// Where in the query text, counting characters from 1.
    pub position: usize,
    /// What was wrong there, and what was expected.
    pub message: String,
}

/// The deepest nesting of parentheses and NOTs a query may have.
const MAX_DEPTH: usize = 64;

/// The text of a paper a query is matched against, folded and split once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    /// The title's words, folded.
    pub title: Vec<String>,
    /// The abstract's words, folded.
    pub abstract_words: Vec<String>,
    /// Each author's name as words.
    pub authors: Vec<Vec<String>>,
    /// Categories, folded, whole.
    pub categories: Vec<String>,
    /// Source ids.
    pub sources: Vec<String>,
}

impl Document {
    /// Every field of a paper.
    pub fn of(paper: &Paper) -> Self {
        Document {
            title: words(&paper.title),
            abstract_words: words(&paper.abstract_text),
            authors: paper.authors.iter().map(|a| words(&a.name)).collect(),
            categories: paper.categories.iter().map(|c| fold_token(c)).collect(),
            sources: paper.sources.iter().map(|s| fold(s)).collect(),
        }
    }

    /// Where in this document a term matches: the field and the words it matched, if any.
    pub fn find(&self, term: &Term) -> Option<(Field, String)> {
        let run = |field: Field, text: &[String]| {
            find_run(text, &term.words).map(|at| (field, text[at..at + term.words.len()].join(" ")))
        };
        let token = |field: Field, tokens: &[String]| {
            let pattern = term.words.first()?;
            tokens
                .iter()
                .find(|t| pattern.matches(t))
                .map(|t| (field, t.clone()))
        };
        match term.field {
            Field::Title => run(Field::Title, &self.title),
            Field::Abstract => run(Field::Abstract, &self.abstract_words),
            Field::TitleAbstract => run(Field::Title, &self.title)
                .or_else(|| run(Field::Abstract, &self.abstract_words)),
            Field::Author => self.authors.iter().find_map(|a| run(Field::Author, a)),
            Field::Category => token(Field::Category, &self.categories),
            Field::Source => token(Field::Source, &self.sources),
        }
    }
}

impl Query {
    /// Parses query text.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let tokens = lex(text)?;
        let mut parser = Parser {
            tokens,
            next: 0,
            end: text.chars().count() + 1,
            depth: 0,
        };
        if parser.tokens.is_empty() {
            return Err(QueryError {
                position: 1,
                message: "the query is empty; write `*` to match every paper".into(),
            });
        }
        let query = parser.or(Field::TitleAbstract)?;
        if let Some(token) = parser.peek() {
            return Err(QueryError {
                position: token.position,
                message: format!(
                    "expected AND, OR, ANDNOT, a term or the end of the query, found {}",
                    token.kind
                ),
            });
        }
        Ok(query)
    }

    /// Whether the document matches: the straightforward evaluator.
    pub fn matches(&self, doc: &Document) -> bool {
        match self {
            Query::All => true,
            Query::Term(term) => doc.find(term).is_some(),
            Query::And(parts) => parts.iter().all(|q| q.matches(doc)),
            Query::Or(parts) => parts.iter().any(|q| q.matches(doc)),
            Query::Not(inner) => !inner.matches(doc),
        }
    }

    /// Why the document matches or not, as an indented tree with ✓ and ✗ on every part.
    pub fn explain(&self, doc: &Document) -> String {
        let mut out = String::new();
        self.explain_into(doc, 0, &mut out);
        out
    }

    fn explain_into(&self, doc: &Document, depth: usize, out: &mut String) {
        let indent = "  ".repeat(depth);
        let mark = |ok: bool| if ok { "✓" } else { "✗" };
        match self {
            Query::All => out.push_str(&format!("{indent}✓ *  (every paper)\n")),
            Query::Term(term) => match doc.find(term) {
                Some((field, found)) => out.push_str(&format!(
                    "{indent}✓ {term}  matched {:?} in {}\n",
                    found,
                    field.describe()
                )),
                None => out.push_str(&format!(
                    "{indent}✗ {term}  not found in {}\n",
                    term.field.describe()
                )),
            },
            Query::And(parts) | Query::Or(parts) => {
                let (name, needs) = match self {
                    Query::And(_) => ("AND", "all of"),
                    _ => ("OR", "any of"),
                };
                out.push_str(&format!(
                    "{indent}{} {name}: {needs}\n",
                    mark(self.matches(doc))
                ));
                for part in parts {
                    part.explain_into(doc, depth + 1, out);
                }
            }
            Query::Not(inner) => {
                out.push_str(&format!(
                    "{indent}{} NOT: must not match\n",
                    mark(self.matches(doc))
                ));
                inner.explain_into(doc, depth + 1, out);
            }
        }
    }
}

impl WordPattern {
    /// Whether a folded word (or token) matches.
    fn matches(&self, word: &str) -> bool {
        if self.prefix {
            word.starts_with(&self.word)
        } else {
            word == self.word
        }
    }
}

/// Where `patterns` match consecutive words of `text`.
fn find_run(text: &[String], patterns: &[WordPattern]) -> Option<usize> {
    if patterns.is_empty() || text.len() < patterns.len() {
        return None;
    }
    text.windows(patterns.len())
        .position(|window| window.iter().zip(patterns).all(|(w, p)| p.matches(w)))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TokenKind {
    Word(String),
    Phrase(String),
    Field(Field),
    And,
    AndNot,
    Or,
    Not,
    Minus,
    Open,
    Close,
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenKind::Word(w) => write!(f, "`{w}`"),
            TokenKind::Phrase(p) => write!(f, "\"{p}\""),
            TokenKind::Field(field) => write!(f, "`{}:`", field.prefix()),
            TokenKind::And => f.write_str("AND"),
            TokenKind::AndNot => f.write_str("ANDNOT"),
            TokenKind::Or => f.write_str("OR"),
            TokenKind::Not => f.write_str("NOT"),
            TokenKind::Minus => f.write_str("`-`"),
            TokenKind::Open => f.write_str("`(`"),
            TokenKind::Close => f.write_str("`)`"),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: TokenKind,
    /// 1-based character position of the token's first character.
    position: usize,
}

fn lex(text: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    // Whether the previous token ended right here (no space), which makes a `-` a hyphen.
    let mut glued = false;
    while i < chars.len() {
        let c = chars[i];
        let position = i + 1;
        if c.is_whitespace() {
            i += 1;
            glued = false;
            continue;
        }
        if c == '(' || c == ')' {
            let kind = if c == '(' {
                TokenKind::Open
            } else {
                TokenKind::Close
            };
            tokens.push(Token { kind, position });
            i += 1;
            glued = c == ')';
            continue;
        }
        if c == '-' && !glued && chars.get(i + 1).is_some_and(|n| !n.is_whitespace()) {
            tokens.push(Token {
                kind: TokenKind::Minus,
                position,
            });
            i += 1;
            continue;
        }
        if c == '"' {
            let start = i + 1;
            let Some(len) = chars[start..].iter().position(|&c| c == '"') else {
                return Err(QueryError {
                    position,
                    message: "this quote is never closed".into(),
                });
            };
            let phrase: String = chars[start..start + len].iter().collect();
            tokens.push(Token {
                kind: TokenKind::Phrase(phrase),
                position,
            });
            i = start + len + 1;
            glued = true;
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && !matches!(chars[i], '(' | ')' | '"') {
            if chars[i] == ':' && i > start {
                break;
            }
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        if i < chars.len() && chars[i] == ':' {
            let Some(field) = Field::PREFIXES
                .iter()
                .find(|(p, _)| *p == word)
                .map(|(_, f)| *f)
            else {
                let known: Vec<String> = Field::PREFIXES
                    .iter()
                    .map(|(p, _)| format!("{p}:"))
                    .collect();
                return Err(QueryError {
                    position,
                    message: format!("unknown field `{word}:`; fields are {}", known.join(" ")),
                });
            };
            tokens.push(Token {
                kind: TokenKind::Field(field),
                position,
            });
            i += 1;
            glued = true;
            continue;
        }
        let kind = match word.as_str() {
            "AND" => TokenKind::And,
            "ANDNOT" => TokenKind::AndNot,
            "OR" => TokenKind::Or,
            "NOT" => TokenKind::Not,
            _ => TokenKind::Word(word),
        };
        tokens.push(Token { kind, position });
        glued = true;
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    next: usize,
    /// The position just past the end of the text, for "expected … at the end" errors.
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn deeper(&mut self, position: usize) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError {
                position,
                message: format!("the query nests deeper than {MAX_DEPTH} levels"),
            });
        }
        Ok(())
    }

    fn or(&mut self, field: Field) -> Result<Query, QueryError> {
        let mut parts = vec![self.and(field)?];
        while matches!(self.peek(), Some(t) if t.kind == TokenKind::Or) {
            self.next += 1;
            parts.push(self.and(field)?);
        }
        Ok(flatten(parts, Query::Or))
    }

    fn and(&mut self, field: Field) -> Result<Query, QueryError> {
        let mut parts = vec![self.unary(field)?];
        loop {
            match self.peek().map(|t| &t.kind) {
                Some(TokenKind::And) => {
                    self.next += 1;
                    parts.push(self.unary(field)?);
                }
                Some(TokenKind::AndNot) => {
                    self.next += 1;
                    parts.push(Query::Not(Box::new(self.unary(field)?)));
                }
                Some(
                    TokenKind::Word(_)
                    | TokenKind::Phrase(_)
                    | TokenKind::Open
                    | TokenKind::Field(_)
                    | TokenKind::Not
                    | TokenKind::Minus,
                ) => {
                    parts.push(self.unary(field)?);
                }
                _ => break,
            }
        }
        Ok(flatten(parts, Query::And))
    }

    fn unary(&mut self, field: Field) -> Result<Query, QueryError> {
        match self.peek() {
            Some(t) if matches!(t.kind, TokenKind::Not | TokenKind::Minus) => {
                let position = t.position;
                self.next += 1;
                self.deeper(position)?;
                let inner = self.unary(field)?;
                self.depth -= 1;
                Ok(Query::Not(Box::new(inner)))
            }
            _ => self.primary(field),
        }
    }

    fn primary(&mut self, field: Field) -> Result<Query, QueryError> {
        let Some(token) = self.tokens.get(self.next).cloned() else {
            return Err(QueryError {
                position: self.end,
                message: "expected a term at the end of the query".into(),
            });
        };
        self.next += 1;
        match token.kind {
            TokenKind::Field(inner) => match self.peek().map(|t| &t.kind) {
                Some(TokenKind::Word(_) | TokenKind::Phrase(_) | TokenKind::Open) => {
                    self.primary(inner)
                }
                _ => Err(QueryError {
                    position: token.position,
                    message: format!("expected a term or `(` right after `{}:`", inner.prefix()),
                }),
            },
            TokenKind::Open => {
                self.deeper(token.position)?;
                let inner = self.or(field)?;
                self.depth -= 1;
                match self.peek() {
                    Some(t) if t.kind == TokenKind::Close => {
                        self.next += 1;
                        Ok(inner)
                    }
                    Some(t) => Err(QueryError {
                        position: t.position,
                        message: format!(
                            "expected `)` to close the `(` at position {}, found {}",
                            token.position, t.kind
                        ),
                    }),
                    None => Err(QueryError {
                        position: token.position,
                        message: "this `(` is never closed".into(),
                    }),
                }
            }
            TokenKind::Word(word) if word == "*" => Ok(Query::All),
            TokenKind::Word(word) => term(&word, field, token.position, false),
            TokenKind::Phrase(phrase) => term(&phrase, field, token.position, true),
            other => Err(QueryError {
                position: token.position,
                message: format!("expected a term, found {other}"),
            }),
        }
    }
}

/// Builds a term from a bare word or a phrase's text. A trailing `*` makes the last word a
/// prefix; text that splits into several words (`out-of-distribution`) is a phrase. In `cat:`
/// and `src:` the text is one whole token.
fn term(text: &str, field: Field, position: usize, quoted: bool) -> Result<Query, QueryError> {
    let what = if quoted { "this phrase" } else { "this term" };
    let error = |message: String| Err(QueryError { position, message });
    if text.starts_with('*') && text.len() > 1 {
        return error(format!(
            "{what} starts with `*`; only a trailing `*` (a prefix) is supported"
        ));
    }
    let (body, prefix) = match text.strip_suffix('*') {
        Some(body) => (body, true),
        None => (text, false),
    };
    if body.contains('*') {
        return error(format!(
            "{what} has a `*` inside; only a trailing `*` (a prefix) is supported"
        ));
    }
    if field.is_token_field() {
        let token = fold_token(body);
        if token.is_empty() {
            return error(format!(
                "`{}:` takes one name such as `cs.LG` or `cs.*`",
                field.prefix()
            ));
        }
        return Ok(Query::Term(Term {
            field,
            words: vec![WordPattern {
                word: token,
                prefix,
            }],
        }));
    }
    if prefix && body.ends_with(|c: char| !c.is_alphanumeric()) {
        return error(format!("in {what}, `*` must follow a letter or digit"));
    }
    let split = words(body);
    if split.is_empty() {
        return error(format!("{what} has no letters or digits to match"));
    }
    let last = split.len() - 1;
    let words = split
        .into_iter()
        .enumerate()
        .map(|(i, word)| WordPattern {
            word,
            prefix: prefix && i == last,
        })
        .collect();
    Ok(Query::Term(Term { field, words }))
}

fn flatten(mut parts: Vec<Query>, combine: fn(Vec<Query>) -> Query) -> Query {
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        combine(parts)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::model::Author;

    /// A document with only a title and an abstract.
    fn doc(title: &str, abstract_text: &str) -> Document {
        Document {
            title: words(title),
            abstract_words: words(abstract_text),
            ..Default::default()
        }
    }

    #[test]
    fn matching_title_and_abstract() {
        // (query, title, abstract, expected)
        let cases: &[(&str, &str, &str, bool)] = &[
            ("diffusion", "Diffusion models", "", true),
            ("diffusion", "", "We study DIFFUSION.", true),
            ("diffusion", "Diffusive processes", "", false),
            ("diffus*", "Diffusive processes", "", true),
            ("generaliz*", "", "it generalizes well", true),
            ("generaliz*", "", "generality", false),
            (
                "\"out-of-distribution\"",
                "",
                "out of distribution detection",
                true,
            ),
            (
                "\"out-of-distribution\"",
                "",
                "out-of-distribution detection",
                true,
            ),
            ("\"out-of-distribution\"", "", "distribution out of", false),
            (
                "out-of-distribution",
                "",
                "OOD, i.e. out of distribution",
                true,
            ),
            (
                "\"large language model*\"",
                "",
                "large language models reason",
                true,
            ),
            (
                "\"language model\"",
                "Large language",
                "model of things",
                false,
            ),
            ("a AND b", "", "b then a", true),
            ("a AND b", "", "a only", false),
            ("a b", "", "b then a", true),
            ("a b", "", "a only", false),
            ("a OR b", "", "only b", true),
            ("a OR b", "", "neither", false),
            // AND binds tighter than OR: a OR (b AND c)
            ("a OR b AND c", "", "a", true),
            ("a OR b AND c", "", "b", false),
            ("a OR b AND c", "", "b c", true),
            ("(a OR b) AND c", "", "a", false),
            ("(a OR b) AND c", "", "a c", true),
            ("*", "", "", true),
            ("and", "", "this and that", true),
            ("and", "", "this or that", false),
            ("not", "", "this is not that", true),
            ("4o", "GPT-4o", "", true),
            // NOT, ANDNOT and a leading minus
            ("a ANDNOT b", "", "a", true),
            ("a ANDNOT b", "", "a b", false),
            ("a NOT b", "", "a b", false),
            ("a -b", "", "a", true),
            ("a -b", "", "a b", false),
            ("NOT a", "", "b", true),
            ("NOT a", "", "a", false),
            ("-a", "", "a", false),
            // NOT binds tighter than AND and OR: (NOT a) OR b
            ("NOT a OR b", "", "a b", true),
            ("NOT a OR b", "", "a", false),
            ("NOT (a OR b)", "", "a", false),
            ("NOT NOT a", "", "a", true),
            // A hyphen inside a word is no minus.
            ("self-supervised", "", "self supervised learning", true),
            ("x -self-supervised", "", "x self supervised", false),
            // Accents fold both ways.
            ("scholkopf", "Schölkopf et al.", "", true),
            ("schölkopf", "Scholkopf et al.", "", true),
            ("\"naive bayes\"", "", "a naïve Bayes classifier", true),
            ("istanbul", "İstanbul", "", true),
            // Fields
            ("ti:diffusion", "Diffusion", "", true),
            ("ti:diffusion", "", "diffusion", false),
            ("abs:diffusion", "", "diffusion", true),
            ("abs:diffusion", "Diffusion", "", false),
            ("all:diffusion", "", "diffusion", true),
            ("ti:(a OR b)", "b", "a", true),
            ("ti:(a OR b)", "c", "a", false),
            ("ti:a abs:b", "a", "b", true),
            ("ti:\"language model\"", "A language model", "", true),
        ];
        for (query, title, abstract_text, expected) in cases {
            let q = Query::parse(query).unwrap_or_else(|e| panic!("{query:?}: {e}"));
            assert_eq!(
                q.matches(&doc(title, abstract_text)),
                *expected,
                "query {query:?} = {q} on title {title:?} abstract {abstract_text:?}"
            );
        }
    }

    fn paper_doc() -> Document {
        Document::of(&Paper {
            title: "Deep learning".into(),
            abstract_text: "A review.".into(),
            authors: vec![
                Author::named("Yann LeCun"),
                Author::named("Yoshua Bengio"),
                Author::named("Geoffrey E. Hinton"),
                Author::named("Bernhard Schölkopf"),
            ],
            categories: vec!["cs.LG".into(), "stat.ML".into()],
            sources: BTreeSet::from(["arxiv-cs-lg".to_string(), "hf-daily".to_string()]),
            ..Default::default()
        })
    }

    #[test]
    fn author_category_and_source_fields() {
        let cases: &[(&str, bool)] = &[
            ("au:hinton", true),
            ("au:Hinton", true),
            ("au:\"geoffrey hinton\"", false),
            ("au:\"geoffrey e hinton\"", true),
            ("au:\"geoffrey e. hinton\"", true),
            ("au:geoff*", true),
            ("au:scholkopf", true),
            // A phrase does not run from one author into the next.
            ("au:\"lecun yoshua\"", false),
            ("au:learning", false),
            ("hinton", false),
            ("cat:cs.LG", true),
            ("cat:cs.lg", true),
            ("cat:cs.AI", false),
            ("cat:cs.*", true),
            ("cat:stat.*", true),
            ("cat:math.*", false),
            ("cat:cs", false),
            ("src:hf-daily", true),
            ("src:arxiv-*", true),
            ("src:biorxiv", false),
            ("ti:deep AND cat:cs.* ANDNOT au:smith", true),
            ("ti:deep -src:hf-daily", false),
        ];
        let d = paper_doc();
        for (query, expected) in cases {
            let q = Query::parse(query).unwrap_or_else(|e| panic!("{query:?}: {e}"));
            assert_eq!(q.matches(&d), *expected, "query {query:?} = {q}");
        }
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let q = Query::parse("a OR b c").unwrap();
        assert_eq!(q.to_string(), "(a OR (b AND c))");
        let q = Query::parse("NOT a b OR c").unwrap();
        assert_eq!(q.to_string(), "((NOT a AND b) OR c)");
        let q = Query::parse("a ANDNOT b OR c").unwrap();
        assert_eq!(q.to_string(), "((a AND NOT b) OR c)");
        let q = Query::parse("ti:(x y)").unwrap();
        assert_eq!(q.to_string(), "(ti:x AND ti:y)");
    }

    #[test]
    fn errors_name_the_position_and_what_was_expected() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 1, "empty"),
            ("OR a", 1, "expected a term, found OR"),
            ("a OR", 5, "expected a term at the end"),
            ("a AND OR b", 7, "expected a term, found OR"),
            ("a ANDNOT", 9, "expected a term at the end"),
            ("NOT", 4, "expected a term at the end"),
            ("\"open phrase", 1, "never closed"),
            ("(a OR b", 1, "never closed"),
            ("a )", 3, "expected AND, OR, ANDNOT, a term or the end"),
            ("a ---", 5, "no letters or digits"),
            ("\"\"", 1, "no letters or digits"),
            ("foo:bar", 1, "unknown field `foo:`"),
            ("x ti:", 3, "right after `ti:`"),
            ("ti:OR", 1, "right after `ti:`"),
            ("cat:\"\"", 5, "one name"),
            ("*ing", 1, "starts with `*`"),
            ("de*ep", 1, "`*` inside"),
            ("foo-*", 1, "must follow a letter or digit"),
        ];
        for (query, position, needle) in cases {
            let err = Query::parse(query).expect_err(query);
            assert_eq!(err.position, *position, "{query:?}: {err}");
            assert!(err.message.contains(needle), "{query:?}: {err}");
        }
        let deep = format!("{}a{}", "(".repeat(200), ")".repeat(200));
        let err = Query::parse(&deep).expect_err("too deep");
        assert!(err.message.contains("nests deeper"), "{err}");
    }

    #[test]
    fn explanations_show_what_matched_and_what_failed() {
        let q =
            Query::parse("au:hinton AND (ti:transformer OR cat:cs.*) ANDNOT src:hf-daily").unwrap();
        let text = q.explain(&paper_doc());
        assert!(text.starts_with("✗ AND: all of\n"), "{text}");
        assert!(
            text.contains("  ✓ au:hinton  matched \"hinton\" in the authors\n"),
            "{text}"
        );
        assert!(
            text.contains("    ✗ ti:transformer  not found in the title\n"),
            "{text}"
        );
        assert!(
            text.contains("    ✓ cat:cs.*  matched \"cs.lg\" in the categories\n"),
            "{text}"
        );
        assert!(
            text.contains("  ✗ NOT: must not match\n    ✓ src:hf-daily"),
            "{text}"
        );
    }
}
