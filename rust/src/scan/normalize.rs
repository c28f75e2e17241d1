//! Text normalisation: byte and character classes, case folding, UTF-8 decoding, and the
//! reference tokenizer every faster path must agree with.

use super::tables;

pub(super) const A_BOUND: u8 = 0;
pub(super) const A_WORD: u8 = 1;
pub(super) const A_APOS: u8 = 2;
pub(super) const A_HIGH: u8 = 3;

/// Class of each byte: the hot path never touches the Unicode tables for ASCII text.
pub(super) static ASCII_CLASS: [u8; 256] = {
    let mut t = [A_HIGH; 256];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphanumeric() {
            A_WORD
        } else if c == b'\'' {
            A_APOS
        } else {
            A_BOUND
        };
        b += 1;
    }
    t
};

/// ORed into an ASCII word byte (letter, digit or `'`) it gives the normalised byte: bit 5
/// lowercases a letter and is already set in digits and the apostrophe.
pub(super) const LOWER: u8 = 0x20;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Class {
    Boundary,
    Word,
    Apostrophe,
}

#[inline]
pub(super) fn class_of(c: char) -> Class {
    let cp = c as u32;
    if cp < 128 {
        return match ASCII_CLASS[cp as usize] {
            A_WORD => Class::Word,
            A_APOS => Class::Apostrophe,
            _ => Class::Boundary,
        };
    }
    let word = if cp < 0x10000 {
        tables::WORD_BMP[(cp >> 6) as usize] >> (cp & 63) & 1 == 1
    } else {
        tables::WORD_ASTRAL
            .binary_search_by(|&(lo, hi)| {
                if hi < cp {
                    std::cmp::Ordering::Less
                } else if lo > cp {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    };
    if word {
        Class::Word
    } else if tables::APOSTROPHES.contains(&c) {
        Class::Apostrophe
    } else {
        Class::Boundary
    }
}

/// Appends the case folding of the (non-ASCII) word character `c` to `buf`.
#[inline]
pub(super) fn push_folded(c: char, buf: &mut Vec<u8>) {
    let cp = c as u32;
    let may_fold = cp >= 0x10000 || tables::FOLD_BMP[(cp >> 6) as usize] >> (cp & 63) & 1 == 1;
    if may_fold {
        if let Ok(k) = tables::FOLD.binary_search_by_key(&cp, |&(k, _)| k) {
            buf.extend_from_slice(tables::FOLD[k].1.as_bytes());
            return;
        }
    }
    let mut tmp = [0u8; 4];
    buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
}

/// Decodes the non-ASCII UTF-8 sequence at `text[i..]`; `None` for an invalid sequence,
/// whose first byte the tokenizer then treats as a boundary (input from Arrow buffers is not
/// re-validated, so this must never read past a malformed tail).
#[inline]
pub(super) fn decode(text: &[u8], i: usize) -> Option<(char, usize)> {
    let b0 = text[i] as u32;
    let (width, min, init) = match b0 {
        0xC2..=0xDF => (2, 0x80, b0 & 0x1F),
        0xE0..=0xEF => (3, 0x800, b0 & 0x0F),
        0xF0..=0xF4 => (4, 0x10000, b0 & 0x07),
        _ => return None,
    };
    if i + width > text.len() {
        return None;
    }
    let mut cp = init;
    for &b in &text[i + 1..i + width] {
        if b & 0xC0 != 0x80 {
            return None;
        }
        cp = (cp << 6) | (b as u32 & 0x3F);
    }
    if cp < min {
        return None;
    }
    // rejects surrogates and anything above U+10FFFF
    char::from_u32(cp).map(|c| (c, width))
}

#[inline]
pub(super) fn word_at(text: &[u8], i: usize) -> bool {
    match text.get(i) {
        None => false,
        Some(&b) if b < 128 => ASCII_CLASS[b as usize] == A_WORD,
        Some(_) => matches!(decode(text, i), Some((c, _)) if class_of(c) == Class::Word),
    }
}

/// Calls `emit` with the normalised bytes of every token of `text`, in order. `buf` is
/// scratch space, reused across calls to avoid an allocation per text.
#[inline]
pub fn tokenize_with<F: FnMut(&[u8])>(text: &[u8], buf: &mut Vec<u8>, mut emit: F) {
    tokenize_spans(text, buf, |_, _, t| emit(t));
}

/// Like `tokenize_with`, also giving each token's byte range `start..end` in `text`: the
/// symbols between tokens are what a phrase's literal gaps are checked against.
#[inline]
pub fn tokenize_spans<F: FnMut(usize, usize, &[u8])>(text: &[u8], buf: &mut Vec<u8>, mut emit: F) {
    buf.clear();
    let n = text.len();
    let mut i = 0;
    let mut start = 0;
    while i < n {
        let b = text[i];
        let (class, width) = if b < 128 {
            match ASCII_CLASS[b as usize] {
                A_WORD => {
                    if buf.is_empty() {
                        start = i;
                    }
                    buf.push(b.to_ascii_lowercase());
                    i += 1;
                    continue;
                }
                A_APOS => (Class::Apostrophe, 1),
                _ => (Class::Boundary, 1),
            }
        } else {
            match decode(text, i) {
                None => (Class::Boundary, 1),
                Some((c, w)) => {
                    let class = class_of(c);
                    if class == Class::Word {
                        if buf.is_empty() {
                            start = i;
                        }
                        push_folded(c, buf);
                        i += w;
                        continue;
                    }
                    (class, w)
                }
            }
        };
        if !buf.is_empty() {
            // a non-empty buffer means the previous character was a word character
            if class == Class::Apostrophe && word_at(text, i + width) {
                buf.push(b'\'');
            } else {
                emit(start, i, buf);
                buf.clear();
            }
        }
        i += width;
    }
    if !buf.is_empty() {
        emit(start, n, buf);
        buf.clear();
    }
}

/// The normalised tokens of `text`.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    tokenize_with(text.as_bytes(), &mut buf, |t| {
        // tokens are built from whole characters of valid UTF-8 input
        out.push(String::from_utf8_lossy(t).into_owned())
    });
    out
}

/// End of a run of ASCII word bytes starting at `i`, with `'` joining two of them.
#[inline]
pub(super) fn ascii_run_end(text: &[u8], mut i: usize) -> usize {
    let n = text.len();
    loop {
        while i < n && ASCII_CLASS[text[i] as usize] == A_WORD {
            i += 1;
        }
        if i + 1 < n && text[i] == b'\'' && ASCII_CLASS[text[i + 1] as usize] == A_WORD {
            i += 2;
            continue;
        }
        return i;
    }
}

/// Whether the token that ends an ASCII run at `i` goes on with non-ASCII characters.
#[inline]
pub(super) fn continues_beyond_ascii(text: &[u8], i: usize) -> bool {
    match text.get(i) {
        None => false,
        Some(&b'\'') => text.get(i + 1).is_some_and(|&b| b >= 128) && word_at(text, i + 1),
        Some(&b) if b < 128 => false,
        Some(_) => match decode(text, i) {
            Some((c, w)) => match class_of(c) {
                Class::Word => true,
                Class::Apostrophe => word_at(text, i + w),
                Class::Boundary => false,
            },
            None => false,
        },
    }
}

/// Continues the token whose normalised prefix is in `buf` (possibly empty) from `i`, one
/// character at a time; returns where the token ends.
pub(super) fn slow_token(text: &[u8], mut i: usize, buf: &mut Vec<u8>) -> usize {
    let n = text.len();
    while i < n {
        let b = text[i];
        let (c, w) = if b < 128 {
            (b as char, 1)
        } else {
            match decode(text, i) {
                Some(cw) => cw,
                None => return i,
            }
        };
        match class_of(c) {
            Class::Word => {
                if b < 128 {
                    buf.push(b | LOWER);
                } else {
                    push_folded(c, buf);
                }
            }
            Class::Apostrophe if !buf.is_empty() && word_at(text, i + w) => buf.push(b'\''),
            _ => return i,
        }
        i += w;
    }
    i
}
