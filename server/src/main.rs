//! `media-server`: the libmedia rendezvous server.
//!
//!     media-server serve --listen 127.0.0.1:8080 --app demo:devsecret
//!     media-server serve --help    # every limit, with its default
//!     media-server token --app demo:devsecret --user alice [--channel room-7] [--ttl 3600]

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};
use media_server::hub::HubConfig;
use media_server::server::{start, ServerConfig};
use media_server::token::{mint, Claims};

#[derive(Parser)]
#[command(
    version,
    about = "libmedia rendezvous server: registration, 1v1 calls, channels over WebSocket"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// An app and the secret its tokens are signed with, as APP_ID:SECRET.
        /// Repeat for several apps. Also read from MEDIA_SERVER_APPS
        /// (comma-separated).
        #[arg(long = "app", value_name = "APP_ID:SECRET")]
        apps: Vec<String>,
        /// Seconds a call rings before timing out.
        #[arg(long, default_value_t = 30)]
        ring_timeout: u64,
        /// Broadcasters per channel (media is a mesh between them).
        #[arg(long, default_value_t = 4)]
        max_broadcasters: usize,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Mint a token for development.
    Token {
        /// APP_ID:SECRET
        #[arg(long, value_name = "APP_ID:SECRET")]
        app: String,
        #[arg(long)]
        user: String,
        /// Restrict to one channel (default: any).
        #[arg(long, default_value = "*")]
        channel: String,
        /// Lifetime in seconds (0 mints an already expired token, to test expiry).
        #[arg(long, default_value_t = 86_400)]
        ttl: u64,
    },
}

/// Limits against clients that hold resources; each defaults to the value
/// documented on `HubConfig` / `ServerConfig` (PROTOCOL.md, "Limits").
#[derive(Args)]
struct LimitArgs {
    /// Connections, registered or not [default: 1000].
    #[arg(long)]
    max_connections: Option<usize>,
    /// Connections not registered yet; a newer one replaces the oldest from
    /// the address with the most [default: 100].
    #[arg(long)]
    max_unregistered: Option<usize>,
    /// Seconds a connection may take to register [default: 10].
    #[arg(long, value_name = "SECONDS")]
    register_timeout: Option<u64>,
    /// Bytes queued for one client before it is disconnected [default: 1 MiB].
    #[arg(long)]
    max_queued_bytes: Option<usize>,
    /// Seconds one write to a client may take [default: 10].
    #[arg(long, value_name = "SECONDS")]
    write_timeout: Option<u64>,
    /// Seconds a client may take to send its HTTP request headers [default: 5].
    #[arg(long, value_name = "SECONDS")]
    header_timeout: Option<u64>,
    /// Seconds a connection may take to upgrade to WebSocket [default: 10].
    #[arg(long, value_name = "SECONDS")]
    upgrade_timeout: Option<u64>,
    /// Connections not upgraded yet; a newer one replaces the oldest from
    /// the address with the most [default: 256].
    #[arg(long)]
    max_pending: Option<usize>,
    /// Connections not upgraded yet from one IP address (IPv6: one /64)
    /// [default: 32].
    #[arg(long)]
    max_pending_per_ip: Option<usize>,
    /// Open sockets of every kind [default: 2048, lowered to fit the
    /// descriptor limit].
    #[arg(long)]
    max_sockets: Option<usize>,
}

impl LimitArgs {
    fn apply(&self, config: &mut ServerConfig) {
        let secs = Duration::from_secs;
        let hub = &mut config.hub;
        if let Some(v) = self.max_connections {
            hub.max_connections = v;
        }
        if let Some(v) = self.max_unregistered {
            hub.max_unregistered = v;
        }
        if let Some(v) = self.register_timeout {
            hub.register_timeout_ms = v * 1000;
        }
        if let Some(v) = self.max_queued_bytes {
            config.max_queued_bytes = v;
        }
        if let Some(v) = self.write_timeout {
            config.write_timeout = secs(v);
        }
        if let Some(v) = self.header_timeout {
            config.header_timeout = secs(v);
        }
        if let Some(v) = self.upgrade_timeout {
            config.upgrade_timeout = secs(v);
        }
        if let Some(v) = self.max_pending {
            config.max_pending = v;
        }
        if let Some(v) = self.max_pending_per_ip {
            config.max_pending_per_ip = v;
        }
        if let Some(v) = self.max_sockets {
            config.max_sockets = v;
        }
    }
}

/// Descriptors kept for everything but client sockets (the listener,
/// stdio, the runtime's own).
const RESERVED_DESCRIPTORS: u64 = 64;

/// Raises the soft descriptor limit to the hard one and keeps `max_sockets`
/// below it, so that running out of descriptors stays a configured limit
/// rather than an accident.
fn fit_descriptor_limit(config: &mut ServerConfig) {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            eprintln!("media-server: cannot raise the descriptor limit: {e}");
            match rlimit::getrlimit(rlimit::Resource::NOFILE) {
                Ok((soft, _)) => soft,
                Err(_) => return,
            }
        }
    };
    let fits = limit.saturating_sub(RESERVED_DESCRIPTORS).max(1);
    if config.max_sockets as u64 > fits {
        eprintln!(
            "media-server: {limit} descriptors allowed; serving at most {fits} sockets, not {}",
            config.max_sockets
        );
        config.max_sockets = fits as usize;
    }
}

fn parse_app(s: &str) -> Result<(String, Vec<u8>), String> {
    match s.split_once(':') {
        Some((id, secret)) if !id.is_empty() && !secret.is_empty() => {
            Ok((id.to_string(), secret.as_bytes().to_vec()))
        }
        _ => Err(format!("expected APP_ID:SECRET, got {s:?}")),
    }
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Token {
            app,
            user,
            channel,
            ttl,
        } => {
            let (app_id, secret) = parse_app(&app).unwrap_or_else(|e| fail(&e));
            // Tokens the server would refuse are not minted.
            if !media_server::protocol::valid_user_id(&user) {
                fail(&format!(
                    "user id {user:?}: 1 to 64 of A-Z a-z 0-9 - _ . @ (see PROTOCOL.md, Identifiers)"
                ));
            }
            if channel != "*" && !media_server::protocol::valid_channel(&channel) {
                fail(&format!(
                    "channel {channel:?}: * or 1 to 64 of A-Z a-z 0-9 - _ . @"
                ));
            }
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            println!(
                "{}",
                mint(
                    &Claims {
                        app_id,
                        user_id: user,
                        channel,
                        exp: now + ttl
                    },
                    &secret
                )
            );
        }
        Command::Serve {
            listen,
            mut apps,
            ring_timeout,
            max_broadcasters,
            limits,
        } => {
            if let Ok(env) = std::env::var("MEDIA_SERVER_APPS") {
                apps.extend(env.split(',').filter(|s| !s.is_empty()).map(str::to_string));
            }
            if apps.is_empty() {
                fail("no app configured: pass --app APP_ID:SECRET (or set MEDIA_SERVER_APPS)");
            }
            let mut hub = HubConfig {
                ring_timeout_ms: ring_timeout * 1000,
                max_broadcasters,
                ..HubConfig::default()
            };
            for a in &apps {
                let (id, secret) = parse_app(a).unwrap_or_else(|e| fail(&e));
                hub.apps.insert(id, secret);
            }
            let mut config = ServerConfig {
                listen,
                hub,
                ..ServerConfig::default()
            };
            limits.apply(&mut config);
            fit_descriptor_limit(&mut config);
            let runtime =
                tokio::runtime::Runtime::new().unwrap_or_else(|e| fail(&format!("tokio: {e}")));
            runtime.block_on(async {
                let server = start(config)
                    .await
                    .unwrap_or_else(|e| fail(&format!("cannot listen on {listen}: {e}")));
                println!("media-server listening on ws://{}/ws", server.addr);
                let _ = tokio::signal::ctrl_c().await;
                server.shutdown().await;
            });
        }
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("media-server: {msg}");
    std::process::exit(2);
}
