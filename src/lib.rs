//! paperboy: turns the daily flood of new research papers into one feed per research topic.
//!
//! The pipeline runs one way: config → fetch (IO) → parse + normalize (pure) → identify +
//! merge (pure) → tag (pure) → store (IO) → query → render (pure) → serve (IO). The pure core
//! lives in [`pipeline`] and [`sources`]; IO is in [`fetch`], [`store`], [`ingest`] and
//! [`server`].

pub mod config;
pub mod examples;
pub mod fetch;
pub mod index;
pub mod ingest;
pub mod inspect;
pub mod live;
pub mod model;
pub mod pipeline;
pub mod polling;
pub mod progress;
pub mod selfcheck;
pub mod server;
pub mod sources;
pub mod store;
pub mod websub;
