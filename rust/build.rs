//! Marks which instruction-set paths this machine can run, for the tests only: a test of a path
//! the CPU lacks is compiled `#[ignore = "CPU lacks ..."]`, so `cargo test` reports it as
//! ignored, with the reason, instead of passing without running it. (The library itself picks
//! its paths at run time and does not read these flags.) `stats::engine`'s tests check that the
//! flags still describe the CPU the tests run on, so a build directory carried to another
//! machine fails loudly rather than skipping silently.

#[path = "src/stats/cpu.rs"]
#[allow(dead_code)]
mod cpu;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/stats/cpu.rs");
    type Probe = fn() -> bool;
    let flags: [(&str, Probe); 4] = [
        ("vhframe_cpu_avx2", cpu::avx2),
        ("vhframe_cpu_avx512", cpu::avx512),
        ("vhframe_cpu_avx512_popcnt", cpu::avx512_popcnt),
        ("vhframe_cpu_amx", cpu::amx),
    ];
    // The probe describes the machine running this script: only meaningful for its own target.
    let native = std::env::var("HOST").ok() == std::env::var("TARGET").ok();
    for (name, probe) in flags {
        println!("cargo:rustc-check-cfg=cfg({name})");
        if native && probe() {
            println!("cargo:rustc-cfg={name}");
        }
    }
}
