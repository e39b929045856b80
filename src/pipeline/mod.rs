//! The pure core: normalize, identify, merge, tag and render. Nothing here does IO or touches
//! tokio, sled, hyper or reqwest; every function maps values to values.

pub mod identity;
pub mod matcher;
pub mod merge;
pub mod normalize;
pub mod query;
pub mod render;
pub mod tag;
pub mod text;
