//! The direct-accumulation resampling engine, for statistics whose per-item work is a few
//! adds: Pearson's five moments, and plain sums (bootstrap means).
//!
//! Draws are placed in three steps, which together give exactly the multinomial resample:
//! - how many of the `n` draws land in each super-block of `SUPER` items, by sequential
//!   conditional binomials over super-blocks (`resample::block_total`);
//! - inside a full super-block, how many land in each of its equal blocks of `1 << BITS` items
//!   (a sink's choice, small enough for its staged items to stay in L1): every count splits
//!   into Binomial(c, 1/2) and the rest, level by level, and a Binomial(c, 1/2) is the number
//!   of ones among `c` random bits, so a split costs a popcount per 64 draws;
//! - inside a block, each draw is accumulated as it is drawn: one load of the drawn item from
//!   the L1-resident staged block and its adds, with no histogram and no dense pass. The
//!   random bits come from eight xoshiro256++ lanes stepped together (`rng::Lanes`), one
//!   16-bit field per draw, masked in place into a byte offset.
//!
//! A batch of resamples walks the blocks together: each block is staged once per batch (for
//! Pearson, the rows x, y, x², y², xy), and the data stream from memory once per batch.
//!
//! Determinism: each resample owns its `Rng` (super-block totals, the last super-block's
//! blocks and its partial block) and its `Lanes` (splits, and draws in full blocks), both
//! keyed by the resample, and consumes them in one fixed order. The offsets are integers, so
//! every instruction set produces the same ones; the accumulation uses one fixed assignment of
//! draws to accumulators (draw `t` of a call to accumulator `t % accumulators`) and plain adds
//! of precomputed values, so the sums are bit-identical on every path.

use super::cpu;
use super::engine::Isa;
use super::resample::{block_total, par_batches};
use super::rng::{Lanes, Rng, LANES};

/// log2 of the super-block: the level at which block totals are drawn by binomials.
pub const SUPER_BITS: u32 = 12;
pub const SUPER: usize = 1 << SUPER_BITS;
/// Splits below a super-block, at most (blocks of at least `SUPER >> MAX_LEVELS` items).
const MAX_LEVELS: u32 = 6;
/// 16-bit fields (draws) per step of the lanes.
const PER_STEP: usize = LANES * 4;
/// Offsets generated, then consumed, at a time: a multiple of `PER_STEP` and of 8.
const CHUNK: usize = 1024;

/// What a statistic does with the items drawn in a block.
pub trait GatherSink: Sync {
    type Acc: Send;
    /// One block laid out as `gather` reads it; each pass owns one, made by `new_stage`.
    type Stage;
    /// log2 of the items in a block, at most `SUPER_BITS`: every draw of a block reads its
    /// staged items, which should fit L1.
    const BITS: u32;
    /// log2 of the byte size of one staged item; `BITS + SHIFT` must not exceed 16.
    const SHIFT: u32;
    /// An empty stage, read with instruction set `isa` (which the CPU has).
    fn new_stage(&self, isa: Isa) -> Self::Stage;
    /// Lays out items `start..start + len` (one block; `len` is `1 << BITS` except for the
    /// last block) in `stage`.
    fn stage(&self, stage: &mut Self::Stage, start: usize, len: usize);
    /// Accumulates the staged items at byte offsets `offs`; draw `t` of the call goes to
    /// accumulator `t % accumulators`.
    ///
    /// # Safety
    /// Every offset is a multiple of `1 << SHIFT` below `len << SHIFT`, where `len` is the
    /// length of the block last staged in `stage`. (`gather_pass` draws them so; a check per
    /// draw would cost as much as the load it guards.)
    unsafe fn gather(&self, stage: &Self::Stage, acc: &mut Self::Acc, offs: &[u16]);
    /// Hints that part `part` of `parts` of the block at `start` is needed soon.
    fn prefetch(&self, _start: usize, _part: usize, _parts: usize) {}
    /// Draws `count` items of the full block in `stage` from `lanes` and accumulates them in
    /// one pass, where the sink has such a path: it must consume the lanes and assign draws to
    /// accumulators exactly as `fill` with `mask` and then `gather` would. Returns false to
    /// have the engine do that instead.
    fn draw_full(
        &self,
        _stage: &Self::Stage,
        _acc: &mut Self::Acc,
        _lanes: &mut Lanes,
        _count: usize,
        _mask: u16,
    ) -> bool {
        false
    }
}

/// Asks for the cache lines of part `part` of `parts` of the block of `1 << bits` items of
/// `data` at `start` (shorter at the end) into L2, not L1, which holds the block in use.
#[inline(always)]
fn prefetch_part<T>(data: &[T], start: usize, bits: u32, part: usize, parts: usize) {
    let block = &data[start..(start + (1 << bits)).min(data.len())];
    let per = block.len().div_ceil(parts);
    let slice = &block[(part * per).min(block.len())..((part + 1) * per).min(block.len())];
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
        let bytes = std::mem::size_of_val(slice);
        let p = slice.as_ptr().cast::<i8>();
        for off in (0..bytes).step_by(64) {
            // SAFETY: a prefetch never faults, and the address is inside `slice`.
            unsafe { _mm_prefetch::<_MM_HINT_T1>(p.add(off)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = slice;
}

/// Fills `out` (a multiple of `PER_STEP` long) with byte offsets: each 16-bit field of the
/// lanes' output masked to `mask`. (A contiguous mask `(len - 1) << shift` keeps uniform bits
/// already in place as a byte offset: one AND per 32 draws.) Field `f` of lane `l` at step
/// `i` lands at `out[PER_STEP * i + 4 * l + f]`, on every path.
fn fill_portable(lanes: &mut Lanes, out: &mut [u16], mask: u16) {
    for chunk in out.chunks_exact_mut(PER_STEP) {
        let w = lanes.step();
        for (o, v) in chunk.chunks_exact_mut(4).zip(w) {
            for (f, x) in o.iter_mut().enumerate() {
                *x = (v >> (16 * f)) as u16 & mask;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Lanes, PairAcc, Row, PER_STEP, ROWS};
    use std::arch::x86_64::*;

    /// One xoshiro256++ step of the eight lanes held in `$s0..$s3`; evaluates to the output.
    /// The five XORs of the update are three three-way XORs (`vpternlogq` 0x96) and one XOR.
    macro_rules! step512 {
        ($s0:ident, $s1:ident, $s2:ident, $s3:ident) => {{
            let res = _mm512_add_epi64(_mm512_rol_epi64::<23>(_mm512_add_epi64($s0, $s3)), $s0);
            let t = _mm512_slli_epi64::<17>($s1);
            let (s0, s1, s2, s3) = ($s0, $s1, $s2, $s3);
            $s1 = _mm512_ternarylogic_epi64::<0x96>(s1, s2, s0);
            $s0 = _mm512_ternarylogic_epi64::<0x96>(s0, s3, s1);
            $s2 = _mm512_ternarylogic_epi64::<0x96>(s2, s0, t);
            $s3 = _mm512_rol_epi64::<45>(_mm512_xor_si512(s3, s1));
            res
        }};
    }

    /// The four state rows of the eight lanes at `$p` (`lanes.s.as_mut_ptr()`), as registers.
    macro_rules! load_lanes {
        ($p:expr) => {
            [0, 1, 2, 3].map(|k| _mm512_loadu_si512($p.add(k).cast()))
        };
    }

    /// Stores the four state rows back to `$p`.
    macro_rules! store_lanes {
        ($p:expr, $rows:expr) => {
            for (k, v) in $rows.into_iter().enumerate() {
                _mm512_storeu_si512($p.add(k).cast(), v);
            }
        };
    }

    /// Binomial(c, 1/2) as `super::half_portable` counts it, with the ones of each step
    /// counted in-register.
    #[target_feature(enable = "avx512f,avx512vpopcntdq")]
    pub fn half_avx512(lanes: &mut Lanes, c: u64) -> u64 {
        // SAFETY: each state row is 8 u64 (64 bytes).
        unsafe {
            let p = lanes.s.as_mut_ptr();
            let [mut s0, mut s1, mut s2, mut s3] = load_lanes!(p);
            let mut ones = _mm512_setzero_si512();
            for _ in 0..c / 512 {
                let res = step512!(s0, s1, s2, s3);
                ones = _mm512_add_epi64(ones, _mm512_popcnt_epi64(res));
            }
            let rest = (c % 512) as i64;
            if rest > 0 {
                let res = step512!(s0, s1, s2, s3);
                // Lane l holds bits 64 l .. 64 l + 64 of the step: keep the first `rest`.
                let first = _mm512_set_epi64(448, 384, 320, 256, 192, 128, 64, 0);
                let bits = _mm512_min_epi64(
                    _mm512_max_epi64(
                        _mm512_sub_epi64(_mm512_set1_epi64(rest), first),
                        _mm512_setzero_si512(),
                    ),
                    _mm512_set1_epi64(64),
                );
                let mask = _mm512_srlv_epi64(
                    _mm512_set1_epi64(-1),
                    _mm512_sub_epi64(_mm512_set1_epi64(64), bits),
                );
                ones = _mm512_add_epi64(ones, _mm512_popcnt_epi64(_mm512_and_si512(res, mask)));
            }
            store_lanes!(p, [s0, s1, s2, s3]);
            _mm512_reduce_add_epi64(ones) as u64
        }
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    pub fn fill_avx512(lanes: &mut Lanes, out: &mut [u16], mask: u16) {
        // SAFETY: each state row is 8 u64 (64 bytes) and each store writes PER_STEP u16
        // (64 bytes) inside `out`, whose length is a multiple of PER_STEP.
        unsafe {
            let p = lanes.s.as_mut_ptr();
            let [mut s0, mut s1, mut s2, mut s3] = load_lanes!(p);
            let m = _mm512_set1_epi16(mask as i16);
            for chunk in out.chunks_exact_mut(PER_STEP) {
                let res = step512!(s0, s1, s2, s3);
                let o = _mm512_and_si512(res, m);
                _mm512_storeu_si512(chunk.as_mut_ptr().cast(), o);
            }
            store_lanes!(p, [s0, s1, s2, s3]);
        }
    }

    /// `fill_avx512` and `rows_x86::gather_avx512` in one loop, so that the random bits are
    /// made while earlier draws' loads and adds are in flight: each step's 32 offsets go
    /// through a small ring, written three steps before they are read. (Read at once, the
    /// 16-bit loads wait on the 64-byte store they need: slower than two passes. About 5%
    /// faster than two passes this way.)
    ///
    /// # Safety
    /// The CPU has AVX-512 F and BW, and `mask` keeps every offset on a whole row of `rows`.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub unsafe fn draw_rows_avx512(
        rows: &[Row; ROWS],
        lanes: &mut Lanes,
        count: usize,
        mask: u16,
        acc: &mut PairAcc,
    ) {
        /// Steps of offsets made ahead of the draws that read them, so that each 64-byte store
        /// has left the store buffer before its fields are loaded.
        const AHEAD: usize = 3;
        #[repr(C, align(64))]
        struct Ring([u16; (AHEAD + 1) * PER_STEP]);
        let mut ring = Ring([0; (AHEAD + 1) * PER_STEP]);
        let base = rows.as_ptr().cast::<u8>();
        // SAFETY: state rows and accumulators are 64 bytes each; every offset is a whole row
        // (the caller's contract on `mask`); ring slots are 64 bytes inside `ring`.
        unsafe {
            let p = lanes.s.as_mut_ptr();
            let [mut s0, mut s1, mut s2, mut s3] = load_lanes!(p);
            let mut a = super::rows_x86::load_accs(acc);
            let m = _mm512_set1_epi16(mask as i16);
            let slot = |i: usize| (i % (AHEAD + 1)) * PER_STEP;
            let steps = count.div_ceil(PER_STEP);
            for i in 0..steps.min(AHEAD) {
                let res = step512!(s0, s1, s2, s3);
                _mm512_store_si512(
                    ring.0.as_mut_ptr().add(slot(i)).cast(),
                    _mm512_and_si512(res, m),
                );
            }
            let mut left = count;
            for i in 0..steps {
                if i + AHEAD < steps {
                    let res = step512!(s0, s1, s2, s3);
                    let at = ring.0.as_mut_ptr().add(slot(i + AHEAD));
                    _mm512_store_si512(at.cast(), _mm512_and_si512(res, m));
                }
                let take = left.min(PER_STEP);
                // PER_STEP is a multiple of ROW_ACCS, so draw t of the visit goes to
                // accumulator t % ROW_ACCS here too.
                let fields = std::slice::from_raw_parts(ring.0.as_ptr().add(slot(i)), take);
                super::rows_x86::add_rows(&mut a, base, fields);
                left -= take;
            }
            super::rows_x86::store_accs(acc, &a);
            store_lanes!(p, [s0, s1, s2, s3]);
        }
    }

    #[inline(always)]
    fn rol<const L: i32, const R: i32>(x: __m256i) -> __m256i {
        // SAFETY: only called from AVX2 functions.
        unsafe { _mm256_or_si256(_mm256_slli_epi64::<L>(x), _mm256_srli_epi64::<R>(x)) }
    }

    #[target_feature(enable = "avx2")]
    pub fn fill_avx2(lanes: &mut Lanes, out: &mut [u16], mask: u16) {
        // SAFETY: each half-row is 4 u64 (32 bytes) inside a state row of 8, and each step
        // writes two 32-byte halves of a PER_STEP-long chunk of `out`.
        unsafe {
            let p = lanes.s.as_mut_ptr().cast::<u64>();
            let ld = |k: usize| _mm256_loadu_si256(p.add(4 * k).cast());
            // Lanes 0-3 and 4-7, as two independent chains.
            let mut a = [ld(0), ld(2), ld(4), ld(6)];
            let mut b = [ld(1), ld(3), ld(5), ld(7)];
            let m = _mm256_set1_epi16(mask as i16);
            let step = |s: &mut [__m256i; 4]| {
                let res = _mm256_add_epi64(rol::<23, 41>(_mm256_add_epi64(s[0], s[3])), s[0]);
                let t = _mm256_slli_epi64::<17>(s[1]);
                s[2] = _mm256_xor_si256(s[2], s[0]);
                s[3] = _mm256_xor_si256(s[3], s[1]);
                s[1] = _mm256_xor_si256(s[1], s[2]);
                s[0] = _mm256_xor_si256(s[0], s[3]);
                s[2] = _mm256_xor_si256(s[2], t);
                s[3] = rol::<45, 19>(s[3]);
                _mm256_and_si256(res, m)
            };
            for chunk in out.chunks_exact_mut(PER_STEP) {
                let (lo, hi) = (step(&mut a), step(&mut b));
                _mm256_storeu_si256(chunk.as_mut_ptr().cast(), lo);
                _mm256_storeu_si256(chunk.as_mut_ptr().add(PER_STEP / 2).cast(), hi);
            }
            for k in 0..4 {
                _mm256_storeu_si256(p.add(8 * k).cast(), a[k]);
                _mm256_storeu_si256(p.add(8 * k + 4).cast(), b[k]);
            }
        }
    }
}

fn fill(isa: Isa, lanes: &mut Lanes, out: &mut [u16], mask: u16) {
    debug_assert_eq!(out.len() % PER_STEP, 0);
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: every caller checked `isa.available()`: AVX-512 F and BW.
        Isa::Avx512 => unsafe { x86::fill_avx512(lanes, out, mask) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: every caller checked `isa.available()`: AVX2.
        Isa::Avx2 => unsafe { x86::fill_avx2(lanes, out, mask) },
        Isa::Portable => fill_portable(lanes, out, mask),
    }
}

/// The ones among the first `bits` (at most 64) bits of `w`.
#[inline(always)]
fn ones_in(w: u64, bits: u64) -> u64 {
    let mask = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    u64::from((w & mask).count_ones())
}

/// Binomial(c, 1/2): the ones among `c` random bits. The bits are those of `c.div_ceil(512)`
/// steps of the lanes, bit `j` being bit `j % 64` of lane `j / 64 % 8` at step `j / 512`; the
/// rest of the last step is dropped. Every path counts the same bits.
fn half_portable(lanes: &mut Lanes, c: u64) -> u64 {
    let mut left = c;
    let mut ones = 0;
    while left > 0 {
        for w in lanes.step() {
            let b = left.min(64);
            ones += ones_in(w, b);
            left -= b;
        }
    }
    ones
}

/// `half_portable` with the lanes stepped by the vector `fill` a few steps at a time.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn half_words(isa: Isa, lanes: &mut Lanes, c: u64) -> u64 {
    const STEPS: usize = 8;
    let mut buf = [0u64; STEPS * LANES];
    let mut left = c;
    let mut ones = 0;
    while left > 0 {
        let steps = (left.div_ceil(64 * LANES as u64) as usize).min(STEPS);
        let words = &mut buf[..steps * LANES];
        // SAFETY: the u64 buffer viewed as u16 fields: same memory, stricter alignment. On
        // x86 (little-endian) the four fields of a lane's output, low first, are its word.
        let fields = unsafe {
            std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u16>(), 4 * words.len())
        };
        fill(isa, lanes, fields, u16::MAX);
        for &w in words.iter() {
            let b = left.min(64);
            ones += ones_in(w, b);
            left -= b;
        }
    }
    ones
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
fn half_words_popcnt(isa: Isa, lanes: &mut Lanes, c: u64) -> u64 {
    half_words(isa, lanes, c)
}

/// Binomial(c, 1/2), as `half_portable` draws it, on the fastest path.
fn half(isa: Isa, lanes: &mut Lanes, c: u64) -> u64 {
    match isa {
        Isa::Portable => half_portable(lanes, c),
        #[cfg(target_arch = "x86_64")]
        _ => {
            if isa == Isa::Avx512 && cpu::avx512_popcnt() {
                // SAFETY: the CPU has AVX-512 F and VPOPCNTDQ.
                unsafe { x86::half_avx512(lanes, c) }
            } else {
                // SAFETY: the vector paths are available only on CPUs with POPCNT.
                unsafe { half_words_popcnt(isa, lanes, c) }
            }
        }
    }
}

/// Splits `t` draws uniform over `out.len()` (a power of two) equal blocks into how many land
/// in each: level by level, left to right, every count `c` splits into Binomial(c, 1/2) for
/// its first half and the rest for its second, which gives exactly the multinomial counts.
fn split_halves(isa: Isa, lanes: &mut Lanes, t: u64, out: &mut [u64]) {
    debug_assert!(out.len().is_power_of_two() && out.len() <= 1 << MAX_LEVELS);
    out[0] = t;
    let mut width = 1;
    while width < out.len() {
        let mut cur = [0u64; 1 << MAX_LEVELS];
        cur[..width].copy_from_slice(&out[..width]);
        for (i, &c) in cur[..width].iter().enumerate() {
            let a = half(isa, lanes, c);
            out[2 * i] = a;
            out[2 * i + 1] = c - a;
        }
        width *= 2;
    }
}

/// One multinomial resample of `0..n` per resample k, from `rngs[k]` and `lanes[k]`, feeding
/// `accs[k]`, on instruction set `isa` (every one gives the same sums, bit for bit).
pub fn gather_pass<S: GatherSink>(
    sink: &S,
    n: usize,
    isa: Isa,
    rngs: &mut [Rng],
    lanes: &mut [Lanes],
    accs: &mut [S::Acc],
) {
    const { assert!(CHUNK.is_multiple_of(PER_STEP) && CHUNK.is_multiple_of(8)) };
    assert!(S::BITS + S::SHIFT <= 16 && S::BITS <= SUPER_BITS);
    assert!(SUPER_BITS - S::BITS <= MAX_LEVELS);
    // The vector paths below rely on it.
    assert!(isa.available(), "this CPU lacks {}", isa.name());
    let block = 1usize << S::BITS;
    let per_super = SUPER >> S::BITS;
    let mask = ((block - 1) << S::SHIFT) as u16;
    let k = rngs.len();
    let mut left = vec![n as u64; k];
    // counts[b * per_super + j]: resample b's draws in block j of the current super-block.
    let mut counts = vec![0u64; k * per_super];
    let mut stage = sink.new_stage(isa);
    let mut offs = [0u16; CHUNK];
    let mut start = 0;
    while start < n {
        let len = SUPER.min(n - start);
        let blocks = len.div_ceil(block);
        for ((rng, lanes), (left, c)) in rngs
            .iter_mut()
            .zip(lanes.iter_mut())
            .zip(left.iter_mut().zip(counts.chunks_exact_mut(per_super)))
        {
            if len == SUPER {
                let t = block_total(rng, left, len, n - start);
                split_halves(isa, lanes, t, c);
            } else {
                // The last, short super-block: its blocks' totals continue the sequential
                // binomials.
                for (j, c) in c[..blocks].iter_mut().enumerate() {
                    let at = start + j * block;
                    *c = block_total(rng, left, block.min(n - at), n - at);
                }
            }
        }
        for j in 0..blocks {
            let at = start + j * block;
            let len = block.min(n - at);
            sink.stage(&mut stage, at, len);
            let next = at + block;
            for (b, ((rng, lanes), acc)) in rngs
                .iter_mut()
                .zip(lanes.iter_mut())
                .zip(accs.iter_mut())
                .enumerate()
            {
                // Each resample brings in a slice of the next block, so that staging it does
                // not wait on memory.
                if next < n {
                    sink.prefetch(next, b, k);
                }
                let mut c = counts[b * per_super + j] as usize;
                if len == block && sink.draw_full(&stage, acc, lanes, c, mask) {
                    continue;
                }
                while c > 0 {
                    let m = c.min(CHUNK);
                    if len == block {
                        // Whole steps: the unused fields of the last step are dropped.
                        let steps = m.div_ceil(PER_STEP) * PER_STEP;
                        fill(isa, lanes, &mut offs[..steps], mask);
                    } else {
                        for x in &mut offs[..m] {
                            *x = (rng.below(len as u64) << S::SHIFT) as u16;
                        }
                    }
                    // SAFETY: full blocks take masked offsets, whole items below the block's
                    // end; the short last block draws below its length.
                    unsafe { sink.gather(&stage, acc, &offs[..m]) };
                    c -= m;
                }
            }
        }
        start += len;
    }
}

/// Runs `n_resamples` resamples of `0..n` through `sink` in parallel batches of `batch` and
/// returns `stat` of each one's accumulator. Resample `b`'s streams are keyed by `key`
/// followed by `b`, as in `resample::par_resamples`, so results do not depend on the batching,
/// the thread count or the instruction set.
pub fn par_gather<S, F>(
    sink: &S,
    n: usize,
    key: &[u64],
    n_resamples: usize,
    batch: usize,
    isa: Isa,
    stat: F,
) -> Vec<f64>
where
    S: GatherSink,
    S::Acc: Clone + Default,
    F: Fn(&S::Acc) -> f64 + Sync,
{
    par_batches(n_resamples, 1, batch, |first, out| {
        let mut accs = vec![S::Acc::default(); out.len()];
        keyed_pass(sink, n, key, first, isa, &mut accs);
        for (o, a) in out.iter_mut().zip(&accs) {
            *o = stat(a);
        }
    })
}

/// `gather_pass` for resamples `first..first + accs.len()`, resample `b`'s streams keyed by
/// `key` followed by `b`.
fn keyed_pass<S: GatherSink>(
    sink: &S,
    n: usize,
    key: &[u64],
    first: usize,
    isa: Isa,
    accs: &mut [S::Acc],
) {
    let keys: Vec<Vec<u64>> = (0..accs.len())
        .map(|b| key.iter().copied().chain([(first + b) as u64]).collect())
        .collect();
    let mut rngs: Vec<Rng> = keys.iter().map(|k| Rng::keyed(k)).collect();
    let mut lanes: Vec<Lanes> = keys.iter().map(|k| Lanes::keyed(k)).collect();
    gather_pass(sink, n, isa, &mut rngs, &mut lanes, accs);
}

/// Accumulators of the Pearson sink: eight add chains, so that their latency never holds up
/// the loads.
pub const ROW_ACCS: usize = 8;

/// One staged pair: x, y, x², y², xy and three zeros, one cache line, so that a draw is one
/// 64-byte load and add.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C, align(64))]
pub struct Row([f64; 8]);

/// Sums of the rows' columns per accumulator (the last three stay zero).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PairAcc([Row; ROW_ACCS]);

impl PairAcc {
    /// Sums of x, y, x², y², xy, reduced in a fixed order.
    pub fn moments(&self) -> [f64; 5] {
        let a = &self.0;
        std::array::from_fn(|l| {
            ((a[0].0[l] + a[1].0[l]) + (a[2].0[l] + a[3].0[l]))
                + ((a[4].0[l] + a[5].0[l]) + (a[6].0[l] + a[7].0[l]))
        })
    }
}

/// For each resample of `par_gather(&PairSink(..), n, key, ..)`, its draw counts per pair: the
/// same draws, counted (the rank correlations' bootstraps use them, so that for a seed they
/// resample the rows Pearson's does). `eval(counts, out)` fills the values of a batch of
/// resamples from their counts.
pub fn par_pair_counts<F>(n: usize, key: &[u64], n_resamples: usize, isa: Isa, eval: F) -> Vec<f64>
where
    F: Fn(&[Vec<u32>], &mut [f64]) + Sync,
{
    // Draws do not depend on the batch; this one keeps a batch's counts near 64 MB.
    let batch = (16_000_000 / n.max(1)).clamp(1, 64);
    par_batches(n_resamples, 1, batch, |first, out| {
        let mut accs = vec![vec![0u32; n]; out.len()];
        keyed_pass(&PairCountSink, n, key, first, isa, &mut accs);
        eval(&accs, out);
    })
}

/// The draw counts per pair of resample `resample` of `par_gather(&PairSink(..), n, key, ..)`
/// alone.
pub fn pair_counts(n: usize, key: &[u64], resample: usize, isa: Isa) -> Vec<u32> {
    let mut acc = [vec![0u32; n]];
    keyed_pass(&PairCountSink, n, key, resample, isa, &mut acc);
    let [counts] = acc;
    counts
}

/// Counts draws where `PairSink` accumulates them: the same blocks and offsets, so the same
/// random fields place the same draws.
struct PairCountSink;

impl GatherSink for PairCountSink {
    type Acc = Vec<u32>;
    /// The block's first item.
    type Stage = usize;
    const BITS: u32 = PairSink::BITS;
    const SHIFT: u32 = PairSink::SHIFT;

    fn new_stage(&self, _isa: Isa) -> usize {
        0
    }

    fn stage(&self, stage: &mut usize, start: usize, _len: usize) {
        *stage = start;
    }

    unsafe fn gather(&self, stage: &usize, acc: &mut Vec<u32>, offs: &[u16]) {
        for &o in offs {
            acc[stage + (o >> Self::SHIFT) as usize] += 1;
        }
    }
}

/// (x, y) pairs, staged a block of 512 at a time as rows of their five moments.
pub struct PairSink<'a>(pub &'a [[f64; 2]]);

/// Rows in a block of the Pearson sink.
const ROWS: usize = 1 << PairSink::BITS;

/// A block of staged rows (past a short last block's length, rows of earlier blocks), and the
/// instruction set to read them with, chosen once per pass.
pub struct Rows(Box<[Row; ROWS]>, Isa);

impl Rows {
    fn new(isa: Isa) -> Self {
        Rows(
            vec![Row::default(); ROWS].try_into().expect("ROWS rows"),
            isa,
        )
    }
}

fn pair_gather_portable(rows: &[Row; ROWS], offs: &[u16], acc: &mut PairAcc) {
    for (t, &o) in offs.iter().enumerate() {
        let (a, v) = (&mut acc.0[t % ROW_ACCS].0, &rows[o as usize >> 6].0);
        for l in 0..5 {
            a[l] += v[l];
        }
    }
}

/// The byte offset of the last row of a stage (every row's offset is a subset of its bits).
const LAST_ROW: u16 = ((ROWS - 1) << PairSink::SHIFT) as u16;

#[cfg(target_arch = "x86_64")]
mod rows_x86 {
    use super::{PairAcc, Row, ROWS, ROW_ACCS};
    use std::arch::x86_64::*;

    /// The accumulators as registers, one row each.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub fn load_accs(acc: &PairAcc) -> [__m512d; ROW_ACCS] {
        // SAFETY: each accumulator is one 64-byte row.
        std::array::from_fn(|j| unsafe { _mm512_loadu_pd(acc.0[j].0.as_ptr()) })
    }

    #[target_feature(enable = "avx512f")]
    #[inline]
    pub fn store_accs(acc: &mut PairAcc, a: &[__m512d; ROW_ACCS]) {
        for (row, v) in acc.0.iter_mut().zip(a) {
            // SAFETY: each accumulator is one 64-byte row.
            unsafe { _mm512_storeu_pd(row.0.as_mut_ptr(), *v) };
        }
    }

    /// Adds the row at byte offset `offs[t]` from `base` to `a[t % ROW_ACCS]`.
    ///
    /// # Safety
    /// The CPU has AVX-512 F, and every offset is a whole row of the stage at `base`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub unsafe fn add_rows(a: &mut [__m512d; ROW_ACCS], base: *const u8, offs: &[u16]) {
        // SAFETY: the caller's contract.
        unsafe {
            let mut it = offs.chunks_exact(ROW_ACCS);
            for ch in &mut it {
                for j in 0..ROW_ACCS {
                    let v = _mm512_loadu_pd(base.add(ch[j] as usize).cast());
                    a[j] = _mm512_add_pd(a[j], v);
                }
            }
            for (j, &o) in it.remainder().iter().enumerate() {
                a[j] = _mm512_add_pd(a[j], _mm512_loadu_pd(base.add(o as usize).cast()));
            }
        }
    }

    /// # Safety
    /// The CPU has AVX-512 F, and every offset is a whole row of `rows`.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn gather_avx512(rows: &[Row; ROWS], offs: &[u16], acc: &mut PairAcc) {
        let base = rows.as_ptr().cast::<u8>();
        // SAFETY: every offset is a row of `rows` (the caller's contract, as for
        // `GatherSink::gather`), so every load reads 64 bytes inside it; each accumulator is one
        // 64-byte row.
        unsafe {
            let mut a = load_accs(acc);
            add_rows(&mut a, base, offs);
            store_accs(acc, &a);
        }
    }

    /// # Safety
    /// The CPU has AVX2, and every offset is a whole row of `rows`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn gather_avx2(rows: &[Row; ROWS], offs: &[u16], acc: &mut PairAcc) {
        let base = rows.as_ptr().cast::<u8>();
        // SAFETY: as in `gather_avx512`; the first four columns are one 32-byte load and the
        // fifth a scalar one, at most 40 bytes into a 64-byte row.
        unsafe {
            let p = acc.0.as_mut_ptr().cast::<f64>();
            let mut lo: [__m256d; ROW_ACCS] =
                std::array::from_fn(|j| _mm256_loadu_pd(p.add(8 * j)));
            let mut hi: [__m128d; ROW_ACCS] =
                std::array::from_fn(|j| _mm_load_sd(p.add(8 * j + 4)));
            let mut it = offs.chunks_exact(ROW_ACCS);
            for ch in &mut it {
                for j in 0..ROW_ACCS {
                    let r = base.add(ch[j] as usize).cast::<f64>();
                    lo[j] = _mm256_add_pd(lo[j], _mm256_loadu_pd(r));
                    hi[j] = _mm_add_sd(hi[j], _mm_load_sd(r.add(4)));
                }
            }
            for (j, &o) in it.remainder().iter().enumerate() {
                let r = base.add(o as usize).cast::<f64>();
                lo[j] = _mm256_add_pd(lo[j], _mm256_loadu_pd(r));
                hi[j] = _mm_add_sd(hi[j], _mm_load_sd(r.add(4)));
            }
            for j in 0..ROW_ACCS {
                _mm256_storeu_pd(p.add(8 * j), lo[j]);
                _mm_store_sd(p.add(8 * j + 4), hi[j]);
            }
        }
    }
}

impl GatherSink for PairSink<'_> {
    type Acc = PairAcc;
    type Stage = Rows;
    /// 512 rows of 64 bytes: 32 KB, inside L1.
    const BITS: u32 = 9;
    const SHIFT: u32 = 6;

    fn new_stage(&self, isa: Isa) -> Rows {
        Rows::new(isa)
    }

    fn stage(&self, stage: &mut Rows, start: usize, len: usize) {
        // The last three columns stay zero from `Rows::new`.
        for (row, &[x, y]) in stage.0.iter_mut().zip(&self.0[start..start + len]) {
            row.0[..5].copy_from_slice(&[x, y, x * x, y * y, x * y]);
        }
    }

    #[inline]
    unsafe fn gather(&self, stage: &Rows, acc: &mut PairAcc, offs: &[u16]) {
        debug_assert_eq!(offs.iter().fold(0, |a, &o| a | o) & !LAST_ROW, 0);
        match stage.1 {
            // SAFETY: the CPU has AVX-512 F; every offset is a row of the stage (the caller's
            // contract).
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { rows_x86::gather_avx512(&stage.0, offs, acc) },
            // SAFETY: the CPU has AVX2; every offset is a row of the stage.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { rows_x86::gather_avx2(&stage.0, offs, acc) },
            Isa::Portable => pair_gather_portable(&stage.0, offs, acc),
        }
    }

    fn prefetch(&self, start: usize, part: usize, parts: usize) {
        prefetch_part(self.0, start, Self::BITS, part, parts);
    }

    fn draw_full(
        &self,
        stage: &Rows,
        acc: &mut PairAcc,
        lanes: &mut Lanes,
        count: usize,
        mask: u16,
    ) -> bool {
        assert_eq!(mask & !LAST_ROW, 0, "offsets outside the stage");
        match stage.1 {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => {
                // SAFETY: the CPU has AVX-512 F and BW (`gather_pass` checked), and the mask
                // keeps offsets on rows of the stage (checked above).
                unsafe { x86::draw_rows_avx512(&stage.0, lanes, count, mask, acc) };
                true
            }
            _ => false,
        }
    }
}

/// Accumulators of the sum sink.
pub const SUM_ACCS: usize = 4;

/// Sums of one column per accumulator.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SumAcc([f64; SUM_ACCS]);

impl SumAcc {
    pub fn total(&self) -> f64 {
        (self.0[0] + self.0[1]) + (self.0[2] + self.0[3])
    }
}

/// One column of values, 8 bytes each, read in place: a draw is a load and an add.
pub struct SumSink<'a>(pub &'a [f64]);

impl GatherSink for SumSink<'_> {
    type Acc = SumAcc;
    /// The block's first item and length.
    type Stage = (usize, usize);
    /// 4096 values of 8 bytes: 32 KB, inside L1.
    const BITS: u32 = 12;
    const SHIFT: u32 = 3;

    fn new_stage(&self, _isa: Isa) -> (usize, usize) {
        (0, 0)
    }

    fn stage(&self, stage: &mut (usize, usize), start: usize, len: usize) {
        *stage = (start, len);
    }

    #[inline]
    unsafe fn gather(&self, &(start, len): &(usize, usize), acc: &mut SumAcc, offs: &[u16]) {
        const BLOCK: usize = 1 << SumSink::BITS;
        let a = &mut acc.0;
        if len == BLOCK {
            let block: &[f64; BLOCK] = self.0[start..start + BLOCK].try_into().expect("a block");
            // The mask is a no-op on these offsets; it lets the compiler drop bounds checks.
            let at = |o: u16| block[(o as usize >> 3) & (BLOCK - 1)];
            let mut it = offs.chunks_exact(SUM_ACCS);
            for ch in &mut it {
                for j in 0..SUM_ACCS {
                    a[j] += at(ch[j]);
                }
            }
            for (j, &o) in it.remainder().iter().enumerate() {
                a[j] += at(o);
            }
        } else {
            let block = &self.0[start..start + len];
            for (t, &o) in offs.iter().enumerate() {
                a[t % SUM_ACCS] += block[o as usize >> 3];
            }
        }
    }

    fn prefetch(&self, start: usize, part: usize, parts: usize) {
        prefetch_part(self.0, start, Self::BITS, part, parts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test per vector instruction set of `check(isa)`, compiled as ignored (with the
    /// reason) on CPUs that lack it: `cargo test` lists it as ignored rather than passing it.
    macro_rules! isa_tests {
        ($check:ident: $avx2:ident, $avx512:ident) => {
            #[cfg(target_arch = "x86_64")]
            #[test]
            #[cfg_attr(not(vhframe_cpu_avx2), ignore = "CPU lacks AVX2")]
            fn $avx2() {
                assert!(Isa::Avx2.available(), "built as having AVX2: rebuild here");
                $check(Isa::Avx2);
            }
            #[cfg(target_arch = "x86_64")]
            #[test]
            #[cfg_attr(not(vhframe_cpu_avx512), ignore = "CPU lacks AVX-512")]
            fn $avx512() {
                assert!(
                    Isa::Avx512.available(),
                    "built as having AVX-512: rebuild here"
                );
                $check(Isa::Avx512);
            }
        };
    }

    #[test]
    fn pair_counts_are_the_pearson_sinks_draws() {
        let n = 5000;
        let xy: Vec<[f64; 2]> = (0..n)
            .map(|i| {
                [
                    ((i * 37) % 101) as f64 - 50.0,
                    ((i * 53) % 103) as f64 - 51.0,
                ]
            })
            .collect();
        let isa = Isa::best();
        let sums = par_gather(&PairSink(&xy), n, &[3], 20, 8, isa, |a| a.moments()[4]);
        let xy_of = |k: &[u32]| -> f64 {
            k.iter()
                .zip(&xy)
                .map(|(&c, &[x, y])| c as f64 * x * y)
                .sum()
        };
        let counts = par_pair_counts(n, &[3], 20, isa, |counts, out| {
            for (o, k) in out.iter_mut().zip(counts) {
                *o = xy_of(k);
            }
        });
        for (a, b) in sums.iter().zip(&counts) {
            assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{a} vs {b}");
        }
        // One resample's counts alone are the same draws.
        for b in [0, 7, 19] {
            let k = pair_counts(n, &[3], b, isa);
            assert_eq!(k.iter().map(|&c| c as usize).sum::<usize>(), n);
            assert_eq!(xy_of(&k), counts[b]);
        }
    }

    #[test]
    fn portable_offsets_are_the_lanes_fields() {
        let mut want = vec![0u16; 4 * PER_STEP];
        fill_portable(&mut Lanes::keyed(&[9, 1]), &mut want, 0xFFF0);
        // The portable lanes are xoshiro256++ as `Rng` steps it: lane 0's first output.
        let w = Lanes::keyed(&[9, 1]).step();
        assert_eq!(want[0], (w[0] as u16) & 0xFFF0);
        assert_eq!(want[5], ((w[1] >> 16) as u16) & 0xFFF0);
    }

    /// `fill` on `isa` makes the portable path's offsets and leaves the lanes in its state.
    #[cfg(target_arch = "x86_64")]
    fn offsets_match_portable(isa: Isa) {
        for mask in [0xFFF0u16, 0x7FF8, u16::MAX] {
            let (mut a, mut b) = (Lanes::keyed(&[9, 1]), Lanes::keyed(&[9, 1]));
            let (mut x, mut y) = (vec![0u16; 4 * PER_STEP], vec![0u16; 4 * PER_STEP]);
            fill_portable(&mut a, &mut x, mask);
            fill(isa, &mut b, &mut y, mask);
            assert_eq!(x, y, "{isa:?}");
            assert_eq!(a.s, b.s);
            // Twice in a row continues the same stream.
            fill_portable(&mut a, &mut x, mask);
            fill(isa, &mut b, &mut y, mask);
            assert_eq!(x, y, "{isa:?}");
        }
    }
    isa_tests!(offsets_match_portable: offsets_avx2, offsets_avx512);

    fn pairs(n: usize) -> Vec<[f64; 2]> {
        (0..n)
            .map(|j| {
                [
                    ((j * 7919) % 1000) as f64 / 37.0 - 13.0,
                    ((j * 104_729) % 997) as f64 / 11.0 - 40.1,
                ]
            })
            .collect()
    }

    /// The Pearson sink's `gather` on `isa` sums exactly what the portable loop sums.
    fn gather_matches_portable(isa: Isa) {
        let xy = pairs(ROWS);
        let sink = PairSink(&xy);
        let mut stage = sink.new_stage(isa);
        sink.stage(&mut stage, 0, ROWS);
        let mut lanes = Lanes::keyed(&[4]);
        let mut offs = vec![0u16; 3 * PER_STEP];
        fill_portable(&mut lanes, &mut offs, 0x7FC0);
        for m in [0, 1, 3, 7, 8, 9, 50, 3 * PER_STEP] {
            let mut want = PairAcc::default();
            pair_gather_portable(&stage.0, &offs[..m], &mut want);
            pair_gather_portable(&stage.0, &offs[..m], &mut want);
            let mut a = PairAcc::default();
            // SAFETY: the offsets are masked to rows of the stage.
            unsafe {
                sink.gather(&stage, &mut a, &offs[..m]);
                sink.gather(&stage, &mut a, &offs[..m]);
            }
            assert_eq!(a, want, "{isa:?}, m = {m}");
            // The sums are the plain sums up to rounding, and the padding stays zero.
            let mut s = [0.0; 5];
            for &o in &offs[..m] {
                let [x, y] = xy[o as usize >> 6];
                for (t, v) in s.iter_mut().zip([x, y, x * x, y * y, x * y]) {
                    *t += 2.0 * v;
                }
            }
            for (u, v) in a.moments().iter().zip(s) {
                assert!((u - v).abs() <= 1e-9 * v.abs().max(1.0), "{u} vs {v}");
            }
            assert!(a.0.iter().all(|r| r.0[5..] == [0.0; 3]));
        }
    }

    #[test]
    fn gather_portable() {
        gather_matches_portable(Isa::Portable);
    }
    isa_tests!(gather_matches_portable: gather_avx2, gather_avx512);

    #[test]
    fn splits_are_exactly_multinomial() {
        // Counts of 8 equal blocks from 4096 draws: each Binomial(4096, 1/8), summing to 4096,
        // and block 0 and block 1 negatively correlated as the multinomial says. (Every path
        // makes the portable path's splits: `splits_match_portable`.)
        let (t, reps) = (4096u64, 40_000);
        let mut sum = [0.0f64; 8];
        let mut sq = [0.0f64; 8];
        let mut cross = 0.0;
        for rep in 0..reps {
            let mut out = [0u64; 8];
            let mut lanes = Lanes::keyed(&[11, rep]);
            split_halves(Isa::Portable, &mut lanes, t, &mut out);
            assert_eq!(out.iter().sum::<u64>(), t);
            for j in 0..8 {
                sum[j] += out[j] as f64;
                sq[j] += (out[j] as f64).powi(2);
            }
            cross += out[0] as f64 * out[1] as f64;
        }
        let p = 1.0 / 8.0;
        let (m, v) = (t as f64 * p, t as f64 * p * (1.0 - p));
        for j in 0..8 {
            let mean = sum[j] / reps as f64;
            let var = sq[j] / reps as f64 - mean * mean;
            // Standard errors: sqrt(v / reps) = 0.11 for the mean, ~0.7% of v for the
            // variance; the bounds are about five of them.
            assert!((mean - m).abs() < 0.55, "block {j}: mean {mean} vs {m}");
            assert!(
                (var / v - 1.0).abs() < 0.035,
                "block {j}: variance {var} vs {v}"
            );
        }
        let (m0, m1) = (sum[0] / reps as f64, sum[1] / reps as f64);
        let cov = cross / reps as f64 - m0 * m1;
        let want = -(t as f64) * p * p;
        // Its standard error is sqrt(v² + want²) / sqrt(reps) = 2.3, 3.6% of |want|.
        assert!(
            (cov / want - 1.0).abs() < 0.18,
            "covariance {cov} vs {want}"
        );
        for t in [0, 1, 63, 64, 65, 200] {
            let mut out = [0u64; 64];
            split_halves(Isa::Portable, &mut Lanes::keyed(&[t]), t, &mut out);
            assert_eq!(out.iter().sum::<u64>(), t);
        }
    }

    /// `half` and `split_halves` on `isa` count exactly the portable path's bits, around the
    /// word and step edges, and leave the lanes in its state.
    #[cfg(target_arch = "x86_64")]
    fn splits_match_portable(isa: Isa) {
        for c in (0..1100).chain([4095, 4096, 4097, 9000]) {
            let want = half_portable(&mut Lanes::keyed(&[c]), c);
            assert!(want <= c);
            let mut l = Lanes::keyed(&[c]);
            assert_eq!(half(isa, &mut l, c), want, "{isa:?}, c = {c}");
            // SAFETY: the CPU has POPCNT wherever it has AVX2.
            let mut l2 = Lanes::keyed(&[c]);
            assert_eq!(unsafe { half_words_popcnt(isa, &mut l2, c) }, want);
            assert_eq!(l.s, l2.s);
        }
        for (rep, t) in (0..2000).zip((0..).map(|k| (k * 37) % 5000)) {
            let mut out = [0u64; 8];
            let mut lanes = Lanes::keyed(&[11, rep]);
            split_halves(isa, &mut lanes, t, &mut out);
            let mut other = [0u64; 8];
            let mut l2 = Lanes::keyed(&[11, rep]);
            split_halves(Isa::Portable, &mut l2, t, &mut other);
            assert_eq!(out, other, "{isa:?}, t = {t}");
            assert_eq!(lanes.s, l2.s);
        }
    }
    isa_tests!(splits_match_portable: splits_avx2, splits_avx512);

    /// The in-register popcount path of the AVX-512 split, where the CPU has VPOPCNTDQ (`half`
    /// takes it there, so `splits_avx512` covers it too; this names it).
    #[cfg(target_arch = "x86_64")]
    #[test]
    #[cfg_attr(not(vhframe_cpu_avx512_popcnt), ignore = "CPU lacks AVX-512 VPOPCNTDQ")]
    fn half_avx512_popcnt_matches_portable() {
        assert!(
            cpu::avx512_popcnt(),
            "built as having VPOPCNTDQ: rebuild here"
        );
        for c in (0..1100).chain([4095, 4096, 4097, 9000]) {
            let want = half_portable(&mut Lanes::keyed(&[c]), c);
            let mut l = Lanes::keyed(&[c]);
            // SAFETY: the CPU has AVX-512 F and VPOPCNTDQ (asserted above).
            assert_eq!(unsafe { x86::half_avx512(&mut l, c) }, want, "c = {c}");
        }
    }

    /// Whole passes of both sinks on `isa`, through every kind of block, sum exactly what the
    /// portable path sums.
    fn passes_match_portable(isa: Isa) {
        // Three full super-blocks and a short one of a full block and a short block.
        let n = 3 * SUPER + ROWS + 265;
        let xy = pairs(n);
        let x: Vec<f64> = xy.iter().map(|p| p[0]).collect();
        let run = |isa: Isa| {
            let mut pairs = vec![PairAcc::default(); 5];
            keyed_pass(&PairSink(&xy), n, &[7], 0, isa, &mut pairs);
            let mut sums = vec![SumAcc::default(); 5];
            keyed_pass(&SumSink(&x), n, &[7], 0, isa, &mut sums);
            (pairs, sums)
        };
        let (got, portable) = (run(isa), run(Isa::Portable));
        assert_eq!(got, portable, "{isa:?}");
        assert_ne!(got.0[0], got.0[1]);
        assert_ne!(got.1[0], got.1[1]);
    }
    isa_tests!(passes_match_portable: passes_avx2, passes_avx512);

    /// Counts how often each item is drawn, through the gather interface, with blocks of
    /// `1 << B` items of `1 << S` bytes like the sink it checks.
    struct Count<const B: u32, const S: u32>(usize);
    impl<const B: u32, const S: u32> GatherSink for Count<B, S> {
        type Acc = Vec<u32>;
        type Stage = usize;
        const BITS: u32 = B;
        const SHIFT: u32 = S;
        fn new_stage(&self, _isa: Isa) -> usize {
            0
        }
        fn stage(&self, stage: &mut usize, start: usize, _len: usize) {
            *stage = start;
        }
        unsafe fn gather(&self, &start: &usize, acc: &mut Vec<u32>, offs: &[u16]) {
            for &o in offs {
                let j = o as usize >> Self::SHIFT;
                assert!(o.trailing_zeros() >= S && j < 1 << B && start + j < self.0);
                acc[start + j] += 1;
            }
        }
    }

    /// With small integers every sum is exact, so each sink must reproduce exactly the
    /// count-weighted sums of the items that `Count`, with the sink's block and item sizes,
    /// sees drawn from the same streams.
    #[test]
    fn sinks_accumulate_exactly_the_drawn_items() {
        let n = 3 * SUPER + ROWS + 77;
        let xy: Vec<[f64; 2]> = (0..n)
            .map(|j| [(j % 11) as f64 - 5.0, (j % 7) as f64])
            .collect();
        let x: Vec<f64> = xy.iter().map(|p| p[0]).collect();
        let weighted = |c: &[u32]| {
            let mut want = [0.0; 5];
            for (&k, &[a, b]) in c.iter().zip(&xy) {
                for (w, v) in want.iter_mut().zip([a, b, a * a, b * b, a * b]) {
                    *w += k as f64 * v;
                }
            }
            want
        };
        let mut counts = vec![vec![0u32; n]; 4];
        keyed_pass(&Count::<9, 6>(n), n, &[3], 0, Isa::best(), &mut counts);
        let mut pairs = vec![PairAcc::default(); 4];
        keyed_pass(&PairSink(&xy), n, &[3], 0, Isa::best(), &mut pairs);
        for (c, p) in counts.iter().zip(&pairs) {
            assert_eq!(p.moments(), weighted(c));
        }
        let mut counts = vec![vec![0u32; n]; 4];
        keyed_pass(&Count::<12, 3>(n), n, &[3], 0, Isa::best(), &mut counts);
        let mut sums = vec![SumAcc::default(); 4];
        keyed_pass(&SumSink(&x), n, &[3], 0, Isa::best(), &mut sums);
        for (c, s) in counts.iter().zip(&sums) {
            assert_eq!(s.total(), weighted(c)[0]);
        }
    }

    /// Every item is drawn once on average, and the totals of a super-block, of a block and of
    /// the short last block have the variances of multinomial cells.
    fn check_marginals<const B: u32, const S: u32>() {
        let n = 3 * SUPER + ROWS + 77;
        let reps = 256;
        let block = 1usize << B;
        let last = n - (n - 1) / block * block;
        let mut total = vec![0u64; n];
        let mut sq = [0.0f64; 3];
        for b in 0..reps / 32 {
            let mut accs = vec![vec![0u32; n]; 32];
            keyed_pass(&Count::<B, S>(n), n, &[5], b * 32, Isa::best(), &mut accs);
            for acc in &accs {
                assert_eq!(acc.iter().map(|&c| c as usize).sum::<usize>(), n);
                let cells = [&acc[..SUPER], &acc[block..2 * block], &acc[n - last..]];
                for (q, cell) in sq.iter_mut().zip(cells) {
                    let c: u32 = cell.iter().sum();
                    *q += (c as f64 - cell.len() as f64).powi(2);
                }
                for (t, &c) in total.iter_mut().zip(acc) {
                    *t += c as u64;
                }
            }
        }
        let mean_first = total[..SUPER].iter().sum::<u64>() as f64 / SUPER as f64 / reps as f64;
        let mean_last = total[n - last..].iter().sum::<u64>() as f64 / last as f64 / reps as f64;
        assert!((mean_first - 1.0).abs() < 0.01, "{mean_first}");
        assert!((mean_last - 1.0).abs() < 0.05, "{mean_last}");
        // A cell of `len` items holds Binomial(n, len / n) draws: variance n p (1 - p). With
        // 256 resamples the estimate's standard error is ~9%.
        for (q, len) in sq.iter().zip([SUPER, block, last]) {
            let p = len as f64 / n as f64;
            let (var, v0) = (q / reps as f64, n as f64 * p * (1.0 - p));
            assert!((var / v0 - 1.0).abs() < 0.4, "cell of {len}: {var} vs {v0}");
        }
    }

    #[test]
    fn every_resample_draws_n_items_with_multinomial_cells() {
        check_marginals::<9, 6>();
        check_marginals::<12, 3>();
        // The item size only moves the bits an offset is taken from.
        check_marginals::<9, 0>();
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }

    /// This thread's CPU time: other work on the machine inflates wall time.
    fn thread_cpu() -> f64 {
        let mut ts = Timespec { sec: 0, nsec: 0 };
        // SAFETY: plain libc call; 3 is CLOCK_THREAD_CPUTIME_ID on Linux.
        unsafe { clock_gettime(3, &mut ts) };
        ts.sec as f64 + ts.nsec as f64 * 1e-9
    }

    fn cpu_best(reps: usize, mut f: impl FnMut()) -> f64 {
        (0..reps)
            .map(|_| {
                let t = thread_cpu();
                f();
                thread_cpu() - t
            })
            .fold(f64::INFINITY, f64::min)
    }

    #[test]
    #[ignore]
    fn time_gather_components() {
        // Resamples per pass, as the bootstrap's batch (`K=...` to try others).
        let k: usize = std::env::var("K").map_or(64, |v| v.parse().expect("K: a count"));
        let xy: Vec<[f64; 2]> = (0..1 << 20)
            .map(|i| [i as f64 * 1e-6, (i % 7) as f64])
            .collect();
        let sink = PairSink(&xy);
        for n in [8 * SUPER, 1 << 20] {
            let dt = cpu_best(3, || {
                let mut accs = vec![PairAcc::default(); k];
                keyed_pass(&sink, n, &[1], 0, Isa::best(), &mut accs);
                std::hint::black_box(&accs);
            });
            eprintln!(
                "gather_pass (n = {n}): {:.3} ns/draw",
                dt / (k * n) as f64 * 1e9
            );
        }
        let v: Vec<f64> = (0..100_000).map(|i| (i % 13) as f64).collect();
        let n = v.len();
        let dt = cpu_best(5, || {
            let mut rngs: Vec<Rng> = (0..k).map(|b| Rng::keyed(&[1, b as u64])).collect();
            let mut lanes: Vec<Lanes> = (0..k).map(|b| Lanes::keyed(&[1, b as u64])).collect();
            let mut accs = vec![SumAcc::default(); k];
            for _ in 0..10 {
                gather_pass(
                    &SumSink(&v),
                    n,
                    Isa::best(),
                    &mut rngs,
                    &mut lanes,
                    &mut accs,
                );
            }
            std::hint::black_box(&accs);
        });
        eprintln!(
            "gather_pass, sums (n = {n}): {:.3} ns/draw",
            dt / (10 * k * n) as f64 * 1e9
        );
        let isa = Isa::best();
        let mut lanes = Lanes::keyed(&[2]);
        let mut offs = vec![0u16; CHUNK];
        let reps = 20_000;
        let dt = cpu_best(3, || {
            for _ in 0..reps {
                fill(isa, &mut lanes, &mut offs, 0xFFF0);
            }
            std::hint::black_box(&offs);
        });
        eprintln!(
            "fill ({isa:?}): {:.3} ns/draw",
            dt / (reps * CHUNK) as f64 * 1e9
        );
        let mut acc = PairAcc::default();
        let mut stage = sink.new_stage(isa);
        sink.stage(&mut stage, 0, ROWS);
        fill(isa, &mut lanes, &mut offs, 0x7FC0);
        let dt = cpu_best(3, || {
            for _ in 0..reps {
                // SAFETY: the offsets are masked to rows of the stage.
                unsafe { sink.gather(&stage, &mut acc, &offs) };
            }
            std::hint::black_box(&acc);
        });
        eprintln!("gather: {:.3} ns/draw", dt / (reps * CHUNK) as f64 * 1e9);
        let dt = cpu_best(3, || {
            for r in 0..reps / 10 {
                sink.stage(&mut stage, (r % 64) * ROWS, ROWS);
                std::hint::black_box(&stage);
            }
        });
        eprintln!(
            "stage: {:.1} ns per block of {ROWS}",
            dt / (reps / 10) as f64 * 1e9
        );
        let mut out = [0u64; 8];
        let dt = cpu_best(3, || {
            for _ in 0..reps {
                split_halves(isa, &mut lanes, 4096, &mut out);
                std::hint::black_box(&out);
            }
        });
        eprintln!("split of 4096 in 8: {:.1} ns", dt / reps as f64 * 1e9);
        let mut rng = Rng::stream(3, 3);
        let mut s = 0;
        let dt = cpu_best(3, || {
            for i in 0..100_000u64 {
                s += rng.binomial((1 << 20) - i, SUPER as f64 / ((1 << 20) - i) as f64);
            }
        });
        eprintln!("binomial: {:.1} ns each ({s})", dt / 1e5 * 1e9);
    }
}
