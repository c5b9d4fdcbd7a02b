//! Interop with real peers nobody here wrote (`tests/peers/`): our server against Python
//! `websockets`, Node `ws` and headless Chromium clients; our client against the Python and
//! Node echo servers; each again with permessage-deflate agreed, the peer reporting the
//! extension (Node's server also with server_no_context_takeover and with a 2^10 client
//! window). The peer programs and their installer live in `tests/peers/` and
//! `scripts/setup-peers.sh`; the process plumbing is `tether_tests::peer`.

use tether_rt::Bytes;
use tether_tests::peer::{self, Peer};

use super::*;

/// Every interop test is bounded by this (starting a browser, 16 MiB in a debug build).
const INTEROP_LIMIT: Duration = Duration::from_secs(90);

/// Our echo server for one connection, as in `examples/echo_server.rs` (with
/// permessage-deflate when `deflate`): returns the URL and the task that yields how the
/// connection ended on our side and what deflate it agreed.
async fn echo_server(deflate: bool) -> (String, impl Future<Output = (Option<tether_rt::Closed>, bool)>) {
    let (listener, addr) = rt::listen().await;
    let config = if deflate { super::deflate::with_deflate(tether_rt::DeflateConfig::default()) } else { config() };
    let task = rt::spawn(async move {
        let stream = rt::accept(&listener).await;
        // The peers send up to 16 MiB: larger limits than the server defaults, configured.
        let upgrade = Upgrade::<Stream, R>::read_with_config(stream, config).await.expect("read upgrade");
        let ws = upgrade.accept().await.expect("accept");
        let agreed = ws.deflate().is_some();
        (echo(ws).await, agreed)
    });
    (format!("ws://{addr}/interop"), task)
}

/// Run a peer client (`args` after the interpreter) against our echo server: it must exit
/// 0, print how our server answered its close, and our side must have seen that close.
/// Every peer client offers permessage-deflate; with `deflate` our server agrees, and the
/// peer must report the extension (so the test fails if compression silently drops),
/// without it the peer must report none.
fn our_server_with(browser: bool, deflate: bool, program: &[&str], peer_name: &str) {
    run_for(INTEROP_LIMIT, async {
        peer::ensure_setup(browser);
        let (url, server) = echo_server(deflate).await;
        let mut args: Vec<&str> = program[1..].to_vec();
        args.push(&url);
        let mut client = Peer::spawn(program[0], &args);
        let status = client.wait::<R>(INTEROP_LIMIT - Duration::from_secs(10)).await;
        let output = client.output();
        assert!(status.success(), "{peer_name} client failed ({status}):\n{output}");
        if browser {
            // One JSON line: every echo matched and the close was clean with our echo of 4001
            // (the engine echoes the code with an empty reason).
            assert!(output.contains(r#""mismatches": []"#) || output.contains(r#""mismatches":[]"#), "{output}");
            assert!(output.contains(r#""code": 4001"#) || output.contains(r#""code":4001"#), "{output}");
            assert!(output.contains(r#""clean": true"#) || output.contains(r#""clean":true"#), "{output}");
            let agreed = output.contains(r#""extensions": "permessage-deflate"#)
                || output.contains(r#""extensions":"permessage-deflate"#);
            assert_eq!(agreed, deflate, "the browser's ws.extensions: {output}");
        } else {
            let line = output.lines().find(|l| l.starts_with("extensions")).unwrap_or_default();
            assert_eq!(line.contains("permessage-deflate"), deflate, "{peer_name} reports {line:?}:\n{output}");
            // Our engine echoes the peer's close code with an empty reason (proto's close
            // reply), so the peer reports `closed 4001 ` — not its own reason back.
            let line = output.lines().find(|l| l.starts_with("closed ")).unwrap_or_default();
            assert_eq!(line.trim_end(), "closed 4001", "{output}");
        }
        let (ours, agreed) = server.await;
        assert_eq!(agreed, deflate, "our server's deflate()");
        let ours = ours.expect("our server saw the ending");
        assert_eq!(ours.code.as_u16(), 4001, "{ours:?}");
        assert_eq!(ours.reason, format!("bye from {peer_name}"));
        assert_eq!(ours.cause, CloseCause::PeerInitiated);
    })
}

#[test]
fn our_server_with_python_client() {
    our_server_with(false, false, &[peer::PYTHON, "tests/peers/py_client.py"], "python");
}

#[test]
fn our_server_with_node_client() {
    our_server_with(false, false, &["node", "tests/peers/node_client.js"], "node");
}

#[test]
fn our_server_with_chromium() {
    our_server_with(true, false, &[peer::PYTHON, "tests/peers/browser_check.py"], "chromium");
}

#[test]
fn our_deflate_server_with_python_client() {
    our_server_with(false, true, &[peer::PYTHON, "tests/peers/py_client.py"], "python");
}

#[test]
fn our_deflate_server_with_node_client() {
    our_server_with(false, true, &["node", "tests/peers/node_client.js"], "node");
}

#[test]
fn our_deflate_server_with_chromium() {
    our_server_with(true, true, &[peer::PYTHON, "tests/peers/browser_check.py"], "chromium");
}

/// Our client against a peer echo server started with `program PORT extra…`; with
/// `deflate`, our client offers permessage-deflate and the server must agree to `expected`
/// (window_bits, peer_window_bits, no_context_takeover, peer_no_context_takeover).
fn our_client_with(program: &[&str]) {
    our_client_with_deflate(program, &[], None)
}

fn our_client_with_deflate(program: &[&str], extra: &[&str], expected: Option<(u8, u8, bool, bool)>) {
    run_for(INTEROP_LIMIT, async {
        peer::ensure_setup(false);
        let port = peer::free_port();
        let mut args: Vec<String> = program[1..].iter().map(|s| s.to_string()).collect();
        args.push(port.to_string());
        args.extend(extra.iter().map(|s| s.to_string()));
        let client_config = if expected.is_some() {
            super::deflate::with_deflate(tether_rt::DeflateConfig::default())
        } else {
            config()
        };
        // Control messages are surfaced below (to see the pong of our own ping): keepalive
        // off, or a keepalive pong, once the conversation passes its interval on a loaded
        // machine, arrives where an echo is expected.
        let client_config = client_config.to_builder().keepalive_interval(None).build().expect("valid config");
        let agreed = |ws: &ClientWs| {
            ws.deflate().map(|p| (p.window_bits, p.peer_window_bits, p.no_context_takeover, p.peer_no_context_takeover))
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut server = Peer::spawn(program[0], &args);
        server.expect_line::<R>("listening", Duration::from_secs(20)).await;
        let url = format!("ws://127.0.0.1:{port}/interop");

        // The conversation: every kind and size of message comes back as sent.
        let mut ws = ClientBuilder::<R>::new(&url).config(client_config.clone()).connect().await.expect("connect");
        assert_eq!(agreed(&ws), expected, "the server's permessage-deflate answer");
        ws.set_control_messages(true);
        let big: Vec<u8> = (0..1u32 << 20).map(|i| (i * 31 + 7) as u8).collect();
        let huge: Vec<u8> = (0..16u32 << 20).map(|i| (i % 251) as u8).collect();
        let compressible: String = (0..2000).map(|i| format!("{{\"id\":{i},\"name\":\"item {}\"}}", i % 17)).collect();
        let script = [
            Message::text("hello"),
            Message::text("héllo wörld ✓ 😀"),
            Message::text(""),
            Message::binary(&[0u8, 1, 2][..]),
            Message::binary(Bytes::new()),
            Message::binary(big),
            Message::binary(huge),
            Message::text(compressible.clone()),
            Message::text(compressible),
        ];
        for message in script {
            ws.send(message.clone()).await.expect("send");
            let echo = recv_skipping_keepalive(&mut ws).await.expect("a message");
            assert!(
                echo == message,
                "echo mismatch for a message of {} bytes: {}",
                message_len(&message),
                diff(&echo, &message)
            );
        }
        ws.ping(&b"interop-ping"[..]).await.expect("ping");
        assert_eq!(recv_skipping_keepalive(&mut ws).await, Some(Message::Pong(Bytes::from_static(b"interop-ping"))));

        // The server closes: a typed receive reports its code and reason.
        ws.send_text("close:4002:server bye").await.unwrap();
        match ws.recv_text().await {
            Err(Error::Closed(closed)) => {
                assert_eq!(closed.code.as_u16(), 4002);
                assert_eq!(closed.reason, "server bye");
                assert_eq!(closed.cause, CloseCause::PeerInitiated);
            }
            other => panic!("expected the server's close, got {other:?}"),
        }
        // The server reports what our engine echoed: the code, with an empty reason.
        let line = server.expect_line::<R>("closed ", Duration::from_secs(10)).await;
        assert_eq!(line.trim_end(), "closed 4002");

        // We close: the server sees our code and reason and echoes them back.
        let mut ws = ClientBuilder::<R>::new(&url).config(client_config).connect().await.expect("connect again");
        assert_eq!(agreed(&ws), expected);
        ws.close(CloseCode::new(4003).unwrap(), "client bye").await.expect("close");
        let line = server.expect_line::<R>("closed ", Duration::from_secs(10)).await;
        assert_eq!(line, "closed 4003 client bye");
        let ours = ws.closed().expect("ended");
        assert_eq!(ours.code.as_u16(), 4003, "{ours:?}");
        assert_eq!(ours.reason, "client bye", "the peer echoes the reason too");
        assert_eq!(ours.cause, CloseCause::LocallyInitiated);
    })
}

/// The next message, skipping pongs that answer our keepalive pings: with control messages
/// shown, a slow run (a debug build on a loaded machine, 16 MiB each way) can go 20 s
/// without inbound traffic, and the keepalive's ping and its pong are then part of the
/// conversation. The test's own ping carries `interop-ping` and is kept.
async fn recv_skipping_keepalive(ws: &mut ClientWs) -> Option<Message> {
    loop {
        match ws.recv().await.expect("recv") {
            Some(Message::Pong(payload)) if payload.as_ref() != b"interop-ping" => continue,
            other => return other,
        }
    }
}

/// Where two messages differ: kinds, lengths and the first differing byte.
fn diff(got: &Message, sent: &Message) -> String {
    let bytes = |m: &Message| match m {
        Message::Text(t) => t.as_str().as_bytes().to_vec(),
        Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b.to_vec(),
        _ => Vec::new(),
    };
    let (g, s) = (bytes(got), bytes(sent));
    let first = g.iter().zip(&s).position(|(a, b)| a != b);
    let kind = |m: &Message| std::mem::discriminant(m);
    format!(
        "same kind {}, got {} bytes, sent {}, first difference at {first:?}",
        kind(got) == kind(sent),
        g.len(),
        s.len()
    )
}

fn message_len(message: &Message) -> usize {
    match message {
        Message::Text(t) => t.len(),
        Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b.len(),
        _ => 0,
    }
}

#[test]
fn our_client_with_python_server() {
    our_client_with(&[peer::PYTHON, "tests/peers/py_server.py"]);
}

#[test]
fn our_client_with_node_server() {
    our_client_with(&["node", "tests/peers/node_server.js"]);
}

#[test]
fn our_deflate_client_with_python_server() {
    // websockets' server compresses with 2^12 and asks as much of a client that announces support.
    our_client_with_deflate(&[peer::PYTHON, "tests/peers/py_server.py"], &[], Some((12, 12, false, false)));
}

#[test]
fn our_deflate_client_with_node_server() {
    our_client_with_deflate(&["node", "tests/peers/node_server.js"], &["deflate"], Some((15, 15, false, false)));
}

#[test]
fn our_deflate_client_with_node_server_no_context_takeover() {
    our_client_with_deflate(&["node", "tests/peers/node_server.js"], &["deflate-nct"], Some((15, 15, false, true)));
}

#[test]
fn our_deflate_client_with_node_server_limiting_our_window() {
    our_client_with_deflate(&["node", "tests/peers/node_server.js"], &["deflate-bits"], Some((10, 15, false, false)));
}
