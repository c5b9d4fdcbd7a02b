//! The transmit queue: encoded frames waiting to be written, as borrowed chunks for vectored
//! writes. Small pieces are copied into one contiguous buffer; large server payloads are
//! referenced (`Bytes`), not copied. Urgent control frames (pongs, keepalive pings, the
//! best-effort close after a timeout) go out at the next frame boundary, never inside a
//! frame. What to encode is decided by the connection; this file only orders and hands out
//! bytes.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use bytes::Bytes;

use crate::frame::Header;

/// Payloads at most this long are copied next to their header (one slice, fewer iovecs);
/// longer ones are queued by reference.
pub(crate) const COPY_THRESHOLD: usize = 2048;

/// Complete copied frames are appended to the last segment while it is shorter than this
/// (one segment per run of small frames instead of one per frame: no per-frame queue
/// entry to push, walk and pop). The price is bounded by it: an urgent control frame may
/// wait for up to this many bytes of whole frames queued behind a frame in progress, and
/// [`TxQueue::discard_unstarted`] keeps them.
const MERGE_LIMIT: usize = 4096;

/// Whether bytes pushed to the queue end a frame (the boundary urgent control frames may
/// be written at).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// More of the same frame follows.
    Middle,
    /// The frame ends with these bytes.
    End,
}

/// A payload to frame. Where its bytes live decides how the queue takes them: borrowed
/// payloads are always copied (the caller keeps its slice), shared ones are referenced when
/// [`TxQueue::push_shared`] finds them large enough to be worth it.
#[derive(Debug)]
pub(crate) enum Payload<'a> {
    /// The caller's slice (`send_text`/`send_bytes`, control frames built on the stack).
    Borrowed(&'a [u8]),
    /// An owned, reference-counted payload (`send(Message)`).
    Shared(Bytes),
}

impl Payload<'_> {
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Payload::Borrowed(s) => s,
            Payload::Shared(b) => b,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// The first `at` bytes (a fragment); `self` keeps the rest. Shared payloads are split
    /// by reference, so fragmenting a large server message still copies nothing.
    pub(crate) fn split_to(&mut self, at: usize) -> Self {
        match self {
            Payload::Borrowed(s) => {
                let (head, rest) = s.split_at(at);
                *s = rest;
                Payload::Borrowed(head)
            }
            Payload::Shared(b) => Payload::Shared(b.split_to(at)),
        }
    }
}

#[derive(Debug)]
enum Seg {
    /// The next `len` bytes of `inline`.
    Inline { len: usize, frame_end: bool },
    /// A referenced payload.
    Shared { bytes: Bytes, frame_end: bool },
}

impl Seg {
    fn len(&self) -> usize {
        match self {
            Seg::Inline { len, .. } => *len,
            Seg::Shared { bytes, .. } => bytes.len(),
        }
    }
    fn frame_end(&self) -> bool {
        match self {
            Seg::Inline { frame_end, .. } | Seg::Shared { frame_end, .. } => *frame_end,
        }
    }
}

struct ChunkWriter<'a, 'o> {
    out: &'o mut [&'a [u8]],
    n: usize,
    full: bool,
}

impl<'a> ChunkWriter<'a, '_> {
    fn push(&mut self, s: &'a [u8]) {
        if s.is_empty() || self.full {
            return;
        }
        if self.n == self.out.len() {
            self.full = true;
            return;
        }
        self.out[self.n] = s;
        self.n += 1;
    }
}

#[derive(Debug, Default)]
pub(crate) struct TxQueue {
    /// Bytes of all `Inline` segments, in order; `inline[..inline_head]` is written.
    inline: Vec<u8>,
    inline_head: usize,
    /// Data frames (and frames that must keep their place after data, like our close).
    segs: VecDeque<Seg>,
    /// Bytes of `segs.front()` already written.
    front_done: usize,
    /// Some bytes of the front data frame are written: it must finish before anything else.
    mid_frame: bool,
    /// Encoded urgent control frames; `urgent[..urgent_head]` is written.
    urgent: Vec<u8>,
    urgent_head: usize,
    /// Unwritten bytes in total.
    len: usize,
}

impl TxQueue {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Unwritten urgent bytes.
    pub(crate) fn urgent_len(&self) -> usize {
        self.urgent.len() - self.urgent_head
    }

    /// Queue the handshake response: it goes out first and whole, before any frame —
    /// urgent control frames included — as a frame in progress does.
    pub(crate) fn push_head(&mut self, bytes: &[u8]) {
        debug_assert!(self.is_empty(), "the handshake response is the first output");
        self.push_copy(bytes, Part::End);
        self.mid_frame = !bytes.is_empty();
    }

    /// Append bytes to the data queue by copy.
    pub(crate) fn push_copy(&mut self, bytes: &[u8], part: Part) {
        let frame_end = part == Part::End;
        if bytes.is_empty() && !frame_end {
            return;
        }
        self.inline.extend_from_slice(bytes);
        self.push_seg(Seg::Inline { len: bytes.len(), frame_end });
    }

    /// Append a whole frame by copy — header, then payload transformed in place by `f`
    /// (masking) — as one segment.
    #[inline]
    pub(crate) fn push_frame_copy_with(&mut self, header: Header, payload: &[u8], f: impl FnOnce(&mut [u8])) {
        let len = header.len() + payload.len();
        // All `Header::BYTES` in one store, then cut to the header's length: a copy of
        // exactly `header.len()` bytes would be a variable-length memcpy.
        self.inline.reserve(Header::BYTES + payload.len());
        let at = self.inline.len();
        self.inline.extend_from_slice(&header.bytes());
        self.inline.truncate(at + header.len());
        let start = self.inline.len();
        self.inline.extend_from_slice(payload);
        f(&mut self.inline[start..]);
        self.len += len;
        // A whole frame after a segment that ends a frame: extend that segment (the
        // boundary between the two frames is given up, see MERGE_LIMIT). The front segment
        // is left alone, so a frame being written never grows.
        if self.segs.len() >= 2 {
            if let Some(Seg::Inline { len: last_len, frame_end: true }) = self.segs.back_mut() {
                if *last_len < MERGE_LIMIT {
                    *last_len += len;
                    return;
                }
            }
        }
        self.segs.push_back(Seg::Inline { len, frame_end: true });
    }

    /// Append a payload by reference.
    pub(crate) fn push_shared(&mut self, bytes: Bytes, part: Part) {
        if bytes.len() <= COPY_THRESHOLD {
            self.push_copy(&bytes, part);
        } else {
            self.push_seg(Seg::Shared { bytes, frame_end: part == Part::End });
        }
    }

    fn push_seg(&mut self, seg: Seg) {
        self.len += seg.len();
        // Merge adjacent inline pieces of the same frame so they form one segment.
        if let (Seg::Inline { len, frame_end }, Some(Seg::Inline { len: last_len, frame_end: false })) =
            (&seg, self.segs.back_mut())
        {
            *last_len += *len;
            let fe = *frame_end;
            if let Some(Seg::Inline { frame_end: last_fe, .. }) = self.segs.back_mut() {
                *last_fe = fe;
            }
            return;
        }
        self.segs.push_back(seg);
    }

    /// Append an urgent frame; it goes out at the next frame boundary.
    pub(crate) fn push_urgent(&mut self, bytes: &[u8]) {
        if self.urgent_head == self.urgent.len() {
            self.urgent.clear();
            self.urgent_head = 0;
        }
        self.urgent.extend_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Drop every data frame that has not started (a connection given up after a timeout
    /// sends its close frame next and nothing after it). A frame in progress is finished first, with the
    /// small frames merged into its segment (at most [`MERGE_LIMIT`] bytes).
    pub(crate) fn discard_unstarted(&mut self) {
        let mut keep = 0;
        let mut keep_inline = self.inline_head;
        if self.mid_frame {
            let mut first = true;
            for seg in &self.segs {
                keep += 1;
                if let Seg::Inline { len, .. } = seg {
                    keep_inline += len - if first { self.front_done } else { 0 };
                }
                first = false;
                if seg.frame_end() {
                    break;
                }
            }
        }
        while self.segs.len() > keep {
            if let Some(seg) = self.segs.pop_back() {
                self.len -= seg.len();
            }
        }
        if keep == 0 {
            self.len -= self.front_done.min(self.len);
            self.front_done = 0;
        }
        self.inline.truncate(keep_inline);
        self.len = self.urgent.len() - self.urgent_head + self.segs_remaining();
    }

    fn segs_remaining(&self) -> usize {
        self.segs.iter().map(Seg::len).sum::<usize>() - self.front_done
    }

    /// Fill `out` with the next chunks to write, in order; returns how many were filled.
    /// Adjacent copied pieces come out as one chunk.
    pub(crate) fn chunks<'a>(&'a self, out: &mut [&'a [u8]]) -> usize {
        let mut w = ChunkWriter { out, n: 0, full: false };
        let mut inline_pos = self.inline_head;
        let mut idx = 0;
        // Phase A: finish the frame in progress.
        if self.mid_frame {
            idx = self.emit_segs(0, true, &mut inline_pos, &mut w);
        }
        // Phase B: urgent control frames. Phase C: the rest of the data.
        w.push(&self.urgent[self.urgent_head..]);
        self.emit_segs(idx, false, &mut inline_pos, &mut w);
        w.n
    }

    /// Emit segments from `idx`; with `one_frame`, stop after the first that ends a frame.
    fn emit_segs<'a>(
        &'a self,
        mut idx: usize,
        one_frame: bool,
        inline_pos: &mut usize,
        w: &mut ChunkWriter<'a, '_>,
    ) -> usize {
        while idx < self.segs.len() && !w.full {
            let skip = |i: usize| if i == 0 { self.front_done } else { 0 };
            match &self.segs[idx] {
                Seg::Shared { bytes, frame_end } => {
                    w.push(&bytes[skip(idx)..]);
                    idx += 1;
                    if one_frame && *frame_end {
                        return idx;
                    }
                }
                Seg::Inline { .. } => {
                    let start = *inline_pos;
                    let mut stop = false;
                    while let Some(Seg::Inline { len, frame_end }) = self.segs.get(idx) {
                        *inline_pos += len - skip(idx);
                        idx += 1;
                        if one_frame && *frame_end {
                            stop = true;
                            break;
                        }
                    }
                    w.push(&self.inline[start..*inline_pos]);
                    if stop {
                        return idx;
                    }
                }
            }
        }
        idx
    }

    /// Mark `n` bytes (from the start of what `chunks` returned) as written.
    pub(crate) fn consume(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            if !self.mid_frame && self.urgent_head < self.urgent.len() {
                let k = n.min(self.urgent.len() - self.urgent_head);
                self.urgent_head += k;
                n -= k;
                continue;
            }
            let Some(seg) = self.segs.front() else { break };
            let rest = seg.len() - self.front_done;
            let k = n.min(rest);
            if let Seg::Inline { .. } = seg {
                self.inline_head += k;
            }
            n -= k;
            if k == rest {
                self.mid_frame = !seg.frame_end();
                self.front_done = 0;
                self.segs.pop_front();
            } else {
                self.front_done += k;
                self.mid_frame = true;
            }
        }
        self.reclaim();
    }

    fn reclaim(&mut self) {
        if self.urgent_head == self.urgent.len() {
            self.urgent.clear();
            self.urgent_head = 0;
        }
        if self.inline_head == self.inline.len() {
            self.inline.clear();
            self.inline_head = 0;
            // Give back memory after a burst of large messages.
            if self.inline.capacity() > 256 << 10 {
                self.inline = Vec::new();
            }
        } else if self.inline_head > 64 << 10 && self.inline_head * 2 > self.inline.len() {
            self.inline.drain(..self.inline_head);
            self.inline_head = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::OpCode;

    fn drain(q: &mut TxQueue, max_chunks: usize, step: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let mut chunks = [&[][..]; 16];
            let n = q.chunks(&mut chunks[..max_chunks]);
            if n == 0 {
                assert!(q.is_empty());
                return out;
            }
            let mut taken = 0;
            'outer: for c in &chunks[..n] {
                for &b in c.iter() {
                    if taken == step {
                        break 'outer;
                    }
                    out.push(b);
                    taken += 1;
                }
            }
            q.consume(taken);
        }
    }

    #[test]
    fn order_is_preserved_through_partial_writes() {
        for step in [1, 2, 3, 7, 100, 10_000] {
            for max_chunks in [1, 2, 16] {
                let mut q = TxQueue::default();
                q.push_copy(b"ab", Part::Middle);
                q.push_shared(Bytes::from(alloc::vec![b'x'; 3000]), Part::End);
                q.push_copy(b"cd", Part::End);
                let mut expected = b"ab".to_vec();
                expected.extend(core::iter::repeat_n(b'x', 3000));
                expected.extend(b"cd");
                assert_eq!(q.len(), expected.len());
                assert_eq!(drain(&mut q, max_chunks, step), expected);
            }
        }
    }

    // Control frames never land inside a data frame (RFC 6455 §5.4).
    #[test]
    fn urgent_waits_for_frame_boundary() {
        let mut q = TxQueue::default();
        q.push_copy(b"H1", Part::Middle);
        q.push_shared(Bytes::from(alloc::vec![b'1'; 3000]), Part::End);
        q.push_copy(b"H2", Part::Middle);
        q.push_copy(b"22", Part::End);
        // Start the first frame, then an urgent frame arrives.
        q.consume(1);
        q.push_urgent(b"PP");
        let out = drain(&mut q, 16, 5);
        let mut expected = b"1".to_vec();
        expected.extend(core::iter::repeat_n(b'1', 3000));
        expected.extend(b"PPH222");
        assert_eq!(out, expected);
    }

    // Merged small frames: an urgent frame still lands only on a frame boundary, and the
    // front segment (being written) never grows.
    #[test]
    fn merged_frames_keep_urgent_on_boundaries() {
        for step in [1, 3, 5, 100] {
            let mut q = TxQueue::default();
            let header = Header::new(true, OpCode::Binary, None, 2);
            for payload in [b"AA", b"BB", b"CC"] {
                q.push_frame_copy_with(header, payload, |_| {});
            }
            assert_eq!(q.segs.len(), 2, "B and C share a segment");
            q.consume(2);
            q.push_urgent(b"PP");
            q.push_frame_copy_with(header, b"dd", |buf| buf.make_ascii_uppercase());
            let out = drain(&mut q, 16, step);
            assert_eq!(out, b"AAPP\x82\x02BB\x82\x02CC\x82\x02DD", "step {step}");
        }
    }

    #[test]
    fn urgent_goes_ahead_of_unstarted_frames() {
        let mut q = TxQueue::default();
        q.push_copy(b"D1", Part::End);
        q.push_urgent(b"PP");
        assert_eq!(drain(&mut q, 16, 1), b"PPD1");
    }

    #[test]
    fn discard_keeps_the_frame_in_progress() {
        let mut q = TxQueue::default();
        q.push_copy(b"AAAA", Part::End);
        q.push_copy(b"BBBB", Part::End);
        q.consume(2);
        q.discard_unstarted();
        q.push_urgent(b"CC");
        assert_eq!(q.len(), 4);
        assert_eq!(drain(&mut q, 16, 3), b"AACC");

        let mut q = TxQueue::default();
        q.push_copy(b"AAAA", Part::End);
        q.push_shared(Bytes::from(alloc::vec![b'S'; 3000]), Part::End);
        q.discard_unstarted();
        assert!(q.is_empty());
    }
}
