//! Reading a BibTeX / BibLaTeX export (Zotero, Better BibTeX, Mendeley, JabRef, Google
//! Scholar) and finding, for each entry, the paper it names: its arXiv id or else its DOI. A
//! topic's `like_file` names such a file of example papers. Pure functions only: text in,
//! entries out.
//!
//! # Why a hand parser
//!
//! The `biblatex` crate (typst's) was considered and not used: its errors carry the byte span
//! where parsing stopped (for an unclosed brace, the end of the file), not the entry that is
//! broken; it accepts an entry with an empty key; its `@comment{…}` stops at the first `}`;
//! `Bibliography::parse` rejects a whole file for an undefined `@string` macro or a
//! duplicated key; and it would interpret dates, names and the like that are never looked at
//! here. What is needed is small: entries, their keys, and a few fields as text. So this is a
//! small hand parser over bytes (every structural character is ASCII, so slicing is always on
//! a character boundary) that never panics and names the line of the `@` that starts a broken
//! entry.
//!
//! # What is read
//!
//! * Text outside entries is ignored, as BibTeX does; `%` starts a comment line there.
//! * `@comment`, `@preamble` and `@string` are not entries; `@string` macros are expanded.
//! * Entries may be delimited by `{…}` or `(…)`; field values are `{…}` (nested braces),
//!   `"…"`, bare numbers or macro names, joined by `#`. An undefined macro is empty text.
//! * Entry types and field names are case-insensitive; keys are returned as written.
//! * A backslash escapes the character after it (`\{`, `\"`), as Zotero writes literal braces.
//!
//! # Which identifier
//!
//! The arXiv id wins over a DOI, looked for in `eprint` (when `archivePrefix` / `eprinttype`
//! says arXiv or says nothing), `url`, `doi` (arXiv's own DOI `10.48550/arXiv.<id>` is the
//! arXiv id) and the free text of `journal`, `journaltitle`, `note` and `howpublished`
//! (`arXiv preprint arXiv:1706.03762`). Else the DOI from `doi`, or from a `https://doi.org/…`
//! `url`. Ids and DOIs are recognized by the helpers of [`super::identity`].

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use super::identity::{arxiv_from_doi, find_arxiv_id, find_doi, parse_arxiv_id, ArxivRef};

/// What one BibTeX entry names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BibEntry {
    /// The citation key, as written (`vaswani2017attention`).
    pub key: String,
    /// The 1-based line of the `@` that starts the entry.
    pub line: usize,
    /// The paper the entry names, when it names one by arXiv id or DOI.
    pub reference: Option<BibReference>,
}

/// The identifier of the paper an entry names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BibReference {
    /// An arXiv id without its version: `2101.00001`, `hep-th/9901001`.
    Arxiv(String),
    /// A DOI, lower-cased, without a resolver prefix: `10.1038/nature16961`.
    Doi(String),
}

/// Why a file could not be read: the entry that is broken and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BibError {
    /// The 1-based line of the `@` that starts the broken entry.
    pub line: usize,
    /// What is wrong, for a person to read.
    pub message: String,
}

impl fmt::Display for BibError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for BibError {}

/// Reads a BibTeX / BibLaTeX file and returns its entries in file order, each with the paper
/// it names. A malformed file (unbalanced braces, an entry without a key, a truncated entry)
/// is an error naming the line where the broken entry starts.
pub fn entries(text: &str) -> Result<Vec<BibEntry>, BibError> {
    let lines = LineIndex::new(text);
    let mut cursor = Cursor::new(text);
    let mut macros = Macros::new();
    let mut found = Vec::new();
    while let Some(start) = cursor.next_item() {
        let item = item(&mut cursor, &macros).map_err(|fail| fail.at_entry(start, &lines))?;
        match item {
            Item::Entry { key, fields } => found.push(BibEntry {
                key,
                line: lines.line_of(start),
                reference: reference(&fields),
            }),
            Item::Strings(defined) => macros.extend(defined),
            Item::Skipped => {}
        }
    }
    Ok(found)
}

/// `@string` macros by lower-cased name.
type Macros = HashMap<String, String>;

/// An entry's fields by lower-cased name, values as plain text. The first of repeated fields
/// wins.
type Fields = HashMap<String, String>;

/// One `@…` item of the file.
enum Item {
    /// A bibliography entry.
    Entry { key: String, fields: Fields },
    /// `@string` definitions.
    Strings(Vec<(String, String)>),
    /// `@comment` or `@preamble`.
    Skipped,
}

/// A parse failure: where it was noticed and what is wrong.
struct Fail {
    at: usize,
    what: String,
}

type Parse<T> = Result<T, Fail>;

impl Fail {
    fn new(at: usize, what: impl Into<String>) -> Self {
        Fail {
            at,
            what: what.into(),
        }
    }

    /// The error for a failure inside the item that starts at `start`.
    fn at_entry(self, start: usize, lines: &LineIndex) -> BibError {
        let line = lines.line_of(start);
        let noticed = lines.line_of(self.at);
        let message = if noticed == line {
            self.what
        } else {
            format!("{} (noticed at line {noticed})", self.what)
        };
        BibError { line, message }
    }
}

/// Finds the 1-based line of a byte offset.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts }
    }

    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }
}

/// A position in the text. It only ever stops on ASCII bytes or the end, so every slice it
/// takes is on a character boundary.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor { text, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn bump(&mut self) {
        self.pos = (self.pos + 1).min(self.text.len());
    }

    fn eat(&mut self, byte: u8) -> bool {
        let matched = self.peek() == Some(byte);
        if matched {
            self.bump();
        }
        matched
    }

    /// Takes the longest run of bytes that `keep` accepts. `keep` must reject every ASCII
    /// byte it should stop at and accept every non-ASCII byte or none.
    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.bump();
        }
        &self.text[start..self.pos]
    }

    fn skip_line(&mut self) {
        while self.peek().is_some_and(|b| b != b'\n') {
            self.bump();
        }
    }

    fn skip_space(&mut self) {
        self.take_while(|b| b.is_ascii_whitespace());
    }

    /// Skips whitespace and `%` comment lines (tolerated between the parts of an entry).
    fn skip_space_and_comments(&mut self) {
        loop {
            self.skip_space();
            if self.peek() != Some(b'%') {
                return;
            }
            self.skip_line();
        }
    }

    /// Moves to the next `@` outside entries, skipping text and `%` comment lines, and
    /// returns its offset.
    fn next_item(&mut self) -> Option<usize> {
        loop {
            match self.peek()? {
                b'@' => return Some(self.pos),
                b'%' => self.skip_line(),
                _ => self.bump(),
            }
        }
    }
}

/// Parses the item at an `@`.
fn item(cursor: &mut Cursor<'_>, macros: &Macros) -> Parse<Item> {
    cursor.bump();
    cursor.skip_space();
    let at = cursor.pos;
    let kind = cursor
        .take_while(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        .to_ascii_lowercase();
    if kind.is_empty() {
        return Err(Fail::new(at, "expected an entry type after `@`"));
    }
    cursor.skip_space();
    let close = match cursor.peek() {
        Some(b'{') => b'}',
        Some(b'(') => b')',
        // BibTeX's `@comment` needs no delimiters: the rest is text outside entries.
        _ if kind == "comment" => return Ok(Item::Skipped),
        None => {
            return Err(Fail::new(
                cursor.pos,
                format!("the file ends after `@{kind}`"),
            ))
        }
        Some(_) => {
            return Err(Fail::new(
                cursor.pos,
                format!("expected `{{` after `@{kind}`"),
            ))
        }
    };
    match kind.as_str() {
        "comment" | "preamble" => {
            skip_block(cursor, &kind)?;
            Ok(Item::Skipped)
        }
        "string" => {
            cursor.bump();
            Ok(Item::Strings(fields(cursor, close, macros)?))
        }
        _ => {
            cursor.bump();
            entry(cursor, close, macros)
        }
    }
}

/// Skips a delimited block (`@comment{…}`, `@preamble{…}`) whose delimiters must balance.
fn skip_block(cursor: &mut Cursor<'_>, kind: &str) -> Parse<()> {
    let open = cursor.peek().unwrap_or(b'{');
    let close = if open == b'(' { b')' } else { b'}' };
    let mut depth = 0usize;
    while let Some(b) = cursor.peek() {
        cursor.bump();
        if b == b'\\' {
            cursor.bump();
        } else if b == open {
            depth += 1;
        } else if b == close {
            depth -= 1;
            if depth == 0 {
                return Ok(());
            }
        }
    }
    Err(Fail::new(
        cursor.pos,
        format!("the file ends inside `@{kind}`: a brace is left open"),
    ))
}

/// Parses an entry after its opening delimiter: the key, then the fields.
fn entry(cursor: &mut Cursor<'_>, close: u8, macros: &Macros) -> Parse<Item> {
    cursor.skip_space_and_comments();
    let key = cursor
        .take_while(|b| {
            !b.is_ascii() || (b.is_ascii_graphic() && b != close && !b",{}=\"#%".contains(&b))
        })
        .to_string();
    cursor.skip_space_and_comments();
    match cursor.peek() {
        None if key.is_empty() => Err(Fail::new(
            cursor.pos,
            "the file ends before the entry's key",
        )),
        None => Err(Fail::new(
            cursor.pos,
            format!("the file ends inside entry `{key}`"),
        )),
        _ if key.is_empty() => Err(Fail::new(cursor.pos, "entry without a key")),
        Some(b'=') => Err(Fail::new(
            cursor.pos,
            format!("entry without a key (it starts with field `{key}`)"),
        )),
        Some(b',') => {
            cursor.bump();
            let fields = fields(cursor, close, macros)
                .map_err(|fail| Fail::new(fail.at, format!("entry `{key}`: {}", fail.what)))?;
            Ok(Item::Entry {
                key,
                fields: by_name(fields),
            })
        }
        Some(b) if b == close => {
            cursor.bump();
            Ok(Item::Entry {
                key,
                fields: Fields::new(),
            })
        }
        Some(_) => Err(Fail::new(
            cursor.pos,
            format!("entry `{key}`: expected `,` after the key"),
        )),
    }
}

/// The fields of an entry, the first of repeated names winning, values as plain text.
fn by_name(fields: Vec<(String, String)>) -> Fields {
    let mut out = Fields::with_capacity(fields.len());
    for (name, value) in fields {
        out.entry(name).or_insert_with(|| plain(&value));
    }
    out
}

/// Parses `name = value` pairs up to and including the closing delimiter. Names are
/// lower-cased; values are raw (braces kept), with macros expanded.
fn fields(cursor: &mut Cursor<'_>, close: u8, macros: &Macros) -> Parse<Vec<(String, String)>> {
    let mut out = Vec::new();
    loop {
        cursor.skip_space_and_comments();
        if cursor.eat(close) {
            return Ok(out);
        }
        let name = field_name(cursor)?;
        let value = value(cursor, macros)
            .map_err(|fail| Fail::new(fail.at, format!("field `{name}`: {}", fail.what)))?;
        cursor.skip_space_and_comments();
        match cursor.peek() {
            Some(b',') => cursor.bump(),
            Some(b) if b == close => {}
            None => return Err(Fail::new(cursor.pos, "the file ends inside the entry")),
            Some(_) => {
                return Err(Fail::new(
                    cursor.pos,
                    format!(
                        "expected `,` or `{}` after field `{name}`",
                        char::from(close)
                    ),
                ))
            }
        }
        out.push((name, value));
    }
}

/// Parses a field's name and the `=` after it.
fn field_name(cursor: &mut Cursor<'_>) -> Parse<String> {
    let at = cursor.pos;
    let name = cursor.take_while(is_bare).to_ascii_lowercase();
    if name.is_empty() {
        return Err(match cursor.peek() {
            None => Fail::new(at, "the file ends inside the entry"),
            Some(_) => Fail::new(at, "expected a field name"),
        });
    }
    cursor.skip_space_and_comments();
    if !cursor.eat(b'=') {
        return Err(Fail::new(
            cursor.pos,
            format!("expected `=` after field name `{name}`"),
        ));
    }
    Ok(name)
}

/// Parses a field value: parts joined by `#`, concatenated.
fn value(cursor: &mut Cursor<'_>, macros: &Macros) -> Parse<String> {
    let mut out = String::new();
    loop {
        cursor.skip_space_and_comments();
        out.push_str(&part(cursor, macros)?);
        cursor.skip_space_and_comments();
        if !cursor.eat(b'#') {
            return Ok(out);
        }
    }
}

/// Parses one part of a value: `{…}`, `"…"`, a number or a macro name.
fn part(cursor: &mut Cursor<'_>, macros: &Macros) -> Parse<String> {
    let at = cursor.pos;
    match cursor.peek() {
        Some(b'{') => braced(cursor).map(str::to_string),
        Some(b'"') => quoted(cursor).map(str::to_string),
        Some(b) if is_bare(b) => {
            let word = cursor.take_while(is_bare);
            if word.bytes().all(|b| b.is_ascii_digit()) {
                Ok(word.to_string())
            } else {
                Ok(macros
                    .get(&word.to_ascii_lowercase())
                    .cloned()
                    .unwrap_or_default())
            }
        }
        None => Err(Fail::new(at, "the file ends where the value should be")),
        Some(_) => Err(Fail::new(at, "expected a value")),
    }
}

/// A byte that may be part of a field name, number or macro name.
fn is_bare(b: u8) -> bool {
    !b.is_ascii() || (b.is_ascii_graphic() && !b"{}()\",#=%\\".contains(&b))
}

/// Parses `{…}` with nested braces and returns what is inside the outer pair.
fn braced<'a>(cursor: &mut Cursor<'a>) -> Parse<&'a str> {
    let start = cursor.pos;
    let mut depth = 0usize;
    while let Some(b) = cursor.peek() {
        cursor.bump();
        match b {
            b'\\' => cursor.bump(),
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(&cursor.text[start + 1..cursor.pos - 1]);
                }
            }
            _ => {}
        }
    }
    Err(Fail::new(
        cursor.pos,
        "the file ends inside a `{…}` value: a brace is left open",
    ))
}

/// Parses `"…"` (a `"` inside braces does not end it) and returns what is inside the quotes.
fn quoted<'a>(cursor: &mut Cursor<'a>) -> Parse<&'a str> {
    let start = cursor.pos;
    cursor.bump();
    let mut depth = 0usize;
    while let Some(b) = cursor.peek() {
        cursor.bump();
        match b {
            b'\\' => cursor.bump(),
            b'{' => depth += 1,
            b'}' if depth == 0 => {
                return Err(Fail::new(
                    cursor.pos,
                    "a `}` closes no brace in a `\"…\"` value",
                ))
            }
            b'}' => depth -= 1,
            b'"' if depth == 0 => return Ok(&cursor.text[start + 1..cursor.pos - 1]),
            _ => {}
        }
    }
    Err(Fail::new(
        cursor.pos,
        "the file ends inside a `\"…\"` value: a quote or brace is left open",
    ))
}

/// A value as plain text: braces dropped, `\_ \% \& \# \$` unescaped, whitespace collapsed.
fn plain(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' | '}' => {}
            '\\' if chars.peek().is_some_and(|n| "_%&#$".contains(*n)) => {
                out.extend(chars.next());
            }
            c => out.push(c),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The paper an entry names: its arXiv id, else its DOI.
fn reference(fields: &Fields) -> Option<BibReference> {
    arxiv_id(fields)
        .map(|found| BibReference::Arxiv(found.id))
        .or_else(|| doi(fields).map(BibReference::Doi))
}

/// The fields whose free text may say `arXiv:<id>`.
const TEXT_FIELDS: [&str; 4] = ["journal", "journaltitle", "note", "howpublished"];

/// The arXiv id an entry names, wherever it says it.
fn arxiv_id(fields: &Fields) -> Option<ArxivRef> {
    let field = |name: &str| fields.get(name).map(String::as_str);
    eprint_arxiv_id(fields)
        .or_else(|| field("url").and_then(find_arxiv_id))
        .or_else(|| {
            field("doi")
                .and_then(find_doi)
                .and_then(|d| arxiv_from_doi(&d))
        })
        .or_else(|| {
            TEXT_FIELDS
                .iter()
                .find_map(|&name| field(name).and_then(arxiv_in_text))
        })
}

/// The arXiv id in `eprint`, unless `archivePrefix` / `eprinttype` names another archive.
/// An old-style number with its archive in `primaryClass` / `eprintclass` counts too.
fn eprint_arxiv_id(fields: &Fields) -> Option<ArxivRef> {
    let eprint = fields.get("eprint")?;
    let archive = fields
        .get("archiveprefix")
        .or_else(|| fields.get("eprinttype"));
    if archive.is_some_and(|a| !a.trim().eq_ignore_ascii_case("arxiv")) {
        return None;
    }
    find_arxiv_id(eprint).or_else(|| {
        let class = fields
            .get("primaryclass")
            .or_else(|| fields.get("eprintclass"))?;
        parse_arxiv_id(&format!("{}/{}", class.trim(), eprint.trim()))
    })
}

/// An `arXiv:<id>` (or `arXiv <id>`) inside free text such as `arXiv preprint
/// arXiv:1706.03762`.
fn arxiv_in_text(text: &str) -> Option<ArxivRef> {
    static MENTION: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)\barxiv\s*[:.]?\s*([a-z][a-z.-]*/\d{7}|\d{4}\.\d{4,5})(v\d+)?\b")
            .expect("static regex")
    });
    MENTION
        .captures_iter(text)
        .find_map(|caps| parse_arxiv_id(&caps[1]))
}

/// The DOI an entry names: its `doi` field, else a DOI resolver `url`.
fn doi(fields: &Fields) -> Option<String> {
    ["doi", "url"]
        .iter()
        .find_map(|&name| fields.get(name).and_then(|v| find_doi(v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arxiv(id: &str) -> Option<BibReference> {
        Some(BibReference::Arxiv(id.to_string()))
    }

    fn doi(id: &str) -> Option<BibReference> {
        Some(BibReference::Doi(id.to_string()))
    }

    /// The (key, reference) pairs of a file that must parse.
    fn found(text: &str) -> Vec<(String, Option<BibReference>)> {
        entries(text)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|e| (e.key, e.reference))
            .collect()
    }

    fn expected(pairs: &[(&str, Option<BibReference>)]) -> Vec<(String, Option<BibReference>)> {
        pairs
            .iter()
            .map(|(k, r)| ((*k).to_string(), r.clone()))
            .collect()
    }

    const ZOTERO: &str = include_str!("../../tests/fixtures/bibtex/zotero.bib");
    const JABREF: &str = include_str!("../../tests/fixtures/bibtex/jabref.bib");
    const MALFORMED: &str = include_str!("../../tests/fixtures/bibtex/malformed.bib");

    #[test]
    fn zotero_export_names_its_papers() {
        assert_eq!(
            found(ZOTERO),
            expected(&[
                ("dosovitskiy_image_2021", arxiv("2010.11929")),
                ("hu_lora_2021", arxiv("2106.09685")),
                ("jumper_highly_2021", doi("10.1038/s41586-021-03819-2")),
                ("kingma_adam_2017", arxiv("1412.6980")),
                ("murphy_machine_2012", None),
                ("ouyang_training_2022", arxiv("2203.02155")),
                ("scholkopf_kernel_1998", doi("10.1162/089976698300017467")),
                ("seiberg_string_1999", arxiv("hep-th/9901001")),
                ("vaswani2017attention", arxiv("1706.03762")),
                ("wei_chain_2022", arxiv("2201.11903")),
            ])
        );
    }

    #[test]
    fn zotero_entries_carry_the_line_of_their_at() {
        let lines: Vec<usize> = entries(ZOTERO).unwrap().iter().map(|e| e.line).collect();
        for line in lines {
            let text = ZOTERO.lines().nth(line - 1).unwrap();
            assert!(text.starts_with('@'), "line {line}: {text:?}");
        }
        assert_eq!(entries(ZOTERO).unwrap()[0].line, 11);
    }

    #[test]
    fn jabref_export_names_its_papers() {
        assert_eq!(
            found(JABREF),
            expected(&[
                ("Devlin2018", arxiv("1810.04805")),
                ("He2016", doi("10.1109/cvpr.2016.90")),
                ("Goodfellow2016", None),
                ("Kingma2014", arxiv("1412.6980")),
                ("Maldacena1999", arxiv("hep-th/9711200")),
                ("Silver2016", doi("10.1038/nature16961")),
            ])
        );
    }

    #[test]
    fn malformed_file_names_the_broken_entry() {
        let error = entries(MALFORMED).unwrap_err();
        assert_eq!(error.line, 7, "{error}");
        assert!(error.to_string().starts_with("line 7: "), "{error}");
        assert!(error.message.contains("broken2022"), "{error}");
        assert!(error.message.contains("title"), "{error}");
    }

    #[test]
    fn no_prefix_of_a_fixture_panics_and_complete_prefixes_agree() {
        for text in [ZOTERO, JABREF, MALFORMED] {
            let good = &text[..text.find("@article{broken").unwrap_or(text.len())];
            let full = found(good);
            let mut lengths_seen = std::collections::BTreeSet::new();
            for end in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
                match entries(&text[..end]) {
                    Ok(some) => {
                        let some: Vec<_> = some.into_iter().map(|e| (e.key, e.reference)).collect();
                        assert_eq!(some[..], full[..some.len()], "prefix of {end} bytes");
                        lengths_seen.insert(some.len());
                    }
                    Err(error) => assert!(error.line >= 1, "prefix of {end} bytes"),
                }
            }
            // Every count of complete entries was seen parsing cleanly.
            assert!(lengths_seen.into_iter().eq(0..=full.len()));
        }
    }

    #[test]
    fn odd_inputs() {
        assert_eq!(entries("").unwrap(), vec![]);
        assert_eq!(entries("\n\n   \n").unwrap(), vec![]);
        assert_eq!(
            entries(
                "% Encoding: UTF-8\n% mail me@example.org\n@comment{x {y} z}\n@Comment no braces\n"
            )
            .unwrap(),
            vec![]
        );
        let error = entries("@misc{a, doi = {10.1000/a}}\n\n@article{").unwrap_err();
        assert_eq!(error.line, 3, "{error}");
        assert_eq!(entries("@").unwrap_err().line, 1);
        assert_eq!(entries("x\n@article").unwrap_err().line, 2);
        assert_eq!(entries("@article{key").unwrap_err().line, 1);
        assert_eq!(entries("@article{key,\n title = {x}").unwrap_err().line, 1);
        assert_eq!(entries("@article{key, title = \"x").unwrap_err().line, 1);
        assert_eq!(entries("@string{a = {x}").unwrap_err().line, 1);
        assert_eq!(entries("@preamble{ \"{\" ").unwrap_err().line, 1);
        assert_eq!(entries("\u{fe0f}@\u{fe0f}").unwrap_err().line, 1);
        assert_eq!(entries("@a{\u{e9}\u{e9}\u{e9}").unwrap_err().line, 1);
    }

    #[test]
    fn entries_without_a_key_are_errors() {
        for text in [
            "\n@article{,\n title={x}}",
            "\n@article{ title = {x} }",
            "\n@misc{}",
        ] {
            let error = entries(text).unwrap_err();
            assert_eq!(error.line, 2, "{text:?}");
            assert!(error.message.contains("without a key"), "{error}");
        }
    }

    #[test]
    fn syntax_variants_are_read() {
        let text = r#"
@STRING( pre = "arXiv" )
@Misc(paren, Note = pre # ":" # "2101.00001v3")
@misc{bare}
@misc{quoted, title = "M{\"u}ller's {"quoted"} title", doi = "DOI:10.1000/ABC\_def"}
@misc{numbers, year = 2020, eprint = 9901001, primaryclass = {hep-th},}
@misc{other, eprint = {2101.00001}, eprinttype = {jstor}, doi = {10.1000/other}}
@online{link, url = {https://doi.org/10.1000/Link}}
@misc{first, doi = {10.1000/first}, DOI = {10.1000/second}}
"#;
        assert_eq!(
            found(text),
            expected(&[
                ("paren", arxiv("2101.00001")),
                ("bare", None),
                ("quoted", doi("10.1000/abc_def")),
                ("numbers", arxiv("hep-th/9901001")),
                ("other", doi("10.1000/other")),
                ("link", doi("10.1000/link")),
                ("first", doi("10.1000/first")),
            ])
        );
    }

    #[test]
    fn arxiv_mentions_in_free_text() {
        let cases: &[(&str, Option<&str>)] = &[
            ("arXiv preprint arXiv:1706.03762", Some("1706.03762")),
            ("ArXiv 2101.00001v2", Some("2101.00001")),
            ("arXiv:hep-th/9901001", Some("hep-th/9901001")),
            ("Preprint, arXiv", None),
            ("arXiv:2613.00001", None),
            ("see arXiv:17060.3762", None),
        ];
        for (text, id) in cases {
            assert_eq!(
                arxiv_in_text(text).map(|r| r.id).as_deref(),
                *id,
                "{text:?}"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn never_panics_on_bibtex_like_noise(text in r##"[@{}()="#%,\\a-zA-Z0-9 \n:./é]{0,120}"##) {
            let _ = entries(&text);
        }
    }
}
