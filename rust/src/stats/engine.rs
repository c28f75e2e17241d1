//! Which resampling engine and instruction set the bootstraps run on.
//!
//! By default each kernel takes the fastest path this CPU has: the tile engine (`tiles`, AMX)
//! for the correlation bootstraps where it accepts the data, else the floating-point engine
//! (`gather`), on AVX-512, AVX2 or portable code. Every path draws exact resamples; the
//! instruction sets of one engine give bit-identical results, while the two engines draw
//! different resamples for a seed. So that tests (and benchmarks) reach every path on any
//! machine that has it, two environment variables force a choice, read once per call:
//!
//! - `VHFRAME_STATS_ENGINE`: `auto` (default), `tiles` or `gather`: the engine of the Pearson,
//!   Spearman and Kendall bootstraps. Forced, `tiles` takes any data it can represent (at most
//!   `tiles::MAX_PAIRS` pairs), skipping the width check that sends data with far outliers to
//!   the floating-point engine by default.
//! - `VHFRAME_STATS_ISA`: `auto` (default), `portable`, `avx2` or `avx512`: the instruction
//!   set of the floating-point engine and of the dense kernels (every bootstrap but the OLS
//!   one, whose kernels have one path). The tile engine always runs on AVX-512 and AMX.
//!
//! Forcing a path this CPU lacks is an error (`StatsError::Unavailable`), never a silent
//! fallback; an unknown value is an invalid-input error.

use super::cpu;
use super::error::StatsError;

/// The variable that forces the correlation bootstraps' engine.
pub const ENGINE_VAR: &str = "VHFRAME_STATS_ENGINE";
/// The variable that forces the floating-point kernels' instruction set.
pub const ISA_VAR: &str = "VHFRAME_STATS_ISA";

/// An instruction set of the floating-point engine and the dense kernels. A value other than
/// `Portable` is only made by `best` or `parse`, which check that the CPU has it; the kernels
/// check again before running vector code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Isa {
    /// The fastest this CPU runs.
    pub fn best() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if cpu::avx512() {
                return Isa::Avx512;
            }
            if cpu::avx2() {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }

    /// Whether this CPU runs it.
    pub fn available(self) -> bool {
        match self {
            Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => cpu::avx2(),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => cpu::avx512(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => "avx512",
        }
    }

    /// `auto`, `portable`, `avx2` or `avx512`, as `VHFRAME_STATS_ISA` spells them.
    pub fn parse(s: &str) -> Result<Isa, StatsError> {
        let lacks = |what: &str| {
            StatsError::Unavailable(format!(
                "{ISA_VAR}={s}: this CPU lacks {what}, so that path cannot run here"
            ))
        };
        let isa = match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => return Ok(Isa::best()),
            "portable" => Isa::Portable,
            #[cfg(target_arch = "x86_64")]
            "avx2" => Isa::Avx2,
            #[cfg(target_arch = "x86_64")]
            "avx512" => Isa::Avx512,
            #[cfg(not(target_arch = "x86_64"))]
            "avx2" | "avx512" => return Err(lacks("x86-64 vector instructions")),
            _ => {
                return Err(StatsError::invalid(format!(
                    "{ISA_VAR} must be 'auto', 'portable', 'avx2' or 'avx512', got {s:?}"
                )))
            }
        };
        if !isa.available() {
            return Err(lacks(match isa.name() {
                "avx2" => "AVX2",
                _ => "AVX-512 (F and BW)",
            }));
        }
        Ok(isa)
    }
}

/// The engine of the correlation bootstraps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// The tile engine where this CPU has it and it accepts the data, else the floating-point
    /// one.
    Auto,
    /// The tile engine (AMX), on any data it can represent.
    Tiles,
    /// The floating-point engine.
    Gather,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Auto => "auto",
            Engine::Tiles => "tiles",
            Engine::Gather => "gather",
        }
    }

    /// `auto`, `tiles` or `gather`, as `VHFRAME_STATS_ENGINE` spells them.
    pub fn parse(s: &str) -> Result<Engine, StatsError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Engine::Auto),
            "gather" => Ok(Engine::Gather),
            "tiles" if cpu::amx() => Ok(Engine::Tiles),
            "tiles" => Err(StatsError::Unavailable(format!(
                "{ENGINE_VAR}={s}: this CPU lacks AMX (the tile engine needs AMX-TILE, AMX-INT8 \
                 and AVX-512 F, BW, BITALG and VBMI, with the OS's leave to use the tiles)"
            ))),
            _ => Err(StatsError::invalid(format!(
                "{ENGINE_VAR} must be 'auto', 'tiles' or 'gather', got {s:?}"
            ))),
        }
    }
}

/// The engine and instruction set a call runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Engines {
    pub engine: Engine,
    pub isa: Isa,
}

impl Default for Engines {
    /// The fastest paths of this CPU.
    fn default() -> Self {
        Engines {
            engine: Engine::Auto,
            isa: Isa::best(),
        }
    }
}

impl Engines {
    /// The choice `VHFRAME_STATS_ENGINE` and `VHFRAME_STATS_ISA` make (unset: `auto`).
    pub fn from_env() -> Result<Engines, StatsError> {
        let var = |name: &str| match std::env::var(name) {
            Ok(v) => Ok(v),
            Err(std::env::VarError::NotPresent) => Ok(String::new()),
            Err(std::env::VarError::NotUnicode(v)) => Err(StatsError::invalid(format!(
                "{name} must be plain text, got {v:?}"
            ))),
        };
        Ok(Engines {
            engine: Engine::parse(&var(ENGINE_VAR)?)?,
            isa: Isa::parse(&var(ISA_VAR)?)?,
        })
    }

    /// The engine the correlation bootstraps take when the tile engine accepts the data.
    pub fn tiles(&self) -> bool {
        match self.engine {
            Engine::Auto => cpu::amx(),
            Engine::Tiles => true,
            Engine::Gather => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The build script's flags, which mark the tests of paths this CPU lacks as ignored, must
    /// describe the CPU the tests run on: a build directory carried to another machine would
    /// otherwise skip tests this one could run (or run ones it cannot).
    #[test]
    fn test_gates_describe_this_cpu() {
        let rebuild = "the build directory was made on another CPU: `touch rust/build.rs`";
        assert_eq!(cfg!(vhframe_cpu_avx2), cpu::avx2(), "AVX2: {rebuild}");
        assert_eq!(
            cfg!(vhframe_cpu_avx512),
            cpu::avx512(),
            "AVX-512: {rebuild}"
        );
        assert_eq!(
            cfg!(vhframe_cpu_avx512_popcnt),
            cpu::avx512_popcnt(),
            "VPOPCNTDQ: {rebuild}"
        );
        assert_eq!(cfg!(vhframe_cpu_amx), cpu::amx(), "AMX: {rebuild}");
    }

    #[test]
    fn names_parse_and_unavailable_paths_are_errors() {
        assert_eq!(Engine::parse("").unwrap(), Engine::Auto);
        assert_eq!(Engine::parse(" Gather ").unwrap(), Engine::Gather);
        assert_eq!(Isa::parse("auto").unwrap(), Isa::best());
        assert_eq!(Isa::parse("portable").unwrap(), Isa::Portable);
        let e = Engine::parse("fast").unwrap_err();
        assert!(matches!(e, StatsError::Invalid(_)) && e.to_string().contains(ENGINE_VAR));
        let e = Isa::parse("sse").unwrap_err();
        assert!(matches!(e, StatsError::Invalid(_)) && e.to_string().contains(ISA_VAR));
        match Engine::parse("tiles") {
            Ok(t) => assert!(cpu::amx() && t == Engine::Tiles),
            Err(e) => assert!(!cpu::amx() && e.to_string().contains("lacks AMX"), "{e}"),
        }
        #[cfg(target_arch = "x86_64")]
        for (name, isa, has) in [
            ("avx2", Isa::Avx2, cpu::avx2()),
            ("avx512", Isa::Avx512, cpu::avx512()),
        ] {
            match Isa::parse(name) {
                Ok(got) => assert!(has && got == isa),
                Err(e) => assert!(
                    !has && matches!(e, StatsError::Unavailable(_)),
                    "{name}: {e}"
                ),
            }
        }
    }
}
