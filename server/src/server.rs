//! The WebSocket shell around [`Hub`]: owns the sockets, the clock and the
//! timer; every protocol decision is the hub's.
//!
//! Routes: `GET /` (the web client page) and `GET /ws` (the protocol). Each connection has a bounded outgoing
//! queue; a client that does not read its messages is disconnected rather
//! than buffered without bound.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt as _;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};

use crate::hub::{ConnId, Hub, HubConfig, Now, Output};
use crate::protocol::{ClientMsg, ServerMsg};

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub hub: HubConfig,
    /// Largest message accepted from a client.
    pub max_message_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: ([127, 0, 0, 1], 8080).into(),
            hub: HubConfig::default(),
            max_message_bytes: 64 * 1024,
        }
    }
}

enum Outgoing {
    Text(String),
    Close,
}

struct Shared {
    hub: Mutex<Hub>,
    queues: Mutex<HashMap<ConnId, mpsc::Sender<Outgoing>>>,
    start: Instant,
    max_message_bytes: usize,
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

    /// Delivers the hub's outputs; a connection whose queue is full is
    /// disconnected (and the hub told, which may produce more outputs).
    fn dispatch(&self, mut outputs: Vec<Output>) {
        while !outputs.is_empty() {
            let mut stalled = Vec::new();
            {
                let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
                for o in outputs.drain(..) {
                    match o {
                        Output::Send(conn, msg) => {
                            let Some(q) = queues.get(&conn) else { continue };
                            let text =
                                serde_json::to_string(&msg).expect("server messages serialize");
                            if q.try_send(Outgoing::Text(text)).is_err() {
                                queues.remove(&conn);
                                stalled.push(conn);
                            }
                        }
                        Output::Close(conn) => {
                            if let Some(q) = queues.remove(&conn) {
                                let _ = q.try_send(Outgoing::Close);
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
}

/// A server running on a tokio runtime; dropping it (or `shutdown`) stops it.
pub struct RunningServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// Stops accepting and closes every connection.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Binds `config.listen` (port 0 picks a free one) and serves in the
/// background on the current tokio runtime.
pub async fn start(config: ServerConfig) -> std::io::Result<RunningServer> {
    let shared = Arc::new(Shared {
        hub: Mutex::new(Hub::new(config.hub.clone())),
        queues: Mutex::new(HashMap::new()),
        start: Instant::now(),
        max_message_bytes: config.max_message_bytes,
    });
    let app = Router::new()
        .route("/", get(web_client))
        .route("/ws", get(upgrade))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    // Signaling is many small messages: Nagle's algorithm would hold one
    // behind another's delayed ACK for up to 40 ms.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
    });
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
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
    let closer = shared.clone();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop_rx.await;
            timer.abort();
            // Ends every connection: writers stop, sockets close.
            closer
                .queues
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        });
        if let Err(e) = served.await {
            tracing::error!("server stopped: {e}");
        }
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

async fn upgrade(ws: WebSocketUpgrade, State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let max = shared.max_message_bytes;
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| connection(socket, shared))
}

async fn connection(socket: WebSocket, shared: Arc<Shared>) {
    let (mut sink, mut stream) = socket.split();
    let now = shared.now();
    let Some(conn) = shared.hub().connect(now) else {
        let msg = serde_json::to_string(&ServerMsg::error(
            "server_full",
            "too many connections; try again later",
        ))
        .expect("serializes");
        let _ = sink.send(Message::Text(msg.into())).await;
        let _ = sink.close().await;
        return;
    };
    let (tx, mut rx) = mpsc::channel::<Outgoing>(256);
    shared
        .queues
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(conn, tx);
    let writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            match out {
                Outgoing::Text(t) => {
                    if sink.send(Message::Text(t.into())).await.is_err() {
                        break;
                    }
                }
                Outgoing::Close => break,
            }
        }
        let _ = sink.close().await;
    });
    loop {
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
                    Some(Err(_)) | None => break,
                };
                shared.dispatch(outputs);
            }
            _ = closed(&shared, conn) => break,
        }
    }
    let now = shared.now();
    let out = shared.hub().disconnect(conn, now);
    shared.dispatch(out);
    shared
        .queues
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&conn);
    let _ = writer.await;
}

/// Resolves when the hub has closed `conn` (its queue was removed).
async fn closed(shared: &Shared, conn: ConnId) {
    loop {
        let sender = shared
            .queues
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&conn)
            .cloned();
        match sender {
            Some(tx) => tx.closed().await,
            None => return,
        }
    }
}
