//! Token signing keys as a set, so that they can rotate: each key has an
//! id (`kid`, in every token's header), the first signs, and the others
//! are still accepted until their `retire_at`. Kept as JSON in a secret:
//! the token function's holds the private keys; every other function's
//! holds the same set without them, so a leak from a function that only
//! checks tokens cannot forge one. (HS256 keys, still offered for existing
//! deployments, are symmetric: both copies carry them.)
//!
//! ```json
//! {"version": 1, "cursor": "<base64url, 32 bytes>",
//!  "keys": [{"kid": "2026-12-07.4f1c2a", "alg": "EdDSA", "public": "<base64url>",
//!            "private": "<base64url PKCS#8>", "retire_at": null}, ...]}
//! ```

use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The algorithms a key set's keys may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyAlg {
    EdDSA,
    HS256,
}

impl std::str::FromStr for KeyAlg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "EdDSA" => Ok(Self::EdDSA),
            "HS256" => Ok(Self::HS256),
            other => Err(format!(
                "unknown signing algorithm {other:?} (EdDSA or HS256)"
            )),
        }
    }
}

/// One key of a set. Byte fields are base64url without padding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    pub kid: String,
    pub alg: KeyAlg,
    /// EdDSA: the raw 32-byte public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public: Option<String>,
    /// EdDSA: the PKCS#8 private key; only in the signing copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private: Option<String>,
    /// HS256: the shared key (in both copies: it signs and checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Unix seconds after which tokens of this key are refused; `None` for
    /// the current key.
    #[serde(default)]
    pub retire_at: Option<i64>,
}

/// A key set as its secret holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyMaterial {
    pub version: u32,
    /// The seed of the key that signs `?cursor=` tokens: it does not rotate
    /// with the signing keys, so cursors outlive a rotation.
    pub cursor: String,
    /// The current key first.
    pub keys: Vec<KeyEntry>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MaterialError {
    #[error("the key set is not valid JSON of the expected shape")]
    Shape,
    #[error("the key set has no keys yet")]
    Empty,
    #[error("key {0:?} is malformed")]
    BadKey(String),
    #[error("generating a key failed")]
    Generation,
}

fn random_bytes(n: usize) -> Result<Vec<u8>, MaterialError> {
    use aws_lc_rs::rand::SecureRandom;
    let mut bytes = vec![0; n];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| MaterialError::Generation)?;
    Ok(bytes)
}

fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// A fresh key of `alg`, current (no retirement).
fn new_key(alg: KeyAlg, now: OffsetDateTime) -> Result<KeyEntry, MaterialError> {
    let suffix = crate::random::hex(3);
    let kid = format!(
        "{:04}-{:02}-{:02}.{suffix}",
        now.year(),
        u8::from(now.month()),
        now.day()
    );
    Ok(match alg {
        KeyAlg::EdDSA => {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map_err(|_| MaterialError::Generation)?;
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
                .map_err(|_| MaterialError::Generation)?;
            KeyEntry {
                kid,
                alg,
                public: Some(encode(pair.public_key().as_ref())),
                private: Some(encode(pkcs8.as_ref())),
                secret: None,
                retire_at: None,
            }
        }
        KeyAlg::HS256 => KeyEntry {
            kid,
            alg,
            public: None,
            private: None,
            secret: Some(encode(&random_bytes(32)?)),
            retire_at: None,
        },
    })
}

impl KeyMaterial {
    pub fn parse(text: &str) -> Result<Self, MaterialError> {
        let material: Self = serde_json::from_str(text).map_err(|_| MaterialError::Shape)?;
        if material.version != 1 || decode(&material.cursor).is_none_or(|c| c.len() < 32) {
            return Err(MaterialError::Shape);
        }
        for key in &material.keys {
            let ok = match key.alg {
                KeyAlg::EdDSA => key
                    .public
                    .as_deref()
                    .and_then(decode)
                    .is_some_and(|p| p.len() == 32),
                KeyAlg::HS256 => key
                    .secret
                    .as_deref()
                    .and_then(decode)
                    .is_some_and(|s| s.len() >= 32),
            };
            if !ok || key.kid.is_empty() {
                return Err(MaterialError::BadKey(key.kid.clone()));
            }
        }
        Ok(material)
    }

    /// A new set of one `alg` key.
    pub fn generate(alg: KeyAlg, now: OffsetDateTime) -> Result<Self, MaterialError> {
        Ok(Self {
            version: 1,
            cursor: encode(&random_bytes(32)?),
            keys: vec![new_key(alg, now)?],
        })
    }

    /// The set after a rotation at `now`: a new `alg` key signs; the one
    /// that signed until now is still accepted for `overlap` (so tokens it
    /// signed, refresh tokens included, live out their time), and keys
    /// already retired are dropped. The cursor seed stays.
    pub fn rotate(
        &self,
        alg: KeyAlg,
        overlap: Duration,
        now: OffsetDateTime,
    ) -> Result<Self, MaterialError> {
        let now_s = now.unix_timestamp();
        let retire = now_s.saturating_add(i64::try_from(overlap.as_secs()).unwrap_or(i64::MAX));
        let mut keys = vec![new_key(alg, now)?];
        for (i, key) in self.keys.iter().enumerate() {
            let retire_at = match key.retire_at {
                // The current key retires after the overlap...
                None if i == 0 => Some(retire),
                // ...and an older one keeps its own date, earlier or not.
                Some(at) => Some(at.min(retire)),
                None => Some(retire),
            };
            if retire_at.is_some_and(|at| at > now_s) {
                keys.push(KeyEntry {
                    retire_at,
                    ..key.clone()
                });
            }
        }
        Ok(Self {
            keys,
            ..self.clone()
        })
    }

    /// The copy for functions that only check tokens: no private keys.
    pub fn public(&self) -> Self {
        Self {
            keys: self
                .keys
                .iter()
                .map(|k| KeyEntry {
                    private: None,
                    ..k.clone()
                })
                .collect(),
            ..self.clone()
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a key set serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn a_generated_set_round_trips_and_its_public_copy_has_no_private_key() {
        let set = KeyMaterial::generate(KeyAlg::EdDSA, now()).unwrap();
        assert_eq!(KeyMaterial::parse(&set.to_json()).unwrap(), set);
        assert!(set.keys[0].private.is_some());
        let public = set.public();
        assert!(public.keys.iter().all(|k| k.private.is_none()));
        assert!(
            !public
                .to_json()
                .contains(set.keys[0].private.as_deref().unwrap())
        );
        assert_eq!(KeyMaterial::parse(&public.to_json()).unwrap(), public);
    }

    #[test]
    fn a_rotation_keeps_the_last_key_for_the_overlap_and_drops_retired_ones() {
        let day = Duration::from_secs(86_400);
        let first = KeyMaterial::generate(KeyAlg::EdDSA, now()).unwrap();
        let second = first.rotate(KeyAlg::EdDSA, day, now()).unwrap();
        assert_eq!(second.keys.len(), 2);
        assert_eq!(second.keys[1].kid, first.keys[0].kid);
        assert_eq!(
            second.keys[1].retire_at,
            Some(now().unix_timestamp() + 86_400)
        );
        assert_eq!(second.keys[0].retire_at, None);
        assert_eq!(second.cursor, first.cursor, "cursors survive a rotation");
        // Two days on, the first key is past its date and goes.
        let later = now() + time::Duration::days(2);
        let third = second.rotate(KeyAlg::EdDSA, day, later).unwrap();
        let kids: Vec<&str> = third.keys.iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(kids.len(), 2);
        assert!(!kids.contains(&first.keys[0].kid.as_str()));
        // An immediate rotation (no overlap) leaves the new key alone.
        let alone = third.rotate(KeyAlg::EdDSA, Duration::ZERO, later).unwrap();
        assert_eq!(alone.keys.len(), 1);
    }

    #[test]
    fn malformed_sets_are_refused() {
        for text in [
            "not json",
            r#"{"version":2,"cursor":"AAAA","keys":[]}"#,
            r#"{"version":1,"cursor":"short","keys":[]}"#,
        ] {
            assert!(KeyMaterial::parse(text).is_err(), "{text}");
        }
        let mut set = KeyMaterial::generate(KeyAlg::EdDSA, now()).unwrap();
        set.keys[0].public = Some("AAAA".into());
        assert!(matches!(
            KeyMaterial::parse(&set.to_json()),
            Err(MaterialError::BadKey(_))
        ));
    }
}
