//! Tokenised phrase and lexicon scoring: refusal phrases, profanity, value words.
//!
//! A text is cut into tokens and every lexicon phrase is matched on whole tokens, so
//! "therapist" never matches "the rapist" and the other way round.
//!
//! Normalisation (the same for texts and phrases):
//! - a *word character* is a Unicode letter, mark or number (general category L*, M*, N*);
//!   every other character (punctuation, symbols, spaces, controls, invalid UTF-8 bytes)
//!   is a token boundary, and runs of boundaries collapse;
//! - word characters are written with Unicode full case folding (`str.casefold()`), so
//!   "SS", "ss" and "ß" all read "ss"; no locale rules (Turkish dotted/dotless i are folded
//!   as everywhere else: "İ" becomes "i̇", "ı" stays "ı") and no NFC/NFKC normalisation;
//! - an apostrophe (`'`, `’`, `‘`, `ʼ`, `´`, `＇`) between two word characters joins them and
//!   is written `'`, so "can't" and "can’t" are the token `can't`; anywhere else an
//!   apostrophe is a boundary (quotes around a word are dropped). "can't" is not "cant".
//!
//! Matching is Aho–Corasick over token ids: the distinct tokens of all phrases are interned,
//! a text token outside that vocabulary resets the automaton, so one pass over a text scores
//! every phrase of every lexicon. Per text and lexicon the kernel reports the number of
//! non-overlapping occurrences chosen leftmost-longest (what a regex alternation with the
//! longer phrases first would count) and the token index where the earliest match starts.
//!
//! Layout: `normalize` holds the rules and the reference tokenizer, `bits` the bit-parallel
//! byte classification, `vocab` the token table, and this module the automaton, the fast
//! token walk (which must agree with the reference tokenizer; tests check it) and the
//! parallel scoring of text columns. Nothing here knows about Python; `bind_scan` converts.

mod bits;
mod normalize;
mod pattern;
mod tables;
mod vocab;

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::fmt;

use bits::*;
use normalize::*;
use pattern::{fold_gap, leading_ok, trailing_ok};
use vocab::*;

pub use normalize::{tokenize, tokenize_spans, tokenize_with};
pub use pattern::Pattern;
pub use tables::UNICODE_VERSION;

/// A phrase that normalises to no token at all (only punctuation or spaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmptyPhrase {
    pub lexicon: usize,
    pub phrase: usize,
}

impl fmt::Display for EmptyPhrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "phrase {} of lexicon {} has no word characters, so it can never match",
            self.phrase, self.lexicon
        )
    }
}

impl std::error::Error for EmptyPhrase {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Out {
    lexicon: u32,
    len: u32,
    /// index into `Matcher::literals` of the gaps the text must have, or `ANY`
    literal: u32,
}

/// `Out::literal` of a phrase that any token boundaries match.
const ANY: u32 = u32::MAX;

const ROOT: u32 = 0;

/// Aho–Corasick automaton over token ids for one or more lexicons.
#[derive(Debug)]
pub struct Matcher {
    n_lexicons: usize,
    vocab: Vocab,
    /// transitions out of the root, indexed by token id (`ROOT` when none): the root is
    /// where the automaton spends most of its time, so it gets a dense table
    root_next: Vec<u32>,
    /// id standing for every token outside the vocabulary: `root_next[unknown]` is the root
    unknown: u32,
    /// per state: its transitions that differ from the root's and its outputs
    states: Vec<State>,
    /// states from this number on have outputs, those below have none
    first_output: u32,
    /// transitions of states with more than `INLINE` of them, beyond the inline ones
    more_token: Vec<u32>,
    more_to: Vec<u32>,
    /// every phrase ending at a state, including those reached through failure links
    outs: Vec<Out>,
    /// the gaps of phrases with literal symbols (see `pattern`), checked after the fact
    literals: Vec<Vec<Option<String>>>,
    /// the same transitions as a dense table, used instead of `step` when it is small
    dense: Option<Dense>,
}

/// The automaton as a table, for a scan loop whose step is one AND and one load.
///
/// A step of `step` is a chain of loads, compares and conditional moves from one state to
/// the next: about 15 cycles of latency per token, which bounds the whole scan loop. Here
/// the current state is an *entry*, `state << shift | row offset`: tokens that follow a
/// phrase's first token in some phrase (few: 302 of 1,569 for the refusal and profanity
/// lexicons) have a column in a table with one row per distinct transition row, and the
/// next entry is `cells[col + (entry & mask)]`; every other token leads where it leads from
/// the root, whatever the state, so its `mask` is 0 and its `col` points at that entry
/// directly. The address of the load then depends on the previous entry through a single
/// AND, and states with outputs (numbered last) are the entries from `first_output` up.
#[derive(Debug)]
struct Dense {
    /// per token id, `unknown` included: (`col`, `mask`)
    col: Vec<(u32, u32)>,
    cells: Vec<u32>,
    shift: u32,
    /// the entry of the first state with outputs
    first_output: u32,
}

/// Largest table (cells) `Dense` may use: beyond a few hundred KB its loads would leave the
/// L2 cache and the sparse step is the better choice.
const DENSE_MAX_CELLS: usize = 1 << 18;

impl Dense {
    /// `rows[s]`: the transitions of state `s` that differ from the root's (`root_next`).
    fn new(rows: &[Vec<(u32, u32)>], root_next: &[u32], first_output: u32) -> Option<Dense> {
        let n_states = rows.len();
        let mut later: Vec<u32> = rows[1..].iter().flatten().map(|&(t, _)| t).collect();
        later.sort_unstable();
        later.dedup();
        let mut col_of = vec![u32::MAX; root_next.len()];
        for (c, &t) in later.iter().enumerate() {
            col_of[t as usize] = c as u32;
        }
        // distinct rows; row 0 is the root's (and every state's without a row of its own)
        let mut row_ids: FxHashMap<&[(u32, u32)], u32> = FxHashMap::default();
        row_ids.insert(&[], 0);
        let mut distinct: Vec<&[(u32, u32)]> = vec![&[]];
        let row_of: Vec<u32> = rows
            .iter()
            .map(|r| {
                *row_ids.entry(r.as_slice()).or_insert_with(|| {
                    distinct.push(r);
                    (distinct.len() - 1) as u32
                })
            })
            .collect();
        let n_cols = later.len();
        let table = distinct.len() * n_cols;
        let shift = (table.max(1) as u64).next_power_of_two().trailing_zeros();
        if table > DENSE_MAX_CELLS || (n_states as u64) << shift > u32::MAX as u64 {
            return None;
        }
        let entry = |s: u32| (s << shift) | (row_of[s as usize] * n_cols as u32);
        let mut cells = Vec::with_capacity(table + root_next.len());
        for r in &distinct {
            for &t in &later {
                let to = r
                    .iter()
                    .find(|&&(x, _)| x == t)
                    .map_or(root_next[t as usize], |&(_, to)| to);
                cells.push(entry(to));
            }
        }
        let mask = (1u32 << shift).wrapping_sub(1);
        let col = (0..root_next.len())
            .map(|t| match col_of[t] {
                u32::MAX => {
                    cells.push(entry(root_next[t]));
                    ((cells.len() - 1) as u32, 0)
                }
                c => (c, mask),
            })
            .collect();
        Some(Dense {
            col,
            cells,
            shift,
            first_output: if first_output as usize >= n_states {
                u32::MAX
            } else {
                first_output << shift
            },
        })
    }
}

/// Transitions kept in the state itself, checked without branches.
const INLINE: usize = 3;
/// A token id no text token has.
const NO_TOKEN: u32 = u32::MAX;

/// One automaton state (half a cache line). Its complete transition function, failure
/// links resolved at build time, is: the inline transitions, then `more_*[more]`, then the
/// root's. Most states have at most `INLINE` transitions of their own, so a step is a few
/// compares and conditional moves, whatever the state.
#[derive(Clone, Copy, Debug)]
struct State {
    token: [u32; INLINE],
    to: [u32; INLINE],
    more: (u32, u32),
    outs: (u32, u32),
}

impl Matcher {
    /// Compiles the lexicons, each a list of phrases. Phrases equal after normalisation
    /// count once per lexicon.
    pub fn new<S: AsRef<str>>(lexicons: &[Vec<S>]) -> Result<Matcher, EmptyPhrase> {
        Matcher::with_options(lexicons, &[])
    }

    /// Like `new`; where `skip_weak[l]` is true, lexicon `l` leaves out its weak phrases
    /// (`Pattern::is_weak`: bare numbers and single characters), which then never match.
    pub fn with_options<S: AsRef<str>>(
        lexicons: &[Vec<S>],
        skip_weak: &[bool],
    ) -> Result<Matcher, EmptyPhrase> {
        let mut vocab: FxHashMap<Box<[u8]>, u32> = FxHashMap::default();
        let mut literal_ids: FxHashMap<Vec<Option<String>>, u32> = FxHashMap::default();
        let mut literals: Vec<Vec<Option<String>>> = Vec::new();
        // trie under construction: children per state, phrase ends per state
        let mut children: Vec<FxHashMap<u32, u32>> = vec![FxHashMap::default()];
        let mut ends: Vec<Vec<Out>> = vec![Vec::new()];
        let mut ids: Vec<u32> = Vec::new();
        for (li, phrases) in lexicons.iter().enumerate() {
            let skip = skip_weak.get(li).copied().unwrap_or(false);
            for (pi, phrase) in phrases.iter().enumerate() {
                let pat = Pattern::new(phrase.as_ref().as_bytes());
                if pat.tokens.is_empty() {
                    return Err(EmptyPhrase {
                        lexicon: li,
                        phrase: pi,
                    });
                }
                if skip && pat.is_weak() {
                    continue;
                }
                ids.clear();
                for t in &pat.tokens {
                    let next = vocab.len() as u32;
                    ids.push(*vocab.entry(t.as_slice().into()).or_insert(next));
                }
                let literal = if pat.is_literal() {
                    let next = literals.len() as u32;
                    *literal_ids.entry(pat.gaps.clone()).or_insert_with(|| {
                        literals.push(pat.gaps);
                        next
                    })
                } else {
                    ANY
                };
                let mut s = ROOT;
                for &t in &ids {
                    s = match children[s as usize].get(&t) {
                        Some(&next) => next,
                        None => {
                            let next = children.len() as u32;
                            children[s as usize].insert(t, next);
                            children.push(FxHashMap::default());
                            ends.push(Vec::new());
                            next
                        }
                    };
                }
                let out = Out {
                    lexicon: li as u32,
                    len: ids.len() as u32,
                    literal,
                };
                // one output per lexicon and state, unless the phrases ending there all need
                // their own (different) literal gaps: any one of them may hold in a text
                let e = &mut ends[s as usize];
                let free = |o: &Out| o.lexicon == out.lexicon && o.literal == ANY;
                if e.iter().any(free) || e.contains(&out) {
                    continue;
                }
                if literal == ANY {
                    e.retain(|o| o.lexicon != out.lexicon);
                }
                e.push(out);
            }
        }
        let n_states = children.len();
        let mut root_next = vec![ROOT; vocab.len() + 1];
        for (&t, &s) in &children[0] {
            root_next[t as usize] = s;
        }
        let mut edge_start = Vec::with_capacity(n_states + 1);
        let mut edge_token = Vec::new();
        let mut edge_to = Vec::new();
        for ch in &children {
            edge_start.push(edge_token.len() as u32);
            let mut sorted: Vec<(u32, u32)> = ch.iter().map(|(&t, &s)| (t, s)).collect();
            sorted.sort_unstable();
            for (t, s) in sorted {
                edge_token.push(t);
                edge_to.push(s);
            }
        }
        edge_start.push(edge_token.len() as u32);
        let mut by_id: Vec<&[u8]> = vec![&[]; vocab.len()];
        for (t, &id) in &vocab {
            by_id[id as usize] = t;
        }
        let goto = |s: u32, t: u32| -> Option<u32> {
            let (a, b) = (
                edge_start[s as usize] as usize,
                edge_start[s as usize + 1] as usize,
            );
            edge_token[a..b]
                .iter()
                .position(|&x| x == t)
                .map(|k| edge_to[a + k])
        };
        // failure links in breadth-first order, so a state's link target (always shallower)
        // is final before the state is visited
        let mut fail = vec![ROOT; n_states];
        let mut order = Vec::with_capacity(n_states);
        order.push(ROOT);
        let mut head = 0;
        while head < order.len() {
            let s = order[head];
            head += 1;
            for e in edge_start[s as usize] as usize..edge_start[s as usize + 1] as usize {
                let (t, child) = (edge_token[e], edge_to[e]);
                if s != ROOT {
                    let mut f = fail[s as usize];
                    fail[child as usize] = loop {
                        if let Some(x) = goto(f, t) {
                            break x;
                        }
                        if f == ROOT {
                            break ROOT;
                        }
                        f = fail[f as usize];
                    };
                }
                order.push(child);
            }
        }
        // outputs and full transitions, each built from the failure target's
        let mut all: Vec<Vec<Out>> = vec![Vec::new(); n_states];
        let mut next: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n_states];
        for &s in &order[1..] {
            let f = fail[s as usize] as usize;
            let mut o = ends[s as usize].clone();
            o.extend_from_slice(&all[f]);
            all[s as usize] = o;
            let mut row: FxHashMap<u32, u32> = next[f].iter().copied().collect();
            for e in edge_start[s as usize] as usize..edge_start[s as usize + 1] as usize {
                row.insert(edge_token[e], edge_to[e]);
            }
            let mut row: Vec<(u32, u32)> = row
                .into_iter()
                .filter(|&(t, to)| to != root_next[t as usize])
                .collect();
            row.sort_unstable();
            next[s as usize] = row;
        }
        // states numbered anew, those with outputs last: whether a state has any is then a
        // compare of its number, with no load on the scanner's critical path
        let mut order: Vec<usize> = (0..n_states).collect();
        order.sort_by_key(|&s| !all[s].is_empty());
        let mut renum = vec![0u32; n_states];
        for (new, &old) in order.iter().enumerate() {
            renum[old] = new as u32;
        }
        debug_assert!(renum[ROOT as usize] == ROOT && all[ROOT as usize].is_empty());
        let first_output = order
            .iter()
            .position(|&s| !all[s].is_empty())
            .unwrap_or(n_states) as u32;
        let root_next = root_next.iter().map(|&s| renum[s as usize]).collect();
        let mut m = Matcher {
            n_lexicons: lexicons.len(),
            vocab: Vocab::new(&by_id),
            root_next,
            unknown: vocab.len() as u32,
            states: Vec::with_capacity(n_states),
            first_output,
            more_token: Vec::new(),
            more_to: Vec::new(),
            outs: Vec::new(),
            literals,
            dense: None,
        };
        for &old in &order {
            let (o, row) = (&all[old], &next[old]);
            let row: Vec<(u32, u32)> = row.iter().map(|&(t, to)| (t, renum[to as usize])).collect();
            let mut st = State {
                token: [NO_TOKEN; INLINE],
                to: [ROOT; INLINE],
                more: (0, 0),
                outs: (m.outs.len() as u32, (m.outs.len() + o.len()) as u32),
            };
            m.outs.extend_from_slice(o);
            for (k, &(t, to)) in row.iter().take(INLINE).enumerate() {
                st.token[k] = t;
                st.to[k] = to;
            }
            let start = m.more_token.len() as u32;
            for &(t, to) in row.iter().skip(INLINE) {
                m.more_token.push(t);
                m.more_to.push(to);
            }
            st.more = (start, m.more_token.len() as u32);
            m.states.push(st);
        }
        let rows: Vec<Vec<(u32, u32)>> = order
            .iter()
            .map(|&old| {
                next[old]
                    .iter()
                    .map(|&(t, to)| (t, renum[to as usize]))
                    .collect()
            })
            .collect();
        m.dense = Dense::new(&rows, &m.root_next, m.first_output);
        Ok(m)
    }

    /// The same matcher scanning with `step` only, as it does when the table is too large.
    #[cfg(test)]
    fn sparse(mut self) -> Matcher {
        self.dense = None;
        self
    }

    /// Number of lexicons compiled into this matcher.
    pub fn n_lexicons(&self) -> usize {
        self.n_lexicons
    }

    /// Number of distinct tokens over all phrases.
    pub fn vocabulary_size(&self) -> usize {
        self.vocab.len()
    }

    /// Writes into `ids` the vocabulary id (`UNKNOWN` outside it) of every token of `text`,
    /// in order: the same tokens as `tokenize_with`. ASCII text is classified 64 bytes at a
    /// time into a bit mask of word bytes whose runs are the tokens, and a short token is
    /// looked up straight from one load of its bytes. A block holding a non-ASCII byte goes
    /// one token at a time, through the full Unicode rules.
    #[inline(always)]
    fn token_ids<K: Classify>(&self, text: &[u8], buf: &mut Vec<u8>, ids: &mut Vec<u32>) {
        ids.clear();
        // at most one token per two bytes, plus one: written without a capacity check each,
        // through a pointer and a length held in registers (a closure's captured state or
        // the Vec's own length would live in memory across the calls of the slow path)
        let cap = text.len() / 2 + 1;
        ids.reserve(cap);
        let mut out = ids.as_mut_ptr();
        let mut len = 0;
        macro_rules! emit {
            ($id:expr) => {{
                let id = $id;
                debug_assert!(len < cap);
                // SAFETY: a token takes at least one byte and is followed by a boundary byte
                // or the end, so there are at most `cap` of them, and `cap` are reserved
                unsafe { out.add(len).write(id) };
                len += 1;
            }};
        }
        // the token-at-a-time path, pushing onto `ids` (within the reserved capacity)
        macro_rules! slow {
            ($from:expr, $stop:expr) => {{
                // SAFETY: the first `len` entries are written
                unsafe { ids.set_len(len) };
                let end = self.tokens_from(text, $from, $stop, buf, &mut |id| ids.push(id));
                len = ids.len();
                // unread where the text ends here, which only sets the final length
                #[allow(unused_assignments)]
                {
                    out = ids.as_mut_ptr();
                }
                end
            }};
        }
        let n = text.len();
        let mut i = 0;
        // start of a token that runs past the current block
        let mut open: Option<usize> = None;
        // the last, partial block is copied here, padded with spaces, to take the same path;
        // so is a full block that ends less than 8 bytes before the text does, so that the
        // 8-byte load of a short token from `src` never needs a bounds check
        let mut pad = [b' '; BLOCK + 8];
        loop {
            let last = i + BLOCK > n;
            let (src, base) = if last {
                let from = open.take().unwrap_or(i);
                if n - from >= BLOCK {
                    // a token longer than a block ends the text
                    slow!(from, n);
                    break;
                }
                pad[..n - from].copy_from_slice(&text[from..]);
                pad[n - from..].fill(b' ');
                i = from;
                (&pad[..], 0)
            } else if i + BLOCK + 8 > n {
                pad[..n - i].copy_from_slice(&text[i..]);
                pad[n - i..].fill(b' ');
                (&pad[..], 0)
            } else {
                (text, i)
            };
            let (word, apos, high) = K::masks(&src[base..base + BLOCK]);
            // an apostrophe between two word bytes of the block joins them; at either edge
            // of the block its neighbour is unknown here, so the block goes the slow way
            let edge = apos & (1 | 1 << (BLOCK - 1));
            if (high | edge) != 0 {
                let from = open.take().unwrap_or(i);
                i = slow!(from, if last { n } else { i + BLOCK });
                if last {
                    break;
                }
                continue;
            }
            let mut w = word | (apos & word << 1 & word >> 1);
            if let Some(start) = open {
                let run = (!w).trailing_zeros() as usize;
                if run == BLOCK {
                    i += BLOCK;
                    continue;
                }
                emit!(self.ascii_id(text, start, i + run));
                open = None;
                w &= !0u64 << run;
            }
            if w >> (BLOCK - 1) != 0 {
                // a token runs to the end of the block (only possible for a full block: the
                // padding ends every token): it is reported once its end is known
                let run = (!w).leading_zeros() as usize;
                open = Some(i + BLOCK - run);
                w &= !(u64::MAX << (BLOCK - run));
            }
            // first and last byte of every run: the k-th start pairs with the k-th end, so
            // each token costs two bit scans and two bit clears, and no branch of its own
            let mut starts = w & !(w << 1);
            let mut ends = w & !(w >> 1);
            while starts != 0 {
                let s = starts.trailing_zeros() as usize;
                let e = ends.trailing_zeros() as usize + 1;
                emit!(self.block_id(src, base + s, base + e));
                starts &= starts - 1;
                ends &= ends - 1;
            }
            if last {
                break;
            }
            i += BLOCK;
        }
        // SAFETY: the first `len` entries are written
        unsafe { ids.set_len(len) };
    }

    /// Tokens one at a time from `i` until one ends at or after `stop`; returns where.
    #[inline(never)]
    fn tokens_from<F: FnMut(u32)>(
        &self,
        text: &[u8],
        mut i: usize,
        stop: usize,
        buf: &mut Vec<u8>,
        f: &mut F,
    ) -> usize {
        while i < stop {
            i = self.token_at(text, i, buf, f);
        }
        i
    }

    /// `ascii_id` of a token inside a block, where 8 bytes from `a` are always in `src`.
    #[inline(always)]
    fn block_id(&self, src: &[u8], a: usize, b: usize) -> u32 {
        let len = b - a;
        debug_assert!(a + 8 <= src.len());
        if len <= SHORT {
            // SAFETY: a block is read from `src` only when 8 bytes past its end are in
            // `src` too (`for_each_token_id` copies blocks near the end into padding)
            let x = unsafe { (src.as_ptr().add(a) as *const u64).read_unaligned() };
            self.vocab.find_ascii_word(u64::from_le(x), len)
        } else {
            self.vocab.find_ascii(&src[a..b])
        }
    }

    /// Id of the ASCII token `src[a..b]` (letters, digits, joining apostrophes).
    #[inline(always)]
    fn ascii_id(&self, src: &[u8], a: usize, b: usize) -> u32 {
        let len = b - a;
        if len <= SHORT && a + 8 <= src.len() {
            let x = u64::from_le_bytes(src[a..a + 8].try_into().unwrap());
            self.vocab.find_ascii_word(x, len)
        } else {
            self.vocab.find_ascii(&src[a..b])
        }
    }

    /// Handles the token or boundary character at `i`, calling `f` for a token; returns
    /// where the next one starts.
    #[inline]
    fn token_at<F: FnMut(u32)>(
        &self,
        text: &[u8],
        mut i: usize,
        buf: &mut Vec<u8>,
        f: &mut F,
    ) -> usize {
        let class = ASCII_CLASS[text[i] as usize];
        if class == A_BOUND || class == A_APOS {
            // an apostrophe here has no token before it: a boundary
            return i + 1;
        }
        buf.clear();
        if class == A_WORD {
            let start = i;
            i = ascii_run_end(text, i);
            if !continues_beyond_ascii(text, i) {
                f(self.vocab.find_ascii(&text[start..i]));
                return i;
            }
            buf.extend(text[start..i].iter().map(|&c| c | LOWER));
        }
        let end = slow_token(text, i, buf);
        if buf.is_empty() {
            // a non-ASCII boundary character or an invalid byte
            return i + decode(text, i).map_or(1, |(_, w)| w);
        }
        f(self.vocab.find(buf));
        end
    }

    /// The automaton's transition on a token id (`self.unknown` for a token outside the
    /// vocabulary).
    #[inline(always)]
    fn step(&self, s: u32, t: u32) -> u32 {
        debug_assert!((s as usize) < self.states.len() && t <= self.unknown);
        // SAFETY: `s` is a state of this automaton (the root, or a `to` of a transition, all
        // built below `states.len()`), and `t` is a vocabulary id or `unknown`, both below
        // `root_next.len() == unknown + 1`: this is the innermost loop of the scanner
        let (st, mut next) = unsafe {
            (
                self.states.get_unchecked(s as usize),
                *self.root_next.get_unchecked(t as usize),
            )
        };
        for k in 0..INLINE {
            next = if st.token[k] == t { st.to[k] } else { next };
        }
        let (a, b) = (st.more.0 as usize, st.more.1 as usize);
        if a != b {
            if let Some(k) = self.more_token[a..b].iter().position(|&x| x == t) {
                next = self.more_to[a + k];
            }
        }
        next
    }

    /// Whether the text has the literal gaps `self.literals[literal]` around and between
    /// its tokens `start..start + len` (byte ranges in `spans`).
    fn literal_ok(
        &self,
        literal: u32,
        text: &[u8],
        spans: &[(usize, usize)],
        start: usize,
        len: u32,
        folded: &mut String,
    ) -> bool {
        let len = len as usize;
        for (k, lit) in self.literals[literal as usize].iter().enumerate() {
            let Some(lit) = lit else { continue };
            // token index of the token after gap k
            let t = start + k;
            let a = if t == 0 { 0 } else { spans[t - 1].1 };
            let b = if t < spans.len() {
                spans[t].0
            } else {
                text.len()
            };
            fold_gap(&text[a..b], folded);
            let ok = if k == 0 {
                leading_ok(folded, lit, t > 0)
            } else if k == len {
                trailing_ok(folded, lit, t < spans.len())
            } else {
                folded == lit
            };
            if !ok {
                return false;
            }
        }
        true
    }

    /// Scores one text into `count` and `first` (one slot per lexicon), with AVX-512 where
    /// `sc.avx512` says the CPU has it; both paths give the same results (tests check it).
    #[inline]
    fn score(&self, text: &[u8], sc: &mut Scratch, count: &mut [i64], first: &mut [i64]) {
        #[cfg(target_arch = "x86_64")]
        if sc.avx512 {
            // SAFETY: `sc.avx512` is true only where `avx512_available()` is
            return unsafe { self.score_avx512(text, sc, count, first) };
        }
        self.score_with::<Portable>(text, sc, count, first)
    }

    /// `score` compiled for AVX-512 CPUs: the whole kernel, so that the classification is
    /// inlined into the block loop (a call per block would cost what AVX-512 saves).
    ///
    /// # Safety
    /// `avx512_available()` must be true.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,bmi1,bmi2")]
    unsafe fn score_avx512(
        &self,
        text: &[u8],
        sc: &mut Scratch,
        count: &mut [i64],
        first: &mut [i64],
    ) {
        self.score_with::<Avx512>(text, sc, count, first)
    }

    #[inline(always)]
    fn score_with<K: Classify>(
        &self,
        text: &[u8],
        sc: &mut Scratch,
        count: &mut [i64],
        first: &mut [i64],
    ) {
        count.fill(0);
        first.fill(-1);
        sc.hits.clear();
        // token ids first, then the automaton over them: two tight loops instead of one
        // loop calling back from several places (which defeats inlining)
        self.token_ids::<K>(text, &mut sc.buf, &mut sc.ids);
        let ids = &sc.ids;
        let hits = &mut sc.hits;
        let mut literal = false;
        let mut push = |state: u32, pos: usize| {
            let (a, b) = self.states[state as usize].outs;
            for o in &self.outs[a as usize..b as usize] {
                literal |= o.literal != ANY;
                hits.push(Hit {
                    lexicon: o.lexicon,
                    start: (pos + 1) as u64 - o.len as u64,
                    len: o.len,
                    literal: o.literal,
                });
            }
        };
        if let Some(d) = &self.dense {
            let mut e = 0u32;
            for (pos, &id) in ids.iter().enumerate() {
                let id = id.min(self.unknown) as usize;
                debug_assert!(id < d.col.len());
                // SAFETY: `col` has an entry per vocabulary id and `unknown`; `col + (e &
                // mask)` is a cell by construction (`Dense::new`): the scan's innermost loop
                let (col, mask) = unsafe { *d.col.get_unchecked(id) };
                let k = (col + (e & mask)) as usize;
                debug_assert!(k < d.cells.len());
                e = unsafe { *d.cells.get_unchecked(k) };
                if e >= d.first_output {
                    push(e >> d.shift, pos);
                }
            }
        } else {
            let mut state = ROOT;
            for (pos, &id) in ids.iter().enumerate() {
                // UNKNOWN becomes the extra token id whose every transition leads to the
                // root: no phrase contains it, so every partial match dies here (and no
                // branch is taken)
                state = self.step(state, id.min(self.unknown));
                if state >= self.first_output {
                    push(state, pos);
                }
            }
        }
        if literal {
            // rare (a candidate for a phrase with symbols): find where the tokens lie in
            // the text, once, and drop the candidates whose symbols are not there
            let spans = &mut sc.spans;
            spans.clear();
            tokenize_spans(text, &mut sc.buf, |a, b, _| spans.push((a, b)));
            debug_assert_eq!(spans.len(), ids.len());
            let gap = &mut sc.gap;
            hits.retain(|h| {
                h.literal == ANY
                    || self.literal_ok(h.literal, text, spans, h.start as usize, h.len, gap)
            });
        }
        if hits.is_empty() {
            return;
        }
        // leftmost-longest, non-overlapping, per lexicon
        hits.sort_unstable_by(|x, y| (x.lexicon, x.start, y.len).cmp(&(y.lexicon, y.start, x.len)));
        let mut next_free: u64 = 0;
        let mut current = u32::MAX;
        for h in hits.iter() {
            let l = h.lexicon as usize;
            if h.lexicon != current {
                current = h.lexicon;
                next_free = 0;
                first[l] = h.start as i64;
            }
            if h.start >= next_free {
                count[l] += 1;
                next_free = h.start + h.len as u64;
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Hit {
    lexicon: u32,
    start: u64,
    len: u32,
    literal: u32,
}

struct Scratch {
    /// whether `score` takes the AVX-512 path
    avx512: bool,
    buf: Vec<u8>,
    ids: Vec<u32>,
    hits: Vec<Hit>,
    /// byte ranges of the text's tokens, filled only when a phrase's symbols need checking
    spans: Vec<(usize, usize)>,
    gap: String,
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch {
            #[cfg(target_arch = "x86_64")]
            avx512: avx512_available(),
            #[cfg(not(target_arch = "x86_64"))]
            avx512: false,
            buf: Vec::new(),
            ids: Vec::new(),
            hits: Vec::new(),
            spans: Vec::new(),
            gap: String::new(),
        }
    }
}

/// A column of texts the kernel can read from any thread.
pub trait Texts: Sync {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The UTF-8 bytes of text `i` (empty for a missing value).
    fn get(&self, i: usize) -> &[u8];
}

impl Texts for [&[u8]] {
    fn len(&self) -> usize {
        <[&[u8]]>::len(self)
    }
    fn get(&self, i: usize) -> &[u8] {
        self[i]
    }
}

impl Texts for [&str] {
    fn len(&self) -> usize {
        <[&str]>::len(self)
    }
    fn get(&self, i: usize) -> &[u8] {
        self[i].as_bytes()
    }
}

/// An Arrow `string` (i32 offsets) or `large_string` (i64 offsets) array read in place from
/// its buffers. Construction checks the offsets, so reads never go out of bounds.
pub struct ArrowTexts<'a, O> {
    offsets: &'a [O],
    data: &'a [u8],
    validity: Option<(&'a [u8], usize)>,
}

/// Arrow offset types.
pub trait Offset: Copy + Sync {
    fn to_i64(self) -> i64;
}
impl Offset for i32 {
    fn to_i64(self) -> i64 {
        self as i64
    }
}
impl Offset for i64 {
    fn to_i64(self) -> i64 {
        self
    }
}

impl<'a, O: Offset> ArrowTexts<'a, O> {
    /// `offsets` has one more entry than there are texts; `validity` is the Arrow bitmap
    /// (LSB first) with the bit index of the first text, or `None` when nothing is null.
    pub fn new(
        offsets: &'a [O],
        data: &'a [u8],
        validity: Option<(&'a [u8], usize)>,
    ) -> Result<Self, String> {
        if offsets.is_empty() {
            return Err("offsets must have at least one entry".into());
        }
        let mut prev = offsets[0].to_i64();
        if prev < 0 {
            return Err(format!("offset 0 is negative ({prev})"));
        }
        for (i, o) in offsets.iter().enumerate().skip(1) {
            let o = o.to_i64();
            if o < prev {
                return Err(format!("offsets decrease at entry {i} ({prev} > {o})"));
            }
            prev = o;
        }
        if prev as u64 > data.len() as u64 {
            return Err(format!(
                "last offset {prev} is past the end of the data buffer ({} bytes)",
                data.len()
            ));
        }
        if let Some((bits, off)) = validity {
            let need = (off + offsets.len() - 1).div_ceil(8);
            if bits.len() < need {
                return Err(format!(
                    "validity bitmap has {} bytes, {need} needed",
                    bits.len()
                ));
            }
        }
        Ok(ArrowTexts {
            offsets,
            data,
            validity,
        })
    }
}

impl<O: Offset> Texts for ArrowTexts<'_, O> {
    fn len(&self) -> usize {
        self.offsets.len() - 1
    }
    fn get(&self, i: usize) -> &[u8] {
        if let Some((bits, off)) = self.validity {
            let k = off + i;
            if bits[k / 8] >> (k % 8) & 1 == 0 {
                return &[];
            }
        }
        let a = self.offsets[i].to_i64() as usize;
        let b = self.offsets[i + 1].to_i64() as usize;
        &self.data[a..b]
    }
}

/// Per-lexicon scores of a column of texts, lexicon-major: entry `l * n + i` is lexicon
/// `l`, text `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scores {
    pub n_texts: usize,
    pub n_lexicons: usize,
    /// non-overlapping occurrences, leftmost-longest
    pub count: Vec<i64>,
    /// token index where the earliest match starts, -1 when none
    pub first: Vec<i64>,
}

/// How many texts ahead `scan` prefetches.
const PREFETCH: usize = 3;

/// Hints the start of `bytes` into the cache; a no-op off x86_64.
#[inline(always)]
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = bytes.as_ptr() as *const i8;
        // a prefetch never faults, whatever the address; the second line covers most texts
        unsafe {
            _mm_prefetch(p, _MM_HINT_T0);
            _mm_prefetch(p.wrapping_add(64), _MM_HINT_T0);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// Texts per parallel work item: large enough to amortise scheduling, small enough to
/// balance a skewed mix of long and short texts.
const CHUNK: usize = 256;

/// Scores every text against every lexicon of `m`, in parallel on the current rayon pool.
/// Each text is scored on its own, so the result does not depend on the number of threads.
pub fn scan<T: Texts + ?Sized>(m: &Matcher, texts: &T) -> Scores {
    let n = texts.len();
    let k = m.n_lexicons;
    // text-major while scoring, so each work item owns one contiguous slice
    let mut count = vec![0i64; n * k];
    let mut first = vec![-1i64; n * k];
    if k > 0 {
        count
            .par_chunks_mut(CHUNK * k)
            .zip(first.par_chunks_mut(CHUNK * k))
            .enumerate()
            .for_each_init(Scratch::default, |sc, (c, (cnt, fst))| {
                for (j, (cs, fs)) in cnt.chunks_mut(k).zip(fst.chunks_mut(k)).enumerate() {
                    let i = c * CHUNK + j;
                    // texts from a Python list lie scattered in memory: ask for the start of
                    // a text a few ahead, so it arrives while this one is scored
                    if i + PREFETCH < n {
                        prefetch(texts.get(i + PREFETCH));
                    }
                    m.score(texts.get(i), sc, cs, fs);
                }
            });
    }
    if k > 1 {
        count = transpose(&count, n, k);
        first = transpose(&first, n, k);
    }
    Scores {
        n_texts: n,
        n_lexicons: k,
        count,
        first,
    }
}

fn transpose(v: &[i64], rows: usize, cols: usize) -> Vec<i64> {
    let mut out = vec![0i64; v.len()];
    for (r, row) in v.chunks_exact(cols).enumerate() {
        for (c, &x) in row.iter().enumerate() {
            out[c * rows + r] = x;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        tokenize(s)
    }

    /// The token ids of the block walk with each classification this CPU runs.
    fn fast_ids(m: &Matcher, text: &[u8], buf: &mut Vec<u8>) -> Vec<Vec<u32>> {
        let mut out = vec![Vec::new()];
        m.token_ids::<Portable>(text, buf, &mut out[0]);
        #[cfg(target_arch = "x86_64")]
        if avx512_available() {
            let mut v = Vec::new();
            m.token_ids::<Avx512>(text, buf, &mut v);
            out.push(v);
        }
        out
    }

    fn one(phrases: &[&str], texts: &[&str]) -> (Vec<i64>, Vec<i64>) {
        let m = Matcher::new(&[phrases.to_vec()]).unwrap();
        let s = scan(&m, texts);
        (s.count, s.first)
    }

    #[test]
    fn tokenizes_case_punctuation_and_space() {
        assert_eq!(toks("I  CANNOT,"), vec!["i", "cannot"]);
        assert_eq!(toks("  ...hello—World!! "), vec!["hello", "world"]);
        assert_eq!(toks(""), Vec::<String>::new());
        assert_eq!(toks("a_b-c"), vec!["a", "b", "c"]);
    }

    #[test]
    fn apostrophes_join_only_between_word_characters() {
        assert_eq!(toks("I can't"), vec!["i", "can't"]);
        assert_eq!(toks("I can’t"), vec!["i", "can't"]);
        assert_eq!(toks("I canʼt"), vec!["i", "can't"]);
        assert_eq!(toks("'quoted' rock'n'roll"), vec!["quoted", "rock'n'roll"]);
        assert_eq!(toks("bitchin' can''t"), vec!["bitchin", "can", "t"]);
    }

    #[test]
    fn unicode_case_folding() {
        assert_eq!(toks("STRASSE Straße"), vec!["strasse", "strasse"]);
        assert_eq!(toks("ΣΊΣΥΦΟΣ"), vec!["σίσυφοσ"]);
        // Turkish i is left to the general folding
        assert_eq!(toks("İ ı I"), vec!["i\u{307}", "ı", "i"]);
        assert_eq!(toks("𐐀"), vec!["𐐨"]);
        assert_eq!(toks("ŉ"), vec!["'n"]);
    }

    #[test]
    fn invalid_utf8_is_a_boundary() {
        let m = Matcher::new(&[vec!["ab"]]).unwrap();
        let texts: Vec<&[u8]> = vec![b"ab\xffab", b"\xe2\x80", b"ab\xf0\x9f"];
        let s = scan(&m, texts.as_slice());
        assert_eq!(s.count, vec![2, 0, 1]);
    }

    #[test]
    fn fast_token_ids_agree_with_tokenize() {
        let m = Matcher::new(&[vec![
            "can't",
            "straße",
            "i",
            "rock'n'roll",
            "e\u{301}",
            "ab",
            "x1",
            "日本",
            "'n",
        ]])
        .unwrap();
        let pieces = [
            "can't",
            "CAN’T",
            "Straße",
            "STRASSE",
            "I",
            "İ",
            "rock'N'roll",
            "e\u{301}",
            "é",
            "ab",
            "aB",
            "x1",
            "日本",
            "ŉ",
            " ",
            "'",
            "’",
            "-",
            "\u{301}",
            "\u{a0}",
            "\u{ff07}",
        ];
        let mut buf = Vec::new();
        let mut buf2 = Vec::new();
        for a in 0..pieces.len() {
            for b in 0..pieces.len() {
                for c in [0, 5, 14, 15, 18] {
                    let text = format!("{}{}{}", pieces[a], pieces[b], pieces[c]);
                    let mut slow = Vec::new();
                    tokenize_with(text.as_bytes(), &mut buf, |t| slow.push(m.vocab.find(t)));
                    for fast in fast_ids(&m, text.as_bytes(), &mut buf2) {
                        assert_eq!(fast, slow, "{text:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn swar_classification_agrees_with_the_byte_table() {
        let mut x: u64 = 0x0123_4567_89ab_cdef;
        for _ in 0..20_000 {
            // xorshift over all byte values, and a pass over each value in every lane
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let m = alnum_mask(x);
            for k in 0..8 {
                let b = (x >> (8 * k)) as u8;
                let want = ASCII_CLASS[b as usize] == A_WORD;
                assert_eq!(m >> (8 * k + 7) & 1 == 1, want, "{x:#x} byte {k}");
            }
        }
        for b in 0..=255u64 {
            let m = alnum_mask(b * LO);
            assert_eq!(m != 0, ASCII_CLASS[b as usize] == A_WORD, "{b}");
        }
    }

    #[test]
    fn block_masks_agree_with_the_byte_table() {
        let mut x: u64 = 0x0123_4567_89ab_cdef;
        let mut bytes = [0u8; BLOCK];
        for round in 0..10_000 {
            for b in bytes.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // mostly ASCII, with apostrophes and high bytes mixed in
                *b = match round % 3 {
                    0 => x as u8,
                    1 => (x as u8) & 0x7f,
                    _ => [b'\'', b'a', b'Z', b' ', b'0', 0xc3, b'_', b'&'][(x % 8) as usize],
                };
            }
            let (mut word, mut apos, mut high) = (0u64, 0u64, 0u64);
            for (k, &b) in bytes.iter().enumerate() {
                word |= ((ASCII_CLASS[b as usize] == A_WORD) as u64) << k;
                apos |= ((b == b'\'') as u64) << k;
                high |= ((b >= 128) as u64) << k;
            }
            assert_eq!(block_masks(&bytes), (word, apos, high), "{bytes:?}");
            assert_eq!(block_masks_swar(&bytes), (word, apos, high), "{bytes:?}");
            #[cfg(target_arch = "x86_64")]
            if avx512_available() {
                // SAFETY: the CPU has the features, checked just above
                let got = unsafe { block_masks_avx512(&bytes) };
                assert_eq!(got, (word, apos, high), "{bytes:?}");
            }
        }
    }

    #[test]
    fn block_path_agrees_with_tokenize_on_long_texts() {
        let vocab = [
            "can't",
            "i",
            "the",
            "therapist",
            "rock'n'roll",
            "straße",
            "x",
            "abcdefgh",
        ];
        let m = Matcher::new(&[vocab.to_vec()]).unwrap();
        // pure-ASCII pieces first: half of the texts use only those and take the block path
        // throughout, the other half also get non-ASCII blocks
        let pieces = [
            "can't",
            "I",
            "the",
            "THERAPIST",
            "rock'n'roll",
            "x",
            "ABCDEFGH",
            "don'",
            "'t",
            "abcdefghijklmnopqrstuvwxyz",
            " ",
            "  ",
            ", ",
            "'",
            "''",
            "-",
            "Straße",
            "’",
            "é",
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let (mut b1, mut b2) = (Vec::new(), Vec::new());
        for round in 0..3000 {
            let choices = if round % 2 == 0 {
                pieces.len() - 3
            } else {
                pieces.len()
            };
            let mut text = String::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = (x % 60) as usize;
            for _ in 0..k {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                text.push_str(pieces[(x % choices as u64) as usize]);
            }
            let mut slow = Vec::new();
            tokenize_with(text.as_bytes(), &mut b1, |t| slow.push(m.vocab.find(t)));
            for fast in fast_ids(&m, text.as_bytes(), &mut b2) {
                assert_eq!(fast, slow, "{text:?}");
            }
            // the spans that literal gaps are checked on cover the same tokens
            let mut spans = Vec::new();
            tokenize_spans(text.as_bytes(), &mut b1, |a, b, t| {
                spans.push(m.vocab.find(t));
                assert_eq!(tokenize(&text[a..b]).len(), 1, "{text:?} {a}..{b}");
            });
            assert_eq!(spans, slow, "{text:?}");
        }
        // tokens of a block or more, at the end of the text and elsewhere
        let long = "a".repeat(150);
        for text in [
            format!("x {long}"),
            long.clone(),
            "b".repeat(64),
            format!("{long} the"),
            format!("the {}", &long[..61]),
            format!("{} x {long}", "y".repeat(70)),
        ] {
            let mut slow = Vec::new();
            tokenize_with(text.as_bytes(), &mut b1, |t| slow.push(m.vocab.find(t)));
            for fast in fast_ids(&m, text.as_bytes(), &mut b2) {
                assert_eq!(fast, slow, "{text:?}");
            }
        }
    }

    #[test]
    fn ascii_lookup_equals_normalised_lookup() {
        let words = [
            "a",
            "Ab",
            "ABC",
            "Four",
            "FiveX",
            "SixSix",
            "Seven77",
            "EIGHT888",
            "Nine'9999",
            "AVeryLongTokenIndeed0123456789",
            "can't",
        ];
        let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
        let m = Matcher::new(std::slice::from_ref(&lower)).unwrap();
        for (w, l) in words.iter().zip(&lower) {
            let id = m.vocab.find(l.as_bytes());
            assert_ne!(id, UNKNOWN, "{l}");
            assert_eq!(m.vocab.find_ascii(w.as_bytes()), id, "{w}");
            if w.len() <= SHORT && !w.contains('\'') {
                let x = load_prefix(w.as_bytes(), w.len());
                assert_eq!(m.vocab.find_ascii_word(x, w.len()), id, "{w}");
            }
        }
        assert_eq!(m.vocab.find(b"zzz"), UNKNOWN);
        assert_eq!(m.vocab.find_ascii(b"EIGHT889"), UNKNOWN);
    }

    #[test]
    fn perfect_hash_holds_many_short_tokens() {
        // every 2- and 3-letter token over a-z from a few letters: dense keys that differ
        // only in their low bytes; half of them in the vocabulary, the other half not
        let letters = b"abcdefghijklmnopqrstuvwxyz";
        let mut all: Vec<String> = Vec::new();
        for &a in letters {
            for &b in letters {
                all.push(format!("{}{}", a as char, b as char));
                for &c in &letters[..8] {
                    all.push(format!("{}{}{}", a as char, b as char, c as char));
                }
            }
        }
        let (inside, outside): (Vec<_>, Vec<_>) =
            all.iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let inside: Vec<String> = inside.into_iter().map(|(_, t)| t.clone()).collect();
        let m = Matcher::new(std::slice::from_ref(&inside)).unwrap();
        assert_finds_each(&m, &inside);
        for (_, t) in outside {
            assert_eq!(m.vocab.find(t.as_bytes()), UNKNOWN, "{t}");
        }
    }

    /// Token `i` of `tokens` (the matcher's only lexicon) is found as id `i`, and so is its
    /// upper-case spelling through the ASCII path.
    fn assert_finds_each(m: &Matcher, tokens: &[String]) {
        for (i, t) in tokens.iter().enumerate() {
            assert_eq!(m.vocab.find(t.as_bytes()), i as u32, "{t}");
            assert_eq!(
                m.vocab.find_ascii(t.to_uppercase().as_bytes()),
                i as u32,
                "{t}"
            );
        }
    }

    #[test]
    fn perfect_hash_places_tokens_sharing_their_first_bytes() {
        // keys that differ only from their fourth byte on: the low bits of their products
        // agree for every multiplier (this once made the table search run forever)
        let small = vec!["abcd", "abce", "abcf"];
        let m = Matcher::new(std::slice::from_ref(&small)).unwrap();
        for (i, t) in small.iter().enumerate() {
            assert_eq!(m.vocab.find(t.as_bytes()), i as u32, "{t}");
        }
        let family: Vec<String> = (0..600)
            .map(|i| format!("fuck{}", (b'a' + (i % 26) as u8) as char) + &"s".repeat(i / 26 % 3))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let m = Matcher::new(std::slice::from_ref(&family)).unwrap();
        assert_finds_each(&m, &family);
        assert_eq!(m.vocab.find(b"fuckzzz"), UNKNOWN);
    }

    #[test]
    fn vocabulary_with_colliding_buckets() {
        // far more tokens than one bucket holds, many sharing their first eight bytes
        let toks: Vec<String> = (0..3000).map(|i| format!("prefixed{i}")).collect();
        let m = Matcher::new(std::slice::from_ref(&toks)).unwrap();
        for (i, t) in toks.iter().enumerate() {
            assert_eq!(m.vocab.find(t.as_bytes()), i as u32);
        }
        assert_eq!(m.vocab.find(b"prefixed3000"), UNKNOWN);
    }

    #[test]
    fn whole_tokens_only() {
        let (c, f) = one(&["therapist"], &["the rapist", "a therapist"]);
        assert_eq!(c, vec![0, 1]);
        assert_eq!(f, vec![-1, 1]);
        let (c, _) = one(&["the rapist"], &["the therapist", "see the rapist"]);
        assert_eq!(c, vec![0, 1]);
        let (c, f) = one(&["I cannot"], &["Well, i  CANNOT,", "cannot i"]);
        assert_eq!(c, vec![1, 0]);
        assert_eq!(f, vec![1, -1]);
    }

    #[test]
    fn leftmost_longest_counting() {
        // "a b" and "b c" overlap: the leftmost wins, then "b c" cannot reuse "b"
        let (c, f) = one(&["a b", "b c", "c"], &["a b c", "b c c", "x"]);
        assert_eq!(c, vec![2, 2, 0]);
        assert_eq!(f, vec![0, 0, -1]);
        // the longest phrase at a position wins
        let (c, _) = one(
            &["son", "son of a bitch", "bitch"],
            &["son-of-a-bitch bitch"],
        );
        assert_eq!(c, vec![2]);
        // repeated occurrences and duplicates in the lexicon
        let (c, f) = one(&["fuck", "FUCK", "Fuck!"], &["fuck fuck, FUCK"]);
        assert_eq!((c, f), (vec![3], vec![0]));
    }

    #[test]
    fn symbols_in_a_phrase_must_be_in_the_text() {
        let lex = ["@55", "f@ck", "sh!+", "s.o.b.", "bi + ch", "a_s_s"];
        let (c, f) = one(
            &lex,
            &[
                "route 55, then @55 and (@55)",
                "me@55 #@55 55@",
                "F@CK it. f ck, f*ck, f @ ck",
                "sh!+! sh!+x sh! sh",
                "you s.o.b. S.O.B s o b s.o.b.s",
                "bi + ch bi  +  ch bi+ch bi ch",
                "a_s_s a s s a-s-s",
            ],
        );
        // "s.o.b.s" holds "s.o.b" followed by a free boundary: its dropped final dot
        // asks nothing of the text
        assert_eq!(c, vec![2, 0, 1, 1, 3, 2, 1]);
        assert_eq!(f, vec![3, -1, 0, 0, 1, 0, 0]);
        // a free phrase and a literal one with the same tokens: either may match
        let (c, _) = one(&["f@ck", "f ck"], &["f ck f#ck"]);
        assert_eq!(c, vec![2]);
        // a failed literal candidate leaves room for a shorter free phrase inside it
        let (c, f) = one(&["dumb@ss", "ss"], &["dumb ss dumb@ss"]);
        assert_eq!((c, f), (vec![2], vec![1]));
        // fullwidth, dashes and invisible characters fold; many lexicons keep their own
        let m = Matcher::new(&[vec!["b！tch", "arse-bandit"], vec!["b!tch"]]).unwrap();
        let s = scan(&m, ["b!tch arse\u{2014}bandit b\u{200b}!tch"].as_slice());
        assert_eq!(s.count, vec![3, 2]);
    }

    #[test]
    fn weak_phrases_are_skipped_only_when_asked() {
        let lex = vec!["69", "s o b", "@69", "bj"];
        let texts = ["page 69, s o b", "@69 bj"];
        let m = Matcher::with_options(&[lex.clone(), lex], &[true]).unwrap();
        let s = scan(&m, texts.as_slice());
        assert_eq!(s.count, vec![0, 2, 2, 2]);
    }

    #[test]
    fn failure_links_find_suffix_matches() {
        let (c, f) = one(&["a b c d", "b c", "c d e"], &["a b c x", "a b c d e"]);
        assert_eq!(c, vec![1, 1]);
        assert_eq!(f, vec![1, 0]);
    }

    #[test]
    fn many_lexicons_in_one_pass() {
        let m = Matcher::new(&[vec!["i cannot", "sorry"], vec![], vec!["damn", "sorry"]]).unwrap();
        let texts = ["Sorry, I cannot. Damn.", "fine"];
        let s = scan(&m, texts.as_slice());
        assert_eq!(s.count, vec![2, 0, 0, 0, 2, 0]);
        assert_eq!(s.first, vec![0, -1, -1, -1, 0, -1]);
    }

    #[test]
    fn empty_inputs_and_empty_phrases() {
        let m = Matcher::new::<&str>(&[]).unwrap();
        assert_eq!(scan(&m, ["x"].as_slice()).count, Vec::<i64>::new());
        let m = Matcher::new(&[Vec::<&str>::new()]).unwrap();
        assert_eq!(scan(&m, ["x", ""].as_slice()).count, vec![0, 0]);
        let e = Matcher::new(&[vec!["ok"], vec!["fine", " !? "]]).unwrap_err();
        assert_eq!(
            e,
            EmptyPhrase {
                lexicon: 1,
                phrase: 1
            }
        );
    }

    #[test]
    fn arrow_texts_with_nulls_and_bad_offsets() {
        let data = b"I cannot help. i can't";
        let offsets: [i32; 4] = [0, 14, 14, 22];
        let validity = [0b0000_0101u8];
        let t = ArrowTexts::new(&offsets, data, Some((&validity, 0))).unwrap();
        let m = Matcher::new(&[vec!["i cannot", "i can't"]]).unwrap();
        let s = scan(&m, &t);
        assert_eq!(s.count, vec![1, 0, 1]);
        // a sliced array: bit offset 1 makes text 0 null
        let t = ArrowTexts::new(&offsets[1..], data, Some((&validity, 1))).unwrap();
        assert_eq!(scan(&m, &t).count, vec![0, 1]);
        assert!(ArrowTexts::new(&[0i64, 5, 3], data, None).is_err());
        assert!(ArrowTexts::new(&[0i64, 50], data, None).is_err());
        assert!(ArrowTexts::new(&[-1i32, 0], data, None).is_err());
        assert!(ArrowTexts::<i32>::new(&[], data, None).is_err());
        assert!(ArrowTexts::new(&[0i32; 10], data, Some((&validity, 0))).is_err());
    }

    #[test]
    fn dense_table_agrees_with_sparse_steps() {
        // overlapping multi-token phrases (failure links into rows of their own), phrases
        // with symbols, shared prefixes and a state with more than `INLINE` transitions
        let lexicons = vec![
            vec!["a b c d", "b c", "c d e", "a", "i cannot", "i can't help"],
            vec![
                "son of a bitch",
                "bitch",
                "of a",
                "f@ck",
                "a b x",
                "a b y",
                "a b z",
            ],
            vec!["a b w", "a b v", "x", "d e", "e e e"],
        ];
        let m = Matcher::new(&lexicons).unwrap();
        let d = m
            .dense
            .as_ref()
            .expect("a small lexicon gets the dense table");
        assert!(d.col.iter().any(|&(_, mask)| mask == 0));
        let sparse = Matcher::new(&lexicons).unwrap().sparse();
        let words = [
            "a", "b", "c", "d", "e", "x", "y", "z", "w", "v", "i", "cannot", "can't", "help",
            "son", "of", "bitch", "f@ck", "F@CK", "q", "the", "é",
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let texts: Vec<String> = (0..4000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let k = (x % 40) as usize;
                (0..k)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        words[(x % words.len() as u64) as usize]
                    })
                    .collect::<Vec<_>>()
                    .join(if x.is_multiple_of(3) { ", " } else { " " })
            })
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let a = scan(&m, refs.as_slice());
        assert!(a.count.iter().filter(|&&c| c > 1).count() > 100);
        assert_eq!(a, scan(&sparse, refs.as_slice()));
    }

    #[test]
    fn simd_and_portable_scores_agree() {
        // random bytes and adversarial pieces: invalid UTF-8, apostrophes of every kind at
        // block edges, multi-byte letters and marks, tokens longer than a block
        let m = Matcher::new(&[
            vec![
                "i can't",
                "can't",
                "straße",
                "ab",
                "f@ck",
                "the rapist",
                "x",
            ],
            vec!["日本", "e\u{301}", "rock'n'roll", "abcdefghij"],
        ])
        .unwrap();
        let pieces: [&[u8]; 22] = [
            b"can't",
            b"CAN\xe2\x80\x99T",
            b"I ",
            b"  ",
            b"'",
            b"\xe2\x80\x99",
            b"\xca\xbc",
            b"Stra\xc3\x9fe",
            b"e\xcc\x81",
            b"\xe6\x97\xa5\xe6\x9c\xac",
            b"\xff",
            b"\xe2\x80",
            b"ab",
            b"AB",
            b"f@ck",
            b"the rapist",
            b"therapist",
            b"x",
            b"rock'n'roll",
            b"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklm",
            b", ",
            b"-",
        ];
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let texts: Vec<Vec<u8>> = (0..3000)
            .map(|round| {
                let k = (rnd() % 90) as usize;
                let mut t = Vec::new();
                for _ in 0..k {
                    if round % 4 == 0 {
                        t.push(rnd() as u8);
                    } else {
                        t.extend_from_slice(pieces[(rnd() % pieces.len() as u64) as usize]);
                    }
                }
                t
            })
            .collect();
        let mut portable = Scratch {
            avx512: false,
            ..Scratch::default()
        };
        let mut native = Scratch::default();
        let k = m.n_lexicons();
        let (mut c1, mut f1, mut c2, mut f2) = (vec![0; k], vec![0; k], vec![0; k], vec![0; k]);
        let mut matched = 0;
        for t in &texts {
            m.score(t, &mut portable, &mut c1, &mut f1);
            m.score(t, &mut native, &mut c2, &mut f2);
            assert_eq!((&c1, &f1), (&c2, &f2), "{:?}", String::from_utf8_lossy(t));
            matched += (c1[0] > 0 && c1[1] > 0) as usize;
        }
        assert!(matched > 100);
    }

    #[test]
    fn large_lexicons_fall_back_to_sparse_steps() {
        // thousands of two-token phrases with distinct second tokens: too many rows and
        // columns for the table, so the sparse steps score them, with the same results
        let lex: Vec<String> = (0..3000).map(|i| format!("w{} v{}", i % 1000, i)).collect();
        let m = Matcher::new(std::slice::from_ref(&lex)).unwrap();
        assert!(m.dense.is_none());
        let s = scan(&m, ["w5 v5 w5 v1005, w5 v6", "v5 w5"].as_slice());
        assert_eq!((s.count, s.first), (vec![2, 0], vec![0, -1]));
    }

    #[test]
    fn independent_of_thread_count() {
        let words = ["i", "cannot", "sorry", "the", "rapist", "therapist", "x"];
        let texts: Vec<String> = (0..5000)
            .map(|i: usize| {
                (0..(i % 13))
                    .map(|j| words[(i * 7 + j * 3) % words.len()])
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let m = Matcher::new(&[vec!["i cannot", "sorry"], vec!["the rapist", "x x"]]).unwrap();
        let run = |k: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(k)
                .build()
                .unwrap()
                .install(|| scan(&m, refs.as_slice()))
        };
        let base = run(1);
        assert!(base.count.iter().any(|&c| c > 0));
        assert_eq!(run(2), base);
        assert_eq!(run(5), base);
    }
}
