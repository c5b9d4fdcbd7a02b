//! The chat server of the `chat_server` examples (`server/examples/chat_app/`, included
//! here as it is) over real sockets: the page, the 400 for a missing name and 403 for a
//! foreign origin, JSON messages and presence within a room and never across rooms, the
//! per-member rate limit (1008 for a flooder, the room goes on), 1001 for every member at
//! shutdown, and the page itself in headless Chromium (`tests/peers/browser_chat.py`).

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};
use tether_rt::Shutdown;

use super::*;

#[path = "../../server/examples/chat_app/app.rs"]
mod app;

async fn join(addr: SocketAddr, room: &str, name: &str) -> ClientWs {
    ClientBuilder::<R>::new(&format!("ws://{addr}/ws/{room}?name={name}")).connect().await.expect("join")
}

async fn next(ws: &mut ClientWs) -> Value {
    let text = ws.recv_text().await.expect("a frame");
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn chat_rooms_relay_messages_and_presence_and_shut_down_with_1001() {
    run(async {
        let (listener, addr) = rt::listen().await;
        let shutdown = Shutdown::new();
        let signal = shutdown.triggered();
        let served = rt::spawn(async move { app::server::<R>().serve(listener, signal).await });

        let page = std::thread::spawn(move || {
            use std::io::Write;
            let mut s = raw::connect(addr);
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            String::from_utf8(raw::read_to_end(&mut s)).unwrap()
        });
        while !page.is_finished() {
            sleep::<R>(Duration::from_millis(5)).await;
        }
        let page = page.join().unwrap();
        assert!(page.starts_with("HTTP/1.1 200 OK\r\n") && page.contains("<title>Tether chat</title>"), "{page}");

        let err = ClientBuilder::<R>::new(&format!("ws://{addr}/ws/lobby")).connect().await.unwrap_err();
        assert_eq!(err.http_status(), Some(400), "{err}");
        let err = ClientBuilder::<R>::new(&format!("ws://{addr}/ws/lobby?name=eve"))
            .origin("http://evil.example")
            .connect()
            .await
            .unwrap_err();
        assert_eq!(err.http_status(), Some(403), "{err}");

        let mut ada = join(addr, "lobby", "ada").await;
        assert_eq!(next(&mut ada).await, json!({"type": "join", "room": "lobby", "name": "ada", "members": ["ada"]}));
        let mut bob = join(addr, "lobby", "bob").await;
        let joined = json!({"type": "join", "room": "lobby", "name": "bob", "members": ["ada", "bob"]});
        assert_eq!(next(&mut ada).await, joined);
        assert_eq!(next(&mut bob).await, joined);
        let mut cy = join(addr, "other", "cy").await;
        assert_eq!(next(&mut cy).await, json!({"type": "join", "room": "other", "name": "cy", "members": ["cy"]}));

        ada.send_text(json!({"text": "hello <b>"}).to_string()).await.unwrap();
        let said = json!({"type": "message", "room": "lobby", "from": "ada", "text": "hello <b>"});
        assert_eq!(next(&mut ada).await, said);
        assert_eq!(next(&mut bob).await, said);
        // Frames that are not `{"text": ...}` are ignored.
        bob.send_text("not json").await.unwrap();
        // The other room hears none of it: cy's first frame after its join is its own line.
        cy.send_text(json!({"text": "anyone?"}).to_string()).await.unwrap();
        assert_eq!(next(&mut cy).await, json!({"type": "message", "room": "other", "from": "cy", "text": "anyone?"}));

        bob.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(next(&mut ada).await, json!({"type": "leave", "room": "lobby", "name": "bob", "members": ["ada"]}));

        shutdown.trigger();
        for mut member in [ada, cy] {
            assert!(matches!(member.recv().await, Ok(None)), "a clean close");
            assert_eq!(member.closed().expect("closed").code, CloseCode::GOING_AWAY);
        }
        let served = served.await;
        assert_eq!(served.abandoned, 0, "{served:?}");
    })
}

/// Mallory floods the room; the chat's rate limit (`app::MEMBER_RATE`: 100 messages/s,
/// burst 200, Close policy) ends her connection with 1008 while bob, in the same room,
/// stays connected, sees her leave and still gets messages. She sends rounds of 500 lines
/// as fast as the socket takes them and reads between rounds, so the outcome does not
/// depend on how fast the machine is: only a member that never exceeds 100 lines/s could
/// stay, and a round of 500 local writes does not take 3 s.
#[test]
fn a_flooding_member_is_closed_with_1008_and_the_room_goes_on() {
    const ROUND: usize = 500;
    const ROUNDS: usize = 10;
    run(async {
        let (listener, addr) = rt::listen().await;
        let shutdown = Shutdown::new();
        let signal = shutdown.triggered();
        let served = rt::spawn(async move { app::server::<R>().serve(listener, signal).await });

        let mut bob = join(addr, "lobby", "bob").await;
        assert_eq!(next(&mut bob).await["name"], "bob");
        let mut mallory = join(addr, "lobby", "mallory").await;
        assert_eq!(next(&mut bob).await["name"], "mallory");

        let line = json!({"text": "spam"}).to_string();
        let mut sent = 0;
        let closed = 'flood: {
            for _ in 0..ROUNDS {
                for _ in 0..ROUND {
                    if mallory.send_text(line.clone()).await.is_err() {
                        break;
                    }
                    sent += 1;
                }
                // Read what came back (her own lines, then perhaps the close) until quiet.
                loop {
                    match timeout::<R, _>(Duration::from_millis(200), mallory.recv()).await {
                        Some(Ok(Some(_))) => continue,
                        Some(Ok(None)) | Some(Err(_)) => break 'flood mallory.closed(),
                        None => break,
                    }
                }
            }
            None
        };
        let closed = closed.unwrap_or_else(|| panic!("mallory sent {sent} lines and was never closed"));
        assert_eq!(closed.code, CloseCode::POLICY_VIOLATION, "{closed:?}");

        // Bob got mallory's admitted lines (at least the burst), then her leave, and is
        // still in the room.
        let mut relayed = 0;
        loop {
            let event = next(&mut bob).await;
            match event["type"].as_str() {
                Some("message") => {
                    assert_eq!(event["from"], "mallory", "{event}");
                    relayed += 1;
                }
                Some("leave") => {
                    assert_eq!(event, json!({"type": "leave", "room": "lobby", "name": "mallory", "members": ["bob"]}));
                    break;
                }
                _ => panic!("unexpected {event}"),
            }
        }
        assert!(relayed >= 200 && relayed < sent, "{relayed} of {sent} lines relayed");

        let mut ada = join(addr, "lobby", "ada").await;
        assert_eq!(next(&mut bob).await["name"], "ada");
        assert_eq!(next(&mut ada).await["members"], json!(["bob", "ada"]));
        ada.send_text(json!({"text": "still there?"}).to_string()).await.unwrap();
        let said = json!({"type": "message", "room": "lobby", "from": "ada", "text": "still there?"});
        assert_eq!(next(&mut bob).await, said);
        assert_eq!(next(&mut ada).await, said);
        bob.send_text(json!({"text": "yes"}).to_string()).await.unwrap();
        assert_eq!(next(&mut bob).await["text"], "yes");
        assert_eq!(next(&mut ada).await["text"], "yes");

        shutdown.trigger();
        for mut member in [bob, ada] {
            assert!(matches!(member.recv().await, Ok(None)), "a clean close");
        }
        let served = served.await;
        assert_eq!(served.abandoned, 0, "{served:?}");
    })
}

/// The chat page in headless Chromium (`tests/peers/browser_chat.py`, driven over the
/// DevTools protocol like the interop tests' browser): ada and bob join `lobby` in two pages
/// and see each other's lines, join events and member list in the DOM; cy, in a third page
/// in `elsewhere`, sees none of it. A screenshot of ada's page is kept at
/// `<target dir>/chat-screenshot-<runtime>.png` (its path is printed). Like the Chromium
/// interop tests, it fails (never skips) when `scripts/setup-peers.sh --browser` cannot
/// install the browser.
#[test]
fn chat_page_in_headless_chromium() {
    use tether_tests::peer::{self, Peer};
    const LIMIT: Duration = Duration::from_secs(120);
    run_for(LIMIT, async {
        peer::ensure_setup(true);
        let (listener, addr) = rt::listen().await;
        let shutdown = Shutdown::new();
        let signal = shutdown.triggered();
        let served = rt::spawn(async move { app::server::<R>().serve(listener, signal).await });

        let runtime = std::any::type_name::<R>().rsplit("::").next().unwrap_or("rt").to_lowercase();
        let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| peer::root().join("target"), Into::into);
        let screenshot = peer::root().join(target).join(format!("chat-screenshot-{runtime}.png"));
        let _ = std::fs::remove_file(&screenshot);
        let base = format!("http://{addr}/");
        let shot = screenshot.to_str().expect("a UTF-8 path");
        let mut browser = Peer::spawn(peer::PYTHON, &["tests/peers/browser_chat.py", &base, shot]);
        let status = browser.wait::<R>(LIMIT - Duration::from_secs(10)).await;
        let output = browser.output();
        assert!(status.success(), "browser_chat.py failed ({status}):\n{output}");
        let line = output.lines().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no outcome:\n{output}"));
        let pages: Value = serde_json::from_str(line).expect("JSON outcome");

        let lobby_log = |me: &str| {
            let mut log = vec![json!("event:ada joined")];
            log.extend([json!("event:bob joined"), json!("message:ada|hello from ada")]);
            log.extend([json!("message:bob|hi ada"), json!("message:ada|bye")]);
            // bob's page starts at its own join.
            if me == "bob" {
                log.remove(0);
            }
            Value::Array(log)
        };
        for me in ["ada", "bob"] {
            let page = &pages[me];
            assert_eq!(page["status"], format!("in lobby as {me}"), "{me}: {page}");
            assert_eq!(page["members"], json!(["ada", "bob"]), "{me}: {page}");
            assert_eq!(page["log"], lobby_log(me), "{me}: {page}");
        }
        let cy = &pages["cy"];
        assert_eq!(cy["status"], "in elsewhere as cy", "{cy}");
        assert_eq!(cy["members"], json!(["cy"]), "{cy}");
        assert_eq!(cy["log"], json!(["event:cy joined", "message:cy|anyone here?"]), "{cy}");

        let png = std::fs::read(&screenshot).unwrap_or_else(|e| panic!("{}: {e}", screenshot.display()));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG: {}", screenshot.display());
        println!("chat screenshot: {}", screenshot.display());

        shutdown.trigger();
        let served = served.await;
        assert_eq!(served.abandoned, 0, "{served:?}");
    })
}
