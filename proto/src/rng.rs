//! Entropy for mask keys and handshake keys: the `Rng` trait, the OS-backed default and a
//! seeded generator for reproducible tests. Nothing here decides when keys are drawn.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use chacha20::rand_core::{Rng as _, SeedableRng as _};
use chacha20::ChaCha12Rng;

/// A source of random bytes for frame mask keys (RFC 6455 §5.3, §10.3) and
/// `Sec-WebSocket-Key` values (§4.1).
///
/// Implementations are shared between connections through an `Arc` in [`Config`], so
/// they take `&self`. The default, [`OsRng`], reads the operating system's CSPRNG.
///
/// [`Config`]: crate::Config
pub trait Rng: Send + Sync {
    /// Fill `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]);
}

/// The operating system's CSPRNG (through `getrandom`). The default [`Rng`].
///
/// A client connection draws a 32-byte seed from it and masks with a ChaCha12 key stream
/// of its own (reseeded every 16 384 frames), so masking a frame does not cost a system
/// call.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRng;

impl Rng for OsRng {
    fn fill(&self, dest: &mut [u8]) {
        if getrandom::fill(dest).is_err() {
            // The OS refused entropy (this does not happen on supported platforms). Mask keys
            // must not become predictable silently, and there is no caller to return to from
            // a mask-key draw, so this is the one deliberate abort in the engine.
            panic!("tether-proto: the operating system's random number generator failed");
        }
    }
}

/// A deterministic generator (SplitMix64) for tests and reproducible fuzzing.
///
/// **Not for production**: its output is predictable, which defeats the purpose of masking
/// (RFC 6455 §10.3).
///
/// ```
/// use tether_proto::{Rng, SeededRng};
/// let (a, b) = (SeededRng::new(7), SeededRng::new(7));
/// let (mut x, mut y) = ([0u8; 8], [0u8; 8]);
/// a.fill(&mut x);
/// b.fill(&mut y);
/// assert_eq!(x, y);
/// ```
#[derive(Debug)]
pub struct SeededRng {
    state: AtomicU64,
}

impl SeededRng {
    /// A generator whose output depends only on `seed`.
    pub fn new(seed: u64) -> Self {
        SeededRng { state: AtomicU64::new(seed) }
    }

    fn next_u64(&self) -> u64 {
        let mut z = self.state.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Rng for SeededRng {
    fn fill(&self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// The shared handle stored in `Config`.
#[derive(Clone)]
pub(crate) struct SharedRng(pub(crate) Arc<dyn Rng>);

impl fmt::Debug for SharedRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Rng")
    }
}

/// How many mask keys a connection draws from one seed before it reseeds from the
/// shared [`Rng`]: 64 KiB of key stream, the reseeding interval of `rand`'s `ThreadRng`.
const KEYS_PER_SEED: u32 = 16 * 1024;

/// A connection's mask keys: a ChaCha12 key stream seeded from the configured [`Rng`]
/// (the construction of `rand`'s `ThreadRng` and `StdRng`), reseeded every
/// [`KEYS_PER_SEED`] keys.
///
/// Drawing 64 bytes from the OS per 16 frames (the previous design) cost one `getrandom`
/// system call per 16 frames, which dominated the cost of encoding a small client frame
/// (figures in [the manual](crate::manual::performance#send-path-and-transmit-queue)).
/// The stream is boxed on first use, so a server connection, which never masks,
/// carries one empty pointer.
#[derive(Default)]
pub(crate) struct KeyCache {
    stream: Option<Box<KeyStream>>,
}

struct KeyStream {
    chacha: ChaCha12Rng,
    left: u32,
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.write_str("KeyCache")
    }
}

impl KeyCache {
    /// Four fresh random bytes: a frame's mask key.
    #[inline]
    pub(crate) fn mask_key(&mut self, rng: &dyn Rng) -> [u8; 4] {
        let stream = match &mut self.stream {
            Some(stream) if stream.left > 0 => stream,
            _ => self.reseed(rng),
        };
        stream.left -= 1;
        stream.chacha.next_u32().to_le_bytes()
    }

    /// Whether a key stream was ever needed (a client that has masked a frame).
    #[cfg(test)]
    pub(crate) fn is_seeded(&self) -> bool {
        self.stream.is_some()
    }

    #[cold]
    fn reseed(&mut self, rng: &dyn Rng) -> &mut KeyStream {
        let mut seed = [0u8; 32];
        rng.fill(&mut seed);
        let chacha = ChaCha12Rng::from_seed(seed);
        // The seed is the stream's key: do not leave a copy behind on the stack.
        seed.fill(0);
        core::hint::black_box(&seed);
        let fresh = KeyStream { chacha, left: KEYS_PER_SEED };
        match &mut self.stream {
            Some(stream) => {
                **stream = fresh;
                stream
            }
            none => none.insert(Box::new(fresh)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn mask_keys_follow_the_configured_rng_and_reseed_from_it() {
        let draws = |seed| {
            let rng = SeededRng::new(seed);
            let mut cache = KeyCache::default();
            (0..KEYS_PER_SEED as usize + 2).map(|_| cache.mask_key(&rng)).collect::<Vec<_>>()
        };
        let (a, b, c) = (draws(1), draws(1), draws(2));
        assert_eq!(a, b, "the same seed gives the same keys");
        assert_ne!(a[..64], c[..64], "another seed gives other keys");

        // The stream is reseeded from the shared Rng after KEYS_PER_SEED keys: the keys after
        // that point are those of a fresh stream seeded with the Rng's next 32 bytes.
        let rng = SeededRng::new(1);
        let mut first = [0u8; 32];
        rng.fill(&mut first);
        let mut second = [0u8; 32];
        rng.fill(&mut second);
        let mut fresh = ChaCha12Rng::from_seed(second);
        let expected = [fresh.next_u32().to_le_bytes(), fresh.next_u32().to_le_bytes()];
        assert_eq!(a[KEYS_PER_SEED as usize..], expected);
        let mut original = ChaCha12Rng::from_seed(first);
        assert_eq!(a[0], original.next_u32().to_le_bytes());
    }

    #[test]
    fn an_unused_key_cache_is_one_pointer() {
        assert_eq!(core::mem::size_of::<KeyCache>(), core::mem::size_of::<usize>());
    }
}
