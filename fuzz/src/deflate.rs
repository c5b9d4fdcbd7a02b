//! permessage-deflate runs of the connection and round-trip targets (inputs starting with
//! [`DEFLATE_TAG`]): both engines negotiate deflate through the real handshakes from
//! fuzzed settings (window bits, context takeover, level, threshold), then one engine
//! faces a peer engine that sends honest compressed messages mixed with hostile bytes
//! (raw frames, flipped bits, bombs), or two honest engines exchange messages. Without the
//! `deflate` feature these inputs are ignored. The other connection checks live in
//! `connection.rs` and `roundtrip.rs`.

use arbitrary::Arbitrary;

/// Inputs of `connection_server`, `connection_client` and `roundtrip` that start with this
/// tag are permessage-deflate runs ([`DeflateConnInput`], [`DeflateRoundtripInput`]).
pub const DEFLATE_TAG: &[u8] = b"deflate:";

/// One side's permessage-deflate settings.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct DeflateSide {
    /// Our window: 9 + this % 7.
    pub window_bits: u8,
    /// The peer's window we ask for: 9 + this % 7.
    pub peer_window_bits: u8,
    /// No context takeover for our compressor.
    pub no_context_takeover: bool,
    /// Ask the peer for no context takeover.
    pub peer_no_context_takeover: bool,
    /// Level: this % 10.
    pub level: u8,
    /// Compress messages of at least this many bytes.
    pub min_size: u8,
}

/// A data message: `data` repeated `repeat % 64 + 1` times (compressible when long).
#[derive(Arbitrary, Debug, Clone)]
pub struct DeflateMessage {
    /// Text (the bytes made UTF-8, lossily) or binary.
    pub text: bool,
    /// The unit.
    pub data: Vec<u8>,
    /// Repetitions.
    pub repeat: u16,
    /// Through `send_uncompressed`.
    pub uncompressed: bool,
}

/// One step of a deflate connection run.
#[derive(Arbitrary, Debug, Clone)]
pub enum DeflateStep {
    /// The peer engine sends a message.
    PeerSends(DeflateMessage),
    /// Our engine sends a message.
    WeSend(DeflateMessage),
    /// Raw bytes from the peer (the peer engine is then out of step: only the engine's
    /// own invariants are checked from here on).
    Raw(Vec<u8>),
    /// The peer engine sends a message whose wire bytes get one byte XORed.
    Flipped {
        /// The message.
        message: DeflateMessage,
        /// Which byte (modulo the length).
        at: u16,
        /// With what (0 = no change).
        xor: u8,
    },
    /// The peer engine sends `len % 4 MiB` zero bytes (a bomb beyond the 64 KiB limit).
    Bomb {
        /// Size.
        len: u32,
    },
}

/// The structured input of the deflate connection runs (after [`DEFLATE_TAG`]).
#[derive(Arbitrary, Debug)]
pub struct DeflateConnInput {
    /// The client's settings.
    pub client: DeflateSide,
    /// The server's settings.
    pub server: DeflateSide,
    /// Fragment size of both engines (0 = off).
    pub fragment: u16,
    /// Chunking seed.
    pub seed: u64,
    /// Largest chunk (0 = all at once).
    pub max_chunk: u16,
    /// Steps.
    pub steps: Vec<DeflateStep>,
}

/// The structured input of the deflate round trip (after [`DEFLATE_TAG`]).
#[derive(Arbitrary, Debug)]
pub struct DeflateRoundtripInput {
    /// The client's settings.
    pub client: DeflateSide,
    /// The server's settings.
    pub server: DeflateSide,
    /// Fragment sizes (0 = off).
    pub client_fragment: u16,
    /// Fragment sizes (0 = off).
    pub server_fragment: u16,
    /// Chunking seed.
    pub seed: u64,
    /// Largest chunk (0 = all at once).
    pub max_chunk: u16,
    /// (from the client?, message).
    pub steps: Vec<(bool, DeflateMessage)>,
}

#[cfg(feature = "deflate")]
pub(crate) use imp::{run_deflate_connection, run_deflate_roundtrip};

/// Without the feature there is nothing to run.
#[cfg(not(feature = "deflate"))]
pub(crate) fn run_deflate_connection(_: tether_proto::Role, _: &DeflateConnInput) {}

/// Without the feature there is nothing to run.
#[cfg(not(feature = "deflate"))]
pub(crate) fn run_deflate_roundtrip(_: &DeflateRoundtripInput) {}

#[cfg(feature = "deflate")]
mod imp {
    use tether_proto::{
        AcceptOptions, ClientHandshake, ClientRequest, CloseCause, Config, Connection, DeflateConfig, Instant, Message,
        ProtocolError, Role, ServerHandshake, Transmit,
    };
    use tether_testkit::Chunker;

    use super::super::drive::{drain, feed, FeedMode};
    use super::super::events::{same_messages, EventLog};
    use super::super::input::config_with;
    use super::{DeflateConnInput, DeflateMessage, DeflateRoundtripInput, DeflateSide, DeflateStep};

    /// Limits of the engine under test (small, so bombs cross them).
    const MAX_MESSAGE: usize = 64 << 10;

    impl DeflateSide {
        fn config(&self) -> DeflateConfig {
            DeflateConfig::default()
                .window_bits(9 + self.window_bits % 7)
                .peer_window_bits(9 + self.peer_window_bits % 7)
                .no_context_takeover(self.no_context_takeover)
                .peer_no_context_takeover(self.peer_no_context_takeover)
                .level(self.level % 10)
                .min_size(usize::from(self.min_size))
        }
    }

    impl DeflateMessage {
        fn to_message(&self) -> Message {
            let mut bytes = Vec::new();
            for _ in 0..=(self.repeat % 64) {
                bytes.extend_from_slice(&self.data);
            }
            if self.text {
                Message::text(String::from_utf8_lossy(&bytes).into_owned())
            } else {
                Message::binary(bytes)
            }
        }

        fn send(&self, conn: &mut Connection) -> Option<Message> {
            let m = self.to_message();
            let result = if self.uncompressed { conn.send_uncompressed(m.clone()) } else { conn.send(m.clone()) };
            result.ok().map(|()| m)
        }
    }

    /// Both handshakes over the real parsers; the negotiated connections (the offer is
    /// always acceptable: the server declines nothing our client offers).
    fn connected(client: Config, server: Config) -> (Connection, Connection) {
        let now = Instant::ZERO;
        let mut c = ClientHandshake::new(ClientRequest::new("fuzz.example", "/"), client).expect("valid request");
        let mut request = Vec::new();
        c.drain_transmit(&mut request);
        let mut s = ServerHandshake::new(server);
        s.receive(now, &request).expect("our own request").expect("complete");
        let mut server_conn = s.accept(&AcceptOptions::new()).expect("accepted");
        let mut response = Vec::new();
        server_conn.drain_transmit(&mut response);
        c.receive(now, &response).expect("our own response").expect("complete");
        let client_conn = c.into_connection().expect("connected");
        assert!(client_conn.deflate().is_some(), "deflate not agreed");
        let (cp, sp) = (client_conn.deflate().copied().unwrap(), server_conn.deflate().copied().unwrap());
        assert_eq!((cp.window_bits, cp.no_context_takeover), (sp.peer_window_bits, sp.peer_no_context_takeover));
        assert_eq!((sp.window_bits, sp.no_context_takeover), (cp.peer_window_bits, cp.peer_no_context_takeover));
        (client_conn, server_conn)
    }

    fn configs(
        client: &DeflateSide,
        server: &DeflateSide,
        seed: u64,
        fragments: (u16, u16),
        max: usize,
    ) -> (Config, Config) {
        let frag = |f: u16| (f != 0).then_some(usize::from(f));
        let make = |side: &DeflateSide, seed, fragment| {
            config_with(seed, |b| {
                b.max_message_size(max)
                    .max_frame_size(max)
                    .auto_pong(false)
                    .fragment_size(frag(fragment))
                    .deflate(Some(side.config()))
            })
        };
        (make(client, seed, fragments.0), make(server, !seed, fragments.1))
    }

    /// Move everything `from` writes to `to`, and take `to`'s events.
    fn one_way(from: &mut Connection, to: &mut Connection, log: &mut EventLog, chunker: &mut Chunker) -> Vec<u8> {
        let mut bytes = Vec::new();
        drain(from, chunker, &mut bytes);
        if !bytes.is_empty() {
            feed(to, Instant::ZERO, &bytes, chunker, FeedMode::Receive, log);
        }
        log.poll_all(to);
        bytes
    }

    /// Our engine against a peer engine, with hostile steps mixed in.
    pub(crate) fn run_deflate_connection(role: Role, input: &DeflateConnInput) {
        let (client_config, server_config) =
            configs(&input.client, &input.server, input.seed, (input.fragment, input.fragment), MAX_MESSAGE);
        // The peer takes anything (its limits are not under test).
        let big = |c: &Config| c.to_builder().max_message_size(16 << 20).max_frame_size(16 << 20).build();
        let (mut ours, mut peer) = match role {
            Role::Server => {
                let (client, server) = connected(big(&client_config).expect("valid"), server_config);
                (server, client)
            }
            Role::Client => connected(client_config, big(&server_config).expect("valid")),
        };
        let mut log = EventLog::new(ours.config());
        let mut peer_log = EventLog::new(peer.config());
        let mut chunker = Chunker::mixed(input.seed, usize::from(input.max_chunk));
        let (mut peer_sent, mut we_sent) = (Vec::new(), Vec::new());
        // Whether every byte our engine received came from the honest peer engine.
        let mut honest = true;
        for step in &input.steps {
            if log.closed.is_some() {
                break;
            }
            match step {
                DeflateStep::PeerSends(m) => {
                    if let Some(m) = m.send(&mut peer) {
                        peer_sent.push(m);
                    }
                    one_way(&mut peer, &mut ours, &mut log, &mut chunker);
                }
                DeflateStep::WeSend(m) => {
                    if let Some(m) = m.send(&mut ours) {
                        we_sent.push(m);
                    }
                    one_way(&mut ours, &mut peer, &mut peer_log, &mut chunker);
                }
                DeflateStep::Raw(bytes) => {
                    honest = false;
                    feed(&mut ours, Instant::ZERO, bytes, &mut chunker, FeedMode::Receive, &mut log);
                    log.poll_all(&mut ours);
                }
                DeflateStep::Flipped { message, at, xor } => {
                    let _ = message.send(&mut peer);
                    let mut bytes = Vec::new();
                    drain(&mut peer, &mut chunker, &mut bytes);
                    if !bytes.is_empty() {
                        let i = usize::from(*at) % bytes.len();
                        bytes[i] ^= xor;
                    }
                    honest = false;
                    feed(&mut ours, Instant::ZERO, &bytes, &mut chunker, FeedMode::Receive, &mut log);
                    log.poll_all(&mut ours);
                }
                DeflateStep::Bomb { len } => {
                    let len = (*len % (4 << 20)) as usize;
                    if let Some(m) =
                        (DeflateMessage { text: false, data: vec![0; len], repeat: 0, uncompressed: false })
                            .send(&mut peer)
                    {
                        peer_sent.push(m);
                    }
                    one_way(&mut peer, &mut ours, &mut log, &mut chunker);
                }
            }
        }
        // Whatever the peer's engine sent arrives exactly, up to the first message over
        // the limit, which fails the connection with 1009 (and nothing past the limit was
        // handed out: the event log checks every message's size).
        if honest {
            let fits = peer_sent.iter().take_while(|m| m.len() <= MAX_MESSAGE).count();
            let n = log.messages.iter().filter(|m| matches!(m, Message::Text(_) | Message::Binary(_))).count();
            same_messages(&log.messages, &peer_sent[..n.min(fits)], "deflate: received vs sent by the peer engine");
            match &log.closed {
                Some(closed) => match &closed.cause {
                    CloseCause::Protocol(ProtocolError::MessageTooLarge { size, max }) => {
                        assert_eq!(n, fits, "deflate: failed before the first message over the limit");
                        assert!(*size as usize <= max + 1, "deflate: {size} bytes held for a {max}-byte limit");
                    }
                    other => panic!("deflate: an honest peer engine's bytes failed with {other:?}"),
                },
                None => assert_eq!(n, peer_sent.len(), "deflate: messages lost"),
            }
            if peer_log.closed.is_none() {
                same_messages(&peer_log.messages, &we_sent, "deflate: the peer engine received vs what we sent");
            }
        }
        // The end: exactly one Closed follows EOF, whatever came before.
        ours.receive_eof(Instant::ZERO);
        log.poll_all(&mut ours);
        assert!(log.closed.is_some(), "deflate: no Closed after EOF");
        if let Some(CloseCause::Protocol(e)) = log.closed.as_ref().map(|c| &c.cause) {
            assert_eq!(log.closed.as_ref().map(|c| c.code), Some(e.close_code()), "deflate: close code");
        }
    }

    /// Two honest engines: whatever one sends, the other receives exactly.
    pub(crate) fn run_deflate_roundtrip(input: &DeflateRoundtripInput) {
        let (client_config, server_config) =
            configs(&input.client, &input.server, input.seed, (input.client_fragment, input.server_fragment), 16 << 20);
        let (mut client, mut server) = connected(client_config.clone(), server_config.clone());
        let mut client_log = EventLog::new(&client_config);
        let mut server_log = EventLog::new(&server_config);
        let mut chunker = Chunker::mixed(input.seed, usize::from(input.max_chunk));
        let (mut from_client, mut from_server) = (Vec::new(), Vec::new());
        for (is_client, m) in &input.steps {
            if *is_client {
                from_client.push(m.send(&mut client).expect("open"));
                one_way(&mut client, &mut server, &mut server_log, &mut chunker);
            } else {
                from_server.push(m.send(&mut server).expect("open"));
                one_way(&mut server, &mut client, &mut client_log, &mut chunker);
            }
        }
        same_messages(&server_log.messages, &from_client, "deflate roundtrip: the server received");
        same_messages(&client_log.messages, &from_server, "deflate roundtrip: the client received");
        assert!(client_log.closed.is_none() && server_log.closed.is_none(), "deflate roundtrip: closed");
    }
}
