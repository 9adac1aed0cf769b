//! VirLife: the backend of a virtual world whose characters remember.
//!
//! Hexagonal (see ARCHITECTURE.md): `core` holds the domain, the ports and
//! one type per use case and imports nothing outside itself; `adapters` (in
//! `adapters/`) implement the ports; the shell (`http`, `cli`, `config`,
//! `telemetry`) serves the use cases; `composition` builds it all.

#[path = "../adapters/mod.rs"]
pub mod adapters;
pub mod cli;
pub mod composition;
pub mod config;
pub mod core;
pub mod http;
pub mod telemetry;
