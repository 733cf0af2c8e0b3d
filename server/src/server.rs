//! The WebSocket shell around [`Hub`]: owns the sockets, the clock and the
//! timer; every protocol decision is the hub's.
//!
//! Routes: `GET /` (the web client page) and `GET /ws` (the protocol).
//! [`listener`] accepts connections and bounds them until they upgrade;
//! this file runs upgraded ones. Each has an outgoing queue bounded in
//! messages and bytes, and a deadline on every write: a client that does
//! not read is disconnected, and its socket closed and its queue freed at
//! once, rather than buffered without bound.

mod listener;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Router};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot, watch};

use self::listener::{Limits, Peer, SocketCount};
use crate::hub::{ConnId, Hub, HubConfig, Now, Output};
use crate::protocol::{ClientMsg, ServerMsg};

/// Server settings. The hub's limits (connections, registration deadline,
/// rates) are in [`HubConfig`]; these bound the sockets around it.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub hub: HubConfig,
    /// Largest message accepted from a client. Default 64 KiB.
    pub max_message_bytes: usize,
    /// Bytes waiting to be written to one client; a client that lets more
    /// pile up is disconnected. One message is always let through.
    /// Default 1 MiB.
    pub max_queued_bytes: usize,
    /// Messages waiting to be written to one client; likewise. Default 256.
    pub max_queued_messages: usize,
    /// Longest one write to a client may take (a message, or the closing
    /// handshake); then the connection is closed. Default 10 s.
    pub write_timeout: Duration,
    /// Longest a client may take to send an HTTP request's headers.
    /// Default 5 s.
    pub header_timeout: Duration,
    /// Longest a connection may speak HTTP without upgrading to WebSocket
    /// (a page load's keep-alive included). Default 10 s.
    pub upgrade_timeout: Duration,
    /// Connections not yet upgraded; when full, the oldest is closed to
    /// make room. Default 256.
    pub max_pending: usize,
    /// Connections not yet upgraded from one IPv4 address or IPv6 /64;
    /// beyond it, new ones from there are closed at once. Default 32.
    pub max_pending_per_ip: usize,
    /// Open TCP sockets of every kind; beyond it, new ones are closed at
    /// once. Keep it below the process's descriptor limit (the binary
    /// lowers it to fit). Default 2048.
    pub max_sockets: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: ([127, 0, 0, 1], 8080).into(),
            hub: HubConfig::default(),
            max_message_bytes: 64 * 1024,
            max_queued_bytes: 1024 * 1024,
            max_queued_messages: 256,
            write_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(5),
            upgrade_timeout: Duration::from_secs(10),
            max_pending: 256,
            max_pending_per_ip: 32,
            max_sockets: 2048,
        }
    }
}

/// How a connection ends once it stops reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// Write what is queued (within the write timeout), then close.
    Flush,
    /// Close now and reset the socket: the client does not keep up.
    Abort,
}

/// The shell's end of one connection's outgoing side.
struct Outbox {
    queue: mpsc::Sender<String>,
    queued_bytes: Arc<AtomicUsize>,
    /// Sent `Flush` when the hub closes the connection; dropped unsent (the
    /// connection then aborts) when the client does not keep up.
    end: oneshot::Sender<End>,
}

impl Outbox {
    /// Queues `text`, or says the client is too far behind.
    fn push(&self, text: String, max_bytes: usize) -> bool {
        let len = text.len();
        let queued = self.queued_bytes.load(Ordering::Acquire);
        if queued > 0 && queued + len > max_bytes {
            return false;
        }
        self.queued_bytes.fetch_add(len, Ordering::AcqRel);
        self.queue.try_send(text).is_ok()
    }
}

struct Shared {
    hub: Mutex<Hub>,
    outboxes: Mutex<HashMap<ConnId, Outbox>>,
    start: Instant,
    config: ServerConfig,
    /// Set at shutdown: connections upgraded from now on end at once.
    closing: AtomicBool,
}

impl Shared {
    fn now(&self) -> Now {
        let unix_s = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Now {
            mono_ms: self.start.elapsed().as_millis() as u64,
            unix_s,
        }
    }

    fn hub(&self) -> std::sync::MutexGuard<'_, Hub> {
        self.hub.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn outboxes(&self) -> std::sync::MutexGuard<'_, HashMap<ConnId, Outbox>> {
        self.outboxes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Delivers the hub's outputs; a connection whose queue is full is
    /// aborted (and the hub told, which may produce more outputs).
    fn dispatch(&self, mut outputs: Vec<Output>) {
        while !outputs.is_empty() {
            let mut stalled = Vec::new();
            {
                let mut outboxes = self.outboxes();
                for o in outputs.drain(..) {
                    match o {
                        Output::Send(conn, msg) => {
                            let Some(outbox) = outboxes.get(&conn) else {
                                continue;
                            };
                            let text =
                                serde_json::to_string(&msg).expect("server messages serialize");
                            if !outbox.push(text, self.config.max_queued_bytes) {
                                // Dropping the outbox aborts the connection.
                                outboxes.remove(&conn);
                                stalled.push(conn);
                            }
                        }
                        Output::Close(conn) => {
                            if let Some(outbox) = outboxes.remove(&conn) {
                                let _ = outbox.end.send(End::Flush);
                            }
                        }
                    }
                }
            }
            for conn in stalled {
                tracing::warn!(conn, "client does not read its messages; disconnecting");
                let now = self.now();
                outputs.extend(self.hub().disconnect(conn, now));
            }
        }
    }

    /// Shutdown: every connection writes what it has queued and closes.
    fn close_all(&self) {
        self.closing.store(true, Ordering::Release);
        for (_, outbox) in self.outboxes().drain() {
            let _ = outbox.end.send(End::Flush);
        }
    }
}

/// A server running on a tokio runtime; dropping it (or `shutdown`) stops it.
pub struct RunningServer {
    pub addr: SocketAddr,
    stop: Option<watch::Sender<bool>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// Stops accepting and closes every connection.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(true);
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(true);
        }
    }
}

/// Binds `config.listen` (port 0 picks a free one) and serves in the
/// background on the current tokio runtime.
pub async fn start(config: ServerConfig) -> std::io::Result<RunningServer> {
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let limits = Limits {
        header_timeout: config.header_timeout,
        upgrade_timeout: config.upgrade_timeout,
        max_pending: config.max_pending,
        max_pending_per_ip: config.max_pending_per_ip,
    };
    let sockets = SocketCount::new(config.max_sockets);
    let shared = Arc::new(Shared {
        hub: Mutex::new(Hub::new(config.hub.clone())),
        outboxes: Mutex::new(HashMap::new()),
        start: Instant::now(),
        closing: AtomicBool::new(false),
        config,
    });
    let app = Router::new()
        .route("/", get(web_client))
        .route("/ws", get(upgrade))
        .with_state(shared.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    let timer_shared = shared.clone();
    let timer = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tick.tick().await;
            let now = timer_shared.now();
            let out = timer_shared.hub().poll(now);
            timer_shared.dispatch(out);
        }
    });
    let task = tokio::spawn(async move {
        listener::accept_loop(listener, app, limits, sockets.clone(), stop_rx).await;
        shared.close_all();
        // Every connection is now bounded by a write timeout.
        let grace = shared.config.write_timeout + Duration::from_secs(1);
        if tokio::time::timeout(grace, sockets.all_closed())
            .await
            .is_err()
        {
            tracing::warn!(open = sockets.open(), "sockets still open at shutdown");
        }
        timer.abort();
    });
    tracing::info!(%addr, "media-server listening");
    Ok(RunningServer {
        addr,
        stop: Some(stop_tx),
        task: Some(task),
    })
}

/// The web client: a page that speaks the protocol with the browser's
/// RTCPeerConnection, so a browser can call a native app and back.
async fn web_client() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        include_str!("../web/index.html"),
    )
}

async fn upgrade(
    ws: WebSocketUpgrade,
    State(shared): State<Arc<Shared>>,
    Extension(peer): Extension<Peer>,
) -> impl IntoResponse {
    let max = shared.config.max_message_bytes;
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| connection(socket, shared, peer))
}

type Sink = SplitSink<WebSocket, Message>;

async fn connection(socket: WebSocket, shared: Arc<Shared>, peer: Peer) {
    let (mut sink, mut stream) = socket.split();
    let write_timeout = shared.config.write_timeout;
    if shared.closing.load(Ordering::Acquire) {
        let _ = tokio::time::timeout(write_timeout, sink.close()).await;
        return;
    }
    let now = shared.now();
    let (admitted, evicted) = {
        let mut hub = shared.hub();
        let admitted = hub.connect_from(now, listener::source_of(peer.addr.ip()));
        (admitted, hub.take_outputs())
    };
    shared.dispatch(evicted);
    let Some(conn) = admitted else {
        let msg = serde_json::to_string(&ServerMsg::error(
            "server_full",
            "too many connections; try again later",
        ))
        .expect("serializes");
        let _ = tokio::time::timeout(write_timeout, async {
            let _ = sink.send(Message::Text(msg.into())).await;
            let _ = sink.close().await;
        })
        .await;
        return;
    };
    let (queue, rx) = mpsc::channel::<String>(shared.config.max_queued_messages.max(1));
    let (end_tx, mut end_rx) = oneshot::channel::<End>();
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    shared.outboxes().insert(
        conn,
        Outbox {
            queue,
            queued_bytes: queued_bytes.clone(),
            end: end_tx,
        },
    );
    let mut writer = tokio::spawn(write_loop(sink, rx, queued_bytes, write_timeout));
    let mut writer_ended = false;
    let mut end = loop {
        tokio::select! {
            msg = stream.next() => {
                let outputs = match msg {
                    Some(Ok(Message::Text(text))) => {
                        let now = shared.now();
                        match serde_json::from_str::<ClientMsg>(&text) {
                            Ok(m) => shared.hub().handle(conn, m, now),
                            Err(e) => shared.hub().handle_malformed(conn, &e.to_string(), now),
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        let now = shared.now();
                        shared.hub().handle_malformed(conn, "binary frames are not part of the protocol", now)
                    }
                    Some(Ok(_)) => continue, // ping / pong frames
                    // Closed, reset, or over the size limit.
                    Some(Err(_)) | None => break End::Flush,
                };
                shared.dispatch(outputs);
            }
            // The hub closed it (`Flush`), or it fell behind (dropped: `Abort`).
            end = &mut end_rx => break end.unwrap_or(End::Abort),
            // A write failed or timed out, or (racing `end_rx`) the hub
            // closed it and everything was written.
            written = &mut writer => {
                writer_ended = true;
                break if written.unwrap_or(false) { End::Flush } else { End::Abort };
            }
        }
    };
    let now = shared.now();
    let out = shared.hub().disconnect(conn, now);
    shared.dispatch(out);
    // Dropping the queue's sender lets the writer finish what is queued.
    shared.outboxes().remove(&conn);
    if !writer_ended {
        let flushed = if end == End::Flush {
            match tokio::time::timeout(write_timeout, &mut writer).await {
                Ok(written) => {
                    writer_ended = true;
                    matches!(written, Ok(true))
                }
                Err(_) => false,
            }
        } else {
            false
        };
        if !flushed {
            // A finished task's handle must not be polled again.
            if !writer_ended {
                writer.abort();
                let _ = writer.await;
            }
            end = End::Abort;
        }
    }
    if end == End::Abort {
        peer.reset_on_close();
    }
    // The socket closes as `stream` goes too (the writer's sink is gone).
}

/// Writes queued messages in order, each within `write_timeout`, until the
/// queue closes; then closes the WebSocket. Whether all of it went out: it
/// stops early when a write fails or takes too long.
async fn write_loop(
    mut sink: Sink,
    mut rx: mpsc::Receiver<String>,
    queued_bytes: Arc<AtomicUsize>,
    write_timeout: Duration,
) -> bool {
    while let Some(text) = rx.recv().await {
        let len = text.len();
        let sent = tokio::time::timeout(write_timeout, sink.send(Message::Text(text.into()))).await;
        queued_bytes.fetch_sub(len, Ordering::AcqRel);
        if !matches!(sent, Ok(Ok(()))) {
            return false;
        }
    }
    matches!(
        tokio::time::timeout(write_timeout, sink.close()).await,
        Ok(Ok(()))
    )
}
