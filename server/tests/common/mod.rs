//! What the server's integration tests share.

use media_server::token::{mint, Claims};

/// A token for `user` in app `demo` (secret `secret`), any channel, valid
/// for an hour.
pub fn token(user: &str) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    mint(
        &Claims {
            app_id: "demo".into(),
            user_id: user.into(),
            channel: "*".into(),
            exp,
        },
        b"secret",
    )
}
