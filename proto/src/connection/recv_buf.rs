//! `RecvBuffer`: the connection's receive buffer — the bytes received and not yet handed
//! out, the spare space lent to the transport (zeroed or uninitialized), how large that
//! loan is (the read window), and when memory is reclaimed or given back. What does not live
//! here: parsing (`receive.rs`) and the rules of when reading is allowed at all (the
//! connection's ending).
//!
//! Layout: `buf[head..filled]` is input; `buf[..head]` was consumed (small messages copied
//! out) and is reclaimed by moving the rest to the front when space runs out; what follows
//! `filled` is the loan. A loan of zeroed space (`read_buf`) is `buf[filled..]`, part of
//! `buf`'s length; a loan of uninitialized space (`read_buf_uninit`) is capacity, and `buf`
//! ends at `filled` until the transport appends to it.

use bytes::{Buf, BytesMut};

/// Unparsed input beyond which no read space is offered until events are taken (read-side
/// backpressure). A frame larger than this may still be buffered whole.
pub(crate) const READ_AHEAD: usize = 64 << 10;

/// The largest read window for uninitialized space: lending capacity costs nothing until it
/// is written, so a stream of large messages is read several per call. Zeroed space stays
/// within [`READ_AHEAD`], since zeroing a large window costs more than the reads it saves
/// (see the manual's performance chapter).
pub(crate) const MAX_READ_WINDOW: usize = 256 << 10;

/// A consumed prefix is moved out of the way by copying what follows it when that is at most
/// this long (normally a partial small frame), and split off otherwise.
const RECLAIM_COPY: usize = 4096;

/// Spare space lent to the transport and not committed yet. Each `lend_*` replaces the
/// previous loan; a commit of the other kind, or input through another route, commits
/// nothing from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loan {
    None,
    /// `buf[filled..filled + n]`, zeroed or holding earlier bytes the transport overwrites.
    Zeroed(usize),
    /// Up to `n` bytes of capacity after `filled`, appended to `buf` by the transport.
    Uninit(usize),
}

impl Loan {
    fn len(self) -> usize {
        match self {
            Loan::None => 0,
            Loan::Zeroed(n) | Loan::Uninit(n) => n,
        }
    }
}

/// Which kind of space a loan is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Space {
    /// Initialized (zeroed where new): `read_buf`'s slice.
    Zeroed,
    /// Uninitialized capacity: `read_buf_uninit`'s `BufMut`.
    Uninit,
}

/// The receive buffer. See the module docs for its layout.
#[derive(Debug)]
pub(crate) struct RecvBuffer {
    buf: BytesMut,
    head: usize,
    filled: usize,
    /// How much space to lend: starts at `min_window`, doubles after a read that filled
    /// the whole loan (up to `READ_AHEAD`, or `MAX_READ_WINDOW` for uninitialized space),
    /// halves after a short one.
    window: usize,
    /// The configured read buffer size: the smallest window.
    min_window: usize,
    loan: Loan,
}

impl RecvBuffer {
    pub(crate) fn new(min_window: usize) -> RecvBuffer {
        RecvBuffer { buf: BytesMut::new(), head: 0, filled: 0, window: min_window, min_window, loan: Loan::None }
    }

    /// Where unconsumed input starts in [`bytes_mut`](Self::bytes_mut).
    #[inline(always)]
    pub(crate) fn head(&self) -> usize {
        self.head
    }

    /// Where unconsumed input ends.
    #[inline(always)]
    pub(crate) fn filled(&self) -> usize {
        self.filled
    }

    /// Received bytes not consumed yet.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.filled - self.head
    }

    /// The unconsumed input.
    #[inline(always)]
    pub(crate) fn input(&self) -> &[u8] {
        &self.buf[self.head..self.filled]
    }

    /// The buffer up to `filled`, for unmasking and validating input in place (indices as
    /// [`head`](Self::head) and [`filled`](Self::filled)).
    #[inline(always)]
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf[..self.filled]
    }

    /// `len` bytes of input at `start` (an index as [`head`](Self::head)), for unmasking in
    /// place or copying out.
    #[inline(always)]
    pub(crate) fn slice_mut(&mut self, start: usize, len: usize) -> &mut [u8] {
        &mut self.buf[start..start + len]
    }

    /// `len` bytes of input at `start`, to copy out.
    #[inline(always)]
    pub(crate) fn slice(&self, start: usize, len: usize) -> &[u8] {
        &self.buf[start..start + len]
    }

    /// The allocation's capacity (memory held).
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Whether more input should be read: not while `READ_AHEAD` bytes wait, unless the frame
    /// being received (`frame_len`, 0 between frames) needs more than that.
    pub(crate) fn wants_input(&self, frame_len: usize) -> bool {
        let pending = self.len();
        !(pending >= READ_AHEAD && pending >= frame_len)
    }

    /// Lend zeroed space (`read_buf`): returns the loan, at most `cap` bytes (empty for 0:
    /// reading is not allowed now).
    pub(crate) fn lend_zeroed(&mut self, frame_len: usize, cap: usize) -> &mut [u8] {
        let n = if cap > 0 { self.reserve_spare(frame_len, Space::Zeroed).min(cap) } else { 0 };
        self.loan = Loan::Zeroed(n);
        &mut self.buf[self.filled..self.filled + n]
    }

    /// Lend uninitialized space (`read_buf_uninit`): `buf` itself, limited to the loan (at
    /// most `cap` bytes; 0 when reading is not allowed now).
    pub(crate) fn lend_uninit(&mut self, frame_len: usize, cap: usize) -> bytes::buf::Limit<&mut BytesMut> {
        let n = if cap > 0 {
            self.reserve_spare(frame_len, Space::Uninit).min(cap)
        } else {
            self.buf.truncate(self.filled);
            0
        };
        self.loan = Loan::Uninit(n);
        bytes::BufMut::limit(&mut self.buf, n)
    }

    /// Commit `n` bytes written into a zeroed loan (at most the loan; nothing without an
    /// outstanding zeroed loan). Returns the bytes committed.
    pub(crate) fn commit_zeroed(&mut self, n: usize) -> usize {
        let Loan::Zeroed(lent) = self.loan else {
            return 0;
        };
        self.loan = Loan::None;
        // The loan is still `buf[filled..]` unless the buffer was discarded since (the end).
        let n = n.min(lent).min(self.buf.len() - self.filled);
        self.adapt_window(lent, n, READ_AHEAD);
        self.filled += n;
        n
    }

    /// Commit what was appended to an uninitialized loan (at most the loan; nothing without
    /// an outstanding uninitialized loan). Returns the bytes committed.
    pub(crate) fn commit_uninit(&mut self) -> usize {
        let Loan::Uninit(lent) = self.loan else {
            return 0;
        };
        self.loan = Loan::None;
        if self.buf.len() < self.filled {
            // Only appending is allowed; a caller that cut the buffer lost its own input.
            // Keep the indices valid (the engine must not panic): the protocol will fail on
            // the gap.
            self.buf.resize(self.filled, 0);
        }
        let n = (self.buf.len() - self.filled).min(lent);
        self.buf.truncate(self.filled + n);
        self.adapt_window(lent, n, MAX_READ_WINDOW);
        self.filled += n;
        n
    }

    /// Void an outstanding loan: bytes written into it are not input.
    pub(crate) fn void_loan(&mut self) {
        if self.loan != Loan::None {
            self.loan = Loan::None;
            self.buf.truncate(self.filled);
        }
    }

    /// Append bytes the caller read itself (`receive`). An outstanding loan is void: bytes
    /// written into it are not input.
    pub(crate) fn append(&mut self, data: &[u8]) {
        self.loan = Loan::None;
        self.buf.truncate(self.filled);
        self.buf.extend_from_slice(data);
        self.filled = self.buf.len();
    }

    /// The read window follows the transport: it doubles (up to `max`) after a read that
    /// filled the whole loan and halves after a short one.
    fn adapt_window(&mut self, lent: usize, n: usize, max: usize) {
        if n == lent && n > 0 {
            // The transport had more than we lent: lend more next time (fewer reads).
            self.window = (self.window * 2).min(max);
        } else if n < self.window / 4 {
            self.window = (self.window / 2).max(self.min_window);
        }
    }

    /// Mark `rx[head..to]` consumed (a message copied out of it).
    #[inline(always)]
    pub(crate) fn consume_to(&mut self, to: usize) {
        self.head = to;
    }

    /// Split off the next `n` unconsumed bytes (shared, no copy): a whole frame's payload, so
    /// a buffer left large by a big message is given back when nothing follows it.
    pub(crate) fn split(&mut self, n: usize) -> BytesMut {
        let end = self.head + n;
        self.filled -= end;
        let mut taken = self.buf.split_to(end);
        taken.advance(self.head);
        self.head = 0;
        if self.filled == 0 && self.loan.len() == 0 && self.buf.capacity() > 4 * self.min_window.max(MAX_READ_WINDOW) {
            // Shrink after a large message instead of keeping its buffer forever.
            self.buf = BytesMut::new();
        }
        taken
    }

    /// A frame of `len` payload bytes starts at `start` and only part of it is here: drop
    /// what precedes it, so its payload starts at `bytes_mut()[0]`. When it will not fit where
    /// it starts (often far into an allocation whose front held the previous large message),
    /// move what has arrived to the front now, while it is little, if that makes room for the
    /// whole frame without allocating; otherwise the whole frame would be moved later.
    pub(crate) fn start_partial_frame(&mut self, start: usize, len: usize) {
        self.buf.advance(start);
        self.filled -= start;
        self.head = 0;
        // Not while space is lent: the transport may have written into it already.
        if len > self.buf.capacity() && self.loan.len() == 0 {
            self.buf.truncate(self.filled);
            let _ = self.buf.try_reclaim(len - self.filled);
        }
    }

    /// Forget every byte (the connection ended).
    pub(crate) fn release(&mut self) {
        self.buf = BytesMut::new();
        self.head = 0;
        self.filled = 0;
        self.loan = Loan::None;
    }

    /// Discard input without giving the memory back (a client reading until the server ends
    /// the transport).
    pub(crate) fn discard(&mut self) {
        self.buf.clear();
        self.head = 0;
        self.filled = 0;
    }

    /// Make sure there is spare space after `filled`, growing only with what has arrived:
    /// at least the configured buffer size, at most what is already buffered (doubling),
    /// and no more than the current frame still needs when that is known. Returns the
    /// space to lend.
    fn reserve_spare(&mut self, frame_len: usize, space: Space) -> usize {
        if self.head == self.filled {
            // Everything buffered was consumed: reuse the buffer from the start (no copy).
            self.head = 0;
            self.filled = 0;
        }
        if self.filled == 0 && self.loan.len() == 0 {
            // The first loan since a commit, with nothing buffered. The read window has
            // shrunk (short reads: the peer slowed down or went idle) well below the buffer a
            // burst of small frames left behind: give the memory back. Under steady load the
            // window stays near the buffer size, so this does not churn. Decided here, before
            // the reclaim below: a buffer a large message was just split from shows only its
            // tail here, so it is reclaimed and reused for the next large message rather than
            // freed and allocated again; and a second loan without a read in between (after
            // the reclaim, seeing the whole buffer) does not decide otherwise.
            if self.buf.capacity() > 4 * self.window {
                self.buf = BytesMut::new();
            }
        }
        if space == Space::Uninit {
            // Uninitialized space: the buffer ends where the input does.
            self.buf.truncate(self.filled);
            if self.filled == 0 {
                // Nothing buffered: move the (empty) buffer back to the start of its
                // allocation if it sits further in, behind a large message already handed
                // out. Free now; otherwise the next large frame finds too little room behind
                // it and what has arrived of it is moved then. Fails harmlessly when already
                // at the start or when a message the application still holds shares the
                // allocation.
                let _ = self.buf.try_reclaim(self.buf.capacity() + 1);
            }
        }
        // Between frames, ask for at least half the window, so a growing window means larger
        // reads. Inside a frame keep the small threshold: the buffer then grows only by
        // doubling what has arrived, never toward the announced length.
        let window = self.window_for(space);
        let min_spare = if frame_len > 0 { 512 } else { 512.max(window / 2) };
        let spare = self.spare(space);
        if spare >= min_spare || (frame_len > 0 && self.filled + spare >= frame_len && spare > 0) {
            return self.loan_size(space, frame_len);
        }
        if self.head > 0 {
            // Reclaim the consumed front. What is left is normally a partial small frame; a
            // large remainder is split off instead of copied.
            let rest = self.filled - self.head;
            if rest <= RECLAIM_COPY {
                self.buf.copy_within(self.head..self.filled, 0);
            } else {
                self.buf.advance(self.head);
            }
            self.head = 0;
            self.filled = rest;
            if space == Space::Uninit {
                self.buf.truncate(self.filled);
            }
            let spare = self.spare(space);
            if spare >= min_spare || (frame_len > 0 && self.filled + spare >= frame_len) {
                return self.loan_size(space, frame_len);
            }
        }
        let mut want = window.max(self.filled);
        if frame_len > self.filled {
            want = want.min((frame_len - self.filled).max(window));
        }
        // `reserve` grows a buffer nobody else holds in place (realloc: no copy, and no fresh
        // pages for what is already there) and moves the unconsumed part to a new buffer only
        // when the old one is shared with delivered messages.
        self.buf.truncate(self.filled);
        self.buf.reserve(want);
        if space == Space::Zeroed {
            self.buf.resize(self.filled + want, 0);
        }
        self.loan_size(space, frame_len)
    }

    /// The window for `space`: zeroed space never grows past `READ_AHEAD`.
    fn window_for(&self, space: Space) -> usize {
        match space {
            Space::Zeroed => self.window.min(READ_AHEAD),
            Space::Uninit => self.window,
        }
    }

    fn spare(&self, space: Space) -> usize {
        match space {
            Space::Zeroed => self.buf.len() - self.filled,
            Space::Uninit => self.buf.capacity() - self.filled,
        }
    }

    /// The spare space to lend, or the end of the current frame if that is larger: zeroed
    /// space up to `READ_AHEAD` (it was zeroed to be read into; only space that grew while a
    /// partial frame sat in front of it can exceed that), uninitialized capacity only up to
    /// the read window, so a buffer left large by a burst is not lent whole.
    fn loan_size(&self, space: Space, frame_len: usize) -> usize {
        let limit = match space {
            Space::Zeroed => READ_AHEAD,
            Space::Uninit => self.window,
        };
        self.spare(space).min(limit.max(frame_len.saturating_sub(self.filled)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use bytes::BufMut;

    fn zeroed_read(b: &mut RecvBuffer, data: &[u8]) -> usize {
        let space = b.lend_zeroed(0, usize::MAX);
        let n = space.len().min(data.len());
        space[..n].copy_from_slice(&data[..n]);
        b.commit_zeroed(n)
    }

    fn uninit_read(b: &mut RecvBuffer, data: &[u8]) -> usize {
        let mut space = b.lend_uninit(0, usize::MAX);
        let n = space.remaining_mut().min(data.len());
        space.put_slice(&data[..n]);
        b.commit_uninit()
    }

    // Both kinds of loan commit exactly what was written, in order, and input is what was
    // committed.
    #[test]
    fn loans_commit_what_was_written() {
        let mut b = RecvBuffer::new(1024);
        assert_eq!(zeroed_read(&mut b, b"hello "), 6);
        assert_eq!(uninit_read(&mut b, b"world"), 5);
        b.append(b"!");
        assert_eq!(b.input(), b"hello world!");
    }

    // A commit never exceeds the loan, whatever count the caller reports.
    #[test]
    fn a_commit_is_capped_at_the_loan() {
        let mut b = RecvBuffer::new(1024);
        let lent = b.lend_zeroed(0, usize::MAX).len();
        assert_eq!(b.commit_zeroed(lent + 100), lent);
        assert_eq!(b.len(), lent);

        let mut b = RecvBuffer::new(1024);
        let mut space = b.lend_uninit(0, usize::MAX);
        let lent = space.remaining_mut();
        space.get_mut().extend_from_slice(&vec![1u8; lent + 10]);
        assert_eq!(b.commit_uninit(), lent);
        assert_eq!(b.len(), lent);
    }

    // Input that arrives through `append` voids an outstanding loan: a later commit commits
    // nothing and the buffer stays consistent (this sequence used to corrupt it).
    #[test]
    fn append_voids_the_loan() {
        let mut b = RecvBuffer::new(1024);
        let space = b.lend_zeroed(0, usize::MAX);
        space[..3].copy_from_slice(b"xyz");
        b.append(b"abc");
        assert_eq!(b.commit_zeroed(3), 0);
        assert_eq!(b.input(), b"abc");

        let mut b = RecvBuffer::new(1024);
        b.lend_uninit(0, usize::MAX).put_slice(b"xyz");
        b.append(b"abc");
        assert_eq!(b.commit_uninit(), 0);
        assert_eq!(b.input(), b"abc");
    }

    // A commit of the other kind commits nothing; a new loan replaces the old one.
    #[test]
    fn commits_match_their_loan() {
        let mut b = RecvBuffer::new(1024);
        b.lend_zeroed(0, usize::MAX)[..2].copy_from_slice(b"zz");
        assert_eq!(b.commit_uninit(), 0, "zeroed space is not an append");
        assert_eq!(b.commit_zeroed(2), 2);
        b.lend_uninit(0, usize::MAX).put_slice(b"uu");
        assert_eq!(b.commit_zeroed(2), 0, "an append is not a zeroed read");
        assert_eq!(b.commit_uninit(), 2);
        assert_eq!(b.input(), b"zzuu");
        // A second loan replaces the first: bytes written into the first are not input.
        b.lend_uninit(0, usize::MAX).put_slice(b"lost");
        let space = b.lend_zeroed(0, usize::MAX);
        space[..2].copy_from_slice(b"ok");
        assert_eq!(b.commit_zeroed(2), 2);
        assert_eq!(b.input(), b"zzuuok");
        // Commits without a loan commit nothing.
        assert_eq!(b.commit_zeroed(5), 0);
        assert_eq!(b.commit_uninit(), 0);
    }

    // Consuming input while space is lent keeps the loan where the transport wrote it.
    #[test]
    fn a_loan_survives_consumption_and_partial_frames() {
        for space in [Space::Zeroed, Space::Uninit] {
            let mut b = RecvBuffer::new(1024);
            b.append(&[7u8; 100]);
            match space {
                Space::Zeroed => b.lend_zeroed(5000, usize::MAX)[..4].copy_from_slice(b"next"),
                Space::Uninit => b.lend_uninit(5000, usize::MAX).put_slice(b"next"),
            }
            // Input is consumed and a partial frame starts while the loan is out.
            let taken = b.split(60);
            assert_eq!(&taken[..], &[7u8; 60][..]);
            b.start_partial_frame(10, 1 << 20);
            let committed = match space {
                Space::Zeroed => b.commit_zeroed(4),
                Space::Uninit => b.commit_uninit(),
            };
            assert_eq!(committed, 4, "{space:?}");
            let mut expected = vec![7u8; 30];
            expected.extend_from_slice(b"next");
            assert_eq!(b.input(), &expected[..], "{space:?}");
        }
    }

    // Backpressure: no more input is wanted once READ_AHEAD bytes wait, unless the frame in
    // progress needs more.
    #[test]
    fn read_ahead_bounds_input() {
        let mut b = RecvBuffer::new(1024);
        b.append(&vec![0u8; READ_AHEAD]);
        assert!(!b.wants_input(0));
        assert!(!b.wants_input(READ_AHEAD));
        assert!(b.wants_input(READ_AHEAD + 1));
        assert!(b.lend_zeroed(0, 0).is_empty());
        assert_eq!(b.lend_uninit(0, 0).remaining_mut(), 0);
    }

    // The window doubles after full reads (up to the bound of each kind of space) and halves
    // after short ones, never below the configured size.
    #[test]
    fn the_window_follows_the_transport() {
        let mut b = RecvBuffer::new(1024);
        let mut last = 0;
        for _ in 0..20 {
            let lent = b.lend_uninit(0, usize::MAX).remaining_mut();
            assert!(lent >= last && lent <= MAX_READ_WINDOW, "{lent}");
            last = lent;
            b.lend_uninit(0, usize::MAX).put_bytes(1, lent);
            b.commit_uninit();
            b.split(b.len());
        }
        assert_eq!(last, MAX_READ_WINDOW);
        for _ in 0..20 {
            let lent = b.lend_zeroed(0, usize::MAX).len();
            assert!(lent <= READ_AHEAD, "{lent}");
            b.commit_zeroed(1);
            b.split(b.len());
        }
        assert_eq!(b.window, 1024);
    }

    // Memory grows only with what arrived, never toward an announced frame length.
    #[test]
    fn growth_follows_arrivals_not_announcements() {
        let mut b = RecvBuffer::new(1024);
        let mut received = 0;
        while received < 1 << 20 {
            let lent = b.lend_zeroed(64 << 20, usize::MAX).len();
            assert!(lent > 0);
            received += b.commit_zeroed(lent);
            assert!(b.capacity() <= 2 * received + 4096, "capacity {} after {received}", b.capacity());
        }
    }

    // Two loans without a read in between offer the same space.
    #[test]
    fn a_second_loan_offers_the_same_space() {
        let mut b = RecvBuffer::new(1024);
        for _ in 0..3 {
            let lent = b.lend_uninit(0, usize::MAX).remaining_mut();
            b.lend_uninit(0, usize::MAX).put_bytes(0, lent);
            b.commit_uninit();
        }
        b.split(b.len());
        let first = b.lend_uninit(0, usize::MAX).remaining_mut();
        assert_eq!(b.lend_uninit(0, usize::MAX).remaining_mut(), first);
        let first = b.lend_zeroed(0, usize::MAX).len();
        assert_eq!(b.lend_zeroed(0, usize::MAX).len(), first);
    }
}
