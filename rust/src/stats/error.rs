//! The one error type of the statistics kernels. The bindings map a problem with the caller's
//! input to `ValueError`, a path this CPU lacks to `RuntimeError` and work too large for the
//! machine's memory to `MemoryError`, each with the message below.

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
    /// Buffers that cannot be allocated: `what` is the argument that sizes them, `bytes` what
    /// they would need, `purpose` what they hold, `limit` the machine's memory where known.
    TooLarge {
        what: String,
        value: u128,
        bytes: u128,
        purpose: String,
        limit: Option<u128>,
    },
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
            StatsError::TooLarge {
                what,
                value,
                bytes,
                purpose,
                limit,
            } => {
                let gib = |b: u128| b as f64 / (1u128 << 30) as f64;
                write!(
                    f,
                    "{what} = {value} would need {bytes} bytes ({:.3} GiB) for {purpose}, ",
                    gib(*bytes)
                )?;
                match limit {
                    Some(l) if bytes > l => {
                        write!(f, "more than this machine's {:.1} GiB of memory", gib(*l))
                    }
                    _ => f.write_str("more than can be allocated"),
                }
            }
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

/// Fails with `StatsError::TooLarge` where `bytes` exceed the machine's memory (RAM and swap,
/// where the OS tells) or cannot be reserved. The kernels call it before allocating buffers
/// sized by an argument (`what`, of value `value`): an allocation that fails inside them would
/// abort the process, which from Python ends the interpreter.
pub fn check_memory(
    what: &str,
    value: usize,
    bytes: u128,
    purpose: &str,
) -> Result<(), StatsError> {
    let limit = machine_memory();
    let fits = limit.is_none_or(|l| bytes <= l)
        && usize::try_from(bytes).is_ok_and(|b| Vec::<u8>::new().try_reserve_exact(b).is_ok());
    if fits {
        return Ok(());
    }
    Err(StatsError::TooLarge {
        what: what.to_string(),
        value: value as u128,
        bytes,
        purpose: purpose.to_string(),
        limit,
    })
}

/// RAM and swap in bytes, where the OS tells (Linux's /proc/meminfo).
fn machine_memory() -> Option<u128> {
    static MEMORY: std::sync::OnceLock<Option<u128>> = std::sync::OnceLock::new();
    *MEMORY.get_or_init(|| {
        let text = std::fs::read_to_string("/proc/meminfo").ok()?;
        let kib = |key: &str| {
            text.lines().find_map(|l| {
                let v = l.strip_prefix(key)?.trim().strip_suffix("kB")?;
                v.trim().parse::<u128>().ok()
            })
        };
        Some((kib("MemTotal:")? + kib("SwapTotal:").unwrap_or(0)) * 1024)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_sizes_are_refused_before_allocating() {
        assert!(check_memory("n_resamples", 100, 800, "values").is_ok());
        let e = check_memory("n_resamples", 1 << 60, 8 << 60, "the resampled values")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("n_resamples = 1152921504606846976 would need 9223372036854775808 bytes"),
            "{e}"
        );
        assert!(e.contains("for the resampled values, more than"), "{e}");
        // Past the address space too.
        assert!(check_memory("n", 1, u128::MAX, "x").is_err());
    }
}
