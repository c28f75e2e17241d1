//! Permutation tests of a Pearson correlation (pairings permuted) and of a difference of means
//! (group labels permuted), with scipy's `permutation_test` conventions: when the number of
//! distinct rearrangements is at most `n_resamples` they are all enumerated and the p-value is
//! exact; otherwise random rearrangements are drawn and the p-value is `(count + 1) / (B + 1)`.
//! Two-sided p-values are twice the smaller one-sided p-value, capped at 1, and null values
//! within 100·eps·|observed| of the observed value count as ties with it.

use super::corr::check_pair;
use super::error::{check_finite, StatsError};
use super::resample::par_resamples;
use super::rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PermTest {
    pub statistic: f64,
    pub p: f64,
    /// Null-distribution size: all rearrangements when exact, else the resamples drawn.
    pub n_resamples: usize,
    pub exact: bool,
}

fn p_two_sided(null: &[f64], observed: f64, exact: bool) -> f64 {
    let gamma = (observed * f64::EPSILON * 100.0).abs();
    let adjustment = if exact { 0.0 } else { 1.0 };
    let b = null.len() as f64;
    let less = null.iter().filter(|&&v| v <= observed + gamma).count() as f64;
    let greater = null.iter().filter(|&&v| v >= observed - gamma).count() as f64;
    let pl = (less + adjustment) / (b + adjustment);
    let pg = (greater + adjustment) / (b + adjustment);
    (2.0 * pl.min(pg)).clamp(0.0, 1.0)
}

/// n! if it does not exceed `limit`.
fn factorial_upto(n: usize, limit: usize) -> Option<usize> {
    let mut f: usize = 1;
    for k in 2..=n {
        f = f.checked_mul(k)?;
        if f > limit {
            return None;
        }
    }
    Some(f)
}

/// C(n, k) if it does not exceed `limit`.
fn binomial_upto(n: usize, k: usize, limit: usize) -> Option<usize> {
    let k = k.min(n - k);
    let mut c: u128 = 1;
    for i in 0..k {
        c = c * (n - i) as u128 / (i + 1) as u128;
        if c > limit as u128 {
            return None;
        }
    }
    Some(c as usize)
}

pub fn check_resamples(n_resamples: usize) -> Result<(), StatsError> {
    if n_resamples < 1 {
        return Err(StatsError::invalid("n_resamples must be at least 1"));
    }
    Ok(())
}

/// Permutation test of Pearson's r: y's pairing with x is shuffled.
pub fn corr_test(
    x: &[f64],
    y: &[f64],
    n_resamples: usize,
    seed: u64,
) -> Result<PermTest, StatsError> {
    check_pair(x, y)?;
    check_resamples(n_resamples)?;
    let n = x.len();
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let dx: Vec<f64> = x.iter().map(|v| v - mx).collect();
    let dy: Vec<f64> = y.iter().map(|v| v - my).collect();
    let norm =
        dx.iter().map(|v| v * v).sum::<f64>().sqrt() * dy.iter().map(|v| v * v).sum::<f64>().sqrt();
    let r_of = |perm_y: &[f64]| dx.iter().zip(perm_y).map(|(a, b)| a * b).sum::<f64>() / norm;
    let observed = r_of(&dy);
    if let Some(total) = factorial_upto(n, n_resamples) {
        // Heap's algorithm visits every permutation once.
        let mut a = dy.clone();
        let mut c = vec![0usize; n];
        let mut null = Vec::with_capacity(total);
        null.push(r_of(&a));
        let mut i = 0;
        while i < n {
            if c[i] < i {
                if i % 2 == 0 {
                    a.swap(0, i);
                } else {
                    a.swap(c[i], i);
                }
                null.push(r_of(&a));
                c[i] += 1;
                i = 0;
            } else {
                c[i] = 0;
                i += 1;
            }
        }
        return Ok(PermTest {
            statistic: observed,
            p: p_two_sided(&null, observed, true),
            n_resamples: total,
            exact: true,
        });
    }
    let null = par_resamples(&[seed], n_resamples, 1, |_, rngs, out| {
        let mut a = dy.clone();
        for (rng, o) in rngs.iter_mut().zip(out.iter_mut()) {
            a.copy_from_slice(&dy);
            shuffle(rng, &mut a);
            *o = r_of(&a);
        }
    });
    Ok(PermTest {
        statistic: observed,
        p: p_two_sided(&null, observed, false),
        n_resamples,
        exact: false,
    })
}

fn shuffle(rng: &mut Rng, a: &mut [f64]) {
    for i in (1..a.len()).rev() {
        let j = rng.below((i + 1) as u64) as usize;
        a.swap(i, j);
    }
}

/// Permutation test of `mean(x) - mean(y)` for independent samples: the pooled values are
/// re-split at random into groups of the original sizes.
pub fn diff_means_test(
    x: &[f64],
    y: &[f64],
    n_resamples: usize,
    seed: u64,
) -> Result<PermTest, StatsError> {
    check_resamples(n_resamples)?;
    for (name, v) in [("x", x), ("y", y)] {
        if v.len() < 2 {
            return Err(StatsError::TooFew {
                what: format!("sample {name}"),
                needed: 2,
                got: v.len(),
            });
        }
        check_finite(name, v)?;
    }
    let (n1, n2) = (x.len(), y.len());
    let n = n1 + n2;
    let pooled_mean = (x.iter().sum::<f64>() + y.iter().sum::<f64>()) / n as f64;
    let z: Vec<f64> = x.iter().chain(y).map(|v| v - pooled_mean).collect();
    let total: f64 = z.iter().sum();
    let stat = |s1: f64| s1 / n1 as f64 - (total - s1) / n2 as f64;
    let observed = stat(z[..n1].iter().sum());
    if let Some(count) = binomial_upto(n, n1, n_resamples) {
        // Enumerate every n1-subset of the pooled indices (lexicographic combinations).
        let mut idx: Vec<usize> = (0..n1).collect();
        let mut null = Vec::with_capacity(count);
        loop {
            null.push(stat(idx.iter().map(|&i| z[i]).sum()));
            let mut i = n1;
            while i > 0 && idx[i - 1] == n - n1 + i - 1 {
                i -= 1;
            }
            if i == 0 {
                break;
            }
            idx[i - 1] += 1;
            for j in i..n1 {
                idx[j] = idx[j - 1] + 1;
            }
        }
        return Ok(PermTest {
            statistic: observed,
            p: p_two_sided(&null, observed, true),
            n_resamples: count,
            exact: true,
        });
    }
    let null = par_resamples(&[seed], n_resamples, 1, |_, rngs, out| {
        let mut a = z.clone();
        for (rng, o) in rngs.iter_mut().zip(out.iter_mut()) {
            a.copy_from_slice(&z);
            // Partial Fisher–Yates: the first n1 slots become a uniform random subset.
            let mut s1 = 0.0;
            for i in 0..n1 {
                let j = i + rng.below((n - i) as u64) as usize;
                a.swap(i, j);
                s1 += a[i];
            }
            *o = stat(s1);
        }
    });
    Ok(PermTest {
        statistic: observed,
        p: p_two_sided(&null, observed, false),
        n_resamples,
        exact: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_corr_small_n() {
        // Perfect monotone relation, n = 5: only the identity permutation reaches r = 1.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [2.0, 4.0, 6.0, 8.0, 10.0];
        let t = corr_test(&x, &y, 9999, 0).unwrap();
        assert!(t.exact);
        assert_eq!(t.n_resamples, 120);
        assert!((t.p - 2.0 / 120.0).abs() < 1e-15);
    }

    #[test]
    fn exact_diff_means() {
        let t = diff_means_test(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], 9999, 0).unwrap();
        assert!(t.exact);
        assert_eq!(t.n_resamples, 20);
        assert!((t.p - 0.1).abs() < 1e-15);
    }

    #[test]
    fn random_corr_thread_independent() {
        let x: Vec<f64> = (0..200).map(|i| ((i * 37) % 101) as f64).collect();
        let y: Vec<f64> = (0..200).map(|i| ((i * 53) % 97) as f64).collect();
        let run = |t: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap();
            pool.install(|| corr_test(&x, &y, 999, 5).unwrap())
        };
        let a = run(1);
        assert_eq!(a, run(2));
        assert!(!a.exact && a.p > 0.0 && a.p <= 1.0);
    }
}
