//! The multinomial resampling engine shared by every bootstrap.
//!
//! A bootstrap resample draws `n` indices uniformly with replacement. Drawn naively, each draw
//! is a random access into the whole array, which for millions of values is a cache miss per
//! draw. Here the array is cut into blocks of 4096 items; how many of the `n` draws land in each
//! block is drawn first (sequential conditional binomials, which give exactly the multinomial
//! distribution of block totals), and then that many indices are drawn uniformly inside the
//! block. The result has exactly the distribution of the naive resample, but all draws of a
//! block hit a 4096-item window that stays in L1/L2 cache, and a batch of resamples walks the
//! blocks together so the data streams from memory once per batch rather than once per
//! resample. Inside a full block an index is 12 random bits, so one 64-bit draw yields five.
//!
//! Within a full block the draws are first counted into a small histogram (one integer
//! increment per draw) and the statistic then takes one dense, vectorisable pass over the
//! block weighting each item by its count, instead of one scattered load per draw. (Means and
//! Pearson's moments, where a draw's own work is one add of a precomputed value, use `gather`
//! instead: it skips the histogram and the dense pass.) The dense pass is compiled twice, for
//! AVX2 and for baseline x86-64, with the same operation order and no fused multiply-add, so
//! both give bit-identical results.
//!
//! Each resample consumes only its own stream, in a fixed order, so results do not depend on
//! how resamples are batched or which thread runs them.

use rayon::prelude::*;

use super::engine::Isa;
use super::rng::Rng;

pub const BLOCK_BITS: u32 = 12;
pub const BLOCK: usize = 1 << BLOCK_BITS;
const MASK: u64 = (BLOCK as u64) - 1;
/// Resamples that walk the blocks together.
pub const BATCH: usize = 16;

/// What a statistic does with drawn indices.
pub trait Sink: Sync {
    type Acc: Send;
    /// One draw of item `i`.
    fn add(&self, acc: &mut Self::Acc, i: usize);
    /// A full block starting at `start`: item `start + j` was drawn `counts[j]` times.
    #[inline]
    fn add_counts(&self, acc: &mut Self::Acc, start: usize, counts: &[u32; BLOCK]) {
        for (j, &c) in counts.iter().enumerate() {
            for _ in 0..c {
                self.add(acc, start + j);
            }
        }
    }
}

// Dense block kernels. Each has a portable version and an AVX2 version with the same lanes
// and the same final reduction tree and no fused multiply-add, so the two are bit-identical
// and results do not depend on the machine's instruction set.

#[inline(always)]
fn tree8(a: [f64; 8]) -> f64 {
    ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}

fn weighted_sum_portable(v: &[f64; BLOCK], c: &[u32; BLOCK]) -> f64 {
    let mut acc = [0.0f64; 8];
    for (vc, cc) in v.chunks_exact(8).zip(c.chunks_exact(8)) {
        for l in 0..8 {
            acc[l] += cc[l] as f64 * vc[l];
        }
    }
    tree8(acc)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{tree8, BLOCK};
    use std::arch::x86_64::*;

    #[inline(always)]
    fn lanes(v: __m256d) -> [f64; 4] {
        let mut out = [0.0; 4];
        // SAFETY: `out` has room for four f64; the caller runs with AVX enabled.
        unsafe { _mm256_storeu_pd(out.as_mut_ptr(), v) };
        out
    }

    #[target_feature(enable = "avx2")]
    pub fn weighted_sum(v: &[f64; BLOCK], c: &[u32; BLOCK]) -> f64 {
        let (mut lo, mut hi) = (_mm256_setzero_pd(), _mm256_setzero_pd());
        for j in (0..BLOCK).step_by(8) {
            // SAFETY: j + 8 <= BLOCK, so all loads are in bounds.
            unsafe {
                let (v0, v1) = (
                    _mm256_loadu_pd(v.as_ptr().add(j)),
                    _mm256_loadu_pd(v.as_ptr().add(j + 4)),
                );
                let c0 = _mm256_cvtepi32_pd(_mm_loadu_si128(c.as_ptr().add(j).cast()));
                let c1 = _mm256_cvtepi32_pd(_mm_loadu_si128(c.as_ptr().add(j + 4).cast()));
                lo = _mm256_add_pd(lo, _mm256_mul_pd(c0, v0));
                hi = _mm256_add_pd(hi, _mm256_mul_pd(c1, v1));
            }
        }
        let (l, h) = (lanes(lo), lanes(hi));
        tree8([l[0], l[1], l[2], l[3], h[0], h[1], h[2], h[3]])
    }
}

/// Sum of `counts[j] * v[j]` over the full block starting at `v[0]`, on instruction set `isa`
/// (the AVX2 kernel serves AVX-512 too; every path gives the same bits).
pub fn weighted_sum(isa: Isa, v: &[f64], counts: &[u32; BLOCK]) -> f64 {
    let v: &[f64; BLOCK] = v[..BLOCK].try_into().expect("a full block");
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Portable {
        // The cached feature check is cheap next to a 4096-item pass.
        assert!(isa.available(), "this CPU lacks {}", isa.name());
        // SAFETY: the CPU has AVX2 (every `Isa` but `Portable` implies it).
        return unsafe { avx2::weighted_sum(v, counts) };
    }
    weighted_sum_portable(v, counts)
}

/// How many of the `left` draws still to place land in the next block of `len` items, when
/// `len_left` items remain (this block included); takes them from `left`. Drawn block by block
/// as sequential conditional binomials, the totals have exactly the multinomial distribution;
/// the last block takes whatever is left.
#[inline]
pub fn block_total(rng: &mut Rng, left: &mut u64, len: usize, len_left: usize) -> u64 {
    let c = if len == len_left {
        *left
    } else {
        rng.binomial(*left, len as f64 / len_left as f64)
    };
    *left -= c;
    c
}

/// One multinomial resample of `0..n` per stream in `rngs`, feeding `accs[k]` with stream k's
/// draws.
pub fn multinomial_pass<S: Sink>(sink: &S, n: usize, rngs: &mut [Rng], accs: &mut [S::Acc]) {
    let k = rngs.len();
    let mut left = [0u64; BATCH];
    let mut left_vec;
    let left: &mut [u64] = if k <= BATCH {
        &mut left[..k]
    } else {
        left_vec = vec![0u64; k];
        &mut left_vec
    };
    left.fill(n as u64);
    let mut counts = Box::new([0u32; BLOCK]);
    let mut len_left = n;
    let mut start = 0;
    while start < n {
        let len = BLOCK.min(n - start);
        for ((rng, acc), left) in rngs.iter_mut().zip(accs.iter_mut()).zip(left.iter_mut()) {
            let c = block_total(rng, left, len, len_left);
            if len == BLOCK {
                counts.fill(0);
                let mut c = c;
                while c >= 10 {
                    let (mut r, mut q) = rng.next_pair();
                    for _ in 0..5 {
                        counts[(r & MASK) as usize] += 1;
                        counts[(q & MASK) as usize] += 1;
                        r >>= BLOCK_BITS;
                        q >>= BLOCK_BITS;
                    }
                    c -= 10;
                }
                if c >= 5 {
                    let mut r = rng.next_u64();
                    for _ in 0..5 {
                        counts[(r & MASK) as usize] += 1;
                        r >>= BLOCK_BITS;
                    }
                    c -= 5;
                }
                let mut r = rng.next_u64();
                for _ in 0..c {
                    counts[(r & MASK) as usize] += 1;
                    r >>= BLOCK_BITS;
                }
                sink.add_counts(acc, start, &counts);
            } else {
                for _ in 0..c {
                    sink.add(acc, start + rng.below(len as u64) as usize);
                }
            }
        }
        len_left -= len;
        start += len;
    }
}

/// Runs `n_resamples` resamples in parallel batches of `batch`. `run(first, out)` fills `out`
/// (`width` values per resample) for resamples `first..first + out.len() / width`.
pub fn par_batches<F>(n_resamples: usize, width: usize, batch: usize, run: F) -> Vec<f64>
where
    F: Fn(usize, &mut [f64]) + Sync,
{
    let mut out = vec![0.0; n_resamples * width];
    out.par_chunks_mut(batch * width)
        .enumerate()
        .for_each(|(c, chunk)| run(c * batch, chunk));
    out
}

/// Runs `n_resamples` resamples in parallel batches. `run(first, rngs, out)` fills `out`
/// (`width` values per resample) for resamples `first..first + rngs.len()`, whose streams are
/// keyed by `key` followed by the resample index.
pub fn par_resamples<F>(key: &[u64], n_resamples: usize, width: usize, run: F) -> Vec<f64>
where
    F: Fn(usize, &mut [Rng], &mut [f64]) + Sync,
{
    par_batches(n_resamples, width, BATCH, |first, chunk| {
        let count = chunk.len() / width;
        let mut rngs: Vec<Rng> = (0..count)
            .map(|b| {
                let mut k = key.to_vec();
                k.push((first + b) as u64);
                Rng::keyed(&k)
            })
            .collect();
        run(first, &mut rngs, chunk);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Count;
    impl Sink for Count {
        type Acc = Vec<u32>;
        fn add(&self, acc: &mut Vec<u32>, i: usize) {
            acc[i] += 1;
        }
        fn add_counts(&self, acc: &mut Vec<u32>, start: usize, counts: &[u32; BLOCK]) {
            for (a, &c) in acc[start..start + BLOCK].iter_mut().zip(counts.iter()) {
                *a += c;
            }
        }
    }

    #[test]
    fn portable_weighted_sum_is_the_plain_sum() {
        let (v, c) = weighted_sum_case();
        let want: f64 = v.iter().zip(c.iter()).map(|(a, &k)| a * k as f64).sum();
        let got = weighted_sum(Isa::Portable, &v, &c);
        assert!(
            (got - want).abs() <= 1e-12 * want.abs().max(1.0),
            "{got} vs {want}"
        );
    }

    fn weighted_sum_case() -> (Vec<f64>, Box<[u32; BLOCK]>) {
        let v: Vec<f64> = (0..BLOCK)
            .map(|j| ((j * 7919) % 1000) as f64 / 37.0 - 13.0)
            .collect();
        let mut c = Box::new([0u32; BLOCK]);
        for (j, x) in c.iter_mut().enumerate() {
            *x = ((j * 31) % 5) as u32;
        }
        (v, c)
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    #[cfg_attr(not(vhframe_cpu_avx2), ignore = "CPU lacks AVX2")]
    fn avx2_weighted_sum_equals_portable_bit_for_bit() {
        assert!(Isa::Avx2.available(), "built as having AVX2: rebuild here");
        let (v, c) = weighted_sum_case();
        let va: &[f64; BLOCK] = v[..].try_into().unwrap();
        let want = weighted_sum_portable(va, &c).to_bits();
        assert_eq!(weighted_sum(Isa::Avx2, &v, &c).to_bits(), want);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    #[cfg_attr(not(vhframe_cpu_avx512), ignore = "CPU lacks AVX-512")]
    fn avx512_weighted_sum_equals_portable_bit_for_bit() {
        assert!(
            Isa::Avx512.available(),
            "built as having AVX-512: rebuild here"
        );
        let (v, c) = weighted_sum_case();
        let va: &[f64; BLOCK] = v[..].try_into().unwrap();
        let want = weighted_sum_portable(va, &c).to_bits();
        assert_eq!(weighted_sum(Isa::Avx512, &v, &c).to_bits(), want);
    }

    #[test]
    fn every_resample_draws_n_items_with_uniform_marginals() {
        let n = 3 * BLOCK + 77;
        let reps = 64;
        let mut total = vec![0u64; n];
        for b in 0..reps / BATCH {
            let mut rngs: Vec<Rng> = (0..BATCH)
                .map(|k| Rng::stream(5, (b * BATCH + k) as u64))
                .collect();
            let mut accs = vec![vec![0u32; n]; BATCH];
            multinomial_pass(&Count, n, &mut rngs, &mut accs);
            for acc in &accs {
                assert_eq!(acc.iter().map(|&c| c as usize).sum::<usize>(), n);
                for (t, &c) in total.iter_mut().zip(acc) {
                    *t += c as u64;
                }
            }
        }
        // Each block's share of draws is proportional to its length.
        let mean_last_block: f64 =
            total[3 * BLOCK..].iter().sum::<u64>() as f64 / 77.0 / reps as f64;
        let mean_first: f64 =
            total[..BLOCK].iter().sum::<u64>() as f64 / BLOCK as f64 / reps as f64;
        assert!((mean_first - 1.0).abs() < 0.01, "{mean_first}");
        assert!((mean_last_block - 1.0).abs() < 0.05, "{mean_last_block}");
    }
}

#[cfg(test)]
mod timing {
    use super::*;
    use std::time::Instant;

    struct Nothing;
    impl Sink for Nothing {
        type Acc = f64;
        fn add(&self, acc: &mut f64, _i: usize) {
            *acc += 1.0;
        }
        fn add_counts(&self, acc: &mut f64, _start: usize, counts: &[u32; BLOCK]) {
            *acc += counts[7] as f64;
        }
    }

    #[test]
    #[ignore]
    fn time_components() {
        let n = 1 << 20;
        let reps = 32;
        let t = Instant::now();
        let mut rngs: Vec<Rng> = (0..BATCH).map(|k| Rng::stream(1, k as u64)).collect();
        let mut accs = vec![0.0; BATCH];
        for _ in 0..reps / BATCH {
            multinomial_pass(&Nothing, n, &mut rngs, &mut accs);
        }
        let dt = t.elapsed().as_secs_f64();
        eprintln!(
            "draw+histogram: {:.3} ns/draw",
            dt / (reps * n) as f64 * 1e9
        );
        let v = vec![1.5f64; BLOCK];
        let counts = Box::new([1u32; BLOCK]);
        let t = Instant::now();
        let mut s = 0.0;
        for _ in 0..100_000 {
            s += weighted_sum(Isa::best(), &v, &counts);
        }
        let dt = t.elapsed().as_secs_f64();
        eprintln!(
            "dense sum: {:.3} ns/item ({s})",
            dt / (100_000 * BLOCK) as f64 * 1e9
        );
        let mut rng = Rng::stream(3, 3);
        let t = Instant::now();
        let mut x = 0u64;
        for _ in 0..10_000_000 {
            x ^= rng.next_u64();
        }
        eprintln!(
            "next_u64: {:.3} ns ({x})",
            t.elapsed().as_secs_f64() / 1e7 * 1e9
        );
        let mut counts = Box::new([0u32; BLOCK]);
        let t = Instant::now();
        for _ in 0..2_000_000 {
            let mut r = rng.next_u64();
            for _ in 0..5 {
                counts[(r & MASK) as usize] += 1;
                r >>= BLOCK_BITS;
            }
        }
        eprintln!(
            "histogram: {:.3} ns/draw ({})",
            t.elapsed().as_secs_f64() / 1e7 * 1e9,
            counts[5]
        );
        let t = Instant::now();
        let mut acc = 0u64;
        for _ in 0..100_000 {
            acc += rng.binomial(1 << 20, BLOCK as f64 / (1 << 20) as f64);
        }
        eprintln!(
            "binomial: {:.1} ns each ({acc})",
            t.elapsed().as_secs_f64() / 1e5 * 1e9
        );
    }
}
