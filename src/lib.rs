//! VirLife: the backend of a virtual world whose characters remember.
//!
//! Hexagonal: `domain` and `ports` are the core, `services` the use cases,
//! `adapters` (in `adapters/`) implement the ports, `http` serves them, and
//! `startup` composes it all.

#[path = "../adapters/mod.rs"]
pub mod adapters;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod namespace;
pub mod ports;
pub mod prompt;
pub mod resilience;
pub mod services;
pub mod startup;
pub mod telemetry;
