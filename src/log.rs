//! The library's log records (`tracing` events) handed to the host: a phone
//! app forwards them to logcat or os_log, a desktop app to its own log.
//! [`set_log_handler`] installs a small process-wide `tracing` subscriber
//! the first time it is called; the handler itself can be replaced or
//! removed at any time.
//!
//! Owns only that subscriber. Spans are not recorded: the library's
//! diagnostics are events.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock, RwLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

use crate::error::{Error, Result};

/// How severe a record is, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl LogLevel {
    fn of(level: &Level) -> LogLevel {
        match *level {
            Level::ERROR => LogLevel::Error,
            Level::WARN => LogLevel::Warn,
            Level::INFO => LogLevel::Info,
            Level::DEBUG => LogLevel::Debug,
            Level::TRACE => LogLevel::Trace,
        }
    }
}

/// Receives one record: its level, where it comes from (a module path
/// such as `media::transport::webrtc`) and its text. Called on whatever
/// library thread logged (never a real-time audio callback, which does not
/// log); keep it short.
pub type LogHandler = Box<dyn Fn(LogLevel, &str, &str) + Send + Sync>;

struct Sink {
    max: LogLevel,
    handler: LogHandler,
}

static SINK: RwLock<Option<Arc<Sink>>> = RwLock::new(None);
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// Sends the library's records up to `max` (e.g. `LogLevel::Info`: errors,
/// warnings and information) to `handler`; `None` stops them. Only records
/// of the library's own crates are passed (not its dependencies' unless
/// they are warnings or errors). `InvalidState` when the process already
/// has another global `tracing` subscriber (a Rust host with its own:
/// the library's records go there instead).
pub fn set_log_handler(max: LogLevel, handler: Option<LogHandler>) -> Result<()> {
    let installed =
        *INSTALLED.get_or_init(|| tracing::subscriber::set_global_default(Forwarder).is_ok());
    if !installed {
        return Err(Error::invalid_state(
            "another tracing subscriber is installed for this process",
        ));
    }
    let sink = handler.map(|handler| Arc::new(Sink { max, handler }));
    *SINK.write().unwrap_or_else(|p| p.into_inner()) = sink;
    // Callsites cache whether they are enabled: make them ask again.
    tracing::callsite::rebuild_interest_cache();
    Ok(())
}

fn sink() -> Option<Arc<Sink>> {
    SINK.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Whether a record from `target` at `level` goes to the host.
fn wanted(sink: &Sink, level: &Level, target: &str) -> bool {
    let level = LogLevel::of(level);
    // `media::…` and `media_server::…`.
    let ours = target.starts_with("media");
    level <= sink.max && (ours || level <= LogLevel::Warn)
}

struct Forwarder;

/// Collects an event's message and fields into one line.
struct Text(String);

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let message = format!("{value:?}");
            self.0.insert_str(0, &message);
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

impl Subscriber for Forwarder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_event()
            && sink().is_some_and(|s| wanted(&s, metadata.level(), metadata.target()))
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let Some(sink) = sink() else { return };
        let meta = event.metadata();
        if !wanted(&sink, meta.level(), meta.target()) {
            return;
        }
        let mut text = Text(String::new());
        event.record(&mut text);
        (sink.handler)(LogLevel::of(meta.level()), meta.target(), &text.0);
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn records_reach_the_handler_up_to_its_level_and_stop_when_removed() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        set_log_handler(
            LogLevel::Info,
            Some(Box::new(move |level, target, text| {
                g.lock()
                    .unwrap()
                    .push((level, target.to_string(), text.to_string()))
            })),
        )
        .unwrap();
        tracing::warn!(peer = 7, "link lost");
        tracing::debug!("too chatty");
        tracing::info!("hello");
        set_log_handler(LogLevel::Trace, None).unwrap();
        tracing::warn!("after removal");
        // Other tests of this binary log meanwhile: look at this one's.
        let got: Vec<_> = got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.1 == module_path!())
            .cloned()
            .collect();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, LogLevel::Warn);
        assert_eq!(got[0].2, "link lost peer=7");
        assert!(got[0].1.starts_with("media"), "{got:?}");
        assert_eq!((got[1].0, got[1].2.as_str()), (LogLevel::Info, "hello"));
    }
}
