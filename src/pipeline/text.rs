//! Text helpers shared by normalization and matching: turning source HTML into plain text and
//! splitting text into the words topic queries match against. Pure functions only.

/// Splits text into lower-cased words: maximal runs of letters and digits. Everything else
/// (spaces, hyphens, punctuation, symbols) separates words.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            current.extend(c.to_lowercase());
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Collapses every run of whitespace to one space, trims the ends, and drops control
/// characters (which XML 1.0 cannot carry, so no rendered feed could include them).
pub fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace()
        .map(|w| w.chars().filter(|&c| is_xml_char(c)).collect::<String>())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether XML 1.0 can carry the character (controls and U+FFFE/U+FFFF it cannot).
fn is_xml_char(c: char) -> bool {
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

    #[test]
    fn words_split_on_everything_but_letters_and_digits() {
        let cases: &[(&str, &[&str])] = &[
            ("Out-of-Distribution", &["out", "of", "distribution"]),
            ("GPT-4o, LLaMA 3.1!", &["gpt", "4o", "llama", "3", "1"]),
            ("  ", &[]),
            ("Schölkopf's", &["schölkopf", "s"]),
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
}
