//! The multinomial resampling engine shared by every bootstrap.
//!
//! A bootstrap resample draws `n` indices uniformly with replacement. Drawn naively, each draw
//! is a random access into the whole array, which for millions of values is a cache miss per
//! draw. Here the array is cut into blocks of 2048 items; how many of the `n` draws land in each
//! block is drawn first (sequential conditional binomials, which give exactly the multinomial
//! distribution of block totals), and then that many indices are drawn uniformly inside the
//! block. The result has exactly the distribution of the naive resample, but all draws of a
//! block hit a 2048-item window that stays in L1 cache, and a batch of resamples walks the
//! blocks together so the data streams from memory once per batch rather than once per
//! resample. Inside a full block an index is 11 random bits, so one 64-bit draw yields five.
//!
//! Each resample consumes only its own stream, in a fixed order, so results do not depend on
//! how resamples are batched or which thread runs them.

use rayon::prelude::*;

use super::rng::Rng;

pub const BLOCK_BITS: u32 = 11;
pub const BLOCK: usize = 1 << BLOCK_BITS;
const MASK: u64 = (BLOCK as u64) - 1;
/// Resamples that walk the blocks together.
pub const BATCH: usize = 16;

/// What a statistic does with each drawn index.
pub trait Sink: Sync {
    type Acc: Send;
    fn add(&self, acc: &mut Self::Acc, i: usize);
    /// Five draws at once; kernels override this to shorten dependency chains.
    #[inline]
    fn add5(&self, acc: &mut Self::Acc, idx: [usize; 5]) {
        for i in idx {
            self.add(acc, i);
        }
    }
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
    let mut len_left = n;
    let mut start = 0;
    while start < n {
        let len = BLOCK.min(n - start);
        let last = len == len_left;
        for ((rng, acc), left) in rngs.iter_mut().zip(accs.iter_mut()).zip(left.iter_mut()) {
            let c = if last {
                *left
            } else {
                rng.binomial(*left, len as f64 / len_left as f64)
            };
            *left -= c;
            if len == BLOCK {
                let mut c = c;
                while c >= 5 {
                    let r = rng.next_u64();
                    let idx = [
                        start + (r & MASK) as usize,
                        start + ((r >> BLOCK_BITS) & MASK) as usize,
                        start + ((r >> (2 * BLOCK_BITS)) & MASK) as usize,
                        start + ((r >> (3 * BLOCK_BITS)) & MASK) as usize,
                        start + ((r >> (4 * BLOCK_BITS)) & MASK) as usize,
                    ];
                    sink.add5(acc, idx);
                    c -= 5;
                }
                let mut r = rng.next_u64();
                for _ in 0..c {
                    sink.add(acc, start + (r & MASK) as usize);
                    r >>= BLOCK_BITS;
                }
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

/// Runs `n_resamples` resamples in parallel batches. `run(first, rngs, out)` fills `out`
/// (`width` values per resample) for resamples `first..first + rngs.len()`, whose streams are
/// keyed by `key` followed by the resample index.
pub fn par_resamples<F>(key: &[u64], n_resamples: usize, width: usize, run: F) -> Vec<f64>
where
    F: Fn(usize, &mut [Rng], &mut [f64]) + Sync,
{
    let mut out = vec![0.0; n_resamples * width];
    out.par_chunks_mut(BATCH * width)
        .enumerate()
        .for_each(|(c, chunk)| {
            let first = c * BATCH;
            let count = chunk.len() / width;
            let mut rngs: Vec<Rng> = (0..count)
                .map(|b| {
                    let mut k = key.to_vec();
                    k.push((first + b) as u64);
                    Rng::keyed(&k)
                })
                .collect();
            run(first, &mut rngs, chunk);
        });
    out
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
