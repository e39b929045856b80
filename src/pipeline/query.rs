//! Topic queries: the parser from query text to a [`Query`] tree, and the evaluator that decides
//! whether a paper's text matches. Pure: no IO.
//!
//! Grammar (operators in capitals; lower-case `and`/`or` are words to match):
//!
//! ```text
//! query   := or
//! or      := and ("OR" and)*
//! and     := primary (["AND"] primary)*        -- juxtaposition is AND
//! primary := "(" or ")" | term
//! term    := word | word"*" | "\"" phrase "\"" | "*"
//! ```

use std::fmt;

use super::text::words;

/// Where a term looks. Only the default field exists so far; field prefixes extend this enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// Title and abstract.
    TitleAbstract,
}

/// One word of a term: matched exactly, or as a prefix when the term ended in `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WordPattern {
    pub word: String,
    pub prefix: bool,
}

/// A term: one or more words that must appear consecutively in the field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Term {
    pub field: Field,
    pub words: Vec<WordPattern>,
}

/// A parsed topic query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// `*`: every paper.
    All,
    Term(Term),
    And(Vec<Query>),
    Or(Vec<Query>),
}

/// Why a query did not parse, with the 1-based character position of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at position {position}: {message}")]
pub struct QueryError {
    pub position: usize,
    pub message: String,
}

/// The text of a paper a query is matched against, split into words once.
#[derive(Debug, Clone, Default)]
pub struct Document {
    pub title: Vec<String>,
    pub abstract_words: Vec<String>,
}

impl Document {
    /// Splits a paper's title and abstract into words.
    pub fn new(title: &str, abstract_text: &str) -> Self {
        Document {
            title: words(title),
            abstract_words: words(abstract_text),
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
        };
        if parser.tokens.is_empty() {
            return Err(QueryError {
                position: 1,
                message: "the query is empty; write `*` to match every paper".into(),
            });
        }
        let query = parser.or()?;
        if let Some(token) = parser.peek() {
            return Err(QueryError {
                position: token.position,
                message: format!(
                    "expected AND, OR or the end of the query, found {}",
                    token.kind
                ),
            });
        }
        Ok(query)
    }

    /// Whether the document matches.
    pub fn matches(&self, doc: &Document) -> bool {
        match self {
            Query::All => true,
            Query::Term(term) => term.matches(doc),
            Query::And(parts) => parts.iter().all(|q| q.matches(doc)),
            Query::Or(parts) => parts.iter().any(|q| q.matches(doc)),
        }
    }
}

impl Term {
    fn matches(&self, doc: &Document) -> bool {
        match self.field {
            Field::TitleAbstract => {
                contains_run(&doc.title, &self.words)
                    || contains_run(&doc.abstract_words, &self.words)
            }
        }
    }
}

impl WordPattern {
    fn matches(&self, word: &str) -> bool {
        if self.prefix {
            word.starts_with(&self.word)
        } else {
            word == self.word
        }
    }
}

/// Whether `patterns` match consecutive words somewhere in `text`.
fn contains_run(text: &[String], patterns: &[WordPattern]) -> bool {
    if patterns.is_empty() || text.len() < patterns.len() {
        return false;
    }
    text.windows(patterns.len())
        .any(|window| window.iter().zip(patterns).all(|(w, p)| p.matches(w)))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TokenKind {
    Word(String),
    Phrase(String),
    And,
    Or,
    Open,
    Close,
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenKind::Word(w) => write!(f, "`{w}`"),
            TokenKind::Phrase(p) => write!(f, "\"{p}\""),
            TokenKind::And => f.write_str("AND"),
            TokenKind::Or => f.write_str("OR"),
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
    while i < chars.len() {
        let c = chars[i];
        let position = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            let kind = if c == '(' {
                TokenKind::Open
            } else {
                TokenKind::Close
            };
            tokens.push(Token { kind, position });
            i += 1;
        } else if c == '"' {
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
        } else {
            let start = i;
            while i < chars.len()
                && !chars[i].is_whitespace()
                && !matches!(chars[i], '(' | ')' | '"')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let kind = match word.as_str() {
                "AND" => TokenKind::And,
                "OR" => TokenKind::Or,
                _ => TokenKind::Word(word),
            };
            tokens.push(Token { kind, position });
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    next: usize,
    /// The position just past the end of the text, for "expected … at the end" errors.
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn or(&mut self) -> Result<Query, QueryError> {
        let mut parts = vec![self.and()?];
        while matches!(self.peek(), Some(t) if t.kind == TokenKind::Or) {
            self.next += 1;
            parts.push(self.and()?);
        }
        Ok(flatten(parts, Query::Or))
    }

    fn and(&mut self) -> Result<Query, QueryError> {
        let mut parts = vec![self.primary()?];
        loop {
            match self.peek().map(|t| &t.kind) {
                Some(TokenKind::And) => {
                    self.next += 1;
                    parts.push(self.primary()?);
                }
                Some(TokenKind::Word(_) | TokenKind::Phrase(_) | TokenKind::Open) => {
                    parts.push(self.primary()?);
                }
                _ => break,
            }
        }
        Ok(flatten(parts, Query::And))
    }

    fn primary(&mut self) -> Result<Query, QueryError> {
        let Some(token) = self.tokens.get(self.next).cloned() else {
            return Err(QueryError {
                position: self.end,
                message: "expected a term at the end of the query".into(),
            });
        };
        self.next += 1;
        match token.kind {
            TokenKind::Open => {
                let inner = self.or()?;
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
            TokenKind::Word(word) => term(&word, token.position, false),
            TokenKind::Phrase(phrase) => term(&phrase, token.position, true),
            other => Err(QueryError {
                position: token.position,
                message: format!("expected a term, found {other}"),
            }),
        }
    }
}

/// Builds a term from a bare word or a phrase's text. A trailing `*` makes the last word a
/// prefix; text that splits into several words (`out-of-distribution`) is a phrase.
fn term(text: &str, position: usize, quoted: bool) -> Result<Query, QueryError> {
    let (body, prefix) = match text.strip_suffix('*') {
        Some(body) if !body.ends_with(|c: char| !c.is_alphanumeric()) => (body, true),
        _ => (text, false),
    };
    let split = words(body);
    if split.is_empty() {
        let what = if quoted { "this phrase" } else { "this term" };
        return Err(QueryError {
            position,
            message: format!("{what} has no letters or digits to match"),
        });
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
    Ok(Query::Term(Term {
        field: Field::TitleAbstract,
        words,
    }))
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
    use super::*;

    fn doc(title: &str, abstract_text: &str) -> Document {
        Document::new(title, abstract_text)
    }

    #[test]
    fn matching_table() {
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
            ("4o", "GPT-4o", "", true),
        ];
        for (query, title, abstract_text, expected) in cases {
            let q = Query::parse(query).unwrap_or_else(|e| panic!("{query:?}: {e}"));
            assert_eq!(
                q.matches(&doc(title, abstract_text)),
                *expected,
                "query {query:?} on title {title:?} abstract {abstract_text:?}"
            );
        }
    }

    #[test]
    fn precedence_is_and_over_or() {
        let q = Query::parse("a OR b c").unwrap();
        let Query::Or(parts) = q else {
            panic!("expected OR at the top, got {q:?}")
        };
        assert_eq!(parts.len(), 2);
        assert!(matches!(parts[1], Query::And(_)));
    }

    #[test]
    fn errors_name_the_position() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 1, "empty"),
            ("OR a", 1, "expected a term, found OR"),
            ("a OR", 5, "expected a term at the end"),
            ("a AND OR b", 7, "expected a term, found OR"),
            ("\"open phrase", 1, "never closed"),
            ("(a OR b", 1, "never closed"),
            ("a )", 3, "expected AND, OR or the end"),
            ("a ---", 3, "no letters or digits"),
            ("\"\"", 1, "no letters or digits"),
        ];
        for (query, position, needle) in cases {
            let err = Query::parse(query).expect_err(query);
            assert_eq!(err.position, *position, "{query:?}: {err}");
            assert!(err.message.contains(needle), "{query:?}: {err}");
        }
    }
}
