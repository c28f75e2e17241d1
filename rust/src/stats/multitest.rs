//! Adjustment of p-value families, matching statsmodels' `multipletests`.

use super::error::StatsError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjust {
    /// Benjamini–Hochberg step-up control of the false discovery rate.
    BenjaminiHochberg,
    /// Holm's step-down control of the family-wise error rate.
    Holm,
    Bonferroni,
}

/// Adjusted p-values, in the input order.
pub fn adjust(p: &[f64], method: Adjust) -> Result<Vec<f64>, StatsError> {
    if let Some(i) = p.iter().position(|v| !(0.0..=1.0).contains(v)) {
        return Err(StatsError::invalid(format!(
            "p-values must lie in [0, 1] (NaN is not allowed); entry {i} is {}",
            p[i]
        )));
    }
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    // Stable, like numpy's mergesort argsort, so equal p-values keep their order.
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut out = vec![0.0; m];
    match method {
        Adjust::Bonferroni => {
            for (o, v) in out.iter_mut().zip(p) {
                *o = (v * m as f64).min(1.0);
            }
        }
        Adjust::Holm => {
            let mut running: f64 = 0.0;
            for (rank, &i) in order.iter().enumerate() {
                running = running.max((m - rank) as f64 * p[i]);
                out[i] = running.min(1.0);
            }
        }
        Adjust::BenjaminiHochberg => {
            let mut running = f64::INFINITY;
            for (rank, &i) in order.iter().enumerate().rev() {
                // Same operation order as statsmodels (p divided by the ECDF factor), to the last bit.
                running = running.min(p[i] / ((rank + 1) as f64 / m as f64));
                out[i] = running.min(1.0);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_statsmodels() {
        let p = [0.01, 0.04, 0.03, 0.2];
        // statsmodels.stats.multitest.multipletests(p, method=...)[1]
        assert_eq!(
            adjust(&p, Adjust::BenjaminiHochberg).unwrap(),
            vec![
                0.04,
                0.053_333_333_333_333_34,
                0.053_333_333_333_333_34,
                0.2
            ]
        );
        assert_eq!(
            adjust(&p, Adjust::Holm).unwrap(),
            vec![0.04, 0.09, 0.09, 0.2]
        );
        assert!(adjust(&[0.1, f64::NAN], Adjust::Holm).is_err());
    }
}
