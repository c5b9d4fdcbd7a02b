//! Payload masking (RFC 6455 §5.3): XOR with a 4-byte key, word-wide, in safe code. Which
//! key to use and when is decided by the connection, not here.

// Public only through `internals` (the benchmarks and fuzz targets).
#![cfg_attr(not(feature = "internals"), allow(unreachable_pub))]

/// XOR `buf` with `key`, as if `buf` started `phase` bytes into the masked payload.
///
/// Masking and unmasking are the same operation. `phase` lets a payload be processed in
/// pieces: pass the number of payload bytes already processed.
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], phase: usize) {
    // The key as a little-endian word, rotated so byte 0 is the key byte for `buf[0]`.
    let key32 = u32::from_le_bytes(key).rotate_right(8 * (phase & 3) as u32);
    let word = u64::from(key32) | (u64::from(key32) << 32);
    let mut tail = buf;
    if tail.len() >= 32 {
        // 32-byte blocks of four u64 lanes: the compiler turns this into vector XORs.
        let mut blocks = tail.chunks_exact_mut(32);
        for block in &mut blocks {
            for lane in block.chunks_exact_mut(8) {
                xor_lane(lane, word);
            }
        }
        tail = blocks.into_remainder();
    }
    // Small payloads and the tail: u64 lanes, then at most 7 bytes. Every step is a
    // multiple of 4 bytes, so the key phase is unchanged throughout.
    let mut lanes = tail.chunks_exact_mut(8);
    for lane in &mut lanes {
        xor_lane(lane, word);
    }
    let mut k = word;
    for b in lanes.into_remainder() {
        *b ^= k as u8;
        k >>= 8;
    }
}

#[inline(always)]
fn xor_lane(lane: &mut [u8], word: u64) {
    let mut w = [0u8; 8];
    w.copy_from_slice(lane);
    lane.copy_from_slice(&(u64::from_le_bytes(w) ^ word).to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    // Masking a payload in pieces, each with its phase, equals masking it whole.
    #[test]
    fn pieces_with_their_phase_mask_like_the_whole() {
        let key = [1, 2, 3, 4];
        let mut whole = *b"hello world";
        apply_mask(&mut whole, key, 0);
        let mut split = *b"hello world";
        let (a, b) = split.split_at_mut(3);
        apply_mask(a, key, 0);
        apply_mask(b, key, 3);
        assert_eq!(whole, split);
    }
    use alloc::vec::Vec;

    fn naive(buf: &mut [u8], key: [u8; 4], phase: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(i + phase) % 4];
        }
    }

    // RFC 6455 §5.3: the word-wide loop equals the byte-wise definition at every length,
    // phase and alignment.
    #[test]
    fn matches_bytewise_definition_rfc6455_5_3() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for start in 0..8 {
            for len in 0..200 {
                for phase in 0..4 {
                    let mut a = data[start..start + len].to_vec();
                    let mut b = a.clone();
                    apply_mask(&mut a, key, phase);
                    naive(&mut b, key, phase);
                    assert_eq!(a, b, "start {start} len {len} phase {phase}");
                }
            }
        }
    }

    // The example of §5.7: "Hello" masked with 37 fa 21 3d.
    #[test]
    fn rfc6455_5_7_example() {
        let mut p = *b"Hello";
        apply_mask(&mut p, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(p, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }
}
