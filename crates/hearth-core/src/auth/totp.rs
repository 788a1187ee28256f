//! TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps) through `totp-rs`, with one step of
//! clock drift either way and replay protection (a step is accepted at most once).

use rand::RngCore;
use totp_rs::{Algorithm, Secret, TOTP};

pub const STEP_SECS: u64 = 30;

/// A new random 160-bit seed, base32 (RFC 4648, no padding) as authenticator apps expect.
pub fn new_secret() -> String {
    let mut b = [0u8; 20];
    rand::rng().fill_bytes(&mut b);
    Secret::Raw(b.to_vec()).to_encoded().to_string()
}

fn totp(secret_b32: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret_b32.to_string()).to_bytes().ok()?;
    Some(TOTP::new_unchecked(Algorithm::SHA1, 6, 1, STEP_SECS, bytes))
}

/// The `otpauth://` URI authenticator apps scan.
pub fn provisioning_uri(secret_b32: &str, issuer: &str, account: &str) -> String {
    let enc = |s: &str| {
        url::form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}&algorithm=SHA1&digits=6&period={STEP_SECS}",
        enc(issuer),
        enc(account),
        enc(issuer)
    )
}

/// If `code` is valid at `unix_secs` for a step later than `last_step`, the step it matched.
pub fn verify(secret_b32: &str, code: &str, unix_secs: u64, last_step: i64) -> Option<i64> {
    let code = code.trim().replace(' ', "");
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret_b32)?;
    let now_step = (unix_secs / STEP_SECS) as i64;
    for step in [now_step - 1, now_step, now_step + 1] {
        if step <= last_step || step < 0 {
            continue;
        }
        let expected = t.generate(step as u64 * STEP_SECS);
        if crate::auth::secrets::same_secret(&expected, &code) {
            return Some(step);
        }
    }
    None
}

/// The code for `unix_secs` (tests and the operator's tooling).
pub fn code_at(secret_b32: &str, unix_secs: u64) -> Option<String> {
    totp(secret_b32).map(|t| t.generate(unix_secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_vector_and_replay() {
        // RFC 6238 appendix B, SHA-1 seed "12345678901234567890", T = 59 → 94287082 (8 digits);
        // the 6-digit code is its last six digits.
        let secret = Secret::Raw(b"12345678901234567890".to_vec())
            .to_encoded()
            .to_string();
        assert_eq!(code_at(&secret, 59).unwrap(), "287082");
        let step = verify(&secret, "287082", 59, 0).unwrap();
        assert_eq!(step, 1);
        assert_eq!(
            verify(&secret, "287082", 59, step),
            None,
            "a code is accepted once"
        );
        assert_eq!(verify(&secret, "000000", 59, 0), None);
        assert!(
            provisioning_uri(&secret, "Hearth", "ann@example.org")
                .starts_with("otpauth://totp/Hearth:ann%40example.org?secret=")
        );
    }
}
