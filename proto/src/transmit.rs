//! `Transmit`: the one route by which an engine's bytes leave — a connection's frames, a
//! server's handshake answer (101, refusal or error response), a client's request. What does
//! not live here: what the bytes are (each engine queues its own).

use alloc::vec::Vec;

/// Bytes an engine has queued for the transport: [`Connection`](crate::Connection),
/// [`ServerHandshake`](crate::ServerHandshake) and [`ClientHandshake`](crate::ClientHandshake)
/// hand out everything they send the same way, so one write loop serves all three.
///
/// ```
/// use tether_proto::{ClientHandshake, ClientRequest, Config, Instant, Transmit};
/// let mut client = ClientHandshake::new(ClientRequest::from_url("ws://h/").unwrap(), Config::default()).unwrap();
/// let mut wire = Vec::new();
/// client.drain_transmit(&mut wire);
/// assert!(wire.starts_with(b"GET / HTTP/1.1\r\n"));
/// assert_eq!(client.buffered_transmit(), 0);
/// ```
pub trait Transmit {
    /// Fill `chunks` with the next bytes to write, in order (for a vectored write); returns
    /// how many chunks were filled, 0 when nothing is queued.
    fn poll_transmit<'a>(&'a mut self, chunks: &mut [&'a [u8]]) -> usize;

    /// Mark `n` bytes of what [`poll_transmit`](Self::poll_transmit) offered as written;
    /// partial writes are fine.
    fn consume_transmit(&mut self, n: usize);

    /// Bytes queued and not yet consumed.
    fn buffered_transmit(&self) -> usize;

    /// Move everything queued into `out` (a copy) and mark it written; returns how many bytes
    /// were moved. For callers that hand whole buffers to their transport, and for tests.
    fn drain_transmit(&mut self, out: &mut Vec<u8>) -> usize {
        let mut total = 0;
        loop {
            let mut chunks = [&[][..]; 8];
            let n = self.poll_transmit(&mut chunks);
            if n == 0 {
                return total;
            }
            let mut len = 0;
            for chunk in &chunks[..n] {
                out.extend_from_slice(chunk);
                len += chunk.len();
            }
            self.consume_transmit(len);
            total += len;
        }
    }
}

impl Transmit for crate::Connection {
    #[inline]
    fn poll_transmit<'a>(&'a mut self, chunks: &mut [&'a [u8]]) -> usize {
        crate::Connection::poll_transmit(self, chunks)
    }

    #[inline]
    fn consume_transmit(&mut self, n: usize) {
        crate::Connection::consume_transmit(self, n);
    }

    #[inline]
    fn buffered_transmit(&self) -> usize {
        crate::Connection::buffered_transmit(self)
    }
}

/// A handshake's outgoing bytes: one HTTP head (and body), written in order.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    bytes: Vec<u8>,
    written: usize,
}

impl Outbox {
    /// What is queued and not written yet.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> &[u8] {
        &self.bytes[self.written..]
    }

    /// Queue `bytes` after what is queued.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }
}

impl Transmit for Outbox {
    fn poll_transmit<'a>(&'a mut self, chunks: &mut [&'a [u8]]) -> usize {
        match chunks.first_mut() {
            Some(first) if self.written < self.bytes.len() => {
                *first = &self.bytes[self.written..];
                1
            }
            _ => 0,
        }
    }

    fn consume_transmit(&mut self, n: usize) {
        self.written = (self.written + n).min(self.bytes.len());
        if self.written == self.bytes.len() {
            self.bytes.clear();
            self.written = 0;
        }
    }

    fn buffered_transmit(&self) -> usize {
        self.bytes.len() - self.written
    }
}

/// A handshake's one total deadline, counted from the first instant the caller gives.
#[derive(Debug)]
pub(crate) struct Deadline {
    timeout: core::time::Duration,
    at: Option<crate::Instant>,
}

impl Deadline {
    pub(crate) fn new(timeout: core::time::Duration) -> Self {
        Deadline { timeout, at: None }
    }

    /// Start the clock (once) and say whether the deadline has passed at `now`.
    pub(crate) fn is_expired(&mut self, now: crate::Instant) -> bool {
        now >= *self.at.get_or_insert(now + self.timeout)
    }

    /// When it expires, once started.
    pub(crate) fn at(&self) -> Option<crate::Instant> {
        self.at
    }

    pub(crate) fn timeout(&self) -> core::time::Duration {
        self.timeout
    }
}
