//! Bit-parallel classification: eight bytes at a time in a machine word (SWAR) anywhere,
//! sixteen at a time with SSE2 on x86_64, which every x86_64 CPU has.

use super::normalize::LOWER;

pub(super) const LO: u64 = 0x0101_0101_0101_0101;
pub(super) const HI: u64 = 0x8080_8080_8080_8080;
/// `LOWER` in every byte.
pub(super) const LOWERS: u64 = 0x2020_2020_2020_2020;

/// High bit of every byte of `x` that is an ASCII letter or digit (SWAR, eight at a time).
#[inline]
pub(super) fn alnum_mask(x: u64) -> u64 {
    // clear the high bits first so the byte-wise sums below never carry into a neighbour
    let x7 = x & !HI;
    let l = x7 | LOWERS;
    let ge = |v: u64, a: u64| v + (0x80 - a) * LO;
    let le = |v: u64, b: u64| (0x80 + b) * LO - v;
    let letter = ge(l, b'a' as u64) & le(l, b'z' as u64);
    let digit = ge(x7, b'0' as u64) & le(x7, b'9' as u64);
    (letter | digit) & !x & HI
}

/// Bytes classified at once by `block_masks`.
pub(super) const BLOCK: usize = 64;

/// For 64 bytes, one bit per byte: ASCII letters and digits, ASCII apostrophes, and bytes
/// of non-ASCII characters.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) fn block_masks(b: &[u8]) -> (u64, u64, u64) {
    use std::arch::x86_64::*;
    assert!(b.len() >= BLOCK);
    let (mut word, mut apos, mut high) = (0u64, 0u64, 0u64);
    for k in 0..BLOCK / 16 {
        // SSE2 is part of x86_64, so this needs no runtime feature check; the load is in
        // bounds by the assert above
        let (w, a, h) = unsafe {
            let v = _mm_loadu_si128(b.as_ptr().add(16 * k) as *const __m128i);
            // signed compares: bytes >= 0x80 are negative and fall outside both ranges
            let lower = _mm_or_si128(v, _mm_set1_epi8(LOWER as i8));
            let letter = _mm_and_si128(
                _mm_cmpgt_epi8(lower, _mm_set1_epi8(b'a' as i8 - 1)),
                _mm_cmplt_epi8(lower, _mm_set1_epi8(b'z' as i8 + 1)),
            );
            let digit = _mm_and_si128(
                _mm_cmpgt_epi8(v, _mm_set1_epi8(b'0' as i8 - 1)),
                _mm_cmplt_epi8(v, _mm_set1_epi8(b'9' as i8 + 1)),
            );
            (
                _mm_movemask_epi8(_mm_or_si128(letter, digit)) as u16 as u64,
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\'' as i8))) as u16 as u64,
                _mm_movemask_epi8(v) as u16 as u64,
            )
        };
        word |= w << (16 * k);
        apos |= a << (16 * k);
        high |= h << (16 * k);
    }
    (word, apos, high)
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub(super) fn block_masks(b: &[u8]) -> (u64, u64, u64) {
    block_masks_swar(b)
}

/// `block_masks` with AVX-512 (BW): one 64-byte register, each class a compare into a mask
/// register, about a tenth of the SSE2 version's instructions.
///
/// # Safety
/// The CPU must have AVX-512 F and BW (`avx512_available`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
pub(super) unsafe fn block_masks_avx512(b: &[u8]) -> (u64, u64, u64) {
    use std::arch::x86_64::*;
    assert!(b.len() >= BLOCK);
    // SAFETY: in bounds by the assert above; the features are the caller's promise
    unsafe {
        let v = _mm512_loadu_si512(b.as_ptr() as *const _);
        // unsigned range checks: x - lo < width; bytes >= 0x80 fall outside both ranges
        let lower = _mm512_or_si512(v, _mm512_set1_epi8(LOWER as i8));
        let letter = _mm512_cmplt_epu8_mask(
            _mm512_sub_epi8(lower, _mm512_set1_epi8(b'a' as i8)),
            _mm512_set1_epi8(26),
        );
        let digit = _mm512_cmplt_epu8_mask(
            _mm512_sub_epi8(v, _mm512_set1_epi8(b'0' as i8)),
            _mm512_set1_epi8(10),
        );
        (
            letter | digit,
            _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'\'' as i8)),
            _mm512_movepi8_mask(v),
        )
    }
}

/// Whether this CPU runs `block_masks_avx512` and the scan built around it (which also
/// uses BMI1/BMI2 bit instructions).
#[cfg(target_arch = "x86_64")]
pub(super) fn avx512_available() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("bmi1")
        && is_x86_feature_detected!("bmi2")
}

/// How the scan classifies a block of bytes.
pub(super) trait Classify {
    fn masks(b: &[u8]) -> (u64, u64, u64);
}

/// `block_masks`: SSE2 on x86_64, SWAR elsewhere.
pub(super) struct Portable;

impl Classify for Portable {
    #[inline(always)]
    fn masks(b: &[u8]) -> (u64, u64, u64) {
        block_masks(b)
    }
}

/// `block_masks_avx512`: only for code compiled with those features and reached after
/// `avx512_available` said yes.
#[cfg(target_arch = "x86_64")]
pub(super) struct Avx512;

#[cfg(target_arch = "x86_64")]
impl Classify for Avx512 {
    #[inline(always)]
    fn masks(b: &[u8]) -> (u64, u64, u64) {
        // SAFETY: `Avx512` is used only by `Matcher::score_avx512`, which is called only
        // when `avx512_available()`
        unsafe { block_masks_avx512(b) }
    }
}

/// `block_masks` on any target, eight bytes at a time.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
pub(super) fn block_masks_swar(b: &[u8]) -> (u64, u64, u64) {
    // one bit per byte from the high bit of each byte
    let gather = |m: u64| (m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
    let (mut word, mut apos, mut high) = (0u64, 0u64, 0u64);
    for (k, chunk) in b[..BLOCK].chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes(chunk.try_into().unwrap());
        // bytes equal to the apostrophe become zero; the exact zero-byte test (no borrows
        // between bytes) flags them
        let q = x ^ (b'\'' as u64 * LO);
        word |= gather(alnum_mask(x)) << (8 * k);
        apos |= gather(!(((q & !HI) + !HI) | q) & HI) << (8 * k);
        high |= gather(x & HI) << (8 * k);
    }
    (word, apos, high)
}
