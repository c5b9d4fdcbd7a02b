//! Test harness (cfg(test) only): a client engine and a server engine wired back to back,
//! with random chunking of the bytes between them and simulated time. No IO. The chunker and
//! the frame encoder are `tether-testkit`'s, re-exported here for the engine's unit tests.

use alloc::sync::Arc;
use alloc::vec::Vec;
use bytes::BufMut;
use core::time::Duration;

use crate::config::{Config, Role};
use crate::connection::Connection;
use crate::event::{Closed, Event};
use crate::rng::SeededRng;
use crate::time::Instant;

/// The chunker and the hand-written frame encoder come from the test kit (independent of the
/// engine): client frames are masked with RFC 6455 §5.7's key, server frames unmasked.
pub(crate) use tether_testkit::{client_frame, server_frame, Chunker};

/// Read everything `conn` wants to send, taking `step` bytes per consume (0 = all).
pub(crate) fn drain(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut chunks = [&[][..]; 8];
        let n = conn.poll_transmit(&mut chunks);
        if n == 0 {
            return out;
        }
        let len: usize = chunks[..n].iter().map(|c| c.len()).sum();
        for c in &chunks[..n] {
            out.extend_from_slice(c);
        }
        conn.consume_transmit(len);
    }
}

/// Feed `bytes` into `conn` through `read_buf`/`commit_read` in chunks, taking events
/// whenever the engine pushes back, and return all events.
pub(crate) fn feed(conn: &mut Connection, now: Instant, bytes: &[u8], chunker: &mut Chunker) -> Vec<Event> {
    let mut events = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let want = chunker.next(bytes.len() - pos);
        // Both ways of lending read space: zeroed (`read_buf`) and uninitialized capacity.
        // One call per read, as a driver does (a second call must not be needed to fix up
        // the first).
        let n = if chunker.coin() {
            let mut buf = conn.read_buf_uninit();
            let n = want.min(buf.remaining_mut());
            buf.put_slice(&bytes[pos..pos + n]);
            conn.commit_appended(now);
            n
        } else {
            let buf = conn.read_buf();
            let n = want.min(buf.len());
            buf[..n].copy_from_slice(&bytes[pos..pos + n]);
            conn.commit_read(now, n);
            n
        };
        if n == 0 {
            match conn.poll_event() {
                Some(e) => {
                    events.push(e);
                    continue;
                }
                None => break, // ended: the rest is not read
            }
        }
        pos += n;
        // Take events as they become available, like a driver loop.
        while let Some(e) = conn.poll_event() {
            events.push(e);
        }
    }
    while let Some(e) = conn.poll_event() {
        events.push(e);
    }
    events
}

pub(crate) fn test_config() -> Config {
    Config::builder().rng(Arc::new(SeededRng::new(42))).build().unwrap()
}

/// A client and a server engine connected back to back.
pub(crate) struct Pair {
    pub(crate) client: Connection,
    pub(crate) server: Connection,
    pub(crate) now: Instant,
    pub(crate) chunker: Chunker,
    pub(crate) client_events: Vec<Event>,
    pub(crate) server_events: Vec<Event>,
    /// Whether each side has shut its transport down (the other then sees EOF).
    pub(crate) client_shut: bool,
    pub(crate) server_shut: bool,
    /// Simulate a peer that stopped reading: bytes are not moved in that direction.
    pub(crate) client_reads: bool,
    pub(crate) server_reads: bool,
}

impl Pair {
    pub(crate) fn new(config: Config, seed: u64, max_chunk: usize) -> Pair {
        Pair::with_configs(config.clone(), config, seed, max_chunk)
    }

    pub(crate) fn with_configs(client: Config, server: Config, seed: u64, max_chunk: usize) -> Pair {
        Pair {
            client: Connection::new(Role::Client, client),
            server: Connection::new(Role::Server, server),
            now: Instant::ZERO,
            chunker: Chunker::new(seed, max_chunk),
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_shut: false,
            server_shut: false,
            client_reads: true,
            server_reads: true,
        }
    }

    /// Move bytes both ways until nothing changes.
    pub(crate) fn drive(&mut self) {
        for _ in 0..100_000 {
            let mut progress = false;
            if self.server_reads && !self.client_shut {
                let bytes = drain(&mut self.client);
                progress |= !bytes.is_empty();
                let ev = feed(&mut self.server, self.now, &bytes, &mut self.chunker);
                progress |= !ev.is_empty();
                self.server_events.extend(ev);
            }
            if self.client_reads && !self.server_shut {
                let bytes = drain(&mut self.server);
                progress |= !bytes.is_empty();
                let ev = feed(&mut self.client, self.now, &bytes, &mut self.chunker);
                progress |= !ev.is_empty();
                self.client_events.extend(ev);
            }
            while let Some(e) = self.client.poll_event() {
                self.client_events.push(e);
                progress = true;
            }
            while let Some(e) = self.server.poll_event() {
                self.server_events.push(e);
                progress = true;
            }
            if self.server.should_shutdown() && !self.server_shut {
                self.server_shut = true;
                self.client.receive_eof(self.now);
                progress = true;
            }
            if self.client.should_shutdown() && !self.client_shut {
                self.client_shut = true;
                self.server.receive_eof(self.now);
                progress = true;
            }
            if !progress {
                return;
            }
        }
        panic!("pair did not settle");
    }

    /// Advance simulated time, fire timers, and drive.
    pub(crate) fn advance(&mut self, d: Duration) {
        self.now += d;
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        self.drive();
    }

    pub(crate) fn client_closed(&self) -> Option<&Closed> {
        closed_of(&self.client_events)
    }

    pub(crate) fn server_closed(&self) -> Option<&Closed> {
        closed_of(&self.server_events)
    }
}

fn closed_of(events: &[Event]) -> Option<&Closed> {
    let mut found = None;
    for (i, e) in events.iter().enumerate() {
        if let Event::Closed(c) = e {
            assert_eq!(i, events.len() - 1, "Closed must be the last event: {events:?}");
            assert!(found.is_none(), "Closed handed out twice");
            found = Some(c);
        }
    }
    found
}
