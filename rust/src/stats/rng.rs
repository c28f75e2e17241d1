//! Counter-keyed random streams.
//!
//! Every bootstrap or permutation resample `b` draws from its own stream, keyed by
//! `(seed, b)` (and a group index where there is one). Which thread computes a resample, and in
//! which order, therefore cannot change what it draws: results are identical for a seed whatever
//! the number of threads. The generator is xoshiro256++ with its state expanded from the key by
//! SplitMix64, the seeding its authors recommend.

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The SplitMix64 counter a key starts from.
fn key_hash(key: impl Iterator<Item = u64>) -> u64 {
    let mut k = 0x6A09_E667_F3BC_C909_u64;
    for part in key {
        k = mix64(k ^ mix64(part.wrapping_add(GOLDEN)));
    }
    k
}

/// The next xoshiro256++ state expanded from the SplitMix64 counter `k`.
fn next_state(k: &mut u64) -> [u64; 4] {
    let mut s = [0u64; 4];
    for word in &mut s {
        *k = k.wrapping_add(GOLDEN);
        *word = mix64(*k);
    }
    if s == [0; 4] {
        s[0] = 1; // the all-zero state is the one fixed point of xoshiro
    }
    s
}

/// Two independent xoshiro256++ states: `next_u64` uses the first; `next_pair` advances both,
/// which doubles throughput in the hot resampling loop (one state is a chain of dependent
/// operations, two chains run side by side).
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
    t: [u64; 4],
}

#[inline(always)]
fn step(s: &mut [u64; 4]) -> u64 {
    let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
    let t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s[3].rotate_left(45);
    result
}

impl Rng {
    /// The stream for resample `index` under `seed`.
    pub fn stream(seed: u64, index: u64) -> Self {
        Self::keyed(&[seed, index])
    }

    /// A stream keyed by several integers (for example seed, group, resample).
    pub fn keyed(key: &[u64]) -> Self {
        let mut k = key_hash(key.iter().copied());
        Rng {
            s: next_state(&mut k),
            t: next_state(&mut k),
        }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        step(&mut self.s)
    }

    /// One output from each of the two states.
    #[inline(always)]
    pub fn next_pair(&mut self) -> (u64, u64) {
        (step(&mut self.s), step(&mut self.t))
    }

    /// Uniform in [0, 1) with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Exactly uniform integer in `[0, n)`, `n >= 1` (multiply-shift with rejection).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let mut m = (self.next_u64() as u128) * (n as u128);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = (self.next_u64() as u128) * (n as u128);
            }
        }
        (m >> 64) as u64
    }

    /// A draw from Binomial(`n`, `p`), exact up to rounding of the probabilities.
    ///
    /// Small means (below 20 on the smaller side) by inversion, walking up from 0; larger ones
    /// by Hörmann's transformed rejection with decomposition (BTRD, 1993), whose cost does not
    /// grow with the mean: the block totals of a bootstrap (means in the thousands) take about
    /// one pass through its first steps.
    pub fn binomial(&mut self, n: u64, p: f64) -> u64 {
        if n == 0 || p <= 0.0 {
            return 0;
        }
        if p >= 1.0 {
            return n;
        }
        if p > 0.5 {
            return n - self.binomial(n, 1.0 - p);
        }
        let nf = n as f64;
        if nf * p < 20.0 {
            return self.binomial_inversion(n, p);
        }
        self.binomial_btrd(nf, p)
    }

    fn binomial_inversion(&mut self, n: u64, p: f64) -> u64 {
        let ratio = p / (1.0 - p);
        let mut u = self.uniform();
        let mut pk = (n as f64 * (-p).ln_1p()).exp();
        let mut k = 0u64;
        loop {
            if u < pk || k == n {
                return k;
            }
            u -= pk;
            pk *= (n - k) as f64 / (k + 1) as f64 * ratio;
            k += 1;
            if pk == 0.0 {
                return k - 1;
            }
        }
    }

    /// BTRD for `p <= 0.5` and `n p >= 10`. A hat built from a transformed uniform `u` covers
    /// the probabilities; most draws fall in its central box and are returned at once (step
    /// 1), the rest are accepted against the exact ratio f(k)/f(mode), by a product near the
    /// mode, by a squeeze, or by Stirling's series for the log-factorials.
    fn binomial_btrd(&mut self, nf: f64, p: f64) -> u64 {
        let q = 1.0 - p;
        let m = ((nf + 1.0) * p).floor();
        let r = p / q;
        let nr = (nf + 1.0) * r;
        let npq = nf * p * q;
        let sq = npq.sqrt();
        let b = 1.15 + 2.53 * sq;
        let a = -0.0873 + 0.0248 * b + 0.01 * p;
        let c = nf * p + 0.5;
        let alpha = (2.83 + 5.1 / b) * sq;
        let vr = 0.92 - 4.2 / b;
        let urvr = 0.86 * vr;
        loop {
            let mut v = self.uniform();
            let u = if v <= urvr {
                let u = v / vr - 0.43;
                let k = ((2.0 * a / (0.5 - u.abs()) + b) * u + c).floor();
                if (0.0..=nf).contains(&k) {
                    return k as u64;
                }
                continue;
            } else if v >= vr {
                self.uniform() - 0.5
            } else {
                let u = v / vr - 0.93;
                v = self.uniform() * vr;
                0.5f64.copysign(u) - u
            };
            let us = 0.5 - u.abs();
            let k = ((2.0 * a / us + b) * u + c).floor();
            if !(0.0..=nf).contains(&k) {
                continue;
            }
            v *= alpha / (a / (us * us) + b);
            let km = (k - m).abs();
            if km <= 15.0 {
                // f(i) / f(i - 1) = (n + 1) r / i - r, multiplied from the mode to k.
                let mut f = 1.0;
                let mut i = m.min(k);
                while i < m.max(k) {
                    i += 1.0;
                    if m < k {
                        f *= nr / i - r;
                    } else {
                        v *= nr / i - r;
                    }
                }
                if v <= f {
                    return k as u64;
                }
                continue;
            }
            let v = v.ln();
            let rho = (km / npq) * (((km / 3.0 + 0.625) * km + 1.0 / 6.0) / npq + 0.5);
            let t = -km * km / (2.0 * npq);
            if v < t - rho {
                return k as u64;
            }
            if v > t + rho {
                continue;
            }
            let nm = nf - m + 1.0;
            let h =
                (m + 0.5) * ((m + 1.0) / (r * nm)).ln() + stirling_tail(m) + stirling_tail(nf - m);
            let nk = nf - k + 1.0;
            let bound = h + (nf + 1.0) * (nm / nk).ln() + (k + 0.5) * (nk * r / (k + 1.0)).ln()
                - stirling_tail(k)
                - stirling_tail(nf - k);
            if v <= bound {
                return k as u64;
            }
        }
    }
}

/// ln k! - [(k + 1/2) ln(k + 1) - (k + 1) + ln(2π)/2]: the error of Stirling's formula for
/// k!, exact for small k and the first terms of its series otherwise.
fn stirling_tail(k: f64) -> f64 {
    if k < 10.0 {
        let mut ln_fact = 0.0;
        let mut i = 2.0;
        while i <= k {
            ln_fact += f64::ln(i);
            i += 1.0;
        }
        let half_ln_2pi = 0.918_938_533_204_672_8;
        return ln_fact - ((k + 0.5) * (k + 1.0).ln() - (k + 1.0) + half_ln_2pi);
    }
    let z = 1.0 / (k + 1.0);
    let z2 = z * z;
    (1.0 / 12.0 - (1.0 / 360.0 - z2 / 1260.0) * z2) * z
}

/// Eight xoshiro256++ generators stepped in lockstep, stored lane-wise so that one step is a
/// handful of vector instructions. The bootstrap engines that draw millions of block indices
/// per resample take their random bits from here; a step yields 8 × 64 bits.
#[derive(Clone, Debug)]
pub struct Lanes {
    /// `s[k][lane]` is word k of lane `lane`'s state.
    pub(crate) s: [[u64; LANES]; 4],
}

pub const LANES: usize = 8;

/// Keeps lane streams apart from the `Rng` stream of the same key ("lanes" in ASCII).
const LANES_TAG: u64 = 0x6c_616e_6573;

impl Lanes {
    /// The lanes for a key (for example seed and resample index); distinct from `Rng::keyed`
    /// of the same key.
    pub fn keyed(key: &[u64]) -> Self {
        let mut k = key_hash(key.iter().copied().chain([LANES_TAG]));
        let mut s = [[0u64; LANES]; 4];
        for lane in 0..LANES {
            for (word, v) in s.iter_mut().zip(next_state(&mut k)) {
                word[lane] = v;
            }
        }
        Lanes { s }
    }

    /// One output per lane (the portable form of the vector step).
    #[inline(always)]
    pub fn step(&mut self) -> [u64; LANES] {
        let mut out = [0u64; LANES];
        for (lane, o) in out.iter_mut().enumerate() {
            let mut st = [
                self.s[0][lane],
                self.s[1][lane],
                self.s[2][lane],
                self.s[3][lane],
            ];
            *o = step(&mut st);
            for (w, v) in self.s.iter_mut().zip(st) {
                w[lane] = v;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::stream(7, 3).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::stream(7, 3).next_u64(), Rng::stream(7, 4).next_u64());
        assert_ne!(Rng::stream(7, 3).next_u64(), Rng::stream(8, 3).next_u64());
    }

    #[test]
    fn below_is_uniform() {
        let mut rng = Rng::stream(1, 0);
        let mut counts = [0usize; 7];
        for _ in 0..70_000 {
            counts[rng.below(7) as usize] += 1;
        }
        for c in counts {
            assert!((c as f64 - 10_000.0).abs() < 400.0, "{counts:?}");
        }
    }

    #[test]
    fn stirling_tail_matches_log_factorials() {
        for k in [0.0, 1.0, 5.0, 9.0, 10.0, 30.0, 1000.0] {
            let exact = super::super::special::ln_gamma(k + 1.0)
                - ((k + 0.5) * (k + 1.0f64).ln() - (k + 1.0)
                    + 0.5 * (2.0 * std::f64::consts::PI).ln());
            assert!((stirling_tail(k) - exact).abs() < 1e-10, "{k}");
        }
    }

    /// Chi-square goodness of fit of many draws against the exact probabilities: catches a
    /// hat that fails to cover the distribution, which moments alone would miss.
    #[test]
    fn binomial_matches_exact_probabilities() {
        use super::super::special::ln_gamma;
        for &(n, p) in &[
            (1_000_000u64, 0.004_096),
            (1_000_000, 0.5),
            (200, 0.1),
            (60, 0.45),
            (4096, 0.999),
            (10_000, 0.3),
        ] {
            let mut rng = Rng::stream(21, n);
            let draws = 400_000;
            let mut counts = std::collections::HashMap::new();
            for _ in 0..draws {
                *counts.entry(rng.binomial(n, p)).or_insert(0u64) += 1;
            }
            let nf = n as f64;
            let pmf = |k: f64| {
                (ln_gamma(nf + 1.0) - ln_gamma(k + 1.0) - ln_gamma(nf - k + 1.0)
                    + k * p.ln()
                    + (nf - k) * (-p).ln_1p())
                .exp()
            };
            // Bins of consecutive k holding at least 50 expected draws; tails pooled.
            let mode = ((nf + 1.0) * p).floor() as u64;
            let sd = (nf * p * (1.0 - p)).sqrt();
            let (lo, hi) = (
                mode.saturating_sub((10.0 * sd) as u64 + 10),
                (mode + (10.0 * sd) as u64 + 10).min(n),
            );
            let (mut chi2, mut bins) = (0.0, 0);
            let (mut e, mut o) = (0.0, 0u64);
            let mut covered = 0.0;
            for k in lo..=hi {
                let pk = pmf(k as f64);
                covered += pk;
                e += pk * draws as f64;
                o += counts.get(&k).copied().unwrap_or(0);
                if e >= 50.0 {
                    chi2 += (o as f64 - e).powi(2) / e;
                    bins += 1;
                    (e, o) = (0.0, 0);
                }
            }
            // (log-gamma of large n is good to ~1e-9 relative, no better.)
            assert!((covered - 1.0).abs() < 1e-6, "{covered}");
            let outside: u64 = counts
                .iter()
                .filter(|(&k, _)| k < lo || k > hi)
                .map(|(_, &c)| c)
                .sum();
            assert_eq!(outside, 0);
            let df = (bins - 1) as f64;
            assert!(
                chi2 < df + 6.0 * (2.0 * df).sqrt(),
                "n={n} p={p}: chi2 {chi2} on {df} df"
            );
        }
    }

    #[test]
    fn binomial_moments() {
        for &(n, p) in &[
            (10u64, 0.3),
            (1000, 0.01),
            (1_000_000, 0.002_048),
            (5000, 0.5),
            (40, 0.97),
        ] {
            let mut rng = Rng::stream(11, n);
            let draws = 20_000;
            let xs: Vec<f64> = (0..draws).map(|_| rng.binomial(n, p) as f64).collect();
            let mean = xs.iter().sum::<f64>() / draws as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (draws - 1) as f64;
            let (m0, v0) = (n as f64 * p, n as f64 * p * (1.0 - p));
            assert!(
                (mean - m0).abs() < 5.0 * (v0 / draws as f64).sqrt(),
                "n={n} p={p} mean {mean}"
            );
            assert!(
                (var / v0 - 1.0).abs() < 0.05,
                "n={n} p={p} var {var} vs {v0}"
            );
            assert!(xs.iter().all(|&x| x <= n as f64));
        }
    }
}
