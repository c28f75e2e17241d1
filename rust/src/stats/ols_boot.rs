//! Bootstrap intervals for every OLS coefficient of every response, resampling rows.
//!
//! Each resample is summarised by its row counts; the fit then solves the weighted normal
//! equations of data centred on the resample's own means (Cholesky of a p×p matrix), so the
//! cost per resample is O(n·p·(p+m)) with no copy of the resampled rows. The data are first
//! centred on the full-sample means, which keeps the cross-products well scaled. A resample
//! whose predictors are singular (possible with few rows or discrete predictors) is redrawn
//! from the same stream; the count of redraws is reported.

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::bootstrap::{interval, Interval, Method, Options};
use super::error::StatsError;
use super::ols::{ols, OlsFit};
use super::resample::{multinomial_pass, par_resamples, Sink, BLOCK};

/// Redraws allowed for one resample before giving up on the design.
const MAX_REDRAWS: usize = 1000;
const PIVOT_TOL: f64 = 1e-10;

struct CountSink;

impl Sink for CountSink {
    type Acc = Vec<f64>;
    #[inline(always)]
    fn add(&self, acc: &mut Vec<f64>, i: usize) {
        acc[i] += 1.0;
    }
    #[inline(always)]
    fn add_counts(&self, acc: &mut Vec<f64>, start: usize, counts: &[u32; BLOCK]) {
        for (a, &c) in acc[start..start + BLOCK].iter_mut().zip(counts.iter()) {
            *a += c as f64;
        }
    }
}

/// Centred copies of the data plus scratch for weighted fits.
struct Design<'a> {
    n: usize,
    p: usize,
    m: usize,
    x: &'a [f64],
    y: &'a [f64],
    x_mean: Vec<f64>,
    y_mean: Vec<f64>,
}

impl Design<'_> {
    /// Coefficients (m × (p+1), intercept first) of the fit with row weights `w`;
    /// `None` when the weighted predictors are singular.
    fn fit(&self, w: &[f64], out: &mut [f64]) -> Option<()> {
        let (p, m) = (self.p, self.m);
        debug_assert_eq!(w.len(), self.n);
        let wsum: f64 = w.iter().sum();
        let mut xm = vec![0.0; p];
        let mut ym = vec![0.0; m];
        for (i, &wi) in w.iter().enumerate() {
            if wi == 0.0 {
                continue;
            }
            for (a, v) in xm.iter_mut().zip(&self.x[i * p..(i + 1) * p]) {
                *a += wi * v;
            }
            for (a, v) in ym.iter_mut().zip(&self.y[i * m..(i + 1) * m]) {
                *a += wi * v;
            }
        }
        xm.iter_mut().for_each(|v| *v /= wsum);
        ym.iter_mut().for_each(|v| *v /= wsum);
        // Lower triangle of C = Σ w (x - x̄)(x - x̄)ᵀ and D = Σ w (x - x̄)(y - ȳ)ᵀ (p × m).
        let mut c = vec![0.0; p * p];
        let mut d = vec![0.0; p * m];
        let mut dx = vec![0.0; p];
        let mut dy = vec![0.0; m];
        for (i, &wi) in w.iter().enumerate() {
            if wi == 0.0 {
                continue;
            }
            for j in 0..p {
                dx[j] = self.x[i * p + j] - xm[j];
            }
            for r in 0..m {
                dy[r] = self.y[i * m + r] - ym[r];
            }
            for j in 0..p {
                let wj = wi * dx[j];
                for k in 0..=j {
                    c[j * p + k] += wj * dx[k];
                }
                for (dst, v) in d[j * m..(j + 1) * m].iter_mut().zip(&dy) {
                    *dst += wj * v;
                }
            }
        }
        // Cholesky C = L Lᵀ in place (lower triangle).
        for j in 0..p {
            let diag = c[j * p + j];
            let mut s = diag;
            for k in 0..j {
                s -= c[j * p + k] * c[j * p + k];
            }
            if s <= PIVOT_TOL * diag || diag <= 0.0 {
                return None;
            }
            let l = s.sqrt();
            c[j * p + j] = l;
            for i in (j + 1)..p {
                let mut t = c[i * p + j];
                for k in 0..j {
                    t -= c[i * p + k] * c[j * p + k];
                }
                c[i * p + j] = t / l;
            }
        }
        // Solve L Lᵀ B = D for all responses at once; B overwrites D.
        for j in 0..p {
            for r in 0..m {
                let mut t = d[j * m + r];
                for k in 0..j {
                    t -= c[j * p + k] * d[k * m + r];
                }
                d[j * m + r] = t / c[j * p + j];
            }
        }
        for j in (0..p).rev() {
            for r in 0..m {
                let mut t = d[j * m + r];
                for k in (j + 1)..p {
                    t -= c[k * p + j] * d[k * m + r];
                }
                d[j * m + r] = t / c[j * p + j];
            }
        }
        let k = p + 1;
        for r in 0..m {
            let mut b0 = self.y_mean[r] + ym[r];
            for j in 0..p {
                let b = d[j * m + r];
                b0 -= (self.x_mean[j] + xm[j]) * b;
                out[r * k + 1 + j] = b;
            }
            out[r * k] = b0;
        }
        Some(())
    }
}

/// The full-sample fit with one bootstrap interval per coefficient (row-major m × (p+1)).
pub struct OlsBootstrap {
    pub fit: OlsFit,
    pub lo: Vec<f64>,
    pub hi: Vec<f64>,
    /// Bootstrap standard error of each coefficient.
    pub se: Vec<f64>,
    /// Resamples redrawn because their predictors were singular.
    pub redrawn: usize,
}

pub fn ols_bootstrap(
    x: &[f64],
    y: &[f64],
    n: usize,
    p: usize,
    m: usize,
    names: Option<&[String]>,
    o: &Options,
) -> Result<OlsBootstrap, StatsError> {
    o.check()?;
    let fit = ols(x, y, n, p, m, names)?;
    // Every coefficient's distribution, then as many column copies at most.
    let width = (m * (p + 1)) as u128;
    o.check_memory(
        2 * 8 * width,
        "the bootstrap distributions of the coefficients",
    )?;
    let x_mean: Vec<f64> = (0..p)
        .map(|j| (0..n).map(|i| x[i * p + j]).sum::<f64>() / n as f64)
        .collect();
    let y_mean: Vec<f64> = (0..m)
        .map(|r| (0..n).map(|i| y[i * m + r]).sum::<f64>() / n as f64)
        .collect();
    let xc: Vec<f64> = (0..n * p).map(|t| x[t] - x_mean[t % p]).collect();
    let yc: Vec<f64> = (0..n * m).map(|t| y[t] - y_mean[t % m]).collect();
    let design = Design {
        n,
        p,
        m,
        x: &xc,
        y: &yc,
        x_mean,
        y_mean,
    };
    let k = p + 1;
    let width = m * k;
    let redrawn = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let dist = par_resamples(&[o.seed], o.n_resamples, width, |_, rngs, out| {
        let mut w = vec![vec![0.0; n]; 1];
        for (rng, dst) in rngs.iter_mut().zip(out.chunks_exact_mut(width)) {
            let mut tries = 0;
            loop {
                w[0].fill(0.0);
                multinomial_pass(&CountSink, n, std::slice::from_mut(rng), &mut w);
                if design.fit(&w[0], dst).is_some() {
                    break;
                }
                tries += 1;
                if tries > MAX_REDRAWS {
                    failed.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
            redrawn.fetch_add(tries, Ordering::Relaxed);
        }
    });
    if failed.load(Ordering::Relaxed) > 0 {
        return Err(StatsError::invalid(format!(
            "bootstrap resamples of X are singular: {MAX_REDRAWS} redraws in a row had collinear \
             predictors; X has too few distinct rows for a row bootstrap"
        )));
    }
    // Jackknife fits (leave one row out) for the BCa acceleration.
    let jack: Vec<f64> = if o.method == Method::Bca {
        let rows: Vec<Option<Vec<f64>>> = (0..n)
            .into_par_iter()
            .map(|i| {
                let mut w = vec![1.0; n];
                w[i] = 0.0;
                let mut out = vec![0.0; width];
                design.fit(&w, &mut out).map(|_| out)
            })
            .collect();
        let mut flat = Vec::with_capacity(n * width);
        for (i, r) in rows.into_iter().enumerate() {
            match r {
                Some(v) => flat.extend(v),
                None => {
                    return Err(StatsError::invalid(format!(
                        "leaving out row {i} makes X singular, so the BCa jackknife is undefined; \
                         use method='percentile'"
                    )))
                }
            }
        }
        flat
    } else {
        Vec::new()
    };
    let cis: Vec<Result<Interval, StatsError>> = (0..width)
        .into_par_iter()
        .map(|t| {
            let mut column: Vec<f64> = dist.iter().skip(t).step_by(width).copied().collect();
            let jc: Vec<f64> = jack.iter().skip(t).step_by(width).copied().collect();
            interval(&mut column, fit.coef[t], &[&jc], o)
        })
        .collect();
    let mut lo = Vec::with_capacity(width);
    let mut hi = Vec::with_capacity(width);
    let mut se = Vec::with_capacity(width);
    for ci in cis {
        let ci = ci?;
        lo.push(ci.lo);
        hi.push(ci.hi);
        se.push(ci.se);
    }
    Ok(OlsBootstrap {
        fit,
        lo,
        hi,
        se,
        redrawn: redrawn.load(Ordering::Relaxed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_weights_reproduce_the_fit() {
        let n = 40;
        let x: Vec<f64> = (0..n * 2).map(|t| ((t * 7919) % 97) as f64 / 9.0).collect();
        let y: Vec<f64> = (0..n * 3)
            .map(|t| ((t * 104_729) % 89) as f64 / 5.0)
            .collect();
        let o = Options {
            n_resamples: 500,
            level: 0.9,
            method: Method::Bca,
            seed: 1,
            engines: Default::default(),
        };
        let r = ols_bootstrap(&x, &y, n, 2, 3, None, &o).unwrap();
        let x_mean: Vec<f64> = (0..2)
            .map(|j| (0..n).map(|i| x[i * 2 + j]).sum::<f64>() / n as f64)
            .collect();
        let y_mean: Vec<f64> = (0..3)
            .map(|j| (0..n).map(|i| y[i * 3 + j]).sum::<f64>() / n as f64)
            .collect();
        let xc: Vec<f64> = (0..n * 2).map(|t| x[t] - x_mean[t % 2]).collect();
        let yc: Vec<f64> = (0..n * 3).map(|t| y[t] - y_mean[t % 3]).collect();
        let d = Design {
            n,
            p: 2,
            m: 3,
            x: &xc,
            y: &yc,
            x_mean,
            y_mean,
        };
        let mut out = vec![0.0; 9];
        d.fit(&vec![1.0; n], &mut out).unwrap();
        for (a, b) in out.iter().zip(&r.fit.coef) {
            assert!((a - b).abs() < 1e-10 * b.abs().max(1.0), "{a} vs {b}");
        }
        for t in 0..9 {
            assert!(r.lo[t] < r.hi[t]);
        }
    }
}
