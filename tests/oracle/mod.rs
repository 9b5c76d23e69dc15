//! The import oracle: keepalived's own reading of a configuration against haldir's reading of
//! the converted one (tests/import_oracle.rs).

#![allow(dead_code)] // each test crate uses its part

pub mod dump;
pub mod facts;
pub mod generator;
pub mod judge;
