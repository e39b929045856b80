//! A full OAI-PMH harvest through the real binary, against a local OAI-PMH server that pages
//! the 1,000 real records of `../shared/fixtures/sources/arxiv-oai-pmh-arxivraw-1000.xml` a
//! hundred at a time, with resumption tokens and `completeListSize`: a complete harvest and an
//! incremental one with `from=`; a harvest killed with SIGKILL mid-way that goes on from the
//! stored token; a `503` with `Retry-After` in the middle that is waited out.

mod common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use common::run;

/// Records per page (arXiv's own pages hold 1,000).
const PAGE: usize = 100;
/// The server's `responseDate`, from which an incremental harvest asks.
const RESPONSE_DATE: &str = "2014-01-15T12:00:00Z";

/// What the OAI-PMH server does and has seen.
#[derive(Default)]
struct Oai {
    /// Every record, with its datestamp, in list order.
    records: Vec<(String, String)>,
    /// Records per page.
    page: usize,
    /// The query strings asked, in order.
    asked: Mutex<Vec<String>>,
    /// Offsets whose first request gets `503 Retry-After: 1`.
    busy_once: Mutex<HashSet<usize>>,
    /// Offsets whose first request never gets an answer (the test kills the harvester).
    hang_once: Mutex<HashSet<usize>>,
}

impl Oai {
    fn start(busy_once: &[usize], hang_once: &[usize]) -> (Arc<Oai>, SocketAddr) {
        Oai::start_with(1, PAGE, busy_once, hang_once)
    }

    /// A server listing the real records `copies` times (each copy under new arXiv ids),
    /// `page` records a page.
    fn start_with(
        copies: usize,
        page: usize,
        busy_once: &[usize],
        hang_once: &[usize],
    ) -> (Arc<Oai>, SocketAddr) {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/sources/arxiv-oai-pmh-arxivraw-1000.xml"
        ))
        .expect("the shared capture is beside the project");
        let real: Vec<(String, String)> = text
            .split("<record>")
            .skip(1)
            .map(|r| {
                let record = &r[..r.find("</record>").expect("closed record")];
                let stamp = record
                    .split("<datestamp>")
                    .nth(1)
                    .and_then(|s| s.split('<').next())
                    .unwrap_or_default();
                (format!("<record>{record}</record>"), stamp.to_string())
            })
            .collect();
        let records = (0..copies)
            .flat_map(|copy| {
                real.iter().enumerate().map(move |(i, (record, stamp))| {
                    if copy == 0 {
                        return (record.clone(), stamp.clone());
                    }
                    // A new arXiv id per copy: months from 9001 on.
                    let id = format!("{:02}{:02}.{i:05}", 90 + copy / 12, 1 + copy % 12);
                    (with_id(record, &id), stamp.clone())
                })
            })
            .collect();
        let oai = Arc::new(Oai {
            records,
            page,
            busy_once: Mutex::new(busy_once.iter().copied().collect()),
            hang_once: Mutex::new(hang_once.iter().copied().collect()),
            ..Oai::default()
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let state = oai.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new()
                    .route("/oai", axum::routing::get(list_records))
                    .with_state(state);
                axum::serve(listener, app).await.unwrap();
            });
        });
        (oai, rx.recv().expect("the server's address"))
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

async fn list_records(State(oai): State<Arc<Oai>>, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    oai.asked.lock().unwrap().push(query.clone());
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    // A token is "offset:from"; a first request names its `from` itself.
    let (offset, from) = match params.get("resumptionToken") {
        Some(token) => {
            let (offset, from) = token.split_once(':').unwrap_or((token, ""));
            (offset.parse().unwrap_or(0), from.to_string())
        }
        None => (0, params.get("from").cloned().unwrap_or_default()),
    };
    if oai.busy_once.lock().unwrap().remove(&offset) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "busy",
        )
            .into_response();
    }
    if oai.hang_once.lock().unwrap().remove(&offset) {
        std::future::pending::<()>().await;
    }
    let matching: Vec<&String> = oai
        .records
        .iter()
        .filter(|(_, stamp)| from.is_empty() || stamp.as_str() >= from.as_str())
        .map(|(record, _)| record)
        .collect();
    let head = format!(
        "<?xml version='1.0' encoding='UTF-8'?>\n<OAI-PMH xmlns='http://www.openarchives.org/OAI/2.0/'>\n\
         <responseDate>{RESPONSE_DATE}</responseDate>\n<request verb='ListRecords'>http://127.0.0.1/oai</request>\n"
    );
    let body = if matching.is_empty() {
        format!("{head}<error code='noRecordsMatch'>no records</error>\n</OAI-PMH>\n")
    } else {
        let page: String = matching
            .iter()
            .skip(offset)
            .take(oai.page)
            .map(|r| r.as_str())
            .collect();
        let total = matching.len();
        let token = if offset + oai.page < total {
            format!(
                "<resumptionToken completeListSize='{total}' cursor='{offset}'>{}:{from}</resumptionToken>",
                offset + oai.page
            )
        } else {
            format!("<resumptionToken completeListSize='{total}' cursor='{offset}'/>")
        };
        format!("{head}<ListRecords>\n{page}{token}\n</ListRecords>\n</OAI-PMH>\n")
    };
    ([(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

/// `record` as another paper: its arXiv id (in the header and the metadata) replaced by `id`,
/// and its DOI dropped (a shared DOI would make the copies one paper).
fn with_id(record: &str, id: &str) -> String {
    let between = |text: &str, open: &str, close: &str| {
        text.split(open)
            .nth(1)
            .and_then(|s| s.split(close).next())
            .map(str::to_string)
    };
    let old = between(record, "<id>", "</id>").expect("an arXivRaw record has an id");
    let mut copy = record
        .replace(&format!("<id>{old}</id>"), &format!("<id>{id}</id>"))
        .replace(
            &format!("oai:arXiv.org:{old}<"),
            &format!("oai:arXiv.org:{id}<"),
        );
    if let Some(doi) = between(&copy, "<doi>", "</doi>") {
        copy = copy.replace(&format!("<doi>{doi}</doi>"), "");
    }
    copy
}

fn write_config(dir: &Path, addr: SocketAddr) -> std::path::PathBuf {
    let config = dir.join("paperboy.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = \"store.sled\"\n\n[[sources]]\nid = \"oai\"\nkind = \"arxiv-oai\"\n\
             url = \"http://{addr}/oai?verb=ListRecords&metadataPrefix=arXivRaw\"\n\
             max_results = 3000000\n\n[[topics]]\nid = \"all\"\nquery = '*'\n"
        ),
    )
    .unwrap();
    config
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ingest(config: &Path) -> String {
    let out = run(config, &["ingest"]);
    assert!(
        out.status.success(),
        "ingest: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

fn stored(config: &Path) -> usize {
    let out = run(config, &["search", "--count", "*"]);
    assert!(out.status.success());
    stdout(&out).trim().parse().expect("a count")
}

/// How many papers the 1,000 records are (a record whose metadata cannot be read is none).
fn papers_in_list() -> usize {
    let dir = tempfile::tempdir().unwrap();
    let (_oai, addr) = Oai::start(&[], &[]);
    let config = write_config(dir.path(), addr);
    ingest(&config);
    stored(&config)
}

#[test]
fn a_complete_harvest_reads_every_page_and_the_next_asks_only_for_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (oai, addr) = Oai::start(&[], &[]);
    let config = write_config(dir.path(), addr);
    let report = ingest(&config);
    let papers = stored(&config);
    assert!(papers >= 990, "{papers} papers from 1,000 records");
    assert_eq!(
        report.trim(),
        format!("oai: {papers} new, 0 updated, 0 unchanged")
    );
    let asked = oai.asked();
    assert_eq!(asked.len(), 10, "ten pages of a hundred: {asked:?}");
    assert!(!asked[0].contains("resumptionToken") && !asked[0].contains("from="));
    assert!(asked[9].contains("resumptionToken=900"), "{asked:?}");
    let status = stdout(&run(&config, &["status"]));
    assert!(
        status.contains(&format!("harvest:     complete ({papers} records of 1000); the next asks for records changed since 2014-01-15T12:00:00Z")),
        "{status}"
    );

    // The next harvest asks from the last one's date: the day's records come again, unchanged.
    let report = ingest(&config);
    let asked = oai.asked();
    assert_eq!(asked.len(), 11, "{asked:?}");
    assert!(asked[10].contains("from=2014-01-15"), "{asked:?}");
    let again: usize = oai
        .records
        .iter()
        .filter(|(_, stamp)| stamp.as_str() >= "2014-01-15")
        .count();
    assert!(again > 0);
    assert!(
        report.trim().starts_with("oai: 0 new, 0 updated, "),
        "{report}"
    );
    assert_eq!(stored(&config), papers);
}

#[test]
fn a_harvest_killed_mid_way_goes_on_from_the_stored_token() {
    use std::os::unix::process::ExitStatusExt;

    let expected = papers_in_list();
    let dir = tempfile::tempdir().unwrap();
    let (oai, addr) = Oai::start(&[], &[500]);
    let config = write_config(dir.path(), addr);
    let mut child = common::paperboy()
        .arg("--config")
        .arg(&config)
        .arg("ingest")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("ingest runs");
    // The sixth page is asked for once the fifth is stored; it never comes back.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !oai
        .asked()
        .iter()
        .any(|q| q.contains("resumptionToken=500"))
    {
        assert!(Instant::now() < deadline, "asked: {:?}", oai.asked());
        std::thread::sleep(Duration::from_millis(20));
    }
    // While the harvest runs, `status` shows it from the copy of the sources' states that
    // `ingest` keeps beside the store it holds.
    let running = stdout(&run(&config, &["status"]));
    assert!(
        running.starts_with(&format!(
            "the store is in use by paperboy process {}; ",
            child.id()
        )) && running.contains("harvest:     in progress: 500 records of 1000 so far"),
        "{running}"
    );
    assert!(common::signal(&child, "KILL"));
    assert_eq!(child.wait().unwrap().signal(), Some(9));
    let status = stdout(&run(&config, &["status"]));
    assert!(!status.starts_with("the store is in use"), "{status}");
    assert!(
        status.contains("harvest:     in progress: ")
            && status.contains(" records of 1000 so far; the next poll goes on"),
        "{status}"
    );

    let before = oai.asked().len();
    let report = ingest(&config);
    let asked = oai.asked();
    assert!(
        asked[before].contains("resumptionToken=500"),
        "the resumed harvest starts from the stored token: {:?}",
        &asked[before..]
    );
    assert_eq!(asked.len() - before, 5, "{:?}", &asked[before..]);
    assert!(report.contains(" 0 updated, 0 unchanged"), "{report}");
    assert_eq!(stored(&config), expected, "every record, none twice");
}

#[test]
fn a_503_with_retry_after_mid_harvest_is_waited_out() {
    let expected = papers_in_list();
    let dir = tempfile::tempdir().unwrap();
    let (oai, addr) = Oai::start(&[300], &[]);
    let config = write_config(dir.path(), addr);
    let started = Instant::now();
    let report = ingest(&config);
    assert!(started.elapsed() >= Duration::from_secs(1), "waited");
    let asked = oai.asked();
    let third: Vec<&String> = asked
        .iter()
        .filter(|q| q.contains("resumptionToken=300"))
        .collect();
    assert_eq!(third.len(), 2, "asked again after the wait: {asked:?}");
    assert_eq!(
        report.trim(),
        format!("oai: {expected} new, 0 updated, 0 unchanged")
    );
    assert_eq!(stored(&config), expected);
}

/// Records what a harvest tells its progress hook.
#[derive(Default)]
struct Recorded {
    pages: Mutex<Vec<(u64, Option<u64>)>>,
    done: Mutex<Vec<String>>,
}

impl paperboy::ingest::Progress for Recorded {
    fn harvested(&self, _source: &str, records: u64, total: Option<u64>) {
        self.pages.lock().unwrap().push((records, total));
    }

    fn done(&self, source: &str) {
        self.done.lock().unwrap().push(source.to_string());
    }
}

#[test]
fn progress_is_told_of_every_page_with_the_list_size() {
    let dir = tempfile::tempdir().unwrap();
    let (_oai, addr) = Oai::start(&[], &[]);
    let config = paperboy::config::Config::from_file(&write_config(dir.path(), addr)).unwrap();
    let store = Arc::new(paperboy::store::PaperStore::open(&config.store.path).unwrap());
    let index = Arc::new(
        paperboy::index::SearchIndex::open(&paperboy::index::path_for(&config.store.path)).unwrap(),
    );
    let fetcher = paperboy::fetch::Fetcher::from_config(&config.fetch).unwrap();
    let recorded = Arc::new(Recorded::default());
    let source = config.sources[0].clone();
    let ingestor = paperboy::ingest::Ingestor::new(Arc::new(config), store, index, fetcher)
        .with_progress(recorded.clone());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(ingestor.poll(&source)).unwrap();
    let pages = recorded.pages.lock().unwrap().clone();
    assert_eq!(pages.len(), 10, "{pages:?}");
    assert!(
        pages.iter().all(|&(_, total)| total == Some(1000)),
        "{pages:?}"
    );
    assert!(pages.windows(2).all(|w| w[0].0 < w[1].0), "{pages:?}");
    assert!(pages[9].0 >= 990, "{pages:?}");
    assert_eq!(*recorded.done.lock().unwrap(), vec!["oai".to_string()]);
}

#[test]
fn a_long_harvest_stays_within_the_memory_budget() {
    // 20,000 records, 1,000 a page as arXiv pages them, under /usr/bin/time.
    let dir = tempfile::tempdir().unwrap();
    let (oai, addr) = Oai::start_with(20, 1000, &[], &[]);
    let config = write_config(dir.path(), addr);
    if !Path::new("/usr/bin/time").is_file() {
        assert!(
            !common::in_ci(),
            "/usr/bin/time is missing; .ci/run installs it"
        );
        eprintln!("SKIPPED: /usr/bin/time is not installed");
        return;
    }
    let out = common::timed_ingest(&config)
        .output()
        .expect("/usr/bin/time runs paperboy");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(oai.asked().len(), 20);
    let papers = stored(&config);
    assert!(papers >= 19_800, "{papers} papers from 20,000 records");
    let maxrss_kb = common::maxrss_kb(&stderr);
    eprintln!(
        "peak resident memory of a 20,000-record harvest: {} MiB",
        maxrss_kb / 1024
    );
    assert!(
        maxrss_kb < 512 * 1024,
        "peak resident memory {maxrss_kb} KiB is over the 512 MiB budget"
    );
}
