//! The paper model every stage shares: what a source says about a paper, and what the store
//! keeps. Plain data only; no IO and no behaviour beyond small accessors.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A source's entry as it was last stored: `ingest` leaves out an entry that comes back written
/// exactly as before (its paper is stored, and reading and merging it again would change
/// nothing), at the cost of a digest and one point read instead of a parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMark {
    /// The source and the entry's identity in it (`source`, NUL, arXiv id without version):
    /// the mark of an entry's new version replaces the old one's.
    pub key: Vec<u8>,
    /// A digest of the entry's bytes as the source wrote them, of what they are read with
    /// (the source, the page's root tag) and of the paperboy that read them.
    pub digest: [u8; 16],
}

/// One author of a paper, as a source names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    /// The display name, e.g. `Geoffrey E. Hinton`.
    pub name: String,
    /// An affiliation when the source gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliation: Option<String>,
}

impl Author {
    /// An author known only by name.
    pub fn named(name: impl Into<String>) -> Self {
        Author {
            name: name.into(),
            affiliation: None,
        }
    }
}

/// What a link points at, so renderers can pick the right one for each slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    /// The paper's landing page (an arXiv abstract page, a journal article page).
    Page,
    /// The full text as PDF.
    Pdf,
    /// The DOI resolver link.
    Doi,
    /// The paper's page on Hugging Face.
    HuggingFace,
    /// The code repository.
    Code,
    /// The project page.
    Project,
    /// Anything else the source linked.
    Related,
}

/// A link from a paper to somewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// What the link points to.
    pub kind: LinkKind,
    /// The URL.
    pub href: String,
    /// A media type when the source gave one (`application/pdf`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

/// Everything that identifies a paper, in priority order (see [`crate::pipeline::identity`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifiers {
    /// The arXiv id without version, e.g. `2604.21952` or `hep-th/9901001`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arxiv: Option<String>,
    /// The DOI, lower-cased, without `doi:` or resolver prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doi: Option<String>,
    /// The normalized link to the paper's page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The id the source gave the entry, scoped by source (`<source>:<id>`), or one derived
    /// deterministically from the title when the entry has neither id nor link.
    pub entry: String,
}

/// A paper as normalized from one source, or as merged from several.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paper {
    /// Every identifier the source gave for the paper.
    pub ids: Identifiers,
    /// The version a source last reported (arXiv `v2` is `Some(2)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// The title, as plain text.
    pub title: String,
    /// The authors, in the order the source lists them.
    pub authors: Vec<Author>,
    /// The abstract as plain text (HTML removed, whitespace collapsed).
    #[serde(rename = "abstract")]
    pub abstract_text: String,
    /// Links: the abstract page, the PDF, the DOI, code and project pages.
    pub links: Vec<Link>,
    /// Subject categories, primary first when a source knows it.
    pub categories: Vec<String>,
    /// The primary category, when a source says which one it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_category: Option<String>,
    /// How structured the author list is: 0 unknown, 1 split from one string, 2 a list of
    /// names, 3 a list with affiliations (the arXiv API). Merging keeps the most structured.
    #[serde(default)]
    pub author_rank: u8,
    /// The authors' comment (`12 pages, 4 figures`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Where it was published (`Int. J. Mod. Phys. B, 26 (2012)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_ref: Option<String>,
    /// arXiv's announce type in the latest listing: `new`, `cross`, `replace`, `replace-cross`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub announce_type: Option<String>,
    /// Upvotes on Hugging Face daily papers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upvotes: Option<u32>,
    /// Comments on the Hugging Face paper page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discussion_comments: Option<u32>,
    /// Stars of the code repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_stars: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// When the paper (its first version) was published, when a source said.
    pub published: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// When the paper last changed (a new version), when a source said.
    pub updated: Option<DateTime<Utc>>,
    /// Ids of the configured sources this paper was seen in.
    pub sources: BTreeSet<String>,
}

impl Paper {
    /// The first link of the given kind.
    pub fn link(&self, kind: LinkKind) -> Option<&Link> {
        self.links.iter().find(|l| l.kind == kind)
    }
}

/// A paper as the store keeps it: the merged paper plus what paperboy assigned to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPaper {
    /// The store key: the highest-priority identifier when the paper was first seen.
    pub key: String,
    /// The Atom/RSS/JSON entry id, assigned once and never changed.
    pub entry_id: String,
    /// When paperboy first stored the paper.
    pub first_seen: DateTime<Utc>,
    /// Ids of the topics whose query matches the paper, sorted. Kept in the store's
    /// `memberships` tree, not in the paper's record (older records that hold it are read).
    #[serde(default, skip_serializing)]
    pub topics: Vec<String>,
    /// Every identifier any source gave this paper (`arxiv:…`, `doi:…`, `url:…`, `entry:…`);
    /// each leads back to it.
    #[serde(default)]
    pub aliases: BTreeSet<String>,
    /// The merged paper.
    pub paper: Paper,
    /// Its relevance to the example-based topic it was read for (a topic feed's papers carry
    /// it; anywhere else `None`). Never stored in the paper's record.
    #[serde(skip)]
    pub relevance: Option<Relevance>,
}

/// How relevant a paper is to a topic learned from examples, in [0, 1], kept in
/// ten-thousandths so that it compares, hashes and stores exactly (2 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Relevance(u16);

impl Relevance {
    /// The steps in 1.
    const SCALE: f32 = 10_000.0;

    /// A score, clamped to [0, 1] (NaN is 0).
    pub fn new(score: f32) -> Self {
        let scaled = (score.clamp(0.0, 1.0) * Self::SCALE).round();
        Relevance(if scaled.is_nan() { 0 } else { scaled as u16 })
    }

    /// The score, in [0, 1].
    pub fn value(self) -> f32 {
        f32::from(self.0) / Self::SCALE
    }

    /// The score in ten-thousandths (0 to 10,000).
    pub fn ten_thousandths(self) -> u16 {
        self.0
    }

    /// As stored: 2 bytes, big-endian.
    pub fn to_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }

    /// From its stored bytes; `None` unless exactly 2 bytes of a score.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let raw = u16::from_be_bytes(bytes.try_into().ok()?);
        (f32::from(raw) <= Self::SCALE).then_some(Relevance(raw))
    }
}

impl std::fmt::Display for Relevance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2}", self.value())
    }
}

impl StoredPaper {
    /// The date feeds sort by and show as the entry's `updated`: the newest date any source
    /// gave, or when none did, the moment paperboy first saw the paper.
    pub fn updated(&self) -> DateTime<Utc> {
        writable(
            self.paper
                .updated
                .or(self.paper.published)
                .unwrap_or(self.first_seen),
        )
    }

    /// When the paper last changed for a feed: its date, or when paperboy first saw it if that
    /// is later (a paper dated days ago that arrived just now).
    pub fn arrived_or_updated(&self) -> DateTime<Utc> {
        writable(self.updated().max(self.first_seen))
    }

    /// The entry's `published`: the oldest date known.
    pub fn published(&self) -> DateTime<Utc> {
        writable(
            self.paper
                .published
                .or(self.paper.updated)
                .unwrap_or(self.first_seen),
        )
    }
}

/// `date` brought into years 1 to 9999, the dates every feed format can write (RFC 3339 and
/// RFC 2822 have four-digit years). Sources' dates are checked on the way in; this guards
/// against anything already stored.
fn writable(date: DateTime<Utc>) -> DateTime<Utc> {
    let first = DateTime::<Utc>::from_timestamp(-62_135_596_800, 0); // 0001-01-01T00:00:00Z
    let last = DateTime::<Utc>::from_timestamp(253_402_300_799, 0); // 9999-12-31T23:59:59Z
    match (first, last) {
        (Some(first), Some(last)) => date.clamp(first, last),
        _ => date,
    }
}

/// How the last poll of a source went, as stored in its state and shown on `/` and by
/// `ingest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum PollResult {
    /// The source answered with a feed that was stored.
    Stored {
        /// Papers stored for the first time.
        new: usize,
        /// Papers stored before that changed.
        updated: usize,
        /// Papers stored before that did not change.
        unchanged: usize,
    },
    /// The source answered `304 Not Modified`.
    NotModified,
    /// The poll failed: the [`crate::polling::PollError`], as text.
    Failed {
        /// Why, in words.
        error: String,
    },
}

impl std::fmt::Display for PollResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PollResult::Stored {
                new,
                updated,
                unchanged,
            } => write!(f, "{new} new, {updated} updated, {unchanged} unchanged"),
            PollResult::NotModified => f.write_str("not modified"),
            PollResult::Failed { error } => write!(f, "error: {error}"),
        }
    }
}

/// What paperboy remembers about a source between fetches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// When the source was last fetched.
    pub last_fetch: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// How the last poll went.
    pub last_result: Option<PollResult>,
    /// The `ETag` exactly as the server last sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The `Last-Modified` exactly as the server last sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The URL the validators belong to, so a changed URL in the config starts afresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default)]
    /// How many polls in a row have failed (0 after a success).
    pub failures_in_row: u32,
    /// When the source is to be polled next (`None`: not planned, or gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_poll: Option<DateTime<Utc>>,
    /// Where the source now lives, after a permanent redirect (301, 308).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_to: Option<String>,
    /// The source answered `410 Gone`: it is not polled until its URL changes.
    #[serde(default)]
    pub gone: bool,
    /// A paged source's harvest: where the one under way goes on, and what the last complete
    /// one leaves the next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harvest: Option<Harvest>,
}

/// A paged source's harvest, written with each page's papers in one commit, so a harvest cut
/// short (even by `kill -9`) goes on after the last page stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Harvest {
    /// The URL of the next page of the harvest under way (an OAI-PMH resumption token's);
    /// `None` when none is under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Records read by the harvest under way, or by the last one.
    #[serde(default)]
    pub records: u64,
    /// How many records the whole list holds, when the server says (`completeListSize`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// The server's date on the first page of the harvest under way (`responseDate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<String>,
    /// The server's date on the first page of the last complete harvest: the next one asks
    /// only for records changed since (`from=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// When the last page was asked for, so the gap to the host holds across restarts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_page: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {

    #[test]
    fn relevance_keeps_four_digits_and_round_trips_its_bytes() {
        let r = Relevance::new(0.42137);
        assert_eq!(r.value(), 0.4214);
        assert_eq!(r.to_string(), "0.42");
        assert_eq!(Relevance::from_bytes(&r.to_bytes()), Some(r));
        assert_eq!(Relevance::new(7.0).value(), 1.0);
        assert_eq!(Relevance::new(-1.0).value(), 0.0);
        assert_eq!(Relevance::new(f32::NAN).value(), 0.0);
        assert_eq!(
            Relevance::from_bytes(b""),
            None,
            "an entry of a query topic"
        );
        assert_eq!(Relevance::from_bytes(&u16::MAX.to_be_bytes()), None);
    }
    use chrono::Datelike;

    use super::*;

    #[test]
    fn stored_dates_are_kept_writable() {
        // Found by the render fuzzer: RSS's date writer panics past year 9999.
        let far = DateTime::from_timestamp(400_000_000_000, 0).unwrap();
        let mut stored = StoredPaper {
            key: "k".into(),
            entry_id: "e".into(),
            first_seen: far,
            topics: Vec::new(),
            aliases: Default::default(),
            paper: Paper::default(),
            relevance: None,
        };
        assert_eq!(stored.updated().year(), 9999);
        assert_eq!(
            stored.updated().to_rfc2822(),
            "Fri, 31 Dec 9999 23:59:59 +0000"
        );
        stored.paper.published = DateTime::from_timestamp(-70_000_000_000, 0);
        assert_eq!(stored.published().year(), 1);
        assert_eq!(
            stored.updated().year(),
            1,
            "published stands in for updated"
        );
    }
}

/// A WebSub subscriber of one feed: where to push the feed when it changes, until when.
/// (`Debug` leaves the secret out.)
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The feed subscribed to (`hub.topic`): one of this server's feed URLs.
    pub topic: String,
    /// Where the feed is pushed (`hub.callback`).
    pub callback: String,
    /// The key of the `X-Hub-Signature` HMAC of each push (`hub.secret`), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// When the lease ends and the subscription with it.
    pub expires: DateTime<Utc>,
    /// The ETag of the feed as the subscriber last has it (pushed, or current when it
    /// subscribed): a feed whose ETag differs is pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<String>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("topic", &self.topic)
            .field("callback", &self.callback)
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .field("expires", &self.expires)
            .field("delivered", &self.delivered)
            .finish()
    }
}
