//! The deterministic chunker: an xorshift64 sequence turned into chunk sizes, coin flips and
//! mask keys, and a splitter of byte slices. What the chunks are fed into is not decided here.

/// Added to a seed by [`Chunker::mixed`] (the 64-bit golden ratio), so neighbouring small
/// seeds start far apart.
const MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// A deterministic source of chunk sizes and coin flips (xorshift64, shifts 13/7/17): the
/// same seed gives the same sequence on every run and platform, so a failing seed can be
/// replayed.
///
/// Chunk sizes are `1..=max`; a `max` of 0 means "everything at once" ([`next`](Self::next)
/// then returns all that is available and does not advance the sequence).
///
/// ```
/// use tether_testkit::Chunker;
/// let mut a = Chunker::new(42, 5);
/// let mut b = Chunker::new(42, 5);
/// let sizes: Vec<usize> = (0..8).map(|_| a.next(100)).collect();
/// assert!(sizes.iter().all(|&n| (1..=5).contains(&n)));
/// assert_eq!(sizes, (0..8).map(|_| b.next(100)).collect::<Vec<_>>());
/// assert_eq!(Chunker::new(42, 0).next(100), 100);
/// ```
#[derive(Clone, Debug)]
pub struct Chunker {
    state: u64,
    max: usize,
}

impl Chunker {
    /// Chunks of `1..=max` bytes (`max` 0: everything at once); the sequence starts from
    /// `seed` itself (made odd, so seeds 2k and 2k + 1 give the same sequence).
    pub fn new(seed: u64, max: usize) -> Chunker {
        Chunker { state: seed | 1, max }
    }

    /// Like [`new`](Self::new), but the seed is first mixed with a constant (XOR with the
    /// 64-bit golden ratio), so small seeds that differ in one bit do not start in nearly
    /// the same state. The fuzz targets seed their chunkers this way; their corpora depend
    /// on this exact sequence.
    pub fn mixed(seed: u64, max: usize) -> Chunker {
        Chunker::new(seed ^ MIX, max)
    }

    /// The largest chunk this chunker returns (0: everything at once).
    pub fn max(&self) -> usize {
        self.max
    }

    /// The next 64 bits of the sequence.
    pub fn bits(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// The next chunk length: `1..=max`, at most `available` (all of `available` when `max`
    /// is 0, without advancing the sequence). Returns 0 only when `available` is 0.
    pub fn next(&mut self, available: usize) -> usize {
        if self.max == 0 {
            return available;
        }
        (1 + (self.bits() as usize) % self.max).min(available)
    }

    /// A coin flip: true when the next chunk length drawn by `next(usize::MAX)` is even.
    /// An everything-at-once chunker (`max` 0) always gives false and does not advance.
    pub fn coin(&mut self) -> bool {
        self.next(usize::MAX) % 2 == 0
    }

    /// True one time in `n` (always for `n` of 0 or 1); advances the sequence whatever
    /// `max` is.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.bits() % n.max(1) == 0
    }

    /// A mask key: the low four bytes of the next 64 bits (little-endian).
    pub fn mask_key(&mut self) -> [u8; 4] {
        let b = self.bits().to_le_bytes();
        [b[0], b[1], b[2], b[3]]
    }

    /// Split `data` into consecutive chunks of [`next`](Self::next) sizes; their
    /// concatenation is `data`. Empty `data` gives no chunks.
    pub fn split<'a>(&mut self, data: &'a [u8]) -> Vec<&'a [u8]> {
        let mut out = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            let (chunk, tail) = rest.split_at(self.next(rest.len()));
            out.push(chunk);
            rest = tail;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The sequence is part of the corpora's meaning (a seed in a saved input selects it):
    // pin its first values so a change to the generator cannot go unnoticed.
    #[test]
    fn the_sequence_is_pinned() {
        let mut c = Chunker::new(1, 0);
        assert_eq!(
            [c.bits(), c.bits(), c.bits()],
            [0x0000_0000_4082_2041, 0x1000_4106_0C01_1441, 0x9B1E_842F_6E86_2629]
        );
        let mut c = Chunker::mixed(0, 0);
        let mut d = Chunker::new(MIX, 0);
        assert_eq!(c.bits(), d.bits());
    }

    #[test]
    fn sizes_stay_in_range_and_max_zero_takes_all() {
        for max in [1, 2, 7, 300] {
            let mut c = Chunker::new(9, max);
            for _ in 0..1000 {
                let n = c.next(1 << 20);
                assert!((1..=max).contains(&n), "{n} with max {max}");
            }
            assert_eq!(c.next(0), 0);
            assert_eq!(c.next(1), 1);
        }
        let mut all = Chunker::new(9, 0);
        let before = all.clone().bits();
        assert_eq!(all.next(12345), 12345);
        assert!(!all.coin());
        assert_eq!(all.bits(), before, "max 0 does not advance the sequence");
    }

    #[test]
    fn coins_and_one_in_come_up_both_ways() {
        let mut c = Chunker::new(3, 64);
        let heads = (0..1000).filter(|_| c.coin()).count();
        assert!((350..650).contains(&heads), "{heads} heads in 1000");
        let ones = (0..4000).filter(|_| c.one_in(4)).count();
        assert!((800..1200).contains(&ones), "{ones} of 4000 for one_in(4)");
        assert!((0..10).all(|_| c.one_in(1) && c.one_in(0)));
    }

    #[test]
    fn split_covers_the_input() {
        let data: Vec<u8> = (0..=255).collect();
        for max in [0, 1, 3, 17, 1000] {
            let chunks = Chunker::new(5, max).split(&data);
            assert_eq!(chunks.concat(), data);
            assert!(chunks.iter().all(|c| !c.is_empty() && (max == 0 || c.len() <= max)));
        }
        assert!(Chunker::new(5, 3).split(&[]).is_empty());
        assert_eq!(Chunker::new(5, 0).split(&data).len(), 1);
    }

    #[test]
    fn mask_keys_differ() {
        let mut c = Chunker::new(0x9e37_79b9, 0);
        let (a, b) = (c.mask_key(), c.mask_key());
        assert_ne!(a, b);
    }
}
