//! paperboy's own word splitting ([`crate::pipeline::text::words`]: letters and digits, folded,
//! accents removed) as a tantivy tokenizer, so the index holds exactly the words that topic
//! queries and the reference evaluator match against.

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// The name the tokenizer is registered under in the index.
pub(crate) const NAME: &str = "paperboy_words";

/// Splits text into paperboy's folded words.
#[derive(Debug, Clone, Default)]
pub(crate) struct WordsTokenizer;

/// The words of one text, one token at a time, at consecutive positions.
pub(crate) struct WordsStream {
    words: std::vec::IntoIter<String>,
    token: Token,
    position: usize,
}

impl Tokenizer for WordsTokenizer {
    type TokenStream<'a> = WordsStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordsStream {
        WordsStream {
            words: crate::pipeline::text::words(text).into_iter(),
            token: Token::default(),
            position: 0,
        }
    }
}

impl TokenStream for WordsStream {
    fn advance(&mut self) -> bool {
        let Some(word) = self.words.next() else {
            return false;
        };
        self.token = Token {
            // Offsets are unused: the index never highlights.
            offset_from: 0,
            offset_to: 0,
            position: self.position,
            text: word,
            position_length: 1,
        };
        self.position += 1;
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
