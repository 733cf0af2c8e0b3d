//! The accept loop: TCP connections in, HTTP/1 served with deadlines, and
//! WebSocket upgrades handed to the router. It owns the limits that hold
//! before a connection speaks the protocol (open sockets, connections not
//! yet upgraded, header and upgrade deadlines) and knows nothing of the
//! protocol itself.
//!
//! A connection is *pending* from accept until hyper hands its socket to a
//! WebSocket upgrade (or it ends). Pending connections are capped per
//! source address (new ones from it are closed at once) and in total (to
//! make room, the oldest from the source with the most is closed, so that
//! attackers holding the slots cannot keep a prompt client out). Every socket, pending or upgraded,
//! counts against `max_sockets` until its descriptor is closed.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch, Notify};
use tower::ServiceExt as _;

/// Request heads larger than this are refused (hyper answers 431): it
/// bounds what a pending connection can make the server buffer.
const MAX_REQUEST_HEAD_BYTES: usize = 32 * 1024;
/// After a failed `accept` (out of descriptors, say), wait this long before
/// the next one instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How long a pending connection may finish its request at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// The pre-protocol limits, from `ServerConfig`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub header_timeout: Duration,
    pub upgrade_timeout: Duration,
    pub max_pending: usize,
    pub max_pending_per_ip: usize,
}

/// Open TCP sockets: counted from accept until the descriptor is closed,
/// whatever the connection became.
#[derive(Debug)]
pub(super) struct SocketCount {
    open: AtomicUsize,
    max: usize,
    all_closed: Notify,
}

impl SocketCount {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(SocketCount {
            open: AtomicUsize::new(0),
            max,
            all_closed: Notify::new(),
        })
    }

    /// Sockets open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    fn try_open(self: &Arc<Self>) -> Option<SocketSlot> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()?;
        Some(SocketSlot(self.clone()))
    }

    /// Resolves once no socket is open.
    pub async fn all_closed(&self) {
        loop {
            let notified = self.all_closed.notified();
            if self.open() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One open socket's place in the [`SocketCount`].
#[derive(Debug)]
struct SocketSlot(Arc<SocketCount>);

impl Drop for SocketSlot {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.all_closed.notify_waiters();
        }
    }
}

/// What a request knows of its connection (a request extension).
#[derive(Debug, Clone)]
pub(super) struct Peer {
    pub addr: SocketAddr,
    reset: Arc<AtomicBool>,
}

impl Peer {
    /// When the socket closes, reset it (`SO_LINGER` 0) rather than close
    /// it gracefully: what the kernel still holds for a client that does
    /// not read is dropped at once instead of lingering after us.
    pub fn reset_on_close(&self) {
        self.reset.store(true, Ordering::Release);
    }
}

/// A TCP stream that counts as open until it is dropped.
struct CountedStream {
    tcp: TcpStream,
    reset: Arc<AtomicBool>,
    _slot: SocketSlot,
}

impl Drop for CountedStream {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Acquire) {
            let _ = self.tcp.set_zero_linger();
        }
    }
}

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// Connections not yet upgraded, oldest first, and how many per source.
#[derive(Debug)]
struct Pending {
    limits: Limits,
    state: Mutex<PendingState>,
}

#[derive(Debug, Default)]
struct PendingState {
    next: u64,
    /// Admission number → source and the connection's eviction notice
    /// (dropping the sender tells it to close).
    by_age: BTreeMap<u64, (IpAddr, oneshot::Sender<()>)>,
    per_source: HashMap<IpAddr, usize>,
}

impl PendingState {
    fn remove(&mut self, id: u64) {
        if let Some((source, _notice)) = self.by_age.remove(&id) {
            if let Some(n) = self.per_source.get_mut(&source) {
                *n -= 1;
                if *n == 0 {
                    self.per_source.remove(&source);
                }
            }
        }
    }
}

impl Pending {
    fn state(&self) -> std::sync::MutexGuard<'_, PendingState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for a new connection from `source`, or `None` when that
    /// source has its share. The receiver resolves if the connection is
    /// evicted to make room for a newer one.
    fn admit(self: &Arc<Self>, source: IpAddr) -> Option<(PendingSlot, oneshot::Receiver<()>)> {
        let mut state = self.state();
        if state.per_source.get(&source).copied().unwrap_or(0) >= self.limits.max_pending_per_ip {
            return None;
        }
        while state.by_age.len() >= self.limits.max_pending.max(1) {
            // The oldest from the source that has the most.
            let most = state.per_source.values().copied().max().unwrap_or(0);
            let Some(victim) = state
                .by_age
                .iter()
                .find(|(_, (s, _))| state.per_source.get(s) == Some(&most))
                .map(|(&id, _)| id)
            else {
                break;
            };
            state.remove(victim);
        }
        let id = state.next;
        state.next += 1;
        let (notice, evicted) = oneshot::channel();
        state.by_age.insert(id, (source, notice));
        *state.per_source.entry(source).or_default() += 1;
        Some((
            PendingSlot {
                pending: self.clone(),
                id,
            },
            evicted,
        ))
    }
}

/// One pending connection's place in [`Pending`].
struct PendingSlot {
    pending: Arc<Pending>,
    id: u64,
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        self.pending.state().remove(self.id);
    }
}

/// The address a per-source cap counts by: an IPv4 address, or an IPv6
/// address's /64 (one subscriber's usual allocation).
pub(super) fn source_of(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// Resolves once `stop` turns true or its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Accepts until `stop` turns true (or its sender is dropped). Connections
/// in progress carry on; pending ones are told to finish at `stop`.
pub(super) async fn accept_loop(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    sockets: Arc<SocketCount>,
    mut stop: watch::Receiver<bool>,
) {
    let pending = Arc::new(Pending {
        limits,
        state: Mutex::new(PendingState::default()),
    });
    let mut failing = false;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped(&mut stop) => return,
        };
        let (tcp, addr) = match accepted {
            Ok(a) => {
                failing = false;
                a
            }
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of descriptors (EMFILE, ENFILE) or memory: the
                // connection waits in the backlog; try again shortly.
                if !failing {
                    tracing::warn!("accept failed: {e}; retrying every {ACCEPT_BACKOFF:?}");
                }
                failing = true;
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Some(socket) = sockets.try_open() else {
            tracing::debug!(%addr, "too many open sockets; closing a new one");
            continue;
        };
        let Some((slot, evicted)) = pending.admit(source_of(addr.ip())) else {
            tracing::debug!(%addr, "too many connections from this source; closing a new one");
            continue;
        };
        // Signaling is many small messages: Nagle's algorithm would hold one
        // behind another's delayed ACK for up to 40 ms.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
        let reset = Arc::new(AtomicBool::new(false));
        let peer = Peer {
            addr,
            reset: reset.clone(),
        };
        let stream = CountedStream {
            tcp,
            reset,
            _slot: socket,
        };
        tokio::spawn(serve_http(
            stream,
            peer,
            app.clone(),
            limits,
            (slot, evicted),
            stop.clone(),
        ));
    }
}

/// Serves one connection's HTTP until it upgrades, ends, misses a
/// deadline, is evicted, or the server stops.
async fn serve_http(
    stream: CountedStream,
    peer: Peer,
    app: Router,
    limits: Limits,
    (slot, mut evicted): (PendingSlot, oneshot::Receiver<()>),
    mut stop: watch::Receiver<bool>,
) {
    let addr = peer.addr;
    let service = TowerToHyperService::new(app.map_request(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(peer.clone());
        req
    }));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_REQUEST_HEAD_BYTES);
    let mut conn = pin!(http
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades());
    tokio::select! {
        // Closed, failed (the header deadline among the reasons), or
        // upgraded: the socket now belongs to the WebSocket.
        served = conn.as_mut() => {
            if let Err(e) = served {
                tracing::debug!(%addr, "HTTP connection ended: {e}");
            }
        }
        _ = tokio::time::sleep(limits.upgrade_timeout) => {
            tracing::debug!(%addr, "no WebSocket upgrade within {:?}; closing", limits.upgrade_timeout);
        }
        _ = &mut evicted => {
            tracing::debug!(%addr, "too many connections not upgraded; closing the oldest");
        }
        _ = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn).await;
        }
    }
    drop(slot);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(max: usize, per_ip: usize) -> Arc<Pending> {
        Arc::new(Pending {
            limits: Limits {
                header_timeout: Duration::from_secs(1),
                upgrade_timeout: Duration::from_secs(1),
                max_pending: max,
                max_pending_per_ip: per_ip,
            },
            state: Mutex::new(PendingState::default()),
        })
    }

    #[test]
    fn pending_connections_evict_the_oldest_and_cap_each_source() {
        let p = pending(3, 2);
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let mut first = p.admit(a).unwrap();
        let _second = p.admit(a).unwrap();
        assert!(p.admit(a).is_none(), "a has its share");
        let _third = p.admit(b).unwrap();
        // Full: b's next one evicts a's oldest, whose notice fires.
        assert!(first.1.try_recv().is_err());
        let _fourth = p.admit(b).unwrap();
        assert!(matches!(
            first.1.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        ));
        assert_eq!(p.state().by_age.len(), 3);
        assert_eq!(p.state().per_source[&a], 1);
        // Dropping the evicted slot later changes nothing; a now has room.
        drop(first);
        assert_eq!(p.state().per_source[&a], 1);
        assert!(p.admit(a).is_some());
    }

    #[test]
    fn a_flood_from_one_source_evicts_its_own() {
        let p = pending(4, 100);
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let mut prompt = p.admit(a).unwrap();
        let mut flood: Vec<_> = (0..100).map(|_| p.admit(b).unwrap()).collect();
        assert!(matches!(
            prompt.1.try_recv(),
            Err(oneshot::error::TryRecvError::Empty)
        ));
        assert_eq!(p.state().per_source[&b], 3);
        let evicted = flood
            .iter_mut()
            .map(|(_, e)| e.try_recv())
            .filter(|r| matches!(r, Err(oneshot::error::TryRecvError::Closed)))
            .count();
        assert_eq!(evicted, 97);
    }

    #[test]
    fn sources_are_v4_addresses_and_v6_prefixes() {
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(source_of(mapped), IpAddr::from([192, 0, 2, 7]));
        let (x, y): (IpAddr, IpAddr) = (
            "2001:db8:1:2:aaaa::1".parse().unwrap(),
            "2001:db8:1:2:bbbb::9".parse().unwrap(),
        );
        assert_eq!(source_of(x), source_of(y));
        assert_ne!(source_of(x), source_of("2001:db8:1:3::1".parse().unwrap()));
    }

    #[test]
    fn sockets_are_counted_until_dropped() {
        let count = SocketCount::new(2);
        let a = count.try_open().unwrap();
        let b = count.try_open().unwrap();
        assert!(count.try_open().is_none());
        drop(a);
        assert_eq!(count.open(), 1);
        let _c = count.try_open().unwrap();
        drop(b);
        assert_eq!(count.open(), 1);
    }
}
