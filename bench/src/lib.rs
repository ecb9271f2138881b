//! What the benchmarks share: the machine they ran on (CPU model,
//! microarchitecture, SIMD level, TSC rate), timing, and a system BLAS
//! loaded at run time as a second f32 GEMM baseline.

use std::ffi::c_int;
use std::time::Instant;

/// The machine a benchmark runs on, printed above its table so that every
/// figure comes with the processor and SIMD level that produced it.
pub struct Machine {
    /// `cpuid`'s description.
    pub cpu: blockscale::simd::Cpu,
    /// The SIMD level the crate's kernels use.
    pub level: blockscale::simd::Level,
    /// Logical CPUs available.
    pub cpus: usize,
    /// The time-stamp counter's rate, measured (Hz).
    pub tsc_hz: f64,
}

impl Machine {
    /// Reads the machine; measures the TSC against the wall clock for
    /// about 0.2 s.
    pub fn read() -> Machine {
        Machine {
            cpu: blockscale::simd::cpu(),
            level: blockscale::simd::active(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            tsc_hz: tsc_hz(),
        }
    }

    /// Reference cycles (TSC ticks) per item for `n` items in `secs`.
    pub fn cycles_per(&self, secs: f64, n: f64) -> f64 {
        secs * self.tsc_hz / n
    }
}

impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CPU: {}; SIMD level {}; {} CPUs; TSC {:.2} GHz (cycles below are TSC reference cycles, \
             not core cycles, which a turbo clock makes fewer)",
            self.cpu,
            self.level.name(),
            self.cpus,
            self.tsc_hz / 1e9
        )
    }
}

/// The GEMM examples' operands: `n` values uniform in [−2, 2) from `rng`
/// (`gemm_bench` and `gemm_one` seed it with 2025).
pub fn gemm_data(rng: &mut rand_xoshiro::Xoshiro256PlusPlus, n: usize) -> Vec<f32> {
    use rand_xoshiro::rand_core::Rng;
    (0..n)
        .map(|_| (rng.next_u32() as f32 / u32::MAX as f32 - 0.5) * 4.0)
        .collect()
}

/// [`gemm_data`] with one element in 100 000 at 2^-16.6 and one at
/// 2^-29.2 (at per-tensor scale, the smallest E4M3 subnormal and an E5M2
/// one), as a few of a real tensor's smallest values land there: E4M3 x
/// E5M2 per tensor then needs sums past f64's 53 bits (`gemm_bench`'s
/// "few subnormals" row, `gemm_one hybrid-tensor-tiny`).
pub fn tiny_data(rng: &mut rand_xoshiro::Xoshiro256PlusPlus, n: usize) -> Vec<f32> {
    let mut x = gemm_data(rng, n);
    for (i, v) in x.iter_mut().enumerate() {
        match i % 100_000 {
            7 => *v = v.signum() * 2f32.powf(-16.6),
            8 => *v = v.signum() * 2f32.powf(-29.2),
            _ => {}
        }
    }
    x
}

/// Heavy-tailed data: uniform mantissas in (−1, 1) over 30 binades, so
/// that some elements land on E4M3's and E5M2's subnormals (`gemm_bench`'s
/// "30 binades" row, `gemm_one hybrid-wide`).
pub fn wide_data(rng: &mut rand_xoshiro::Xoshiro256PlusPlus, n: usize) -> Vec<f32> {
    use rand_xoshiro::rand_core::Rng;
    (0..n)
        .map(|_| {
            let m = rng.next_u32() as f32 / u32::MAX as f32 * 2.0 - 1.0;
            m * 2f32.powi(-((rng.next_u32() % 30) as i32))
        })
        .collect()
}

/// The quantization examples' input (`quant_split`, `quant_one`): `n`
/// smooth values, a sine of amplitude 3 lifted by 0.01, so that no block
/// is all zero and every block takes the encode path.
pub fn smooth_data(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (i as f32 * 0.37).sin() * 3.0 + 0.01)
        .collect()
}

/// The time-stamp counter now (0 off x86-64).
pub fn tsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `rdtsc` exists on every x86-64 processor and only reads.
        #[allow(unused_unsafe)]
        unsafe {
            core::arch::x86_64::_rdtsc()
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    0
}

/// The TSC's rate, from ticks over about 0.2 s of wall time.
fn tsc_hz() -> f64 {
    let (t0, c0) = (Instant::now(), tsc());
    while t0.elapsed().as_secs_f64() < 0.2 {
        std::hint::spin_loop();
    }
    (tsc() - c0) as f64 / t0.elapsed().as_secs_f64()
}

/// C = A·Bᵀ for s×s row-major matrices with the `gemm` crate (f32 or f64):
/// the benchmarks' f32 baseline, on `threads` of rayon's threads.
pub fn ref_gemm<T: 'static + Copy + Default>(
    a: &[T],
    b: &[T],
    c: &mut [T],
    s: usize,
    threads: usize,
    one: T,
) {
    let par = if threads == 1 {
        sgemm::Parallelism::None
    } else {
        sgemm::Parallelism::Rayon(threads)
    };
    let si = s as isize;
    assert!(a.len() == s * s && b.len() == s * s && c.len() == s * s);
    // SAFETY: a, b and c are s×s row-major matrices (asserted); B is read as Bᵀ
    // (column stride s, row stride 1); nothing aliases c.
    unsafe {
        sgemm::gemm(
            s,
            s,
            s,
            c.as_mut_ptr(),
            1,
            si,
            false,
            a.as_ptr(),
            1,
            si,
            b.as_ptr(),
            si,
            1,
            T::default(),
            one,
            false,
            false,
            false,
            par,
        );
    }
}

/// Best wall time of `f` over at least 3 runs and about 0.5 s, after one
/// warm-up run (page faults, thread-pool start).
pub fn best(mut f: impl FnMut()) -> f64 {
    f();
    let (mut best, start, mut runs) = (f64::INFINITY, Instant::now(), 0);
    while runs < 3 || (start.elapsed().as_secs_f64() < 0.5 && runs < 50) {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
        runs += 1;
    }
    best
}

type Sgemm = unsafe extern "C" fn(
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    f32,
    *const f32,
    c_int,
    *const f32,
    c_int,
    f32,
    *mut f32,
    c_int,
);
type SetThreads = unsafe extern "C" fn(c_int);
type Name = unsafe extern "C" fn() -> *const std::ffi::c_char;

/// A system BLAS (OpenBLAS or MKL) opened at run time, so that building
/// the benchmarks needs no BLAS: `cblas_sgemm` and its thread setting.
pub struct Blas {
    _lib: libloading::Library,
    sgemm: Sgemm,
    set_threads: Option<SetThreads>,
    /// The library and, for OpenBLAS, the kernel core it chose.
    pub name: String,
}

impl Blas {
    /// Opens the first of `libopenblas.so.0`, `libopenblas.so`,
    /// `libmkl_rt.so.2`, `libmkl_rt.so` that loads and has `cblas_sgemm`;
    /// `None` if none does (Debian: `apt install libopenblas0`).
    pub fn open() -> Option<Blas> {
        for file in [
            "libopenblas.so.0",
            "libopenblas.so",
            "libmkl_rt.so.2",
            "libmkl_rt.so",
        ] {
            // SAFETY: loading a BLAS runs its initialisers, which only set
            // up its thread pool and kernel choice.
            let Ok(lib) = (unsafe { libloading::Library::new(file) }) else {
                continue;
            };
            // SAFETY: the symbols have the CBLAS, OpenBLAS and MKL C signatures.
            unsafe {
                let Ok(sgemm) = lib.get::<Sgemm>(b"cblas_sgemm\0").map(|s| *s) else {
                    continue;
                };
                let set_threads = lib
                    .get::<SetThreads>(b"openblas_set_num_threads\0")
                    .or_else(|_| lib.get::<SetThreads>(b"MKL_Set_Num_Threads\0"))
                    .map(|s| *s)
                    .ok();
                let text = |sym: &[u8]| {
                    lib.get::<Name>(sym).ok().map(|f| {
                        std::ffi::CStr::from_ptr(f())
                            .to_string_lossy()
                            .trim()
                            .to_string()
                    })
                };
                let name = match (
                    text(b"openblas_get_config\0"),
                    text(b"openblas_get_corename\0"),
                ) {
                    (Some(c), Some(k)) => format!("{file}: {c}, core {k}"),
                    _ => file.to_string(),
                };
                return Some(Blas {
                    sgemm,
                    set_threads,
                    name,
                    _lib: lib,
                });
            }
        }
        None
    }

    /// `C = A·Bᵀ` for s×s row-major f32 matrices on `threads` threads.
    pub fn sgemm_nt(&self, a: &[f32], b: &[f32], c: &mut [f32], s: usize, threads: usize) {
        assert!(a.len() == s * s && b.len() == s * s && c.len() == s * s);
        let n = c_int::try_from(s).expect("size fits a C int");
        // SAFETY: a, b and c hold s×s f32 (asserted) with leading dimension
        // s; CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112.
        unsafe {
            if let Some(set) = self.set_threads {
                set(threads as c_int);
            }
            (self.sgemm)(
                101,
                111,
                112,
                n,
                n,
                n,
                1.0,
                a.as_ptr(),
                n,
                b.as_ptr(),
                n,
                0.0,
                c.as_mut_ptr(),
                n,
            );
        }
    }
}
