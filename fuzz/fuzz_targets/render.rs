//! Fuzz target: arbitrary stored papers (see `papers.rs`) through the Atom, RSS and JSON Feed
//! renderers, each document read back ([`paperboy::selfcheck::check_rendered`]). The papers
//! skip `normalize::clean`, as a store written by an older version might hold anything.
#![no_main]

use libfuzzer_sys::fuzz_target;
use paperboy::selfcheck;

mod papers;

fuzz_target!(|data: &[u8]| {
    let stored = papers::stored_papers(data);
    let problems = selfcheck::check_rendered(&stored);
    assert!(problems.is_empty(), "{problems:#?}\n{stored:#?}");
});
