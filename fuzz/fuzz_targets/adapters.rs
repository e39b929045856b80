//! Fuzz target: a source's bytes through every adapter and the rest of ingestion (clean,
//! identify, tag), then every renderer, each document read back
//! ([`paperboy::selfcheck::check_source_bytes`]; the first byte picks the source kind). A
//! panic anywhere, or a broken invariant, is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let problems = paperboy::selfcheck::check_source_bytes(data);
    assert!(problems.is_empty(), "{problems:#?}");
});
