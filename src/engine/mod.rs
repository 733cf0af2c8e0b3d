//! The engine: owns the pipeline stages and their threads, and exposes the
//! public API (devices, local audio / preview, mute, echo test, events,
//! frames, stats). All methods take `&self` and may be called from any
//! thread, including from inside the event and frame handlers.
//!
//! Threads: "media-events" (event handler), "media-render" (frame handler)
//! live as long as the engine; capture, encode and decode threads live as
//! long as their stage. Dropping the engine stops and joins them all.

mod audio;
pub mod config;
pub mod events;
pub mod quality;
mod recorder;
pub mod remote;
pub mod stats;
mod video;
mod worker;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};

use self::audio::{AudioRecv, AudioSend, RemoteAudio};
use self::config::{AudioInputConfig, AudioOutputConfig, EngineConfig, VideoInputConfig};
use self::events::{Event, EventHandler, FrameHandler, FrameSource, Stream, StreamState};
use self::remote::{Remote, RemoteStats};
use self::stats::{Counters, Latencies, Stats};
use self::video::{VideoRecv, VideoSend};
use crate::clock::Clock;
use crate::control::{PacerGate, RateController};
use crate::devices::audio::{
    AudioInput, AudioOutput, FakeInput, FakeOutput, FakeSignal, NullSink, WavSink,
};
use crate::devices::camera::{list_cameras, CameraSource};
use crate::devices::cpal_audio::{self, CpalInput, CpalOutput};
use crate::devices::external::{ExternalVideo, ExternalVideoInput, PushedFrame};
use crate::devices::external_audio::{ExternalAudio, ExternalAudioInput, ExternalAudioOutput};
use crate::devices::video::{PatternSource, VideoFormat, VideoInput, Y4mSource, Y4mWriter};
use crate::devices::DeviceInfo;
use crate::error::{Error, Result};
use crate::frame::{EncodedFrame, VideoFrame};
use crate::transport::loopback::LoopbackTransport;
use crate::transport::webrtc::{Role, Signal, WebRtcConfig, WebRtcTransport};
use crate::transport::{Transport, TransportSink};
use crate::voice::FarEnd;

/// Encoded frames a remote's transport may queue for its decoder (a second
/// at 30 fps); beyond it the oldest is dropped (`video_frames_dropped_recv`).
const VIDEO_RECV_QUEUE: usize = 30;

/// State every stage shares: counters, flags, the current transport and the
/// channels to the event and render threads.
pub(crate) struct Shared {
    pub(crate) clock: Clock,
    pub(crate) counters: Counters,
    pub(crate) latencies: Latencies,
    pub(crate) events_tx: Sender<Event>,
    pub(crate) render_tx: Sender<(FrameSource, VideoFrame)>,
    /// A second handle on the render queue, to drop its oldest frame.
    pub(crate) render_rx: Receiver<(FrameSource, VideoFrame)>,
    pub(crate) audio_muted: AtomicBool,
    pub(crate) video_muted: AtomicBool,
    /// The engine's own need for a keyframe (a new peer, video resumed).
    pub(crate) keyframe_wanted: AtomicBool,
    /// A receiver asked for a keyframe; answered as
    /// [`crate::control::KeyframePolicy`] decides.
    pub(crate) keyframe_requested: AtomicBool,
    pub(crate) target_video_bps: AtomicU64,
    /// Until when (engine clock, µs) the encoder skips frames: a
    /// transport's pacer is behind (see [`PacerGate`]).
    pub(crate) skip_video_until_us: AtomicU64,
    pub(crate) pacer_gate: Mutex<PacerGate>,
    /// What the video ladder sizes the picture for
    /// ([`RateController::sustained`]).
    pub(crate) sustained_video_bps: AtomicU64,
    /// Decides `target_video_bps` from the bounds, the user's cap and the
    /// network's reports.
    rate: Mutex<RateController>,
    pub(crate) bandwidth_estimate_bps: AtomicU64,
    pub(crate) audio_jitter_us: AtomicU64,
    pub(crate) rtt_us: AtomicU64,
    /// Loss fractions in parts per million.
    pub(crate) egress_loss_ppm: AtomicU64,
    /// How many egress loss reports have come in (the audio encoder
    /// follows each).
    pub(crate) egress_loss_reports: AtomicU64,
    /// Every remote gets our audio with RED copies (the encoder's FEC then
    /// covers only what they cannot).
    pub(crate) audio_redundancy: AtomicBool,
    /// The video target at which the ladder would step up (0: at the
    /// top).
    pub(crate) video_step_up_bps: AtomicU64,
    pub(crate) ingress_loss_ppm: AtomicU64,
    pub(crate) video_nacks_sent: AtomicU64,
    routes: Mutex<Routes>,
    /// Told the uid of a remote whose transport failed (set by the
    /// signaling client, which ends the call or the link on its own thread).
    media_failed: Mutex<Option<MediaFailedHook>>,
    /// Where frames the host pushes go (`VideoInputConfig::External`).
    external_video: Arc<ExternalVideo>,
    /// Whether the configuration's video input is `External` (read by
    /// pushes without taking the state lock).
    external_video_configured: AtomicBool,
    /// The host's microphone and speaker rings (`AudioInputConfig::External`,
    /// `AudioOutputConfig::External`).
    external_audio: Arc<ExternalAudio>,
    /// The app is in the background: no video is sent.
    pub(crate) background: AtomicBool,
    /// What the speaker plays, for the microphone's echo canceller.
    pub(crate) far_end: Arc<FarEnd>,
}

/// See [`Shared::media_failed`].
pub(crate) type MediaFailedHook = Arc<dyn Fn(u32) + Send + Sync>;

/// The session's transports as the stages see them.
#[derive(Default)]
struct Routes {
    /// Where encoded media goes (none for a channel's audience).
    send: Arc<Vec<Arc<dyn Transport>>>,
    /// Every remote's transport.
    all: Vec<Arc<dyn Transport>>,
    /// Frames the transports of departed remotes dropped at a full queue.
    retired_dropped: u64,
}

impl Shared {
    fn routes(&self) -> MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the rate controller and publishes the target it returns.
    pub(crate) fn steer_rate(&self, f: impl FnOnce(&mut RateController, u64) -> u32) {
        let now = self.clock.now_us();
        let mut rate = self.rate.lock().unwrap_or_else(|p| p.into_inner());
        let target = f(&mut rate, now);
        self.target_video_bps.store(target as u64, Relaxed);
        self.sustained_video_bps
            .store(rate.sustained() as u64, Relaxed);
        // Where the ladder could step up and the path may have room, the
        // transports look for it.
        let step_up = Some(self.video_step_up_bps.load(Relaxed) as u32).filter(|&b| b > 0);
        let wanted = rate.wanted_estimate(now, step_up);
        drop(rate);
        for t in self.transports().iter() {
            t.set_wanted_bps(wanted);
        }
    }

    /// Who learns that a remote's transport failed (None: only the host,
    /// through the connection event).
    pub(crate) fn set_media_failed_hook(&self, hook: Option<MediaFailedHook>) {
        *self.media_failed.lock().unwrap_or_else(|p| p.into_inner()) = hook;
    }

    /// The transport to remote `uid` failed: tell whoever ends its session.
    pub(crate) fn media_failed(&self, uid: u32) {
        let hook = self
            .media_failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(hook) = hook {
            hook(uid);
        }
    }

    fn transports(&self) -> Arc<Vec<Arc<dyn Transport>>> {
        self.routes().send.clone()
    }

    /// Installs the session's transports; `departed` ones keep their counts.
    fn set_routes(&self, session: Option<&Session>, departed: &[&Peer]) {
        let mut r = self.routes();
        for p in departed {
            r.retired_dropped += p.remote.transport.stats().frames_dropped_full;
        }
        r.all = session
            .map(|s| s.peers.iter().map(|p| p.remote.transport.clone()).collect())
            .unwrap_or_default();
        r.send = Arc::new(session.map(Session::destinations).unwrap_or_default());
    }

    /// Frames dropped because a decoder's queue was full, so far.
    fn dropped_recv(&self) -> u64 {
        let r = self.routes();
        r.retired_dropped
            + r.all
                .iter()
                .map(|t| t.stats().frames_dropped_full)
                .sum::<u64>()
    }

    pub(crate) fn has_transports(&self) -> bool {
        !self.transports().is_empty()
    }

    /// Hands one encoded frame to every remote's transport (encode once,
    /// send to all). Returns how many got it.
    pub(crate) fn send_to_all(&self, frame: EncodedFrame) -> u64 {
        let transports = self.transports();
        if let Some((last, rest)) = transports.split_last() {
            for t in rest {
                t.send(frame.clone());
            }
            last.send(frame);
        }
        transports.len() as u64
    }

    pub(crate) fn stats(&self) -> Stats {
        let c = &self.counters;
        let l = &self.latencies;
        let g = |a: &AtomicU64| a.load(Relaxed);
        Stats {
            audio_frames_captured: g(&c.audio_frames_captured),
            audio_frames_encoded: g(&c.audio_frames_encoded),
            audio_packets_received: g(&c.audio_packets_received),
            audio_packets_lost: g(&c.audio_packets_lost),
            audio_frames_decoded: g(&c.audio_frames_decoded),
            audio_fec_recovered: g(&c.audio_fec_recovered),
            audio_concealed: g(&c.audio_concealed),
            audio_late: g(&c.audio_late),
            audio_playout_underruns: g(&c.audio_playout_underruns),
            audio_frames_removed: g(&c.audio_frames_removed),
            audio_samples_inserted: g(&c.audio_samples_inserted),
            audio_samples_removed: g(&c.audio_samples_removed),
            audio_decode_errors: g(&c.audio_decode_errors),
            audio_send_bitrate_bps: g(&c.audio_send_bps) as u32,
            audio_recv_bitrate_bps: g(&c.audio_recv_bps) as u32,
            audio_jitter_us: g(&self.audio_jitter_us),
            audio_push_dropped_frames: self.external_audio.push_dropped_frames(),
            audio_pull_silent_frames: self.external_audio.pull_silent_frames(),
            video_frames_captured: g(&c.video_frames_captured),
            video_frames_dropped_send: g(&c.video_frames_dropped_send),
            video_frames_encoded: g(&c.video_frames_encoded),
            video_encoder_skipped: g(&c.video_encoder_skipped),
            video_keyframes_sent: g(&c.video_keyframes_sent),
            video_keyframe_requests: g(&c.video_keyframe_requests),
            video_frames_received: g(&c.video_frames_received),
            video_frames_lost: g(&c.video_frames_lost),
            video_frames_dropped_recv: self.dropped_recv(),
            video_frames_decoded: g(&c.video_frames_decoded),
            video_decode_errors: g(&c.video_decode_errors),
            video_frames_discarded_waiting_keyframe: g(&c.video_frames_discarded_waiting_keyframe),
            video_frames_rendered: g(&c.video_frames_rendered),
            video_frames_dropped_render: g(&c.video_frames_dropped_render),
            video_frames_not_recorded: g(&c.video_frames_not_recorded),
            video_render_delay_us: g(&c.video_render_delay_us),
            audio_latency_us: g(&c.audio_latency_us),
            av_sync_offset_us: g(&c.av_sync_offset_us) as i64,
            audio_sync_delay_us: g(&c.audio_sync_delay_us),
            video_sync_delay_us: g(&c.video_sync_delay_us),
            video_freezes: g(&c.video_freezes),
            video_frozen_ms: g(&c.video_frozen_us) / 1000,
            audio_frames_not_recorded: g(&c.audio_frames_not_recorded),
            local_frames_rendered: g(&c.local_frames_rendered),
            local_frames_dropped_render: g(&c.local_frames_dropped_render),
            video_send_bitrate_bps: g(&c.video_send_bps) as u32,
            video_recv_bitrate_bps: g(&c.video_recv_bps) as u32,
            video_encode_latency: l.encode.summary(),
            video_transport_latency: l.transport.summary(),
            video_decode_latency: l.decode.summary(),
            video_end_to_end_latency: l.end_to_end.summary(),
            rtt_us: g(&self.rtt_us),
            egress_loss: g(&self.egress_loss_ppm) as f32 / 1e6,
            ingress_loss: g(&self.ingress_loss_ppm) as f32 / 1e6,
            bandwidth_estimate_bps: g(&self.bandwidth_estimate_bps) as u32,
            video_target_bitrate_bps: g(&self.target_video_bps) as u32,
            video_nacks_sent: g(&self.video_nacks_sent),
            video_send_width: g(&c.video_send_width) as u32,
            video_send_height: g(&c.video_send_height) as u32,
            video_send_fps: g(&c.video_send_fps) as u32,
            audio_expected_loss_pct: g(&c.audio_expected_loss_pct) as u32,
            audio_target_bitrate_bps: g(&c.audio_target_bps) as u32,
        }
    }
}

/// One remote of a session: its transport, video receive side and figures.
struct Peer {
    remote: Arc<Remote>,
    /// Set for network peers: where their signaling goes.
    webrtc: Option<Arc<WebRtcTransport>>,
    video: VideoRecv,
    /// A channel audience member (counted against [`MAX_AUDIENCE_LINKS`]).
    audience: bool,
}

/// What runs while the engine talks to someone: the echo test's loopback,
/// a 1v1 call's peer, or the members of a channel.
struct Session {
    stream: Stream,
    /// The speaker, mixing every peer's audio.
    audio: AudioRecv,
    peers: Vec<Peer>,
    /// Local stages the session started itself (and stops again).
    started_audio: bool,
    started_video: bool,
    /// Whether local media goes to the remotes (not for a channel's audience).
    sends: bool,
    audience_links: usize,
    /// A call connected ahead of being accepted: no local media yet; with
    /// video once released.
    held_video: Option<bool>,
}

impl Session {
    /// Where encoded media goes: every remote, or none for the audience.
    fn destinations(&self) -> Vec<Arc<dyn Transport>> {
        if !self.sends {
            return Vec::new();
        }
        self.peers
            .iter()
            .map(|p| p.remote.transport.clone())
            .collect()
    }

    fn webrtc(&self, uid: u32) -> Option<&Arc<WebRtcTransport>> {
        self.peers
            .iter()
            .find(|p| p.remote.uid == uid)
            .and_then(|p| p.webrtc.as_ref())
    }
}

/// Builds a session's transport to one remote.
type MakeTransport<'a> = Box<
    dyn FnOnce(TransportSink, Clock) -> Result<(Arc<dyn Transport>, Option<Arc<WebRtcTransport>>)>
        + 'a,
>;

/// The most audience members a broadcaster's channel session sends to
/// (links with broadcasters, at most 3 more, are always made).
pub const MAX_AUDIENCE_LINKS: usize = 12;

struct State {
    config: EngineConfig,
    audio_send: Option<AudioSend>,
    video_send: Option<VideoSend>,
    session: Option<Session>,
    /// The platform took the audio devices away ([`Core::interrupt_audio`]).
    audio_interrupted: bool,
    /// The microphone is wanted once the interruption ends.
    mic_on_resume: bool,
}

/// A media engine. See the module docs for threads and the crate docs for an
/// example. Most of its methods are those of [`Core`], which it derefs to.
pub struct Engine {
    core: Arc<Core>,
    signaling: Mutex<Option<crate::signal::SignalingClient>>,
    event_control: Sender<Option<EventHandler>>,
    render_control: Sender<Option<FrameHandler>>,
    threads: Vec<JoinHandle<()>>,
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|e| Error::internal(format!("spawn {name}: {e}")))
}

impl Engine {
    /// Creates an engine. Nothing is opened until a stream is started.
    pub fn new(config: EngineConfig) -> Result<Engine> {
        validate(&config)?;
        let (events_tx, events_rx) = bounded(256);
        let (render_tx, render_rx) = bounded(3);
        let shared = Arc::new(Shared {
            clock: Clock::new(),
            counters: Counters::default(),
            latencies: Latencies::default(),
            events_tx,
            render_tx,
            render_rx: render_rx.clone(),
            audio_muted: AtomicBool::new(false),
            video_muted: AtomicBool::new(false),
            keyframe_wanted: AtomicBool::new(false),
            keyframe_requested: AtomicBool::new(false),
            target_video_bps: AtomicU64::new(config.video.bitrate_bps as u64),
            skip_video_until_us: AtomicU64::new(0),
            pacer_gate: Mutex::new(PacerGate::default()),
            sustained_video_bps: AtomicU64::new(config.video.bitrate_bps as u64),
            rate: Mutex::new(RateController::new(
                config.video.min_bitrate_bps,
                config.video.max_bitrate_bps,
                config.video.bitrate_bps,
                config.audio.bitrate_bps,
            )),
            bandwidth_estimate_bps: AtomicU64::new(0),
            audio_jitter_us: AtomicU64::new(0),
            rtt_us: AtomicU64::new(0),
            egress_loss_ppm: AtomicU64::new(0),
            egress_loss_reports: AtomicU64::new(0),
            audio_redundancy: AtomicBool::new(false),
            video_step_up_bps: AtomicU64::new(0),
            ingress_loss_ppm: AtomicU64::new(0),
            video_nacks_sent: AtomicU64::new(0),
            routes: Mutex::new(Routes::default()),
            media_failed: Mutex::new(None),
            external_video: Arc::new(ExternalVideo::default()),
            background: AtomicBool::new(false),
            external_video_configured: AtomicBool::new(
                config.video_input == VideoInputConfig::External,
            ),
            external_audio: Arc::new(ExternalAudio::default()),
            far_end: FarEnd::new(),
        });
        shared
            .external_audio
            .set_capture_format(config.audio_input.external_format())?;
        shared
            .external_audio
            .set_playout_format(config.audio_output.external_format())?;
        let (event_control, event_control_rx) = unbounded();
        let (render_control, render_control_rx) = unbounded();
        let interval = config.stats_interval_ms;
        let s = shared.clone();
        let events = spawn("media-events", move || {
            events::run_events(events_rx, event_control_rx, s, interval)
        })?;
        let s = shared.clone();
        let render = spawn("media-render", move || {
            events::run_render(render_rx, render_control_rx, s)
        })?;
        let core = Arc::new(Core {
            shared,
            state: Mutex::new(State {
                config,
                audio_send: None,
                video_send: None,
                session: None,
                audio_interrupted: false,
                mic_on_resume: false,
            }),
        });
        Ok(Engine {
            core,
            signaling: Mutex::new(None),
            event_control,
            render_control,
            threads: vec![events, render],
        })
    }

    /// Sets (or with `None` clears) the event handler; every event emitted
    /// after this call reaches the new one. It runs on the
    /// "media-events" thread, one event at a time.
    pub fn set_event_handler(&self, handler: Option<EventHandler>) {
        let _ = self.event_control.send(handler);
    }

    /// Sets (or clears) the frame handler for local preview and decoded
    /// remote frames. It runs on the "media-render" thread; when it is slower
    /// than the video, the oldest queued frames are dropped and counted.
    pub fn set_frame_handler(&self, handler: Option<FrameHandler>) {
        let _ = self.render_control.send(handler);
    }

    /// Microphones the system offers.
    pub fn audio_inputs() -> Result<Vec<DeviceInfo>> {
        cpal_audio::list_inputs()
    }

    /// Speakers the system offers.
    pub fn audio_outputs() -> Result<Vec<DeviceInfo>> {
        cpal_audio::list_outputs()
    }

    /// Cameras the system offers (ids are indexes for [`VideoInputConfig::Camera`]).
    pub fn cameras() -> Result<Vec<DeviceInfo>> {
        list_cameras()
    }

    /// Connects to a rendezvous server and registers (see
    /// [`crate::signal`]); progress arrives as [`Event::Server`] events.
    /// Replaces an earlier connection.
    pub fn connect_server(&self, config: crate::signal::ServerConfig) -> Result<()> {
        let client = crate::signal::SignalingClient::start(config, Arc::downgrade(&self.core))?;
        // A failed transport ends its call (or channel link) on both sides.
        self.core
            .shared
            .set_media_failed_hook(Some(client.media_failed_hook()));
        let old = self
            .signaling
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(client);
        drop(old);
        Ok(())
    }

    /// Leaves the server (ending any call). A no-op when not connected.
    pub fn disconnect_server(&self) {
        self.core.shared.set_media_failed_hook(None);
        let old = self
            .signaling
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        drop(old);
    }

    fn signaling<T>(
        &self,
        f: impl FnOnce(&crate::signal::SignalingClient) -> Result<T>,
    ) -> Result<T> {
        match self
            .signaling
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            Some(c) => f(c),
            None => Err(Error::invalid_state(
                "not connected to a server: call connect_server first",
            )),
        }
    }

    /// Calls `user_id`, audio only or with video. Returns the call id;
    /// [`Event::Call`] events follow (ringing, accepted, ended with a reason).
    /// While it rings the media connection is set up (no microphone or
    /// camera opens, nothing is sent), so that media flows as soon as the
    /// call is accepted.
    pub fn call(&self, user_id: &str, video: bool) -> Result<String> {
        self.signaling(|c| c.call(user_id, video))
    }

    /// Accepts the ringing incoming call `call_id`.
    pub fn accept(&self, call_id: &str) -> Result<()> {
        self.signaling(|c| c.accept(call_id))
    }

    /// Rejects the ringing incoming call `call_id`.
    pub fn reject(&self, call_id: &str) -> Result<()> {
        self.signaling(|c| c.reject(call_id))
    }

    /// Ends the current call: cancels it while it rings, hangs up once
    /// connected, rejects it when it is an incoming one.
    pub fn hangup(&self) -> Result<()> {
        self.signaling(|c| c.hangup())
    }

    /// Hands the server a fresh token before the current one expires.
    pub fn renew_token(&self, token: &str) -> Result<()> {
        self.signaling(|c| c.renew_token(token))
    }

    /// Joins a channel with `uid` (0: the server assigns one). Once the
    /// server confirms ([`crate::signal::ChannelEvent::Joined`]), media
    /// flows with every member where one of the two is a broadcaster: a
    /// broadcaster's microphone and camera start (without a camera it goes
    /// on audio-only, with an error event), the audience only receives.
    /// Each remote's video arrives as [`FrameSource::Remote`] with its uid,
    /// its figures in [`Core::remote_stats`]. One channel at a time, and not
    /// during a call (`InvalidState`). After a lost server connection the
    /// engine joins again with the same uid.
    pub fn join_channel(&self, channel: &str, uid: u32, audience: bool) -> Result<()> {
        self.signaling(|c| c.join(channel, uid, audience))
    }

    /// Leaves a channel: its media stops at once (and the local streams it
    /// started), [`crate::signal::ChannelEvent::Left`] follows.
    pub fn leave_channel(&self, channel: &str) -> Result<()> {
        self.signaling(|c| c.leave(channel))
    }

    /// Mutes (sends silence) or unmutes the microphone; capture goes on.
    /// In a call the peer is told ([`crate::signal::CallEvent::RemoteMute`]).
    pub fn mute_local_audio(&self, muted: bool) {
        self.core.mute_local_audio(muted);
        self.tell_peer_mute();
    }

    /// Stops (or resumes) sending video; the local preview goes on. Resuming
    /// starts with a keyframe. In a call the peer is told.
    pub fn mute_local_video(&self, muted: bool) {
        self.core.mute_local_video(muted);
        self.tell_peer_mute();
    }

    fn tell_peer_mute(&self) {
        let (audio, video) = self.core.muted();
        if let Some(c) = self
            .signaling
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            c.mute_changed(audio, video);
        }
    }
}

impl std::ops::Deref for Engine {
    type Target = Core;
    fn deref(&self) -> &Core {
        &self.core
    }
}

/// The engine's media side: devices, stages and sessions. Reached through
/// [`Engine`].
pub struct Core {
    shared: Arc<Shared>,
    state: Mutex<State>,
}

impl Core {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn emit(&self, event: Event) {
        events::emit(&self.shared.events_tx, event);
    }

    /// Selects the microphone. A running local audio stream switches to it.
    pub fn set_audio_input(&self, input: AudioInputConfig) -> Result<()> {
        let mut st = self.state();
        self.shared
            .external_audio
            .set_capture_format(input.external_format())?;
        st.config.audio_input = input;
        if let Some(stage) = st.audio_send.take() {
            stage.stop();
            self.start_audio_send(&mut st)?;
        }
        Ok(())
    }

    /// Selects the speaker. A running session (echo test, call, channel)
    /// moves its playout to it; if the new one cannot be opened the old one
    /// keeps playing and the error is returned.
    pub fn set_audio_output(&self, output: AudioOutputConfig) -> Result<()> {
        let mut st = self.state();
        self.shared
            .external_audio
            .set_playout_format(output.external_format())?;
        if st.session.is_some() {
            let device = self.open_output(&output)?;
            let shared = self.shared.clone();
            if let Some(s) = st.session.as_mut() {
                s.audio.switch_output(device, &shared)?;
            }
        }
        st.config.audio_output = output;
        Ok(())
    }

    /// Selects the camera. A running preview switches to it.
    pub fn set_video_input(&self, input: VideoInputConfig) -> Result<()> {
        let mut st = self.state();
        self.shared
            .external_video_configured
            .store(input == VideoInputConfig::External, Relaxed);
        st.config.video_input = input;
        if let Some(stage) = st.video_send.take() {
            stage.stop();
            self.start_video_send(&mut st)?;
        }
        Ok(())
    }

    fn open_output(&self, config: &AudioOutputConfig) -> Result<Box<dyn AudioOutput>> {
        Ok(match config {
            AudioOutputConfig::Default => Box::new(CpalOutput::new(None)),
            AudioOutputConfig::Device(id) => Box::new(CpalOutput::new(Some(id.clone()))),
            AudioOutputConfig::WavFile(p) => {
                Box::new(FakeOutput::new(Box::new(WavSink::create(p)?)))
            }
            AudioOutputConfig::Null => Box::new(FakeOutput::new(Box::new(NullSink))),
            AudioOutputConfig::External { .. } => {
                Box::new(ExternalAudioOutput::new(self.shared.external_audio.clone()))
            }
        })
    }

    fn start_audio_send(&self, st: &mut State) -> Result<()> {
        if st.audio_interrupted {
            // Opened when the interruption ends.
            st.mic_on_resume = true;
            return Ok(());
        }
        let input: Box<dyn AudioInput> = match &st.config.audio_input {
            AudioInputConfig::Default => Box::new(CpalInput::new(None)),
            AudioInputConfig::Device(id) => Box::new(CpalInput::new(Some(id.clone()))),
            &AudioInputConfig::Tone {
                freq_hz,
                level_dbfs,
            } => Box::new(FakeInput::new(FakeSignal::Tone {
                freq_hz,
                level_dbfs,
            })),
            AudioInputConfig::WavFile(p) => {
                Box::new(FakeInput::new(FakeSignal::WavFile(p.clone())))
            }
            AudioInputConfig::Silence => Box::new(FakeInput::new(FakeSignal::Silence)),
            AudioInputConfig::External { .. } => {
                Box::new(ExternalAudioInput::new(self.shared.external_audio.clone()))
            }
        };
        let voice = st
            .config
            .voice_processing
            .resolve(st.config.audio_input.is_system());
        match AudioSend::start(input, st.config.audio, voice, self.shared.clone()) {
            Ok(stage) => {
                st.audio_send = Some(stage);
                self.emit(Event::StateChanged {
                    stream: Stream::LocalAudio,
                    state: StreamState::Started,
                });
                Ok(())
            }
            Err(e) => {
                self.emit(Event::StateChanged {
                    stream: Stream::LocalAudio,
                    state: StreamState::Failed,
                });
                Err(e)
            }
        }
    }

    fn start_video_send(&self, st: &mut State) -> Result<()> {
        let v = st.config.video;
        let format = VideoFormat {
            width: v.width,
            height: v.height,
            fps: v.fps,
        };
        let clock = self.shared.clock;
        let input: Box<dyn VideoInput> = match &st.config.video_input {
            &VideoInputConfig::Camera(index) => Box::new(CameraSource::new(index, format, clock)),
            VideoInputConfig::TestPattern => Box::new(PatternSource::new(format, clock)?),
            VideoInputConfig::Y4mFile(p) => Box::new(Y4mSource::new(p.clone(), clock)),
            VideoInputConfig::External => Box::new(ExternalVideoInput::new(
                self.shared.external_video.clone(),
                format,
            )),
        };
        let follow_input_size = st.config.video_input == VideoInputConfig::External;
        let started = st.config.video_codec.codec().and_then(|codec| {
            VideoSend::start(input, v, codec, follow_input_size, self.shared.clone())
        });
        match started {
            Ok(stage) => {
                st.video_send = Some(stage);
                self.shared.keyframe_wanted.store(true, Relaxed);
                self.emit(Event::StateChanged {
                    stream: Stream::LocalVideo,
                    state: StreamState::Started,
                });
                Ok(())
            }
            Err(e) => {
                self.emit(Event::StateChanged {
                    stream: Stream::LocalVideo,
                    state: StreamState::Failed,
                });
                Err(e)
            }
        }
    }

    /// Hands a frame the host captured to the engine
    /// ([`VideoInputConfig::External`]): it is converted to upright I420,
    /// shown as the local preview and encoded at its own size (a new size
    /// restarts the encoder with a keyframe). Call from any thread, at the
    /// host's own rate; frames pushed faster than the encoder runs replace
    /// the oldest waiting one (counted in `video_frames_dropped_send`), and
    /// frames pushed while no local video runs (no preview, call or
    /// channel) are discarded. `InvalidState` when the engine was not
    /// configured for external video; `InvalidArgument` for a frame whose
    /// size, strides, planes or rotation do not add up (or whose upright
    /// size the encoder refuses).
    pub fn push_video_frame(&self, frame: &PushedFrame<'_>) -> Result<()> {
        if !self.shared.external_video_configured.load(Relaxed) {
            return Err(Error::invalid_state(
                "the engine's video input is not External: configure VideoInputConfig::External",
            ));
        }
        let (w, h) = frame.upright_size();
        crate::codec::video::check_size(w, h)?;
        self.shared
            .external_video
            .push(frame, &self.shared.clock)
            .map(|_| ())
    }

    /// Hands the host's microphone PCM to the engine
    /// ([`AudioInputConfig::External`]): interleaved 16-bit samples at the
    /// configured rate and channel count, a whole number of frames, in
    /// chunks of any size (10 ms is typical). Real-time safe: it copies into
    /// a lock-free ring and never allocates, waits or makes a system call,
    /// so it may run in the host's audio callback. Samples pushed while no
    /// local audio runs are discarded; pushing faster than real time fills
    /// the ring (half a second) and the excess is dropped and counted in
    /// [`Stats::audio_push_dropped_frames`]. `InvalidState` when the input
    /// is not external, or when another thread is pushing at that moment;
    /// `InvalidArgument` for a partial frame.
    pub fn push_audio(&self, pcm: &[i16]) -> Result<()> {
        self.shared.external_audio.push(pcm)
    }

    /// Fills `out` with the next interleaved 16-bit samples for the host's
    /// speaker ([`AudioOutputConfig::External`]), at the configured rate and
    /// channel count; whatever has not been decoded yet (no session, a
    /// remote still connecting, a stall) is silence, counted in
    /// [`Stats::audio_pull_silent_frames`]. Returns how many frames were
    /// real audio. The host's pulls set the pace of playout, so call it
    /// from the speaker's callback. Real-time safe, like
    /// [`Core::push_audio`]; the same errors.
    pub fn pull_audio(&self, out: &mut [i16]) -> Result<usize> {
        self.shared.external_audio.pull(out)
    }

    /// Opens the microphone and starts encoding. Starting twice is a no-op.
    pub fn start_local_audio(&self) -> Result<()> {
        let mut st = self.state();
        if st.audio_send.is_some() {
            return Ok(());
        }
        self.start_audio_send(&mut st)
    }

    /// The platform interrupted audio (a phone call, Siri, an alarm; iOS
    /// `AVAudioSession.interruptionNotification`, Android losing audio
    /// focus): the microphone and the speaker are released, while the call
    /// or channel, its connection and video go on; received audio is
    /// played into nothing meanwhile. [`Core::resume_audio`] opens them
    /// again. Streams started during the interruption open their devices
    /// when it ends. Calling it twice is a no-op.
    pub fn interrupt_audio(&self) {
        let mut st = self.state();
        if st.audio_interrupted {
            return;
        }
        st.audio_interrupted = true;
        if let Some(stage) = st.audio_send.take() {
            stage.stop();
            st.mic_on_resume = true;
            self.emit(Event::StateChanged {
                stream: Stream::LocalAudio,
                state: StreamState::Stopped,
            });
        }
        let shared = self.shared.clone();
        if let Some(s) = st.session.as_mut() {
            if let Err(e) = s.audio.switch_output(null_output(), &shared) {
                self.emit(Event::Error {
                    kind: e.kind(),
                    message: format!("releasing the speaker: {}", e.message()),
                });
            }
        }
    }

    /// The interruption is over: the speaker (the configured output) and
    /// the microphone, if it was on, open again. An error (a device that
    /// cannot be opened now) leaves the engine interrupted, so the host can
    /// try again. A no-op when not interrupted.
    pub fn resume_audio(&self) -> Result<()> {
        let mut st = self.state();
        if !st.audio_interrupted {
            return Ok(());
        }
        if st.session.is_some() {
            let device = self.open_output(&st.config.audio_output)?;
            let shared = self.shared.clone();
            if let Some(s) = st.session.as_mut() {
                s.audio.switch_output(device, &shared)?;
            }
        }
        st.audio_interrupted = false;
        if std::mem::take(&mut st.mic_on_resume) && st.audio_send.is_none() {
            self.start_audio_send(&mut st)?;
        }
        Ok(())
    }

    /// Whether audio is interrupted ([`Core::interrupt_audio`]).
    pub fn audio_interrupted(&self) -> bool {
        self.state().audio_interrupted
    }

    /// The app went to the background (`true`) or came back (`false`):
    /// video stops being sent (the camera or the host's pushes may go on)
    /// while audio goes on; back in the foreground the next frame is a
    /// keyframe. Independent of [`Core::mute_local_video`].
    pub fn set_background(&self, background: bool) {
        let was = self.shared.background.swap(background, Relaxed);
        if was && !background {
            self.shared.keyframe_wanted.store(true, Relaxed);
        }
    }

    /// Closes the microphone. Stopping twice is a no-op.
    pub fn stop_local_audio(&self) {
        let mut st = self.state();
        st.mic_on_resume = false;
        if let Some(stage) = st.audio_send.take() {
            stage.stop();
            self.emit(Event::StateChanged {
                stream: Stream::LocalAudio,
                state: StreamState::Stopped,
            });
        }
        if let Some(s) = st.session.as_mut() {
            s.started_audio = false;
        }
    }

    /// Opens the camera and starts the local preview (frames reach the frame
    /// handler as [`FrameSource::Local`]). Starting twice is a no-op.
    pub fn start_local_preview(&self) -> Result<()> {
        let mut st = self.state();
        if st.video_send.is_some() {
            return Ok(());
        }
        self.start_video_send(&mut st)
    }

    /// Closes the camera. Stopping twice is a no-op.
    pub fn stop_local_preview(&self) {
        let mut st = self.state();
        if let Some(stage) = st.video_send.take() {
            stage.stop();
            self.emit(Event::StateChanged {
                stream: Stream::LocalVideo,
                state: StreamState::Stopped,
            });
        }
        if let Some(s) = st.session.as_mut() {
            s.started_video = false;
        }
    }

    /// Mutes (sends silence) or unmutes the microphone; capture goes on.
    pub fn mute_local_audio(&self, muted: bool) {
        self.shared.audio_muted.store(muted, Relaxed);
    }

    /// Whether the microphone and the camera are muted.
    pub fn muted(&self) -> (bool, bool) {
        (
            self.shared.audio_muted.load(Relaxed),
            self.shared.video_muted.load(Relaxed),
        )
    }

    /// Stops (or resumes) sending video; the local preview goes on. Resuming
    /// starts with a keyframe.
    pub fn mute_local_video(&self, muted: bool) {
        if !muted && self.shared.video_muted.load(Relaxed) {
            self.shared.keyframe_wanted.store(true, Relaxed);
        }
        self.shared.video_muted.store(muted, Relaxed);
    }

    /// Changes the video encoder's target bitrate (clamped to the configured
    /// bounds) while running.
    pub fn set_video_bitrate(&self, bps: u32) -> Result<()> {
        let st = self.state();
        let v = st.config.video;
        if bps < v.min_bitrate_bps || bps > v.max_bitrate_bps {
            return Err(Error::invalid_argument(format!(
                "bitrate {bps} outside the configured {}..={}",
                v.min_bitrate_bps, v.max_bitrate_bps
            )));
        }
        self.shared
            .steer_rate(|rate, now| rate.set_user_cap(now, Some(bps)));
        Ok(())
    }

    /// Starts the echo test: what the microphone hears comes back out of
    /// the speaker and what the camera sees comes back decoded (as
    /// [`FrameSource::Remote`] with uid 0), through encoders, the loopback
    /// transport (with the configured impairment), jitter buffer and
    /// decoders. Starts local audio and preview if they are not running.
    /// When the camera cannot be opened, an [`Event::Error`] says why and the
    /// test goes on with audio only. A no-op if running.
    pub fn start_echo_test(&self) -> Result<()> {
        let mut st = self.state();
        match &st.session {
            Some(s) if s.stream == Stream::EchoTest => return Ok(()),
            Some(s) => return Err(busy(s.stream)),
            None => {}
        }
        let started_audio = st.audio_send.is_none();
        let started_video = st.video_send.is_none();
        self.start_session(&mut st, Stream::EchoTest, started_audio, started_video)?;
        if let Err(e) = self.add_loopback(&mut st) {
            self.stop_session_of_locked(&mut st, Stream::EchoTest);
            return Err(e);
        }
        Ok(())
    }

    fn add_loopback(&self, st: &mut State) -> Result<()> {
        let loopback = st.config.loopback;
        self.add_peer(
            st,
            0,
            Box::new(move |sink, clock| {
                let t = LoopbackTransport::new(loopback, sink, clock)
                    .map_err(|e| Error::internal(format!("start loopback: {e}")))?;
                Ok((Arc::new(t), None))
            }),
        )
    }

    /// Starts a call with one network peer over WebRTC (ICE, DTLS-SRTP,
    /// H.264 + Opus): the offerer sends its offer through `signals` at once,
    /// the answerer answers the offer given to [`Engine::handle_peer_signal`];
    /// candidates trickle both ways the same way. Local audio and preview
    /// start if they are not running. Connection progress arrives as
    /// [`Event::Connection`]; the bandwidth estimate steers the video
    /// bitrate within the configured bounds. `InvalidState` while another
    /// session (an echo test, a peer or a channel) runs.
    pub fn start_peer(
        &self,
        role: Role,
        config: WebRtcConfig,
        signals: Box<dyn FnMut(Signal) + Send>,
    ) -> Result<()> {
        self.start_call(role, config, signals, false)
    }

    /// A call session with one network peer; `held`: no local media and
    /// nothing sent until [`Core::release_peer`].
    fn start_call(
        &self,
        role: Role,
        config: WebRtcConfig,
        signals: Box<dyn FnMut(Signal) + Send>,
        held: bool,
    ) -> Result<()> {
        let mut st = self.state();
        if let Some(s) = &st.session {
            return Err(busy(s.stream));
        }
        let video = config.video;
        let start_audio = !held && st.audio_send.is_none();
        let start_video = !held && video && st.video_send.is_none();
        self.start_session(&mut st, Stream::Call, start_audio, start_video)?;
        if held {
            if let Some(s) = st.session.as_mut() {
                s.sends = false;
                s.held_video = Some(video);
            }
        }
        if let Err(e) = self.add_network_peer(&mut st, 0, role, config, signals) {
            self.stop_session_of_locked(&mut st, Stream::Call);
            return Err(e);
        }
        Ok(())
    }

    fn add_network_peer(
        &self,
        st: &mut State,
        uid: u32,
        role: Role,
        mut config: WebRtcConfig,
        signals: Box<dyn FnMut(Signal) + Send>,
    ) -> Result<()> {
        let v = st.config.video;
        let audio_bps = st.config.audio.bitrate_bps;
        config.start_bitrate_bps = v.bitrate_bps + audio_bps;
        config.min_bitrate_bps = v.min_bitrate_bps + audio_bps;
        config.max_bitrate_bps = v.max_bitrate_bps + audio_bps;
        self.add_peer(
            st,
            uid,
            Box::new(move |sink, clock| {
                let t = Arc::new(WebRtcTransport::new(config, role, sink, signals, clock)?);
                Ok((t.clone() as Arc<dyn Transport>, Some(t)))
            }),
        )
    }

    /// Connects a call's transport while it rings, without opening the
    /// microphone or camera and without sending anything: ICE and DTLS are
    /// done by the time the call is accepted, and [`Core::release_peer`]
    /// then starts the media at once.
    pub(crate) fn preconnect_peer(
        &self,
        role: Role,
        config: WebRtcConfig,
        signals: Box<dyn FnMut(Signal) + Send>,
    ) -> Result<()> {
        self.start_call(role, config, signals, true)
    }

    /// The call was accepted: a pre-connected peer session starts its local
    /// media and sends. `Ok(false)` when there is none to release.
    pub(crate) fn release_peer(&self) -> Result<bool> {
        let mut st = self.state();
        let video = match st.session.as_mut() {
            Some(s) if s.stream == Stream::Call => match s.held_video.take() {
                Some(video) => video,
                None => return Ok(false),
            },
            _ => return Ok(false),
        };
        let start_audio = st.audio_send.is_none();
        let start_video = video && st.video_send.is_none();
        self.start_locals(&mut st, Stream::Call, start_audio, start_video)?;
        if let Some(s) = st.session.as_mut() {
            s.sends = true;
            self.shared.set_routes(Some(s), &[]);
        }
        self.shared.keyframe_wanted.store(true, Relaxed);
        Ok(true)
    }

    /// Feeds the peer's offer, answer or ICE candidate to the running peer
    /// session. `InvalidState` when none runs.
    pub fn handle_peer_signal(&self, signal: Signal) -> Result<()> {
        self.handle_member_signal(0, signal)
    }

    /// Ends the peer session (and the local streams it started). A no-op
    /// when none runs.
    pub fn stop_peer(&self) {
        self.stop_session_of(Stream::Call);
    }

    /// The UDP addresses the running peer session listens on.
    pub fn peer_local_addrs(&self) -> Vec<std::net::SocketAddr> {
        let st = self.state();
        st.session
            .as_ref()
            .and_then(|s| s.webrtc(0))
            .map(|p| p.local_addrs().to_vec())
            .unwrap_or_default()
    }

    /// Starts the media of a channel: the speaker, and for a broadcaster
    /// the microphone and camera (a missing camera leaves it audio-only).
    /// Members are added with [`Core::add_channel_member`] as the channel
    /// reports them. `InvalidState` while another session runs.
    pub(crate) fn start_channel(&self, broadcaster: bool) -> Result<()> {
        let mut st = self.state();
        match &st.session {
            // Joined again after a lost server connection.
            Some(s) if s.stream == Stream::Channel => return Ok(()),
            Some(s) => return Err(busy(s.stream)),
            None => {}
        }
        let audio = broadcaster && st.audio_send.is_none();
        let video = broadcaster && st.video_send.is_none();
        self.start_session(&mut st, Stream::Channel, audio, video)?;
        if let Some(s) = st.session.as_mut() {
            // The audience only receives, even with a preview running.
            s.sends = broadcaster;
        }
        Ok(())
    }

    /// Starts media with channel member `uid` over WebRTC. Links with
    /// audience members (`broadcaster` false) are capped at
    /// [`MAX_AUDIENCE_LINKS`].
    pub(crate) fn add_channel_member(
        &self,
        uid: u32,
        broadcaster: bool,
        role: Role,
        config: WebRtcConfig,
        signals: Box<dyn FnMut(Signal) + Send>,
    ) -> Result<()> {
        let mut st = self.state();
        match &mut st.session {
            Some(s) if s.stream == Stream::Channel => {
                if !broadcaster {
                    s.audience_links += 1;
                    if s.audience_links > MAX_AUDIENCE_LINKS {
                        s.audience_links -= 1;
                        return Err(Error::invalid_state(format!(
                            "media goes to at most {MAX_AUDIENCE_LINKS} audience members"
                        )));
                    }
                }
            }
            _ => return Err(Error::invalid_state("no channel session is running")),
        }
        let added = self.add_network_peer(&mut st, uid, role, config, signals);
        if added.is_ok() && !broadcaster {
            if let Some(p) = st.session.as_mut().and_then(|s| s.peers.last_mut()) {
                p.audience = true;
            }
        } else if added.is_err() && !broadcaster {
            if let Some(s) = st.session.as_mut() {
                s.audience_links -= 1;
            }
        }
        added
    }

    /// Feeds member `uid`'s signaling to its connection.
    pub(crate) fn handle_member_signal(&self, uid: u32, signal: Signal) -> Result<()> {
        let st = self.state();
        match st.session.as_ref().and_then(|s| s.webrtc(uid)) {
            Some(peer) => {
                peer.handle_signal(signal);
                Ok(())
            }
            None => Err(Error::invalid_state(format!(
                "no media connection with uid {uid}"
            ))),
        }
    }

    /// Ends media with channel member `uid`; a no-op for strangers.
    pub(crate) fn remove_channel_member(&self, uid: u32) {
        let mut st = self.state();
        let Some(session) = st.session.as_mut() else {
            return;
        };
        if session.stream != Stream::Channel {
            return;
        }
        let Some(i) = session.peers.iter().position(|p| p.remote.uid == uid) else {
            return;
        };
        let peer = session.peers.remove(i);
        if peer.audience {
            session.audience_links -= 1;
        }
        session.audio.remove(uid);
        self.shared.set_routes(Some(session), &[&peer]);
        peer.video.stop();
    }

    /// Ends the channel's media (and the local streams it started).
    pub(crate) fn stop_channel(&self) {
        self.stop_session_of(Stream::Channel);
    }

    /// Statistics of each remote of the running session.
    pub fn remote_stats(&self) -> Vec<RemoteStats> {
        let now = self.shared.clock.now_us();
        let st = self.state();
        st.session
            .iter()
            .flat_map(|s| s.peers.iter())
            .map(|p| p.remote.stats(now))
            .collect()
    }

    /// Starts the speaker side of a session and the local stages asked for;
    /// remotes are added with [`Core::add_peer`].
    fn start_session(
        &self,
        st: &mut State,
        stream: Stream,
        start_audio: bool,
        start_video: bool,
    ) -> Result<()> {
        let fail = |e: Error| {
            self.emit(Event::StateChanged {
                stream,
                state: StreamState::Failed,
            });
            e
        };
        let output = if st.audio_interrupted {
            null_output()
        } else {
            self.open_output(&st.config.audio_output).map_err(fail)?
        };
        let audio = AudioRecv::start(
            output,
            st.config.jitter,
            st.config.video_delay,
            st.config.lip_sync,
            st.config.record_remote_audio.as_deref(),
            stream,
            self.shared.clone(),
        )
        .map_err(fail)?;
        self.shared.keyframe_wanted.store(true, Relaxed);
        // A receiver's request left from the last session asks nothing of
        // this one: answered by its first IDR, sent before the connection
        // is up, it would start the keyframe policy's wait.
        self.shared.keyframe_requested.store(false, Relaxed);
        let start = st.config.video.bitrate_bps;
        self.shared
            .steer_rate(|rate, now| rate.new_session(now, start));
        st.session = Some(Session {
            stream,
            audio,
            peers: Vec::new(),
            started_audio: false,
            started_video: false,
            sends: true,
            audience_links: 0,
            held_video: None,
        });
        self.start_locals(st, stream, start_audio, start_video)
            .map_err(fail)?;
        self.emit(Event::StateChanged {
            stream,
            state: StreamState::Started,
        });
        Ok(())
    }

    /// Starts the local stages a session asked for. A missing microphone or
    /// camera only costs that stream (with an error event); other failures
    /// stop the session.
    fn start_locals(
        &self,
        st: &mut State,
        stream: Stream,
        start_audio: bool,
        start_video: bool,
    ) -> Result<()> {
        use crate::error::ErrorKind::*;
        let device_problem = |e: &Error| {
            matches!(
                e.kind(),
                NoDevice | DeviceUnavailable | PermissionDenied | NotFound
            )
        };
        if start_audio {
            if let Err(e) = self.start_audio_send(st) {
                if device_problem(&e) {
                    // No usable microphone: the session still receives (and
                    // sends video if it can).
                    self.emit(Event::Error {
                        kind: e.kind(),
                        message: format!("continuing without a microphone: {}", e.message()),
                    });
                } else {
                    self.stop_session(st);
                    return Err(e);
                }
            }
        }
        if start_video {
            if let Err(e) = self.start_video_send(st) {
                let something_runs = st.audio_send.is_some() || stream != Stream::EchoTest;
                if device_problem(&e) && something_runs {
                    // No usable camera: the session goes on without video.
                    self.emit(Event::Error {
                        kind: e.kind(),
                        message: format!("continuing without video: {}", e.message()),
                    });
                } else {
                    if start_audio {
                        if let Some(a) = st.audio_send.take() {
                            a.stop();
                        }
                    }
                    self.stop_session(st);
                    return Err(e);
                }
            }
        }
        let video_running = st.video_send.is_some();
        if let Some(s) = st.session.as_mut() {
            s.started_audio = start_audio;
            s.started_video = start_video && video_running;
        }
        Ok(())
    }

    /// Adds a remote to the running session: its transport, video decoder
    /// (and recording) and a track in the audio mix.
    fn add_peer(&self, st: &mut State, uid: u32, make: MakeTransport<'_>) -> Result<()> {
        let Some(stream) = st.session.as_ref().map(|s| s.stream) else {
            return Err(Error::invalid_state("no session is running"));
        };
        if st.session.as_ref().and_then(|s| s.webrtc(uid)).is_some() {
            return Err(Error::invalid_state(format!(
                "a media connection with uid {uid} exists"
            )));
        }
        let recorder = match &st.config.record_remote_video {
            Some(p) if stream == Stream::Channel => {
                Some(Y4mWriter::create(member_path(p, uid), st.config.video.fps)?)
            }
            Some(p) => Some(Y4mWriter::create(p, st.config.video.fps)?),
            None => None,
        };
        let (audio_tx, audio_rx) = bounded(64);
        // Room for the burst a NACK repair releases (the frames held
        // behind the repaired one come at once): a frame dropped here is a
        // gap that waits for a keyframe.
        let (video_tx, video_rx) = bounded(VIDEO_RECV_QUEUE);
        // Feedback comes ~50 times a second (round trips 40, the pacer's
        // report 10) and is read every 5 ms: room for a second's stall of
        // the reader before any is lost (a state change or a keyframe
        // request among it).
        let (fb_tx, fb_rx) = bounded(256);
        let sink = TransportSink {
            audio: audio_tx,
            video: video_tx,
            feedback: fb_tx,
        };
        let (transport, webrtc) = make(sink, self.shared.clock)?;
        let remote = Arc::new(Remote::new(uid, transport));
        let video = VideoRecv::start(
            video_rx,
            recorder,
            remote.clone(),
            st.config.video_delay,
            st.config.lip_sync,
            st.config.video_codec.codec(),
            stream,
            self.shared.clone(),
        )?;
        let session = st.session.as_mut().expect("checked above");
        session.audio.add(RemoteAudio {
            remote: remote.clone(),
            frames: audio_rx,
            feedback: fb_rx,
        });
        session.peers.push(Peer {
            remote,
            webrtc,
            video,
            audience: false,
        });
        self.shared.set_routes(Some(session), &[]);
        // The newcomer's decoder starts at a keyframe.
        self.shared.keyframe_wanted.store(true, Relaxed);
        Ok(())
    }

    /// Stops the session's receive side and transports; returns which local
    /// stages it had started.
    fn stop_session(&self, st: &mut State) -> (bool, bool) {
        let Some(s) = st.session.take() else {
            return (false, false);
        };
        self.shared
            .set_routes(None, &s.peers.iter().collect::<Vec<_>>());
        s.audio.stop();
        for p in s.peers {
            p.video.stop();
        }
        (s.started_audio, s.started_video)
    }

    /// Stops the echo test, and the local streams it started. A no-op when
    /// not running.
    pub fn stop_echo_test(&self) {
        self.stop_session_of(Stream::EchoTest);
    }

    fn stop_session_of(&self, stream: Stream) {
        let mut st = self.state();
        self.stop_session_of_locked(&mut st, stream);
    }

    fn stop_session_of_locked(&self, st: &mut State, stream: Stream) {
        if st.session.as_ref().map(|s| s.stream) != Some(stream) {
            return;
        }
        let (audio, video) = self.stop_session(st);
        if audio {
            if let Some(a) = st.audio_send.take() {
                a.stop();
                self.emit(Event::StateChanged {
                    stream: Stream::LocalAudio,
                    state: StreamState::Stopped,
                });
            }
        }
        if video {
            if let Some(v) = st.video_send.take() {
                v.stop();
                self.emit(Event::StateChanged {
                    stream: Stream::LocalVideo,
                    state: StreamState::Stopped,
                });
            }
        }
        self.emit(Event::StateChanged {
            stream,
            state: StreamState::Stopped,
        });
    }

    /// Whether the echo test runs.
    pub fn echo_test_running(&self) -> bool {
        self.state()
            .session
            .as_ref()
            .is_some_and(|s| s.stream == Stream::EchoTest)
    }

    /// A snapshot of the statistics (all remotes together; see
    /// [`Core::remote_stats`] for each).
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// The engine's clock, in microseconds since it was created (the time
    /// base of frame timestamps).
    pub fn now_us(&self) -> u64 {
        self.shared.clock.now_us()
    }
}

/// A speaker that plays into nothing, in real time: playout goes on (the
/// jitter buffers keep their timing) while no device is held.
fn null_output() -> Box<dyn AudioOutput> {
    Box::new(FakeOutput::new(Box::new(NullSink)))
}

fn busy(stream: Stream) -> Error {
    Error::invalid_state(format!("a {stream:?} session is running; stop it first"))
}

/// Where channel member `uid`'s recording goes: `dir/video.y4m` becomes
/// `dir/video-<uid>.y4m`.
pub fn member_path(path: &std::path::Path, uid: u32) -> std::path::PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{uid}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{uid}"),
    };
    path.with_file_name(name)
}

/// The longest delay (and jitter) the echo test's loopback may add.
pub const MAX_LOOPBACK_DELAY_US: u64 = 10_000_000;
/// Bounds of [`EngineConfig::stats_interval_ms`] (0 turns stats events off).
pub const MIN_STATS_INTERVAL_MS: u32 = 100;
pub const MAX_STATS_INTERVAL_MS: u32 = 3_600_000;

fn validate(c: &EngineConfig) -> Result<()> {
    let v = &c.video;
    crate::codec::video::check_size(v.width, v.height)?;
    if v.fps == 0 || v.fps > 120 {
        return Err(Error::invalid_argument(format!(
            "video fps {} outside 1..=120",
            v.fps
        )));
    }
    if v.min_bitrate_bps > v.max_bitrate_bps
        || v.bitrate_bps < v.min_bitrate_bps
        || v.bitrate_bps > v.max_bitrate_bps
    {
        return Err(Error::invalid_argument(
            "video bitrate must satisfy min <= bitrate <= max",
        ));
    }
    // Every target the engine sets lies within these: a codec takes it.
    crate::codec::video::check_bitrate(v.min_bitrate_bps)?;
    crate::codec::video::check_bitrate(v.max_bitrate_bps)?;
    let l = &c.loopback;
    if !(0.0..=1.0).contains(&l.audio_loss) || !(0.0..=1.0).contains(&l.video_loss) {
        return Err(Error::invalid_argument(
            "loopback loss must be within 0..=1",
        ));
    }
    if l.delay_us > MAX_LOOPBACK_DELAY_US || l.jitter_us > MAX_LOOPBACK_DELAY_US {
        return Err(Error::invalid_argument(format!(
            "loopback delay and jitter must each be at most {} ms",
            MAX_LOOPBACK_DELAY_US / 1000
        )));
    }
    if c.stats_interval_ms != 0
        && !(MIN_STATS_INTERVAL_MS..=MAX_STATS_INTERVAL_MS).contains(&c.stats_interval_ms)
    {
        return Err(Error::invalid_argument(format!(
            "stats_interval_ms {} must be 0 (off) or within {MIN_STATS_INTERVAL_MS}..={MAX_STATS_INTERVAL_MS}",
            c.stats_interval_ms
        )));
    }
    let files = [
        ("record_remote_video", c.record_remote_video.as_deref()),
        ("record_remote_audio", c.record_remote_audio.as_deref()),
        (
            "audio_output",
            match &c.audio_output {
                AudioOutputConfig::WavFile(p) => Some(p.as_path()),
                _ => None,
            },
        ),
    ];
    for (what, path) in files {
        let Some(path) = path else { continue };
        if path.as_os_str().is_empty() {
            return Err(Error::invalid_argument(format!("{what}: empty path")));
        }
        let folder = match path.parent() {
            Some(f) if !f.as_os_str().is_empty() => f,
            _ => std::path::Path::new("."),
        };
        if !folder.is_dir() {
            return Err(Error::new(
                crate::ErrorKind::NotFound,
                format!("{what}: folder {} does not exist", folder.display()),
            ));
        }
    }
    if c.jitter.min_frames == 0 || c.jitter.max_frames < 2 * c.jitter.min_frames {
        return Err(Error::invalid_argument(
            "jitter buffer needs min_frames >= 1 and max_frames >= 2 * min_frames",
        ));
    }
    c.voice_processing.validate()?;
    crate::codec::opus::OpusEncoder::new(c.audio).map(|_| ())
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.disconnect_server();
        let mut st = self.core.state();
        self.core.stop_session(&mut st);
        if let Some(a) = st.audio_send.take() {
            a.stop();
        }
        if let Some(v) = st.video_send.take() {
            v.stop();
        }
        drop(st);
        // Closing the control channels ends the event and render threads.
        let (dead_tx, _) = unbounded();
        drop(std::mem::replace(&mut self.event_control, dead_tx));
        let (dead_tx, _) = unbounded();
        drop(std::mem::replace(&mut self.render_control, dead_tx));
        let me = std::thread::current().id();
        for t in self.threads.drain(..) {
            // Dropped from inside a handler: that thread ends by itself.
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
    }
}
