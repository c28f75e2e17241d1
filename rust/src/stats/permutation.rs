//! Permutation tests of a correlation (Pearson, Spearman or Kendall; pairings permuted), of a
//! difference of means (group labels permuted) and of the mean of paired differences (signs
//! flipped), with scipy's `permutation_test` conventions: when the number of distinct
//! rearrangements is at most `n_resamples` they are all enumerated and the p-value is exact;
//! otherwise random rearrangements are drawn and the p-value is `(count + 1) / (B + 1)`.
//! "less" and "greater" count null values at or below, at or above the observed one;
//! two-sided p-values are twice the smaller of the two, capped at 1. Null values within
//! 100·eps·|observed| of the observed value count as ties with it.

use super::alternative::Alternative;
use super::corr::{average_ranks, check_pair, CorrKind};
use super::error::{check_finite, check_memory, StatsError};
use super::rankcorr::{tau_b_sorted, Groups, Scratch};
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

fn p_value(null: &[f64], observed: f64, exact: bool, alt: Alternative) -> f64 {
    let gamma = (observed * f64::EPSILON * 100.0).abs();
    let adjustment = if exact { 0.0 } else { 1.0 };
    let b = null.len() as f64;
    let less = null.iter().filter(|&&v| v <= observed + gamma).count() as f64;
    let greater = null.iter().filter(|&&v| v >= observed - gamma).count() as f64;
    alt.from_tails(
        (less + adjustment) / (b + adjustment),
        (greater + adjustment) / (b + adjustment),
    )
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

/// Fails unless a null distribution of `size` values (at most `n_resamples`) can be held.
fn check_null(n_resamples: usize, size: usize) -> Result<(), StatsError> {
    let purpose = if size < n_resamples {
        format!("the exact null distribution ({size} rearrangements)")
    } else {
        "the null distribution".to_string()
    };
    check_memory("n_resamples", n_resamples, size as u128 * 8, &purpose)
}

/// The null distribution of `stat` over pairings of `ys` with fixed x positions: every
/// permutation of `ys` when there are at most `n_resamples` (Heap's algorithm), else
/// `n_resamples` uniform random ones. Returns the test of the identity pairing.
fn pairings_test<F>(
    ys: &[f64],
    n_resamples: usize,
    seed: u64,
    alt: Alternative,
    stat: F,
) -> Result<PermTest, StatsError>
where
    F: Fn(&[f64]) -> f64 + Sync,
{
    let n = ys.len();
    let exact = factorial_upto(n, n_resamples);
    check_null(n_resamples, exact.unwrap_or(n_resamples))?;
    let observed = stat(ys);
    if let Some(total) = exact {
        let mut a = ys.to_vec();
        let mut c = vec![0usize; n];
        let mut null = Vec::with_capacity(total);
        null.push(stat(&a));
        let mut i = 0;
        while i < n {
            if c[i] < i {
                if i % 2 == 0 {
                    a.swap(0, i);
                } else {
                    a.swap(c[i], i);
                }
                null.push(stat(&a));
                c[i] += 1;
                i = 0;
            } else {
                c[i] = 0;
                i += 1;
            }
        }
        return Ok(PermTest {
            statistic: observed,
            p: p_value(&null, observed, true, alt),
            n_resamples: total,
            exact: true,
        });
    }
    let null = par_resamples(&[seed], n_resamples, 1, |_, rngs, out| {
        let mut a = ys.to_vec();
        for (rng, o) in rngs.iter_mut().zip(out.iter_mut()) {
            a.copy_from_slice(ys);
            shuffle(rng, &mut a);
            *o = stat(&a);
        }
    });
    Ok(PermTest {
        statistic: observed,
        p: p_value(&null, observed, false, alt),
        n_resamples,
        exact: false,
    })
}

/// Pearson's r of `x` with every rearrangement of `y`, as a dot product of centred values
/// over fixed norms (a permutation changes neither norm).
fn centred_dot(x: &[f64], y: &[f64]) -> (Vec<f64>, Vec<f64>, f64) {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let dx: Vec<f64> = x.iter().map(|v| v - mx).collect();
    let dy: Vec<f64> = y.iter().map(|v| v - my).collect();
    let norm =
        dx.iter().map(|v| v * v).sum::<f64>().sqrt() * dy.iter().map(|v| v * v).sum::<f64>().sqrt();
    (dx, dy, norm)
}

/// Permutation test of a correlation: y's pairing with x is shuffled. Spearman's rho is
/// Pearson's r of the average ranks, which a permutation only rearranges, so ranks are taken
/// once. Kendall's tau-b is evaluated with y's codes listed in x order, so that only the y
/// side has to move.
pub fn corr_test(
    x: &[f64],
    y: &[f64],
    kind: CorrKind,
    n_resamples: usize,
    seed: u64,
    alt: Alternative,
) -> Result<PermTest, StatsError> {
    check_pair(x, y)?;
    check_resamples(n_resamples)?;
    Ok(match kind {
        CorrKind::Pearson | CorrKind::Spearman => {
            let (dx, dy, norm) = if kind == CorrKind::Pearson {
                centred_dot(x, y)
            } else {
                centred_dot(&average_ranks(x), &average_ranks(y))
            };
            pairings_test(&dy, n_resamples, seed, alt, |perm_y| {
                dx.iter().zip(perm_y).map(|(a, b)| a * b).sum::<f64>() / norm
            })?
        }
        CorrKind::Kendall => {
            let gx = Groups::new(x);
            let gy = Groups::new(y);
            let codes = gy.codes();
            // Codes are small integers, exact as f64, so the generic shuffling can move them.
            let ys: Vec<f64> = gx.order.iter().map(|&i| codes[i as usize] as f64).collect();
            let k_y = gy.n_groups();
            pairings_test(&ys, n_resamples, seed, alt, |perm_y| {
                let mut s = Scratch::new(0, k_y);
                tau_b_sorted(&gx.bounds, |k| perm_y[k] as u32, |_| 1, &mut s)
            })?
        }
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
    alt: Alternative,
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
    let exact = binomial_upto(n, n1, n_resamples);
    check_null(n_resamples, exact.unwrap_or(n_resamples))?;
    if let Some(count) = exact {
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
            p: p_value(&null, observed, true, alt),
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
        p: p_value(&null, observed, false, alt),
        n_resamples,
        exact: false,
    })
}

/// Paired permutation test of the mean of `x - y`: under the null each pair's two values are
/// exchangeable, so each difference keeps or flips its sign at random (scipy's
/// `permutation_type="samples"` for a paired statistic). Exact over all 2^n sign patterns when
/// there are at most `n_resamples`.
pub fn paired_test(
    x: &[f64],
    y: &[f64],
    n_resamples: usize,
    seed: u64,
    alt: Alternative,
) -> Result<PermTest, StatsError> {
    check_resamples(n_resamples)?;
    if x.len() != y.len() {
        return Err(StatsError::LengthMismatch {
            what: "paired x and y".into(),
            left: x.len(),
            right: y.len(),
        });
    }
    if x.len() < 2 {
        return Err(StatsError::TooFew {
            what: "a paired test".into(),
            needed: 2,
            got: x.len(),
        });
    }
    check_finite("x", x)?;
    check_finite("y", y)?;
    let d: Vec<f64> = x.iter().zip(y).map(|(a, b)| a - b).collect();
    let n = d.len();
    // Every null value is summed in the same order as the observed one, so a sign pattern
    // that reproduces it gives it bit for bit.
    let mean_flipped = |mut bits: u64, block: &[f64]| {
        let mut s = 0.0;
        for v in block {
            s += if bits & 1 == 1 { -v } else { *v };
            bits >>= 1;
        }
        s
    };
    let observed = d.iter().sum::<f64>() / n as f64;
    let exact_count = (n < usize::BITS as usize - 1)
        .then(|| 1usize << n)
        .filter(|&c| c <= n_resamples);
    check_null(n_resamples, exact_count.unwrap_or(n_resamples))?;
    if let Some(count) = exact_count {
        let null: Vec<f64> = (0..count as u64)
            .map(|k| mean_flipped(k, &d) / n as f64)
            .collect();
        return Ok(PermTest {
            statistic: observed,
            p: p_value(&null, observed, true, alt),
            n_resamples: count,
            exact: true,
        });
    }
    let null = par_resamples(&[seed], n_resamples, 1, |_, rngs, out| {
        for (rng, o) in rngs.iter_mut().zip(out.iter_mut()) {
            // 64 signs per random word.
            let s: f64 = d
                .chunks(64)
                .map(|block| mean_flipped(rng.next_u64(), block))
                .fold(0.0, |a, b| a + b);
            *o = s / n as f64;
        }
    });
    Ok(PermTest {
        statistic: observed,
        p: p_value(&null, observed, false, alt),
        n_resamples,
        exact: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: Alternative = Alternative::TwoSided;

    #[test]
    fn exact_corr_small_n() {
        // Perfect monotone relation, n = 5: only the identity permutation reaches r = 1.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [2.0, 4.0, 6.0, 8.0, 10.0];
        for kind in [CorrKind::Pearson, CorrKind::Spearman, CorrKind::Kendall] {
            let t = corr_test(&x, &y, kind, 9999, 0, TWO).unwrap();
            assert!(t.exact);
            assert_eq!(t.n_resamples, 120);
            assert!((t.statistic - 1.0).abs() < 1e-15);
            assert!((t.p - 2.0 / 120.0).abs() < 1e-15, "{kind:?} {t:?}");
            let g = corr_test(&x, &y, kind, 9999, 0, Alternative::Greater).unwrap();
            assert!((g.p - 1.0 / 120.0).abs() < 1e-15);
            let l = corr_test(&x, &y, kind, 9999, 0, Alternative::Less).unwrap();
            assert_eq!(l.p, 1.0);
        }
    }

    #[test]
    fn kendall_null_is_the_exact_distribution_of_tau() {
        // Without ties, the permutation null of tau is Kendall's exact null, which
        // `kendall_tau_b` evaluates by its recurrence.
        let x = [0.3, 1.2, -0.5, 2.2, 0.9, 1.7];
        let y = [1.0, 0.2, -0.3, 1.9, 2.5, 0.4];
        for alt in [TWO, Alternative::Less, Alternative::Greater] {
            let t = corr_test(&x, &y, CorrKind::Kendall, 9999, 0, alt).unwrap();
            let k = super::super::corr::kendall_tau_b(&x, &y, alt).unwrap();
            assert!(t.exact && (t.statistic - k.r).abs() < 1e-15);
            assert!((t.p - k.p).abs() < 1e-12, "{alt:?}: {} vs {}", t.p, k.p);
        }
    }

    #[test]
    fn exact_diff_means() {
        let t = diff_means_test(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], 9999, 0, TWO).unwrap();
        assert!(t.exact);
        assert_eq!(t.n_resamples, 20);
        assert!((t.p - 0.1).abs() < 1e-15);
        let l = diff_means_test(
            &[1.0, 2.0, 3.0],
            &[4.0, 5.0, 6.0],
            9999,
            0,
            Alternative::Less,
        );
        assert!((l.unwrap().p - 0.05).abs() < 1e-15);
    }

    #[test]
    fn exact_sign_flip() {
        // All four differences positive: only the identity pattern reaches the observed mean.
        let x = [3.0, 5.0, 4.5, 7.0];
        let y = [1.0, 2.0, 4.0, 3.0];
        let t = paired_test(&x, &y, 9999, 0, TWO).unwrap();
        assert!(t.exact && t.n_resamples == 16);
        assert!((t.statistic - 2.375).abs() < 1e-15);
        assert!((t.p - 2.0 / 16.0).abs() < 1e-15);
        let g = paired_test(&x, &y, 9999, 0, Alternative::Greater).unwrap();
        assert!((g.p - 1.0 / 16.0).abs() < 1e-15);
        assert_eq!(
            paired_test(&x, &y, 9999, 0, Alternative::Less).unwrap().p,
            1.0
        );
        // Too few patterns allowed: random signs, p = (count + 1) / (B + 1).
        let r = paired_test(&x, &y, 15, 0, Alternative::Greater).unwrap();
        assert!(!r.exact && r.n_resamples == 15);
        assert!(r.p >= 1.0 / 16.0);
    }

    #[test]
    fn sign_flip_errors() {
        assert!(paired_test(&[1.0, 2.0], &[1.0], 99, 0, TWO)
            .unwrap_err()
            .to_string()
            .contains("lengths differ"));
        assert!(paired_test(&[1.0], &[1.0], 99, 0, TWO).is_err());
        assert!(paired_test(&[1.0, f64::NAN], &[1.0, 2.0], 99, 0, TWO).is_err());
        assert!(paired_test(&[1.0, 2.0], &[1.0, 2.0], 0, 0, TWO).is_err());
    }

    #[test]
    fn absurd_null_sizes_are_refused_before_allocating() {
        let x: Vec<f64> = (0..40).map(f64::from).collect();
        let y: Vec<f64> = x.iter().map(|v| (v * 7.0) % 11.0).collect();
        let big = 1usize << 50;
        for e in [
            corr_test(&x, &y, CorrKind::Pearson, big, 0, TWO),
            diff_means_test(&x, &y, big, 0, TWO),
            paired_test(&x, &y, big, 0, TWO),
        ] {
            let e = e.unwrap_err();
            assert!(matches!(e, StatsError::TooLarge { .. }), "{e}");
            assert!(e
                .to_string()
                .starts_with("n_resamples = 1125899906842624 would need"));
        }
        // 16! = 2.1e13 exact rearrangements fit under that count, and not in memory.
        let e = corr_test(&x[..16], &y[..16], CorrKind::Pearson, big, 0, TWO).unwrap_err();
        assert!(
            e.to_string().contains("(20922789888000 rearrangements)"),
            "{e}"
        );
        // A count that enumerates a small null exactly needs only that null.
        assert!(
            corr_test(&x[..5], &y[..5], CorrKind::Pearson, big, 0, TWO)
                .unwrap()
                .exact
        );
    }

    #[test]
    fn random_tests_thread_independent() {
        let x: Vec<f64> = (0..200).map(|i| ((i * 37) % 101) as f64).collect();
        let y: Vec<f64> = (0..200).map(|i| ((i * 53) % 97) as f64).collect();
        let run = |t: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap();
            pool.install(|| {
                let mut v: Vec<PermTest> =
                    [CorrKind::Pearson, CorrKind::Spearman, CorrKind::Kendall]
                        .iter()
                        .map(|&k| corr_test(&x, &y, k, 999, 5, TWO).unwrap())
                        .collect();
                v.push(paired_test(&x, &y, 999, 5, Alternative::Less).unwrap());
                v
            })
        };
        let a = run(1);
        assert_eq!(a, run(2));
        assert!(a.iter().all(|t| !t.exact && t.p > 0.0 && t.p <= 1.0));
    }
}
