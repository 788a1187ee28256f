//! The web pages over real HTTP: the router served on 127.0.0.1:0 over a SQLite store in a
//! temporary directory (the health-data pages also over PostgreSQL when
//! `HEARTH_TEST_POSTGRES_URL` is set), a manual clock, and mail written to the temporary outbox.
//! Each test starts its own server.

#![allow(clippy::unwrap_used)]

mod accounts;
mod common;
mod consent;
mod headers;
mod health;
mod records;
mod sharing;
mod speed;
mod uploads;
