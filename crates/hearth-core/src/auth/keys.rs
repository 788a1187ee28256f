//! The server's signing keys (RS256, RSA 2048) for OpenID Connect ID tokens, published as a JWK
//! Set (RFC 7517). The first key is made on first use and kept in the store, so every server of
//! an installation signs with the same key and restarts keep it.

use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hearth_domain::auth::SigningKey;
use jsonwebtoken::{EncodingKey, Header};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{ServiceError, ServiceResult, Services};

#[derive(Default)]
pub(crate) struct KeyCache {
    current: Mutex<Option<(String, EncodingKey)>>,
}

fn generate(now: hearth_domain::Timestamp) -> ServiceResult<SigningKey> {
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
        .map_err(|e| ServiceError::Internal(format!("RSA key generation failed: {e}")))?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| ServiceError::Internal(format!("PKCS#8 encoding failed: {e}")))?;
    let n = key.n().to_bytes_be();
    let e = key.e().to_bytes_be();
    let kid = hex::encode(&Sha256::digest(&n)[..8]);
    Ok(SigningKey {
        kid: kid.clone(),
        alg: "RS256".into(),
        private_pem: pem.to_string(),
        public_jwk: json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e),
        }),
        created_at: now,
    })
}

impl Services {
    fn current_key(&self) -> ServiceResult<(String, EncodingKey)> {
        let mut cur = self.auth.keys.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = cur.as_ref() {
            return Ok(k.clone());
        }
        let key = match self.store.signing_keys()?.into_iter().next() {
            Some(k) => k,
            None => {
                let k = generate(self.now())?;
                self.store.put_signing_key(&k)?;
                k
            }
        };
        let enc = EncodingKey::from_rsa_pem(key.private_pem.as_bytes())
            .map_err(|e| ServiceError::Internal(format!("stored signing key unreadable: {e}")))?;
        *cur = Some((key.kid.clone(), enc));
        Ok(cur.as_ref().expect("just set").clone())
    }

    /// The public keys, as served at the JWKS endpoint.
    pub fn jwks(&self) -> ServiceResult<Value> {
        self.current_key()?;
        let keys: Vec<Value> = self
            .store
            .signing_keys()?
            .into_iter()
            .map(|k| k.public_jwk)
            .collect();
        Ok(json!({ "keys": keys }))
    }

    /// Signs claims as a compact JWS with the current key.
    pub fn sign_jwt(&self, claims: &Value) -> ServiceResult<String> {
        let (kid, key) = self.current_key()?;
        let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(kid);
        jsonwebtoken::encode(&header, claims, &key)
            .map_err(|e| ServiceError::Internal(format!("signing failed: {e}")))
    }
}
