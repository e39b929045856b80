//! Every input the fuzzers (`fuzz/`, see its README) ever failed on, kept in
//! `fuzz/regressions/<target>/` and replayed through the target's own check: `adapters` inputs
//! through [`paperboy::selfcheck::check_source_bytes`], `render` inputs through the target's
//! paper builder and [`paperboy::selfcheck::check_rendered`]. Each must now pass, without a
//! panic.

use std::path::{Path, PathBuf};

#[path = "../fuzz/fuzz_targets/papers.rs"]
mod papers;

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| {
            p.is_file()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    // An empty folder would make the replay pass without checking anything: the kept findings
    // were lost, or the folder moved.
    assert!(
        !files.is_empty(),
        "{}: no kept inputs to replay; every finding of the {target} target belongs there",
        dir.display()
    );
    files
}

/// Runs `check` on every kept input of `target`; a panic or a problem fails the test, naming
/// every input that failed.
fn replay(target: &str, check: impl Fn(&[u8]) -> Vec<String> + std::panic::RefUnwindSafe) {
    let files = inputs(target);
    let mut failures = Vec::new();
    for file in &files {
        let data = std::fs::read(file).unwrap();
        match std::panic::catch_unwind(|| check(&data)) {
            Ok(problems) if problems.is_empty() => {}
            Ok(problems) => failures.push(format!("{}: {problems:#?}", file.display())),
            Err(_) => failures.push(format!("{}: panicked", file.display())),
        }
    }
    println!("{target}: {} kept inputs replayed", files.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn adapter_findings_stay_fixed() {
    replay("adapters", paperboy::selfcheck::check_source_bytes);
}

#[test]
fn render_findings_stay_fixed() {
    replay("render", |data| {
        paperboy::selfcheck::check_rendered(&papers::stored_papers(data))
    });
}
