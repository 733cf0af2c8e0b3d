//! Access tokens: HMAC-SHA256 over (app id, user id, channel scope, expiry)
//! with the app's secret, like vendor SDK tokens.
//!
//! Format: `v1.<base64url(payload)>.<base64url(mac)>` where payload is the
//! JSON `{"app_id","user_id","channel","exp"}`; `channel` is `"*"` for any
//! channel; `exp` is Unix seconds.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What a token grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub app_id: String,
    pub user_id: String,
    /// A channel name, or `"*"` for any.
    pub channel: String,
    /// Expiry, Unix seconds.
    pub exp: u64,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token, bad encoding, or a signature that does not match.
    Invalid,
    Expired,
    /// Valid, but for another app, user or channel.
    WrongScope,
}

impl TokenError {
    /// The protocol's error code.
    pub fn code(self) -> &'static str {
        match self {
            TokenError::Invalid => "token_invalid",
            TokenError::Expired => "token_expired",
            TokenError::WrongScope => "token_wrong_scope",
        }
    }
}

fn mac(secret: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    m.update(b"v1.");
    m.update(payload.as_bytes());
    m
}

/// Signs `claims` with `secret`.
pub fn mint(claims: &Claims, secret: &[u8]) -> String {
    let payload = B64.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let sig = B64.encode(mac(secret, &payload).finalize().into_bytes());
    format!("v1.{payload}.{sig}")
}

/// Checks the signature and expiry (at `now`, Unix seconds) and returns
/// the claims. Scope is the caller's to check.
pub fn verify(token: &str, secret: &[u8], now: u64) -> Result<Claims, TokenError> {
    if token.len() > 4096 {
        return Err(TokenError::Invalid);
    }
    let mut parts = token.split('.');
    let (Some("v1"), Some(payload), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Invalid);
    };
    let sig = B64.decode(sig).map_err(|_| TokenError::Invalid)?;
    mac(secret, payload)
        .verify_slice(&sig)
        .map_err(|_| TokenError::Invalid)?;
    let claims: Claims =
        serde_json::from_slice(&B64.decode(payload).map_err(|_| TokenError::Invalid)?)
            .map_err(|_| TokenError::Invalid)?;
    if claims.exp <= now {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

/// Whether `claims` allow joining `channel`.
pub fn allows_channel(claims: &Claims, channel: &str) -> bool {
    claims.channel == "*" || claims.channel == channel
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> Claims {
        Claims {
            app_id: "demo".into(),
            user_id: "alice".into(),
            channel: "*".into(),
            exp,
        }
    }

    #[test]
    fn minted_tokens_verify_until_they_expire() {
        let t = mint(&claims(1000), b"secret");
        assert_eq!(verify(&t, b"secret", 999).unwrap(), claims(1000));
        assert_eq!(verify(&t, b"secret", 1000), Err(TokenError::Expired));
    }

    #[test]
    fn forged_or_garbled_tokens_are_invalid() {
        let t = mint(&claims(1000), b"secret");
        assert_eq!(verify(&t, b"other", 0), Err(TokenError::Invalid));
        // Swap in a payload for another user, keep the signature.
        let forged_payload = B64.encode(
            serde_json::to_vec(&Claims {
                user_id: "mallory".into(),
                ..claims(1000)
            })
            .unwrap(),
        );
        let sig = t.rsplit('.').next().unwrap();
        assert_eq!(
            verify(&format!("v1.{forged_payload}.{sig}"), b"secret", 0),
            Err(TokenError::Invalid)
        );
        for junk in ["", "v1", "v1..", "v2.a.b", "v1.@@@.@@@", "v1.a.b.c"] {
            assert_eq!(
                verify(junk, b"secret", 0),
                Err(TokenError::Invalid),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn channel_scope() {
        let c = Claims {
            channel: "room-7".into(),
            ..claims(10)
        };
        assert!(allows_channel(&c, "room-7"));
        assert!(!allows_channel(&c, "room-8"));
        assert!(allows_channel(&claims(10), "anything"));
    }
}
