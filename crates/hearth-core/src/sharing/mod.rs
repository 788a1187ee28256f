//! Sharing a record with people, the history of changes, and emergency access
//! (healthvault.md §4, §6.2, §10.3).
//!
//! - [`invitations`]: invite someone by email at one of three levels, for every data type or
//!   chosen ones, with access expiry, note and PIN; resend, cancel, accept (signing up first if
//!   needed), decline; hand a record over to its person.
//! - [`people`]: who can see the record; custodians change levels, types, expiry and audit
//!   rights, or remove access; the last custodian stays. [`people::Services::sweep_expired_access`]
//!   ends accesses whose time is up (they already stopped on the dot in `authz`) and tells people.
//! - [`history`]: the record's audit trail with names, filtered by person, app, data type,
//!   action and date.
//! - [`emergency`]: the emergency profile, codes for the wallet card, and reading the profile
//!   with a code (rate-limited, audited, emailed to custodians).
//! - [`notify`]: the emails all of these send.
//!
//! What each level may do is decided in one place, `authz`; these services only ask it.

pub mod emergency;
pub mod history;
pub mod invitations;
pub mod notify;
pub mod people;

use hearth_domain::AccessLevel;
use hearth_domain::datatypes::registry;

use crate::{ServiceError, ServiceResult};

/// Words for a level, as people read them.
pub fn level_label(level: AccessLevel) -> &'static str {
    match level {
        AccessLevel::View => "View",
        AccessLevel::Modify => "View and modify",
        AccessLevel::Custodian => "Act as custodian",
    }
}

/// Checks a chosen list of data types: known named or generic registry keys, at least one.
/// `None` (every type) passes as is.
pub(crate) fn check_types(types: Option<Vec<String>>) -> ServiceResult<Option<Vec<String>>> {
    let Some(mut types) = types else {
        return Ok(None);
    };
    types.sort();
    types.dedup();
    if types.is_empty() {
        return Err(ServiceError::invalid(
            "required",
            "types",
            "Choose at least one kind of information, or share all of it.",
        ));
    }
    if let Some(bad) = types.iter().find(|t| registry().get(t).is_none()) {
        return Err(ServiceError::invalid(
            "value",
            "types",
            format!("{bad:?} is not a data type Hearth knows."),
        ));
    }
    Ok(Some(types))
}

/// Names of data types for messages: "Weight, Allergies", or "all health information".
pub fn types_label(types: Option<&[String]>) -> String {
    match types {
        None => "all health information, including kinds added later".into(),
        Some(list) => list
            .iter()
            .map(|k| registry().get(k).map_or(k.as_str(), |d| d.name))
            .collect::<Vec<_>>()
            .join(", "),
    }
}
