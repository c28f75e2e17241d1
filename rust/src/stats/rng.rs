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
        let mut k = 0x6A09_E667_F3BC_C909_u64;
        for &part in key {
            k = mix64(k ^ mix64(part.wrapping_add(GOLDEN)));
        }
        let mut state = [[0u64; 4]; 2];
        for s in &mut state {
            for word in s.iter_mut() {
                k = k.wrapping_add(GOLDEN);
                *word = mix64(k);
            }
            if *s == [0; 4] {
                s[0] = 1; // the all-zero state is the one fixed point of xoshiro
            }
        }
        Rng {
            s: state[0],
            t: state[1],
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
    /// Inversion: for small means, walking up from 0; otherwise walking outward from the mode,
    /// whose probability comes from log-gamma, so the expected work is O(sd) rather than O(mean).
    pub fn binomial(&mut self, n: u64, p: f64) -> u64 {
        if n == 0 || p <= 0.0 {
            return 0;
        }
        if p >= 1.0 {
            return n;
        }
        let q = 1.0 - p;
        let nf = n as f64;
        let ratio = p / q;
        let mut u = self.uniform();
        if nf * p < 20.0 {
            let mut pk = (nf * (-p).ln_1p()).exp();
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
        let mode = (((nf + 1.0) * p).floor() as u64).min(n);
        let mf = mode as f64;
        let ln_pm = super::special::ln_gamma(nf + 1.0)
            - super::special::ln_gamma(mf + 1.0)
            - super::special::ln_gamma(nf - mf + 1.0)
            + mf * p.ln()
            + (nf - mf) * (-p).ln_1p();
        let pm = ln_pm.exp();
        u -= pm;
        if u < 0.0 {
            return mode;
        }
        // Alternate below and above the mode: inversion over the order m, m-1, m+1, m-2, ...
        let (mut lo, mut hi) = (mode, mode);
        let (mut plo, mut phi) = (pm, pm);
        loop {
            let mut moved = false;
            if lo > 0 && plo > 0.0 {
                plo *= lo as f64 / (n - lo + 1) as f64 / ratio;
                lo -= 1;
                u -= plo;
                if u < 0.0 {
                    return lo;
                }
                moved = true;
            }
            if hi < n && phi > 0.0 {
                phi *= (n - hi) as f64 / (hi + 1) as f64 * ratio;
                hi += 1;
                u -= phi;
                if u < 0.0 {
                    return hi;
                }
                moved = true;
            }
            if !moved {
                // Only rounding mass (~1e-12) is left: give it to the mode.
                return mode;
            }
        }
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
