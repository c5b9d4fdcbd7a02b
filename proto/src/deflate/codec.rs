//! The compressor and decompressor of one permessage-deflate connection (RFC 7692 §7.2),
//! over zlib-rs's raw DEFLATE streams: allocated when first needed, freed after each
//! message when its side has no context takeover; decompression bounded by an output
//! limit enforced as output is produced. Negotiation lives in `mod.rs`, RSV1 and message
//! assembly in the connection.

use alloc::vec::Vec;

use zlib_rs::{Deflate, DeflateFlush, Inflate, InflateFlush, Status};

use super::{DeflateConfig, DeflateParams, MIN_WINDOW_BITS};

/// The four bytes every sync-flushed message ends with, removed by the sender and put
/// back by the receiver (§7.2.1, §7.2.2).
pub(crate) const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Output grows by at most this much per decompression step (and by at least
/// `MIN_STEP`), never past the message limit.
const MAX_STEP: usize = 256 << 10;
const MIN_STEP: usize = 4 << 10;
/// How many times its input a frame's first decompression step makes room for.
const EXPANSION_GUESS: usize = 8;

/// Why decompression stopped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum InflateFault {
    /// Not valid DEFLATE data.
    Corrupt,
    /// The output would exceed the limit; `size` is what was produced (at most limit + 1).
    TooLarge { size: usize },
}

/// One connection's permessage-deflate state.
pub(crate) struct DeflateState {
    pub(crate) params: DeflateParams,
    level: u8,
    memory_level: u8,
    pub(crate) min_size: usize,
    /// Free a kept compressor after this long unused (the connection's timer).
    pub(crate) release_idle_compressor: Option<core::time::Duration>,
    compressor: Option<Deflate>,
    decompressor: Option<Inflate>,
    /// The peer ended its DEFLATE stream (a block with BFINAL set) inside this message: the
    /// rest of the message's input is ignored (RFC 7692 §7.2.3.4 puts a stored-block header
    /// after the final block, so that the tail decompresses "in the same manner"), and the
    /// decompressor starts over afterwards.
    stream_ended: bool,
}

impl core::fmt::Debug for DeflateState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DeflateState")
            .field("params", &self.params)
            .field("compressor", &self.compressor.is_some())
            .field("decompressor", &self.decompressor.is_some())
            .finish_non_exhaustive()
    }
}

impl DeflateState {
    pub(crate) fn new(params: DeflateParams, config: &DeflateConfig) -> Self {
        DeflateState {
            params,
            level: config.level,
            memory_level: config.memory_level,
            min_size: config.min_size,
            release_idle_compressor: config.get_release_idle_compressor(),
            compressor: None,
            decompressor: None,
            stream_ended: false,
        }
    }

    /// Whether a compressor is kept between messages now (so that an idle release has
    /// something to free).
    pub(crate) fn holds_compressor(&self) -> bool {
        self.compressor.is_some()
    }

    /// Free the compressor (kept with context takeover); the next message starts afresh.
    pub(crate) fn release_compressor(&mut self) {
        self.compressor = None;
    }

    /// Whether a compressor / decompressor is allocated now (for tests of their lifetime).
    #[cfg(test)]
    pub(crate) fn allocated(&self) -> (bool, bool) {
        (self.compressor.is_some(), self.decompressor.is_some())
    }

    /// Compress one whole message: DEFLATE with a sync flush, the trailing
    /// `00 00 ff ff` removed (§7.2.1). `None` if zlib failed (the message is then sent
    /// uncompressed, which is always allowed, and the compressor starts over).
    pub(crate) fn compress(&mut self, input: &[u8]) -> Option<Vec<u8>> {
        let bits = self.params.window_bits.max(MIN_WINDOW_BITS);
        let (level, memory_level) = (i32::from(self.level), i32::from(self.memory_level));
        let compressor = self.compressor.get_or_insert_with(|| {
            Deflate::new_with_config(zlib_rs::DeflateConfig {
                level,
                window_bits: -i32::from(bits),
                mem_level: memory_level,
                ..zlib_rs::DeflateConfig::default()
            })
        });
        let mut out = Vec::new();
        let mut rest = input;
        let ok = loop {
            let len = out.len();
            let room = (rest.len() / 2 + 64).max(len / 2).max(64);
            out.resize(len + room, 0);
            let (in0, out0) = (compressor.total_in(), compressor.total_out());
            let result = compressor.compress(rest, &mut out[len..], DeflateFlush::SyncFlush);
            let used = (compressor.total_in() - in0) as usize;
            let produced = (compressor.total_out() - out0) as usize;
            out.truncate(len + produced);
            rest = &rest[used..];
            match result {
                Err(_) => break false,
                // All input taken and room left over: the flush is complete.
                Ok(_) if rest.is_empty() && produced < room => break true,
                Ok(Status::BufError) if used == 0 && produced == 0 => break false,
                Ok(_) => {}
            }
        };
        if !ok {
            self.compressor = None;
            return None;
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        // zlib writes nothing for a second flush with no new input, and an empty payload
        // would make the receiver read its appended tail as the start of a stored block.
        // One 0x00 (RFC 7692 §7.2.3.6) is, with the tail, an empty stored block: on our
        // byte-aligned stream it changes neither side's state.
        if out.is_empty() {
            out.push(0x00);
        }
        if self.params.no_context_takeover {
            self.compressor = None;
        }
        Some(out)
    }

    /// Decompress `input` (part of a compressed message) onto `out`, which may grow to
    /// `max` bytes and not beyond: its capacity never exceeds `max + 1` bytes (the byte
    /// that proves the limit crossed). A `Vec`, grown here with exact reservations: the
    /// amortised doubling of `Vec::reserve` (and of `BytesMut`) could allocate up to twice
    /// the limit.
    pub(crate) fn decompress(&mut self, mut input: &[u8], out: &mut Vec<u8>, max: usize) -> Result<(), InflateFault> {
        if self.stream_ended {
            return Ok(());
        }
        let bits = self.params.peer_window_bits.max(MIN_WINDOW_BITS);
        let inflater = self.decompressor.get_or_insert_with(|| Inflate::new(false, bits));
        // The first step guesses the output from the input (text and JSON inflate several
        // times over), so a typical frame inflates in one or two calls; later steps double.
        let mut guess = Some(input.len().saturating_mul(EXPANSION_GUESS));
        loop {
            let len = out.len();
            let want = guess.take().unwrap_or(len);
            let room = want.clamp(MIN_STEP, MAX_STEP).min((max + 1).saturating_sub(len));
            if room == 0 {
                return Err(InflateFault::TooLarge { size: len });
            }
            if out.capacity() < len + room {
                // Doubling (for amortised growth), capped at the limit.
                let target = out.capacity().saturating_mul(2).max(len + room).min(max + 1);
                out.reserve_exact(target - len);
            }
            out.resize(len + room, 0);
            let (in0, out0) = (inflater.total_in(), inflater.total_out());
            let result = inflater.decompress(input, &mut out[len..], InflateFlush::SyncFlush);
            let used = (inflater.total_in() - in0) as usize;
            let produced = (inflater.total_out() - out0) as usize;
            out.truncate(len + produced);
            input = &input[used..];
            if out.len() > max {
                return Err(InflateFault::TooLarge { size: out.len() });
            }
            match result {
                Err(_) => return Err(InflateFault::Corrupt),
                Ok(Status::StreamEnd) => {
                    self.stream_ended = true;
                    return Ok(());
                }
                Ok(_) if input.is_empty() && produced < room => return Ok(()),
                Ok(_) if used == 0 && produced == 0 => {
                    return if input.is_empty() { Ok(()) } else { Err(InflateFault::Corrupt) };
                }
                Ok(_) => {}
            }
        }
    }

    /// The last frame of a compressed message arrived: append the tail (§7.2.2), and free
    /// the decompressor if the peer takes no context over (or ended its stream).
    pub(crate) fn finish_message(&mut self, out: &mut Vec<u8>, max: usize) -> Result<(), InflateFault> {
        let result = if self.stream_ended { Ok(()) } else { self.decompress(&TAIL, out, max) };
        if self.stream_ended || self.params.peer_no_context_takeover {
            self.decompressor = None;
            self.stream_ended = false;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hostile peers H1: however output grows, the buffer never reserves past the limit + 1
    // (an amortised doubling would reach up to twice the limit).
    #[test]
    fn decompression_never_reserves_past_the_limit() {
        let params = DeflateParams {
            window_bits: 15,
            peer_window_bits: 15,
            no_context_takeover: false,
            peer_no_context_takeover: false,
        };
        let mut sender = DeflateState::new(params, &DeflateConfig::default());
        let bomb = sender.compress(&alloc::vec![0u8; 2 << 20]).unwrap();
        for max in [1, 1000, 4096, 100_000, 600_000, (1 << 20) - 1, 1 << 20] {
            let mut receiver = DeflateState::new(params, &DeflateConfig::default());
            let mut out = Vec::new();
            let result = receiver.decompress(&bomb, &mut out, max);
            assert_eq!(result, Err(InflateFault::TooLarge { size: max + 1 }), "max {max}");
            assert!(out.capacity() <= max + 1, "max {max}: capacity {}", out.capacity());
        }
        // Under the limit: all of it, and the capacity still bounded.
        let mut receiver = DeflateState::new(params, &DeflateConfig::default());
        let mut out = Vec::new();
        receiver.decompress(&bomb, &mut out, 3 << 20).unwrap();
        receiver.finish_message(&mut out, 3 << 20).unwrap();
        assert_eq!(out.len(), 2 << 20);
        assert!(out.capacity() <= (3 << 20) + 1);
    }
}
