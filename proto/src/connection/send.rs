//! The send path: framing what we send — data messages (fragmented when configured, and
//! compressed with permessage-deflate when negotiated: RSV1 on the first frame), pongs
//! and keepalive pings, our one close frame — and masking it for a client. What does not
//! live here: ordering and handing out the encoded bytes (the transmit queue, `tx.rs`),
//! header encoding (`frame.rs`), and when to close (`ending.rs`).

use bytes::Bytes;

use super::timer::Timer;
use super::Connection;
use crate::close::CloseFrame;
use crate::config::Role;
use crate::frame::{header_len, Header, OpCode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use crate::mask::apply_mask;
use crate::rng::KeyCache;
use crate::tx::{Part, Payload, COPY_THRESHOLD};

/// Unwritten urgent control bytes (pongs) beyond which a new ping only replaces the one
/// pending pong instead of queueing another.
pub(crate) const URGENT_CAP: usize = 2 << 10;

/// Whether a frame is the last of its message (RFC 6455 §5.2's FIN bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fin {
    /// The last (or only) frame.
    Final,
    /// More fragments follow.
    More,
}

/// Where our close frame goes in the transmit queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ClosePlace {
    /// After the data already queued (replies, closes we start, failure closes).
    AfterData,
    /// Ahead of data frames that have not started (a best-effort close to a silent peer).
    Urgent,
}

/// What the connection sends besides the frames already queued.
#[derive(Debug, Default)]
pub(super) struct SendState {
    pub(super) keys: KeyCache,
    /// The latest ping to answer, when too many pongs wait to encode one per ping.
    pub(super) pending_pong: Option<Bytes>,
    /// A keepalive ping is due.
    pub(super) pending_keepalive_ping: bool,
    /// Our close frame is queued, or the connection is ending without one: nothing may be
    /// sent any more.
    pub(super) close_sent: bool,
    /// Bytes of the server's handshake response not written yet.
    pub(super) head_left: usize,
}

impl SendState {
    /// Bytes of control frames that are due but not encoded yet.
    #[inline]
    pub(super) fn pending_control_len(&self, role: Role) -> usize {
        let masked = role == Role::Client;
        let pong = self.pending_pong.as_ref().map_or(0, |p| header_len(p.len(), masked) + p.len());
        let ping = if self.pending_keepalive_ping { header_len(0, masked) } else { 0 };
        pong + ping
    }

    /// Forget control frames not encoded yet (we are closing).
    pub(super) fn drop_pending_control(&mut self) {
        self.pending_pong = None;
        self.pending_keepalive_ping = false;
    }
}

impl Connection {
    /// Answer a ping. Pongs are encoded at once while little urgent output is waiting (so
    /// every ping of a burst gets its pong, Autobahn 2.10); beyond [`URGENT_CAP`] bytes only
    /// the latest ping is remembered (§5.5.3 allows answering just the most recent), so a
    /// ping flood from a peer that never reads cannot grow memory.
    pub(super) fn queue_pong(&mut self, payload: Bytes) {
        if self.tx.urgent_len() + MAX_HEADER_LEN + payload.len() <= URGENT_CAP && self.send.pending_pong.is_none() {
            self.encode_control_urgent(OpCode::Pong, &payload);
        } else {
            self.send.pending_pong = Some(payload);
        }
    }

    /// Encode the pending pong or keepalive ping once the urgent queue has room.
    pub(super) fn encode_pending_control(&mut self) {
        if self.tx.urgent_len() > URGENT_CAP / 2 {
            return;
        }
        if let Some(payload) = self.send.pending_pong.take() {
            self.encode_control_urgent(OpCode::Pong, &payload);
        } else if core::mem::take(&mut self.send.pending_keepalive_ping) {
            self.encode_control_urgent(OpCode::Ping, &[]);
        }
    }

    fn encode_control_urgent(&mut self, opcode: OpCode, payload: &[u8]) {
        let mask = self.next_mask();
        let header = Header::new(true, opcode, mask, payload.len());
        let n = header.len();
        let mut frame = [0u8; Header::BYTES + MAX_CONTROL_PAYLOAD];
        frame[..Header::BYTES].copy_from_slice(&header.bytes());
        let end = n + payload.len();
        frame[n..end].copy_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut frame[n..end], key, 0);
        }
        self.tx.push_urgent(&frame[..end]);
    }

    fn next_mask(&mut self) -> Option<[u8; 4]> {
        match self.role {
            Role::Client => Some(self.send.keys.mask_key(self.config.rng())),
            Role::Server => None,
        }
    }

    /// Nothing more may be queued (our close frame is, or none will be): pending control
    /// frames are dropped and the idle and keepalive clocks stop.
    pub(super) fn stop_sending(&mut self) {
        self.send.close_sent = true;
        self.send.drop_pending_control();
        for timer in [Timer::Idle, Timer::KeepalivePing, Timer::KeepaliveTimeout] {
            self.timers.stop(timer);
        }
    }

    /// Queue our one close frame; nothing may be queued after it.
    pub(super) fn queue_close(&mut self, frame: Option<CloseFrame>, place: ClosePlace) {
        if self.send.close_sent {
            return;
        }
        if matches!(place, ClosePlace::AfterData) {
            // A ping that arrived before this close is owed its pong (§5.5.2 excuses only
            // pings after the peer's close); the one remembered past the cap is one frame.
            if let Some(pong) = self.send.pending_pong.take() {
                self.encode_control_urgent(OpCode::Pong, &pong);
            }
        }
        self.stop_sending();
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        let len = match &frame {
            Some(f) => {
                let mut w = &mut payload[..];
                f.encode_into(&mut w);
                f.wire_len()
            }
            None => 0,
        };
        match place {
            ClosePlace::Urgent => {
                self.tx.discard_unstarted();
                self.encode_control_urgent(OpCode::Close, &payload[..len]);
            }
            ClosePlace::AfterData => self.queue_frame(Fin::Final, OpCode::Close, Payload::Borrowed(&payload[..len])),
        }
    }

    /// Frame a text or binary message, fragmented per
    /// [`Config::fragment_size`](crate::Config::fragment_size). Shared and borrowed payloads
    /// take the same path; only the last step (copy or reference) differs, in
    /// [`queue_frame`](Self::queue_frame).
    pub(super) fn queue_data(&mut self, opcode: OpCode, payload: Payload<'_>) {
        #[cfg(feature = "deflate")]
        if self.should_compress(payload.len()) {
            return self.queue_compressed(opcode, payload.as_slice());
        }
        self.queue_plain(opcode, payload);
    }

    /// [`queue_data`](Self::queue_data) without compression.
    pub(super) fn queue_plain(&mut self, opcode: OpCode, payload: Payload<'_>) {
        match self.fragment_size_for(payload.len()) {
            Some(size) => {
                let mut rest = payload;
                let mut op = opcode;
                while rest.len() > size {
                    let piece = rest.split_to(size);
                    self.queue_frame(Fin::More, op, piece);
                    op = OpCode::Continuation;
                }
                self.queue_frame(Fin::Final, op, rest);
            }
            None => self.queue_frame(Fin::Final, opcode, payload),
        }
    }

    /// The fragment size when a payload of `len` bytes must be split, else `None`.
    #[inline]
    fn fragment_size_for(&self, len: usize) -> Option<usize> {
        self.config.fragment_size.filter(|&size| len > size)
    }

    /// `queue_data` for the caller's slice (`send_text`, `send_bytes`): the one-frame case
    /// inlined into them, fragmenting left to `queue_data` (two calls fewer per small frame).
    /// The owned `send` keeps calling `queue_data`: inlining it there made the async
    /// adapters' send future slower (see the manual's performance chapter).
    #[inline]
    pub(super) fn queue_borrowed(&mut self, opcode: OpCode, payload: &[u8]) {
        #[cfg(feature = "deflate")]
        if self.should_compress(payload.len()) {
            return self.queue_compressed(opcode, payload);
        }
        if self.fragment_size_for(payload.len()).is_some() {
            self.queue_plain(opcode, Payload::Borrowed(payload));
        } else {
            self.queue_frame(Fin::Final, opcode, Payload::Borrowed(payload));
        }
    }

    pub(super) fn queue_frame(&mut self, fin: Fin, opcode: OpCode, payload: Payload<'_>) {
        let mask = self.next_mask();
        let header = Header::new(fin == Fin::Final, opcode, mask, payload.len());
        self.push_frame(header, mask, payload);
    }

    /// Whether permessage-deflate is in use and a message of `len` bytes is worth
    /// compressing.
    #[cfg(feature = "deflate")]
    #[inline]
    fn should_compress(&self, len: usize) -> bool {
        self.deflate.as_deref().is_some_and(|d| len >= d.min_size)
    }

    /// Compress a whole message and frame it (fragmented per the configured size): RSV1
    /// on the first frame only (RFC 7692 §6.1). If zlib fails, the message goes out
    /// uncompressed, which is always allowed.
    #[cfg(feature = "deflate")]
    fn queue_compressed(&mut self, opcode: OpCode, data: &[u8]) {
        let Some(compressed) = self.deflate.as_deref_mut().and_then(|d| d.compress(data)) else {
            return self.queue_plain(opcode, Payload::Borrowed(data));
        };
        if let Some(deflate) = self.deflate.as_deref() {
            match deflate.release_idle_compressor {
                Some(after) if deflate.holds_compressor() => self.timers.set(Timer::CompressorIdle, self.now() + after),
                _ => self.timers.stop(Timer::CompressorIdle),
            }
        }
        let mut rest = Payload::Shared(Bytes::from(compressed));
        let (mut op, mut first) = (opcode, true);
        if let Some(size) = self.fragment_size_for(rest.len()) {
            while rest.len() > size {
                let piece = rest.split_to(size);
                self.queue_frame_rsv1(Fin::More, op, piece, first);
                (op, first) = (OpCode::Continuation, false);
            }
        }
        self.queue_frame_rsv1(Fin::Final, op, rest, first);
    }

    #[cfg(feature = "deflate")]
    fn queue_frame_rsv1(&mut self, fin: Fin, opcode: OpCode, payload: Payload<'_>, rsv1: bool) {
        let mask = self.next_mask();
        let header = Header::new(fin == Fin::Final, opcode, mask, payload.len());
        self.push_frame(if rsv1 { header.with_rsv1() } else { header }, mask, payload);
    }

    #[inline(always)]
    fn push_frame(&mut self, header: Header, mask: Option<[u8; 4]>, payload: Payload<'_>) {
        match (mask, payload) {
            (Some(key), payload) => {
                // Clients mask in one copy (§5.3), next to the header: one segment.
                self.tx.push_frame_copy_with(header, payload.as_slice(), |buf| apply_mask(buf, key, 0));
            }
            // Large shared server payloads are referenced, not copied.
            (None, Payload::Shared(bytes)) if bytes.len() > COPY_THRESHOLD => {
                self.tx.push_copy(&header.bytes()[..header.len()], Part::Middle);
                self.tx.push_shared(bytes, Part::End);
            }
            // Small ones, and every borrowed one (the caller keeps its slice), are copied
            // next to the header: one segment.
            (None, payload) => self.tx.push_frame_copy_with(header, payload.as_slice(), |_| {}),
        }
    }
}
