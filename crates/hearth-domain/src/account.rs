//! Accounts: people who sign in. Sign-in credentials arrive with the consent issue; here an
//! account is its identity, email and display name.

use serde::{Deserialize, Serialize};

use crate::{AccountId, Timestamp};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    /// Lower-cased, trimmed; unique.
    pub email: String,
    pub display_name: String,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug)]
pub struct NewAccount {
    pub email: String,
    pub display_name: String,
}

/// Normalises an email address for storage and lookup; `None` if it is not plausibly one.
pub fn normalize_email(raw: &str) -> Option<String> {
    let e = raw.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.len() <= 254;
    ok.then_some(e)
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email(" Ann@Example.ORG ").as_deref(),
            Some("ann@example.org")
        );
        assert_eq!(normalize_email("no-at-sign"), None);
        assert_eq!(normalize_email("a@"), None);
        assert_eq!(normalize_email("a b@c.d"), None);
    }
}
