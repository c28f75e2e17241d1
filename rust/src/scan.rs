//! Tokenised phrase and lexicon scoring.
