//! Driving the engine's IO calls with checks: feeding bytes in (`receive`, `read_buf` +
//! `commit_read`, `read_buf_uninit` + `commit_appended`, in chunker-sized pieces) and
//! draining its output (partial writes, `buffered_transmit` kept honest). The feeder that
//! calls the input functions in any order lives in `interleave.rs`.

use arbitrary::Arbitrary;
use tether_proto::{BufMut, Config, Connection, Instant, State};
use tether_testkit::Chunker;

use super::events::EventLog;
use super::limits::{MAX_HEADER, MAX_READ_WINDOW, READ_AHEAD};

/// Take everything `conn` wants to write, in pieces (partial writes when `chunker` says so),
/// checking that `poll_transmit` never stalls while `buffered_transmit` is non-zero.
pub fn drain(conn: &mut Connection, chunker: &mut Chunker, out: &mut Vec<u8>) {
    let announced = conn.buffered_transmit();
    let start = out.len();
    for _ in 0..1_000_000 {
        let queued = conn.buffered_transmit();
        let slots = 1 + (chunker.bits() % 8) as usize;
        let mut chunks = [&[][..]; 8];
        let n = conn.poll_transmit(&mut chunks[..slots]);
        assert!(chunks[..n].iter().all(|c| !c.is_empty()), "poll_transmit offered an empty chunk");
        let offered: usize = chunks[..n].iter().map(|c| c.len()).sum();
        // A partial write now and then; copy only what is "written".
        let take = if chunker.one_in(3) { chunker.next(offered) } else { offered };
        let mut left = take;
        for c in &chunks[..n] {
            let k = left.min(c.len());
            out.extend_from_slice(&c[..k]);
            left -= k;
        }
        if n == 0 {
            assert_eq!(
                conn.buffered_transmit(),
                0,
                "poll_transmit offers nothing while buffered_transmit was {queued}: a driver would hang"
            );
            let written = out.len() - start;
            // buffered_transmit() announces exactly what will be written, pending control
            // frames included (for a client with their mask key: see
            // proto/tests/fuzz_found_client_pending_control_undercount.rs).
            assert_eq!(
                written, announced,
                "buffered_transmit() announced {announced} bytes, then {written} were written"
            );
            return;
        }
        let before = conn.buffered_transmit();
        assert!(offered <= before, "poll_transmit offered {offered} bytes but buffered_transmit is {before}");
        conn.consume_transmit(take);
        assert_eq!(
            conn.buffered_transmit(),
            before - take,
            "consume_transmit({take}) did not shrink buffered_transmit by {take}"
        );
    }
    panic!("drain never finished: the engine keeps producing output by itself");
}

/// After `poll_event` returned `None`, what is buffered is at most one incomplete frame:
/// fewer bytes than its header (14) or than its payload (at most the max frame size).
pub(crate) fn check_receive_bound(conn: &Connection) {
    let bound = conn.config().max_frame_size().max(MAX_HEADER);
    assert!(
        conn.buffered_receive() < bound,
        "buffered_receive() is {} after poll_event returned None (bound {bound})",
        conn.buffered_receive()
    );
}

/// `read_buf` (or `read_buf_uninit`) offers bounded space, and only while what is buffered
/// is under the read-ahead (or the frame being read still needs more).
pub(crate) fn checked_read_buf_len(conn: &mut Connection, uninit: bool) -> usize {
    let filled = conn.buffered_receive();
    let len = if uninit { conn.read_buf_uninit().remaining_mut() } else { conn.read_buf().len() };
    check_offer(conn.config(), filled, len, uninit);
    len
}

/// An offer of `len` bytes (`read_buf_uninit`'s when `uninit`) made with `filled` bytes
/// buffered is within the read-ahead and the read window.
pub(crate) fn check_offer(cfg: &Config, filled: usize, len: usize, uninit: bool) {
    if len > 0 {
        let ahead = READ_AHEAD.max(cfg.max_frame_size());
        assert!(filled < ahead, "read_buf offered {len} bytes with {filled} already buffered (read-ahead {ahead})");
        let window = if uninit { MAX_READ_WINDOW } else { READ_AHEAD };
        let spare = ahead.max(window).max(cfg.read_buffer_size());
        assert!(len <= spare, "read_buf offered {len} bytes (bound {spare})");
    }
}

/// Feed `bytes` through `receive` or `read_buf`/`commit_read` in chunker-sized pieces,
/// sometimes taking events between pieces. Returns how many bytes the engine took.
pub(crate) fn feed(
    conn: &mut Connection,
    now: Instant,
    bytes: &[u8],
    chunker: &mut Chunker,
    mode: FeedMode,
    log: &mut EventLog,
) -> usize {
    let mut pos = 0;
    let mut steps = 0usize;
    while pos < bytes.len() {
        // Each step hands bytes in or takes an event, and every event but the last consumes
        // at least two bytes: more steps than that is an engine that stopped making progress.
        steps += 1;
        assert!(steps <= 2 * bytes.len() + 4, "feeding made no progress at {pos} of {} bytes", bytes.len());
        let want = chunker.next(bytes.len() - pos);
        let via_buf = match mode {
            FeedMode::Receive => false,
            FeedMode::ReadBuf => true,
            FeedMode::Mixed => chunker.one_in(2),
        };
        if via_buf {
            // `read_buf` (zeroed space) or `read_buf_uninit` (a BufMut over capacity).
            let uninit = chunker.one_in(2);
            let mut space = checked_read_buf_len(conn, uninit);
            if space == 0 {
                // Backpressure or the end: take an event (parsing frees buffer space).
                if log.poll_one(conn) {
                    continue;
                }
                space = checked_read_buf_len(conn, uninit);
                if space == 0 {
                    // Only an ended connection may refuse input for good (an EOF would
                    // have produced Closed above).
                    assert_eq!(
                        conn.state(),
                        State::Closed,
                        "read_buf() is empty and poll_event() has nothing while {} bytes are buffered: a driver would stall",
                        conn.buffered_receive()
                    );
                    return pos;
                }
            }
            let n = want.min(space);
            if uninit {
                let mut buf = conn.read_buf_uninit();
                assert_eq!(buf.remaining_mut(), space, "read_buf_uninit offered a different space");
                buf.put_slice(&bytes[pos..pos + n]);
                conn.commit_appended(now);
            } else {
                conn.read_buf()[..n].copy_from_slice(&bytes[pos..pos + n]);
                conn.commit_read(now, n);
            }
            pos += n;
        } else {
            conn.receive(now, &bytes[pos..pos + want]);
            pos += want;
        }
        if !chunker.one_in(4) {
            log.poll_all(conn);
        }
    }
    log.poll_all(conn);
    pos
}

/// How a harness hands bytes to the engine.
#[derive(Clone, Copy, Debug, Arbitrary)]
pub enum FeedMode {
    /// `receive` only.
    Receive,
    /// `read_buf` + `commit_read` only.
    ReadBuf,
    /// Both, chosen per chunk.
    Mixed,
}
