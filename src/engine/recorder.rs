//! Recordings of what was received (`EngineConfig::record_remote_video`,
//! `record_remote_audio`): items are written by their own thread, so that
//! a slow disk never stalls decoding or playout. A full queue skips the
//! item (the caller counts it); dropping the recorder writes what is
//! queued and closes the file.

use crossbeam_channel::{bounded, Sender, TrySendError};

use super::events::{emit_error, Event};
use crate::error::{Error, Result};

pub(crate) struct Recorder<T: Send + 'static> {
    tx: Option<Sender<T>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<T: Send + 'static> Recorder<T> {
    /// A thread `name` that hands each item to `write` with `file`, then
    /// the file to `finish`; at most `queue` items wait. A write error is
    /// reported on `events` and ends the recording.
    pub(crate) fn start<F: Send + 'static>(
        name: &str,
        queue: usize,
        events: &Sender<Event>,
        mut file: F,
        mut write: impl FnMut(&mut F, T) -> Result<()> + Send + 'static,
        finish: impl FnOnce(F) -> Result<()> + Send + 'static,
    ) -> Result<Self> {
        let (tx, rx) = bounded::<T>(queue);
        let events = events.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                for item in rx.iter() {
                    if let Err(e) = write(&mut file, item) {
                        emit_error(&events, &e);
                        return;
                    }
                }
                if let Err(e) = finish(file) {
                    emit_error(&events, &e);
                }
            })
            .map_err(|e| Error::internal(format!("spawn {name}: {e}")))?;
        Ok(Recorder {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queues `item`; false when the queue was full and it was skipped.
    pub(crate) fn write(&self, item: T) -> bool {
        match &self.tx {
            Some(tx) => !matches!(tx.try_send(item), Err(TrySendError::Full(_))),
            None => true,
        }
    }
}

impl<T: Send + 'static> Drop for Recorder<T> {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
