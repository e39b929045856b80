//! The helpers every config section validates with: a [`Problem`] at a key path, durations and
//! counts within bounds, and ids. Each helper records what is wrong and returns a usable value,
//! so that validation goes on and reports every problem at once. Pure.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

/// The longest timeout or gap accepted (a week); longer ones overflow timer arithmetic.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// One thing wrong with a config, at a key path such as `sources[1].url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key path, such as `sources[1].url`.
    pub path: String,
    /// What is wrong there, and what would be right.
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A humantime duration (`"10s"`, `"2m"`) of at most [`MAX_TIMEOUT`] at `path`, or `default`
/// when absent or invalid (the problem is recorded).
pub(crate) fn duration(
    path: &str,
    text: Option<&str>,
    default: Duration,
    problems: &mut Vec<Problem>,
) -> Duration {
    let Some(text) = text else { return default };
    let message = match humantime::parse_duration(text) {
        Ok(d) if d <= MAX_TIMEOUT => return d,
        Ok(_) => format!("{text:?} is longer than the maximum of 7 days"),
        Err(e) => format!("{text:?} is not a duration such as \"10s\": {e}"),
    };
    problems.push(Problem::new(path, message));
    default
}

/// A count at `path` within `range`, or `default` when absent or outside it (the problem is
/// recorded).
pub(crate) fn count_in(
    path: &str,
    value: Option<usize>,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
    problems: &mut Vec<Problem>,
) -> usize {
    match value {
        Some(n) if !range.contains(&n) => {
            problems.push(Problem::new(
                path,
                format!("must be from {} to {}", range.start(), range.end()),
            ));
            default
        }
        Some(n) => n,
        None => default,
    }
}

/// Whether an id is `[a-z0-9-]+`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The entry's id, when it is there, valid and not used by an earlier entry (`seen`).
pub(crate) fn check_id(
    id: Option<String>,
    path: &str,
    seen: &mut HashSet<String>,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let path = format!("{path}.id");
    let Some(id) = id else {
        problems.push(Problem::new(path, "missing; every entry needs an id"));
        return None;
    };
    if !valid_id(&id) {
        problems.push(Problem::new(
            path,
            format!("{id:?} must be lower-case letters, digits and '-' only"),
        ));
        return None;
    }
    if !seen.insert(id.clone()) {
        problems.push(Problem::new(path, format!("{id:?} is used twice")));
        return None;
    }
    Some(id)
}
