//! The signature of a generic webhook's body: HMAC-SHA256 over `<timestamp>.<body>`.
//!
//! A receiver recomputes `HMAC-SHA256(secret, "<X-Alertrun-Timestamp>.<raw body>")`,
//! compares it in constant time with the hex after `sha256=` in `X-Alertrun-Signature`,
//! and refuses a timestamp too far from its own clock (a replay). The README's
//! "Notifications" section shows a receiver doing so. What this module is not: a
//! verifier; alertrun only signs.

use ring::hmac;

/// The header that carries the Unix time (seconds) the body was signed at.
pub(crate) const TIMESTAMP_HEADER: &str = "X-Alertrun-Timestamp";
/// The header that carries `sha256=<hex>`.
pub(crate) const SIGNATURE_HEADER: &str = "X-Alertrun-Signature";

/// `sha256=<hex of HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub(crate) fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let stamp = timestamp.to_string();
    format!(
        "sha256={}",
        hmac_hex(secret, &[stamp.as_bytes(), b".", body])
    )
}

/// The lowercase hex of HMAC-SHA256 over the concatenated `parts`.
fn hmac_hex(secret: &[u8], parts: &[&[u8]]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut context = hmac::Context::with_key(&key);
    for part in parts {
        context.update(part);
    }
    let tag = context.sign();
    let mut hex = String::with_capacity(64);
    for byte in tag.as_ref() {
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        assert_eq!(
            hmac_hex(b"Jefe", &[b"what do ya ", b"want for nothing?"]),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signature_covers_the_timestamp_and_the_body() {
        // Computed with Python's hmac module, as a receiver would.
        let body = br#"{"event":"started"}"#;
        assert_eq!(
            signature(b"it-is-a-secret", 1_700_000_000, body),
            "sha256=d577c7605211921840a662c51eb04f95ffc48eab5325b96eceaa58f50f0c30d1"
        );
        let tampered = br#"{"event":"finished"}"#;
        assert_ne!(
            signature(b"it-is-a-secret", 1_700_000_000, tampered),
            signature(b"it-is-a-secret", 1_700_000_000, body)
        );
        assert_ne!(
            signature(b"it-is-a-secret", 1_700_000_001, body),
            signature(b"it-is-a-secret", 1_700_000_000, body)
        );
    }
}
