//! Spearman's rho and Kendall's tau-b of weighted data, for resampling.
//!
//! A bootstrap resample of n pairs is the original pairs with integer weights (how often each
//! was drawn), and a jackknife sample is the original pairs with one weight set to zero. The
//! sort order and the tie groups of x and y do not change with the weights, so they are found
//! once; each weighted statistic then costs O(n) (Spearman) or O(n log n) (Kendall) instead of
//! expanding the resample and sorting it again. Both are computed in exact integer arithmetic
//! up to the final division, so a resample that repeats the data's ranks gives the very same
//! value as the data, which BCa's bias correction relies on.
//!
//! All n leave-one-out values (BCa's jackknife) come in O(n log n) together: leaving pair i
//! out moves every other rank by -1, -1/2 or 0 according to its order relative to i, and takes
//! i's concordant, discordant and tied pairs out of Kendall's counts, so each value follows
//! from the full-data sums and a few per-pair counts.

use super::corr::CorrKind;

/// Indices sorted by value, and where each run of equal values starts in that order.
#[derive(Clone, Debug)]
pub struct Groups {
    pub order: Vec<u32>,
    /// Start of every tie group in `order`, followed by `n`.
    pub bounds: Vec<u32>,
}

impl Groups {
    /// Inputs must be finite; -0.0 and 0.0 are the tie they compare as.
    pub fn new(v: &[f64]) -> Self {
        let mut order: Vec<u32> = (0..v.len() as u32).collect();
        order.sort_by(|&a, &b| {
            v[a as usize]
                .partial_cmp(&v[b as usize])
                .expect("finite input")
        });
        let mut bounds = Vec::new();
        for (k, &i) in order.iter().enumerate() {
            if k == 0 || v[i as usize] != v[order[k - 1] as usize] {
                bounds.push(k as u32);
            }
        }
        bounds.push(v.len() as u32);
        Groups { order, bounds }
    }

    pub fn n_groups(&self) -> usize {
        self.bounds.len() - 1
    }

    /// Dense group code of every original index, 0 for the smallest value.
    pub fn codes(&self) -> Vec<u32> {
        let mut out = vec![0u32; self.order.len()];
        for (g, w) in self.bounds.windows(2).enumerate() {
            for &i in &self.order[w[0] as usize..w[1] as usize] {
                out[i as usize] = g as u32;
            }
        }
        out
    }
}

/// Writes `2 * (average rank) - (N + 1)` of every index under weights `w` (N = Σw) into `out`
/// and returns Σ w·u². Doubling keeps tied (half-integer) ranks integral; subtracting N + 1
/// centres them, since the weighted mean of average ranks is always (N + 1) / 2.
fn centred_ranks(g: &Groups, w: &[u32], total: i64, out: &mut [i64]) -> i128 {
    let mut before = 0i64;
    let mut sum_sq = 0i128;
    for b in g.bounds.windows(2) {
        let members = &g.order[b[0] as usize..b[1] as usize];
        let c: i64 = members.iter().map(|&i| w[i as usize] as i64).sum();
        // Ranks before + 1 ..= before + c average to before + (c + 1) / 2.
        let u = 2 * before + c - total;
        for &i in members {
            out[i as usize] = u;
        }
        sum_sq += c as i128 * u as i128 * u as i128;
        before += c;
    }
    sum_sq
}

/// A Fenwick tree of weights over y codes: prefix sums in O(log k).
struct Fenwick<'a>(&'a mut [u64]);

impl Fenwick<'_> {
    fn add(&mut self, code: u32, w: u64) {
        let mut i = code as usize + 1;
        while i < self.0.len() {
            self.0[i] += w;
            i += i & i.wrapping_neg();
        }
    }
    /// Total weight at codes <= `code`.
    fn upto(&self, code: u32) -> u64 {
        let mut i = code as usize + 1;
        let mut s = 0;
        while i > 0 {
            s += self.0[i];
            i -= i & i.wrapping_neg();
        }
        s
    }
}

/// Reusable buffers of one thread.
#[derive(Clone, Debug)]
pub struct Scratch {
    ux: Vec<i64>,
    uy: Vec<i64>,
    tree: Vec<u64>,
    cell: Vec<u64>,
    ytot: Vec<u64>,
}

impl Scratch {
    pub fn new(n: usize, y_codes: usize) -> Self {
        Scratch {
            ux: vec![0; n],
            uy: vec![0; n],
            tree: vec![0; y_codes + 1],
            cell: vec![0; y_codes],
            ytot: vec![0; y_codes],
        }
    }
}

/// Kendall's tau-b of items listed in ascending x order, where `bounds` delimits the runs of
/// equal x, item k has y code `y(k)` (in `0..k_y`) and weight `w(k)`. NaN when x or y is
/// constant under the weights.
///
/// Walking x groups upwards, every item already in the tree has a strictly smaller x, so an
/// item's discordant partners among them are those with a strictly larger y. Ties are counted
/// as pairs within x groups, within y codes and within (x group, y code) cells.
pub fn tau_b_sorted(
    bounds: &[u32],
    y: impl Fn(usize) -> u32,
    w: impl Fn(usize) -> u64,
    s: &mut Scratch,
) -> f64 {
    s.tree.fill(0);
    s.ytot.fill(0);
    let mut tree = Fenwick(&mut s.tree);
    let (mut dis, mut xtie, mut joint, mut inserted) = (0u64, 0u64, 0u64, 0u64);
    for b in bounds.windows(2) {
        let range = b[0] as usize..b[1] as usize;
        let mut group = 0u64;
        for k in range.clone() {
            let (c, wk) = (y(k), w(k));
            if wk > 0 {
                dis += wk * (inserted - tree.upto(c));
                s.cell[c as usize] += wk;
                group += wk;
            }
        }
        for k in range.clone() {
            let c = y(k) as usize;
            let t = s.cell[c];
            joint += t * t.saturating_sub(1) / 2;
            s.cell[c] = 0;
        }
        for k in range {
            let (c, wk) = (y(k), w(k));
            if wk > 0 {
                tree.add(c, wk);
                s.ytot[c as usize] += wk;
            }
        }
        inserted += group;
        xtie += group * group.saturating_sub(1) / 2;
    }
    let ytie: u64 = s.ytot.iter().map(|&t| t * t.saturating_sub(1) / 2).sum();
    let tot = inserted * inserted.saturating_sub(1) / 2;
    if tot == xtie || tot == ytie {
        return f64::NAN;
    }
    let con_minus_dis = tot as i128 - xtie as i128 - ytie as i128 + joint as i128 - 2 * dis as i128;
    // The order of operations is scipy's, so unweighted data give its value to the last bit.
    (con_minus_dis as f64 / ((tot - xtie) as f64).sqrt() / ((tot - ytie) as f64).sqrt())
        .clamp(-1.0, 1.0)
}

/// For every item, `Σ_j sign(code_i - code_j) * a_j`: the sum over items in lower groups minus
/// the sum over items in higher groups.
fn signed_sums(codes: &[u32], n_groups: usize, a: &[i64]) -> Vec<i128> {
    let mut group = vec![0i128; n_groups];
    for (&c, &v) in codes.iter().zip(a) {
        group[c as usize] += v as i128;
    }
    let total: i128 = group.iter().sum();
    let mut below = vec![0i128; n_groups];
    let mut acc = 0i128;
    for (b, &g) in below.iter_mut().zip(&group) {
        *b = acc;
        acc += g;
    }
    codes
        .iter()
        .map(|&c| {
            let (lo, own) = (below[c as usize], group[c as usize]);
            lo - (total - lo - own)
        })
        .collect()
}

/// For every pair, how many other pairs are concordant and how many discordant with it
/// (strictly ordered the same way, or opposite ways, in both x and y).
fn concordance_counts(x: &Groups, y_code: &[u32], k_y: usize) -> (Vec<u64>, Vec<u64>) {
    let n = y_code.len();
    let (mut con, mut dis) = (vec![0u64; n], vec![0u64; n]);
    let mut buf = vec![0u64; k_y + 1];
    let groups: Vec<&[u32]> = x
        .bounds
        .windows(2)
        .map(|b| &x.order[b[0] as usize..b[1] as usize])
        .collect();
    // Upwards every inserted pair has a smaller x; downwards a larger one.
    for upwards in [true, false] {
        buf.fill(0);
        let mut tree = Fenwick(&mut buf);
        let mut inserted = 0u64;
        let mut visit = |members: &[u32]| {
            for &i in members {
                let c = y_code[i as usize];
                let below = if c == 0 { 0 } else { tree.upto(c - 1) };
                let above = inserted - tree.upto(c);
                let (same_way, opposite) = if upwards {
                    (below, above)
                } else {
                    (above, below)
                };
                con[i as usize] += same_way;
                dis[i as usize] += opposite;
            }
            for &i in members {
                tree.add(y_code[i as usize], 1);
            }
            inserted += members.len() as u64;
        };
        if upwards {
            groups.iter().for_each(|m| visit(m));
        } else {
            groups.iter().rev().for_each(|m| visit(m));
        }
    }
    (con, dis)
}

/// Size of every item's group.
fn group_sizes(codes: &[u32], n_groups: usize) -> Vec<u64> {
    let mut size = vec![0u64; n_groups];
    for &c in codes {
        size[c as usize] += 1;
    }
    codes.iter().map(|&c| size[c as usize]).collect()
}

/// A rank correlation prepared for evaluation under many weightings of the same pairs.
#[derive(Clone, Debug)]
pub enum RankCorr {
    Spearman {
        x: Groups,
        y: Groups,
    },
    Kendall {
        x: Groups,
        y_code: Vec<u32>,
        k_y: usize,
    },
}

impl RankCorr {
    /// `kind` must be Spearman or Kendall; inputs must be finite and of equal length.
    pub fn new(kind: CorrKind, x: &[f64], y: &[f64]) -> Self {
        match kind {
            CorrKind::Spearman => RankCorr::Spearman {
                x: Groups::new(x),
                y: Groups::new(y),
            },
            CorrKind::Kendall => {
                let gy = Groups::new(y);
                RankCorr::Kendall {
                    x: Groups::new(x),
                    y_code: gy.codes(),
                    k_y: gy.n_groups(),
                }
            }
            CorrKind::Pearson => panic!("Pearson's r is not a rank correlation"),
        }
    }

    pub fn scratch(&self) -> Scratch {
        match self {
            RankCorr::Spearman { x, .. } => Scratch::new(x.order.len(), 0),
            RankCorr::Kendall { y_code, k_y, .. } => Scratch::new(y_code.len(), *k_y),
        }
    }

    /// The statistic of the pairs weighted by `w` (one weight per pair); NaN when x or y is
    /// constant under the weights.
    pub fn weighted(&self, w: &[u32], s: &mut Scratch) -> f64 {
        match self {
            RankCorr::Spearman { x, y } => {
                let total: i64 = w.iter().map(|&c| c as i64).sum();
                let sxx = centred_ranks(x, w, total, &mut s.ux);
                let syy = centred_ranks(y, w, total, &mut s.uy);
                if sxx == 0 || syy == 0 {
                    return f64::NAN;
                }
                let sxy: i128 = w
                    .iter()
                    .zip(s.ux.iter().zip(&s.uy))
                    .map(|(&c, (&a, &b))| c as i128 * (a as i128 * b as i128))
                    .sum();
                // One square root of the product: identical rankings (sxx = syy = sxy) give
                // exactly 1.
                (sxy as f64 / (sxx as f64 * syy as f64).sqrt()).clamp(-1.0, 1.0)
            }
            RankCorr::Kendall { x, y_code, .. } => {
                let order = &x.order;
                tau_b_sorted(
                    &x.bounds,
                    |k| y_code[order[k] as usize],
                    |k| w[order[k] as usize] as u64,
                    s,
                )
            }
        }
    }
}

impl RankCorr {
    /// The statistic with each pair left out in turn, equal to `weighted` with that pair's
    /// weight set to 0 (to the last bit: the same integers enter the same final formula).
    pub fn jackknife(&self) -> Vec<f64> {
        match self {
            RankCorr::Spearman { x, y } => {
                let n = x.order.len();
                let ones = vec![1u32; n];
                let (mut u, mut v) = (vec![0i64; n], vec![0i64; n]);
                let sxx = centred_ranks(x, &ones, n as i64, &mut u);
                let syy = centred_ranks(y, &ones, n as i64, &mut v);
                let sxy: i128 = u.iter().zip(&v).map(|(&a, &b)| a as i128 * b as i128).sum();
                let (cx, cy) = (x.codes(), y.codes());
                let (gx, gy) = (x.n_groups(), y.n_groups());
                let (ex_u, ex_v) = (signed_sums(&cx, gx, &u), signed_sums(&cx, gx, &v));
                let (fy_u, fy_v) = (signed_sums(&cy, gy, &u), signed_sums(&cy, gy, &v));
                let (con, dis) = concordance_counts(x, &cy, gy);
                let (tx, ty) = (group_sizes(&cx, gx), group_sizes(&cy, gy));
                (0..n)
                    .map(|i| {
                        // Without pair i, N drops to n - 1 and every other centred doubled rank
                        // moves by sign(x_i - x_j) (y likewise).
                        let (ui, vi) = (u[i] as i128, v[i] as i128);
                        let sxy_i =
                            sxy - ui * vi + fy_u[i] + ex_v[i] + (con[i] as i128 - dis[i] as i128);
                        let sxx_i = sxx - ui * ui + 2 * ex_u[i] + (n as u64 - tx[i]) as i128;
                        let syy_i = syy - vi * vi + 2 * fy_v[i] + (n as u64 - ty[i]) as i128;
                        if sxx_i == 0 || syy_i == 0 {
                            return f64::NAN;
                        }
                        (sxy_i as f64 / (sxx_i as f64 * syy_i as f64).sqrt()).clamp(-1.0, 1.0)
                    })
                    .collect()
            }
            RankCorr::Kendall { x, y_code, k_y } => {
                let n = y_code.len();
                let cx = x.codes();
                let tx = group_sizes(&cx, x.n_groups());
                let ty = group_sizes(y_code, *k_y);
                // Size of each pair's (x, y) cell.
                let mut txy = vec![0u64; n];
                let mut cell = vec![0u64; *k_y];
                for b in x.bounds.windows(2) {
                    let members = &x.order[b[0] as usize..b[1] as usize];
                    for &i in members {
                        cell[y_code[i as usize] as usize] += 1;
                    }
                    for &i in members {
                        txy[i as usize] = cell[y_code[i as usize] as usize];
                    }
                    for &i in members {
                        cell[y_code[i as usize] as usize] = 0;
                    }
                }
                let (_, dis_i) = concordance_counts(x, y_code, *k_y);
                // Each tied or discordant pair is seen from both of its members.
                let half_sum =
                    |v: &[u64], minus: u64| v.iter().map(|&t| t - minus).sum::<u64>() / 2;
                let (xtie, ytie, joint) = (half_sum(&tx, 1), half_sum(&ty, 1), half_sum(&txy, 1));
                let dis = half_sum(&dis_i, 0);
                let m = n as u64 - 1;
                let tot = m * m.saturating_sub(1) / 2;
                (0..n)
                    .map(|i| {
                        let xt = xtie - (tx[i] - 1);
                        let yt = ytie - (ty[i] - 1);
                        let jt = joint - (txy[i] - 1);
                        let d = dis - dis_i[i];
                        if tot == xt || tot == yt {
                            return f64::NAN;
                        }
                        let cmd =
                            tot as i128 - xt as i128 - yt as i128 + jt as i128 - 2 * d as i128;
                        (cmd as f64 / ((tot - xt) as f64).sqrt() / ((tot - yt) as f64).sqrt())
                            .clamp(-1.0, 1.0)
                    })
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::alternative::Alternative;
    use crate::stats::corr::{kendall_tau_b, spearman};

    /// The pairs repeated by their weights, as a resample would list them.
    fn expand(x: &[f64], y: &[f64], w: &[u32]) -> (Vec<f64>, Vec<f64>) {
        let mut ex = Vec::new();
        let mut ey = Vec::new();
        for ((&a, &b), &c) in x.iter().zip(y).zip(w) {
            for _ in 0..c {
                ex.push(a);
                ey.push(b);
            }
        }
        (ex, ey)
    }

    #[test]
    fn weighted_equals_expanded_data() {
        // Ties in both variables, including tied pairs, and -0.0 tied with 0.0.
        let x = [3.0, 1.0, 2.0, 2.0, 0.0, -0.0, 5.0, 3.0, 4.0, 1.0];
        let y = [1.0, 2.0, 2.0, 2.0, 0.5, 0.7, 4.0, 1.0, -1.0, 3.0];
        let weights: [[u32; 10]; 4] = [
            [1; 10],
            [2, 0, 1, 3, 0, 1, 1, 0, 2, 0],
            [0, 1, 1, 0, 4, 0, 2, 1, 1, 0],
            [1, 1, 1, 1, 1, 1, 1, 1, 1, 0],
        ];
        for kind in [CorrKind::Spearman, CorrKind::Kendall] {
            let rc = RankCorr::new(kind, &x, &y);
            let mut s = rc.scratch();
            for w in &weights {
                let (ex, ey) = expand(&x, &y, w);
                let want = match kind {
                    CorrKind::Spearman => spearman(&ex, &ey, Alternative::TwoSided).unwrap().r,
                    _ => kendall_tau_b(&ex, &ey, Alternative::TwoSided).unwrap().r,
                };
                let got = rc.weighted(w, &mut s);
                assert!(
                    (got - want).abs() < 1e-14,
                    "{kind:?} {w:?}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn jackknife_equals_zero_weights() {
        let cases: [(Vec<f64>, Vec<f64>); 3] = [
            (
                vec![3.0, 1.0, 2.0, 2.0, 0.0, -0.0, 5.0, 3.0, 4.0, 1.0, 2.0],
                vec![1.0, 2.0, 2.0, 2.0, 0.5, 0.7, 4.0, 1.0, -1.0, 3.0, 2.0],
            ),
            (
                (0..40).map(|i| ((i * 17) % 7) as f64).collect(),
                (0..40)
                    .map(|i| ((i * 5) % 11) as f64 - (i % 3) as f64)
                    .collect(),
            ),
            // Leaving out the single 1 makes x constant: NaN in that place.
            (vec![0.0, 0.0, 0.0, 1.0, 0.0], vec![1.0, 2.0, 3.0, 4.0, 5.0]),
        ];
        for (x, y) in &cases {
            for kind in [CorrKind::Spearman, CorrKind::Kendall] {
                let rc = RankCorr::new(kind, x, y);
                let mut s = rc.scratch();
                let jack = rc.jackknife();
                for (i, &got) in jack.iter().enumerate() {
                    let mut w = vec![1u32; x.len()];
                    w[i] = 0;
                    let want = rc.weighted(&w, &mut s);
                    assert!(
                        got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                        "{kind:?} i={i}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn constant_under_weights_is_nan() {
        let x = [1.0, 2.0, 3.0];
        let y = [3.0, 1.0, 2.0];
        for kind in [CorrKind::Spearman, CorrKind::Kendall] {
            let rc = RankCorr::new(kind, &x, &y);
            assert!(rc.weighted(&[0, 3, 0], &mut rc.scratch()).is_nan());
            assert!(!rc.weighted(&[0, 2, 1], &mut rc.scratch()).is_nan());
        }
    }
}
