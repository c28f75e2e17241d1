//! Correlation, OLS, bootstrap and permutation statistics.
//!
//! Pure Rust: nothing here knows about Python, so the kernels can be unit-tested with a plain
//! `cargo test` and reused from other Rust code. Inputs are plain slices; callers (the bindings)
//! validate shapes and convert arrays.

pub mod corr;
pub mod error;
pub mod gather;
pub mod multitest;
pub mod ols;
pub mod rng;
pub mod special;
pub mod tiles;

pub use error::StatsError;
pub mod alternative;
pub mod bootstrap;
pub mod cpu;
pub mod engine;
pub mod ols_boot;
pub mod permutation;
pub mod rankcorr;
pub mod resample;
