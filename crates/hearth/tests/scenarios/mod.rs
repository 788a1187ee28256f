//! The end-to-end scenarios, one file per area.

pub mod basics;
pub mod malformed;
pub mod records;
pub mod synthea;
