//! Pure decisions that steer the media from what the network reports:
//! how Opus protects speech against the loss the peer sees, the video
//! encoder's target bitrate and size, and when a receiver's keyframe
//! request is answered, and how much of the video may be repairs, and how much delay keeps a remote's audio
//! and video in sync. Time is an
//! argument; nothing here owns a thread, a socket or a clock, so every
//! policy is tested on a virtual clock.

pub mod audio;
pub mod keyframe;
pub mod ladder;
pub mod pacer;
pub mod rate;
pub mod repair;
pub mod rtt;
pub mod sync;

pub use audio::{
    AudioMode, AudioModeController, RedundancyPolicy, RED_DISTANCES, RED_FRAMES_PER_PACKET,
};
pub use keyframe::KeyframePolicy;
pub use ladder::{Rung, VideoLadder};
pub use pacer::{PacerGate, PacerVerdict};
pub use rate::RateController;
pub use repair::RepairPolicy;
pub use sync::{LipSync, SyncDelays};
