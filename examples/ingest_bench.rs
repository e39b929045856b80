//! The tools `benches/ingest.sh` runs: `generate` writes arXiv API Atom feeds of papers made
//! from the real abstracts in `../shared/fixtures/sources` (each with its own arXiv id), and
//! `parse` is the reference: feed-rs alone parsing the same files on one thread.
//!
//!   cargo run --release --example ingest_bench -- generate DIR PAPERS [PER_FILE] [VERSION]
//!   cargo run --release --example ingest_bench -- parse FILE...
//!   cargo run --release --example ingest_bench -- read FILE...
//!   cargo run --release --example ingest_bench -- topics COUNT [GROUPS]
//!
//!   cargo run --release --example ingest_bench -- memberships TOPICS PAPERS
//!
//! `read` is paperboy's own reader of the same files (the `arxiv-api` kind, as `ingest` reads
//! a page, without the store), on one thread: the share of an ingest that is parsing.
//! `memberships` prints how many topics the generated papers are in, on average, and how long
//! tagging them took. `topics` prints `COUNT` `[[topics]]` tables generated from the abstracts' vocabulary (as
//! the tagging benchmark makes them), spread over `GROUPS` groups when given.

#[path = "../benches/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use paperboy::model::{LinkKind, Paper};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("generate") => generate(&args[1..]),
        Some("parse") => parse(&args[1..]),
        Some("read") => read(&args[1..]),
        Some("topics") => topics(&args[1..]),
        Some("memberships") => memberships(&args[1..]),
        _ => Err(
            "usage: ingest_bench generate DIR PAPERS [PER_FILE] [VERSION] | parse FILE... \
                  | topics COUNT [GROUPS] | memberships TOPICS PAPERS"
                .into(),
        ),
    };
    if let Err(error) = result {
        eprintln!("ingest_bench: {error}");
        std::process::exit(2);
    }
}

/// Prints `COUNT` generated topics as TOML, in `GROUPS` groups (`group-0`, …) when given.
fn topics(args: &[String]) -> Result<(), String> {
    let number = |text: &String| {
        text.parse::<usize>()
            .map_err(|e| format!("{text:?} is not a count: {e}"))
    };
    let count = number(args.first().ok_or("topics COUNT [GROUPS]")?)?;
    let groups = args.get(1).map(number).transpose()?;
    let toml = support::topics_toml(count, groups);
    std::io::stdout()
        .write_all(toml.as_bytes())
        .map_err(|e| e.to_string())
}

/// Tags `PAPERS` generated papers with `TOPICS` generated topics; prints the memberships per
/// paper and the tagging rate.
fn memberships(args: &[String]) -> Result<(), String> {
    let [topics, papers] = args else {
        return Err("memberships TOPICS PAPERS".into());
    };
    let count = |text: &String| {
        text.parse::<usize>()
            .map_err(|e| format!("{text:?} is not a count: {e}"))
    };
    let tagger = paperboy::pipeline::tag::Tagger::new(support::topics(count(topics)?));
    let papers = support::papers(count(papers)?);
    let started = Instant::now();
    let total: usize = papers.iter().map(|p| tagger.tag(p).len()).sum();
    let took = started.elapsed();
    println!(
        "{:.1} topics per paper, tagged at {:.0} papers/s",
        total as f64 / papers.len().max(1) as f64,
        papers.len() as f64 / took.as_secs_f64()
    );
    Ok(())
}

/// Writes `PAPERS` papers into feeds of `PER_FILE` entries (default 5,000) under `DIR`, every
/// paper at arXiv version `VERSION` (default 1; a later version re-announces the same papers
/// with a new version and date, as arXiv does for a replacement).
fn generate(args: &[String]) -> Result<(), String> {
    let [dir, count, rest @ ..] = args else {
        return Err("generate DIR PAPERS [PER_FILE] [VERSION]".into());
    };
    let number = |text: &str| {
        text.parse::<usize>()
            .map_err(|e| format!("{text:?} is not a count: {e}"))
    };
    let count = number(count)?;
    let per_file = rest.first().map_or(Ok(5_000), |t| number(t))?.max(1);
    let version = rest.get(1).map_or(Ok(1), |t| number(t))?.max(1);
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let real = support::real_papers();
    let mut written = 0;
    for (file, first) in (0..count).step_by(per_file).enumerate() {
        let last = (first + per_file).min(count);
        let path = dir.join(format!("feed-{file:05}.atom.xml"));
        let mut xml = String::with_capacity((last - first) * 3_000);
        xml.push_str(concat!(
            "<?xml version='1.0' encoding='UTF-8'?>\n",
            "<feed xmlns:opensearch=\"http://a9.com/-/spec/opensearch/1.1/\" ",
            "xmlns:arxiv=\"http://arxiv.org/schemas/atom\" xmlns=\"http://www.w3.org/2005/Atom\">\n",
            "  <id>https://arxiv.org/api/bench</id>\n  <title>arXiv Query: bench</title>\n",
            "  <updated>2026-12-01T00:00:00Z</updated>\n"
        ));
        for i in first..last {
            entry(&mut xml, &real[i % real.len()], i, version);
        }
        xml.push_str("</feed>\n");
        write_file(&path, xml.as_bytes())?;
        written += last - first;
    }
    println!(
        "{written} papers in {} under {}",
        count.div_ceil(per_file),
        dir.display()
    );
    Ok(())
}

/// One arXiv API entry for paper `i`, with `real`'s text.
fn entry(xml: &mut String, real: &Paper, i: usize, version: usize) {
    let id = support::arxiv_id(i);
    let esc = |text: &str| html_escape::encode_text(text).into_owned();
    // 2026-01-01T00:00:00Z, then 7 s apart.
    let published =
        chrono::DateTime::from_timestamp(1_767_225_600 + i as i64 * 7, 0).expect("a date in range");
    let updated = published + chrono::Duration::days(version as i64 - 1);
    let stamp = |d: chrono::DateTime<chrono::Utc>| d.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let _ = write!(
        xml,
        "  <entry>\n    <id>http://arxiv.org/abs/{id}v{version}</id>\n    <title>{}</title>\n    \
         <updated>{}</updated>\n    <link href=\"https://arxiv.org/abs/{id}v{version}\" \
         rel=\"alternate\" type=\"text/html\"/>\n    <link href=\"https://arxiv.org/pdf/{id}v{version}\" \
         rel=\"related\" type=\"application/pdf\" title=\"pdf\"/>\n    <summary>{}</summary>\n",
        esc(&real.title),
        stamp(updated),
        esc(&real.abstract_text),
    );
    for category in &real.categories {
        let _ = writeln!(
            xml,
            "    <category term=\"{}\" scheme=\"http://arxiv.org/schemas/atom\"/>",
            html_escape::encode_double_quoted_attribute(category)
        );
    }
    let _ = writeln!(xml, "    <published>{}</published>", stamp(published));
    if let Some(comment) = &real.comment {
        let _ = writeln!(xml, "    <arxiv:comment>{}</arxiv:comment>", esc(comment));
    }
    if let Some(primary) = real.primary_category.as_ref().or(real.categories.first()) {
        let _ = writeln!(
            xml,
            "    <arxiv:primary_category term=\"{}\"/>",
            html_escape::encode_double_quoted_attribute(primary)
        );
    }
    for author in &real.authors {
        let _ = writeln!(
            xml,
            "    <author>\n      <name>{}</name>\n    </author>",
            esc(&author.name)
        );
    }
    if let Some(doi) = real.links.iter().find(|l| l.kind == LinkKind::Doi) {
        let _ = writeln!(
            xml,
            "    <link href=\"{}\" rel=\"related\" title=\"doi\"/>",
            html_escape::encode_double_quoted_attribute(&doi.href)
        );
    }
    xml.push_str("  </entry>\n");
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses each file with feed-rs on this one thread, timing the parse only (each file is read
/// into memory first), and prints `entries seconds rate`.
fn parse(files: &[String]) -> Result<(), String> {
    time_each(files, |bytes| {
        feed_rs::parser::parse(bytes)
            .map(|feed| feed.entries.len())
            .map_err(|e| e.to_string())
    })
}

/// `paperboy`'s reading of arXiv API pages alone, one thread, printed as [`parse`] prints.
fn read(files: &[String]) -> Result<(), String> {
    let ctx = paperboy::sources::SourceContext {
        source_id: "bench",
        url: "https://export.arxiv.org/api/query",
    };
    time_each(files, |bytes| {
        paperboy::sources::arxiv_api::parse(bytes, &ctx)
            .map(|papers| papers.len())
            .map_err(|e| e.to_string())
    })
}

/// Reads each file into memory, then times `count` (how many entries it reads in them) on
/// this one thread, and prints `entries bytes seconds rate`.
fn time_each(
    files: &[String],
    mut count: impl FnMut(&[u8]) -> Result<usize, String>,
) -> Result<(), String> {
    let mut entries = 0usize;
    let mut bytes_total = 0usize;
    let mut spent = Duration::ZERO;
    for file in files {
        let bytes = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
        bytes_total += bytes.len();
        let started = Instant::now();
        entries += count(&bytes).map_err(|e| format!("{file}: {e}"))?;
        spent += started.elapsed();
    }
    let seconds = spent.as_secs_f64();
    println!(
        "{entries} entries {bytes_total} bytes {seconds:.3} s {:.0} entries/s",
        entries as f64 / seconds.max(1e-9)
    );
    Ok(())
}
