//! The seam between the media pipeline and the network. The engine hands
//! encoded frames to a [`Transport`] and receives the peer's frames and
//! feedback through a [`TransportSink`]. This module holds the trait and the
//! in-process [`loopback`] transport used by the echo test; the network
//! transport ([`webrtc`]) implements the same trait around the I/O-free
//! [`peer::PeerConnection`], which the two-peer simulation (`sim_tests`)
//! drives on a virtual clock; [`crypto`] gives its `Rtc` DTLS and SRTP.

pub mod crypto;
mod dtls_crypto;
pub mod impairment;
pub mod loopback;
pub mod pacer_watch;
pub mod peer;
pub mod stun;
pub mod webrtc;

use crossbeam_channel::Sender;

use crate::frame::EncodedFrame;

/// What a transport tells the engine besides media: requests from the
/// peer and the state of the path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Feedback {
    /// The remote decoder needs an IDR frame.
    KeyframeRequest,
    /// The connection came up: whatever was encoded before it never
    /// reached the peer, so the next frame is an IDR, whenever the last
    /// one was made (unlike a [`Feedback::KeyframeRequest`], which the
    /// keyframe policy spaces from the IDR before it).
    KeyframeNeeded,
    /// The path can carry about this many bits per second.
    BitrateEstimate(u32),
    /// The connection's state changed.
    Connection(webrtc::ConnectionState),
    /// Round-trip time, loss and byte counts of the path, once a second.
    NetworkStats(webrtc::NetworkStats),
    /// The media round trip (of the newest packet the peer's transport
    /// feedback acknowledged) with what was sent around it, 40 times a
    /// second: a queue building at the bottleneck shows here first.
    RoundTrip(crate::control::rtt::RoundTrip),
    /// Video NACKs sent so far.
    NacksSent(u64),
    /// The sender's pacer, ten times a second: how long the oldest video
    /// frame not yet sent has waited in it, µs (0: none waits), and the
    /// estimate it paces at (the latest; `BitrateEstimate` is its average
    /// over 3 s). See [`crate::control::pacer`].
    Pacer {
        wait_us: u64,
        estimate_bps: Option<u64>,
    },
}

/// Where a transport delivers what arrives. The channels are bounded; a
/// transport that finds one full drops the frame and counts it.
#[derive(Clone)]
pub struct TransportSink {
    pub audio: Sender<EncodedFrame>,
    pub video: Sender<EncodedFrame>,
    pub feedback: Sender<Feedback>,
}

/// Counters every transport keeps.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TransportStats {
    pub frames_sent: u64,
    pub bytes_sent: u64,
    /// Frames the transport (or its impairment) lost.
    pub frames_lost: u64,
    pub frames_delivered: u64,
    /// Frames dropped because the receiving stage was full.
    pub frames_dropped_full: u64,
}

/// A way to exchange encoded media with a peer.
pub trait Transport: Send + Sync {
    /// Sends one encoded frame. Never blocks on the network.
    fn send(&self, frame: EncodedFrame);
    /// Asks the peer's video sender for a keyframe.
    fn request_keyframe(&self);
    /// Counters so far.
    fn stats(&self) -> TransportStats;
    /// The rate (on the wire, bits per second) the sender would use if
    /// the path has it: the next size up of the video, with the audio.
    /// A congestion controller probes up to it even while what is sent
    /// now needs less; 0: no more than what is sent.
    fn set_wanted_bps(&self, _bps: u64) {}
}

#[cfg(test)]
mod sim_tests;
