//! Which processor this is: vendor, family and model from `cpuid`, and the
//! microarchitecture they name. Benchmarks print it beside their figures,
//! since instruction costs differ between microarchitectures (uops.info).

use core::fmt;

/// A processor's microarchitecture, as far as the crate tells them apart.
///
/// ```
/// use blockscale::simd::Microarch;
/// assert_eq!(Microarch::Zen4.name(), "Zen 4");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Microarch {
    /// AMD Zen 3 (EPYC Milan).
    Zen3,
    /// AMD Zen 4 (EPYC Genoa, Bergamo): AVX-512 on 256-bit units.
    Zen4,
    /// AMD Zen 5 (EPYC Turin).
    Zen5,
    /// Intel Skylake-SP and Cascade Lake (Xeon Scalable 1st and 2nd gen).
    SkylakeSp,
    /// Intel Ice Lake-SP (3rd gen).
    IceLakeSp,
    /// Intel Sapphire Rapids and Emerald Rapids (4th and 5th gen).
    SapphireRapids,
    /// Intel Granite Rapids (Xeon 6 P-cores).
    GraniteRapids,
    /// Anything else, or not x86-64.
    Other,
}

impl Microarch {
    /// A readable name.
    ///
    /// ```
    /// assert_eq!(blockscale::simd::Microarch::SapphireRapids.name(), "Sapphire/Emerald Rapids");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Microarch::Zen3 => "Zen 3",
            Microarch::Zen4 => "Zen 4",
            Microarch::Zen5 => "Zen 5",
            Microarch::SkylakeSp => "Skylake-SP/Cascade Lake",
            Microarch::IceLakeSp => "Ice Lake-SP",
            Microarch::SapphireRapids => "Sapphire/Emerald Rapids",
            Microarch::GraniteRapids => "Granite Rapids",
            Microarch::Other => "other",
        }
    }

    /// The microarchitecture of `vendor` (the `cpuid` vendor string)
    /// family and model (display family and model, extended fields
    /// included), from AMD's and Intel's published family/model tables.
    ///
    /// ```
    /// use blockscale::simd::Microarch;
    /// assert_eq!(Microarch::of("AuthenticAMD", 25, 17), Microarch::Zen4);
    /// assert_eq!(Microarch::of("GenuineIntel", 6, 143), Microarch::SapphireRapids);
    /// assert_eq!(Microarch::of("GenuineIntel", 6, 1), Microarch::Other);
    /// ```
    pub fn of(vendor: &str, family: u32, model: u32) -> Microarch {
        match (vendor, family, model) {
            ("AuthenticAMD", 0x19, 0x00..=0x0F | 0x20..=0x5F) => Microarch::Zen3,
            ("AuthenticAMD", 0x19, 0x10..=0x1F | 0x60..=0x7F | 0xA0..=0xAF) => Microarch::Zen4,
            ("AuthenticAMD", 0x1A, _) => Microarch::Zen5,
            ("GenuineIntel", 6, 0x55) => Microarch::SkylakeSp,
            ("GenuineIntel", 6, 0x6A | 0x6C) => Microarch::IceLakeSp,
            ("GenuineIntel", 6, 0x8F | 0xCF) => Microarch::SapphireRapids,
            ("GenuineIntel", 6, 0xAD | 0xAE) => Microarch::GraniteRapids,
            _ => Microarch::Other,
        }
    }
}

/// This processor as `cpuid` describes it.
///
/// ```
/// let c = blockscale::simd::cpu();
/// println!("{c}"); // e.g. "AMD EPYC (AuthenticAMD family 25 model 17: Zen 4)"
/// assert_eq!(c.microarch, blockscale::simd::Microarch::of(&c.vendor, c.family, c.model));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cpu {
    /// The brand string (`cpuid` leaves 0x80000002–4), trimmed.
    pub brand: alloc::string::String,
    /// The vendor string (`AuthenticAMD`, `GenuineIntel`).
    pub vendor: alloc::string::String,
    /// Display family.
    pub family: u32,
    /// Display model.
    pub model: u32,
    /// What family and model name.
    pub microarch: Microarch,
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} family {} model {}: {})",
            self.brand,
            self.vendor,
            self.family,
            self.model,
            self.microarch.name()
        )
    }
}

/// This processor (on targets other than x86-64: empty strings and
/// [`Microarch::Other`]).
pub fn cpu() -> Cpu {
    let (vendor, brand, family, model) = read();
    Cpu {
        microarch: Microarch::of(&vendor, family, model),
        brand,
        vendor,
        family,
        model,
    }
}

#[cfg(target_arch = "x86_64")]
fn read() -> (alloc::string::String, alloc::string::String, u32, u32) {
    use core::arch::x86_64::{__cpuid, CpuidResult};
    // `cpuid` exists on every x86-64 processor and only reads.
    let id = |leaf: u32| -> CpuidResult { __cpuid(leaf) };
    let bytes = |regs: &[u32]| -> alloc::vec::Vec<u8> {
        regs.iter().flat_map(|r| r.to_le_bytes()).collect()
    };
    let v = id(0);
    let vendor = bytes(&[v.ebx, v.edx, v.ecx]);
    let sig = id(1).eax;
    let (base_family, base_model) = ((sig >> 8) & 0xF, (sig >> 4) & 0xF);
    let family = if base_family == 0xF {
        base_family + ((sig >> 20) & 0xFF)
    } else {
        base_family
    };
    let model = if base_family == 0x6 || base_family == 0xF {
        base_model | (((sig >> 16) & 0xF) << 4)
    } else {
        base_model
    };
    let mut brand = alloc::vec::Vec::new();
    if id(0x8000_0000).eax >= 0x8000_0004 {
        for leaf in 0x8000_0002..=0x8000_0004 {
            let r = id(leaf);
            brand.extend(bytes(&[r.eax, r.ebx, r.ecx, r.edx]));
        }
    }
    let text = |b: &[u8]| {
        alloc::string::String::from_utf8_lossy(b)
            .trim_matches(|c: char| c == '\0' || c.is_whitespace())
            .into()
    };
    (text(&vendor), text(&brand), family, model)
}

#[cfg(not(target_arch = "x86_64"))]
fn read() -> (alloc::string::String, alloc::string::String, u32, u32) {
    (Default::default(), Default::default(), 0, 0)
}
