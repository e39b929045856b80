//! Paper identity: finding arXiv ids and DOIs in what a source says, normalizing links, and
//! choosing the identifiers under which one paper is known. Pure functions only.
//!
//! Priority: the arXiv id (without version) first, then the DOI, then the normalized link, then
//! the source's own entry id. A paper is stored under its highest-priority identifier at the
//! time it is first seen and is findable under every identifier any source gave it.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use super::digest::short_hash;
use chrono::{DateTime, Utc};
use regex::Regex;
use url::Url;

use crate::model::{Identifiers, Link, LinkKind, Paper, StoredPaper};

/// New-style (`2604.21952v2`: year, month 01-12, sequence) and old-style
/// (`hep-th/9901001v1`, `math.GT/0309136`: one of arXiv's archives) arXiv ids, with an
/// optional `arXiv:` prefix and version.
static ARXIV_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?i:arXiv:)?(",
        r"\d{2}(?:0[1-9]|1[0-2])\.\d{4,5}",
        r"|(?:acc-phys|adap-org|alg-geom|ao-sci|astro-ph|atom-ph|bayes-an|chao-dyn|chem-ph|cmp-lg",
        r"|comp-gas|cond-mat|cs|dg-ga|funct-an|gr-qc|hep-ex|hep-lat|hep-ph|hep-th|math|math-ph",
        r"|mtrl-th|nlin|nucl-ex|nucl-th|patt-sol|physics|plasm-ph|q-alg|q-bio|quant-ph|solv-int",
        r"|supr-con)(?:\.[A-Za-z]{2})?/\d{2}(?:0[1-9]|1[0-2])\d{3}",
        r")(?:v(\d+))?$"
    ))
    .expect("static regex")
});

/// A DOI: `10.<registrant>/<suffix>`.
static DOI: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^10\.\d{4,9}/\S+$").expect("static regex"));

/// An arXiv id and the version it carried, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArxivRef {
    /// The id without its version (`2604.21952`, `hep-th/9901001`).
    pub id: String,
    /// The version, when the reference gave one.
    pub version: Option<u32>,
}

/// The identifiers a person's name for a paper may be: an arXiv id (bare, `arXiv:`, an arXiv
/// or Hugging Face link), a DOI (bare, `doi:`, a resolver link), a link, and the name itself
/// as an entry id.
pub fn named(name: &str) -> Identifiers {
    let name = name.trim();
    Identifiers {
        arxiv: find_arxiv_id(name).map(|a| a.id),
        doi: find_doi(name),
        link: normalize_link(name),
        entry: name.to_string(),
    }
}

/// Parses a bare arXiv id such as `2604.21952v1`, `arXiv:2604.21952` or `hep-th/9901001`.
pub fn parse_arxiv_id(text: &str) -> Option<ArxivRef> {
    let text = text.trim();
    let caps = ARXIV_ID.captures(text)?;
    Some(ArxivRef {
        id: caps[1].to_string(),
        version: caps.get(2).and_then(|v| v.as_str().parse().ok()),
    })
}

/// Finds an arXiv id in a URL, a guid or an identifier: `arxiv.org/abs/<id>`,
/// `arxiv.org/pdf/<id>[.pdf]`, `huggingface.co/papers/<id>`, `oai:arXiv.org:<id>`, arXiv's DOI
/// `10.48550/arXiv.<id>`, or a bare new-style id as the last segment of a URL path.
pub fn find_arxiv_id(text: &str) -> Option<ArxivRef> {
    let text = text.trim();
    match arxiv_abs_path(text) {
        Some(rest) => parse_arxiv_id(rest),
        None => find_arxiv_id_in_any(text),
    }
}

/// What follows `/abs/` in an abstract page's URL as arXiv writes its entries' ids
/// (`http://arxiv.org/abs/2612.00001v2`), read without parsing the URL (this runs twice on
/// every arXiv entry ingested), in a form that parsing it would leave as it is: letters,
/// digits, `.`, `-` and `/`, no `.` or `..` segment, and the trailing `/` and `.pdf` that
/// [`find_arxiv_id_in_any`] trims, trimmed. `None` for any other text.
fn arxiv_abs_path(text: &str) -> Option<&str> {
    let rest = text
        .strip_prefix("http://arxiv.org/abs/")
        .or_else(|| text.strip_prefix("https://arxiv.org/abs/"))?;
    let plain = rest
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'/')
        && !rest
            .split('/')
            .any(|segment| segment == "." || segment == "..");
    plain.then(|| rest.trim_end_matches('/').trim_end_matches(".pdf"))
}

/// [`find_arxiv_id`] of any text, trimmed.
fn find_arxiv_id_in_any(text: &str) -> Option<ArxivRef> {
    if let Some(rest) = strip_prefix_ci(text, "oai:arxiv.org:") {
        return parse_arxiv_id(rest);
    }
    if let Some(doi) = find_doi(text) {
        return arxiv_from_doi(&doi);
    }
    if let Some(found) = parse_arxiv_id(text) {
        return Some(found);
    }
    let url = Url::parse(text).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    let path = url.path().trim_end_matches('/');
    let host = host.strip_prefix("www.").unwrap_or(&host);
    if host == "arxiv.org" || host == "export.arxiv.org" || host.ends_with(".arxiv.org") {
        for prefix in ["/abs/", "/pdf/", "/html/", "/format/"] {
            if let Some(rest) = path.strip_prefix(prefix) {
                return parse_arxiv_id(rest.trim_end_matches(".pdf"));
            }
        }
        return None;
    }
    if host == "huggingface.co" {
        return path.strip_prefix("/papers/").and_then(parse_arxiv_id);
    }
    // A bare new-style id as the last path segment (e.g. a third-party paper feed).
    let last = path.rsplit('/').next()?;
    parse_arxiv_id(last).filter(|r| !r.id.contains('/'))
}

/// The arXiv id behind arXiv's own DOI `10.48550/arXiv.<id>`.
pub fn arxiv_from_doi(doi: &str) -> Option<ArxivRef> {
    let rest = strip_prefix_ci(doi, "10.48550/arxiv.")?;
    parse_arxiv_id(rest)
}

/// Finds a DOI in a resolver URL (`https://doi.org/…`, `dx.doi.org`), a `doi:` prefix or a bare
/// DOI, and returns it lower-cased.
pub fn find_doi(text: &str) -> Option<String> {
    let text = text.trim();
    let candidate = if let Some(rest) = strip_prefix_ci(text, "doi:") {
        rest.trim()
    } else if let Ok(url) = Url::parse(text) {
        let host = url.host_str()?.to_ascii_lowercase();
        if host != "doi.org" && host != "dx.doi.org" && host != "www.doi.org" {
            return None;
        }
        let path = url.path().trim_start_matches('/');
        return percent_decode(path)
            .filter(|d| DOI.is_match(d))
            .map(|d| d.to_lowercase());
    } else {
        text
    };
    DOI.is_match(candidate).then(|| candidate.to_lowercase())
}

/// bioRxiv and medRxiv papers: the DOI (`10.1101/<id>`) and version behind a link such as
/// `http://biorxiv.org/cgi/content/short/743294v1?rss=1` or
/// `https://www.medrxiv.org/content/10.1101/2023.12.16.571984v2`.
pub fn biorxiv_doi(link: &str) -> Option<(String, Option<u32>)> {
    static ID: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(?:/cgi/content/(?:short|abstract|full)/|/content/(?:10\.1101/)?)((?:\d{4}\.\d{2}\.\d{2}\.)?\d{6,})(?:v(\d+))?")
            .expect("static regex")
    });
    let url = Url::parse(link.trim()).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    if host != "biorxiv.org" && host != "medrxiv.org" {
        return None;
    }
    let caps = ID.captures(url.path())?;
    Some((
        format!("10.1101/{}", &caps[1]),
        caps.get(2).and_then(|v| v.as_str().parse().ok()),
    ))
}

/// Normalizes a link so the same page reached two ways compares equal: `https`, lower-case
/// host without `www.`, no default port, no fragment, no tracking parameters (`utm_*`,
/// `rss`), no trailing slash. Returns `None` for text that is not an absolute http(s) URL.
pub fn normalize_link(link: &str) -> Option<String> {
    let mut url = Url::parse(link.trim()).ok()?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return None;
    }
    url.set_scheme("https").ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
    url.set_host(Some(&host)).ok()?;
    url.set_fragment(None);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !k.starts_with("utm_") && k != "rss")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    let mut out = url.to_string();
    if out.ends_with('/') && url.path() != "/" {
        out.pop();
    }
    Some(out)
}

/// Every identifier a paper is known by, highest priority first, as store keys
/// (`arxiv:…`, `doi:…`, `url:…`, `entry:…`).
pub fn identifiers(ids: &Identifiers) -> Vec<String> {
    let mut out = Vec::with_capacity(4);
    if let Some(arxiv) = &ids.arxiv {
        out.push(arxiv_identifier(arxiv));
    }
    if let Some(doi) = &ids.doi {
        out.push(format!("doi:{doi}"));
    }
    if let Some(link) = &ids.link {
        out.push(format!("url:{link}"));
    }
    out.push(format!("entry:{}", ids.entry));
    out
}

/// The identifier a paper's arXiv id is known by (`arxiv:<id>`).
pub fn arxiv_identifier(id: &str) -> String {
    format!("arxiv:{id}")
}

/// The arXiv id an `entry:` identifier ends in (`entry:<source>:<arXiv id>`, without a
/// version), as the sources that name their entries by the arXiv id they carry (arXiv's API
/// and OAI-PMH, Hugging Face) make them. Such an entry leads where that arXiv id leads: it
/// comes with that id (a feed's entry id is one of the places its arXiv id is read from).
pub fn entry_arxiv(id: &str) -> Option<&str> {
    let (_, named) = id.strip_prefix("entry:")?.rsplit_once(':')?;
    parse_arxiv_id(named)
        .is_some_and(|a| a.version.is_none() && a.id == named)
        .then_some(named)
}

/// Whether identifier `id` of a paper stored under `key`, known by `aliases`, needs no alias
/// record: the paper's own key (looked up as a key), and an entry named by one of the paper's
/// arXiv ids ([`entry_arxiv`]: looked up as that id).
pub fn needs_no_alias(id: &str, key: &str, aliases: &BTreeSet<String>) -> bool {
    id == key || entry_arxiv(id).is_some_and(|arxiv| aliases.contains(&arxiv_identifier(arxiv)))
}

/// arXiv's abstract page for a paper (always its latest version).
pub fn arxiv_abs(id: &str) -> String {
    format!("https://arxiv.org/abs/{id}")
}

/// arXiv's PDF for a paper, unversioned so it always serves the latest version and every
/// source names the same link.
pub fn arxiv_pdf(id: &str) -> String {
    format!("https://arxiv.org/pdf/{id}")
}

/// The abstract page and PDF links of an arXiv paper.
pub fn arxiv_links(id: &str) -> [Link; 2] {
    [
        Link {
            kind: LinkKind::Page,
            href: arxiv_abs(id),
            media_type: Some("text/html".into()),
        },
        Link {
            kind: LinkKind::Pdf,
            href: arxiv_pdf(id),
            media_type: Some("application/pdf".into()),
        },
    ]
}

/// The resolver URL of a DOI, percent-encoded where a DOI holds characters a URL cannot
/// (old SICI DOIs carry `<`, `>`, `;`).
pub fn doi_url(doi: &str) -> String {
    let raw = format!("https://doi.org/{doi}");
    Url::parse(&raw).map(String::from).unwrap_or(raw)
}

/// The DOI resolver link of a paper.
pub fn doi_link(doi: &str) -> Link {
    Link {
        kind: LinkKind::Doi,
        href: doi_url(doi),
        media_type: None,
    }
}

/// The entry id a paper's feed entries carry, chosen once when the paper is first stored. It
/// depends only on the paper's identifiers, never on `base_url` or on the time.
pub fn new_entry_id(ids: &Identifiers) -> String {
    if let Some(arxiv) = &ids.arxiv {
        arxiv_abs(arxiv)
    } else if let Some(doi) = &ids.doi {
        doi_url(doi)
    } else if let Some(link) = &ids.link {
        link.clone()
    } else {
        entry_urn(&ids.entry)
    }
}

/// A stable entry id made from text that is no usable id itself.
pub fn entry_urn(text: &str) -> String {
    format!("urn:paperboy:entry:{}", short_hash(text))
}

/// A paper as the store first records it: keyed by its highest-priority identifier, every
/// identifier an alias, its entry id chosen for good, not yet tagged.
pub fn first_seen(paper: Paper, now: DateTime<Utc>) -> StoredPaper {
    let ids = identifiers(&paper.ids);
    StoredPaper {
        // `identifiers` always ends with the entry identifier, so there is a first one.
        key: ids.first().cloned().unwrap_or_default(),
        entry_id: new_entry_id(&paper.ids),
        first_seen: now,
        topics: Vec::new(),
        aliases: ids.into_iter().collect(),
        paper,
        relevance: None,
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn percent_decode(text: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_and_an_entry_named_by_the_papers_arxiv_id_need_no_alias() {
        let aliases: BTreeSet<String> = [
            "arxiv:2604.21952",
            "arxiv:hep-th/9901001",
            "doi:10.1/x",
            "entry:api:2604.21952",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let key = "doi:10.1/x";
        for id in [
            "doi:10.1/x",
            "entry:api:2604.21952",
            "entry:hf:2604.21952",
            "entry:oai:hep-th/9901001",
        ] {
            assert!(needs_no_alias(id, key, &aliases), "{id}");
        }
        assert_eq!(entry_arxiv("entry:api:2604.21952"), Some("2604.21952"));
        assert_eq!(entry_arxiv("entry:rss:oai:arXiv.org:2604.21952v1"), None);
        for id in [
            // Other identifiers, and entries that name a version, another paper, or only
            // contain the id.
            "arxiv:2604.21952",
            "entry:rss:oai:arXiv.org:2604.21952v1",
            "entry:rss:2604.21952v1",
            "entry:api:2604.99999",
            "entry:journal:42",
            "entry:2604.21952",
            "url:https://example.org/2604.21952",
        ] {
            assert!(!needs_no_alias(id, key, &aliases), "{id}");
        }
    }

    /// An expected id (or DOI) and version.
    type Expected = Option<(&'static str, Option<u32>)>;

    #[test]
    fn abstract_page_urls_read_without_parsing_read_as_parsed() {
        let mut texts: Vec<String> = [
            "",
            "x",
            "/",
            "//",
            ".pdf",
            "2612.00001",
            "2612.00001v2",
            "2612.00001v2/",
            "2612.00001v2//",
            "2612.00001.pdf",
            "2612.00001v3.pdf/",
            "hep-th/9901001",
            "hep-th/9901001v1",
            "math.GT/0309136",
            "./2612.00001",
            "../2612.00001",
            "2612.00001/..",
            "2612.00001/.",
            "x/../2612.00001",
            "2612.00001?x=1",
            "2612.00001#top",
            "2612%2E00001",
            "2612.00001 ",
            "arXiv:2612.00001",
            "10.48550/arXiv.2612.00001",
        ]
        .iter()
        .flat_map(|rest| {
            ["http://arxiv.org/abs/", "https://arxiv.org/abs/"].map(|p| format!("{p}{rest}"))
        })
        .collect();
        // Every entry id of the real arXiv API captures, too.
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/sources");
        for (kind, file) in crate::selfcheck::CAPTURES {
            if *kind != crate::sources::SourceKind::ArxivApi {
                continue;
            }
            let text = std::fs::read_to_string(format!("{fixtures}/{file}")).unwrap_or_default();
            texts.extend(
                text.split("<id>")
                    .skip(1)
                    .filter_map(|rest| rest.split("</id>").next())
                    .map(str::to_string),
            );
        }
        assert!(
            texts.iter().filter(|t| arxiv_abs_path(t).is_some()).count() > 60,
            "the captures' entry ids were read"
        );
        for text in &texts {
            assert_eq!(
                find_arxiv_id(text),
                find_arxiv_id_in_any(text),
                "for {text:?}"
            );
        }
    }

    #[test]
    fn arxiv_ids_are_found_everywhere_sources_put_them() {
        let cases: &[(&str, Expected)] = &[
            ("oai:arXiv.org:2604.21952v1", Some(("2604.21952", Some(1)))),
            (
                "http://arxiv.org/abs/2606.13677v1",
                Some(("2606.13677", Some(1))),
            ),
            (
                "https://arxiv.org/abs/2604.21952",
                Some(("2604.21952", None)),
            ),
            (
                "https://arxiv.org/pdf/2604.21952v3.pdf",
                Some(("2604.21952", Some(3))),
            ),
            (
                "https://arxiv.org/pdf/2604.21952v3",
                Some(("2604.21952", Some(3))),
            ),
            (
                "http://arxiv.org/abs/hep-th/9901001v2",
                Some(("hep-th/9901001", Some(2))),
            ),
            (
                "https://huggingface.co/papers/2606.01234",
                Some(("2606.01234", None)),
            ),
            (
                "https://doi.org/10.48550/arXiv.2604.21952",
                Some(("2604.21952", None)),
            ),
            ("10.48550/ARXIV.2604.21952", Some(("2604.21952", None))),
            ("arXiv:1706.03762", Some(("1706.03762", None))),
            (
                "https://papers.example.org/p/2401.00001v2",
                Some(("2401.00001", Some(2))),
            ),
            ("https://arxiv.org/list/cs.LG/new", None),
            ("arxiv:2401.00001", Some(("2401.00001", None))),
            ("article/1234567", None),
            ("news/1234567", None),
            ("https://example.org/releases/2024.12345", None),
            ("https://example.org/p/2613.00001", None),
            ("math.GT/0309136", Some(("math.GT/0309136", None))),
            ("https://example.org/article/12345", None),
            ("http://biorxiv.org/cgi/content/short/743294v1?rss=1", None),
        ];
        for (text, expected) in cases {
            let found = find_arxiv_id(text).map(|r| (r.id, r.version));
            let expected = expected.map(|(id, v)| (id.to_string(), v));
            assert_eq!(found, expected, "for {text:?}");
        }
    }

    #[test]
    fn dois_are_normalized() {
        let cases: &[(&str, Option<&str>)] = &[
            ("doi:10.1101/746628", Some("10.1101/746628")),
            (
                "https://doi.org/10.1101/2023.12.16.571984",
                Some("10.1101/2023.12.16.571984"),
            ),
            (
                "http://dx.doi.org/10.1000/ABC%2Fdef",
                Some("10.1000/abc/def"),
            ),
            (
                "10.1038/S41586-020-2649-2",
                Some("10.1038/s41586-020-2649-2"),
            ),
            ("https://example.org/10.1000/x", None),
            ("not a doi", None),
        ];
        for (text, expected) in cases {
            assert_eq!(find_doi(text).as_deref(), *expected, "for {text:?}");
        }
    }

    #[test]
    fn biorxiv_links_carry_dois() {
        let cases: &[(&str, Expected)] = &[
            (
                "http://biorxiv.org/cgi/content/short/743294v1?rss=1",
                Some(("10.1101/743294", Some(1))),
            ),
            (
                "http://biorxiv.org/cgi/content/short/2023.12.16.571984v1?rss=1",
                Some(("10.1101/2023.12.16.571984", Some(1))),
            ),
            (
                "https://www.medrxiv.org/content/10.1101/2024.01.02.123456v3",
                Some(("10.1101/2024.01.02.123456", Some(3))),
            ),
            (
                "https://www.biorxiv.org/content/10.1101/2024.01.02.123456",
                Some(("10.1101/2024.01.02.123456", None)),
            ),
            ("https://biorxiv.org/about", None),
            ("https://example.org/cgi/content/short/743294v1", None),
        ];
        for (link, expected) in cases {
            let expected = expected.map(|(d, v)| (d.to_string(), v));
            assert_eq!(biorxiv_doi(link), expected, "for {link:?}");
        }
    }

    #[test]
    fn links_normalize_to_one_form() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "http://biorxiv.org/cgi/content/short/743294v1?rss=1",
                Some("https://biorxiv.org/cgi/content/short/743294v1"),
            ),
            (
                "HTTPS://WWW.Example.org:443/a/?utm_source=x#frag",
                Some("https://example.org/a"),
            ),
            (
                "https://example.org/?id=3",
                Some("https://example.org/?id=3"),
            ),
            ("mailto:someone@example.org", None),
            ("relative/path", None),
        ];
        for (text, expected) in cases {
            assert_eq!(normalize_link(text).as_deref(), *expected, "for {text:?}");
        }
    }

    #[test]
    fn identifiers_and_entry_ids_follow_priority() {
        let ids = Identifiers {
            arxiv: Some("2604.21952".into()),
            doi: Some("10.1000/x".into()),
            link: Some("https://arxiv.org/abs/2604.21952".into()),
            entry: "src:oai:arXiv.org:2604.21952v1".into(),
        };
        assert_eq!(
            identifiers(&ids),
            vec![
                "arxiv:2604.21952",
                "doi:10.1000/x",
                "url:https://arxiv.org/abs/2604.21952",
                "entry:src:oai:arXiv.org:2604.21952v1"
            ]
        );
        assert_eq!(new_entry_id(&ids), "https://arxiv.org/abs/2604.21952");
        let bare = Identifiers {
            entry: "journal:42".into(),
            ..Default::default()
        };
        assert_eq!(new_entry_id(&bare), new_entry_id(&bare.clone()));
        assert!(new_entry_id(&bare).starts_with("urn:paperboy:entry:"));
        let sici = Identifiers {
            doi: Some("10.1002/(sici)1097-4571(199806)49:8<693::aid-asi4>3.0.co;2-0".into()),
            entry: "j:1".into(),
            ..Default::default()
        };
        assert_eq!(
            new_entry_id(&sici),
            "https://doi.org/10.1002/(sici)1097-4571(199806)49:8%3C693::aid-asi4%3E3.0.co;2-0"
        );
    }
}
