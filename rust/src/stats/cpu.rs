//! What this CPU and OS offer the statistics kernels: one place for every feature check.
//!
//! The build script compiles this file too, so that the tests of a path this CPU lacks are
//! reported as ignored (with the reason) rather than passing without running; nothing here
//! may refer to the rest of the crate.

/// POPCNT and AVX2: the AVX2 paths of the floating-point engine and the dense kernels.
pub fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("popcnt") && is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// AVX-512 F and BW (with AVX2 and POPCNT): the AVX-512 paths of the floating-point engine.
pub fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        avx2() && is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// AVX-512 VPOPCNTDQ, which the AVX-512 path's Binomial(c, 1/2) uses where present.
pub fn avx512_popcnt() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        avx512() && is_x86_feature_detected!("avx512vpopcntdq")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The tile engine's needs: AVX-512 with byte popcounts and byte permutes, AMX tiles with
/// byte products, and the kernel's leave to use the tile state (asked for once, for the whole
/// process).
pub fn amx() -> bool {
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        use std::arch::x86_64::{__cpuid_count, _xgetbv};
        use std::sync::OnceLock;
        static OK: OnceLock<bool> = OnceLock::new();
        *OK.get_or_init(|| {
            let vec = avx512()
                && is_x86_feature_detected!("avx512bitalg")
                && is_x86_feature_detected!("avx512vbmi")
                && is_x86_feature_detected!("xsave");
            // CPUID leaf 7: EDX bit 24 is AMX-TILE, bit 25 AMX-INT8.
            let amx = vec && __cpuid_count(7, 0).edx & (3 << 24) == 3 << 24;
            // XCR0 bits 17 and 18: the OS saves the tile configuration and data.
            // SAFETY: XGETBV exists where XSAVE does (checked above).
            let os = amx && unsafe { _xgetbv(0) } & (3 << 17) == 3 << 17;
            os && request_tile_state()
        })
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    {
        false
    }
}

/// Asks Linux for permission to use the tile data state (`arch_prctl(ARCH_REQ_XCOMP_PERM,
/// XFEATURE_XTILEDATA)`); the grant covers the whole process.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn request_tile_state() -> bool {
    const SYS_ARCH_PRCTL: i64 = 158;
    const ARCH_REQ_XCOMP_PERM: i64 = 0x1023;
    const XFEATURE_XTILEDATA: i64 = 18;
    let ret: i64;
    // SAFETY: a plain system call; it reads no memory of ours.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") SYS_ARCH_PRCTL => ret,
            in("rdi") ARCH_REQ_XCOMP_PERM,
            in("rsi") XFEATURE_XTILEDATA,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret == 0
}
