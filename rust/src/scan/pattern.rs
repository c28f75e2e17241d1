//! What a phrase asks of the text around and between its tokens: the rule for symbols.
//!
//! Text tokens are cut at every symbol, so a profanity entry `@55` is the bare token `55`
//! and `f@g` the two tokens `f g`; matched on tokens alone they would fire on "route 55"
//! and on "f, g". So each phrase keeps, beside its tokens, the *gaps* around and between
//! them, and a gap is either free (any token boundary, as before) or a literal the text
//! must have in that place:
//!
//! - whitespace in a phrase is a free boundary: `i cannot` matches "i  CANNOT,";
//! - a run of symbols or punctuation glued to a word of the phrase, with no whitespace in
//!   between, is literal: `f@ck`, `c*nt`, `a_s_s`, `s.o.b`, `arse-bandit`, `S&M`, and also
//!   before the first word (`@55`) or after the last (`sh!+`);
//! - between two words, a run holding whitespace is free when the rest of it is soft
//!   punctuation (`sorry, but` matches "sorry but") and literal otherwise (`bi + ch`);
//! - soft punctuation at the phrase's ends is dropped before that: opening quotes and
//!   brackets before the first word, closing ones and sentence marks (`. , ; : ! ? …`)
//!   after the last, so `Fuck!` matches "fuck" and `s.o.b.` needs its inner dots only.
//!
//! Gaps are compared after `fold_gap`: a run of whitespace reads as one space, fullwidth
//! forms as ASCII (`b！tch` is `b!tch`), dashes as `-`, apostrophes as `'`, and invisible
//! format characters (zero-width spaces and joiners, soft hyphens) are dropped. Between
//! tokens the text's gap must equal the literal. A literal before the phrase must end the
//! text's gap and be preceded there by whitespace (soft opening punctuation in between is
//! allowed) or the start of the text, so `@55` matches "call @55" and "(@55" but not
//! "me@55"; after the phrase the same holds the other way round.
//!
//! A phrase with no literal gap whose tokens are all numbers or single characters (`69`,
//! `s o b`) is *weak*: it cannot tell an ordinary number or letter from the entry, and
//! lexicons built with `skip_weak` leave it out.

use super::normalize::{decode, tokenize_spans};
use super::tables::APOSTROPHES;

/// A phrase as the matcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// normalised tokens
    pub tokens: Vec<Vec<u8>>,
    /// `tokens.len() + 1` gaps: before the first token, between tokens, after the last;
    /// `None` where any boundary will do, else the folded characters the text must have
    pub gaps: Vec<Option<String>>,
}

/// Soft punctuation that may open a phrase or precede a literal at its start.
fn opening(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '(' | '[' | '{' | '“' | '„' | '«' | '‹' | '‚' | '¿' | '¡' | '「' | '『'
    )
}

/// Soft punctuation that may close a phrase or follow a literal at its end.
fn closing(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | ')'
            | ']'
            | '}'
            | '”'
            | '»'
            | '›'
            | '」'
            | '』'
            | '.'
            | ','
            | ';'
            | ':'
            | '!'
            | '?'
            | '…'
    )
}

/// Writes the boundary characters `gap` (a run between tokens, so it holds no word
/// character) into `out` in the form gaps are compared in.
pub(super) fn fold_gap(gap: &[u8], out: &mut String) {
    out.clear();
    let mut i = 0;
    while i < gap.len() {
        let b = gap[i];
        // an invalid byte stays distinct from every character a phrase can hold
        let (c, w) = if b < 128 {
            (b as char, 1)
        } else {
            decode(gap, i).unwrap_or(('\u{fffd}', 1))
        };
        i += w;
        let c = match c {
            c if c.is_whitespace() => ' ',
            '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{ad}' => continue,
            // fullwidth ASCII (this includes the fullwidth apostrophe)
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{fe58}' | '\u{fe63}' => '-',
            c if APOSTROPHES.contains(&c) => '\'',
            c => c,
        };
        if c == ' ' && out.ends_with(' ') {
            continue;
        }
        out.push(c);
    }
}

impl Pattern {
    /// The pattern of a phrase; no tokens when it has no word character.
    pub fn new(phrase: &[u8]) -> Pattern {
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut tokens: Vec<Vec<u8>> = Vec::new();
        let mut buf = Vec::new();
        tokenize_spans(phrase, &mut buf, |a, b, t| {
            spans.push((a, b));
            tokens.push(t.to_vec());
        });
        let n = tokens.len();
        let mut gaps = Vec::with_capacity(n + 1);
        let mut folded = String::new();
        for k in 0..=n {
            let a = if k == 0 { 0 } else { spans[k - 1].1 };
            let b = if k == n { phrase.len() } else { spans[k].0 };
            fold_gap(&phrase[a..b], &mut folded);
            let lit: &str = if n == 0 {
                ""
            } else if k == 0 {
                folded.trim_start_matches(|c| c == ' ' || opening(c))
            } else if k == n {
                folded.trim_end_matches(|c| c == ' ' || closing(c))
            } else if folded.contains(' ')
                && folded
                    .chars()
                    .all(|c| c == ' ' || c == '-' || opening(c) || closing(c))
            {
                ""
            } else {
                // glued to a word, or holding a symbol: literal, even when it folds to
                // nothing (only invisible characters)
                gaps.push(Some(folded.clone()));
                continue;
            };
            gaps.push((!lit.is_empty()).then(|| lit.to_string()));
        }
        Pattern { tokens, gaps }
    }

    /// Whether some gap is literal.
    pub fn is_literal(&self) -> bool {
        self.gaps.iter().any(Option::is_some)
    }

    /// No literal gap, and every token a number or a single character: matched, such a
    /// phrase ("69", "s o b") fires on ordinary numbers and letters.
    pub fn is_weak(&self) -> bool {
        !self.tokens.is_empty()
            && !self.is_literal()
            && self.tokens.iter().all(|t| {
                // tokens are built from whole characters of valid UTF-8
                let s = String::from_utf8_lossy(t);
                s.chars().count() == 1 || s.chars().all(char::is_numeric)
            })
    }
}

/// Whether the text's folded gap before a phrase's first token ends with the literal
/// `lit`, set off from any token before it (`after_token`) by whitespace.
pub(super) fn leading_ok(gap: &str, lit: &str, after_token: bool) -> bool {
    let Some(rest) = gap.strip_suffix(lit) else {
        return false;
    };
    let rest = rest.trim_end_matches(opening);
    if rest.is_empty() {
        !after_token
    } else {
        rest.ends_with(' ')
    }
}

/// Whether the text's folded gap after a phrase's last token starts with the literal
/// `lit`, set off from any token after it (`before_token`) by whitespace.
pub(super) fn trailing_ok(gap: &str, lit: &str, before_token: bool) -> bool {
    let Some(rest) = gap.strip_prefix(lit) else {
        return false;
    };
    let rest = rest.trim_start_matches(closing);
    if rest.is_empty() {
        !before_token
    } else {
        rest.starts_with(' ')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaps(p: &str) -> Vec<Option<&'static str>> {
        Pattern::new(p.as_bytes())
            .gaps
            .into_iter()
            .map(|g| g.map(|s| &*Box::leak(s.into_boxed_str())))
            .collect()
    }

    #[test]
    fn literal_and_free_gaps() {
        assert_eq!(gaps("i cannot"), vec![None, None, None]);
        assert_eq!(gaps("f@ck"), vec![None, Some("@"), None]);
        assert_eq!(gaps("@55"), vec![Some("@"), None]);
        assert_eq!(gaps("sh!+"), vec![None, Some("!+")]);
        assert_eq!(gaps("sh! +"), vec![None, Some("! +")]);
        assert_eq!(gaps("bi + ch"), vec![None, Some(" + "), None]);
        assert_eq!(gaps("bi  +\tch"), vec![None, Some(" + "), None]);
        assert_eq!(gaps("s.o.b."), vec![None, Some("."), Some("."), None]);
        assert_eq!(gaps("Fuck!"), vec![None, None]);
        assert_eq!(gaps("\"(@55)\""), vec![Some("@"), None]);
        assert_eq!(gaps("sorry, but"), vec![None, None, None]);
        assert_eq!(gaps("sorry,but"), vec![None, Some(","), None]);
        assert_eq!(gaps("b！tch"), vec![None, Some("!"), None]);
        assert_eq!(gaps("arse—bandit"), vec![None, Some("-"), None]);
        assert_eq!(gaps("f\u{200b}ck"), vec![None, Some(""), None]);
        // an apostrophe between word characters is part of the token, not a gap
        assert_eq!(gaps("can't"), vec![None, None]);
        assert_eq!(gaps("bitchin'"), vec![None, None]);
    }

    #[test]
    fn weak_phrases() {
        let weak = |p: &str| Pattern::new(p.as_bytes()).is_weak();
        assert!(weak("69") && weak("s o b") && weak("x") && weak("1 2") && weak("٣"));
        assert!(!weak("@55") && !weak("s.o.b") && !weak("bj") && !weak("4skin"));
        assert!(!weak("sixty nine") && !weak("!?"));
    }

    #[test]
    fn ends_of_a_phrase() {
        assert!(leading_ok("@", "@", false));
        assert!(!leading_ok("@", "@", true)); // me@55
        assert!(leading_ok(" @", "@", true));
        assert!(leading_ok(" (@", "@", true));
        assert!(!leading_ok("#@", "@", false));
        assert!(!leading_ok(" ", "@", true));
        assert!(trailing_ok("!+", "!+", false));
        assert!(!trailing_ok("!+", "!+", true)); // sh!+x
        assert!(trailing_ok("!+!) ", "!+", true));
        assert!(!trailing_ok("!", "!+", false));
        assert!(!trailing_ok("!+@", "!+", false));
    }

    #[test]
    fn folding_gaps() {
        let f = |g: &str| {
            let mut s = String::new();
            fold_gap(g.as_bytes(), &mut s);
            s
        };
        assert_eq!(f(" \t\u{a0} + \n"), " + ");
        assert_eq!(f("！＠"), "!@");
        assert_eq!(f("\u{2013}\u{2014}\u{2212}"), "---");
        assert_eq!(f("\u{2019}\u{ff07}"), "''");
        assert_eq!(f("\u{200b}\u{ad}@"), "@");
        let mut s = String::new();
        fold_gap(b"\xff@", &mut s);
        assert_eq!(s, "\u{fffd}@");
    }
}
