//! `media-server`: the libmedia rendezvous server.
//!
//!     media-server serve --listen 127.0.0.1:8080 --app demo:devsecret
//!     media-server token --app demo:devsecret --user alice [--channel room-7] [--ttl 3600]

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
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
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl: u64,
    },
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
            let runtime =
                tokio::runtime::Runtime::new().unwrap_or_else(|e| fail(&format!("tokio: {e}")));
            runtime.block_on(async {
                let server = start(ServerConfig {
                    listen,
                    hub,
                    ..ServerConfig::default()
                })
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
