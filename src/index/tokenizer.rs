//! paperboy's own word splitting ([`crate::pipeline::text::words`]: letters and digits, folded,
//! accents removed) as a tantivy tokenizer, so the index holds exactly the words that topic
//! queries and the reference evaluator match against.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// The name the tokenizer is registered under in the index.
pub(crate) const NAME: &str = "paperboy_words";

/// Splits text into paperboy's folded words.
#[derive(Debug, Clone, Default)]
pub(crate) struct WordsTokenizer;

/// The words of one text, one token at a time, at consecutive positions. The words are split
/// up front into one string (a title's or abstract's few hundred words would otherwise be as
/// many allocations, per field, per paper ingested).
pub(crate) struct WordsStream {
    /// Every word, one after another.
    text: String,
    /// Where each word ends in `text`.
    ends: Vec<usize>,
    /// The next word's place in `ends`.
    next: usize,
    token: Token,
}

impl Tokenizer for WordsTokenizer {
    type TokenStream<'a> = WordsStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordsStream {
        let mut words = String::with_capacity(text.len());
        let mut ends = Vec::new();
        crate::pipeline::text::for_each_word(text, |word| {
            words.push_str(word);
            ends.push(words.len());
        });
        WordsStream {
            text: words,
            ends,
            next: 0,
            // Offsets stay 0: the index never highlights.
            token: Token::default(),
        }
    }
}

impl TokenStream for WordsStream {
    fn advance(&mut self) -> bool {
        let Some(&end) = self.ends.get(self.next) else {
            return false;
        };
        let start = match self.next {
            0 => 0,
            n => self.ends[n - 1],
        };
        self.token.text.clear();
        self.token.text.push_str(&self.text[start..end]);
        self.token.position = self.next;
        self.next += 1;
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_paperboys_words_at_consecutive_positions() {
        let mut tokenizer = WordsTokenizer;
        let mut stream = tokenizer.token_stream("Schölkopf's large-scale 3D model");
        let mut seen = Vec::new();
        while stream.advance() {
            seen.push((stream.token().text.clone(), stream.token().position));
        }
        let expected: Vec<(String, usize)> = ["scholkopf", "s", "large", "scale", "3d", "model"]
            .iter()
            .enumerate()
            .map(|(i, w)| ((*w).to_string(), i))
            .collect();
        assert_eq!(seen, expected);
    }
}
