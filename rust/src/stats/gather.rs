//! The direct-accumulation resampling engine, for statistics whose per-item work is a few
//! adds or multiply-adds: Pearson's five moments, and plain sums (bootstrap means).
//!
//! Block totals are drawn exactly as in `resample` (sequential conditional binomials over
//! blocks of `BLOCK` items), but inside a full block each draw is accumulated as it is drawn:
//! one load of the drawn item from the cache-resident block and a few multiply-adds, instead of
//! a histogram increment per draw plus a dense pass over the whole block per resample. The
//! random bits come from eight xoshiro256++ lanes stepped together (`rng::Lanes`), one 16-bit
//! field per draw, turned into byte offsets with a single mask: the random bits then cost well
//! under one instruction per draw.
//!
//! Determinism: each resample owns its `Rng` (block totals, partial last block) and its
//! `Lanes` (draws in full blocks), both keyed by the resample. The offsets are integers, so
//! every instruction set produces the same ones; the accumulation uses one fixed assignment of
//! draws to accumulators (draw `t` of a call to accumulator `t % ACCS`) and fused multiply-adds
//! that the portable path reproduces with `f64::mul_add`, so the sums are bit-identical on
//! every path.

use super::resample::{block_total, par_batches};
use super::rng::{Lanes, Rng, LANES};

pub const BITS: u32 = 12;
pub const BLOCK: usize = 1 << BITS;
/// 16-bit fields (draws) per step of the lanes.
const PER_STEP: usize = LANES * 4;
/// Offsets generated, then consumed, at a time: a multiple of `PER_STEP` and of `ACCS`.
const CHUNK: usize = 1024;
/// Independent accumulators, enough to hide the latency of the add chains.
pub const ACCS: usize = 4;

/// What a statistic does with the items drawn in a block.
pub trait GatherSink: Sync {
    type Acc: Send;
    /// log2 of the byte size of one item; `BITS + SHIFT` must not exceed 16.
    const SHIFT: u32;
    /// Accumulates the items at byte offsets `offs` from item `start`; draw `t` goes to
    /// accumulator `t % ACCS`. Every offset is below `len << SHIFT`, where `len` is the
    /// length of the block at `start` (`BLOCK` or the shorter last block).
    fn gather(&self, acc: &mut Self::Acc, start: usize, offs: &[u16]);
    /// Hints that part `part` of `parts` of the block at `start` is needed soon.
    fn prefetch(&self, _start: usize, _part: usize, _parts: usize) {}
}

/// Asks for the cache lines of `data` into L2 (not L1, which holds the block in use).
#[inline(always)]
fn prefetch_l2<T>(data: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T1};
        let bytes = std::mem::size_of_val(data);
        let p = data.as_ptr().cast::<i8>();
        for off in (0..bytes).step_by(64) {
            // SAFETY: a prefetch never faults, and the address is inside `data`.
            unsafe { _mm_prefetch::<_MM_HINT_T1>(p.add(off)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

#[cfg(test)]
thread_local! {
    /// Lets tests run the portable path on a machine that has the vector ones.
    static PORTABLE_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn isa() -> Isa {
    #[cfg(test)]
    if PORTABLE_ONLY.get() {
        return Isa::Portable;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") {
            return Isa::Avx512;
        }
        if is_x86_feature_detected!("avx2") {
            return Isa::Avx2;
        }
    }
    Isa::Portable
}

/// Fills `out` (a multiple of `PER_STEP` long) with byte offsets: each 16-bit field of the
/// lanes' output, shifted right by `r` and masked to `mask`. Field `f` of lane `l` at step
/// `i` lands at `out[PER_STEP * i + 4 * l + f]`, on every path.
fn fill_portable(lanes: &mut Lanes, out: &mut [u16], r: u32, mask: u16) {
    for chunk in out.chunks_exact_mut(PER_STEP) {
        let w = lanes.step();
        for (o, v) in chunk.chunks_exact_mut(4).zip(w) {
            for (f, x) in o.iter_mut().enumerate() {
                *x = ((v >> (16 * f)) as u16 >> r) & mask;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Lanes, PER_STEP};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f,avx512bw")]
    pub fn fill_avx512(lanes: &mut Lanes, out: &mut [u16], r: u32, mask: u16) {
        // SAFETY: each state row is 8 u64 (64 bytes) and each store writes PER_STEP u16
        // (64 bytes) inside `out`, whose length is a multiple of PER_STEP.
        unsafe {
            let p = lanes.s.as_mut_ptr();
            let (mut s0, mut s1, mut s2, mut s3) = (
                _mm512_loadu_si512(p.cast()),
                _mm512_loadu_si512(p.add(1).cast()),
                _mm512_loadu_si512(p.add(2).cast()),
                _mm512_loadu_si512(p.add(3).cast()),
            );
            let m = _mm512_set1_epi16(mask as i16);
            let count = _mm_cvtsi32_si128(r as i32);
            for chunk in out.chunks_exact_mut(PER_STEP) {
                let res = _mm512_add_epi64(_mm512_rol_epi64::<23>(_mm512_add_epi64(s0, s3)), s0);
                let t = _mm512_slli_epi64::<17>(s1);
                s2 = _mm512_xor_si512(s2, s0);
                s3 = _mm512_xor_si512(s3, s1);
                s1 = _mm512_xor_si512(s1, s2);
                s0 = _mm512_xor_si512(s0, s3);
                s2 = _mm512_xor_si512(s2, t);
                s3 = _mm512_rol_epi64::<45>(s3);
                let o = _mm512_and_si512(_mm512_srl_epi16(res, count), m);
                _mm512_storeu_si512(chunk.as_mut_ptr().cast(), o);
            }
            _mm512_storeu_si512(p.cast(), s0);
            _mm512_storeu_si512(p.add(1).cast(), s1);
            _mm512_storeu_si512(p.add(2).cast(), s2);
            _mm512_storeu_si512(p.add(3).cast(), s3);
        }
    }

    #[inline(always)]
    fn rol<const L: i32, const R: i32>(x: __m256i) -> __m256i {
        // SAFETY: only called from AVX2 functions.
        unsafe { _mm256_or_si256(_mm256_slli_epi64::<L>(x), _mm256_srli_epi64::<R>(x)) }
    }

    #[target_feature(enable = "avx2")]
    pub fn fill_avx2(lanes: &mut Lanes, out: &mut [u16], r: u32, mask: u16) {
        // SAFETY: each half-row is 4 u64 (32 bytes) inside a state row of 8, and each step
        // writes two 32-byte halves of a PER_STEP-long chunk of `out`.
        unsafe {
            let p = lanes.s.as_mut_ptr().cast::<u64>();
            let ld = |k: usize| _mm256_loadu_si256(p.add(4 * k).cast());
            // Lanes 0-3 and 4-7, as two independent chains.
            let mut a = [ld(0), ld(2), ld(4), ld(6)];
            let mut b = [ld(1), ld(3), ld(5), ld(7)];
            let m = _mm256_set1_epi16(mask as i16);
            let count = _mm_cvtsi32_si128(r as i32);
            let step = |s: &mut [__m256i; 4]| {
                let res = _mm256_add_epi64(rol::<23, 41>(_mm256_add_epi64(s[0], s[3])), s[0]);
                let t = _mm256_slli_epi64::<17>(s[1]);
                s[2] = _mm256_xor_si256(s[2], s[0]);
                s[3] = _mm256_xor_si256(s[3], s[1]);
                s[1] = _mm256_xor_si256(s[1], s[2]);
                s[0] = _mm256_xor_si256(s[0], s[3]);
                s[2] = _mm256_xor_si256(s[2], t);
                s[3] = rol::<45, 19>(s[3]);
                _mm256_and_si256(_mm256_srl_epi16(res, count), m)
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

fn fill(isa: Isa, lanes: &mut Lanes, out: &mut [u16], r: u32, mask: u16) {
    debug_assert_eq!(out.len() % PER_STEP, 0);
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa()` found AVX-512 F and BW.
        Isa::Avx512 => unsafe { x86::fill_avx512(lanes, out, r, mask) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa()` found AVX2.
        Isa::Avx2 => unsafe { x86::fill_avx2(lanes, out, r, mask) },
        Isa::Portable => fill_portable(lanes, out, r, mask),
    }
}

/// One multinomial resample of `0..n` per resample k, from `rngs[k]` and `lanes[k]`, feeding
/// `accs[k]`.
pub fn gather_pass<S: GatherSink>(
    sink: &S,
    n: usize,
    rngs: &mut [Rng],
    lanes: &mut [Lanes],
    accs: &mut [S::Acc],
) {
    const { assert!(CHUNK.is_multiple_of(PER_STEP) && CHUNK.is_multiple_of(ACCS)) };
    assert!(BITS + S::SHIFT <= 16);
    let isa = isa();
    let r = 16 - BITS - S::SHIFT;
    let mask = ((BLOCK - 1) << S::SHIFT) as u16;
    let mut left = vec![n as u64; rngs.len()];
    let mut offs = [0u16; CHUNK];
    let mut len_left = n;
    let mut start = 0;
    while start < n {
        let len = BLOCK.min(n - start);
        let next = start + len;
        let parts = rngs.len();
        for (part, (((rng, lanes), acc), left)) in rngs
            .iter_mut()
            .zip(lanes.iter_mut())
            .zip(accs.iter_mut())
            .zip(left.iter_mut())
            .enumerate()
        {
            // Each resample brings in a slice of the next block, so that the first draws
            // there do not wait on memory.
            if next < n {
                sink.prefetch(next, part, parts);
            }
            let mut c = block_total(rng, left, len, len_left) as usize;
            while c > 0 {
                let m = c.min(CHUNK);
                let o = &mut offs[..m];
                if len == BLOCK {
                    // Whole steps: the unused fields of the last step are dropped.
                    let steps = m.div_ceil(PER_STEP) * PER_STEP;
                    fill(isa, lanes, &mut offs[..steps], r, mask);
                } else {
                    for x in o.iter_mut() {
                        *x = (rng.below(len as u64) << S::SHIFT) as u16;
                    }
                }
                sink.gather(acc, start, &offs[..m]);
                c -= m;
            }
        }
        len_left -= len;
        start += len;
    }
}

/// Runs `n_resamples` resamples of `0..n` through `sink` in parallel batches of `batch` and
/// returns `stat` of each one's accumulator. Resample `b`'s streams are keyed by `key`
/// followed by `b`, as in `resample::par_resamples`, so results do not depend on the batching
/// or the thread count.
pub fn par_gather<S, F>(
    sink: &S,
    n: usize,
    key: &[u64],
    n_resamples: usize,
    batch: usize,
    stat: F,
) -> Vec<f64>
where
    S: GatherSink,
    S::Acc: Clone + Default,
    F: Fn(&S::Acc) -> f64 + Sync,
{
    par_batches(n_resamples, 1, batch, |first, out| {
        let keys: Vec<Vec<u64>> = (0..out.len())
            .map(|b| key.iter().copied().chain([(first + b) as u64]).collect())
            .collect();
        let mut rngs: Vec<Rng> = keys.iter().map(|k| Rng::keyed(k)).collect();
        let mut lanes: Vec<Lanes> = keys.iter().map(|k| Lanes::keyed(k)).collect();
        let mut accs = vec![S::Acc::default(); out.len()];
        gather_pass(sink, n, &mut rngs, &mut lanes, &mut accs);
        for (o, a) in out.iter_mut().zip(&accs) {
            *o = stat(a);
        }
    })
}

/// Sums of x, y, x², y² and xy per accumulator, as `[x, y]` pairs: `a` holds (x, y), `b`
/// (x², y²), `c` (xy, yx) (both lanes of `c` hold the same value).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PairAcc {
    a: [[f64; 2]; ACCS],
    b: [[f64; 2]; ACCS],
    c: [[f64; 2]; ACCS],
}

impl PairAcc {
    /// Sums of x, y, x², y², xy, reduced in a fixed order.
    pub fn moments(&self) -> [f64; 5] {
        let tree = |v: &[[f64; 2]; ACCS], l: usize| (v[0][l] + v[1][l]) + (v[2][l] + v[3][l]);
        [
            tree(&self.a, 0),
            tree(&self.a, 1),
            tree(&self.b, 0),
            tree(&self.b, 1),
            tree(&self.c, 0),
        ]
    }
}

/// Interleaved (x, y) pairs, 16 bytes each.
pub struct PairSink<'a>(pub &'a [[f64; 2]]);

fn pair_gather_portable(block: &[[f64; 2]], offs: &[u16], acc: &mut PairAcc) {
    for (t, &o) in offs.iter().enumerate() {
        let j = t % ACCS;
        let [x, y] = block[o as usize >> 4];
        acc.a[j][0] += x;
        acc.a[j][1] += y;
        acc.b[j][0] = x.mul_add(x, acc.b[j][0]);
        acc.b[j][1] = y.mul_add(y, acc.b[j][1]);
        acc.c[j][0] = x.mul_add(y, acc.c[j][0]);
        acc.c[j][1] = y.mul_add(x, acc.c[j][1]);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,fma")]
fn pair_gather_fma(block: &[[f64; 2]], offs: &[u16], acc: &mut PairAcc) {
    use std::arch::x86_64::*;
    debug_assert!(offs.iter().all(|&o| (o as usize >> 4) < block.len()));
    let base = block.as_ptr().cast::<u8>();
    // SAFETY: every offset addresses a whole pair inside `block` (the caller's contract,
    // checked in `PairSink::gather`), and the accumulators are arrays of two f64.
    unsafe {
        let ld = |v: &[[f64; 2]; ACCS]| v.map(|p| _mm_loadu_pd(p.as_ptr()));
        let (mut a, mut b, mut c) = (ld(&acc.a), ld(&acc.b), ld(&acc.c));
        let mut it = offs.chunks_exact(ACCS);
        for ch in &mut it {
            for j in 0..ACCS {
                let v = _mm_loadu_pd(base.add(ch[j] as usize).cast());
                let s = _mm_permute_pd::<1>(v);
                a[j] = _mm_add_pd(a[j], v);
                b[j] = _mm_fmadd_pd(v, v, b[j]);
                c[j] = _mm_fmadd_pd(v, s, c[j]);
            }
        }
        for (j, &o) in it.remainder().iter().enumerate() {
            let v = _mm_loadu_pd(base.add(o as usize).cast());
            let s = _mm_permute_pd::<1>(v);
            a[j] = _mm_add_pd(a[j], v);
            b[j] = _mm_fmadd_pd(v, v, b[j]);
            c[j] = _mm_fmadd_pd(v, s, c[j]);
        }
        for j in 0..ACCS {
            _mm_storeu_pd(acc.a[j].as_mut_ptr(), a[j]);
            _mm_storeu_pd(acc.b[j].as_mut_ptr(), b[j]);
            _mm_storeu_pd(acc.c[j].as_mut_ptr(), c[j]);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn has_fma() -> bool {
    #[cfg(test)]
    if PORTABLE_ONLY.get() {
        return false;
    }
    is_x86_feature_detected!("avx") && is_x86_feature_detected!("fma")
}

impl GatherSink for PairSink<'_> {
    type Acc = PairAcc;
    const SHIFT: u32 = 4;
    #[inline]
    fn gather(&self, acc: &mut PairAcc, start: usize, offs: &[u16]) {
        let block = &self.0[start..(start + BLOCK).min(self.0.len())];
        // Full blocks take masked offsets, always in range; check the rest.
        assert!(block.len() == BLOCK || offs.iter().all(|&o| (o as usize >> 4) < block.len()));
        #[cfg(target_arch = "x86_64")]
        if has_fma() {
            // SAFETY: the CPU supports AVX and FMA.
            return unsafe { pair_gather_fma(block, offs, acc) };
        }
        pair_gather_portable(block, offs, acc)
    }

    fn prefetch(&self, start: usize, part: usize, parts: usize) {
        let block = &self.0[start..(start + BLOCK).min(self.0.len())];
        let per = block.len().div_ceil(parts);
        prefetch_l2(&block[(part * per).min(block.len())..((part + 1) * per).min(block.len())]);
    }
}

/// Sums of one column per accumulator.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SumAcc([f64; ACCS]);

impl SumAcc {
    pub fn total(&self) -> f64 {
        (self.0[0] + self.0[1]) + (self.0[2] + self.0[3])
    }
}

/// One column of values, 8 bytes each: a draw is a load and an add.
pub struct SumSink<'a>(pub &'a [f64]);

impl GatherSink for SumSink<'_> {
    type Acc = SumAcc;
    const SHIFT: u32 = 3;
    #[inline]
    fn gather(&self, acc: &mut SumAcc, start: usize, offs: &[u16]) {
        let a = &mut acc.0;
        if let Some(block) = self.0.get(start..start + BLOCK) {
            let block: &[f64; BLOCK] = block.try_into().expect("a full block");
            // The mask is a no-op on these offsets; it lets the compiler drop bounds checks.
            let at = |o: u16| block[(o as usize >> 3) & (BLOCK - 1)];
            let mut it = offs.chunks_exact(ACCS);
            for ch in &mut it {
                for j in 0..ACCS {
                    a[j] += at(ch[j]);
                }
            }
            for (j, &o) in it.remainder().iter().enumerate() {
                a[j] += at(o);
            }
        } else {
            for (t, &o) in offs.iter().enumerate() {
                a[t % ACCS] += self.0[start + (o as usize >> 3)];
            }
        }
    }

    fn prefetch(&self, start: usize, part: usize, parts: usize) {
        let block = &self.0[start..(start + BLOCK).min(self.0.len())];
        let per = block.len().div_ceil(parts);
        prefetch_l2(&block[(part * per).min(block.len())..((part + 1) * per).min(block.len())]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_identical_on_every_path() {
        let mut want = vec![0u16; 4 * PER_STEP];
        let mut l0 = Lanes::keyed(&[9, 1]);
        fill_portable(&mut l0, &mut want, 0, 0xFFF0);
        #[cfg(target_arch = "x86_64")]
        for isa in [Isa::Avx2, Isa::Avx512] {
            if isa == Isa::Avx512
                && !(is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw"))
                || isa == Isa::Avx2 && !is_x86_feature_detected!("avx2")
            {
                continue;
            }
            for (r, mask) in [(0, 0xFFF0u16), (1, 0x7FF8)] {
                let (mut a, mut b) = (Lanes::keyed(&[9, 1]), Lanes::keyed(&[9, 1]));
                let (mut x, mut y) = (vec![0u16; 4 * PER_STEP], vec![0u16; 4 * PER_STEP]);
                fill_portable(&mut a, &mut x, r, mask);
                fill(isa, &mut b, &mut y, r, mask);
                assert_eq!(x, y, "{isa:?}");
                assert_eq!(a.s, b.s);
                // Twice in a row continues the same stream.
                fill_portable(&mut a, &mut x, r, mask);
                fill(isa, &mut b, &mut y, r, mask);
                assert_eq!(x, y, "{isa:?}");
            }
        }
        // The portable lanes are xoshiro256++ as `Rng` steps it: lane 0's first output.
        let w = Lanes::keyed(&[9, 1]).step();
        assert_eq!(want[0], (w[0] as u16) & 0xFFF0);
        assert_eq!(want[5], ((w[1] >> 16) as u16) & 0xFFF0);
    }

    #[test]
    fn simd_gather_equals_portable_bit_for_bit() {
        let block: Vec<[f64; 2]> = (0..BLOCK)
            .map(|j| {
                [
                    ((j * 7919) % 1000) as f64 / 37.0 - 13.0,
                    ((j * 104_729) % 997) as f64 / 11.0 - 40.1,
                ]
            })
            .collect();
        let mut lanes = Lanes::keyed(&[4]);
        let mut offs = vec![0u16; 3 * PER_STEP];
        fill_portable(&mut lanes, &mut offs, 0, 0xFFF0);
        for m in [0, 1, 3, 4, 5, 50, 3 * PER_STEP] {
            let sink = PairSink(&block);
            let mut a = PairAcc::default();
            let mut b = PairAcc::default();
            sink.gather(&mut a, 0, &offs[..m]);
            sink.gather(&mut a, 0, &offs[..m]);
            pair_gather_portable(&block, &offs[..m], &mut b);
            pair_gather_portable(&block, &offs[..m], &mut b);
            assert_eq!(a, b, "m = {m}");
            // The sums are the plain sums up to rounding.
            let mut s = [0.0; 5];
            for &o in &offs[..m] {
                let [x, y] = block[o as usize >> 4];
                for (t, v) in s.iter_mut().zip([x, y, x * x, y * y, x * y]) {
                    *t += 2.0 * v;
                }
            }
            for (u, v) in a.moments().iter().zip(s) {
                assert!((u - v).abs() <= 1e-9 * v.abs().max(1.0), "{u} vs {v}");
            }
        }
    }

    #[test]
    fn whole_passes_are_identical_on_the_portable_path() {
        let n = 3 * BLOCK + 77;
        let xy: Vec<[f64; 2]> = (0..n)
            .map(|j| {
                [
                    ((j * 7919) % 1000) as f64 / 37.0,
                    ((j * 31) % 97) as f64 - 48.5,
                ]
            })
            .collect();
        let run = |portable: bool| {
            PORTABLE_ONLY.set(portable);
            let keys: Vec<[u64; 2]> = (0..5).map(|k| [7, k]).collect();
            let mut rngs: Vec<Rng> = keys.iter().map(|k| Rng::keyed(k)).collect();
            let mut lanes: Vec<Lanes> = keys.iter().map(|k| Lanes::keyed(k)).collect();
            let mut accs = vec![PairAcc::default(); 5];
            gather_pass(&PairSink(&xy), n, &mut rngs, &mut lanes, &mut accs);
            PORTABLE_ONLY.set(false);
            accs
        };
        let (native, portable) = (run(false), run(true));
        assert_eq!(native, portable);
        assert_ne!(native[0], native[1]);
    }

    /// Counts how often each pair is drawn, through the gather interface.
    struct Count(usize);
    impl GatherSink for Count {
        type Acc = Vec<u32>;
        const SHIFT: u32 = 4;
        fn gather(&self, acc: &mut Vec<u32>, start: usize, offs: &[u16]) {
            for &o in offs {
                let i = start + (o as usize >> 4);
                assert!(i < self.0);
                acc[i] += 1;
            }
        }
    }

    /// With small integers every sum is exact, so each sink must reproduce exactly the
    /// count-weighted sums of the items that `Count` sees drawn from the same streams.
    #[test]
    fn sinks_accumulate_exactly_the_drawn_items() {
        let n = 3 * BLOCK + 77;
        let xy: Vec<[f64; 2]> = (0..n)
            .map(|j| [(j % 11) as f64 - 5.0, (j % 7) as f64])
            .collect();
        let x: Vec<f64> = xy.iter().map(|p| p[0]).collect();
        let streams = || {
            let keys: Vec<[u64; 2]> = (0..4).map(|k| [3, k]).collect();
            let rngs: Vec<Rng> = keys.iter().map(|k| Rng::keyed(k)).collect();
            let lanes: Vec<Lanes> = keys.iter().map(|k| Lanes::keyed(k)).collect();
            (rngs, lanes)
        };
        let (mut r, mut l) = streams();
        let mut counts = vec![vec![0u32; n]; 4];
        gather_pass(&Count(n), n, &mut r, &mut l, &mut counts);
        let (mut r, mut l) = streams();
        let mut pairs = vec![PairAcc::default(); 4];
        gather_pass(&PairSink(&xy), n, &mut r, &mut l, &mut pairs);
        let (mut r, mut l) = streams();
        let mut sums = vec![SumAcc::default(); 4];
        gather_pass(&SumSink(&x), n, &mut r, &mut l, &mut sums);
        for ((c, p), s) in counts.iter().zip(&pairs).zip(&sums) {
            let mut want = [0.0; 5];
            for (&k, &[a, b]) in c.iter().zip(&xy) {
                for (w, v) in want.iter_mut().zip([a, b, a * a, b * b, a * b]) {
                    *w += k as f64 * v;
                }
            }
            assert_eq!(p.moments(), want);
            assert_eq!(s.total(), want[0]);
        }
    }

    #[test]
    fn every_resample_draws_n_items_with_uniform_marginals() {
        let n = 3 * BLOCK + 77;
        let reps = 64;
        let mut total = vec![0u64; n];
        let mut per_block_sq = 0.0;
        for b in 0..reps / 16 {
            let keys: Vec<[u64; 2]> = (0..16).map(|k| [5, (b * 16 + k) as u64]).collect();
            let mut rngs: Vec<Rng> = keys.iter().map(|k| Rng::keyed(k)).collect();
            let mut lanes: Vec<Lanes> = keys.iter().map(|k| Lanes::keyed(k)).collect();
            let mut accs = vec![vec![0u32; n]; 16];
            gather_pass(&Count(n), n, &mut rngs, &mut lanes, &mut accs);
            for acc in &accs {
                assert_eq!(acc.iter().map(|&c| c as usize).sum::<usize>(), n);
                let first: u32 = acc[..BLOCK].iter().sum();
                per_block_sq += (first as f64 - BLOCK as f64).powi(2);
                for (t, &c) in total.iter_mut().zip(acc) {
                    *t += c as u64;
                }
            }
        }
        let mean_first = total[..BLOCK].iter().sum::<u64>() as f64 / BLOCK as f64 / reps as f64;
        let mean_last = total[3 * BLOCK..].iter().sum::<u64>() as f64 / 77.0 / reps as f64;
        assert!((mean_first - 1.0).abs() < 0.01, "{mean_first}");
        assert!((mean_last - 1.0).abs() < 0.05, "{mean_last}");
        // A block's total is Binomial(n, BLOCK / n): variance n p (1 - p).
        let p = BLOCK as f64 / n as f64;
        let var = per_block_sq / reps as f64;
        let v0 = n as f64 * p * (1.0 - p);
        assert!((var / v0 - 1.0).abs() < 0.5, "{var} vs {v0}");
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
        let k = 16;
        let xy: Vec<[f64; 2]> = (0..1 << 20)
            .map(|i| [i as f64 * 1e-6, (i % 7) as f64])
            .collect();
        let sink = PairSink(&xy);
        for n in [8 * BLOCK, 1 << 20] {
            let dt = cpu_best(3, || {
                let mut rngs: Vec<Rng> = (0..k).map(|b| Rng::keyed(&[1, b as u64])).collect();
                let mut lanes: Vec<Lanes> = (0..k).map(|b| Lanes::keyed(&[1, b as u64])).collect();
                let mut accs = vec![PairAcc::default(); k];
                gather_pass(&sink, n, &mut rngs, &mut lanes, &mut accs);
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
                gather_pass(&SumSink(&v), n, &mut rngs, &mut lanes, &mut accs);
            }
            std::hint::black_box(&accs);
        });
        eprintln!(
            "gather_pass, sums (n = {n}): {:.3} ns/draw",
            dt / (10 * k * n) as f64 * 1e9
        );
        let isa = isa();
        let mut lanes = Lanes::keyed(&[2]);
        let mut offs = vec![0u16; CHUNK];
        let reps = 20_000;
        let dt = cpu_best(3, || {
            for _ in 0..reps {
                fill(isa, &mut lanes, &mut offs, 0, 0xFFF0);
            }
            std::hint::black_box(&offs);
        });
        eprintln!(
            "fill ({isa:?}): {:.3} ns/draw",
            dt / (reps * CHUNK) as f64 * 1e9
        );
        let mut acc = PairAcc::default();
        let dt = cpu_best(3, || {
            for r in 0..reps {
                sink.gather(&mut acc, (r % 2) * BLOCK, &offs);
            }
            std::hint::black_box(&acc);
        });
        eprintln!("gather: {:.3} ns/draw", dt / (reps * CHUNK) as f64 * 1e9);
        let mut rng = Rng::stream(3, 3);
        let mut s = 0;
        let dt = cpu_best(3, || {
            for i in 0..100_000u64 {
                s += rng.binomial((1 << 20) - i, BLOCK as f64 / ((1 << 20) - i) as f64);
            }
        });
        eprintln!("binomial: {:.1} ns each ({s})", dt / 1e5 * 1e9);
    }
}
