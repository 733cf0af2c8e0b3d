//! A rendezvous server inside the library (feature `server`, on by
//! default): the same server as the `media-server` binary, on its own
//! thread, for demos, tests and apps that want to host calls on a LAN
//! without running anything else. Tokens for its app are minted here.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use media_server::hub::HubConfig;
use media_server::server::{RunningServer, ServerConfig as HostConfig};
use media_server::token::{mint, Claims};

use crate::error::{Error, Result};

/// A running in-process server; dropping it closes every connection and
/// stops its thread.
pub struct LocalServer {
    runtime: Option<tokio::runtime::Runtime>,
    server: Option<RunningServer>,
    addr: SocketAddr,
    app_id: String,
    secret: Vec<u8>,
}

impl LocalServer {
    /// Serves app `app_id` (tokens signed with `secret`) on `listen`
    /// (`127.0.0.1:0` picks a free port; see [`LocalServer::url`]).
    pub fn start(listen: &str, app_id: &str, secret: &str) -> Result<LocalServer> {
        let listen: SocketAddr = listen
            .parse()
            .map_err(|e| Error::invalid_argument(format!("listen address {listen:?}: {e}")))?;
        if app_id.is_empty() || secret.is_empty() {
            return Err(Error::invalid_argument(
                "app id and secret must not be empty",
            ));
        }
        let mut hub = HubConfig::default();
        hub.apps
            .insert(app_id.to_string(), secret.as_bytes().to_vec());
        let config = HostConfig {
            listen,
            hub,
            ..Default::default()
        };
        // On a thread of its own: the host may itself be inside a tokio
        // runtime, where blocking on another one is not allowed.
        let (runtime, server) = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("media-server")
                .enable_all()
                .build()
                .map_err(|e| Error::internal(format!("server runtime: {e}")))?;
            let server = runtime
                .block_on(media_server::server::start(config))
                .map_err(|e| listen_error(listen, &e))?;
            Ok::<_, Error>((runtime, server))
        })
        .join()
        .map_err(|_| Error::internal("the server failed to start"))??;
        Ok(LocalServer {
            addr: server.addr,
            runtime: Some(runtime),
            server: Some(server),
            app_id: app_id.to_string(),
            secret: secret.as_bytes().to_vec(),
        })
    }

    /// The WebSocket URL clients connect to (`ws://host:port/ws`).
    pub fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// The web client's address (`http://host:port/`).
    pub fn web_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A token for `user_id`, any channel, valid for `ttl` (whole seconds,
    /// at least one). Refuses what the server would refuse: a user id
    /// outside the protocol's alphabet (see
    /// [`media_protocol::valid_user_id`]) or a zero lifetime.
    pub fn token(&self, user_id: &str, ttl: Duration) -> Result<String> {
        if !media_protocol::valid_user_id(user_id) {
            return Err(Error::invalid_argument(format!(
                "user id {user_id:?}: 1 to 64 of A-Z a-z 0-9 - _ . @"
            )));
        }
        if ttl.as_secs() == 0 {
            return Err(Error::invalid_argument(
                "token lifetime must be at least 1 s",
            ));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let claims = Claims {
            app_id: self.app_id.clone(),
            user_id: user_id.to_string(),
            channel: "*".into(),
            exp: now.saturating_add(ttl.as_secs()),
        };
        Ok(mint(&claims, &self.secret))
    }
}

/// Why the server cannot listen on `listen`, as the library's error.
fn listen_error(listen: SocketAddr, e: &std::io::Error) -> Error {
    use std::io::ErrorKind::*;
    match e.kind() {
        AddrNotAvailable => Error::invalid_argument(format!(
            "cannot listen on {listen}: {} is not an address of this machine",
            listen.ip()
        )),
        AddrInUse => {
            Error::invalid_state(format!("cannot listen on {listen}: the address is in use"))
        }
        PermissionDenied => Error::new(
            crate::ErrorKind::PermissionDenied,
            format!(
                "cannot listen on {listen}: permission denied (ports below 1024 need privileges)"
            ),
        ),
        _ => Error::io(&format!("cannot listen on {listen}"), e),
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let (runtime, server) = (self.runtime.take(), self.server.take());
        // On a thread of its own, for the same reason as in `start`.
        let stopper = std::thread::spawn(move || {
            if let (Some(rt), Some(server)) = (runtime.as_ref(), server) {
                rt.block_on(async {
                    let _ = tokio::time::timeout(Duration::from_secs(2), server.shutdown()).await;
                });
            }
            if let Some(rt) = runtime {
                rt.shutdown_timeout(Duration::from_secs(1));
            }
        });
        let _ = stopper.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_serves_and_stops_even_inside_a_host_runtime() {
        let host = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        host.block_on(async {
            let server = LocalServer::start("127.0.0.1:0", "demo", "secret").unwrap();
            assert!(server.url().starts_with("ws://127.0.0.1:"));
            // The web client is served at its http address.
            let mut conn = std::net::TcpStream::connect(server.local_addr()).unwrap();
            use std::io::{Read, Write};
            conn.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
            let mut page = String::new();
            conn.read_to_string(&mut page).unwrap();
            assert!(page.contains("libmedia web client"), "{page:.200}");
            let token = server.token("alice", Duration::from_secs(60)).unwrap();
            assert!(token.starts_with("v1."));
            for bad in ["", "bob smith", "o'brien", "<b>x</b>"] {
                let e = server.token(bad, Duration::from_secs(60)).unwrap_err();
                assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{bad:?}");
            }
            let e = server.token("alice", Duration::ZERO).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
            drop(server);
        });
        assert!(LocalServer::start("nonsense", "demo", "s").is_err());
        assert!(LocalServer::start("127.0.0.1:0", "", "s").is_err());
        // 192.0.2.1 (TEST-NET-1) is nobody's address.
        let e = LocalServer::start("192.0.2.1:0", "demo", "s")
            .err()
            .unwrap();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument);
        assert!(
            e.message().contains("not an address of this machine"),
            "{e}"
        );
    }
}
