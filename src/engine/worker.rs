//! The engine's stage threads: a named thread with a stop flag that never
//! dies silently. If its body panics (a bug), the host gets an
//! [`Event::Error`] naming the thread and a [`StreamState::Failed`] for
//! the stream it served, instead of a stage that quietly stopped.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Sender;

use super::events::{emit, Event, Stream, StreamState};
use crate::error::{panic_message, Error, ErrorKind, Result};

/// A running stage thread; stopped (and joined) on drop.
pub(crate) struct Worker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Runs `body` on a thread called `name` until it returns or its stop
    /// flag is set. A panic in `body` is reported on `events` as the
    /// failure of `stream`.
    pub(crate) fn spawn(
        name: &str,
        events: &Sender<Event>,
        stream: Stream,
        body: impl FnOnce(Arc<AtomicBool>) + Send + 'static,
    ) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let events = events.clone();
        let thread_name = name.to_string();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| body(flag))) {
                    let message =
                        format!("{thread_name} stopped: {}", panic_message(payload.as_ref()));
                    tracing::error!("{message}");
                    emit(
                        &events,
                        Event::Error {
                            kind: ErrorKind::Internal,
                            message,
                        },
                    );
                    emit(
                        &events,
                        Event::StateChanged {
                            stream,
                            state: StreamState::Failed,
                        },
                    );
                }
            })
            .map_err(|e| Error::internal(format!("spawn {name}: {e}")))?;
        Ok(Worker {
            stop,
            thread: Some(thread),
        })
    }

    pub(crate) fn stop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::unbounded;
    use std::time::Duration;

    #[test]
    fn a_panicking_stage_reports_its_death() {
        let (tx, rx) = unbounded();
        let mut w = Worker::spawn("media-test-stage", &tx, Stream::Call, |_| {
            let frames: Vec<u8> = Vec::new();
            // A bug: indexing past the end.
            let _ = frames[usize::from(frames.is_empty())];
        })
        .unwrap();
        let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let Event::Error { kind, message } = first else {
            panic!("{first:?}")
        };
        assert_eq!(kind, ErrorKind::Internal);
        assert!(
            message.starts_with("media-test-stage stopped: index out of bounds"),
            "{message}"
        );
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            Event::StateChanged {
                stream: Stream::Call,
                state: StreamState::Failed
            }
        );
        w.stop();
    }

    #[test]
    fn a_stopped_stage_reports_nothing() {
        let (tx, rx) = unbounded();
        let mut w = Worker::spawn("media-test-stage", &tx, Stream::LocalAudio, |stop| {
            while !stop.load(Relaxed) {
                std::thread::park_timeout(Duration::from_millis(5));
            }
        })
        .unwrap();
        w.stop();
        assert!(rx.try_recv().is_err());
    }
}
