//! The alternative hypothesis of a test, with scipy's names and meaning: "less" asks whether
//! the statistic is smaller than under the null, "greater" whether it is larger, "two-sided"
//! whether it differs either way.

use super::error::StatsError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Alternative {
    #[default]
    TwoSided,
    Less,
    Greater,
}

impl Alternative {
    pub fn parse(s: &str) -> Result<Self, StatsError> {
        match s {
            "two-sided" => Ok(Alternative::TwoSided),
            "less" => Ok(Alternative::Less),
            "greater" => Ok(Alternative::Greater),
            other => Err(StatsError::invalid(format!(
                "alternative must be 'two-sided', 'less' or 'greater', got {other:?}"
            ))),
        }
    }

    /// The p-value from the two tail probabilities `P(T <= t)` and `P(T >= t)`: a tail for a
    /// one-sided alternative, twice the smaller tail (capped at 1) for a two-sided one.
    pub fn from_tails(self, lower: f64, upper: f64) -> f64 {
        let p = match self {
            Alternative::Less => lower,
            Alternative::Greater => upper,
            Alternative::TwoSided => 2.0 * lower.min(upper),
        };
        p.clamp(0.0, 1.0)
    }

    /// One-sided p-values from the two-sided p-value `p2` of a statistic whose null
    /// distribution is continuous and symmetric about 0, given the sign of the statistic.
    pub fn from_symmetric(self, p2: f64, statistic: f64) -> f64 {
        let near = 0.5 * p2; // the tail on the statistic's own side
        match self {
            Alternative::TwoSided => p2,
            Alternative::Greater if statistic >= 0.0 => near,
            Alternative::Less if statistic <= 0.0 => near,
            _ => 1.0 - near,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_tails() {
        assert_eq!(Alternative::parse("less").unwrap(), Alternative::Less);
        let e = Alternative::parse("two_sided").unwrap_err().to_string();
        assert!(e.contains("'two-sided', 'less' or 'greater'"), "{e}");
        assert_eq!(Alternative::TwoSided.from_tails(0.3, 0.8), 0.6);
        assert_eq!(Alternative::TwoSided.from_tails(0.7, 0.8), 1.0);
        assert_eq!(Alternative::Greater.from_symmetric(0.2, 1.5), 0.1);
        assert_eq!(Alternative::Less.from_symmetric(0.2, 1.5), 0.9);
        assert_eq!(Alternative::Less.from_symmetric(0.2, -1.5), 0.1);
    }
}
