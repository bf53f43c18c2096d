//! `X-Hub-Signature-256: sha256=<hex>`: HMAC-SHA256 of the raw body with the app secret.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header value Meta sends for `body`.
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(app_secret).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a header value against the raw body, in constant time. Verify before parsing.
pub fn verify(app_secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(app_secret).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// `appsecret_proof` for apps that require it: hex HMAC-SHA256 of the token keyed by the app secret.
pub fn appsecret_proof(app_secret: &[u8], token: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(app_secret).expect("HMAC takes keys of any length");
    mac.update(token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_raw_bytes() {
        // Meta escapes non-ASCII as \uXXXX: the signature is over those exact bytes.
        let body = br#"{"entry":[{"changes":[{"value":{"contacts":[{"profile":{"name":"J\u00fcrgen"}}]}}]}]}"#;
        let header = sign(b"secret", body);
        assert!(header.starts_with("sha256="));
        assert!(verify(b"secret", body, Some(&header)));
        assert!(!verify(b"other", body, Some(&header)));
        let reserialized =
            r#"{"entry":[{"changes":[{"value":{"contacts":[{"profile":{"name":"Jürgen"}}]}}]}]}"#;
        assert!(!verify(b"secret", reserialized.as_bytes(), Some(&header)));
        assert!(!verify(b"secret", body, None));
        assert!(!verify(b"secret", body, Some("sha1=abc")));
        assert!(!verify(b"secret", body, Some("sha256=zz")));
    }

    #[test]
    fn known_vector() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), RFC-style test vector.
        assert_eq!(
            sign(b"key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }
}
