//! The `tracing` feature over real sockets on tokio: a connection's span carries the peer's
//! address, the route template and the path parameters, and the opening and the end of a
//! WebSocket are events inside it (the end with its cause, code and traffic). A minimal recording subscriber lives here; no output.
#![cfg(feature = "tracing")]

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tether_server::Server;
use tether_tokio::{CloseCode, Message, Shutdown, Tokio};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Spans by id (name, fields), and events (message, the span entered then).
#[derive(Default)]
struct Log {
    spans: Vec<(String, Vec<(String, String)>)>,
    events: Vec<(String, Option<u64>)>,
    /// Every event's fields, in the order of `events`.
    event_fields: Vec<Vec<(String, String)>>,
    entered: Vec<u64>,
    metadata: Vec<&'static Metadata<'static>>,
}

#[derive(Clone, Default)]
struct Recorder {
    log: Arc<Mutex<Log>>,
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("tether_server")
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Vec::new();
        span.record(&mut Fields(&mut fields));
        let mut log = self.log.lock().unwrap();
        log.spans.push((span.metadata().name().to_owned(), fields));
        log.metadata.push(span.metadata());
        Id::from_u64(log.spans.len() as u64)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut log = self.log.lock().unwrap();
        let index = span.into_u64() as usize - 1;
        values.record(&mut Fields(&mut log.spans[index].1));
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        let message = fields.iter().find(|(n, _)| n == "message").map(|(_, v)| v.clone()).unwrap_or_default();
        let mut log = self.log.lock().unwrap();
        let current = log.entered.last().copied();
        log.events.push((message, current));
        log.event_fields.push(fields);
    }
    fn enter(&self, span: &Id) {
        self.log.lock().unwrap().entered.push(span.into_u64());
    }
    fn exit(&self, _: &Id) {
        self.log.lock().unwrap().entered.pop();
    }
    fn current_span(&self) -> tracing_core::span::Current {
        let log = self.log.lock().unwrap();
        match log.entered.last() {
            Some(&id) => tracing_core::span::Current::new(Id::from_u64(id), log.metadata[id as usize - 1]),
            None => tracing_core::span::Current::none(),
        }
    }
}

#[test]
fn a_connection_has_a_span_with_peer_route_and_params_and_open_and_close_events() {
    let recorder = Recorder::default();
    let _default = tracing::subscriber::set_default(recorder.clone());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let shutdown = Shutdown::new();
            let signal = shutdown.triggered();
            let server = Server::<Tokio>::new().socket("/ws/{room}", |incoming| async move {
                let Ok(mut ws) = incoming.accept().await else { return };
                while let Ok(Some(message)) = ws.recv().await {
                    let _ = ws.send(message).await;
                }
            });
            let served = tokio::spawn(server.serve(listener, signal));

            let mut ws = tether_tokio::connect(&format!("ws://{addr}/ws/lobby")).await.unwrap();
            ws.send(Message::text("hi")).await.unwrap();
            assert_eq!(ws.recv().await.unwrap(), Some(Message::text("hi")));
            ws.close(CloseCode::NORMAL, "").await.unwrap();
            // The handler returns once the close handshake is done; then stop.
            for _ in 0..1000 {
                if recorder.log.lock().unwrap().events.iter().any(|(m, _)| m.contains("closed")) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            shutdown.trigger();
            served.await.unwrap();
        })
        .await
        .expect("test timed out");
    });

    let log = recorder.log.lock().unwrap();
    let (index, (_, fields)) =
        log.spans.iter().enumerate().find(|(_, (name, _))| name == "connection").expect("a connection span");
    let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert!(field("peer").is_some_and(|p| p.starts_with("127.0.0.1:")), "{fields:?}");
    assert_eq!(field("route"), Some("/ws/{room}"), "{fields:?}");
    assert!(field("params").is_some_and(|p| p.contains("room") && p.contains("lobby")), "{fields:?}");
    let id = Some(index as u64 + 1);
    let in_span: Vec<&str> = log.events.iter().filter(|(_, s)| *s == id).map(|(m, _)| m.as_str()).collect();
    assert_eq!(in_span, ["websocket opened", "websocket closed"], "{:?}", log.events);
    // The close event says why it ended (the client closed with 1000) and what went each way.
    let closed = log.events.iter().position(|(m, _)| m == "websocket closed").expect("a close event");
    let fields = &log.event_fields[closed];
    let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!(field("cause"), Some("peer_closed"), "{fields:?}");
    assert_eq!(field("code"), Some("1000"), "{fields:?}");
    assert_eq!(field("messages_in"), Some("1"), "{fields:?}");
    assert_eq!(field("bytes_in"), Some("2"), "{fields:?}");
    assert_eq!(field("messages_out"), Some("1"), "{fields:?}");
    assert_eq!(field("bytes_out"), Some("2"), "{fields:?}");
}

#[test]
fn the_close_event_names_a_shutdown_as_its_cause() {
    let recorder = Recorder::default();
    let _default = tracing::subscriber::set_default(recorder.clone());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let shutdown = Shutdown::new();
            let signal = shutdown.triggered();
            let server = Server::<Tokio>::new().socket("/", |incoming| async move {
                let Ok(mut ws) = incoming.accept().await else { return };
                let mut received = 0;
                while let Ok(Some(_)) = ws.recv().await {
                    received += 1;
                    if received == 2 {
                        let _ = ws.send(Message::text("ready")).await;
                    }
                }
            });
            let served = tokio::spawn(server.serve(listener, signal));
            let mut ws = tether_tokio::connect(&format!("ws://{addr}/")).await.unwrap();
            ws.send(Message::text("one")).await.unwrap();
            ws.send(Message::binary(vec![0u8; 10])).await.unwrap();
            // Once the server has read both, shut it down: the client gets 1001.
            assert_eq!(ws.recv().await.unwrap(), Some(Message::text("ready")));
            shutdown.trigger();
            assert!(matches!(ws.recv().await, Ok(None)));
            assert_eq!(ws.closed().map(|c| c.code), Some(CloseCode::GOING_AWAY));
            served.await.unwrap();
        })
        .await
        .expect("test timed out");
    });

    let log = recorder.log.lock().unwrap();
    let closed = log.events.iter().position(|(m, _)| m == "websocket closed").expect("a close event");
    let fields = &log.event_fields[closed];
    let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!(field("cause"), Some("shutdown"), "{fields:?}");
    assert_eq!(field("code"), Some("1001"), "{fields:?}");
    assert_eq!((field("messages_in"), field("bytes_in")), (Some("2"), Some("13")), "{fields:?}");
    assert_eq!((field("messages_out"), field("bytes_out")), (Some("1"), Some("5")), "{fields:?}");
}
