//! FHIR Bulk Data export over real HTTP: the router served on 127.0.0.1:0 over a SQLite store in
//! a temporary directory, a manual clock, and the bulk worker thread. Each test starts its own
//! server.

#![allow(clippy::unwrap_used)]

mod export;
mod server;
