//! Incremental UTF-8 validation for text messages that arrive in pieces (RFC 6455 §8.1):
//! fails as soon as a prefix can no longer become valid, not at the end of the message.

// Public only through `internals` (the benchmarks and fuzz targets).
#![cfg_attr(not(feature = "internals"), allow(unreachable_pub))]

use simdutf8::compat::from_utf8;

/// A streaming UTF-8 validator. Feed it the pieces of a text message in order; it fails
/// as soon as the bytes seen so far cannot be the start of valid UTF-8 (Autobahn 6.4.x
/// "fail fast"), and [`finish`](Utf8Validator::finish) fails on a truncated last character.
#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    /// Bytes of a character split across pieces (at most 3).
    partial: [u8; 4],
    partial_len: u8,
}

/// The input is not, and can no longer become, valid UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Utf8Validator { partial: [0; 4], partial_len: 0 }
    }

    /// Validate the next piece.
    ///
    /// # Errors
    /// When the bytes seen so far cannot be a prefix of valid UTF-8.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), InvalidUtf8> {
        if self.partial_len > 0 {
            let have = self.partial_len as usize;
            let need = char_width(self.partial[0]);
            let take = (need - have).min(input.len());
            self.partial[have..have + take].copy_from_slice(&input[..take]);
            let total = have + take;
            match from_utf8(&self.partial[..total]) {
                Ok(_) => {}
                Err(e) if e.error_len().is_none() => {}
                Err(_) => return Err(InvalidUtf8),
            }
            if total < need {
                self.partial_len = total as u8;
                return Ok(());
            }
            self.partial_len = 0;
            input = &input[take..];
        }
        match from_utf8(input) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = &input[e.valid_up_to()..];
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// The message ended: fail if it stopped inside a character.
    ///
    /// # Errors
    /// When the last character is truncated.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.partial_len == 0;
        *self = Utf8Validator::new();
        if complete {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }
}

impl core::fmt::Display for InvalidUtf8 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("invalid UTF-8")
    }
}

impl core::error::Error for InvalidUtf8 {}

fn char_width(first: u8) -> usize {
    match first {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A character split across pieces is fine; a surrogate fails at once (fail fast).
    #[test]
    fn split_characters_pass_and_surrogates_fail_at_once() {
        let mut v = Utf8Validator::new();
        assert!(v.feed(b"caf\xc3").is_ok());
        assert!(v.feed(b"\xa9").is_ok());
        assert!(v.finish().is_ok());
        assert!(Utf8Validator::new().feed(b"\xed\xa0\x80").is_err());
    }
    use alloc::vec;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn chunked(data: &[u8], cuts: &[usize]) -> bool {
        let mut v = Utf8Validator::new();
        let mut pos = 0;
        for &c in cuts {
            let end = (pos + c).min(data.len());
            if v.feed(&data[pos..end]).is_err() {
                return false;
            }
            pos = end;
        }
        v.feed(&data[pos..]).is_ok() && v.finish().is_ok()
    }

    // Hostile peers F1 (see the manual), §8.1: surrogates, overlongs and code points above
    // U+10FFFF fail.
    #[test]
    fn rejects_invalid_sequences_rfc6455_8_1() {
        for bad in [&b"\xce\xba\xe1\xbd\xb9\xcf\x83\xed\xa0\x80"[..], b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xff"] {
            assert!(Utf8Validator::new().feed(bad).is_err(), "{bad:?}");
        }
    }

    // Hostile peers F2: a 4-byte code point split across pieces is accepted.
    #[test]
    fn accepts_split_code_point() {
        let mut v = Utf8Validator::new();
        v.feed(b"\xf0\x9f").unwrap();
        v.feed(b"\x98").unwrap();
        v.feed(b"\x80").unwrap();
        v.finish().unwrap();
    }

    // Hostile peers F3: the verdict comes as soon as the prefix is impossible.
    #[test]
    fn fails_fast_on_impossible_prefix() {
        let mut v = Utf8Validator::new();
        v.feed(b"ok \xf4").unwrap();
        assert!(v.feed(b"\x90").is_err(), "F4 90 is above U+10FFFF already");
        let mut v = Utf8Validator::new();
        v.feed(b"\xed").unwrap();
        assert!(v.feed(b"\xa0").is_err(), "ED A0 starts a surrogate");
    }

    // Hostile peers F4: a message ending inside a character fails at finish.
    #[test]
    fn truncated_end_fails() {
        let mut v = Utf8Validator::new();
        v.feed(b"\xe2\x82").unwrap();
        assert!(v.finish().is_err());
    }

    /// The shortest prefix of `data` that can no longer become valid UTF-8 (`None` if every
    /// prefix can): where a fail-fast validator must fail. Impossibility is monotone in the
    /// prefix length, so a binary search finds it.
    fn impossible_from(data: &[u8]) -> Option<usize> {
        let impossible = |n: usize| matches!(core::str::from_utf8(&data[..n]), Err(e) if e.error_len().is_some());
        if !impossible(data.len()) {
            return None;
        }
        let (mut lo, mut hi) = (0, data.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if impossible(mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Some(lo)
    }

    /// Feeds `data` cut at `cuts` (increasing offsets); the seen length at the first
    /// failure, or `Ok` with the finish verdict.
    fn failure_point(data: &[u8], cuts: &[usize]) -> Result<bool, usize> {
        let mut v = Utf8Validator::new();
        let mut pos = 0;
        for end in cuts.iter().copied().chain([data.len()]) {
            v.feed(&data[pos..end]).map_err(|_| end)?;
            pos = end;
        }
        Ok(v.finish().is_ok())
    }

    /// Text of mixed widths (1 to 4 bytes per character), deterministic per seed, at least
    /// `len` bytes long, cut to exactly `len` at a character boundary.
    fn mixed_text(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        let mut out = Vec::with_capacity(len + 4);
        while out.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let c = ['a', 'é', '€', '😀', 'z', 'ß', '中', '𝄞'][(x % 8) as usize];
            let mut buf = [0; 4];
            if out.len() + c.len_utf8() > len {
                out.resize(len, b'-');
                break;
            }
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        out
    }

    const BAD: [&[u8]; 6] = [b"\xff", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xe2\x82A", b"\x80"];

    /// Positions around the vector kernel's block boundaries (16, 32 and 64 bytes).
    fn boundaries(len: usize) -> impl Iterator<Item = usize> {
        [0, 1, 15, 16, 17, 31, 32, 33, 62, 63, 64, 65, 127, 128, 1023, 1024, 4093, 4095]
            .into_iter()
            .chain([len.saturating_sub(2), len.saturating_sub(1)])
            .filter(move |&p| p < len)
    }

    // Hostile peers F5, on the inputs the vector path takes (64 bytes and more): the verdict
    // equals std's at every alignment of the input in memory, with invalid bytes planted at
    // the kernel's block boundaries.
    #[test]
    fn differential_long_inputs_at_every_alignment() {
        let mut backing = vec![0u8; 4096 + 64 + 8];
        for len in [64, 65, 100, 128, 192, 255, 256, 511, 1024, 4096] {
            let text = mixed_text(len, len as u64);
            for offset in 0..64 {
                let mut check = |data: &[u8]| {
                    backing[offset..offset + data.len()].copy_from_slice(data);
                    let slice = &backing[offset..offset + data.len()];
                    let mut v = Utf8Validator::new();
                    let got = v.feed(slice).is_ok() && v.finish().is_ok();
                    assert_eq!(got, core::str::from_utf8(slice).is_ok(), "len {len} offset {offset}");
                };
                check(&text);
                for at in boundaries(len) {
                    for bad in BAD {
                        let mut data = text.clone();
                        let end = (at + bad.len()).min(len);
                        data[at..end].copy_from_slice(&bad[..end - at]);
                        check(&data);
                    }
                }
            }
        }
    }

    // Hostile peers F3 + F5 on long inputs: for every two-piece split (and three-piece splits
    // around the planted fault), the validator fails exactly at the piece that makes the
    // prefix impossible — not earlier, not later — and accepts valid text split anywhere.
    #[test]
    fn long_inputs_fail_fast_at_every_split() {
        for len in [64, 130, 300, 4096] {
            let text = mixed_text(len, 7 + len as u64);
            // Valid text, split at every byte (inside characters too).
            let step = if len > 1000 { 7 } else { 1 };
            for cut in (0..=len).step_by(step) {
                assert_eq!(failure_point(&text, &[cut]), Ok(true), "len {len} cut {cut}");
            }
            if len > 1000 {
                continue;
            }
            for at in boundaries(len) {
                for bad in BAD {
                    let mut data = text.clone();
                    let end = (at + bad.len()).min(len);
                    data[at..end].copy_from_slice(&bad[..end - at]);
                    let fail_at = impossible_from(&data);
                    let expected = |cuts: &[usize]| match fail_at {
                        // The first piece whose end reaches the impossible prefix.
                        Some(n) => Err(cuts.iter().copied().chain([len]).find(|&end| end >= n).unwrap()),
                        None => Ok(core::str::from_utf8(&data).is_ok()),
                    };
                    for cut in 0..=len {
                        assert_eq!(failure_point(&data, &[cut]), expected(&[cut]), "len {len} at {at} cut {cut}");
                    }
                    for a in at.saturating_sub(3)..(at + 5).min(len) {
                        for b in a..(a + 4).min(len) {
                            assert_eq!(
                                failure_point(&data, &[a, b]),
                                expected(&[a, b]),
                                "len {len} at {at} cuts {a},{b}"
                            );
                        }
                    }
                }
            }
        }
    }

    proptest! {
        // Hostile peers F5: the streaming verdict equals std's, for any input and any cuts.
        #[test]
        fn differential_against_std(data in proptest::collection::vec(any::<u8>(), 0..64),
                                    cuts in proptest::collection::vec(0usize..8, 0..16)) {
            prop_assert_eq!(chunked(&data, &cuts), core::str::from_utf8(&data).is_ok());
        }

        #[test]
        fn differential_on_valid_text(s in "\\PC*", cuts in proptest::collection::vec(0usize..5, 0..16)) {
            let data: Vec<u8> = s.into_bytes();
            prop_assert!(chunked(&data, &cuts));
        }

        // Hostile peers F3 + F5 where the vector path runs: 64-4096 bytes of mixed-width text
        // at any of 64 alignments in memory, an invalid sequence planted at (or straddling) a
        // block boundary or anywhere, fed in random pieces. The verdict equals std's, and a
        // failure comes exactly at the first piece that makes the prefix impossible.
        #[test]
        fn differential_long_inputs_chunked_at_any_alignment(
            len in 64usize..=4096,
            seed in any::<u64>(),
            offset in 0usize..64,
            plant in proptest::option::of((0usize..20, 0usize..BAD.len(), any::<u16>())),
            pieces in proptest::collection::vec(1usize..700, 0..24),
            split_plant in 0usize..4,
        ) {
            let mut data = mixed_text(len, seed);
            let mut planted = None;
            if let Some((which, bad, anywhere)) = plant {
                // One of the block boundaries, or (for the last few choices) any position.
                let at = boundaries(len).nth(which).unwrap_or(anywhere as usize % len);
                let bad = BAD[bad];
                let end = (at + bad.len()).min(len);
                data[at..end].copy_from_slice(&bad[..end - at]);
                planted = Some(at);
            }
            let mut backing = vec![0u8; 4096 + 64];
            backing[offset..offset + len].copy_from_slice(&data);
            let slice = &backing[offset..offset + len];
            let mut cuts = Vec::new();
            let mut at = 0;
            for piece in pieces {
                at += piece;
                if at >= len {
                    break;
                }
                cuts.push(at);
            }
            // Often also cut inside the planted sequence (a character split across pieces).
            if let (Some(at), 1..) = (planted, split_plant) {
                if at + split_plant < len {
                    cuts.push(at + split_plant);
                    cuts.sort_unstable();
                    cuts.dedup();
                }
            }
            let expected = match impossible_from(slice) {
                Some(n) => Err(cuts.iter().copied().chain([len]).find(|&end| end >= n).unwrap()),
                None => Ok(core::str::from_utf8(slice).is_ok()),
            };
            prop_assert_eq!(failure_point(slice, &cuts), expected);
        }
    }
}
