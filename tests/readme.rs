//! The README is the user's manual: every TOML example in it must be a valid config, so the
//! manual cannot drift from what paperboy accepts.

use std::path::Path;

use paperboy::config::Config;

#[test]
fn every_toml_example_in_the_readme_is_a_valid_config() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut blocks = Vec::new();
    let mut rest = readme.as_str();
    while let Some(start) = rest.find("```toml\n") {
        let body = &rest[start + "```toml\n".len()..];
        let end = body.find("```").expect("closed code block");
        blocks.push(&body[..end]);
        rest = &body[end + 3..];
    }
    assert!(blocks.len() >= 6, "found {} TOML examples", blocks.len());
    for block in blocks {
        if let Err(e) = Config::parse(block, Path::new("/srv/paperboy/config"), "README example") {
            panic!("{e}\n--- in this README example:\n{block}");
        }
    }
}
