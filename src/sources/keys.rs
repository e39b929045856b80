//! The config keys of one source that belong to its kind (everything but `id`, `kind` and
//! `every`), as a kind's [`super::Kind::url`] takes them: each key it knows is taken, with a
//! problem recorded when its value has the wrong type; the keys left over belong to no one and
//! are the config's to report. Pure.

use std::collections::BTreeMap;

/// A source's kind-specific config keys, being taken by its kind.
#[derive(Debug, Default)]
pub struct SourceKeys {
    url: Option<String>,
    rest: BTreeMap<String, toml::Value>,
    /// Keys that were given, whether or not their values were usable.
    given: Vec<String>,
    problems: Vec<(String, String)>,
}

impl SourceKeys {
    /// The source's `url` (when given) and its other keys besides `id`, `kind` and `every`.
    pub fn new(url: Option<String>, rest: BTreeMap<String, toml::Value>) -> Self {
        let mut given: Vec<String> = rest.keys().cloned().collect();
        if url.is_some() {
            given.push("url".into());
        }
        SourceKeys {
            url,
            rest,
            given,
            problems: Vec::new(),
        }
    }

    /// Records a problem with `key`.
    pub fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push((key.to_string(), message.into()));
    }

    /// Whether the config gave `key` (usable or not).
    pub fn given(&self, key: &str) -> bool {
        self.given.iter().any(|k| k == key)
    }

    /// The `url` key.
    pub fn take_url(&mut self) -> Option<String> {
        self.url.take()
    }

    /// The `url` key, which must be there unless one of `alternatives` (keys of the kind's own
    /// that stand for it) was given.
    pub fn required_url(&mut self, alternatives: &[&str]) -> Option<String> {
        let url = self.take_url();
        if url.is_none() && !alternatives.iter().any(|k| self.given(k)) {
            let also: String = alternatives.iter().map(|k| format!(" (or {k})")).collect();
            self.problem("url", format!("missing{also}"));
        }
        url
    }

    /// A string key.
    pub fn take_string(&mut self, key: &str) -> Option<String> {
        match self.rest.remove(key)? {
            toml::Value::String(text) => Some(text),
            other => self.wrong_type(key, "a string", &other),
        }
    }

    /// A list of strings.
    pub fn take_strings(&mut self, key: &str) -> Option<Vec<String>> {
        let value = self.rest.remove(key)?;
        let strings = match &value {
            toml::Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<String>>>(),
            _ => None,
        };
        strings.or_else(|| self.wrong_type(key, "a list of strings", &value))
    }

    /// A whole number of zero or more.
    pub fn take_count(&mut self, key: &str) -> Option<usize> {
        let value = self.rest.remove(key)?;
        value
            .as_integer()
            .and_then(|n| usize::try_from(n).ok())
            .or_else(|| self.wrong_type(key, "a whole number of zero or more", &value))
    }

    fn wrong_type<T>(&mut self, key: &str, expected: &str, found: &toml::Value) -> Option<T> {
        self.problem(key, format!("must be {expected}, not {found}"));
        None
    }

    /// The keys no one took (sorted), and the problems found, in the order they were.
    pub fn finish(self) -> (Vec<String>, Vec<(String, String)>) {
        (self.rest.into_keys().collect(), self.problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> SourceKeys {
        let mut rest: BTreeMap<String, toml::Value> = toml::from_str(text).unwrap();
        let url = rest
            .remove("url")
            .and_then(|v| v.as_str().map(str::to_string));
        SourceKeys::new(url, rest)
    }

    #[test]
    fn keys_are_taken_once_with_their_types_checked() {
        let mut k = keys("categories = [\"cs.LG\"]\nquery = 3\nmax_results = -1\nextra = 1\n");
        assert_eq!(
            k.take_strings("categories"),
            Some(vec!["cs.LG".to_string()])
        );
        assert_eq!(k.take_strings("categories"), None, "taken once");
        assert_eq!(k.take_string("query"), None);
        assert_eq!(k.take_count("max_results"), None);
        assert_eq!(k.required_url(&["query"]), None, "query was given");
        assert!(k.given("query") && !k.given("url"));
        let (left, problems) = k.finish();
        assert_eq!(left, vec!["extra".to_string()]);
        let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, vec!["query", "max_results"]);
        assert!(problems[0].1.contains("must be a string"), "{problems:?}");
    }

    #[test]
    fn a_missing_url_names_what_could_stand_for_it() {
        let mut k = keys("");
        assert_eq!(k.required_url(&["categories"]), None);
        let (_, problems) = k.finish();
        assert_eq!(
            problems,
            vec![("url".to_string(), "missing (or categories)".to_string())]
        );
    }
}
