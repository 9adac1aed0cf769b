//! API tests: real HTTP against the service on 127.0.0.1 (in-memory adapters
//! unless VIRLIFE_TEST_STORE names postgres or sqlite).

mod admin;
mod binary;
mod characters;
mod chat;
mod errors;
mod hardening;
mod health;
mod helpers;
#[cfg(feature = "openai")]
mod llm;
mod memories;
mod openai_compat;
mod openapi;
mod people;
mod portability;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "qdrant")]
mod qdrant_down;
mod recall;
#[cfg(feature = "redis")]
mod redis;
#[cfg(all(feature = "postgres", feature = "redis", feature = "openai"))]
mod round_trips;
#[cfg(feature = "sqlite")]
mod sqlite;
mod streaming;
mod tenancy;
mod world;
