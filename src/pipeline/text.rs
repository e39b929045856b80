//! Text helpers shared by normalization and matching: turning source HTML into plain text and
//! splitting text into the words topic queries match against. Pure functions only.

use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// Folds text for matching: lower-cased, accents removed (`Schölkopf` → `scholkopf`,
/// `İstanbul` → `istanbul`).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        fold_char(c, |c| out.push(c));
    }
    out
}

/// Lower-cases one character and removes its accents, calling `f` with what is left. ASCII,
/// most of any paper's text, takes the short way.
#[inline]
fn fold_char(c: char, mut f: impl FnMut(char)) {
    if c.is_ascii() {
        f(c.to_ascii_lowercase());
        return;
    }
    for lower in c.to_lowercase() {
        decompose_canonical(lower, |d| {
            if !is_combining_mark(d) {
                f(d);
            }
        });
    }
}

/// A category as queries and papers compare it: folded, whitespace collapsed (`cs.LG` →
/// `cs.lg`).
pub fn fold_token(text: &str) -> String {
    collapse_whitespace(&fold(text))
}

/// Splits text into folded words: maximal runs of letters and digits, lower-cased, accents
/// removed. Everything else (spaces, hyphens, punctuation, symbols) separates words.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_word(text, |w| out.push(w.to_string()));
    out
}

/// Calls `f` with each folded word of `text`. This runs on every title and abstract twice an
/// ingest (tagging, then the search index), so ASCII, most of any paper's text, is split a byte
/// at a time, and a word already in lower case is handed over as a slice of `text` rather than
/// copied; any other character is folded as [`fold`] folds it.
pub fn for_each_word(text: &str, mut f: impl FnMut(&str)) {
    let bytes = text.as_bytes();
    // The word being built, when it is not a plain slice of `text`.
    let mut current = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_alphanumeric() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let run = &text[start..i];
            // A whole word: nothing before it, and what follows (if anything) is ASCII,
            // which cannot continue a word unless it is a letter or digit (it is not).
            let whole = current.is_empty() && bytes.get(i).is_none_or(u8::is_ascii);
            if whole && !run.bytes().any(|b| b.is_ascii_uppercase()) {
                f(run);
            } else {
                current.extend(run.bytes().map(|b| char::from(b.to_ascii_lowercase())));
            }
        } else if bytes[i].is_ascii() {
            if !current.is_empty() {
                f(&current);
                current.clear();
            }
            i += 1;
        } else {
            // `i` is at a character boundary: every branch steps over whole characters.
            let Some(c) = text[i..].chars().next() else {
                break;
            };
            i += c.len_utf8();
            fold_char(c, |d| {
                if d.is_alphanumeric() {
                    current.push(d);
                } else if !current.is_empty() {
                    f(&current);
                    current.clear();
                }
            });
        }
    }
    if !current.is_empty() {
        f(&current);
    }
}

/// Collapses every run of whitespace to one space, trims the ends, and drops control
/// characters (which XML 1.0 cannot carry, so no rendered feed could include them).
pub fn collapse_whitespace(text: &str) -> String {
    collapse_ascii(text).unwrap_or_else(|| join_words(text.split_whitespace(), text.len()))
}

/// [`collapse_whitespace`] for text that is all ASCII (most titles and abstracts, and every
/// one a second time), in one pass over its bytes; `None` for any other text, and for text
/// with a vertical tab (whitespace to `char`, not to `u8`).
fn collapse_ascii(text: &str) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    // A space is owed before the next kept byte: whitespace came after a kept one. A word of
    // nothing but dropped bytes keeps nothing, so it owes nothing either.
    let mut space = false;
    for &b in text.as_bytes() {
        match b {
            b'\x0b' | 0x80.. => return None,
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => space = !out.is_empty(),
            // Control characters (XML 1.0 cannot carry them): dropped.
            0..=0x1f | 0x7f => {}
            _ => {
                if std::mem::take(&mut space) {
                    out.push(b' ');
                }
                out.push(b);
            }
        }
    }
    // Only ASCII bytes were kept.
    String::from_utf8(out).ok()
}

/// `words` joined by one space, each without its control characters, in one string (this
/// runs on every title and abstract ingested).
fn join_words<'a>(words: impl Iterator<Item = &'a str>, capacity: usize) -> String {
    let mut out = String::with_capacity(capacity);
    for word in words {
        let kept = out.len();
        if kept > 0 {
            out.push(' ');
        }
        let start = out.len();
        if word.bytes().all(|b| (b' '..0x7f).contains(&b)) {
            // Printable ASCII, most words: nothing to drop, copied whole.
            out.push_str(word);
        } else {
            out.extend(word.chars().filter(|&c| is_xml_char(c)));
        }
        if out.len() == start {
            // A word of nothing but dropped characters leaves no trace, not even a space.
            out.truncate(kept);
        }
    }
    out
}

/// Whether text may carry the character into XML: not a control character (XML 1.0 forbids
/// most, and the rest are noise), not U+FFFE or U+FFFF.
pub fn is_xml_char(c: char) -> bool {
    !c.is_control() && c != '\u{fffe}' && c != '\u{ffff}'
}

/// Turns an HTML fragment into plain text: tags are dropped (the content of `script` and
/// `style` with them), entities decoded, whitespace collapsed.
pub fn html_to_text(html: &str) -> String {
    if !html.contains('<') && !html.contains('&') {
        return collapse_whitespace(html);
    }
    // ammonia with no allowed tags keeps only text, escaped; decoding the escapes gives the
    // plain text back.
    let cleaned = ammonia::Builder::empty().clean(html).to_string();
    collapse_whitespace(&html_escape::decode_html_entities(&cleaned))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The splitting [`for_each_word`] does, a character at a time (as it was written first).
    fn words_one_char_at_a_time(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut current = String::new();
        for c in text.chars() {
            fold_char(c, |d| {
                if d.is_alphanumeric() {
                    current.push(d);
                } else if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            });
        }
        if !current.is_empty() {
            out.push(current);
        }
        out
    }

    #[test]
    fn words_are_split_as_one_character_at_a_time_would() {
        let mut texts: Vec<String> = [
            "",
            "a",
            "A",
            "ABC def",
            "naïve Schölkopf's İstanbul",
            "ÅNGSTRÖM straße ΣΊΣΥΦΟΣ",
            "x²+y₂ = z³ · 3D-CNN, GPT-4o (2024)",
            "end with é",
            "é",
            "aé",
            "éa",
            "ab\u{301}cd",
            "one\ttwo\nthree\u{a0}four\u{2009}five",
            "日本語のテキスト and 中文",
            "emoji 🙂 split🙂words",
            "mixedCASEword123 ABC123def",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        // Every line of the real captures, titles and abstracts among them, too.
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/sources");
        for (_, file) in crate::selfcheck::CAPTURES {
            if let Ok(text) = std::fs::read_to_string(format!("{fixtures}/{file}")) {
                texts.extend(text.lines().map(str::to_string));
            }
        }
        assert!(
            texts.len() > 1000,
            "the fixtures were read: {}",
            texts.len()
        );
        for text in &texts {
            assert_eq!(words(text), words_one_char_at_a_time(text), "for {text:?}");
        }
    }

    #[test]
    fn words_split_on_everything_but_letters_and_digits() {
        let cases: &[(&str, &[&str])] = &[
            ("Out-of-Distribution", &["out", "of", "distribution"]),
            ("GPT-4o, LLaMA 3.1!", &["gpt", "4o", "llama", "3", "1"]),
            ("  ", &[]),
            ("Schölkopf's", &["scholkopf", "s"]),
            ("İstanbul Ærø", &["istanbul", "ærø"]),
            ("naïve CAFÉ", &["naive", "cafe"]),
            ("x", &["x"]),
        ];
        for (text, expected) in cases {
            assert_eq!(words(text), *expected, "for {text:?}");
        }
    }

    #[test]
    fn html_becomes_plain_text() {
        assert_eq!(
            html_to_text("<p>A &amp; B</p>\n<script>alert(1)</script><b>bold</b>  text"),
            "A & B bold text"
        );
        assert_eq!(html_to_text("1 &lt; 2"), "1 < 2");
        assert_eq!(html_to_text("  plain\n text "), "plain text");
        assert_eq!(collapse_whitespace("a\u{1}b \u{7} c\u{fffe}"), "ab c");
    }

    /// Collapsing by its definition, a character at a time: what the fast paths must match.
    fn plain(text: &str) -> String {
        let kept: String = text
            .chars()
            .filter(|&c| c.is_whitespace() || is_xml_char(c))
            .collect();
        kept.split_whitespace()
            .map(|word| word.chars().filter(|&c| is_xml_char(c)).collect::<String>())
            .filter(|word| !word.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    proptest::proptest! {
        /// The same as collapsing character by character, whatever the text (the fast path
        /// for printable ASCII words must drop nothing it should keep, and keep nothing more).
        #[test]
        fn collapsing_whitespace_is_the_plain_definition(text in "(\\PC|[ \t\n\r\u{0}-\u{1f}\u{7f}\u{85}\u{a0}\u{fffe}\u{ffff}ab])*") {
            proptest::prop_assert_eq!(collapse_whitespace(&text), plain(&text));
        }

        /// The same for text of ASCII only, which takes the ASCII path unless it has a vertical tab.
        #[test]
        fn collapsing_ascii_is_the_plain_definition(text in "[\u{0}-\u{7f}]*") {
            let expected = (!text.contains('\u{b}')).then(|| plain(&text));
            proptest::prop_assert_eq!(collapse_ascii(&text), expected);
        }
    }
}
