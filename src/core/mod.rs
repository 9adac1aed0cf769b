//! The core of the hexagon: what VirLife is (`domain`), what it needs from
//! the outside (`ports`) and what it does (`use_cases`). Nothing here names
//! a driver, a web type or an adapter; `tests/architecture.rs` keeps it so.

pub mod domain;
pub mod error;
pub mod ports;
pub mod use_cases;
