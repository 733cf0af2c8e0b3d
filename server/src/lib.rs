//! The libmedia rendezvous server: registration with signed tokens, 1v1
//! call signaling (the WeChat model) and channels with member lists (the
//! Agora model), JSON over WebSocket. Media never passes through it.
//!
//! [`hub`] is the protocol as a pure state machine; [`server`] runs it
//! behind axum. The wire format is in `PROTOCOL.md`.

pub mod hub;
pub use media_protocol as protocol;
pub mod server;
pub mod token;

#[cfg(test)]
mod hub_tests;
