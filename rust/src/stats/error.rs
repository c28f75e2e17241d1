//! The one error type of the statistics kernels. The bindings map a problem with the caller's
//! input to `ValueError` and a path this CPU lacks to `RuntimeError`, each with the message
//! below.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum StatsError {
    /// A NaN or infinite value; `what` names the argument, `index` the flat position.
    NonFinite { what: String, index: usize },
    /// Two inputs that must have the same length do not.
    LengthMismatch {
        what: String,
        left: usize,
        right: usize,
    },
    /// Too few observations for the statistic.
    TooFew {
        what: String,
        needed: usize,
        got: usize,
    },
    /// Any other invalid input, with a specific message.
    Invalid(String),
    /// An engine or instruction set was forced that this CPU lacks.
    Unavailable(String),
}

impl StatsError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        StatsError::Invalid(msg.into())
    }
}

impl fmt::Display for StatsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatsError::NonFinite { what, index } => {
                write!(
                    f,
                    "{what} contains a NaN or infinite value (at flat index {index})"
                )
            }
            StatsError::LengthMismatch { what, left, right } => {
                write!(f, "{what}: lengths differ ({left} != {right})")
            }
            StatsError::TooFew { what, needed, got } => {
                write!(f, "{what} needs at least {needed} observations, got {got}")
            }
            StatsError::Invalid(msg) | StatsError::Unavailable(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for StatsError {}

/// Fails on the first NaN or infinity in `xs`.
pub fn check_finite(what: &str, xs: &[f64]) -> Result<(), StatsError> {
    match xs.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(StatsError::NonFinite {
            what: what.to_string(),
            index,
        }),
        None => Ok(()),
    }
}
