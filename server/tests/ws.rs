//! The server over real sockets: the binary, and the library's server with
//! WebSocket clients on loopback.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::token;
use futures_util::{SinkExt, StreamExt};
use media_server::hub::HubConfig;
use media_server::server::{start, RunningServer, ServerConfig};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn server() -> RunningServer {
    let mut hub = HubConfig::default();
    hub.apps.insert("demo".into(), b"secret".to_vec());
    start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        hub,
        max_message_bytes: 16 * 1024,
        ..ServerConfig::default()
    })
    .await
    .unwrap()
}

async fn connect(addr: std::net::SocketAddr) -> Ws {
    tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("connect")
        .0
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// The next protocol message, within 10 s.
async fn recv(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s");
        match msg {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
            Some(Ok(Message::Close(_))) | None => return json!({"type": "closed"}),
            Some(Ok(_)) => continue,
            Some(Err(_)) => return json!({"type": "closed"}),
        }
    }
}

async fn user(addr: std::net::SocketAddr, name: &str) -> Ws {
    let mut ws = connect(addr).await;
    send(&mut ws, json!({"type":"register","app_id":"demo","user_id":name,"nickname":name,"token":token(name)})).await;
    assert_eq!(recv(&mut ws).await["type"], "registered");
    ws
}

#[tokio::test]
async fn a_call_and_a_channel_over_websockets() {
    let server = server().await;
    let (mut alice, mut bob) = (
        user(server.addr, "alice").await,
        user(server.addr, "bob").await,
    );
    send(
        &mut alice,
        json!({"type":"call","call_id":"c1","to":"bob","media":"video"}),
    )
    .await;
    let incoming = recv(&mut bob).await;
    assert_eq!(
        (
            incoming["type"].as_str(),
            incoming["from"]["user_id"].as_str()
        ),
        (Some("incoming_call"), Some("alice"))
    );
    assert_eq!(recv(&mut alice).await["type"], "ringing");
    send(&mut bob, json!({"type":"accept","call_id":"c1"})).await;
    assert_eq!(recv(&mut alice).await["type"], "accepted");
    send(
        &mut alice,
        json!({"type":"signal","call_id":"c1","data":{"sdp":"offer"}}),
    )
    .await;
    assert_eq!(recv(&mut bob).await["data"]["sdp"], "offer");
    send(&mut alice, json!({"type":"hangup","call_id":"c1"})).await;
    assert_eq!(recv(&mut bob).await["reason"], "hangup");

    // Channel: carol's connection dies without leaving → dropped.
    let mut carol = user(server.addr, "carol").await;
    for ws in [&mut alice, &mut bob, &mut carol] {
        send(ws, json!({"type":"join","channel":"room-7","uid":0})).await;
        assert_eq!(recv(ws).await["type"], "joined");
    }
    assert_eq!(recv(&mut alice).await["member"]["user_id"], "bob");
    assert_eq!(recv(&mut alice).await["member"]["user_id"], "carol");
    assert_eq!(recv(&mut bob).await["member"]["user_id"], "carol");
    drop(carol); // TCP reset, no leave
    for ws in [&mut alice, &mut bob] {
        let offline = recv(ws).await;
        assert_eq!(
            (offline["type"].as_str(), offline["reason"].as_str()),
            (Some("user_offline"), Some("dropped"))
        );
    }
    send(&mut bob, json!({"type":"leave","channel":"room-7"})).await;
    assert_eq!(recv(&mut bob).await["type"], "left");
    let offline = recv(&mut alice).await;
    assert_eq!(offline["reason"], "quit");
    server.shutdown().await;
}

#[tokio::test]
async fn hostile_input_gets_errors_not_crashes() {
    let server = server().await;
    let mut ws = connect(server.addr).await;
    for junk in [
        "not json",
        "{}",
        r#"{"type":"call"}"#,
        r#"{"type":"register","app_id":1}"#,
        "[1,2,3]",
    ] {
        ws.send(Message::Text(junk.into())).await.unwrap();
        let reply = recv(&mut ws).await;
        assert_eq!(reply["code"], "bad_message", "{junk}: {reply}");
    }
    ws.send(Message::Binary(vec![0u8; 10].into()))
        .await
        .unwrap();
    assert_eq!(recv(&mut ws).await["code"], "bad_message");
    send(&mut ws, json!({"type":"join","channel":"x"})).await;
    assert_eq!(recv(&mut ws).await["code"], "not_registered");
    // Over the size limit: the connection is closed, the server lives on.
    let _ = ws.send(Message::Text("x".repeat(100_000).into())).await;
    assert_eq!(recv(&mut ws).await["type"], "closed");
    let mut again = user(server.addr, "dave").await;
    send(&mut again, json!({"type":"ping"})).await;
    assert_eq!(recv(&mut again).await["type"], "pong");
    server.shutdown().await;
}

#[test]
fn the_binary_mints_tokens_and_serves() {
    let bin = env!("CARGO_BIN_EXE_media-server");
    let mint = |ttl: &str| {
        let out = Command::new(bin)
            .args([
                "token",
                "--app",
                "demo:secret",
                "--user",
                "alice",
                "--ttl",
                ttl,
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let (good, expired) = (mint("600"), mint("0"));
    let bad = Command::new(bin).args(["serve"]).output().unwrap();
    assert_eq!(
        bad.status.code(),
        Some(2),
        "no app configured is a clear error"
    );

    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--app", "demo:secret"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("ws://127.0.0.1:"), "{line}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        for (tok, want) in [(expired, "token_expired"), (good, "registered")] {
            let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
                .await
                .unwrap();
            send(
                &mut ws,
                json!({"type":"register","app_id":"demo","user_id":"alice","token":tok}),
            )
            .await;
            let reply = recv(&mut ws).await;
            let got = if reply["type"] == "error" {
                reply["code"].clone()
            } else {
                reply["type"].clone()
            };
            assert_eq!(got, want);
        }
    });
    child.kill().unwrap();
    child.wait().unwrap();
}
