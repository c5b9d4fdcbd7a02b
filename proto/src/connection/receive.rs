//! The receive path: decoding frames out of the receive buffer, unmasking and validating
//! them in place, reassembling fragmented messages, the small-frame fast path, and turning
//! control frames into events and replies. What does not live here: the buffer's memory
//! management (`recv_buf.rs`), header parsing (`frame.rs`) and how an ending is recorded
//! (`ending.rs`).

use alloc::boxed::Box;

use bytes::{Buf, Bytes, BytesMut};

use super::ending::End;
use super::Connection;
use crate::close::{CloseCode, CloseFrame};
use crate::config::Role;
use crate::error::ProtocolError;
use crate::event::{CloseCause, Closed, Event};
use crate::frame::{decode_header, small_masked_frame, DecodeRules, FrameHeader, OpCode};
use crate::mask::apply_mask;
use crate::message::{Message, Utf8Bytes};
use crate::utf8::Utf8Validator;

/// Complete messages with payloads at most this long are copied out of the receive buffer
/// into their own allocation instead of sharing it. Sharing costs two atomic reference-count
/// updates (split + drop) and, worse, leaves the buffer shared: the next read then needs a
/// fresh (or reclaimed) buffer, whose spare space is zeroed again before it can be lent to
/// the transport. A copy of a few KiB is cheaper, the buffer is reused in place, and a
/// message the application keeps holds only its own bytes, never the whole receive buffer.
/// Larger payloads are shared (no copy). The manual's performance chapter has the figures.
pub(crate) const SMALL_COPY: usize = 4096;

/// The frame being received: its header and how much of its payload (at the front of the
/// receive buffer) has been unmasked and validated in place.
#[derive(Debug)]
pub(super) struct InFrame {
    header: FrameHeader,
    len: usize,
    processed: usize,
}

/// A fragmented message being reassembled.
#[derive(Debug)]
pub(super) struct Partial {
    text: bool,
    /// permessage-deflate: frames go through the decompressor, onto `inflated`.
    compressed: bool,
    pub(super) buf: BytesMut,
    /// The decompressed message so far (a `Vec`: its growth is bounded exactly, see
    /// `DeflateState::decompress`).
    #[cfg(feature = "deflate")]
    inflated: alloc::vec::Vec<u8>,
}

/// The frame and message being received, and whether the transport's input has ended.
#[derive(Debug, Default)]
pub(super) struct RecvState {
    pub(super) frame: Option<InFrame>,
    pub(super) partial: Option<Partial>,
    pub(super) utf8: Utf8Validator,
    pub(super) eof: bool,
}

impl RecvState {
    /// The payload length of the frame in progress (0 between frames).
    pub(super) fn frame_len(&self) -> usize {
        self.frame.as_ref().map_or(0, |f| f.len)
    }

    /// Forget the frame and message in progress (the connection ended).
    pub(super) fn reset(&mut self) {
        self.frame = None;
        self.partial = None;
    }

    #[cfg(test)]
    pub(super) fn is_mid_frame(&self) -> bool {
        self.frame.is_some()
    }
}

/// What one decoding step produced.
pub(super) enum Step {
    Event(Event),
    /// A whole small message at `rx[start..start + len]`, unmasked and validated, to be
    /// copied out by the caller (kept to three scalars: see `poll_event_slow`).
    Small {
        start: usize,
        len: usize,
        text: bool,
    },
    Continue,
    NeedMore,
}

impl Connection {
    /// The frames a server receives most, recognised without the general decoder: between
    /// messages, a whole masked single-frame text or binary message of at most
    /// [`SMALL_COPY`] bytes within the size limits. Returns where its payload is, its key
    /// and whether it is text. Everything else goes the general way, which decodes these
    /// frames to the same message: the fast path only skips the checks that cannot fail for
    /// them.
    #[inline(always)]
    pub(super) fn small_masked_frame(&self) -> Option<(usize, usize, [u8; 4], bool)> {
        if !matches!(self.end, End::Running)
            || self.role != Role::Server
            || self.recv.frame.is_some()
            || self.recv.partial.is_some()
        {
            return None;
        }
        // One frame: within `max_message_size` when within `max_frame_size` (the config
        // keeps frames no larger than messages).
        let frame = small_masked_frame(self.rx.input(), SMALL_COPY)?;
        if frame.len > self.config.max_frame_size {
            return None;
        }
        Some((self.rx.head() + frame.header_len, frame.len, frame.key, frame.text))
    }

    /// `poll_event` for everything but [`small_masked_frame`](Self::small_masked_frame).
    #[inline(never)]
    pub(super) fn poll_event_slow(&mut self) -> Option<Event> {
        if matches!(self.end, End::Emitted(_)) {
            // Only a client waiting for the server's end of the transport reads now.
            self.rx.discard();
            return None;
        }
        let aborting = matches!(self.end, End::Pending(_));
        loop {
            match self.decode_next() {
                Ok(Step::Event(event)) => return Some(event),
                // The message is built here, straight into the return value: built inside
                // `decode_next` and moved out through `Step`, the large event was written
                // piecewise and read back whole (a store-forwarding stall per message; see
                // the manual's performance chapter).
                Ok(Step::Small { start, len, text }) => return Some(Event::Message(self.copy_out(start, len, text))),
                Ok(Step::Continue) => continue,
                Ok(Step::NeedMore) => break,
                // Already ending for another reason: stop parsing.
                Err(_) if aborting => break,
                Err(error) => return Some(self.fail(error)),
            }
        }
        if let End::Pending(_) = self.end {
            if let End::Pending(closed) = core::mem::replace(&mut self.end, End::Running) {
                return Some(self.emit(closed));
            }
        }
        if self.recv.eof {
            let closed =
                Closed { code: CloseCode::ABNORMAL, reason: Utf8Bytes::default(), cause: CloseCause::TransportEof };
            self.shutdown.ready = true;
            return Some(self.emit(closed));
        }
        None
    }

    /// Hand out the whole message at `rx[start..start + len]` as a copy (see
    /// [`SMALL_COPY`]), leaving the receive buffer unshared.
    #[inline]
    pub(super) fn copy_out(&mut self, start: usize, len: usize, text: bool) -> Message {
        // Through an exact-size `Box<[u8]>`, not `Bytes::copy_from_slice` (a `Vec`, then its
        // conversion): the same single allocation, with the conversion inlined.
        let payload = Bytes::from(Box::<[u8]>::from(self.rx.slice(start, len)));
        self.rx.consume_to(start + len);
        data_message(text, payload)
    }

    fn decode_next(&mut self) -> Result<Step, ProtocolError> {
        if self.recv.frame.is_none() {
            let rules = DecodeRules {
                role: self.role,
                accept_unmasked: self.config.accept_unmasked_frames,
                max_frame_size: self.config.max_frame_size,
                rsv1: self.deflate_negotiated(),
            };
            let Some((header, header_len)) = decode_header(self.rx.input(), &rules)? else {
                return Ok(Step::NeedMore);
            };
            self.check_sequence(&header)?;
            // Fits in usize: bounded by max_frame_size above.
            let len = header.payload_len as usize;
            let start = self.rx.head() + header_len;
            if self.rx.filled() - start >= len {
                // The whole frame is buffered (the common case for small messages): unmask,
                // validate and take it in one step, without parking it in `frame`.
                let text = self.is_raw_text(&header);
                let payload = self.rx.slice_mut(start, len);
                if let Some(key) = header.mask {
                    apply_mask(payload, key, 0);
                }
                if text && self.recv.utf8.feed(payload).is_err() {
                    return Err(ProtocolError::InvalidUtf8);
                }
                if is_small_message(&header, len) {
                    return self.small(start, len, text);
                }
                let mut frame = self.rx.split(header_len + len);
                frame.advance(header_len);
                return self.complete_frame(header, frame);
            }
            // Only part of the payload is here: it starts at the front of the buffer from
            // now on.
            self.rx.start_partial_frame(start, len);
            self.recv.frame = Some(InFrame { header, len, processed: 0 });
        }
        let Some(header) = self.recv.frame.as_ref().map(|f| f.header) else {
            return Ok(Step::NeedMore);
        };
        let is_text = self.is_raw_text(&header);
        let Some(frame) = self.recv.frame.as_mut() else {
            return Ok(Step::NeedMore);
        };
        let available = self.rx.filled().min(frame.len);
        if available > frame.processed {
            let chunk = &mut self.rx.bytes_mut()[frame.processed..available];
            if let Some(key) = frame.header.mask {
                apply_mask(chunk, key, frame.processed);
            }
            if is_text && self.recv.utf8.feed(chunk).is_err() {
                return Err(ProtocolError::InvalidUtf8);
            }
            frame.processed = available;
        }
        if available < frame.len {
            return Ok(Step::NeedMore);
        }
        let header = frame.header;
        let len = frame.len;
        self.recv.frame = None;
        if is_small_message(&header, len) {
            // The frame's payload starts at `rx[0]`.
            return self.small(0, len, is_text);
        }
        let payload = self.rx.split(len);
        self.complete_frame(header, payload)
    }

    /// A whole small message was unmasked and fed to the validator: hand back where it is.
    fn small(&mut self, start: usize, len: usize, text: bool) -> Result<Step, ProtocolError> {
        self.check_message_end(text)?;
        Ok(Step::Small { start, len, text })
    }

    /// Whether the frame's payload, as received, is text to validate: a text message's
    /// frames, unless compressed (their decompressed output is validated instead).
    fn is_raw_text(&self, header: &FrameHeader) -> bool {
        match header.opcode {
            OpCode::Text => !header.compressed,
            OpCode::Continuation => self.recv.partial.as_ref().is_some_and(|p| p.text && !p.compressed),
            _ => false,
        }
    }

    /// Whether RSV1 may mark compressed messages.
    #[inline]
    fn deflate_negotiated(&self) -> bool {
        #[cfg(feature = "deflate")]
        return self.deflate.is_some();
        #[cfg(not(feature = "deflate"))]
        false
    }

    /// The rules that depend on what came before (§5.4) and the message size limit.
    fn check_sequence(&self, header: &FrameHeader) -> Result<(), ProtocolError> {
        let max = self.config.max_message_size;
        match header.opcode {
            OpCode::Continuation => {
                let Some(partial) = &self.recv.partial else {
                    return Err(ProtocolError::UnexpectedContinuation);
                };
                let size = partial.buf.len() as u64 + header.payload_len;
                // A compressed message is measured as it is decompressed.
                if !partial.compressed && size > max as u64 {
                    return Err(ProtocolError::MessageTooLarge { size, max });
                }
            }
            OpCode::Text | OpCode::Binary => {
                if self.recv.partial.is_some() {
                    return Err(ProtocolError::DataFrameInsideFragmentedMessage);
                }
                if !header.compressed && header.payload_len > max as u64 {
                    return Err(ProtocolError::MessageTooLarge { size: header.payload_len, max });
                }
            }
            OpCode::Close | OpCode::Ping | OpCode::Pong => {}
        }
        Ok(())
    }

    fn complete_frame(&mut self, header: FrameHeader, payload: BytesMut) -> Result<Step, ProtocolError> {
        #[cfg(feature = "deflate")]
        if header.compressed
            || (header.opcode == OpCode::Continuation && self.recv.partial.as_ref().is_some_and(|p| p.compressed))
        {
            return self.inflate_frame(header, &payload);
        }
        match header.opcode {
            OpCode::Text | OpCode::Binary if header.fin => {
                Ok(Step::Event(self.finish_message(header.opcode == OpCode::Text, payload.freeze())?))
            }
            OpCode::Text | OpCode::Binary => {
                self.recv.partial = Some(Partial {
                    text: header.opcode == OpCode::Text,
                    compressed: false,
                    buf: payload,
                    #[cfg(feature = "deflate")]
                    inflated: alloc::vec::Vec::new(),
                });
                Ok(Step::Continue)
            }
            OpCode::Continuation => {
                let Some(partial) = self.recv.partial.as_mut() else {
                    return Err(ProtocolError::UnexpectedContinuation);
                };
                partial.buf.extend_from_slice(&payload);
                if !header.fin {
                    return Ok(Step::Continue);
                }
                let Some(Partial { text, buf, .. }) = self.recv.partial.take() else {
                    return Ok(Step::Continue);
                };
                Ok(Step::Event(self.finish_message(text, buf.freeze())?))
            }
            OpCode::Ping => {
                let payload = payload.freeze();
                if self.config.auto_pong && self.can_send() {
                    self.queue_pong(payload.clone());
                }
                Ok(Step::Event(Event::Message(Message::Ping(payload))))
            }
            OpCode::Pong => Ok(Step::Event(Event::Message(Message::Pong(payload.freeze())))),
            // Ending already (a timeout, a transport failure): that ending stands; the
            // peer's close frame came too late to be answered.
            OpCode::Close if matches!(self.end, End::Pending(_)) => Ok(Step::NeedMore),
            OpCode::Close => {
                let frame = CloseFrame::parse(&payload)?;
                Ok(Step::Event(self.peer_closed(frame)))
            }
        }
    }

    /// A whole frame of a compressed message: decompress it onto the message, bounded by
    /// `max_message_size` as output is produced, validating text as it comes out.
    #[cfg(feature = "deflate")]
    fn inflate_frame(&mut self, header: FrameHeader, payload: &[u8]) -> Result<Step, ProtocolError> {
        use crate::deflate::codec::InflateFault;
        let max = self.config.max_message_size;
        let (text, mut buf) = match header.opcode {
            OpCode::Continuation => match self.recv.partial.take() {
                Some(p) => (p.text, p.inflated),
                None => return Err(ProtocolError::UnexpectedContinuation),
            },
            opcode => (opcode == OpCode::Text, alloc::vec::Vec::new()),
        };
        let Some(state) = self.deflate.as_deref_mut() else {
            return Err(ProtocolError::ReservedBitsSet { bits: 0b100 });
        };
        let before = buf.len();
        let fault = |f| match f {
            InflateFault::Corrupt => ProtocolError::InvalidCompressedData,
            InflateFault::TooLarge { size } => ProtocolError::MessageTooLarge { size: size as u64, max },
        };
        state.decompress(payload, &mut buf, max).map_err(fault)?;
        if header.fin {
            state.finish_message(&mut buf, max).map_err(fault)?;
        }
        if text && self.recv.utf8.feed(&buf[before..]).is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        if header.fin {
            return Ok(Step::Event(self.finish_message(text, Bytes::from(buf))?));
        }
        self.recv.partial = Some(Partial { text, compressed: true, buf: BytesMut::new(), inflated: buf });
        Ok(Step::Continue)
    }

    #[inline]
    fn finish_message(&mut self, text: bool, payload: Bytes) -> Result<Event, ProtocolError> {
        self.check_message_end(text)?;
        Ok(Event::Message(data_message(text, payload)))
    }

    /// A text message must not end inside a UTF-8 sequence.
    #[inline]
    fn check_message_end(&mut self, text: bool) -> Result<(), ProtocolError> {
        if text && self.recv.utf8.finish().is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        Ok(())
    }
}

/// A text (already validated) or binary message.
#[inline]
fn data_message(text: bool, payload: Bytes) -> Message {
    if text {
        Message::Text(Utf8Bytes::from_validated(payload))
    } else {
        Message::Binary(payload)
    }
}

/// A whole uncompressed text or binary message of at most [`SMALL_COPY`] bytes in one
/// frame (`check_sequence` has ruled out an open fragmented message): copied out, not
/// shared.
fn is_small_message(header: &FrameHeader, len: usize) -> bool {
    len <= SMALL_COPY && header.fin && matches!(header.opcode, OpCode::Text | OpCode::Binary) && !header.compressed
}
