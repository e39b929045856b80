//! The pure core: normalize, identify, merge, tag and render. Nothing here does IO or touches
//! tokio, sled, hyper or reqwest; every function maps values to values.

pub mod bibtex;
pub mod digest;
pub mod identity;
pub(crate) mod matcher;
pub(crate) mod merge;
pub(crate) mod normalize;
pub mod profile;
pub mod query;
pub mod redact;
pub mod render;
pub mod tag;
pub mod text;
