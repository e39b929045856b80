//! Source kinds: each kind turns the bytes a source served into normalized papers. Every kind
//! is registered in [`SourceKind`] and [`SourceKind::adapter`], and nowhere else. Adapters are
//! pure (bytes in, papers out); fetching is [`crate::fetch`]'s job.

pub mod arxiv;
pub mod arxiv_api;
pub mod arxiv_oai;
pub mod feed;
pub mod hf_daily;
pub mod xml;

use serde::{Deserialize, Serialize};

use crate::model::Paper;
use crate::pipeline::normalize::clean;

/// What an adapter knows about the source it parses for.
#[derive(Debug, Clone, Copy)]
pub struct SourceContext<'a> {
    /// The configured source id; papers record it and entry identifiers are scoped by it.
    pub source_id: &'a str,
    /// The URL the bytes came from, used to resolve relative links.
    pub url: &'a str,
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

/// A function from a source's bytes to its papers.
pub type Adapter = fn(&[u8], &SourceContext<'_>) -> Result<Vec<Paper>, ParseError>;

/// The kinds of source a config may name (`kind = "…"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// Any RSS 0.9x/1.0/2.0, Atom or JSON Feed.
    Feed,
    /// arXiv's listing feeds (`rss.arxiv.org`).
    Arxiv,
    /// A query against arXiv's API.
    ArxivApi,
    /// Hugging Face's daily papers.
    HfDaily,
    /// arXiv's OAI-PMH interface (`ListRecords`).
    ArxivOai,
}

/// How a kind reads more than one page per poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// `start`/`max_results` offsets (the arXiv API).
    Offset,
    /// OAI-PMH resumption tokens.
    ResumptionToken,
}

impl SourceKind {
    /// Every kind, for error messages that list them.
    pub const ALL: &'static [SourceKind] = &[
        SourceKind::Feed,
        SourceKind::Arxiv,
        SourceKind::ArxivApi,
        SourceKind::HfDaily,
        SourceKind::ArxivOai,
    ];

    /// The name used in the config.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Feed => "feed",
            SourceKind::Arxiv => "arxiv",
            SourceKind::ArxivApi => "arxiv-api",
            SourceKind::HfDaily => "hf-daily",
            SourceKind::ArxivOai => "arxiv-oai",
        }
    }

    /// The kind a config name stands for.
    pub fn from_name(name: &str) -> Option<SourceKind> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// The adapter that parses this kind's bytes.
    pub fn adapter(self) -> Adapter {
        match self {
            SourceKind::Feed => feed::parse,
            SourceKind::Arxiv => arxiv::parse,
            SourceKind::ArxivApi => arxiv_api::parse,
            SourceKind::HfDaily => hf_daily::parse,
            SourceKind::ArxivOai => arxiv_oai::parse,
        }
    }

    /// Reads a source's bytes into papers the way ingestion does: the kind's adapter, then
    /// [`clean`] (which needs `now` to tell a date from the future).
    pub fn read(
        self,
        bytes: &[u8],
        ctx: &SourceContext<'_>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Paper>, ParseError> {
        let papers = self.adapter()(bytes, ctx)?;
        Ok(papers.into_iter().map(|p| clean(p, now)).collect())
    }

    /// How this kind pages, if it does; paged kinds take `max_results`.
    pub fn paging(self) -> Option<Paging> {
        match self {
            SourceKind::ArxivApi => Some(Paging::Offset),
            SourceKind::ArxivOai => Some(Paging::ResumptionToken),
            SourceKind::Feed | SourceKind::Arxiv | SourceKind::HfDaily => None,
        }
    }
}
