//! An in-memory client engine talking to an in-memory server engine: handshake, messages,
//! ping, close. No sockets, no runtime — the bytes are moved by hand, and time is simulated.
//!
//! Run: `cargo run -p tether-proto --example loopback`

use tether_proto::{
    AcceptOptions, ClientHandshake, ClientRequest, CloseCode, Config, Connection, Event, Instant, Message,
    ServerHandshake, Transmit,
};

/// Everything an engine wants to send, as one buffer.
fn drain(engine: &mut impl Transmit) -> Vec<u8> {
    let mut out = Vec::new();
    engine.drain_transmit(&mut out);
    out
}

/// Hand `from`'s output to `to` and print what `to` sees.
fn deliver(name: &str, now: Instant, from: &mut Connection, to: &mut Connection) -> Vec<Event> {
    let bytes = drain(from);
    to.receive(now, &bytes);
    let mut events = Vec::new();
    while let Some(event) = to.poll_event() {
        println!("{name} <- {event:?}");
        events.push(event);
    }
    events
}

fn main() {
    let now = Instant::ZERO;

    // Opening handshake.
    let request = ClientRequest::from_url("ws://localhost/chat").unwrap().protocol("chat.v1");
    let mut client_hs = ClientHandshake::new(request, Config::default()).unwrap();
    let mut server_hs = ServerHandshake::new(Config::default());
    let request_bytes = drain(&mut client_hs);
    let request = server_hs.receive(now, &request_bytes).unwrap().expect("the whole request arrived");
    println!("server sees: {} {} protocols {:?}", request.method(), request.uri(), request.protocols());
    let mut server = server_hs.accept(&AcceptOptions::new().protocol("chat.v1")).unwrap();
    let response = drain(&mut server);
    client_hs.receive(now, &response).unwrap().expect("the whole response arrived");
    let mut client = client_hs.into_connection().unwrap();
    println!("handshake done, subprotocol {:?}", client.protocol());

    // Messages both ways.
    client.send(Message::text("hello from the client")).unwrap();
    client.send(Message::binary(vec![1, 2, 3])).unwrap();
    for event in deliver("server", now, &mut client, &mut server) {
        if let Event::Message(m) = event {
            server.send(m).unwrap(); // echo
        }
    }
    deliver("client", now, &mut server, &mut client);

    // Ping: the server answers by itself.
    client.send(Message::Ping("are you there".into())).unwrap();
    deliver("server", now, &mut client, &mut server);
    deliver("client", now, &mut server, &mut client);

    // Close handshake, started by the client.
    client.close(now, CloseCode::NORMAL, "done").unwrap();
    deliver("server", now, &mut client, &mut server);
    assert!(!server.should_shutdown(), "its close reply is not written yet");
    deliver("client", now, &mut server, &mut client);
    assert!(server.should_shutdown(), "the server ends TCP first (RFC 6455 §7.1.1)");
    assert!(!client.should_shutdown(), "the client waits for the server's end of TCP");
    client.receive_eof(now);
    assert!(client.should_shutdown());
    println!("closed: {:?}", client.closed());
}
