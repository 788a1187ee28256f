//! Secret material: random tokens, their SHA-256 fingerprints, password hashing (argon2id with
//! OWASP's parameters) and the password policy (NIST SP 800-63B: long enough, not a known
//! breached or guessable password).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (argon2 cost stays bounded).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// A new random token: 32 bytes from the OS generator, base64url, with a short prefix naming
/// its kind (so a leaked token is recognisable in secret scanners).
pub fn new_token(prefix: &str) -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(b))
}

/// SHA-256 of a high-entropy secret, hex: how tokens, session ids and codes are stored.
pub fn fingerprint(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time equality for secrets.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn argon() -> Argon2<'static> {
    // argon2id, v19, m = 19 MiB, t = 2, p = 1: the crate's defaults, OWASP's first choice.
    Argon2::default()
}

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_else(|e| panic!("argon2 failed with its default parameters: {e}"))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| argon().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// A hash of a password nobody has, verified against when an email is unknown so that sign-in
/// takes the same time either way.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&new_token("decoy")))
}

/// Why a new password is refused, or `None` if it is acceptable. `context` holds words the
/// password must not be built from (email, name).
pub fn password_problem(password: &str, context: &[&str]) -> Option<String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Some(format!(
            "Passwords must have at least {MIN_PASSWORD_CHARS} characters."
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Some(format!(
            "Passwords may have at most {MAX_PASSWORD_CHARS} characters."
        ));
    }
    let estimate = zxcvbn::zxcvbn(password, context);
    let breached = estimate.sequence().iter().any(|m| {
        m.token.chars().count() * 2 >= n
            && matches!(
                &m.pattern,
                zxcvbn::matching::patterns::MatchPattern::Dictionary(d)
                    // The dictionary's type is not exported; its name is.
                    if format!("{:?}", d.dictionary_name) == "Passwords"
            )
    });
    if breached {
        return Some("This password is among those exposed in data breaches; choose another.".into());
    }
    if (estimate.score() as u8) < 3 {
        return Some("This password is too easy to guess; use a longer phrase of unrelated words.".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery staple");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery staple", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn weak_and_breached_passwords_are_refused() {
        assert!(password_problem("short", &[]).is_some());
        assert!(password_problem("password123", &[]).is_some());
        assert!(password_problem("qwertyuiop", &[]).is_some());
        assert!(password_problem("iloveyou12345", &[]).is_some());
        assert!(password_problem("ann@example.org", &["ann@example.org"]).is_some());
        assert_eq!(password_problem("plum-kettle-orbit-7-sandal", &[]), None);
    }

    #[test]
    fn tokens_are_random_and_fingerprinted() {
        let a = new_token("hat");
        assert!(a.starts_with("hat_") && a.len() > 40);
        assert_ne!(a, new_token("hat"));
        assert_eq!(fingerprint(&a).len(), 64);
        assert!(same_secret(&a, &a.clone()) && !same_secret(&a, "x"));
    }
}
