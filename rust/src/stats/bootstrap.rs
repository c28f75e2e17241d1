//! Bootstrap confidence intervals (percentile and BCa) for means, proportions, differences of
//! means, Pearson, Spearman and Kendall correlations, per-group means and the
//! RealToxicityPrompts pair. OLS coefficients live in `ols_boot`.
//!
//! Intervals follow `scipy.stats.bootstrap` definitions exactly: the percentile interval takes
//! linear-interpolated quantiles of the bootstrap distribution; BCa uses the bias correction
//! `z0 = Φ⁻¹(mean of #(θ_b < θ) and #(θ_b ≤ θ), over B)` and the jackknife acceleration summed
//! over samples (Efron & Tibshirani 1993, eq. 14.15 and 15.36). Jackknife values of these
//! statistics are computed in closed form, O(n), instead of refitting n times.

use rayon::prelude::*;

use super::corr::{CorrKind, CONSTANT_MSG};
use super::engine::{Engine, Engines, Isa, ENGINE_VAR};
use super::error::{check_finite, check_memory, StatsError};
use super::gather::{self, par_gather, PairSink};
use super::rankcorr::RankCorr;
use super::resample::{multinomial_pass, par_resamples, weighted_sum, Sink, BLOCK};
use super::special::{norm_ppf, norm_sf};
use super::tiles;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Percentile,
    Bca,
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub n_resamples: usize,
    pub level: f64,
    pub method: Method,
    pub seed: u64,
    /// The engine and instruction set to resample on (`Engines::default()`: the fastest).
    pub engines: Engines,
}

impl Options {
    /// Fails unless `bytes` per resample (the largest buffers a kernel holds at once, as a
    /// multiple of `n_resamples`) can be allocated, naming what they hold.
    pub fn check_memory(&self, bytes: u128, purpose: &str) -> Result<(), StatsError> {
        let b = self.n_resamples;
        check_memory("n_resamples", b, b as u128 * bytes, purpose)
    }

    pub fn check(&self) -> Result<(), StatsError> {
        if self.n_resamples < 2 {
            return Err(StatsError::invalid(format!(
                "n_resamples must be at least 2, got {}",
                self.n_resamples
            )));
        }
        if !(self.level > 0.0 && self.level < 1.0) {
            return Err(StatsError::invalid(format!(
                "confidence level must lie strictly between 0 and 1, got {}",
                self.level
            )));
        }
        Ok(())
    }
}

/// A point estimate with its bootstrap interval and standard error (sd of the bootstrap
/// distribution, ddof = 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub estimate: f64,
    pub lo: f64,
    pub hi: f64,
    pub se: f64,
}

/// Linear-interpolated quantile of sorted data (numpy's default "linear" method).
pub fn quantile_sorted(a: &[f64], q: f64) -> f64 {
    let h = (a.len() - 1) as f64 * q;
    let j = (h.floor() as usize).min(a.len() - 1);
    let g = h - j as f64;
    if j + 1 >= a.len() || g == 0.0 {
        return a[j];
    }
    a[j] + g * (a[j + 1] - a[j])
}

/// BCa acceleration from jackknife values of each sample (scipy sums over samples).
fn acceleration(jack: &[&[f64]]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for values in jack {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let (mut s2, mut s3) = (0.0, 0.0);
        for v in *values {
            let u = (n - 1.0) * (mean - v);
            s2 += u * u;
            s3 += u * u * u;
        }
        num += s3 / (n * n * n);
        den += s2 / (n * n);
    }
    if den == 0.0 {
        // Every jackknife value equal: no skewness to correct (scipy would return NaN).
        return 0.0;
    }
    num / den.powf(1.5) / 6.0
}

/// Interval from a bootstrap distribution `dist` (reordered in place), the estimate `theta` and,
/// for BCa, the jackknife values of each sample.
pub fn interval(
    dist: &mut [f64],
    theta: f64,
    jack: &[&[f64]],
    o: &Options,
) -> Result<Interval, StatsError> {
    let b = dist.len() as f64;
    let mean = dist.iter().sum::<f64>() / b;
    let se = (dist.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (b - 1.0)).sqrt();
    let alpha = (1.0 - o.level) / 2.0;
    let (q_lo, q_hi) = match o.method {
        Method::Percentile => (alpha, 1.0 - alpha),
        Method::Bca => {
            // Resamples that reproduce the estimate (common for proportions and tied data) can
            // differ from it in the last bits through summation order; count them as ties.
            let scale = dist.iter().fold(theta.abs(), |m, v| m.max(v.abs()));
            let tol = 1e-12 * scale;
            let below = dist.iter().filter(|&&v| v < theta - tol).count();
            let at_or_below = dist.iter().filter(|&&v| v <= theta + tol).count();
            let z0 = norm_ppf((below + at_or_below) as f64 / (2.0 * b));
            let a = acceleration(jack);
            let z = norm_ppf(alpha);
            let adj = |zq: f64| {
                let num = z0 + zq;
                norm_sf(-(z0 + num / (1.0 - a * num)))
            };
            let (a1, a2) = (adj(z), adj(-z));
            if !(a1.is_finite() && a2.is_finite()) {
                return Err(StatsError::invalid(
                    "the BCa interval is undefined here: the estimate lies outside the bootstrap \
                     distribution; use method='percentile'",
                ));
            }
            (a1, a2)
        }
    };
    dist.sort_unstable_by(f64::total_cmp);
    Ok(Interval {
        estimate: theta,
        lo: quantile_sorted(dist, q_lo),
        hi: quantile_sorted(dist, q_hi),
        se,
    })
}

fn check_sample(what: &str, x: &[f64], min: usize) -> Result<(), StatsError> {
    if x.len() < min {
        return Err(StatsError::TooFew {
            what: what.to_string(),
            needed: min,
            got: x.len(),
        });
    }
    check_finite(what, x)
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Resamples of the gather engine that walk the blocks together: the data stream from memory,
/// and each block is staged, once per batch. Up to 128, with at least four batches per thread
/// so that threads share the work evenly (results do not depend on the batch).
fn gather_batch(n_resamples: usize) -> usize {
    n_resamples
        .div_ceil(4 * rayon::current_num_threads())
        .clamp(8, 128)
}

/// A sample centred on its mean: resampled sums of small numbers lose less to rounding.
struct Centred {
    mean: f64,
    c: Vec<f64>,
}

impl Centred {
    fn new(x: &[f64]) -> Self {
        // Integer data (proportions, scores) sum exactly without centring, which keeps resampled
        // means on the exact lattice k/n, as numpy computes them.
        let integral = x.iter().all(|v| v.fract() == 0.0);
        if integral && x.iter().map(|v| v.abs()).sum::<f64>() < 2f64.powi(52) {
            return Centred {
                mean: 0.0,
                c: x.to_vec(),
            };
        }
        let mean = mean(x);
        Centred {
            mean,
            c: x.iter().map(|v| v - mean).collect(),
        }
    }

    /// The sample mean.
    fn estimate(&self) -> f64 {
        self.mean + mean(&self.c)
    }
    /// Leave-one-out means.
    fn jackknife(&self) -> Vec<f64> {
        let n = self.c.len() as f64;
        let total: f64 = self.c.iter().sum();
        self.c
            .iter()
            .map(|v| self.mean + (total - v) / (n - 1.0))
            .collect()
    }
}

/// Bootstrap distribution of the mean of one sample; `key` identifies the stream family.
fn mean_distribution(s: &Centred, key: &[u64], n_resamples: usize, isa: Isa) -> Vec<f64> {
    let n = s.c.len();
    let sink = gather::SumSink(&s.c);
    par_gather(
        &sink,
        n,
        key,
        n_resamples,
        gather_batch(n_resamples),
        isa,
        |a| s.mean + a.total() / n as f64,
    )
}

/// What the bootstrap distributions hold, for the size check.
const DIST: &str = "the bootstrap distribution";

pub fn mean_ci(x: &[f64], o: &Options) -> Result<Interval, StatsError> {
    o.check()?;
    check_sample("x", x, 2)?;
    o.check_memory(8, DIST)?;
    let s = Centred::new(x);
    let mut dist = mean_distribution(&s, &[o.seed], o.n_resamples, o.engines.isa);
    let jack = if o.method == Method::Bca {
        s.jackknife()
    } else {
        Vec::new()
    };
    interval(&mut dist, s.estimate(), &[&jack], o)
}

/// A proportion: the mean of values that must all be 0 or 1.
pub fn proportion_ci(x: &[f64], o: &Options) -> Result<Interval, StatsError> {
    if let Some(i) = x.iter().position(|&v| v != 0.0 && v != 1.0) {
        return Err(StatsError::invalid(format!(
            "a proportion needs 0/1 (or boolean) values; entry {i} is {}",
            x[i]
        )));
    }
    mean_ci(x, o)
}

/// `mean(x) - mean(y)`. Paired: pairs are resampled together (the mean of the differences);
/// unpaired: each sample is resampled on its own.
pub fn diff_means_ci(
    x: &[f64],
    y: &[f64],
    paired: bool,
    o: &Options,
) -> Result<Interval, StatsError> {
    o.check()?;
    if paired {
        if x.len() != y.len() {
            return Err(StatsError::LengthMismatch {
                what: "paired x and y".into(),
                left: x.len(),
                right: y.len(),
            });
        }
        check_sample("x", x, 2)?;
        check_sample("y", y, 2)?;
        let d: Vec<f64> = x.iter().zip(y).map(|(a, b)| a - b).collect();
        let mut r = mean_ci(&d, o)?;
        // Report the estimate as a difference of means, like the statistic's definition.
        r.estimate = mean(x) - mean(y);
        return Ok(r);
    }
    check_sample("x", x, 2)?;
    check_sample("y", y, 2)?;
    // Each sample's distribution, and their difference.
    o.check_memory(3 * 8, DIST)?;
    let (sx, sy) = (Centred::new(x), Centred::new(y));
    // The two samples are resampled independently, each by the gather engine with its own
    // stream family.
    let isa = o.engines.isa;
    let (dx, dy) = rayon::join(
        || mean_distribution(&sx, &[o.seed, 0], o.n_resamples, isa),
        || mean_distribution(&sy, &[o.seed, 1], o.n_resamples, isa),
    );
    let mut dist: Vec<f64> = dx.iter().zip(&dy).map(|(a, b)| a - b).collect();
    let (ex, ey) = (sx.estimate(), sy.estimate());
    let theta = ex - ey;
    let (jx, jy) = if o.method == Method::Bca {
        (
            sx.jackknife().into_iter().map(|m| m - ey).collect(),
            sy.jackknife().into_iter().map(|m| ex - m).collect(),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    interval(&mut dist, theta, &[&jx, &jy], o)
}

/// Pearson r from the sums `s` (x, y, x², y², xy) of `n` pairs, or NaN where rounding could
/// hide a constant x or y: where `sxx` (or `syy`) does not clear `4 (n + 2) ε` times `scale[0]`
/// (or `scale[1]`), the sum of squares its terms were accumulated into. That bounds the
/// rounding left in the `sxx` of a constant side (about `1.5 n ε` of it), so a NaN here means
/// "decide from the draws" (`WeightedR`), never a coefficient.
fn r_from_sums(s: &[f64; 5], n: f64, scale: [f64; 2]) -> f64 {
    let tol = 4.0 * (n + 2.0) * f64::EPSILON;
    let sxx = s[2] - s[0] * s[0] / n;
    let syy = s[3] - s[1] * s[1] / n;
    let sxy = s[4] - s[0] * s[1] / n;
    if !(sxx > tol * scale[0] && syy > tol * scale[1]) {
        return f64::NAN;
    }
    (sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0)
}

/// Pearson r of pairs added one at a time with weights, in one stable pass (West's weighted
/// update, on the data as given), knowing exactly whether the added x (or y) are all one value:
/// the decision for resamples whose rounded sums cannot tell, on every engine.
#[derive(Clone, Copy, Debug, Default)]
pub struct WeightedR {
    w: f64,
    mx: f64,
    my: f64,
    sxx: f64,
    syy: f64,
    sxy: f64,
    first: Option<[f64; 2]>,
    x_varies: bool,
    y_varies: bool,
}

impl WeightedR {
    /// Adds pair (x, y) with weight `k` > 0.
    pub fn add(&mut self, x: f64, y: f64, k: f64) {
        let [a, b] = *self.first.get_or_insert([x, y]);
        self.x_varies |= x != a;
        self.y_varies |= y != b;
        // Taken relative to the first pair, so that a common offset (x + 1e9) cancels before
        // the running means round: their rounding enters the sums linearly.
        let (x, y) = (x - a, y - b);
        self.w += k;
        let (dx, dy) = (x - self.mx, y - self.my);
        self.mx += dx * (k / self.w);
        self.my += dy * (k / self.w);
        self.sxx += k * dx * (x - self.mx);
        self.syy += k * dy * (y - self.my);
        self.sxy += k * dx * (y - self.my);
    }

    /// Pearson r of the pairs added, or NaN where every x or every y added is the same value.
    pub fn r(&self) -> f64 {
        if !(self.x_varies && self.y_varies) {
            return f64::NAN;
        }
        (self.sxy / (self.sxx.sqrt() * self.syy.sqrt())).clamp(-1.0, 1.0)
    }
}

/// The interval of a correlation from its resampled values and jackknife, refusing resamples
/// or leave-one-out samples where x or y is constant (the coefficient is undefined there).
fn corr_interval(
    mut dist: Vec<f64>,
    theta: f64,
    jack: &[f64],
    o: &Options,
) -> Result<Interval, StatsError> {
    let degenerate = dist.iter().filter(|v| v.is_nan()).count();
    if degenerate > 0 {
        return Err(StatsError::invalid(format!(
            "{CONSTANT_MSG}: {degenerate} of {} bootstrap resamples drew a constant x or y; \
             the sample has too few distinct points for a bootstrap of the correlation",
            o.n_resamples
        )));
    }
    if jack.iter().any(|v| v.is_nan()) {
        return Err(StatsError::invalid(format!(
            "{CONSTANT_MSG}: leaving one pair out makes x or y constant, so the BCa jackknife \
             is undefined; use method='percentile'"
        )));
    }
    interval(&mut dist, theta, &[jack], o)
}

/// Bootstrap distribution of Pearson r by the floating-point `gather` engine, from the pairs
/// `xy` (x and y centred) on instruction set `isa`. A resample is NaN exactly where its drawn x
/// (or y) are all one value: resamples whose sums cannot tell are decided from their draws.
fn pearson_gather(
    x: &[f64],
    y: &[f64],
    xy: &[[f64; 2]],
    seed: u64,
    n_resamples: usize,
    isa: Isa,
) -> Vec<f64> {
    let n = xy.len();
    let batch = gather_batch(n_resamples);
    let mut dist = par_gather(&PairSink(xy), n, &[seed], n_resamples, batch, isa, |a| {
        let s = a.moments();
        r_from_sums(&s, n as f64, [s[2], s[3]])
    });
    let unsure: Vec<usize> = (0..dist.len()).filter(|&b| dist[b].is_nan()).collect();
    let decided: Vec<f64> = unsure
        .par_iter()
        .map(|&b| {
            let mut r = WeightedR::default();
            let counts = gather::pair_counts(n, &[seed], b, isa);
            for ((&k, &a), &c) in counts.iter().zip(x).zip(y) {
                if k > 0 {
                    r.add(a, c, k as f64);
                }
            }
            r.r()
        })
        .collect();
    for (b, r) in unsure.into_iter().zip(decided) {
        dist[b] = r;
    }
    dist
}

/// Why the forced tile engine cannot take (x, y): more pairs than it holds (a CPU without it
/// fails earlier, when the choice is made).
fn tiles_decline(n: usize) -> StatsError {
    StatsError::invalid(format!(
        "{ENGINE_VAR}=tiles: the tile engine takes at most {} pairs, got {n}",
        tiles::MAX_PAIRS
    ))
}

/// Whether the correlation bootstraps of (x, y) (already checked by `check_pair`) take the tile
/// engine: by default where it accepts the data, forced wherever it can represent them.
fn on_tiles(x: &[f64], y: &[f64], engines: Engines) -> Result<bool, StatsError> {
    match engines.engine {
        Engine::Gather => Ok(false),
        Engine::Auto => Ok(tiles::accepts(x, y, true)),
        Engine::Tiles if tiles::accepts(x, y, false) => Ok(true),
        Engine::Tiles => Err(tiles_decline(x.len())),
    }
}

/// Pearson r with pairs (rows) resampled together.
pub fn pearson_ci(x: &[f64], y: &[f64], o: &Options) -> Result<Interval, StatsError> {
    o.check()?;
    super::corr::check_pair(x, y)?;
    o.check_memory(8, DIST)?;
    let n = x.len();
    // Centred pairs, interleaved: the floating-point engine stages them a block at a time as
    // rows of moments, and the BCa jackknife reads them.
    let centred = || -> Vec<[f64; 2]> {
        let (mx, my) = (mean(x), mean(y));
        x.iter().zip(y).map(|(a, b)| [a - mx, b - my]).collect()
    };
    // The tile engine where the CPU has matrix tiles and the data fit 32 bits; it draws its own
    // streams, so seeded results differ between the two engines (both are exact resamples).
    let (seed, b) = (o.seed, o.n_resamples);
    let tiles = match o.engines.engine {
        Engine::Gather => None,
        Engine::Auto => tiles::pearson_dist(x, y, seed, b, true),
        Engine::Tiles => Some(tiles::pearson_dist(x, y, seed, b, false).ok_or(tiles_decline(n))?),
    };
    let (dist, xy) = match tiles {
        Some(d) => (d, None),
        None => {
            let xy = centred();
            (pearson_gather(x, y, &xy, seed, b, o.engines.isa), Some(xy))
        }
    };
    let theta = super::corr::pearson_r(x, y);
    let jack: Vec<f64> = if o.method == Method::Bca {
        let xy = xy.unwrap_or_else(centred);
        let mut total = [0.0; 5];
        for &[a, b] in &xy {
            for (t, v) in total.iter_mut().zip([a, b, a * a, b * b, a * b]) {
                *t += v;
            }
        }
        // Rounding in the totals scales with them, not with what is left of them.
        let scale = [total[2], total[3]];
        (0..n)
            .into_par_iter()
            .map(|i| {
                let [a, b] = xy[i];
                let s = [
                    total[0] - a,
                    total[1] - b,
                    total[2] - a * a,
                    total[3] - b * b,
                    total[4] - a * b,
                ];
                let r = r_from_sums(&s, (n - 1) as f64, scale);
                if !r.is_nan() {
                    return r;
                }
                let mut w = WeightedR::default();
                for (j, (&a, &b)) in x.iter().zip(y).enumerate() {
                    if j != i {
                        w.add(a, b, 1.0);
                    }
                }
                w.r()
            })
            .collect()
    } else {
        Vec::new()
    };
    corr_interval(dist, theta, &jack, o)
}

/// A correlation with pairs (rows) resampled together: Pearson by `pearson_ci`; Spearman's rho
/// or Kendall's tau-b on the same resamples as Pearson for the same seed (the draws of the same
/// engine, counted), each evaluated from its draw counts without re-sorting the data.
pub fn corr_ci(x: &[f64], y: &[f64], kind: CorrKind, o: &Options) -> Result<Interval, StatsError> {
    o.check()?;
    super::corr::check_pair(x, y)?;
    if kind == CorrKind::Pearson {
        return pearson_ci(x, y, o);
    }
    o.check_memory(8, DIST)?;
    let n = x.len();
    let tiles = on_tiles(x, y, o.engines)?;
    let rc = RankCorr::new(kind, x, y);
    // The draws of `pearson_ci`'s engine for these data, counted; each engine hands over a
    // batch of resamples' counts at a time.
    let eval = |counts: &mut dyn Iterator<Item = &[u32]>, out: &mut [f64]| {
        let mut s = rc.scratch();
        for (o, c) in out.iter_mut().zip(counts) {
            *o = rc.weighted(c, &mut s);
        }
    };
    let dist = if tiles {
        tiles::par_counts(n, o.seed, o.n_resamples, |counts, out| {
            eval(&mut counts.chunks(n), out)
        })
    } else {
        gather::par_pair_counts(n, &[o.seed], o.n_resamples, o.engines.isa, |counts, out| {
            eval(&mut counts.iter().map(Vec::as_slice), out)
        })
    };
    let ones = vec![1u32; n];
    let theta = rc.weighted(&ones, &mut rc.scratch());
    let jack: Vec<f64> = if o.method == Method::Bca {
        rc.jackknife()
    } else {
        Vec::new()
    };
    corr_interval(dist, theta, &jack, o)
}

/// One interval per group of `values`, groups given by dense `codes` in `0..n_groups`; groups
/// are resampled separately (a stratified bootstrap), each with its own streams.
pub fn grouped_mean_ci(
    values: &[f64],
    codes: &[u32],
    n_groups: usize,
    o: &Options,
) -> Result<Vec<(usize, Interval)>, StatsError> {
    o.check()?;
    if values.len() != codes.len() {
        return Err(StatsError::LengthMismatch {
            what: "values and groups".into(),
            left: values.len(),
            right: codes.len(),
        });
    }
    check_finite("values", values)?;
    // One group's distribution at a time.
    o.check_memory(8, DIST)?;
    let mut members: Vec<Vec<f64>> = vec![Vec::new(); n_groups];
    for (&v, &g) in values.iter().zip(codes) {
        let g = g as usize;
        if g >= n_groups {
            return Err(StatsError::invalid(format!(
                "group code {g} is out of range 0..{n_groups}"
            )));
        }
        members[g].push(v);
    }
    let mut out = Vec::with_capacity(n_groups);
    for (g, m) in members.iter().enumerate() {
        if m.is_empty() {
            return Err(StatsError::invalid(format!(
                "group {g} is empty: every group needs at least one value"
            )));
        }
        if m.len() < 2 && o.method == Method::Bca {
            return Err(StatsError::invalid(format!(
                "group {g} has a single value; a BCa interval needs at least 2 (use method='percentile')"
            )));
        }
        let s = Centred::new(m);
        let key = [o.seed, GROUP_STREAM_TAG, g as u64];
        let mut dist = mean_distribution(&s, &key, o.n_resamples, o.engines.isa);
        let jack = if o.method == Method::Bca {
            s.jackknife()
        } else {
            Vec::new()
        };
        out.push((m.len(), interval(&mut dist, s.estimate(), &[&jack], o)?));
    }
    Ok(out)
}

/// Extra key part so per-group streams differ from the ungrouped ones ("group" in ASCII).
const GROUP_STREAM_TAG: u64 = 0x67_726f_7570;

/// Expected maximum toxicity and toxicity probability over prompts.
#[derive(Clone, Copy, Debug)]
pub struct Toxicity {
    pub expected_max: Interval,
    pub probability: Interval,
    pub n_prompts: usize,
}

/// Per-prompt maxima (centred) and exceedance indicators, as two columns, summed on `isa`.
struct MaxIndicatorSink<'a> {
    max: &'a [f64],
    ind: &'a [f64],
    isa: Isa,
}

impl Sink for MaxIndicatorSink<'_> {
    type Acc = [f64; 2];
    #[inline(always)]
    fn add(&self, acc: &mut [f64; 2], i: usize) {
        acc[0] += self.max[i];
        acc[1] += self.ind[i];
    }
    #[inline(always)]
    fn add_counts(&self, acc: &mut [f64; 2], start: usize, counts: &[u32; BLOCK]) {
        acc[0] += weighted_sum(self.isa, &self.max[start..], counts);
        acc[1] += weighted_sum(self.isa, &self.ind[start..], counts);
    }
}

/// RealToxicityPrompts metrics from each prompt's maximum score: the mean of the maxima
/// (expected maximum toxicity) and the share of prompts whose maximum exceeds `threshold`
/// (toxicity probability). Prompts are resampled; both intervals come from the same resamples.
pub fn toxicity_ci(
    prompt_max: &[f64],
    threshold: f64,
    o: &Options,
) -> Result<Toxicity, StatsError> {
    o.check()?;
    if !threshold.is_finite() {
        return Err(StatsError::invalid(format!(
            "threshold must be a finite number, got {threshold}"
        )));
    }
    check_sample("prompt maxima", prompt_max, 2)?;
    // Both statistics, interleaved, then each one's own copy.
    o.check_memory(4 * 8, DIST)?;
    let n = prompt_max.len();
    let emt = mean(prompt_max);
    let ind: Vec<f64> = prompt_max
        .iter()
        .map(|&v| if v > threshold { 1.0 } else { 0.0 })
        .collect();
    let tp = mean(&ind);
    let centred: Vec<f64> = prompt_max.iter().map(|a| a - emt).collect();
    // Indicators stay uncentred: their sums are exact counts, so resampled shares are k/n.
    let sink = MaxIndicatorSink {
        max: &centred,
        ind: &ind,
        isa: o.engines.isa,
    };
    let both = par_resamples(&[o.seed], o.n_resamples, 2, |_, rngs, out| {
        let mut accs = vec![[0.0; 2]; rngs.len()];
        multinomial_pass(&sink, n, rngs, &mut accs);
        for (o, a) in out.chunks_exact_mut(2).zip(&accs) {
            o[0] = emt + a[0] / n as f64;
            o[1] = a[1] / n as f64;
        }
    });
    let mut d_emt: Vec<f64> = both.iter().step_by(2).copied().collect();
    let mut d_tp: Vec<f64> = both.iter().skip(1).step_by(2).copied().collect();
    let (j_emt, j_tp) = if o.method == Method::Bca {
        (
            Centred::new(prompt_max).jackknife(),
            Centred::new(&ind).jackknife(),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(Toxicity {
        expected_max: interval(&mut d_emt, emt, &[&j_emt], o)?,
        probability: interval(&mut d_tp, tp, &[&j_tp], o)?,
        n_prompts: n,
    })
}

/// Each prompt's maximum score, from a row-major `(prompts, samples)` matrix.
pub fn row_max(scores: &[f64], samples: usize) -> Result<Vec<f64>, StatsError> {
    if samples == 0 {
        return Err(StatsError::invalid(
            "each prompt needs at least one sample (the matrix has 0 columns)",
        ));
    }
    check_finite("scores", scores)?;
    Ok(scores
        .chunks_exact(samples)
        .map(|r| r.iter().copied().fold(f64::NEG_INFINITY, f64::max))
        .collect())
}

/// Each prompt's maximum score, from flat scores and dense prompt codes in `0..n_prompts`.
pub fn group_max(scores: &[f64], codes: &[u32], n_prompts: usize) -> Result<Vec<f64>, StatsError> {
    if scores.len() != codes.len() {
        return Err(StatsError::LengthMismatch {
            what: "scores and prompt ids".into(),
            left: scores.len(),
            right: codes.len(),
        });
    }
    check_finite("scores", scores)?;
    let mut out = vec![f64::NEG_INFINITY; n_prompts];
    for (&s, &c) in scores.iter().zip(codes) {
        let c = c as usize;
        if c >= n_prompts {
            return Err(StatsError::invalid(format!(
                "prompt code {c} is out of range 0..{n_prompts}"
            )));
        }
        out[c] = out[c].max(s);
    }
    if let Some(g) = out.iter().position(|v| *v == f64::NEG_INFINITY) {
        return Err(StatsError::invalid(format!(
            "prompt {g} has no scores (empty group)"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(method: Method) -> Options {
        Options {
            n_resamples: 2000,
            level: 0.95,
            method,
            seed: 3,
            engines: Engines::default(),
        }
    }

    /// `opts(method)` on the floating-point engine with instruction set `isa`.
    fn gather_opts(method: Method, isa: Isa) -> Options {
        Options {
            engines: Engines {
                engine: Engine::Gather,
                isa,
            },
            ..opts(method)
        }
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let a = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(quantile_sorted(&a, 0.0), 1.0);
        assert_eq!(quantile_sorted(&a, 1.0), 8.0);
        assert!((quantile_sorted(&a, 0.5) - 3.0).abs() < 1e-15);
    }

    #[test]
    fn mean_interval_covers_and_scales() {
        let x: Vec<f64> = (0..500).map(|i| ((i * 37) % 101) as f64).collect();
        for m in [Method::Percentile, Method::Bca] {
            let r = mean_ci(&x, &opts(m)).unwrap();
            let sd = (x.iter().map(|v| (v - r.estimate).powi(2)).sum::<f64>() / 499.0).sqrt();
            let se = sd / (500f64).sqrt();
            assert!(r.lo < r.estimate && r.estimate < r.hi);
            assert!(
                ((r.hi - r.lo) / (2.0 * 1.96 * se) - 1.0).abs() < 0.1,
                "{r:?} se {se}"
            );
            assert!((r.se / se - 1.0).abs() < 0.1);
        }
    }

    #[test]
    fn results_do_not_depend_on_thread_count() {
        let x: Vec<f64> = (0..5000)
            .map(|i| ((i * 7919) % 1000) as f64 / 7.0)
            .collect();
        let y: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, v)| v + (i % 13) as f64)
            .collect();
        let run = |t: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap();
            pool.install(|| pearson_ci(&x, &y, &opts(Method::Bca)).unwrap())
        };
        assert_eq!(run(1), run(3));
    }

    #[test]
    #[cfg_attr(not(vhframe_cpu_amx), ignore = "CPU lacks AMX")]
    fn pearson_engines_draw_the_same_distribution() {
        // The tile engine and the floating-point engine are both exact resamplers: their
        // distributions agree within Monte-Carlo error.
        let n = 3000;
        let x: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1009) as f64).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| x[i] * 0.02 + ((i * 104729) % 997) as f64 / 50.0)
            .collect();
        let (mx, my) = (mean(&x), mean(&y));
        let xy: Vec<[f64; 2]> = x.iter().zip(&y).map(|(a, b)| [a - mx, b - my]).collect();
        let b = 8000;
        let tiles = tiles::pearson_dist(&x, &y, 4, b, true).expect("built as having AMX");
        let gather = pearson_gather(&x, &y, &xy, 4, b, Isa::best());
        let moments = |d: &[f64]| {
            let m = d.iter().sum::<f64>() / d.len() as f64;
            let sd = (d.iter().map(|v| (v - m).powi(2)).sum::<f64>() / d.len() as f64).sqrt();
            (m, sd)
        };
        let ((m1, s1), (m2, s2)) = (moments(&tiles), moments(&gather));
        // Means differ by about sd * sqrt(2 / b); sds by about sd / sqrt(b).
        assert!(
            (m1 - m2).abs() < 5.0 * s1 * (2.0 / b as f64).sqrt(),
            "{m1} vs {m2}"
        );
        assert!(
            (s1 / s2 - 1.0).abs() < 5.0 / (b as f64).sqrt(),
            "{s1} vs {s2}"
        );
    }

    #[test]
    fn pearson_with_far_outliers_uses_the_floating_point_engine() {
        let n = 2000;
        let mut x: Vec<f64> = (0..n).map(|i| ((i * 37) % 101) as f64).collect();
        let y: Vec<f64> = (0..n).map(|i| ((i * 53) % 103) as f64 + x[i]).collect();
        x[7] = 1e9;
        assert!(tiles::pearson_dist(&x, &y, 1, 100, true).is_none());
        let r = pearson_ci(&x, &y, &opts(Method::Percentile)).unwrap();
        assert!(r.lo.is_finite() && r.lo <= r.hi, "{r:?}");
        let g = pearson_ci(&x, &y, &gather_opts(Method::Percentile, Isa::best())).unwrap();
        assert_eq!(r, g);
    }

    /// One binary x with a single 1 (plus `offset`), and y rising: about e^-1 of the resamples
    /// miss the 1, so x is constant in them.
    fn rare_binary(n: usize, offset: f64) -> (Vec<f64>, Vec<f64>) {
        let mut x = vec![offset; n];
        x[n - 1] = offset + 1.0;
        (x, (0..n).map(|i| i as f64).collect())
    }

    /// How many resamples of the floating-point engine draw a constant x, counted from their
    /// draws.
    fn constant_x_resamples(x: &[f64], o: &Options) -> usize {
        (0..o.n_resamples)
            .filter(|&b| {
                let k = gather::pair_counts(x.len(), &[o.seed], b, o.engines.isa);
                let mut drawn = x.iter().zip(&k).filter(|(_, &c)| c > 0).map(|(v, _)| v);
                let first = drawn.next().unwrap();
                drawn.all(|v| v == first)
            })
            .count()
    }

    /// On instruction set `isa`, Pearson's floating-point bootstrap refuses exactly the
    /// resamples whose drawn x are one value, as Spearman's and Kendall's do (same draws), also
    /// where x sits at a large offset; the jackknife that leaves out the single 1 is refused too.
    fn pearson_refuses_constant_resamples(isa: Isa) {
        for offset in [0.0, 1e9] {
            let (x, y) = rare_binary(2001, offset);
            let o = Options {
                n_resamples: 200,
                ..gather_opts(Method::Percentile, isa)
            };
            let want = constant_x_resamples(&x, &o);
            assert!((40..110).contains(&want), "{want}");
            let count = format!(": {want} of 200 bootstrap resamples drew a constant x or y");
            for kind in [CorrKind::Pearson, CorrKind::Spearman, CorrKind::Kendall] {
                let e = corr_ci(&x, &y, kind, &o).unwrap_err().to_string();
                assert!(
                    e.starts_with(CONSTANT_MSG) && e.contains(&count),
                    "{kind:?}: {e}"
                );
            }
            // The BCa jackknife: only leaving out the 1 leaves x constant. (A seed whose few
            // resamples all hold the 1, so that the jackknife is what fails.)
            let (x, y) = rare_binary(9, offset);
            let o = (0..)
                .map(|seed| Options {
                    n_resamples: 2,
                    seed,
                    ..gather_opts(Method::Bca, isa)
                })
                .find(|o| constant_x_resamples(&x, o) == 0)
                .unwrap();
            let e = pearson_ci(&x, &y, &o).unwrap_err().to_string();
            assert!(e.contains("leaving one pair out"), "{e}");
        }
        // Values 1e-12 apart next to a 1: resamples that miss the 1 have sums that cannot tell
        // their x from constant (the spread is far below the rounding of their sums of squares),
        // yet none is constant; each gets the r of its draws.
        let n = 301;
        let mut x: Vec<f64> = (0..n).map(|i| (1 + i % 3) as f64 * 1e-12).collect();
        x[0] = 1.0;
        let y: Vec<f64> = (0..n).map(|i| ((i * 37) % 101) as f64).collect();
        let (mx, my) = (mean(&x), mean(&y));
        let xy: Vec<[f64; 2]> = x.iter().zip(&y).map(|(a, b)| [a - mx, b - my]).collect();
        let dist = pearson_gather(&x, &y, &xy, 5, 200, isa);
        let mut unsure = 0;
        for (b, &r) in dist.iter().enumerate() {
            let k = gather::pair_counts(n, &[5], b, isa);
            let missed = k[0] == 0;
            unsure += missed as usize;
            let drawn: Vec<usize> = (0..n).filter(|&i| k[i] > 0).collect();
            let w =
                |f: &dyn Fn(usize) -> f64| drawn.iter().map(|&i| k[i] as f64 * f(i)).sum::<f64>();
            let (sw, ax, ay) = (w(&|_| 1.0), w(&|i| x[i]), w(&|i| y[i]));
            let (ax, ay) = (ax / sw, ay / sw);
            let sxy = w(&|i| (x[i] - ax) * (y[i] - ay));
            let want = sxy / (w(&|i| (x[i] - ax).powi(2)) * w(&|i| (y[i] - ay).powi(2))).sqrt();
            assert!(
                (r - want).abs() < 1e-9,
                "{isa:?}, resample {b}: {r} vs {want}"
            );
        }
        assert!(unsure > 10, "{unsure}");
    }

    #[test]
    fn pearson_refuses_constant_resamples_portable() {
        pearson_refuses_constant_resamples(Isa::Portable);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    #[cfg_attr(not(vhframe_cpu_avx2), ignore = "CPU lacks AVX2")]
    fn pearson_refuses_constant_resamples_avx2() {
        pearson_refuses_constant_resamples(Isa::Avx2);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    #[cfg_attr(not(vhframe_cpu_avx512), ignore = "CPU lacks AVX-512")]
    fn pearson_refuses_constant_resamples_avx512() {
        pearson_refuses_constant_resamples(Isa::Avx512);
    }

    #[test]
    #[cfg_attr(not(vhframe_cpu_amx), ignore = "CPU lacks AMX")]
    fn pearson_refuses_constant_resamples_on_tiles() {
        let forced = Engines {
            engine: Engine::Tiles,
            isa: Isa::best(),
        };
        for offset in [0.0, 1e9] {
            let (x, y) = rare_binary(2001, offset);
            let o = Options {
                n_resamples: 200,
                engines: forced,
                ..opts(Method::Percentile)
            };
            // Spearman's counts are exact, and the same draws as Pearson's on this engine.
            let s = corr_ci(&x, &y, CorrKind::Spearman, &o)
                .unwrap_err()
                .to_string();
            let p = pearson_ci(&x, &y, &o).unwrap_err().to_string();
            let tail = |e: &str| e.split(": ").nth(1).unwrap_or("").to_string();
            assert!(tail(&p).contains("of 200 bootstrap resamples"), "{p}");
            assert_eq!(tail(&p), tail(&s));
        }
    }

    #[test]
    fn the_sums_hand_over_what_they_cannot_tell() {
        // Sums of a constant side leave rounding in sxx, about n ulps of the sum of squares:
        // never a coefficient, always NaN (decide from the draws).
        for (v, n) in [(-1.0 / 2001.0, 2001.0), (0.1, 3.0), (1e-3 / 3.0, 1e6)] {
            let (s0, s2) = ((0..n as usize).map(|_| v).sum::<f64>(), n * v * v);
            let s = [s0, 1.0, s2, 2.0, 0.5];
            assert!(r_from_sums(&s, n, [s2, 2.0]).is_nan(), "{v} x {n}");
        }
        // A genuine spread clears the bound.
        let s = [0.0, 0.0, 2.0, 2.0, 1.0];
        assert!((r_from_sums(&s, 4.0, [2.0, 2.0]) - 0.5).abs() < 1e-15);
        // The one-pass weighted r is the two-pass r of the expanded data, and exact about
        // constancy.
        let (x, y) = ([1e9, 1e9 + 1.0, 1e9 + 3.0], [2.0, -1.0, 7.0]);
        let mut w = WeightedR::default();
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for (i, k) in [2, 1, 3].into_iter().enumerate() {
            w.add(x[i], y[i], k as f64);
            xs.extend(std::iter::repeat_n(x[i], k));
            ys.extend(std::iter::repeat_n(y[i], k));
        }
        let want = super::super::corr::pearson_r(&xs, &ys);
        assert!((w.r() - want).abs() < 1e-12, "{} vs {want}", w.r());
        let mut c = WeightedR::default();
        c.add(1e9, 1.0, 2.0);
        c.add(1e9, 2.0, 5.0);
        assert!(c.r().is_nan());
        c.add(1e9 + 1e-6, 2.0, 1.0);
        assert!(c.r().is_finite());
    }

    /// Every instruction set of the floating-point engine gives every bootstrap the same bits.
    #[cfg(target_arch = "x86_64")]
    fn isas_agree(isa: Isa) {
        let (x, y) = rare_binary(300, 0.0);
        let (u, v): (Vec<f64>, Vec<f64>) = (0..5000)
            .map(|i| {
                (
                    ((i * 7919) % 1009) as f64,
                    ((i * 104_729) % 997) as f64 / 7.0,
                )
            })
            .unzip();
        let run = |isa: Isa| {
            // Past one super-block of 4096, where the vector paths draw.
            let o = Options {
                n_resamples: 64,
                ..gather_opts(Method::Bca, isa)
            };
            (
                pearson_ci(&u, &v, &o).unwrap(),
                corr_ci(&u, &v, CorrKind::Kendall, &o).unwrap(),
                mean_ci(&u, &o).unwrap(),
                diff_means_ci(&u, &v[..4000], false, &o).unwrap(),
                grouped_mean_ci(&x, &[0u32, 1, 2].repeat(100), 3, &o).unwrap(),
                toxicity_ci(&v, 70.0, &o).unwrap().probability,
                pearson_ci(&x, &y, &o).unwrap_err().to_string(),
            )
        };
        assert_eq!(run(isa), run(Isa::Portable), "{isa:?}");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    #[cfg_attr(not(vhframe_cpu_avx2), ignore = "CPU lacks AVX2")]
    fn isas_agree_avx2() {
        assert!(Isa::Avx2.available(), "built as having AVX2: rebuild here");
        isas_agree(Isa::Avx2);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    #[cfg_attr(not(vhframe_cpu_avx512), ignore = "CPU lacks AVX-512")]
    fn isas_agree_avx512() {
        assert!(
            Isa::Avx512.available(),
            "built as having AVX-512: rebuild here"
        );
        isas_agree(Isa::Avx512);
    }

    #[test]
    fn absurd_resample_counts_are_refused_before_allocating() {
        let x: Vec<f64> = (0..40).map(f64::from).collect();
        let o = Options {
            n_resamples: 1 << 50,
            ..opts(Method::Percentile)
        };
        let e = mean_ci(&x, &o).unwrap_err();
        assert!(matches!(e, StatsError::TooLarge { .. }), "{e}");
        assert!(e
            .to_string()
            .contains("n_resamples = 1125899906842624 would need"));
        assert!(pearson_ci(&x, &x, &o).is_err());
        assert!(toxicity_ci(&x, 0.5, &o).is_err());
        let t = toxicity_ci(&x, f64::NAN, &opts(Method::Bca)).unwrap_err();
        assert!(t
            .to_string()
            .contains("threshold must be a finite number, got NaN"));
    }

    #[test]
    fn rank_correlation_intervals() {
        let x: Vec<f64> = (0..300).map(|i| ((i * 7919) % 100) as f64 / 10.0).collect();
        // y rises with x, with ties (integers) and noise.
        let y: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(i, v)| (v + ((i * 31) % 17) as f64 / 3.0).round())
            .collect();
        let run = |t: usize, kind: CorrKind| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap();
            pool.install(|| corr_ci(&x, &y, kind, &opts(Method::Bca)).unwrap())
        };
        for kind in [CorrKind::Spearman, CorrKind::Kendall] {
            let r = run(1, kind);
            assert_eq!(r, run(3, kind));
            assert!(
                r.lo < r.estimate && r.estimate < r.hi && r.lo > 0.0,
                "{r:?}"
            );
            // The estimate is the coefficient of the data as the plain kernels compute it.
            let plain = match kind {
                CorrKind::Spearman => super::super::corr::spearman(&x, &y, Default::default()),
                _ => super::super::corr::kendall_tau_b(&x, &y, Default::default()),
            };
            assert!((r.estimate - plain.unwrap().r).abs() < 1e-14);
            // Roughly normal bootstrap distribution: the interval spans ~2 x 1.96 se.
            assert!(
                ((r.hi - r.lo) / (2.0 * 1.96 * r.se) - 1.0).abs() < 0.15,
                "{r:?}"
            );
        }
        let p = corr_ci(&x, &y, CorrKind::Pearson, &opts(Method::Bca)).unwrap();
        assert_eq!(p, pearson_ci(&x, &y, &opts(Method::Bca)).unwrap());
    }

    #[test]
    fn rank_correlation_degenerate_resamples() {
        for kind in [CorrKind::Spearman, CorrKind::Kendall] {
            let e = corr_ci(&[1.0, 2.0, 3.0], &[3.0, 1.0, 2.0], kind, &opts(Method::Bca))
                .unwrap_err()
                .to_string();
            assert!(e.contains(CONSTANT_MSG) && e.contains("resamples"), "{e}");
            // Leaving out the one distinct x leaves x constant: no jackknife, hence no BCa
            // (and resamples that miss that pair are constant too: either way an error).
            let x = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0];
            let y = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
            for seed in 0..4 {
                let o = Options {
                    n_resamples: 3,
                    seed,
                    ..opts(Method::Bca)
                };
                let e = corr_ci(&x, &y, kind, &o).unwrap_err().to_string();
                assert!(e.contains(CONSTANT_MSG), "{e}");
            }
        }
    }

    #[test]
    fn degenerate_inputs() {
        let r = proportion_ci(&[0.0; 10], &opts(Method::Bca)).unwrap();
        assert_eq!((r.lo, r.hi), (0.0, 0.0));
        assert!(proportion_ci(&[0.0, 2.0], &opts(Method::Bca)).is_err());
        assert!(mean_ci(&[1.0], &opts(Method::Bca)).is_err());
        let e = pearson_ci(
            &[1.0, 2.0, 3.0],
            &[3.0, 1.0, 2.0],
            &opts(Method::Percentile),
        )
        .unwrap_err();
        assert!(e.to_string().contains(CONSTANT_MSG));
        assert!(group_max(&[1.0], &[0], 2)
            .unwrap_err()
            .to_string()
            .contains("empty"));
    }
}
