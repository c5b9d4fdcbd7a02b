//! The interleaved feeder: peer bytes handed to the engine through any order of its input
//! calls — offers from `read_buf` and `read_buf_uninit` written into, replaced, committed
//! with either commit function, for more or less than was offered or written, after
//! `receive`, with `poll_event`, `poll_transmit`, `handle_timeout` and `send` in between —
//! and a model of the input calls' contract that says which bytes each call hands in. The
//! chunked feeder of the usual modes is `drive.rs`'s; which bytes the peer sends is
//! `peer.rs`'s.
//!
//! The contract modelled (any call order is legal):
//! - `read_buf()` and `read_buf_uninit()` each make a new offer, replacing any earlier one;
//!   bytes written into a replaced offer are not input;
//! - `commit_read(now, n)` commits `min(n, offer)` bytes of an outstanding `read_buf` offer,
//!   and nothing when none is outstanding (none made, already committed, replaced by
//!   `read_buf_uninit`, or voided by `receive`); a `commit_read` while a `read_buf_uninit`
//!   offer is outstanding leaves that offer outstanding;
//! - `commit_appended(now)` commits what was appended to an outstanding `read_buf_uninit`
//!   offer (at most the offer), and nothing otherwise (a `read_buf` offer stays outstanding);
//! - `receive(now, data)` voids any outstanding offer, then appends `data`;
//! - the other calls (`poll_event`, `poll_transmit`, `consume_transmit`, `handle_timeout`,
//!   `send`) do not disturb an offer: bytes written into it and committed afterwards are
//!   input, in order.

use std::time::Duration;

use arbitrary::Arbitrary;
use tether_proto::{BufMut, Connection, Message};

use super::drive::check_offer;
use super::events::EventLog;
use super::model::Model;

/// One input call (or a call that must not disturb an offer) of an interleaving.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Call {
    /// `read_buf()`: a new offer. The next `write` peer bytes (at most the offer) are written
    /// at its start and the rest of it is zeroed by the harness, so what a commit takes is
    /// known whatever the space held before.
    ReadBuf {
        /// Peer bytes to write.
        write: u16,
    },
    /// `read_buf_uninit()`: a new offer; the next `write` peer bytes are appended to it (at
    /// most the offer, or with `past` through `get_mut()`, beyond it).
    ReadBufUninit {
        /// Peer bytes to append.
        write: u16,
        /// Append past the offer's limit (commit then takes at most the offer).
        past: bool,
    },
    /// `commit_read(now, n)`.
    CommitRead(Amount),
    /// `commit_appended(now)`.
    CommitAppended,
    /// `receive(now, ..)` with the next (up to) this many peer bytes, possibly none.
    Receive(u16),
    /// `poll_event()` once.
    PollEvent,
    /// `poll_transmit` and a `consume_transmit` of at most this many bytes (0: all offered).
    Transmit(u16),
    /// Advance time by this many milliseconds and call `handle_timeout`.
    Advance(u8),
    /// `send` a binary message of `len % 64` bytes.
    Send(u8),
}

/// How many bytes a `commit_read` claims, relative to what was written into the offer.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Amount {
    /// Exactly what was written.
    Written,
    /// This many fewer (at least 0).
    Fewer(u16),
    /// This many more (possibly more than offered: the zeroed rest, then nothing).
    More(u16),
    /// `usize::MAX`.
    Max,
}

/// The offer outstanding, as the contract sees it.
#[derive(Debug)]
enum Offer {
    /// None outstanding (none made, committed, or voided by `receive`).
    None,
    /// A `read_buf` offer of `len` bytes whose first `written` bytes are the next peer bytes
    /// (the rest zeroed by the harness).
    Zeroed { len: usize, written: usize },
    /// A `read_buf_uninit` offer of `limit` bytes, `appended` of the next peer bytes appended
    /// (possibly more than `limit`).
    Uninit { limit: usize, appended: usize },
}

/// Most calls one peer op makes before the caller feeds the rest the usual way (a script
/// that commits a byte at a time over a large op would otherwise make runs slow).
const MAX_CALLS: usize = 4096;

/// Hand `bytes` to `conn` by running `script` over and over: each call as the script says,
/// the model's invariants checked after each. Stops when every byte is handed in, after a
/// pass over the script that handed in no peer byte, or after [`MAX_CALLS`] calls. What the
/// contract says each call handed in (peer bytes, and zeroes a commit took from the zeroed
/// rest of an offer) is appended to `m.received`. Returns how many of `bytes` were handed in;
/// the caller feeds the rest.
pub(crate) fn feed_interleaved(
    conn: &mut Connection,
    m: &mut Model,
    log: &mut EventLog,
    bytes: &[u8],
    script: &[Call],
) -> usize {
    let mut pos = 0;
    let mut offer = Offer::None;
    let mut calls = 0;
    while pos < bytes.len() && !script.is_empty() && calls < MAX_CALLS {
        let pass_start = pos;
        for call in script {
            calls += 1;
            let pending = &bytes[pos..];
            match *call {
                Call::ReadBuf { write } => {
                    let filled = conn.buffered_receive();
                    let space = conn.read_buf();
                    let len = space.len();
                    let written = usize::from(write).min(len).min(pending.len());
                    space[..written].copy_from_slice(&pending[..written]);
                    space[written..].fill(0);
                    check_offer(conn.config(), filled, len, false);
                    offer = Offer::Zeroed { len, written };
                }
                Call::ReadBufUninit { write, past } => {
                    let filled = conn.buffered_receive();
                    let mut space = conn.read_buf_uninit();
                    let limit = space.remaining_mut();
                    let want = usize::from(write).min(pending.len());
                    let appended = if past { want } else { want.min(limit) };
                    if past {
                        space.get_mut().extend_from_slice(&pending[..appended]);
                    } else {
                        space.put_slice(&pending[..appended]);
                    }
                    check_offer(conn.config(), filled, limit, true);
                    offer = Offer::Uninit { limit, appended };
                }
                Call::CommitRead(amount) => {
                    let written = match offer {
                        Offer::Zeroed { written, .. } => written,
                        _ => 0,
                    };
                    let n = match amount {
                        Amount::Written => written,
                        Amount::Fewer(k) => written.saturating_sub(usize::from(k)),
                        Amount::More(k) => written + usize::from(k),
                        Amount::Max => usize::MAX,
                    };
                    conn.commit_read(m.now, n);
                    if let Offer::Zeroed { len, written } = offer {
                        let taken = n.min(len);
                        let peer = taken.min(written);
                        m.received.extend_from_slice(&pending[..peer]);
                        m.received.resize(m.received.len() + (taken - peer), 0);
                        pos += peer;
                        offer = Offer::None;
                    }
                }
                Call::CommitAppended => {
                    conn.commit_appended(m.now);
                    if let Offer::Uninit { limit, appended } = offer {
                        let taken = appended.min(limit);
                        m.received.extend_from_slice(&pending[..taken]);
                        pos += taken;
                        offer = Offer::None;
                    }
                }
                Call::Receive(n) => {
                    let n = usize::from(n).min(pending.len());
                    conn.receive(m.now, &pending[..n]);
                    m.received.extend_from_slice(&pending[..n]);
                    pos += n;
                    offer = Offer::None;
                }
                Call::PollEvent => {
                    log.poll_one(conn);
                }
                Call::Transmit(max) => m.transmit(conn, usize::from(max), 8),
                Call::Advance(ms) => m.advance(conn, Duration::from_millis(u64::from(ms))),
                Call::Send(len) => m.send(conn, Message::binary(vec![len; usize::from(len % 64)])),
            }
            m.check(conn, log);
            if pos == bytes.len() || calls >= MAX_CALLS {
                break;
            }
        }
        if pos == pass_start {
            break;
        }
    }
    pos
}
