//! Source kinds: each kind turns the bytes a source served into normalized papers, and owns
//! everything else about itself: its name in the config, the config keys it takes and their
//! defaults (how its URL is built), the hosts that ask for a gap between requests, and how it
//! pages. A kind is one file implementing [`Kind`], and one line in [`source_kinds!`]'s
//! registry below; nothing else in paperboy names a kind. Adapters are pure (bytes in, papers
//! out); fetching is [`crate::fetch`]'s job.

pub mod arxiv;
pub mod arxiv_api;
pub mod arxiv_oai;
pub mod feed;
pub mod hf_daily;
mod keys;
pub(crate) mod xml;

use std::time::Duration;

pub use keys::SourceKeys;

use sha2::Digest;

use crate::model::{EntryMark, Paper};
use crate::pipeline::normalize::clean;

/// What an adapter knows about the source it parses for.
#[derive(Debug, Clone, Copy)]
pub struct SourceContext<'a> {
    /// The configured source id; papers record it and entry identifiers are scoped by it.
    pub source_id: &'a str,
    /// The URL the bytes came from, used to resolve relative links.
    pub url: &'a str,
}

/// What a page gave: its papers, the marks of the entries they were read from (for the kinds
/// that mark entries), and how many entries were left out as stored before, unchanged.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The papers of the entries read.
    pub papers: Vec<Paper>,
    /// The marks of the entries read, to be stored with their papers.
    pub marks: Vec<EntryMark>,
    /// Entries left out: stored before exactly as they are written now.
    pub known: usize,
}

/// Says whether an entry was stored before exactly as it is written now.
pub type Known<'a> = &'a dyn Fn(&EntryMark) -> bool;

/// Bumped when what an entry is read into changes in a way the crate's version does not
/// tell, so that every marked entry is read again once.
const MARK_VERSION: u32 = 1;

/// The mark of an entry of source `source_id` known as `identity` there (an arXiv id), whose
/// bytes are `raw`, read within `context` (the page's root tag, with its namespaces). Not the
/// page's URL: an entry reads the same on any page, and a paged query's offsets move as new
/// papers arrive, which would have every entry read again. Pure.
pub(crate) fn entry_mark(source_id: &str, identity: &str, context: &str, raw: &str) -> EntryMark {
    let mut hasher = sha2::Sha256::new();
    for part in [
        &MARK_VERSION.to_be_bytes()[..],
        env!("CARGO_PKG_VERSION").as_bytes(),
        source_id.as_bytes(),
        context.as_bytes(),
        raw.as_bytes(),
    ] {
        // Each part with its length: no two splits of the same bytes hash alike.
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    let mut digest = [0; 16];
    digest.copy_from_slice(&hasher.finalize()[..16]);
    let mut key = source_id.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(identity.as_bytes());
    EntryMark { key, digest }
}

/// Why a source's bytes gave no papers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The bytes are not RSS, Atom or JSON Feed.
    #[error("not a feed: {0}")]
    NotAFeed(String),
    /// The bytes are not what this source kind expects (an HTML error page from an API, RSS
    /// where arXiv's Atom was expected, truncated JSON).
    #[error("{0}")]
    Unexpected(String),
}

/// Everything paperboy knows about one kind of source. Only [`Kind::name`] and
/// [`Kind::parse`] are required; the rest have the defaults of a plain feed.
pub trait Kind: Sync {
    /// The name a config gives in `kind = "…"`.
    fn name(&self) -> &'static str;

    /// Parses a source's bytes into papers (pure; [`SourceKind::read`] adds the cleaning that
    /// ingestion does).
    fn parse(&self, bytes: &[u8], ctx: &SourceContext<'_>) -> Result<Vec<Paper>, ParseError>;

    /// [`Kind::parse`], leaving out the entries `known` says were stored exactly as they are
    /// written now and marking the others ([`EntryMark`]), for kinds that can tell an entry's
    /// bytes and identity before parsing it; the others (the default) read every entry and
    /// mark none.
    fn parse_unknown(
        &self,
        bytes: &[u8],
        ctx: &SourceContext<'_>,
        known: Known<'_>,
    ) -> Result<Parsed, ParseError> {
        let _ = known;
        Ok(Parsed {
            papers: self.parse(bytes, ctx)?,
            ..Parsed::default()
        })
    }

    /// The config keys this kind takes besides `id`, `kind`, `url`, `every` (and
    /// `max_results`, which every paged kind takes), so that a key given to the wrong kind is
    /// named as belonging to another.
    fn own_keys(&self) -> &'static [&'static str] {
        &[]
    }

    /// The URL a source of this kind reads, from its config keys: by default the `url` key,
    /// which is then required. Kinds that build the URL from keys of their own (`categories`,
    /// `query`) or have a fixed default take those keys here; problems go into `keys`.
    fn url(&self, keys: &mut SourceKeys) -> Option<String> {
        keys.required_url(&[])
    }

    /// How this kind reads more than one page per poll, if it does.
    fn pager(&self) -> Option<&'static dyn Pager> {
        None
    }

    /// Hosts of this kind that ask for a least time between requests (their terms of use):
    /// defaults of `fetch.host_gap`, which a config may change.
    fn host_gaps(&self) -> &'static [(&'static str, Duration)] {
        &[]
    }
}

/// How a paged kind walks its pages. Stateless: each step works from the configured URL and
/// what the last page brought.
pub trait Pager: Sync {
    /// `max_results` when the config does not say.
    fn default_max_results(&self) -> usize;

    /// The most `max_results` may be, when the service sets a limit; `None` for none (an
    /// OAI-PMH harvest may read a whole archive in one poll).
    fn max_results_cap(&self) -> Option<usize>;

    /// The URL of the first page of a harvest reading at most `max_results` results, asking
    /// only for records changed since `since` (a [`PageInfo::stamp`] of an earlier harvest)
    /// when the kind can.
    fn first_page(&self, base: &url::Url, max_results: usize, since: Option<&str>) -> url::Url;

    /// What a page says about the harvest: the URL of the next page (`None` when this one was
    /// the last), the server's date and the size of the whole list. `got` is how many papers
    /// the page held, `so_far` how many the poll has read with it (`so_far <= max_results`).
    fn read_page(
        &self,
        base: &url::Url,
        page: &[u8],
        got: usize,
        so_far: usize,
        max_results: usize,
    ) -> PageInfo;

    /// Whether a next page's URL stays valid from one poll to the next (OAI-PMH resumption
    /// tokens do, for a while), so that a harvest cut short goes on from it.
    fn resumable(&self) -> bool {
        false
    }
}

/// `base` with each of `params` set: any value it had for those names is dropped, the new ones
/// are appended, every other parameter is kept in order.
pub fn with_params(base: &url::Url, params: &[(&str, &str)]) -> url::Url {
    let mut url = base.clone();
    let kept: Vec<(String, String)> = base
        .query_pairs()
        .filter(|(k, _)| !params.iter().any(|(name, _)| k == name))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .extend_pairs(params);
    url
}

/// What one page says about the harvest it belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageInfo {
    /// The URL of the next page; `None` when the list ends here.
    pub next: Option<url::Url>,
    /// The server's date on the page (OAI-PMH's `responseDate`).
    pub stamp: Option<String>,
    /// How many records the whole list holds (OAI-PMH's `completeListSize`).
    pub total: Option<u64>,
}

/// Declares [`SourceKind`] from one line per kind: its variant and the [`Kind`] that
/// implements it. This is the registry: the only place a kind is listed.
macro_rules! source_kinds {
    ($($(#[$doc:meta])* $variant:ident => $kind:expr,)*) => {
        /// The kinds of source a config may name (`kind = "…"`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum SourceKind {
            $($(#[$doc])* $variant,)*
        }

        impl SourceKind {
            /// Every kind, in registry order.
            pub const ALL: &'static [SourceKind] = &[$(SourceKind::$variant,)*];

            /// What this kind is and does.
            pub fn def(self) -> &'static dyn Kind {
                match self {
                    $(SourceKind::$variant => &$kind,)*
                }
            }
        }
    };
}

source_kinds! {
    /// Any RSS 0.9x/1.0/2.0, Atom or JSON Feed.
    Feed => feed::Feed,
    /// arXiv's listing feeds (`rss.arxiv.org`).
    Arxiv => arxiv::Arxiv,
    /// A query against arXiv's API.
    ArxivApi => arxiv_api::ArxivApi,
    /// Hugging Face's daily papers.
    HfDaily => hf_daily::HfDaily,
    /// arXiv's OAI-PMH interface (`ListRecords`).
    ArxivOai => arxiv_oai::ArxivOai,
}

impl SourceKind {
    /// The name used in the config.
    pub fn name(self) -> &'static str {
        self.def().name()
    }

    /// The kind a config name stands for.
    pub fn from_name(name: &str) -> Option<SourceKind> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// Parses a source's bytes with this kind's adapter.
    pub fn parse(self, bytes: &[u8], ctx: &SourceContext<'_>) -> Result<Vec<Paper>, ParseError> {
        self.def().parse(bytes, ctx)
    }

    /// Reads a source's bytes into papers the way ingestion does: the kind's adapter, then
    /// [`clean`] (which needs `now` to tell a date from the future).
    pub fn read(
        self,
        bytes: &[u8],
        ctx: &SourceContext<'_>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Paper>, ParseError> {
        let papers = self.parse(bytes, ctx)?;
        Ok(papers.into_iter().map(|p| clean(p, now)).collect())
    }

    /// [`SourceKind::read`], leaving out the entries `known` says were stored exactly as they
    /// are written now ([`Kind::parse_unknown`]).
    pub fn read_unknown(
        self,
        bytes: &[u8],
        ctx: &SourceContext<'_>,
        now: chrono::DateTime<chrono::Utc>,
        known: Known<'_>,
    ) -> Result<Parsed, ParseError> {
        let mut parsed = self.def().parse_unknown(bytes, ctx, known)?;
        parsed.papers = parsed.papers.into_iter().map(|p| clean(p, now)).collect();
        Ok(parsed)
    }

    /// How this kind pages, if it does; paged kinds take `max_results`.
    pub fn pager(self) -> Option<&'static dyn Pager> {
        self.def().pager()
    }

    /// The kinds that take the config key `key` as one of their own.
    pub fn taking(key: &str) -> Vec<SourceKind> {
        Self::ALL
            .iter()
            .copied()
            .filter(|k| {
                k.def().own_keys().contains(&key) || (key == "max_results" && k.pager().is_some())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found_again() {
        for kind in SourceKind::ALL {
            assert_eq!(SourceKind::from_name(kind.name()), Some(*kind));
        }
        assert_eq!(SourceKind::from_name("gopher"), None);
        assert_eq!(
            SourceKind::taking("max_results"),
            vec![SourceKind::ArxivApi, SourceKind::ArxivOai]
        );
        assert_eq!(SourceKind::taking("categories"), vec![SourceKind::Arxiv]);
    }
}
