//! Ingest keys: what sensors send instead of a user's password. A key may
//! only record events, and only for the source it is bound to.

use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::models::event::Source;
use crate::models::fields::{FieldErrors, TextRule};

crate::text_field!(
    /// What an admin calls a key: trimmed, 1–100 characters.
    pub KeyName = TextRule {
        max_chars: 100,
        allow_blank: false,
        trim: true,
    }
);

crate::body! {
    full NewKey: "An ingest key to mint: its name and the one source its events may come from.",
    fields {
        /// What the key is for, e.g. the sensor's name.
        name: KeyName,
        /// Every event sent with the key is this source's.
        source: Source,
    },
    read_only ["id", "prefix", "created_at", "created_by", "last_used_at", "revoked_at"],
}

impl NewKey {
    /// A key an operator mints, checked by the API's rules.
    pub fn from_parts(name: &str, source: &str) -> Result<Self, FieldErrors> {
        let body = serde_json::json!({ "name": name, "source": source });
        Self::parse(body.as_object().expect("an object"))
    }
}

/// A key as admins see it: never its secret.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestKey {
    pub id: i64,
    pub name: String,
    pub source: String,
    /// The key's first characters, `tmk_` and 12 more: enough to tell keys
    /// apart in a list or a log, no help in guessing the rest.
    pub prefix: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    /// The admin who minted it; `null` for an operator (`tmctl`, the admin function).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub created_by: Option<i64>,
    /// To the minute: it is recorded at most once a minute.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub revoked_at: Option<OffsetDateTime>,
}

/// A key just minted: the only answer that carries its secret.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MintedKey {
    #[serde(flatten)]
    pub key: IngestKey,
    /// The secret, shown this once: `tmk_` and 76 hexadecimal digits.
    #[serde(rename = "key")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub secret: KeySecretShown,
}

/// The secret as the minting answer shows it, under the name `key`.
#[derive(Serialize)]
#[serde(transparent)]
pub struct KeySecretShown(pub String);

impl std::fmt::Debug for KeySecretShown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// What every key starts with, so that a leaked one is recognisable (secret
/// scanners look for such prefixes) and told apart from a JWT at a glance.
pub const KEY_PREFIX: &str = "tmk_";
/// Hex digits after `tmk_` that are the lookup prefix (48 bits, not secret).
const LOOKUP_HEX: usize = 12;
/// Hex digits of the secret proper: 256 random bits.
const SECRET_HEX: usize = 64;

/// A key's secret, as sent by a sensor or just generated. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct KeySecret(String);

impl std::fmt::Debug for KeySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeySecret({}…)", self.prefix())
    }
}

impl KeySecret {
    /// A new key: 48 bits of lookup prefix and 256 bits of secret, from the
    /// operating system's generator.
    pub fn generate() -> Self {
        Self(format!(
            "{KEY_PREFIX}{}{}",
            crate::random::hex(LOOKUP_HEX / 2),
            crate::random::hex(SECRET_HEX / 2)
        ))
    }

    /// `None` unless `raw` has a key's exact shape (lower-case hex).
    pub fn parse(raw: &str) -> Option<Self> {
        let digits = raw.strip_prefix(KEY_PREFIX)?;
        let shaped = digits.len() == LOOKUP_HEX + SECRET_HEX
            && digits
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        shaped.then(|| Self(raw.to_owned()))
    }

    /// Whether a credential looks like a key rather than a JWT.
    pub fn looks_like_key(raw: &str) -> bool {
        raw.starts_with(KEY_PREFIX)
    }

    /// `tmk_` and the lookup digits: what the row is found by.
    pub fn prefix(&self) -> &str {
        &self.0[..KEY_PREFIX.len() + LOOKUP_HEX]
    }

    /// What is stored: SHA-256 of the whole key.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }

    /// Whether `stored` is this key's hash, in constant time.
    pub fn matches(&self, stored: &[u8]) -> bool {
        bool::from(self.hash().as_slice().ct_eq(stored))
    }

    pub fn expose(self) -> String {
        self.0
    }
}

/// A key that authenticated: who it is, and the source its events are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPrincipal {
    pub id: i64,
    pub source: Source,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_parses_and_has_256_secret_bits_after_its_prefix() {
        let key = KeySecret::generate();
        let text = key.clone().expose();
        assert_eq!(text.len(), 4 + 12 + 64);
        assert_eq!(KeySecret::parse(&text), Some(key.clone()));
        assert_eq!(key.prefix(), &text[..16]);
        assert_ne!(KeySecret::generate(), key);
    }

    #[test]
    fn only_the_exact_shape_is_a_key() {
        let good = KeySecret::generate().expose();
        assert!(KeySecret::parse(&good.to_uppercase()).is_none());
        assert!(KeySecret::parse(&good[..good.len() - 1]).is_none());
        assert!(KeySecret::parse(&format!("{good}0")).is_none());
        assert!(KeySecret::parse(&good.replacen("tmk_", "tmx_", 1)).is_none());
        assert!(KeySecret::parse("tmk_").is_none());
    }

    #[test]
    fn the_hash_matches_only_its_own_key() {
        let key = KeySecret::generate();
        let other = KeySecret::generate();
        assert!(key.matches(&key.hash()));
        assert!(!other.matches(&key.hash()));
        assert!(!key.matches(&key.hash()[..31]));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let key = KeySecret::generate();
        let shown = format!("{key:?}");
        assert!(!shown.contains(&key.clone().expose()[16..]));
        assert_eq!(
            format!("{:?}", KeySecretShown("tmk_x".into())),
            "[redacted]"
        );
    }
}
