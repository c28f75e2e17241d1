//! Correlation, OLS, bootstrap and permutation statistics.
