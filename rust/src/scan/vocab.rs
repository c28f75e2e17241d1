//! The vocabulary: every distinct token of the compiled phrases, interned to a dense id.

use rustc_hash::FxHashMap;

use super::bits::{match_slots, LOWERS, SLOTS};
use super::normalize::LOWER;

/// The first `n` (≤ 8) bytes of `s` as a little-endian word, zero padded.
#[inline]
pub(super) fn load_prefix(s: &[u8], n: usize) -> u64 {
    let mut w = [0u8; 8];
    w[..n].copy_from_slice(&s[..n]);
    u64::from_le_bytes(w)
}

/// Tokens of up to this many bytes are keyed by one machine word.
pub(super) const SHORT: usize = 7;

/// The key of a short normalised token: its bytes, with its length in the top byte (which
/// the bytes never reach), so distinct tokens have distinct keys and no key is 0.
#[inline]
pub(super) fn short_key(word: u64, n: usize) -> u64 {
    word | (n as u64) << 56
}

/// One cache line: four keys compared without branches, their ids, then `UNKNOWN` for
/// "none of them".
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
pub(super) struct Bucket {
    keys: [u64; SLOTS],
    ids: [u32; SLOTS + 1],
    /// a key hashed to this bucket was stored further on: keep probing
    overflow: bool,
}

impl Default for Bucket {
    fn default() -> Self {
        Bucket {
            keys: [0; SLOTS],
            ids: [UNKNOWN; SLOTS + 1],
            overflow: false,
        }
    }
}

/// The interned tokens of all phrases. Short tokens live in a bucketed hash table keyed by
/// `short_key`, so a short ASCII token is looked up from one masked load of the text, with
/// no copy and no branch on hit or miss; longer tokens, rare in text, go to a hash map.
#[derive(Debug)]
pub(super) struct Vocab {
    buckets: Vec<Bucket>,
    shift: u32,
    long: FxHashMap<Box<[u8]>, u32>,
    len: usize,
    max_len: usize,
}

/// Vocabulary id of every token outside the vocabulary.
pub(super) const UNKNOWN: u32 = u32::MAX;

impl Vocab {
    pub(super) fn new(tokens: &[&[u8]]) -> Vocab {
        let n_short = tokens.iter().filter(|t| t.len() <= SHORT).count();
        let n_buckets = n_short.next_power_of_two().max(4);
        let mut v = Vocab {
            buckets: vec![Bucket::default(); n_buckets],
            shift: 64 - n_buckets.trailing_zeros(),
            long: FxHashMap::default(),
            len: tokens.len(),
            max_len: tokens.iter().map(|t| t.len()).max().unwrap_or(0),
        };
        for (id, t) in tokens.iter().enumerate() {
            if t.len() > SHORT {
                v.long.insert((*t).into(), id as u32);
                continue;
            }
            let key = short_key(load_prefix(t, t.len()), t.len());
            let mut b = v.bucket_of(key);
            loop {
                let bk = &mut v.buckets[b];
                if let Some(k) = bk.keys.iter().position(|&x| x == 0) {
                    bk.keys[k] = key;
                    bk.ids[k] = id as u32;
                    break;
                }
                bk.overflow = true;
                b = (b + 1) & (n_buckets - 1);
            }
        }
        v
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    pub(super) fn bucket_of(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// Id of a short token's key.
    #[inline(always)]
    pub(super) fn find_short(&self, key: u64) -> u32 {
        let b = self.bucket_of(key);
        debug_assert!(b < self.buckets.len());
        // SAFETY: `bucket_of` keeps the top `log2(buckets.len())` bits of a 64-bit product
        let bk = unsafe { self.buckets.get_unchecked(b) };
        // hit or miss is data-dependent and would be mispredicted about half the time
        let found = match_slots(&bk.keys, key);
        if ((found == 0) as u32 & bk.overflow as u32) != 0 {
            return self.probe_further(b, key);
        }
        // SAFETY: the index is at most SLOTS and `ids` has SLOTS + 1 entries
        unsafe {
            *bk.ids
                .get_unchecked(found.trailing_zeros().min(SLOTS as u32) as usize)
        }
    }

    #[cold]
    pub(super) fn probe_further(&self, mut b: usize, key: u64) -> u32 {
        loop {
            b = (b + 1) & (self.buckets.len() - 1);
            let bk = &self.buckets[b];
            if let Some(k) = bk.keys.iter().position(|&x| x == key) {
                return bk.ids[k];
            }
            if !bk.overflow {
                return UNKNOWN;
            }
        }
    }

    /// Id of a normalised token, `UNKNOWN` when it is in no phrase.
    #[inline]
    pub(super) fn find(&self, s: &[u8]) -> u32 {
        if s.len() <= SHORT {
            self.find_short(short_key(load_prefix(s, s.len()), s.len()))
        } else if s.len() > self.max_len {
            UNKNOWN
        } else {
            self.long.get(s).copied().unwrap_or(UNKNOWN)
        }
    }

    /// Id of the raw ASCII letters and digits in the low `n` (1..=7) bytes of `x`.
    #[inline(always)]
    pub(super) fn find_ascii_word(&self, x: u64, n: usize) -> u32 {
        let word = (x | LOWERS) & (u64::MAX >> (64 - 8 * n as u32));
        self.find_short(short_key(word, n))
    }

    /// Id of a raw ASCII token (letters, digits, `'`), compared as if lowercased.
    #[inline]
    pub(super) fn find_ascii(&self, s: &[u8]) -> u32 {
        let n = s.len();
        if n <= SHORT {
            return self.find_ascii_word(load_prefix(s, n), n);
        }
        if n > self.max_len {
            return UNKNOWN;
        }
        let mut low = [0u8; 64];
        if n <= low.len() {
            for (d, &b) in low.iter_mut().zip(s) {
                *d = b | LOWER;
            }
            return self.find(&low[..n]);
        }
        let low: Vec<u8> = s.iter().map(|&b| b | LOWER).collect();
        self.find(&low)
    }
}
