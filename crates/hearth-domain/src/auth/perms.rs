//! Permissions on a data type: create, read, update, delete (HealthVault `permission`; SMART v2
//! `c r u d s`, where `s` — search — is part of reading here).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A set of the four operations on items of one data type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Perms(u8);

impl Perms {
    pub const NONE: Perms = Perms(0);
    pub const CREATE: Perms = Perms(1);
    pub const READ: Perms = Perms(2);
    pub const UPDATE: Perms = Perms(4);
    pub const DELETE: Perms = Perms(8);
    pub const ALL: Perms = Perms(15);
    /// What "view and modify" and write scopes mean: create, update, delete.
    pub const WRITE: Perms = Perms(1 | 4 | 8);

    pub fn contains(self, other: Perms) -> bool {
        self.0 & other.0 == other.0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn union(self, other: Perms) -> Perms {
        Perms(self.0 | other.0)
    }
    pub fn intersect(self, other: Perms) -> Perms {
        Perms(self.0 & other.0)
    }

    /// Parses `cruds` letters in SMART v2 order (each at most once, in order); `s` adds read.
    pub fn parse_smart(s: &str) -> Option<Perms> {
        let mut p = Perms::NONE;
        let mut last = 0usize;
        for ch in s.chars() {
            let (rank, bit) = match ch {
                'c' => (1, Perms::CREATE),
                'r' => (2, Perms::READ),
                'u' => (3, Perms::UPDATE),
                'd' => (4, Perms::DELETE),
                's' => (5, Perms::READ),
                _ => return None,
            };
            if rank <= last {
                return None;
            }
            last = rank;
            p = p.union(bit);
        }
        (!p.is_empty()).then_some(p)
    }

    /// SMART v2 letters: reading is written `rs` (read and search).
    pub fn smart(self) -> String {
        let mut s = String::new();
        if self.contains(Perms::CREATE) {
            s.push('c');
        }
        if self.contains(Perms::READ) {
            s.push('r');
        }
        if self.contains(Perms::UPDATE) {
            s.push('u');
        }
        if self.contains(Perms::DELETE) {
            s.push('d');
        }
        if self.contains(Perms::READ) {
            s.push('s');
        }
        s
    }

    /// Words for people: "read, create, update, delete".
    pub fn words(self) -> Vec<&'static str> {
        let mut w = Vec::new();
        for (p, name) in [
            (Perms::READ, "read"),
            (Perms::CREATE, "create"),
            (Perms::UPDATE, "update"),
            (Perms::DELETE, "delete"),
        ] {
            if self.contains(p) {
                w.push(name);
            }
        }
        w
    }
}

impl fmt::Display for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.smart())
    }
}

impl From<Perms> for String {
    fn from(p: Perms) -> String {
        p.smart()
    }
}

impl TryFrom<String> for Perms {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.is_empty() {
            return Ok(Perms::NONE);
        }
        Perms::parse_smart(&s)
            .ok_or_else(|| format!("invalid permissions {s:?}: expected letters of \"cruds\" in order"))
    }
}

#[cfg(test)]
mod tests {
    use super::Perms;

    #[test]
    fn smart_letters_parse_in_order_only() {
        assert_eq!(Perms::parse_smart("rs"), Some(Perms::READ));
        assert_eq!(Perms::parse_smart("cruds"), Some(Perms::ALL));
        assert_eq!(Perms::parse_smart("cud"), Some(Perms::WRITE));
        assert_eq!(Perms::parse_smart("sr"), None);
        assert_eq!(Perms::parse_smart("rr"), None);
        assert_eq!(Perms::parse_smart("x"), None);
        assert_eq!(Perms::parse_smart(""), None);
        assert_eq!(Perms::ALL.smart(), "cruds");
        assert_eq!(Perms::READ.words(), vec!["read"]);
    }
}
