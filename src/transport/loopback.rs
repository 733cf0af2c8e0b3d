//! The in-process loopback transport: what is sent comes back to the same
//! engine, through an optional seeded [`Impairment`]. Used by the echo test
//! and by tests that need a lossy or delayed path without a network.
//!
//! One thread ("media-loopback") holds frames until their arrival time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};

use super::impairment::{ImpairedLink, Impairment};
use super::{Feedback, Transport, TransportSink, TransportStats};
use crate::clock::Clock;
use crate::frame::{EncodedFrame, MediaKind};

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    bytes: AtomicU64,
    lost: AtomicU64,
    delivered: AtomicU64,
    dropped_full: AtomicU64,
}

/// See the module docs. Dropping it stops its thread.
pub struct LoopbackTransport {
    tx: Option<Sender<EncodedFrame>>,
    sink: TransportSink,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
}

struct Pending {
    at: u64,
    order: u64,
    frame: EncodedFrame,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

impl LoopbackTransport {
    /// Starts the loopback thread delivering into `sink`.
    pub fn new(impairment: Impairment, sink: TransportSink, clock: Clock) -> std::io::Result<Self> {
        let (tx, rx) = bounded::<EncodedFrame>(1024);
        let counters = Arc::new(Counters::default());
        let thread = {
            let (sink, counters) = (sink.clone(), counters.clone());
            std::thread::Builder::new()
                .name("media-loopback".into())
                .spawn(move || run(rx, sink, counters, ImpairedLink::new(impairment), clock))?
        };
        Ok(LoopbackTransport {
            tx: Some(tx),
            sink,
            counters,
            thread: Some(thread),
        })
    }
}

fn run(
    rx: Receiver<EncodedFrame>,
    sink: TransportSink,
    counters: Arc<Counters>,
    mut link: ImpairedLink,
    clock: Clock,
) {
    let mut queue: BinaryHeap<Reverse<Pending>> = BinaryHeap::new();
    let mut order = 0u64;
    loop {
        let now = clock.now_us();
        while queue.peek().is_some_and(|p| p.0.at <= now) {
            let Reverse(p) = queue.pop().expect("peeked");
            let channel = match p.frame.kind {
                MediaKind::Audio => &sink.audio,
                MediaKind::Video => &sink.video,
            };
            match channel.try_send(p.frame) {
                Ok(()) => counters.delivered.fetch_add(1, Ordering::Relaxed),
                Err(TrySendError::Full(_)) => counters.dropped_full.fetch_add(1, Ordering::Relaxed),
                Err(TrySendError::Disconnected(_)) => return,
            };
        }
        let received = match queue.peek() {
            Some(p) => rx.recv_timeout(Duration::from_micros(p.0.at.saturating_sub(now))),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(frame) => match link.decide(frame.kind, clock.now_us()) {
                Some(at) => {
                    order += 1;
                    queue.push(Reverse(Pending { at, order, frame }));
                }
                None => {
                    counters.lost.fetch_add(1, Ordering::Relaxed);
                }
            },
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

impl Transport for LoopbackTransport {
    fn send(&self, frame: EncodedFrame) {
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes
            .fetch_add(frame.data.len() as u64, Ordering::Relaxed);
        if let Some(tx) = &self.tx {
            if tx.try_send(frame).is_err() {
                self.counters.dropped_full.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn request_keyframe(&self) {
        let _ = self.sink.feedback.try_send(Feedback::KeyframeRequest);
    }

    fn stats(&self) -> TransportStats {
        let c = &self.counters;
        TransportStats {
            frames_sent: c.sent.load(Ordering::Relaxed),
            bytes_sent: c.bytes.load(Ordering::Relaxed),
            frames_lost: c.lost.load(Ordering::Relaxed),
            frames_delivered: c.delivered.load(Ordering::Relaxed),
            frames_dropped_full: c.dropped_full.load(Ordering::Relaxed),
        }
    }
}

impl Drop for LoopbackTransport {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: MediaKind, seq: u64) -> EncodedFrame {
        EncodedFrame {
            kind,
            seq,
            timestamp: seq,
            capture_us: 0,
            encoded_us: 0,
            capture_known: true,
            keyframe: false,
            data: vec![seq as u8; 10],
        }
    }

    #[test]
    fn delivers_in_order_and_counts_loss() {
        let (a_tx, a_rx) = bounded(4096);
        let (v_tx, v_rx) = bounded(4096);
        let (f_tx, f_rx) = bounded(16);
        let sink = TransportSink {
            audio: a_tx,
            video: v_tx,
            feedback: f_tx,
        };
        let imp = Impairment {
            audio_loss: 0.1,
            delay_us: 2_000,
            seed: 9,
            ..Default::default()
        };
        let t = LoopbackTransport::new(imp, sink, Clock::new()).unwrap();
        for i in 0..1000 {
            t.send(frame(MediaKind::Audio, i));
        }
        t.send(frame(MediaKind::Video, 0));
        t.request_keyframe();
        assert_eq!(v_rx.recv_timeout(Duration::from_secs(5)).unwrap().seq, 0);
        assert_eq!(
            f_rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            Feedback::KeyframeRequest
        );
        let mut got = Vec::new();
        while got.len() as u64 + t.stats().frames_lost < 1000 {
            got.push(
                a_rx.recv_timeout(Duration::from_secs(5))
                    .expect("frames keep arriving")
                    .seq,
            );
        }
        let stats = t.stats();
        assert!(got.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(stats.frames_sent, 1001);
        assert!(
            (50..150).contains(&stats.frames_lost),
            "lost {}",
            stats.frames_lost
        );
    }
}
