//! Ordinary least squares with an intercept, for one or many responses over the same
//! predictors.
//!
//! The predictors are centred and factored once with a Householder QR; every response then costs
//! one application of the reflectors and a triangular solve. Centring removes the intercept
//! column, which keeps the factorisation well conditioned when predictors have large means, and
//! the residual sum of squares is read off the tail of `Qᵀy` rather than from `y - Xb`, which
//! stays accurate when the fit is close to perfect.

use super::error::{check_finite, StatsError};
use super::special::{f_sf, t_two_sided_p};

/// Relative size below which a column's component orthogonal to the intercept and the earlier
/// columns counts as zero: the design is then singular to working precision.
const COLLINEAR_TOL: f64 = 1e-10;

/// Results for `m` responses and `k = p + 1` terms (intercept first); per-term arrays are
/// row-major `(m, k)`.
#[derive(Debug, Clone)]
pub struct OlsFit {
    pub n: usize,
    pub p: usize,
    pub m: usize,
    pub coef: Vec<f64>,
    pub se: Vec<f64>,
    pub t: Vec<f64>,
    pub p_value: Vec<f64>,
    pub r2: Vec<f64>,
    pub adj_r2: Vec<f64>,
    pub f: Vec<f64>,
    pub f_p: Vec<f64>,
    pub df_resid: usize,
    pub df_model: usize,
}

fn column_name(names: Option<&[String]>, j: usize) -> String {
    match names.and_then(|ns| ns.get(j)) {
        Some(name) => format!("'{name}'"),
        None => format!("'x{}'", j + 1),
    }
}

/// A QR factorisation of the centred predictors, reusable across responses.
pub struct CentredQr {
    n: usize,
    p: usize,
    /// Column means of X.
    pub x_mean: Vec<f64>,
    /// Householder vectors, column-major `n × p` (vector j lives in rows j..n of column j).
    v: Vec<f64>,
    /// `R`, column-major `p × p`, upper triangle.
    r: Vec<f64>,
}

impl CentredQr {
    /// Factors the centred predictors `x` (row-major `n × p`). Fails with a message naming the
    /// offending column when the design with intercept is singular.
    pub fn new(
        x: &[f64],
        n: usize,
        p: usize,
        names: Option<&[String]>,
    ) -> Result<Self, StatsError> {
        let mut x_mean = vec![0.0; p];
        for row in x.chunks_exact(p) {
            for (m, v) in x_mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        for m in &mut x_mean {
            *m /= n as f64;
        }
        // Column-major centred copy; raw norms are the scale for the collinearity test.
        let mut a = vec![0.0; n * p];
        let mut raw_norm = vec![0.0; p];
        for (i, row) in x.chunks_exact(p).enumerate() {
            for j in 0..p {
                a[j * n + i] = row[j] - x_mean[j];
                raw_norm[j] += row[j] * row[j];
            }
        }
        for (j, rn) in raw_norm.iter_mut().enumerate() {
            *rn = rn.sqrt();
            let col = &x[j..];
            if (0..n).all(|i| col[i * p] == col[0]) {
                return Err(StatsError::invalid(format!(
                    "X column {} is constant, so it is collinear with the intercept: X is singular",
                    column_name(names, j)
                )));
            }
        }
        let mut r = vec![0.0; p * p];
        for j in 0..p {
            let (done, rest) = a.split_at_mut((j + 1) * n);
            let col = &mut done[j * n..];
            let norm = col[j..].iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm <= COLLINEAR_TOL * raw_norm[j] {
                let what = if j == 0 {
                    "collinear with the intercept".to_string()
                } else {
                    let earlier: Vec<String> = (0..j).map(|k| column_name(names, k)).collect();
                    format!(
                        "a linear combination of the intercept and {}",
                        earlier.join(", ")
                    )
                };
                return Err(StatsError::invalid(format!(
                    "X column {} is {what}: X is singular (rank deficient)",
                    column_name(names, j)
                )));
            }
            let alpha = if col[j] > 0.0 { -norm } else { norm };
            col[j] -= alpha;
            let vnorm2: f64 = col[j..].iter().map(|v| v * v).sum();
            for k in (j + 1)..p {
                let other = &mut rest[(k - j - 1) * n..(k - j) * n];
                reflect(&col[j..], vnorm2, &mut other[j..]);
                r[k * p + j] = other[j];
            }
            r[j * p + j] = alpha;
            // Keep 1/(v·v) beside the vector by normalising v to v·v = 2, so H = I - v vᵀ.
            let scale = (2.0 / vnorm2).sqrt();
            for v in &mut col[j..] {
                *v *= scale;
            }
            for v in &mut col[..j] {
                *v = 0.0;
            }
        }
        Ok(CentredQr {
            n,
            p,
            x_mean,
            v: a,
            r,
        })
    }

    /// Applies `Qᵀ` to a centred response in place.
    fn apply_qt(&self, y: &mut [f64]) {
        for j in 0..self.p {
            let v = &self.v[j * self.n + j..(j + 1) * self.n];
            let dot: f64 = v.iter().zip(&y[j..]).map(|(a, b)| a * b).sum();
            for (yi, vi) in y[j..].iter_mut().zip(v) {
                *yi -= dot * vi;
            }
        }
    }

    /// `R⁻¹`, column-major `p × p` upper triangle.
    pub fn r_inverse(&self) -> Vec<f64> {
        let p = self.p;
        let mut inv = vec![0.0; p * p];
        for col in 0..p {
            // Solve R z = e_col by back substitution; z is zero below `col`.
            for i in (0..=col).rev() {
                let mut s = if i == col { 1.0 } else { 0.0 };
                for k in (i + 1)..=col {
                    s -= self.r[k * p + i] * inv[col * p + k];
                }
                inv[col * p + i] = s / self.r[i * p + i];
            }
        }
        inv
    }

    /// Solves `R b = c` for the first `p` entries of `Qᵀy`.
    fn solve(&self, c: &[f64]) -> Vec<f64> {
        let p = self.p;
        let mut b = vec![0.0; p];
        for i in (0..p).rev() {
            let mut s = c[i];
            for (k, bk) in b.iter().enumerate().skip(i + 1) {
                s -= self.r[k * p + i] * bk;
            }
            b[i] = s / self.r[i * p + i];
        }
        b
    }
}

fn reflect(v: &[f64], vnorm2: f64, x: &mut [f64]) {
    let dot: f64 = v.iter().zip(x.iter()).map(|(a, b)| a * b).sum();
    let f = 2.0 * dot / vnorm2;
    for (xi, vi) in x.iter_mut().zip(v) {
        *xi -= f * vi;
    }
}

/// Checks shapes and values shared by every OLS entry point.
pub fn check_ols_input(
    x: &[f64],
    y: &[f64],
    n: usize,
    p: usize,
    m: usize,
) -> Result<(), StatsError> {
    if p == 0 {
        return Err(StatsError::invalid(
            "X must have at least one predictor column",
        ));
    }
    if m == 0 {
        return Err(StatsError::invalid(
            "Y must have at least one response column",
        ));
    }
    if x.len() != n * p {
        return Err(StatsError::invalid(format!(
            "X has {} values, expected n*p = {}",
            x.len(),
            n * p
        )));
    }
    if y.len() != n * m {
        return Err(StatsError::LengthMismatch {
            what: "X rows vs Y rows".into(),
            left: n,
            right: y.len() / m,
        });
    }
    if n < p + 2 {
        return Err(StatsError::invalid(format!(
            "OLS with an intercept and {p} predictors needs at least {} rows for one residual \
             degree of freedom, got {n}",
            p + 2
        )));
    }
    check_finite("X", x)?;
    check_finite("Y", y)?;
    Ok(())
}

/// Fits `y_k = b0 + X b + e` for every response column `k` of `y` (row-major `n × m`).
/// `x` is row-major `n × p`. Matches statsmodels `OLS(y, add_constant(X)).fit()`.
pub fn ols(
    x: &[f64],
    y: &[f64],
    n: usize,
    p: usize,
    m: usize,
    names: Option<&[String]>,
) -> Result<OlsFit, StatsError> {
    check_ols_input(x, y, n, p, m)?;
    let qr = CentredQr::new(x, n, p, names)?;
    let rinv = qr.r_inverse();
    // (XcᵀXc)⁻¹ = R⁻¹R⁻ᵀ: the diagonal is the squared row norms of R⁻¹, and the intercept's
    // variance needs ‖R⁻ᵀ x̄‖².
    let diag: Vec<f64> = (0..p)
        .map(|i| (i..p).map(|k| rinv[k * p + i] * rinv[k * p + i]).sum())
        .collect();
    let w: f64 = (0..p)
        .map(|k| {
            let s: f64 = (0..=k).map(|i| rinv[k * p + i] * qr.x_mean[i]).sum();
            s * s
        })
        .sum();
    let df_resid = n - p - 1;
    let df_model = p;
    let k = p + 1;
    let mut fit = OlsFit {
        n,
        p,
        m,
        coef: vec![0.0; m * k],
        se: vec![0.0; m * k],
        t: vec![0.0; m * k],
        p_value: vec![0.0; m * k],
        r2: vec![0.0; m],
        adj_r2: vec![0.0; m],
        f: vec![0.0; m],
        f_p: vec![0.0; m],
        df_resid,
        df_model,
    };
    let mut col = vec![0.0; n];
    for r in 0..m {
        let mean = (0..n).map(|i| y[i * m + r]).sum::<f64>() / n as f64;
        for (i, c) in col.iter_mut().enumerate() {
            *c = y[i * m + r] - mean;
        }
        let tss: f64 = col.iter().map(|v| v * v).sum();
        if tss == 0.0 {
            return Err(StatsError::invalid(format!(
                "Y column {r} is constant: its R², standard errors and t statistics are undefined"
            )));
        }
        qr.apply_qt(&mut col);
        let b = qr.solve(&col[..p]);
        let ssr: f64 = col[p..].iter().map(|v| v * v).sum();
        let sigma2 = ssr / df_resid as f64;
        let b0 = mean - b.iter().zip(&qr.x_mean).map(|(a, c)| a * c).sum::<f64>();
        let row = r * k;
        fit.coef[row] = b0;
        fit.se[row] = (sigma2 * (1.0 / n as f64 + w)).sqrt();
        for j in 0..p {
            fit.coef[row + 1 + j] = b[j];
            fit.se[row + 1 + j] = (sigma2 * diag[j]).sqrt();
        }
        for j in 0..k {
            let t = fit.coef[row + j] / fit.se[row + j];
            fit.t[row + j] = t;
            fit.p_value[row + j] = t_two_sided_p(t, df_resid as f64);
        }
        let r2 = 1.0 - ssr / tss;
        fit.r2[r] = r2;
        fit.adj_r2[r] = 1.0 - (n as f64 - 1.0) / df_resid as f64 * (1.0 - r2);
        let f = ((tss - ssr) / df_model as f64) / sigma2;
        fit.f[r] = f;
        fit.f_p[r] = f_sf(f, df_model as f64, df_resid as f64);
    }
    Ok(fit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_line_recovered() {
        // y = 1 + 2 x1 - 3 x2 + small deterministic noise.
        let n = 20;
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..n {
            let x1 = i as f64;
            let x2 = ((i * 7) % 5) as f64;
            let e = if i % 2 == 0 { 0.01 } else { -0.01 };
            x.extend([x1, x2]);
            y.push(1.0 + 2.0 * x1 - 3.0 * x2 + e);
        }
        let fit = ols(&x, &y, n, 2, 1, None).unwrap();
        assert!((fit.coef[0] - 1.0).abs() < 0.05);
        assert!((fit.coef[1] - 2.0).abs() < 0.01);
        assert!((fit.coef[2] + 3.0).abs() < 0.01);
        assert!(fit.r2[0] > 0.999);
        assert_eq!(fit.df_resid, 17);
    }

    #[test]
    fn singular_designs_are_named() {
        let x = [1.0, 2.0, 2.0, 4.0, 3.0, 6.0, 4.0, 8.0];
        let y = [1.0, 3.0, 2.0, 5.0];
        let err = ols(&x, &y, 4, 2, 1, None).unwrap_err().to_string();
        assert!(err.contains("'x2'") && err.contains("singular"), "{err}");
        let x = [1.0, 5.0, 2.0, 5.0, 3.0, 5.0, 4.0, 5.0];
        let err = ols(&x, &y, 4, 2, 1, None).unwrap_err().to_string();
        assert!(err.contains("'x2' is constant"), "{err}");
    }

    #[test]
    fn too_few_rows() {
        let err = ols(&[1.0, 2.0, 3.0], &[1.0, 2.0, 4.0], 3, 1, 1, None);
        assert!(err.is_ok());
        let err = ols(&[1.0, 2.0], &[1.0, 2.0], 2, 1, 1, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 3 rows"), "{err}");
    }
}
