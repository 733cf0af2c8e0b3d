//! What the engine tells its host: [`Event`]s on the event thread
//! ("media-events") and video frames on the render thread ("media-render").
//! Both threads live as long as the engine; handlers are swapped by message,
//! so a handler may call back into the engine (except to drop it).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::stats::Stats;
use super::Shared;
use crate::error::ErrorKind;
use crate::frame::VideoFrame;
pub use crate::transport::webrtc::ConnectionState;

/// The state of a local stream or of the echo test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamState {
    Stopped,
    Started,
    /// Stopped by a failure; an [`Event::Error`] came before it.
    Failed,
}

/// Which local stream or session a state change concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    LocalAudio,
    LocalVideo,
    EchoTest,
    /// A session with a network peer.
    Call,
    /// The media of a channel (every member media flows with).
    Channel,
}

/// Something the host should know.
// `Stats` is the largest by far; it travels by value, once a second.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    StateChanged {
        stream: Stream,
        state: StreamState,
    },
    /// A failure while running (device vanished, codec error, file error).
    Error {
        kind: ErrorKind,
        message: String,
    },
    FirstLocalVideoFrame {
        width: u32,
        height: u32,
    },
    /// The first decoded frame of a remote user's video (`uid` 0: the
    /// peer of a 1v1 call or the echo test; else the channel member's uid).
    FirstRemoteVideoFrame {
        uid: u32,
        width: u32,
        height: u32,
    },
    /// The first decoded audio of a remote user.
    FirstRemoteAudioFrame {
        uid: u32,
    },
    /// The media connection with a remote user changed state.
    Connection {
        uid: u32,
        state: ConnectionState,
    },
    /// Every 2 s per remote user of a network session: how good the path
    /// is in each direction (see [`crate::engine::quality`]: 0 unknown, 1
    /// excellent … 6 down).
    NetworkQuality {
        uid: u32,
        tx: u8,
        rx: u8,
    },
    /// The rendezvous server connection changed.
    Server(crate::signal::ServerState),
    /// 1v1 call progress.
    Call(crate::signal::CallEvent),
    /// Channel membership.
    Channel(crate::signal::ChannelEvent),
    /// The token expires soon: hand over a new one with `renew_token`.
    TokenWillExpire {
        expires_at: u64,
    },
    /// The server refused a request (its error code and message).
    ServerError {
        code: String,
        message: String,
        channel: Option<String>,
    },
    /// Periodic statistics (see `EngineConfig::stats_interval_ms`).
    Stats(Stats),
}

/// Whose picture a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameSource {
    /// The local camera preview.
    Local,
    /// Decoded video of a remote user: 0 for the peer of a 1v1 call and
    /// the echo test, the member's uid in a channel.
    Remote(u32),
}

impl FrameSource {
    pub fn is_remote(&self) -> bool {
        matches!(self, FrameSource::Remote(_))
    }
}

/// Receives events on the event thread.
pub type EventHandler = Box<dyn FnMut(&Event) + Send>;
/// Receives frames on the render thread; the frame's pixels may be kept
/// (they are shared, not copied).
pub type FrameHandler = Box<dyn FnMut(FrameSource, &VideoFrame) + Send>;

/// Runs the event thread until the control channel closes.
pub(crate) fn run_events(
    rx: Receiver<Event>,
    control: Receiver<Option<EventHandler>>,
    shared: Arc<Shared>,
    interval_ms: u32,
) {
    let mut handler: Option<EventHandler> = None;
    let interval = (interval_ms > 0).then(|| Duration::from_millis(interval_ms as u64));
    let mut next_stats = interval.map(|i| Instant::now() + i);
    let mut rates = super::stats::RateMeter::default();
    loop {
        let timeout = match next_stats {
            Some(at) => crossbeam_channel::after(at.saturating_duration_since(Instant::now())),
            None => crossbeam_channel::never(),
        };
        crossbeam_channel::select! {
            recv(control) -> msg => match msg {
                Ok(h) => handler = h,
                Err(_) => {
                    // The engine is going away: deliver what is already queued.
                    if let Some(h) = handler.as_mut() {
                        rx.try_iter().for_each(|e| h(&e));
                    }
                    return;
                }
            },
            recv(rx) -> msg => {
                // A handler set before this event was emitted must see it:
                // select! picks among ready channels at random.
                while let Ok(h) = control.try_recv() {
                    handler = h;
                }
                if let (Ok(e), Some(h)) = (msg, handler.as_mut()) {
                    h(&e)
                }
            },
            recv(timeout) -> _ => {
                rates.update(&shared.counters, shared.clock.now_us());
                let stats = shared.stats();
                if let Some(h) = handler.as_mut() {
                    h(&Event::Stats(stats))
                }
                next_stats = interval.map(|i| Instant::now() + i);
            },
        }
    }
}

/// Runs the render thread until the control channel closes.
pub(crate) fn run_render(
    rx: Receiver<(FrameSource, VideoFrame)>,
    control: Receiver<Option<FrameHandler>>,
    shared: Arc<Shared>,
) {
    let mut handler: Option<FrameHandler> = None;
    loop {
        crossbeam_channel::select! {
            recv(control) -> msg => match msg {
                Ok(h) => handler = h,
                Err(_) => return,
            },
            recv(rx) -> msg => {
                while let Ok(h) = control.try_recv() {
                    handler = h;
                }
                let Ok((source, frame)) = msg else { continue };
                if let Some(h) = handler.as_mut() {
                    h(source, &frame);
                }
                let c = &shared.counters;
                match source {
                    FrameSource::Local => c.local_frames_rendered.fetch_add(1, Relaxed),
                    FrameSource::Remote(_) => {
                        if frame.capture_known {
                            shared.latencies.end_to_end.record(shared.clock.now_us().saturating_sub(frame.capture_us));
                        }
                        c.video_frames_rendered.fetch_add(1, Relaxed)
                    }
                };
            },
        }
    }
}

/// Queues a frame for the render thread; when the queue is full the oldest
/// queued frame is dropped (and counted) instead of growing.
pub(crate) fn queue_frame(shared: &Shared, source: FrameSource, frame: VideoFrame) {
    let mut msg = (source, frame);
    for _ in 0..4 {
        match shared.render_tx.try_send(msg) {
            Ok(()) => return,
            Err(TrySendError::Disconnected(_)) => return,
            Err(TrySendError::Full(m)) => {
                msg = m;
                if let Ok((old, _)) = shared.render_rx.try_recv() {
                    count_render_drop(shared, old);
                }
            }
        }
    }
    count_render_drop(shared, msg.0);
}

fn count_render_drop(shared: &Shared, source: FrameSource) {
    let c = &shared.counters;
    match source {
        FrameSource::Local => c.local_frames_dropped_render.fetch_add(1, Relaxed),
        FrameSource::Remote(_) => c.video_frames_dropped_render.fetch_add(1, Relaxed),
    };
}

/// Sends an event to the host without blocking; events are only lost when
/// the host's handler is so slow that 256 are queued.
pub(crate) fn emit(tx: &Sender<Event>, event: Event) {
    let _ = tx.try_send(event);
}

/// Tells the host about a failure while running.
pub(crate) fn emit_error(tx: &Sender<Event>, e: &crate::Error) {
    emit(
        tx,
        Event::Error {
            kind: e.kind(),
            message: e.message().to_string(),
        },
    );
}

/// What a device calls when it fails: an error event, then `stream` failed.
pub(crate) fn device_error_callback(
    events: &Sender<Event>,
    stream: Stream,
) -> crate::devices::ErrorCallback {
    let events = events.clone();
    Arc::new(move |e: crate::Error| {
        emit_error(&events, &e);
        emit(
            &events,
            Event::StateChanged {
                stream,
                state: StreamState::Failed,
            },
        );
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_emitted_after_setting_a_handler_always_reach_it() {
        // Repeat the race many times: handler set, then an event at once.
        for _ in 0..200 {
            let engine = crate::Engine::new(crate::EngineConfig {
                stats_interval_ms: 0,
                ..crate::EngineConfig::fake()
            })
            .unwrap();
            let (tx, rx) = crossbeam_channel::bounded(4);
            engine.set_event_handler(Some(Box::new(move |e: &Event| {
                drop(tx.try_send(e.clone()))
            })));
            engine.emit(Event::FirstRemoteAudioFrame { uid: 3 });
            assert_eq!(
                rx.recv_timeout(std::time::Duration::from_secs(5)),
                Ok(Event::FirstRemoteAudioFrame { uid: 3 })
            );
        }
    }
}
