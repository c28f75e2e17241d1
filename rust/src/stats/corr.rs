//! Pearson, Spearman and Kendall tau-b correlations with p-values computed the way scipy
//! computes them (t distribution for Pearson and Spearman; Kendall's exact null distribution
//! for small untied samples, else the tie-corrected normal approximation), for a two-sided or
//! one-sided alternative.

use super::alternative::Alternative;
use super::error::{check_finite, StatsError};
use super::special::{norm_sf, t_two_sided_p};

/// Which correlation coefficient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorrKind {
    Pearson,
    Spearman,
    Kendall,
}

impl CorrKind {
    pub fn parse(s: &str) -> Result<Self, StatsError> {
        match s {
            "pearson" => Ok(CorrKind::Pearson),
            "spearman" => Ok(CorrKind::Spearman),
            "kendall" => Ok(CorrKind::Kendall),
            other => Err(StatsError::invalid(format!(
                "correlation must be 'pearson', 'spearman' or 'kendall', got {other:?}"
            ))),
        }
    }
}

/// A correlation coefficient with its p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Corr {
    pub r: f64,
    pub p: f64,
}

pub const CONSTANT_MSG: &str = "correlation is undefined for constant input";

/// Shared checks: equal lengths, at least 3 points, finite values, neither side constant.
pub fn check_pair(x: &[f64], y: &[f64]) -> Result<(), StatsError> {
    if x.len() != y.len() {
        return Err(StatsError::LengthMismatch {
            what: "x and y".into(),
            left: x.len(),
            right: y.len(),
        });
    }
    if x.len() < 3 {
        return Err(StatsError::TooFew {
            what: "a correlation".into(),
            needed: 3,
            got: x.len(),
        });
    }
    check_finite("x", x)?;
    check_finite("y", y)?;
    for (name, v) in [("x", x), ("y", y)] {
        if v.iter().all(|&a| a == v[0]) {
            return Err(StatsError::invalid(format!(
                "{CONSTANT_MSG} ({name} is constant)"
            )));
        }
    }
    Ok(())
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Pearson r from already-checked input, computed as scipy does (the dot product of the two
/// centred vectors, each scaled to unit norm), so that r = ±1 cases agree exactly.
pub fn pearson_r(x: &[f64], y: &[f64]) -> f64 {
    let (mx, my) = (mean(x), mean(y));
    let norm = |v: &[f64], m: f64| {
        let big = v.iter().fold(0.0f64, |a, b| a.max((b - m).abs()));
        big * v
            .iter()
            .map(|b| ((b - m) / big).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let (nx, ny) = (norm(x, mx), norm(y, my));
    let r: f64 = x
        .iter()
        .zip(y)
        .map(|(a, b)| ((a - mx) / nx) * ((b - my) / ny))
        .sum();
    r.clamp(-1.0, 1.0)
}

/// Correlation of ranks as numpy's `corrcoef` forms it (covariance over both standard
/// deviations), which is what scipy's `spearmanr` reports.
fn corrcoef(x: &[f64], y: &[f64]) -> f64 {
    let (mx, my) = (mean(x), mean(y));
    let d = (x.len() - 1) as f64;
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    (sxy / d / (sxx / d).sqrt() / (syy / d).sqrt()).clamp(-1.0, 1.0)
}

/// P-value of a correlation under the t approximation with `n - 2` df (for Pearson this is the
/// exact null distribution of r for normal data, which scipy writes as a beta distribution).
pub fn r_p_value(r: f64, n: usize, alt: Alternative) -> f64 {
    let p2 = if r.abs() >= 1.0 {
        0.0
    } else {
        let df = (n - 2) as f64;
        let t = r * (df / ((1.0 - r) * (1.0 + r))).sqrt();
        t_two_sided_p(t, df)
    };
    alt.from_symmetric(p2, r)
}

pub fn pearson(x: &[f64], y: &[f64], alt: Alternative) -> Result<Corr, StatsError> {
    check_pair(x, y)?;
    let r = pearson_r(x, y);
    Ok(Corr {
        r,
        p: r_p_value(r, x.len(), alt),
    })
}

/// Ranks 1..n, ties sharing the average of the ranks they span.
pub fn average_ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_unstable_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && v[order[j]] == v[order[i]] {
            j += 1;
        }
        // Positions i..j (0-based) share rank (i + 1 + j) / 2.
        let rank = (i + 1 + j) as f64 / 2.0;
        for &k in &order[i..j] {
            ranks[k] = rank;
        }
        i = j;
    }
    ranks
}

pub fn spearman(x: &[f64], y: &[f64], alt: Alternative) -> Result<Corr, StatsError> {
    check_pair(x, y)?;
    let (rx, ry) = (average_ranks(x), average_ranks(y));
    let r = corrcoef(&rx, &ry);
    Ok(Corr {
        r,
        p: r_p_value(r, x.len(), alt),
    })
}

/// Sums over tie groups of sizes t: (Σ t(t-1)/2, Σ t(t-1)(t-2), Σ t(t-1)(2t+5)).
fn tie_stats(sorted: &[f64]) -> (u64, f64, f64) {
    let (mut pairs, mut s0, mut s1) = (0u64, 0.0, 0.0);
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i + 1;
        while j < sorted.len() && sorted[j] == sorted[i] {
            j += 1;
        }
        let t = (j - i) as u64;
        if t > 1 {
            let tf = t as f64;
            pairs += t * (t - 1) / 2;
            s0 += tf * (tf - 1.0) * (tf - 2.0);
            s1 += tf * (tf - 1.0) * (2.0 * tf + 5.0);
        }
        i = j;
    }
    (pairs, s0, s1)
}

/// Counts pairs i < j with v[i] > v[j] (strict inversions) by merge sort; sorts `v`.
fn count_inversions(v: &mut [f64], buf: &mut Vec<f64>) -> u64 {
    let n = v.len();
    if n < 2 {
        return 0;
    }
    let mid = n / 2;
    let (left, right) = v.split_at_mut(mid);
    let mut inv = count_inversions(left, buf) + count_inversions(right, buf);
    buf.clear();
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        if right[j] < left[i] {
            // right[j] is smaller than every remaining left element.
            inv += (left.len() - i) as u64;
            buf.push(right[j]);
            j += 1;
        } else {
            buf.push(left[i]);
            i += 1;
        }
    }
    buf.extend_from_slice(&left[i..]);
    buf.extend_from_slice(&right[j..]);
    v.copy_from_slice(buf);
    inv
}

/// Kendall's exact p-value for `n` untied pairs with `c` concordant pairs, from the
/// distribution of the number of inversions of a random permutation (scipy's recurrence).
/// Callers use it for n <= 33 or c within 1 of either end, where the factorials stay finite.
fn kendall_exact_p(n: u64, concordant: u64, alt: Alternative) -> f64 {
    let tot = n * (n - 1) / 2;
    let in_right_tail = concordant >= tot - concordant;
    let c = concordant.min(tot - concordant);
    let fact = |k: u64| (1..=k).fold(1.0f64, |a, b| a * b as f64);
    // Two-sided probability (twice the lower tail up to c) and the probability of exactly c.
    let (prob, mass_at_c) = if n <= 2 {
        (1.0, 0.5)
    } else if c == 0 {
        let p = if n < 171 { 2.0 / fact(n) } else { 0.0 };
        (p, p / 2.0)
    } else if c == 1 {
        let p = if n < 172 { 2.0 / fact(n - 1) } else { 0.0 };
        (p, (n - 1) as f64 / fact(n))
    } else if 4 * c == n * (n - 1) && alt == Alternative::TwoSided {
        (1.0, 0.0)
    } else {
        let c = c as usize;
        // new[k] = number of permutations of j items with k inversions, truncated at c.
        let mut new = vec![0.0f64; c + 1];
        new[0] = 1.0;
        new[1] = 1.0;
        for j in 3..=n as usize {
            for k in 1..=c {
                new[k] += new[k - 1];
            }
            if j <= c {
                for k in (j..=c).rev() {
                    new[k] -= new[k - j];
                }
            }
        }
        (2.0 * new.iter().sum::<f64>() / fact(n), new[c] / fact(n))
    };
    let p = match alt {
        Alternative::TwoSided => prob,
        // The tail the alternative points to is the lower tail seen from c: half the
        // two-sided value; the other tail is its complement plus the mass at c itself.
        _ if in_right_tail == (alt == Alternative::Greater) => prob / 2.0,
        _ => 1.0 - prob / 2.0 + mass_at_c,
    };
    p.clamp(0.0, 1.0)
}

pub fn kendall_tau_b(x: &[f64], y: &[f64], alt: Alternative) -> Result<Corr, StatsError> {
    check_pair(x, y)?;
    let n = x.len();
    let mut order: Vec<usize> = (0..n).collect();
    // partial_cmp, not total_cmp: -0.0 and 0.0 must sort as the tie they are (inputs are finite).
    let cmp = |a: f64, b: f64| a.partial_cmp(&b).expect("finite");
    order.sort_unstable_by(|&a, &b| cmp(x[a], x[b]).then(cmp(y[a], y[b])));
    let xs: Vec<f64> = order.iter().map(|&i| x[i]).collect();
    let mut ys: Vec<f64> = order.iter().map(|&i| y[i]).collect();
    // Pairs tied on both x and y.
    let mut joint = 0u64;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && xs[j] == xs[i] && ys[j] == ys[i] {
            j += 1;
        }
        let t = (j - i) as u64;
        joint += t * (t - 1) / 2;
        i = j;
    }
    let (xtie, x0, x1) = tie_stats(&xs);
    // Within a run of equal x the y values are ascending, so x-ties add no inversions.
    let mut buf = Vec::with_capacity(n);
    let dis = count_inversions(&mut ys, &mut buf);
    let (ytie, y0, y1) = tie_stats(&ys);
    let nn = n as u64;
    let tot = nn * (nn - 1) / 2;
    let con_minus_dis = tot as f64 - xtie as f64 - ytie as f64 + joint as f64 - 2.0 * dis as f64;
    let tau = (con_minus_dis / ((tot - xtie) as f64).sqrt() / ((tot - ytie) as f64).sqrt())
        .clamp(-1.0, 1.0);
    let p = if xtie == 0 && ytie == 0 && (n <= 33 || dis.min(tot - dis) <= 1) {
        kendall_exact_p(nn, tot - dis, alt)
    } else {
        let nf = n as f64;
        let m = nf * (nf - 1.0);
        let var = (m * (2.0 * nf + 5.0) - x1 - y1) / 18.0
            + 2.0 * xtie as f64 * ytie as f64 / m
            + x0 * y0 / (9.0 * m * (nf - 2.0));
        let z = con_minus_dis / var.sqrt();
        match alt {
            Alternative::TwoSided => 2.0 * norm_sf(z.abs()),
            _ => alt.from_tails(norm_sf(-z), norm_sf(z)),
        }
    };
    Ok(Corr { r: tau, p })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties() {
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
    }

    #[test]
    fn known_values_match_scipy() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        let y = [2.0, 1.0, 4.0, 3.0, 7.0, 5.0, 6.0];
        let two = Alternative::TwoSided;
        // scipy.stats.pearsonr / spearmanr / kendalltau
        let p = pearson(&x, &y, two).unwrap();
        assert!((p.r - 0.821_428_571_428_571_5).abs() < 1e-14);
        assert!((p.p - 0.023_448_808_345_691_453).abs() < 1e-12);
        let k = kendall_tau_b(&x, &y, two).unwrap();
        assert!((k.r - 0.619_047_619_047_619_1).abs() < 1e-14);
        assert!((k.p - 0.069_047_619_047_619_05).abs() < 1e-12, "{}", k.p);
        // One-sided, scipy's `alternative=`: Kendall exact, both tails.
        let g = kendall_tau_b(&x, &y, Alternative::Greater).unwrap().p;
        let l = kendall_tau_b(&x, &y, Alternative::Less).unwrap().p;
        assert!((g - 0.034_523_809_523_809_526).abs() < 1e-14, "{g}");
        assert!((l - 0.984_920_634_920_635).abs() < 1e-14, "{l}");
        let g = pearson(&x, &y, Alternative::Greater).unwrap().p;
        assert!((g - 0.011_724_404_172_845_726).abs() < 1e-13, "{g}");
        // With a tie in y: the normal approximation.
        let y2 = [2.0, 1.0, 4.0, 3.0, 7.0, 5.0, 5.0];
        let g = kendall_tau_b(&x, &y2, Alternative::Greater).unwrap().p;
        assert!((g - 0.034_156_931_575_449_37).abs() < 1e-13, "{g}");
    }

    #[test]
    fn one_sided_tails_add_up() {
        let x = [0.3, -1.2, 2.5, 0.7, 1.1, -0.4, 0.9, 1.6];
        let y = [0.1, -0.2, 1.9, 0.2, 1.5, 0.3, -0.8, 2.2];
        for f in [pearson, spearman, kendall_tau_b] {
            let g = f(&x, &y, Alternative::Greater).unwrap();
            let l = f(&x, &y, Alternative::Less).unwrap();
            let t = f(&x, &y, Alternative::TwoSided).unwrap();
            assert!(g.r > 0.0 && g.p < l.p);
            assert!((t.p - 2.0 * g.p).abs() < 1e-12, "{t:?} {g:?}");
        }
        // Continuous null: the tails sum to 1. Kendall's exact null is discrete: the two tails
        // overlap by the probability of the observed count.
        let g = pearson(&x, &y, Alternative::Greater).unwrap().p;
        let l = pearson(&x, &y, Alternative::Less).unwrap().p;
        assert!((g + l - 1.0).abs() < 1e-12);
        let g = kendall_tau_b(&x, &y, Alternative::Greater).unwrap().p;
        let l = kendall_tau_b(&x, &y, Alternative::Less).unwrap().p;
        assert!(g + l > 1.0);
    }

    #[test]
    fn errors() {
        let two = Alternative::TwoSided;
        let e = pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0], two)
            .unwrap_err()
            .to_string();
        assert!(e.contains(CONSTANT_MSG), "{e}");
        assert!(spearman(&[1.0, 2.0], &[1.0, 2.0], two).is_err());
        assert!(kendall_tau_b(&[1.0, 2.0, f64::NAN], &[1.0, 2.0, 3.0], two).is_err());
        assert!(pearson(&[1.0, 2.0, 3.0], &[1.0, 2.0], two).is_err());
    }
}
