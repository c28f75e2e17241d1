//! The vocabulary: every distinct token of the compiled phrases, interned to a dense id.

use rustc_hash::FxHashMap;

use super::bits::LOWERS;
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

/// The key of a short normalised token: its bytes, zero padded. No token holds a zero byte
/// (NUL is a boundary), so distinct tokens have distinct keys and no key is 0.
#[inline(always)]
pub(super) fn short_key(word: u64) -> u64 {
    word
}

/// `LEN_MASK[n]` keeps the low `n` bytes of a word.
static LEN_MASK: [u64; 8] = {
    let mut t = [0u64; 8];
    let mut n = 1;
    while n < 8 {
        t[n] = u64::MAX >> (64 - 8 * n);
        n += 1;
    }
    t
};

/// One slot of the short-token table: a key and its id (`UNKNOWN` in an empty slot).
#[derive(Clone, Copy, Debug)]
#[repr(C, align(16))]
struct Slot {
    key: u64,
    id: u32,
}

const EMPTY: Slot = Slot {
    key: 0,
    id: UNKNOWN,
};

/// The interned tokens of all phrases. Short tokens live in a perfect hash table (hash and
/// displace): a key's bucket gives a displacement that sends it to a slot no other key
/// has, so a lookup is one multiply, two loads and one compare, with no branch on hit or
/// miss and no probing. A short ASCII token is looked up straight from one masked load of
/// the text. Longer tokens, rare in text, go to a hash map.
#[derive(Debug)]
pub(super) struct Vocab {
    slots: Vec<Slot>,
    /// displacement per bucket
    disp: Vec<u32>,
    /// odd multiplier of the hash, the first of a fixed sequence that gives a perfect table
    mul: u64,
    /// the bucket is the top bits of the hash
    bucket_shift: u32,
    slot_mask: u64,
    long: FxHashMap<Box<[u8]>, u32>,
    len: usize,
    max_len: usize,
}

/// The hash of a short token's key: the two halves of its 128-bit product with `mul`,
/// XORed. Bucket (top bits) and slot (bottom bits) then both depend on every byte of the
/// key. The low half alone would not do: its bits up to `k` depend only on the key's bits
/// up to `k`, so tokens sharing their first bytes ("abcd", "abce", "abcf") would share their
/// slot bits whatever the multiplier, and a table with three of them in two buckets could
/// never be placed (the search for a multiplier once ran forever on such a set). The high
/// half alone would not either: keys close in value get close high halves.
#[inline(always)]
fn hash(key: u64, mul: u64) -> u64 {
    let p = key as u128 * mul as u128;
    (p >> 64) as u64 ^ p as u64
}

/// Vocabulary id of every token outside the vocabulary.
pub(super) const UNKNOWN: u32 = u32::MAX;

impl Vocab {
    pub(super) fn new(tokens: &[&[u8]]) -> Vocab {
        let mut long = FxHashMap::default();
        let mut keys: Vec<(u64, u32)> = Vec::new();
        for (id, t) in tokens.iter().enumerate() {
            if t.len() > SHORT {
                long.insert((*t).into(), id as u32);
            } else {
                keys.push((short_key(load_prefix(t, t.len())), id as u32));
            }
        }
        // a load factor of at most one half leaves room for every bucket to be placed
        let mut n_slots = (2 * keys.len()).next_power_of_two().max(8);
        let n_buckets = keys.len().div_ceil(2).next_power_of_two().max(2);
        let bucket_shift = 64 - n_buckets.trailing_zeros();
        let mut seed: u64 = 0x243F_6A88_85A3_08D3;
        for attempt in 1.. {
            // more room now and then, so that even an unlucky key set ends the search
            if attempt % 64 == 0 {
                n_slots *= 2;
            }
            // splitmix64: a fixed sequence of odd multipliers, so the table is deterministic
            seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let mul = (z ^ (z >> 31)) | 1;
            if let Some((slots, disp)) = place(&keys, mul, bucket_shift, n_buckets, n_slots) {
                return Vocab {
                    slots,
                    disp,
                    mul,
                    bucket_shift,
                    slot_mask: (n_slots - 1) as u64,
                    long,
                    len: tokens.len(),
                    max_len: tokens.iter().map(|t| t.len()).max().unwrap_or(0),
                };
            }
        }
        unreachable!("the attempts above never end without a table")
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Id of a short token's key.
    #[inline(always)]
    pub(super) fn find_short(&self, key: u64) -> u32 {
        let h = hash(key, self.mul);
        let b = (h >> self.bucket_shift) as usize;
        debug_assert!(b < self.disp.len());
        // SAFETY: `bucket_shift` keeps the top `log2(disp.len())` bits of a 64-bit value
        let d = unsafe { *self.disp.get_unchecked(b) } as u64;
        let slot = ((h ^ d) & self.slot_mask) as usize;
        // SAFETY: `slot_mask` is `slots.len() - 1`, and `slots.len()` a power of two
        let e = unsafe { self.slots.get_unchecked(slot) };
        // hit or miss is data-dependent: a branch on it would be mispredicted for about a
        // third of the tokens, and the compiler turns plain selects here into one
        std::hint::select_unpredictable(e.key == key, e.id, UNKNOWN)
    }

    /// Id of a normalised token, `UNKNOWN` when it is in no phrase.
    #[inline]
    pub(super) fn find(&self, s: &[u8]) -> u32 {
        if s.len() <= SHORT {
            self.find_short(short_key(load_prefix(s, s.len())))
        } else if s.len() > self.max_len {
            UNKNOWN
        } else {
            self.long.get(s).copied().unwrap_or(UNKNOWN)
        }
    }

    /// Id of the raw ASCII letters and digits in the low `n` (1..=7) bytes of `x`.
    #[inline(always)]
    pub(super) fn find_ascii_word(&self, x: u64, n: usize) -> u32 {
        debug_assert!((1..=SHORT).contains(&n));
        // SAFETY: n is at most SHORT < 8
        let word = (x | LOWERS) & unsafe { *LEN_MASK.get_unchecked(n) };
        self.find_short(short_key(word))
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

/// Places every key in its own slot: buckets, largest first, each take the first
/// displacement that sends all their keys to free slots. `None` when two keys of a bucket
/// share their slot bits (no displacement separates them): the caller tries another
/// multiplier.
fn place(
    keys: &[(u64, u32)],
    mul: u64,
    bucket_shift: u32,
    n_buckets: usize,
    n_slots: usize,
) -> Option<(Vec<Slot>, Vec<u32>)> {
    let mask = (n_slots - 1) as u64;
    let mut buckets: Vec<Vec<(u64, u64, u32)>> = vec![Vec::new(); n_buckets];
    for &(key, id) in keys {
        let h = hash(key, mul);
        buckets[(h >> bucket_shift) as usize].push((h & mask, key, id));
    }
    let mut order: Vec<usize> = (0..n_buckets).collect();
    order.sort_by_key(|&b| std::cmp::Reverse(buckets[b].len()));
    let mut slots = vec![EMPTY; n_slots];
    let mut disp = vec![0u32; n_buckets];
    let mut taken: Vec<usize> = Vec::new();
    for b in order {
        let bucket = &buckets[b];
        if bucket.is_empty() {
            break;
        }
        let found = (0..n_slots as u64).find(|&d| {
            taken.clear();
            for &(h, _, _) in bucket {
                let s = (h ^ d) as usize;
                if slots[s].key != 0 || taken.contains(&s) {
                    return false;
                }
                taken.push(s);
            }
            true
        })?;
        disp[b] = found as u32;
        for &(h, key, id) in bucket {
            slots[(h ^ found) as usize] = Slot { key, id };
        }
    }
    Some((slots, disp))
}
