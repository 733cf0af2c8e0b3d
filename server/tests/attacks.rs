//! The server binary under three measured attacks, over real sockets: a
//! client that stops reading, slowloris, and connections that never
//! register. For each, a legitimate pair registers and places a call during
//! the attack, and the server's memory (VmRSS) and descriptors stay bounded.
//!
//! Small scale (a few hundred connections), short limits passed as flags,
//! and every wait is a condition polled against a deadline. Attackers
//! connect from other loopback addresses (127.0.0.2, …) where a per-address
//! cap matters. The tests run one at a time: each starts its own server,
//! but they would share the two cores.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::token;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// One attack at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `test` on its own two-thread runtime, while no other attack runs.
fn run_alone(test: impl std::future::Future<Output = ()>) {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(test);
}

/// The server binary as a child process, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
    /// Where the server's stderr goes: checked for panics at the end.
    stderr: std::path::PathBuf,
}

impl Server {
    /// `media-server serve` on a free port with `flags`, under a descriptor
    /// limit of `nofile` (soft and hard) if given.
    fn start(flags: &[&str], nofile: Option<u32>) -> Server {
        let bin = env!("CARGO_BIN_EXE_media-server");
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--app", "demo:secret"];
        args.extend_from_slice(flags);
        let mut command = match nofile {
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(bin)
                    .args(&args);
                c
            }
            None => {
                let mut c = Command::new(bin);
                c.args(&args);
                c
            }
        };
        static STARTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let stderr = std::env::temp_dir().join(format!(
            "media-attacks-{}-{}.stderr",
            std::process::id(),
            STARTS.fetch_add(1, Ordering::Relaxed)
        ));
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("a file for the server's stderr"))
            .spawn()
            .expect("start the server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("the server prints its address");
        let url = line.trim().rsplit(' ').next().unwrap_or_default();
        let addr = url
            .strip_prefix("ws://")
            .and_then(|u| u.strip_suffix("/ws"))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Server {
            child,
            addr,
            stderr,
        }
    }

    fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    fn status_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server is running");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/PID/status"))
    }

    /// Resident memory, MiB.
    fn rss_mib(&self) -> f64 {
        self.status_kb("VmRSS:") as f64 / 1024.0
    }

    /// Open descriptors.
    fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .expect("the server is running")
            .count()
    }

    /// Samples RSS and descriptors every 100 ms until `stop`; returns the
    /// peaks.
    fn watch(self: &Arc<Self>, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(f64, usize)> {
        let server = self.clone();
        tokio::spawn(async move {
            let (mut rss, mut fds) = (0f64, 0usize);
            while !stop.load(Ordering::Relaxed) {
                rss = rss.max(server.rss_mib());
                fds = fds.max(server.fds());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (rss, fds)
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let log = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let _ = std::fs::remove_file(&self.stderr);
        // Whatever the attack, no task of the server may panic.
        if !std::thread::panicking() {
            assert!(!log.contains("panicked"), "the server panicked:\n{log}");
        }
    }
}

/// Polls `cond` every 50 ms until it holds or `limit` passes; whether it held.
async fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

type Ws = WebSocketStream<TcpStream>;

/// A WebSocket from `source` (an address on loopback), with an optional
/// small receive buffer.
async fn try_ws_from(
    url: &str,
    addr: SocketAddr,
    source: IpAddr,
    recv_buf: Option<u32>,
) -> Result<Ws, String> {
    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    socket
        .bind(SocketAddr::new(source, 0))
        .map_err(|e| e.to_string())?;
    if let Some(size) = recv_buf {
        socket
            .set_recv_buffer_size(size)
            .map_err(|e| e.to_string())?;
    }
    let tcp = socket.connect(addr).await.map_err(|e| e.to_string())?;
    Ok(tokio_tungstenite::client_async(url, tcp)
        .await
        .map_err(|e| e.to_string())?
        .0)
}

async fn ws_from(url: &str, addr: SocketAddr, source: IpAddr, recv_buf: Option<u32>) -> Ws {
    try_ws_from(url, addr, source, recv_buf)
        .await
        .unwrap_or_else(|e| panic!("WebSocket from {source}: {e}"))
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into()))
        .await
        .expect("send");
}

/// The next protocol message other than `pong`, within 10 s.
async fn recv(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s");
        let v: Value = match msg {
            Some(Ok(Message::Text(t))) => serde_json::from_str(&t).unwrap(),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => json!({"type": "closed"}),
            Some(Ok(_)) => continue,
        };
        if v["type"] != "pong" {
            return v;
        }
    }
}

async fn register(server: &Server, user: &str) -> Ws {
    let localhost = IpAddr::from([127, 0, 0, 1]);
    let mut ws = tokio::time::timeout(
        Duration::from_secs(10),
        ws_from(&server.url(), server.addr, localhost, None),
    )
    .await
    .unwrap_or_else(|_| panic!("{user}: no WebSocket within 10 s"));
    send(&mut ws, json!({"type":"register","app_id":"demo","user_id":user,"nickname":user,"token":token(user)})).await;
    let reply = recv(&mut ws).await;
    assert_eq!(reply["type"], "registered", "{user}: {reply}");
    ws
}

/// A legitimate pair registers and `{tag}-a` calls `{tag}-b`: the callee
/// gets the incoming call and the caller hears it ring. Returns how long
/// that took.
async fn place_call(server: &Server, tag: &str) -> Duration {
    let started = Instant::now();
    let (caller, callee) = (format!("{tag}-a"), format!("{tag}-b"));
    let mut b = register(server, &callee).await;
    let mut a = register(server, &caller).await;
    send(
        &mut a,
        json!({"type":"call","call_id":format!("{tag}-call"),"to":callee,"media":"audio"}),
    )
    .await;
    let incoming = recv(&mut b).await;
    assert_eq!(
        (
            incoming["type"].as_str(),
            incoming["from"]["user_id"].as_str()
        ),
        (Some("incoming_call"), Some(caller.as_str())),
        "{incoming}"
    );
    assert_eq!(recv(&mut a).await["type"], "ringing");
    started.elapsed()
}

/// How long a legitimate call may take to ring under attack (it takes a few
/// milliseconds without).
const CALL_WITHIN: Duration = Duration::from_secs(3);

fn loopback(n: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, n])
}

/// Attack 1: a member signals 60 KiB messages to its own uid (within the
/// rate limit) and never reads. The server must close it soon (its queue is
/// bounded in bytes) and free what it had queued; rounds must not add up.
#[test]
fn a_client_that_stops_reading_is_closed_and_its_memory_freed() {
    run_alone(async {
        const ROUNDS: usize = 5;
        /// From the first message to the server closing the socket.
        const CLOSE_WITHIN: Duration = Duration::from_secs(12);
        let server = Arc::new(Server::start(&[], None));
        let (rss0, fds0) = (server.rss_mib(), server.fds());
        let stop = Arc::new(AtomicBool::new(false));
        let peaks = server.watch(stop.clone());
        let payload = "x".repeat(60 * 1024);
        // The attacker keeps every socket open: only the server can free them.
        let mut held = Vec::new();
        let mut closes = Vec::new();
        let mut calls = Vec::new();
        for round in 0..ROUNDS {
            let mut ws = ws_from(&server.url(), server.addr, loopback(2), Some(16 * 1024)).await;
            send(
            &mut ws,
            json!({"type":"register","app_id":"demo","user_id":"mallory","token":token("mallory")}),
        )
        .await;
            assert_eq!(recv(&mut ws).await["type"], "registered");
            send(&mut ws, json!({"type":"join","channel":"pin","uid":0})).await;
            let joined = recv(&mut ws).await;
            let uid = joined["uid"].as_u64().expect("joined with a uid");
            let started = Instant::now();
            // Within the rate limit (burst 100, then 50/s): 90 at once, then 45/s.
            let flood = tokio::spawn({
                let payload = payload.clone();
                async move {
                    for i in 0..400 {
                        let msg = json!({"type":"signal","channel":"pin","to":uid,"data":payload});
                        let sent = tokio::time::timeout(
                            Duration::from_secs(2),
                            ws.send(Message::Text(msg.to_string().into())),
                        )
                        .await;
                        if !matches!(sent, Ok(Ok(()))) {
                            break; // reset by the server, or it stopped reading
                        }
                        if i >= 90 {
                            tokio::time::sleep(Duration::from_millis(22)).await;
                        }
                    }
                    ws
                }
            });
            calls.push(place_call(&server, &format!("r{round}")).await);
            held.push(flood.await.unwrap());
            // The calls' sockets close too; then only the listener's remain.
            let closed = wait_for(CLOSE_WITHIN.saturating_sub(started.elapsed()), || {
                server.fds() <= fds0
            })
            .await;
            assert!(
            closed,
            "round {round}: the stalled connection is still open after {:?} ({} descriptors, {} at start)",
            started.elapsed(),
            server.fds(),
            fds0
        );
            closes.push(started.elapsed());
            println!(
                "round {round}: closed after {:?}; RSS {:.1} MiB, {} descriptors",
                started.elapsed(),
                server.rss_mib(),
                server.fds()
            );
        }
        stop.store(true, Ordering::Relaxed);
        let (peak_rss, peak_fds) = peaks.await.unwrap();
        let rss = server.rss_mib();
        let peak_rss = peak_rss.max(rss);
        println!(
            "stalled reader: RSS {rss0:.1} MiB at start, {rss:.1} MiB after {ROUNDS} rounds \
         (peak {peak_rss:.1}); descriptors {fds0} at start, peak {peak_fds}; \
         closed after {closes:?}; calls placed in {calls:?}"
        );
        assert!(rss < 48.0, "RSS {rss:.1} MiB after {ROUNDS} rounds");
        assert!(
            calls.iter().all(|c| *c < CALL_WITHIN),
            "calls took {calls:?}"
        );
        assert!(peak_rss < 64.0, "peak RSS {peak_rss:.1} MiB");
        assert!(peak_fds <= fds0 + 8, "peak {peak_fds} descriptors");
        drop(held);
    });
}

/// The write deadline: a client that stops reading before its queue meets
/// the byte cap is closed all the same once one write has waited
/// `--write-timeout`.
#[test]
fn a_write_that_stalls_is_abandoned_at_the_write_timeout() {
    run_alone(async {
        const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
        let server = Server::start(
            &["--max-queued-bytes", "100000000", "--write-timeout", "2"],
            None,
        );
        let fds0 = server.fds();
        let mut ws = ws_from(&server.url(), server.addr, loopback(2), Some(16 * 1024)).await;
        send(
            &mut ws,
            json!({"type":"register","app_id":"demo","user_id":"mallory","token":token("mallory")}),
        )
        .await;
        assert_eq!(recv(&mut ws).await["type"], "registered");
        send(&mut ws, json!({"type":"join","channel":"pin","uid":0})).await;
        let uid = recv(&mut ws).await["uid"]
            .as_u64()
            .expect("joined with a uid");
        // 9 MB for itself (fewer than 256 messages), within the rate limit;
        // more than the kernel buffers between us hold.
        let payload = "x".repeat(60 * 1024);
        let first = Instant::now();
        for i in 0..150 {
            let msg = json!({"type":"signal","channel":"pin","to":uid,"data":payload});
            ws.send(Message::Text(msg.to_string().into()))
                .await
                .unwrap();
            if i >= 90 {
                tokio::time::sleep(Duration::from_millis(22)).await;
            }
        }
        let last = Instant::now();
        let closed = wait_for(WRITE_TIMEOUT + Duration::from_secs(4), || {
            server.fds() <= fds0
        })
        .await;
        let (after, since_first) = (last.elapsed(), first.elapsed());
        println!(
            "write timeout: closed {since_first:?} after the first message, {after:?} after the last"
        );
        assert!(closed, "still open {after:?} after the last message");
        // No write can have waited its 2 s before the first message.
        assert!(
            since_first >= WRITE_TIMEOUT,
            "closed too early: {since_first:?}"
        );
        assert!(
            after <= WRITE_TIMEOUT + Duration::from_millis(1_500),
            "closed {after:?} after the last message"
        );
        drop(ws);
    });
}

/// Attack 2: slowloris. 300 connections from five addresses send a partial
/// upgrade request, one header line a second, and reconnect when closed;
/// together they want more sockets than the server has descriptors (256).
/// The server must close them at its header deadline, cap how many wait (16
/// per address), and keep serving.
#[test]
fn slowloris_cannot_exhaust_descriptors_or_lock_out_clients() {
    run_alone(async {
        const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
        const ATTACK: Duration = Duration::from_secs(9);
        let server = Arc::new(Server::start(
            &[
                "--header-timeout",
                "2",
                "--upgrade-timeout",
                "4",
                "--max-pending",
                "96",
                "--max-pending-per-ip",
                "16",
            ],
            Some(256),
        ));
        let (rss0, fds0) = (server.rss_mib(), server.fds());
        let stop = Arc::new(AtomicBool::new(false));
        let peaks = server.watch(stop.clone());
        let attack_ends = Instant::now() + ATTACK;
        let longest_ms = Arc::new(AtomicU64::new(0));
        let opened = Arc::new(AtomicUsize::new(0));
        let mut attackers = Vec::new();
        for source in 2..7 {
            for _ in 0..60 {
                let (addr, longest_ms, opened) = (server.addr, longest_ms.clone(), opened.clone());
                attackers.push(tokio::spawn(async move {
                    while Instant::now() < attack_ends {
                        let socket = TcpSocket::new_v4().unwrap();
                        socket.bind(SocketAddr::new(loopback(source), 0)).unwrap();
                        let Ok(Ok(mut tcp)) =
                            tokio::time::timeout(Duration::from_secs(1), socket.connect(addr))
                                .await
                        else {
                            tokio::time::sleep(Duration::from_millis(500)).await;
                            continue;
                        };
                        opened.fetch_add(1, Ordering::Relaxed);
                        let since = Instant::now();
                        let mut line = 0;
                        let mut request =
                            "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n".to_string();
                        let mut buf = [0u8; 1024];
                        // One header line a second until the server closes it.
                        let closed = loop {
                            if tcp.write_all(request.as_bytes()).await.is_err() {
                                break true;
                            }
                            line += 1;
                            request = format!("X-Slow-{line}: a\r\n");
                            let read =
                                tokio::time::timeout(Duration::from_secs(1), tcp.read(&mut buf))
                                    .await;
                            if read.is_ok() {
                                break true; // closed, reset, or an error answer
                            }
                            if Instant::now() >= attack_ends {
                                break false;
                            }
                        };
                        if closed {
                            longest_ms
                                .fetch_max(since.elapsed().as_millis() as u64, Ordering::Relaxed);
                        }
                        drop(tcp);
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }));
            }
        }
        // Let the attack take hold, then call twice while it runs.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let first = place_call(&server, "s1").await;
        let during = server.fds();
        assert!(
            wait_for(Duration::from_secs(5), || Instant::now()
                >= attack_ends - Duration::from_secs(3))
            .await
        );
        let second = place_call(&server, "s2").await;
        for a in attackers {
            a.await.unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        let (peak_rss, peak_fds) = peaks.await.unwrap();
        let longest = Duration::from_millis(longest_ms.load(Ordering::Relaxed));
        println!(
        "slowloris: {} connections opened by 300 attackers; server descriptors {fds0} at start, \
         {during} during, peak {peak_fds}; RSS {rss0:.1} MiB at start, peak {peak_rss:.1}; \
         longest attacker connection {longest:?}; calls placed in {first:?} and {second:?}",
        opened.load(Ordering::Relaxed)
    );
        assert!(
            first < CALL_WITHIN && second < CALL_WITHIN,
            "calls took {first:?} and {second:?}"
        );
        // 5 × 16 pending at most, the calls' sockets, and the server's own.
        assert!(peak_fds <= fds0 + 80 + 16, "peak {peak_fds} descriptors");
        assert!(peak_rss < 48.0, "peak RSS {peak_rss:.1} MiB");
        // Held until the header deadline, and not beyond.
        assert!(
            longest >= HEADER_TIMEOUT - Duration::from_millis(500)
                && longest <= HEADER_TIMEOUT + Duration::from_millis(1_500),
            "the longest attacker connection lived {longest:?}"
        );
    });
}

/// The overall deadline: connections that send nothing, keep sending
/// headers, or load the page and idle are all closed once the upgrade
/// deadline passes, even with a long header timeout.
#[test]
fn a_connection_that_never_upgrades_is_closed_at_the_deadline() {
    run_alone(async {
        const UPGRADE_TIMEOUT: Duration = Duration::from_secs(2);
        let server = Server::start(&["--header-timeout", "30", "--upgrade-timeout", "2"], None);
        let addr = server.addr;
        let started = Instant::now();
        let mut clients = Vec::new();
        for kind in ["idle", "slow-headers", "page-then-idle"] {
            for n in 0..3u8 {
                clients.push(tokio::spawn(async move {
                    let socket = TcpSocket::new_v4().unwrap();
                    socket.bind(SocketAddr::new(loopback(2 + n), 0)).unwrap();
                    let mut tcp = socket.connect(addr).await.unwrap();
                    let mut page = Vec::new();
                    let mut buf = [0u8; 4096];
                    if kind == "page-then-idle" {
                        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                            .await
                            .unwrap();
                    }
                    let mut line = 0;
                    loop {
                        if kind == "slow-headers" {
                            let text = if line == 0 {
                                "GET /ws HTTP/1.1\r\nHost: x\r\n".to_string()
                            } else {
                                format!("X-Slow-{line}: a\r\n")
                            };
                            line += 1;
                            if tcp.write_all(text.as_bytes()).await.is_err() {
                                break;
                            }
                        }
                        match tokio::time::timeout(Duration::from_millis(300), tcp.read(&mut buf))
                            .await
                        {
                            Ok(Ok(0)) | Ok(Err(_)) => break,
                            Ok(Ok(n)) => page.extend_from_slice(&buf[..n]),
                            Err(_) if started.elapsed() > Duration::from_secs(10) => break,
                            Err(_) => {}
                        }
                    }
                    (
                        kind,
                        started.elapsed(),
                        String::from_utf8_lossy(&page).into_owned(),
                    )
                }));
            }
        }
        for c in clients {
            let (kind, lived, page) = c.await.unwrap();
            println!("{kind}: closed after {lived:?}");
            assert!(
                lived >= UPGRADE_TIMEOUT - Duration::from_millis(300)
                    && lived <= UPGRADE_TIMEOUT + Duration::from_millis(1_500),
                "{kind}: closed after {lived:?}"
            );
            if kind == "page-then-idle" {
                assert!(
                    page.starts_with("HTTP/1.1 200") && page.contains("<html"),
                    "GET / serves the web client: {:?}",
                    &page[..page.len().min(200)]
                );
            }
        }
    });
}

type Codes = Arc<Mutex<std::collections::BTreeMap<String, usize>>>;

/// A WebSocket from `source` that pings every 500 ms and never registers,
/// until the server closes it (→ how long it lived) or `until` passes (→
/// `None`; also `None` if it could not connect). Error codes it gets are
/// counted in `codes`.
async fn unregistered(
    url: &str,
    addr: SocketAddr,
    source: IpAddr,
    until: Instant,
    codes: &Codes,
) -> Option<Duration> {
    let mut ws = tokio::time::timeout(Duration::from_secs(2), try_ws_from(url, addr, source, None))
        .await
        .ok()?
        .ok()?;
    let since = Instant::now();
    while Instant::now() < until {
        let ping = Message::Text(json!({"type":"ping"}).to_string().into());
        if ws.send(ping).await.is_err() {
            return Some(since.elapsed());
        }
        let closed = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                match ws.next().await {
                    Some(Ok(Message::Text(t))) => {
                        let v: Value = serde_json::from_str(&t).unwrap();
                        if v["type"] == "error" {
                            let code = v["code"].as_str().unwrap_or("?").to_string();
                            *codes.lock().unwrap().entry(code).or_default() += 1;
                        }
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => {}
                }
            }
        })
        .await;
        if closed.is_ok() {
            return Some(since.elapsed());
        }
    }
    None
}

/// Attack 3: 300 WebSocket connections from three addresses that ping but
/// never register, three times the server's connection slots (100),
/// reconnecting a second after being closed. Clients that register
/// promptly must still get in while they hold what they can; then idle ones
/// are closed at the registration deadline even though they ping.
#[test]
fn unregistered_connections_cannot_lock_out_registration() {
    run_alone(async {
        const REGISTER_TIMEOUT: Duration = Duration::from_secs(3);
        const ATTACK: Duration = Duration::from_secs(8);
        const ATTACKERS: usize = 300;
        let server = Arc::new(Server::start(
            &[
                "--max-connections",
                "100",
                "--max-unregistered",
                "20",
                "--register-timeout",
                "3",
            ],
            None,
        ));
        let (rss0, fds0) = (server.rss_mib(), server.fds());
        let stop = Arc::new(AtomicBool::new(false));
        let peaks = server.watch(stop.clone());
        let attack_ends = Instant::now() + ATTACK;
        let codes = Codes::default();
        let mut attackers = Vec::new();
        for i in 0..ATTACKERS {
            let (url, addr, codes) = (server.url(), server.addr, codes.clone());
            attackers.push(tokio::spawn(async move {
                // Spread over three addresses, and over the first second.
                tokio::time::sleep(Duration::from_millis(i as u64 * 3)).await;
                let mut longest = Duration::ZERO;
                while Instant::now() < attack_ends {
                    let source = loopback(2 + (i % 3) as u8);
                    if let Some(lived) = unregistered(&url, addr, source, attack_ends, &codes).await
                    {
                        longest = longest.max(lived);
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                longest
            }));
        }
        // Once the attackers hold every slot they can, call twice.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let first = place_call(&server, "u1").await;
        let during = server.fds();
        assert!(
            wait_for(Duration::from_secs(5), || Instant::now()
                >= attack_ends - Duration::from_secs(2))
            .await
        );
        let second = place_call(&server, "u2").await;
        let mut longest = Duration::ZERO;
        for a in attackers {
            longest = longest.max(a.await.unwrap());
        }
        stop.store(true, Ordering::Relaxed);
        let (peak_rss, peak_fds) = peaks.await.unwrap();
        let attack_codes = codes.lock().unwrap().clone();
        println!(
            "unregistered: {ATTACKERS} attackers; server descriptors {fds0} at start, {during} \
         during, peak {peak_fds}; RSS {rss0:.1} MiB at start, peak {peak_rss:.1}; longest \
         attacker connection {longest:?}; errors they got {attack_codes:?}; calls placed in \
         {first:?} and {second:?}"
        );
        assert!(
            first < CALL_WITHIN && second < CALL_WITHIN,
            "calls took {first:?} and {second:?}"
        );
        // 20 unregistered, 32 pending per address, the calls, connections on
        // their way in or out: well under the 300 attackers.
        assert!(
            peak_fds <= fds0 + 20 + 3 * 32 + 16,
            "peak {peak_fds} descriptors"
        );
        assert!(peak_rss < 48.0, "peak RSS {peak_rss:.1} MiB");
        assert!(
            longest <= REGISTER_TIMEOUT + Duration::from_millis(1_500),
            "an unregistered connection lived {longest:?}"
        );

        // Unregistered connections that ping are closed at the deadline.
        let codes = Codes::default();
        let until = Instant::now() + REGISTER_TIMEOUT + Duration::from_secs(3);
        let idle: Vec<_> = (0..5)
            .map(|_| {
                let (url, addr, codes) = (server.url(), server.addr, codes.clone());
                tokio::spawn(
                    async move { unregistered(&url, addr, loopback(5), until, &codes).await },
                )
            })
            .collect();
        for c in idle {
            let lived = c.await.unwrap().expect("closed by the server");
            assert!(
                lived >= REGISTER_TIMEOUT - Duration::from_millis(300)
                    && lived <= REGISTER_TIMEOUT + Duration::from_millis(1_000),
                "closed after {lived:?}"
            );
        }
        assert_eq!(
            codes.lock().unwrap().get("register_timeout").copied(),
            Some(5)
        );
        assert!(
            wait_for(Duration::from_secs(5), || server.fds() <= fds0).await,
            "{} descriptors after the attack, {fds0} at start",
            server.fds()
        );
    });
}
