//! Measured throughput of the instructions the kernels are built on, in
//! core cycles: the bounds the GEMM ratios are explained by. The core
//! clock is measured too (a chain of dependent `add`s, one core cycle
//! each), since a turbo clock makes TSC cycles a poor unit here.
//!
//! ```text
//! cargo build --release -p blockscale-bench --example port_rates
//! target/release/examples/port_rates
//! ```
//!
//! Each row runs 12 independent accumulators (more than any of these
//! instructions' latency × throughput), so that the figure is the issue
//! rate, and then one chain of 12, for the latency. The clock comes from a
//! scalar chain; a core that slows its clock for 512-bit work shows it as
//! figures a few percent off (the FMA's latency, 4 cycles on every recent
//! x86 core, is the check). Multiply-add rows also give multiply-adds per
//! core cycle and their ratio to f32 FMA's, which is what an exact
//! integer or f64 GEMM kernel can reach against an f32 GEMM at best. AMX
//! rows run where `cpuid` reports AMX and Linux grants the tile state
//! (`arch_prctl(ARCH_REQ_XCOMP_PERM)`); they are a bound for a kernel the
//! crate does not have: the tile product alone, and a GEMM's step of 2 × 2
//! accumulator tiles with the four tile loads it needs. A last table
//! times the i8 GEMM tile's work for one NVFP4 block (16 elements of K):
//! the AVX2 kernel's instructions (and for MXFP4's 32), the VNNI
//! kernel's, and the same block through an AMX tile where granted; and
//! one more, the i16 tile's (exact FP8's) for one 32-element chunk, its
//! dense pass with each of its epilogues, for the AVX2 kernel and the
//! AVX-512 VNNI one. The instruction rows come in AVX-512's zmm forms and
//! in AVX2's ymm forms (what the AVX2 kernels run). Each row runs where
//! the CPU has what it needs.

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::asm;

    /// Loop trips per timed run.
    pub const TRIPS: u64 = 200_000;

    /// `asm!` of a timed loop: the templates `$body` run `$n` times
    /// (counted down in `rcx`), with the operands `$op`. Every vector
    /// register is caller-saved in the C ABI, so `clobber_abi("C")`
    /// declares all that the body writes (and it takes explicit registers
    /// only, hence `rcx`).
    macro_rules! trips {
        ($n:ident, [$($body:expr),* $(,)?], $($op:tt)*) => {
            asm!(
                "2:",
                $($body,)*
                "dec rcx",
                "jnz 2b",
                $($op)*
                inout("rcx") $n,
                clobber_abi("C"),
                options(nostack),
            )
        };
    }

    /// `$name`: 100 dependent `$ins {x}, {x}` per trip, each waiting for
    /// the one before.
    macro_rules! scalar_chain {
        ($(#[$doc:meta])* $name:ident, $ins:literal) => {
            $(#[$doc])*
            pub fn $name() {
                let (mut x, mut n) = (std::hint::black_box(3u64), TRIPS);
                // SAFETY: integer arithmetic on the named registers only.
                unsafe {
                    asm!(
                        "2:",
                        ".rept 100",
                        concat!($ins, " {x}, {x}"),
                        ".endr",
                        "dec {n}",
                        "jnz 2b",
                        x = inout(reg) x,
                        n = inout(reg) n,
                        options(nomem, nostack),
                    );
                }
                std::hint::black_box((x, n));
            }
        };
    }

    scalar_chain!(
        /// 100 core cycles a trip on every x86-64: `add` of two registers
        /// has latency 1. (Not `add reg, imm`: Golden Cove and later fold
        /// chains of those at rename, and such a loop runs faster than one
        /// per cycle.)
        add_chain,
        "add"
    );
    scalar_chain!(
        /// 300 core cycles a trip (`imul` latency 3 on every x86-64 since
        /// Sandy Bridge and Zen): a check on `add_chain`.
        imul_chain,
        "imul"
    );

    /// 12 instructions into the accumulators `$w`0–`$w`11 (`zmm` or
    /// `ymm`), from the sources `$s1` and `$s2`: independent.
    macro_rules! twelve {
        ($ins:literal, $w:literal, $s1:literal, $s2:literal) => {
            concat!(
                ".irp r,0,1,2,3,4,5,6,7,8,9,10,11\n",
                $ins,
                " ",
                $w,
                "\\r, ",
                $s1,
                ", ",
                $s2,
                "\n.endr"
            )
        };
    }

    /// 12 instructions each reading the one before's result, `$w`0: a
    /// dependency chain (through the accumulator or the first source).
    macro_rules! chain {
        ($ins:literal, $w:literal, $src:literal) => {
            concat!(
                ".rept 12\n",
                $ins,
                " ",
                $w,
                "0, ",
                $w,
                "0, ",
                $src,
                "\n.endr"
            )
        };
    }

    /// One timed loop of 12 × `TRIPS` instructions: `$name` with 12
    /// independent accumulators (throughput), `$lat` with one (latency),
    /// on registers `$w` with sources `$s1` and `$s2`, zeroed first.
    macro_rules! vec_loop {
        ($name:ident, $lat:ident, $ins:literal, $features:literal,
         $w:literal, $s1:literal, $s2:literal, $xor:literal) => {
            vec_loop!(@one $name, twelve!($ins, $w, $s1, $s2), $features,
                      $s1, $s2, $xor);
            vec_loop!(@one $lat, chain!($ins, $w, $s2), $features, $s1, $s2, $xor);
        };
        (@one $name:ident, $body:expr, $features:literal, $s1:literal, $s2:literal,
         $xor:literal) => {
            #[target_feature(enable = $features)]
            unsafe fn $name() {
                let mut n = TRIPS;
                // SAFETY: register-only vector arithmetic; every vector
                // register is caller-saved in the C ABI, so
                // `clobber_abi("C")` declares all it writes. Inputs are
                // zeroed first, so no instruction sees a denormal or a NaN.
                unsafe {
                    asm!(
                        concat!($xor, " ", $s1, ", ", $s1, ", ", $s1),
                        concat!($xor, " ", $s2, ", ", $s2, ", ", $s2),
                        "2:",
                        $body,
                        "dec rcx",
                        "jnz 2b",
                        // `clobber_abi` takes explicit registers only.
                        inout("rcx") n,
                        clobber_abi("C"),
                        options(nomem, nostack),
                    );
                }
                std::hint::black_box(n);
            }
        };
    }

    /// [`vec_loop!`] on AVX-512's zmm registers.
    macro_rules! zmm_loop {
        ($name:ident, $lat:ident, $ins:literal, $features:literal) => {
            vec_loop!(
                $name, $lat, $ins, $features, "zmm", "zmm30", "zmm31", "vpxord"
            );
        };
    }

    /// [`vec_loop!`] on AVX2's ymm registers (16 of them), the forms the
    /// AVX2 kernels use.
    macro_rules! ymm_loop {
        ($name:ident, $lat:ident, $ins:literal) => {
            vec_loop!(
                $name, $lat, $ins, "avx2,fma", "ymm", "ymm14", "ymm15", "vpxor"
            );
        };
    }

    zmm_loop!(fma_ps, fma_ps_lat, "vfmadd231ps", "avx512f");
    zmm_loop!(fma_pd, fma_pd_lat, "vfmadd231pd", "avx512f");
    zmm_loop!(dpbusd, dpbusd_lat, "vpdpbusd", "avx512f,avx512vnni");
    zmm_loop!(dpwssd, dpwssd_lat, "vpdpwssd", "avx512f,avx512vnni");
    zmm_loop!(madd52lo, madd52lo_lat, "vpmadd52luq", "avx512f,avx512ifma");
    zmm_loop!(mullq, mullq_lat, "vpmullq", "avx512f,avx512dq");
    zmm_loop!(mulld, mulld_lat, "vpmulld", "avx512f");
    zmm_loop!(maddwd, maddwd_lat, "vpmaddwd", "avx512f,avx512bw");
    zmm_loop!(permb, permb_lat, "vpermb", "avx512f,avx512vbmi");
    zmm_loop!(permt2b, permt2b_lat, "vpermt2b", "avx512f,avx512vbmi");
    zmm_loop!(pshufb, pshufb_lat, "vpshufb", "avx512f,avx512bw");
    zmm_loop!(permd, permd_lat, "vpermd", "avx512f");
    zmm_loop!(sllvd, sllvd_lat, "vpsllvd", "avx512f");
    zmm_loop!(paddd, paddd_lat, "vpaddd", "avx512f");

    ymm_loop!(fma_ps_y, fma_ps_y_lat, "vfmadd231ps");
    ymm_loop!(fma_pd_y, fma_pd_y_lat, "vfmadd231pd");
    ymm_loop!(maddwd_y, maddwd_y_lat, "vpmaddwd");
    ymm_loop!(maddubsw_y, maddubsw_y_lat, "vpmaddubsw");
    ymm_loop!(mulld_y, mulld_y_lat, "vpmulld");
    ymm_loop!(muludq_y, muludq_y_lat, "vpmuludq");
    ymm_loop!(pshufb_y, pshufb_y_lat, "vpshufb");
    ymm_loop!(permd_y, permd_y_lat, "vpermd");
    ymm_loop!(sllvd_y, sllvd_y_lat, "vpsllvd");
    ymm_loop!(paddd_y, paddd_y_lat, "vpaddd");

    /// One row: name, the loop, multiply-adds per instruction (0: not a
    /// multiply-add), whether this CPU has it.
    pub struct Row {
        pub name: &'static str,
        pub run: fn(),
        pub lat: fn(),
        pub macs: f64,
        pub ok: bool,
    }

    macro_rules! row {
        ($name:literal, $f:ident, $l:ident, $macs:expr, $($feat:tt),+) => {
            Row {
                name: $name,
                // SAFETY (of the calls inside): run only where `ok` holds,
                // i.e. the CPU has every feature the loops are compiled for.
                run: || unsafe { $f() },
                lat: || unsafe { $l() },
                macs: $macs,
                ok: true $(&& std::arch::is_x86_feature_detected!($feat))+,
            }
        };
    }

    pub fn rows() -> Vec<Row> {
        vec![
            row!(
                "vfmadd231ps zmm (f32 FMA)",
                fma_ps,
                fma_ps_lat,
                16.0,
                "avx512f"
            ),
            row!(
                "vfmadd231pd zmm (f64 FMA)",
                fma_pd,
                fma_pd_lat,
                8.0,
                "avx512f"
            ),
            row!(
                "vpdpbusd zmm (u8 x i8 VNNI)",
                dpbusd,
                dpbusd_lat,
                64.0,
                "avx512f",
                "avx512vnni"
            ),
            row!(
                "vpdpwssd zmm (i16 VNNI)",
                dpwssd,
                dpwssd_lat,
                32.0,
                "avx512f",
                "avx512vnni"
            ),
            row!(
                "vpmaddwd zmm (i16 pairs)",
                maddwd,
                maddwd_lat,
                32.0,
                "avx512f",
                "avx512bw"
            ),
            row!(
                "vpmadd52luq zmm (IFMA)",
                madd52lo,
                madd52lo_lat,
                8.0,
                "avx512f",
                "avx512ifma"
            ),
            row!("vpmullq zmm", mullq, mullq_lat, 0.0, "avx512f", "avx512dq"),
            row!("vpmulld zmm", mulld, mulld_lat, 0.0, "avx512f"),
            row!("vpermb zmm", permb, permb_lat, 0.0, "avx512f", "avx512vbmi"),
            row!(
                "vpermt2b zmm",
                permt2b,
                permt2b_lat,
                0.0,
                "avx512f",
                "avx512vbmi"
            ),
            row!(
                "vpshufb zmm",
                pshufb,
                pshufb_lat,
                0.0,
                "avx512f",
                "avx512bw"
            ),
            row!("vpermd zmm", permd, permd_lat, 0.0, "avx512f"),
            row!("vpsllvd zmm", sllvd, sllvd_lat, 0.0, "avx512f"),
            row!("vpaddd zmm", paddd, paddd_lat, 0.0, "avx512f"),
            row!(
                "vfmadd231ps ymm (f32 FMA, AVX2)",
                fma_ps_y,
                fma_ps_y_lat,
                8.0,
                "avx2",
                "fma"
            ),
            row!(
                "vfmadd231pd ymm (f64 FMA, AVX2)",
                fma_pd_y,
                fma_pd_y_lat,
                4.0,
                "avx2",
                "fma"
            ),
            row!(
                "vpmaddwd ymm (i16 pairs, AVX2)",
                maddwd_y,
                maddwd_y_lat,
                16.0,
                "avx2",
                "fma"
            ),
            row!(
                "vpmaddubsw ymm (u8 x i8 pairs to i16, AVX2)",
                maddubsw_y,
                maddubsw_y_lat,
                32.0,
                "avx2",
                "fma"
            ),
            row!("vpmulld ymm", mulld_y, mulld_y_lat, 0.0, "avx2", "fma"),
            row!("vpmuludq ymm", muludq_y, muludq_y_lat, 0.0, "avx2", "fma"),
            row!("vpshufb ymm", pshufb_y, pshufb_y_lat, 0.0, "avx2", "fma"),
            row!("vpermd ymm", permd_y, permd_y_lat, 0.0, "avx2", "fma"),
            row!("vpsllvd ymm", sllvd_y, sllvd_y_lat, 0.0, "avx2", "fma"),
            row!("vpaddd ymm", paddd_y, paddd_y_lat, 0.0, "avx2", "fma"),
        ]
    }

    /// `cpuid` leaf 7: AMX-TILE (EDX bit 24), AMX-INT8 (25), AMX-BF16 (22).
    fn amx_in_cpuid() -> bool {
        let r = core::arch::x86_64::__cpuid_count(7, 0);
        r.edx & (1 << 24 | 1 << 25 | 1 << 22) == (1 << 24 | 1 << 25 | 1 << 22)
    }

    /// Asks Linux for the AMX tile data state; true if granted.
    fn amx_permitted() -> bool {
        if !cfg!(target_os = "linux") || !amx_in_cpuid() {
            return false;
        }
        // arch_prctl(ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18),
        // syscall 158 (Linux x86-64 ABI).
        let ret: i64;
        // SAFETY: a system call that only changes this process's permitted
        // extended state; `syscall` clobbers rcx and r11.
        unsafe {
            asm!(
                "syscall",
                inlateout("rax") 158i64 => ret,
                in("rdi") 0x1023u64,
                in("rsi") 18u64,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        ret == 0
    }

    /// Tiles 0–3: 16 rows × 64 bytes of accumulators; 4–5: A; 6–7: B.
    fn tile_config() -> [u8; 64] {
        let mut c = [0u8; 64];
        c[0] = 1; // palette 1
        for t in 0..8 {
            c[16 + 2 * t] = 64; // bytes per row
            c[48 + t] = 16; // rows
        }
        c
    }

    /// 4 × `TRIPS` tile products of the given instruction; the tiles are
    /// zeroed first.
    macro_rules! amx_loop {
        ($name:ident, $ins:literal) => {
            fn $name() {
                let cfg = tile_config();
                let mut n = TRIPS / 16;
                // SAFETY: run only after `amx_permitted`; the configuration
                // is a valid palette-1 layout for tiles 0–6, and the tiles
                // are released before returning.
                unsafe {
                    asm!(
                        "ldtilecfg [{cfg}]",
                        "tilezero tmm0", "tilezero tmm1", "tilezero tmm2", "tilezero tmm3",
                        "tilezero tmm4", "tilezero tmm5", "tilezero tmm6",
                        "2:",
                        concat!($ins, " tmm0, tmm4, tmm6"),
                        concat!($ins, " tmm1, tmm4, tmm6"),
                        concat!($ins, " tmm2, tmm5, tmm6"),
                        concat!($ins, " tmm3, tmm5, tmm6"),
                        "dec {n}",
                        "jnz 2b",
                        "tilerelease",
                        cfg = in(reg) cfg.as_ptr(),
                        n = inout(reg) n,
                        options(nostack),
                    );
                }
                std::hint::black_box(n);
            }
        };
    }

    amx_loop!(tdpbssd, "tdpbssd");
    amx_loop!(tdpbf16ps, "tdpbf16ps");

    /// A GEMM's inner step as AMX runs it: a 2 × 2 block of accumulator
    /// tiles, each step loading two A tiles and two B tiles (1 KiB each,
    /// from L1) and taking their four `tdpbssd`. Tiles are not renamed, so
    /// a step's loads wait for the last step's products that read them.
    fn tdpbssd_2x2_loads() {
        let cfg = tile_config();
        let tiles = [0u8; 4 * 1024];
        let mut n = TRIPS / 16;
        // SAFETY: run only after `amx_permitted`; the configuration is a
        // valid palette-1 layout for tiles 0–7, the loads read the four
        // KiB of `tiles` (rows of stride 64), and the tiles are released
        // before returning.
        unsafe {
            asm!(
                "ldtilecfg [{cfg}]",
                "tilezero tmm0", "tilezero tmm1", "tilezero tmm2", "tilezero tmm3",
                "2:",
                "tileloadd tmm4, [{t} + {stride}*1]",
                "tileloadd tmm6, [{t} + {stride}*1 + 1024]",
                "tdpbssd tmm0, tmm4, tmm6",
                "tileloadd tmm5, [{t} + {stride}*1 + 2048]",
                "tdpbssd tmm2, tmm5, tmm6",
                "tileloadd tmm7, [{t} + {stride}*1 + 3072]",
                "tdpbssd tmm1, tmm4, tmm7",
                "tdpbssd tmm3, tmm5, tmm7",
                "dec {n}",
                "jnz 2b",
                "tilerelease",
                cfg = in(reg) cfg.as_ptr(),
                t = in(reg) tiles.as_ptr(),
                stride = in(reg) 64usize,
                n = inout(reg) n,
                options(nostack),
            );
        }
        std::hint::black_box(n);
    }

    /// The i8 GEMM tile's work for one 16-element block (NVFP4's) of 8
    /// rows × 16 columns, as `simd::x86_64::avx512::gemm` compiles it: each
    /// row's sums start from B's correction (a register move), take 4
    /// `vpdpbusd` of a broadcast quad of A, and end in a conversion, the
    /// scale product and an FMA into the row's f32 accumulator
    /// (`PER_ROW`); with B's scales one value across the tile (NVFP4's
    /// 16 × 16 weight blocks), the 8 rows' scale products take one 8-lane
    /// multiplication, stored, and reach the FMAs as broadcast loads
    /// (`UNIFORM`); or the sums alone, with no epilogue (`SUMS`), their
    /// bound. `TRIPS` blocks of 2048 multiply-adds. B is zero, so nothing
    /// grows.
    #[target_feature(enable = "avx512f,avx512vnni")]
    unsafe fn i8_block_vnni<const MODE: u8>() {
        let mem = [1.0f32; 40]; // A's quads (4 × 8), then A's scales (8)
        let mut products = [0f32; 8];
        let mut n = TRIPS;
        // The loop's start and its sums: every variant's.
        macro_rules! block {
            ($($epilogue:literal),*) => {
                // SAFETY: reads 160 bytes of `mem` and writes the 32 of
                // `products`; every register written is declared clobbered.
                unsafe {
                    asm!(
                        ".irp r,20,21,22,23,25,31",
                        "vpxord zmm\\r, zmm\\r, zmm\\r",
                        ".endr",
                        "2:",
                        ".irp r,0,1,2,3,4,5,6,7",
                        "vmovdqa64 zmm\\r, zmm31",
                        ".endr",
                        ".irp q,0,1,2,3",
                        ".irp r,0,1,2,3,4,5,6,7",
                        "vpdpbusd zmm\\r, zmm2\\q, [{p} + 32*\\q + 4*\\r]{{1to16}}",
                        ".endr",
                        ".endr",
                        $($epilogue,)*
                        "dec {n}",
                        "jnz 2b",
                        p = in(reg) mem.as_ptr(),
                        s = in(reg) products.as_mut_ptr(),
                        n = inout(reg) n,
                        out("zmm0") _, out("zmm1") _, out("zmm2") _, out("zmm3") _,
                        out("zmm4") _, out("zmm5") _, out("zmm6") _, out("zmm7") _,
                        out("zmm10") _, out("zmm11") _, out("zmm12") _, out("zmm13") _,
                        out("zmm14") _, out("zmm15") _, out("zmm16") _, out("zmm17") _,
                        out("zmm20") _, out("zmm21") _, out("zmm22") _, out("zmm23") _,
                        out("zmm24") _, out("zmm25") _, out("zmm31") _,
                        options(nostack),
                    );
                }
            };
        }
        match MODE {
            PER_ROW => block!(
                ".irp r,0,1,2,3,4,5,6,7",
                "vcvtdq2ps zmm\\r, zmm\\r",
                "vmulps zmm24, zmm25, [{p} + 128 + 4*\\r]{{1to16}}",
                "vfmadd231ps zmm1\\r, zmm\\r, zmm24",
                ".endr",
                "/* {s} */"
            ),
            UNIFORM => block!(
                "vmulps ymm24, ymm25, [{p} + 128]",
                "vmovups [{s}], ymm24",
                ".irp r,0,1,2,3,4,5,6,7",
                "vcvtdq2ps zmm\\r, zmm\\r",
                "vfmadd231ps zmm1\\r, zmm\\r, [{s} + 4*\\r]{{1to16}}",
                ".endr"
            ),
            _ => block!("/* {s} */"),
        }
        std::hint::black_box((n, products));
    }

    /// The AVX2 i8 tile's work (`simd::x86_64::avx2::gemm`'s
    /// `i8_tile_blocks`, with B's scale one value across the tile, as
    /// NVFP4's 16 × 16 weight blocks give) for two K blocks of one
    /// register block, 4 rows × 16 columns, written from its compiled
    /// loop: the sums start from B's correction (`vpblendw`), each quad
    /// takes B's two loads, a broadcast load of each row's quad of A, and
    /// per row two `vpmaddubsw` and two `vpaddw`; the epilogue forms the
    /// four rows' scale products in one multiplication, through memory,
    /// and per row and half a `vpmaddwd` by ones, a conversion and an
    /// FMA, four of the eight f32 accumulators in memory (where the
    /// compiled loop spills them). `QUADS` is 4 (NVFP4's 16-element
    /// blocks) or 8 (MXFP4's 32); `EPILOGUE` false times the sums alone.
    /// The data are zeros but for the ones, so nothing grows.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn i8_block_avx2<const QUADS: usize, const EPILOGUE: bool>() {
        // B's quads (up to 512 bytes), A's (at 512), B's corrections (1024),
        // A's scales (1088), B's scale (1120), the ones (1124), the scale
        // products (1152), the spilled accumulators (1280).
        let mut data = [0u32; 384];
        data[1124 / 4] = 0x0001_0001;
        let mut n = TRIPS;
        // Two K blocks a trip: row r's sums in ymm r (columns 0–7) and
        // ymm 1r (8–15).
        macro_rules! blocks {
            ($quads:literal, $($epilogue:expr),*) => {
                concat!(
                    ".rept 2\n",
                    "vpxor xmm15, xmm15, xmm15\n",
                    "vpblendw ymm0, ymm15, [{b} + 1024], 0x55\n",
                    "vpblendw ymm10, ymm15, [{b} + 1056], 0x55\n",
                    ".irp r,1,2,3\n",
                    "vmovdqa ymm\\r, ymm0\n",
                    "vmovdqa ymm1\\r, ymm10\n",
                    ".endr\n",
                    ".irp q,", $quads, "\n",
                    "vmovdqu ymm8, [{b} + 64*\\q]\n",
                    "vmovdqu ymm9, [{b} + 64*\\q + 32]\n",
                    ".irp r,0,1,2,3\n",
                    "vpbroadcastd ymm14, [{b} + 512 + 32*\\q + 4*\\r]\n",
                    "vpmaddubsw ymm15, ymm14, ymm8\n",
                    "vpaddw ymm\\r, ymm\\r, ymm15\n",
                    "vpmaddubsw ymm15, ymm14, ymm9\n",
                    "vpaddw ymm1\\r, ymm1\\r, ymm15\n",
                    ".endr\n",
                    ".endr\n",
                    $($epilogue,)*
                    ".endr"
                )
            };
        }
        // The block's end: the scale products, then per row (sums in
        // ymm r and ymm 1r, columns 0–7's accumulator in ymm c, 8–15's in
        // memory) a `vpmaddwd` by ones, a conversion and an FMA per half.
        // The macro is purged at the end, so that each copy of the
        // `asm!` block defines it afresh.
        macro_rules! epilogue {
            () => {
                concat!(
                    ".macro i8_block_end r, c\n",
                    "vbroadcastss ymm9, [{b} + 1152 + 4*\\r]\n",
                    "vpmaddwd ymm\\r, ymm\\r, ymm8\n",
                    "vcvtdq2ps ymm\\r, ymm\\r\n",
                    "vfmadd231ps ymm\\c, ymm\\r, ymm9\n",
                    "vpmaddwd ymm1\\r, ymm1\\r, ymm8\n",
                    "vcvtdq2ps ymm1\\r, ymm1\\r\n",
                    "vmovups ymm15, [{b} + 1280 + 32*\\r]\n",
                    "vfmadd231ps ymm15, ymm1\\r, ymm9\n",
                    "vmovups [{b} + 1280 + 32*\\r], ymm15\n",
                    ".endm\n",
                    "vbroadcastss xmm14, [{b} + 1120]\n",
                    "vmulps xmm14, xmm14, [{b} + 1088]\n",
                    "vmovups [{b} + 1152], xmm14\n",
                    "vpbroadcastw ymm8, [{b} + 1124]\n",
                    "i8_block_end 0, 4\n",
                    "i8_block_end 1, 5\n",
                    "i8_block_end 2, 6\n",
                    "i8_block_end 3, 7\n",
                    ".purgem i8_block_end\n"
                )
            };
        }
        macro_rules! run {
            ($body:expr) => {
                // SAFETY: reads and writes within `data` (1536 bytes);
                // every vector register it writes is caller-saved, so
                // `clobber_abi("C")` declares it.
                unsafe { trips!(n, [$body], b = in(reg) data.as_mut_ptr(),) }
            };
        }
        match (QUADS, EPILOGUE) {
            (4, true) => run!(blocks!("0,1,2,3", epilogue!())),
            (4, false) => run!(blocks!("0,1,2,3",)),
            _ => run!(blocks!("0,1,2,3,4,5,6,7", epilogue!())),
        }
        std::hint::black_box((n, data));
    }

    const PER_ROW: u8 = 0;
    const UNIFORM: u8 = 1;
    const SUMS: u8 = 2;

    /// The same block through AMX, 16 rows × 16 columns: a tile zeroed,
    /// A's 16 bytes of 16 rows and B's 4 quad rows loaded, one `tdpbusd`,
    /// the sums stored (`TILES`); then each row's sums plus B's correction
    /// converted, scaled and added as in the VNNI tile (`EPILOGUE`); or two
    /// blocks a trip in two sets of tiles, each block's epilogue run after
    /// the other's tile work (`PIPELINED`). 4096 multiply-adds a block.
    #[target_feature(enable = "avx512f")]
    unsafe fn i8_block_amx<const MODE: u8>() {
        let mut cfg = [0u8; 64];
        cfg[0] = 1; // palette 1
        for set in [0, 3] {
            for (t, rows, bytes) in [(set, 16, 64u16), (set + 1, 16, 16), (set + 2, 4, 64)] {
                cfg[16 + 2 * t..18 + 2 * t].copy_from_slice(&bytes.to_le_bytes());
                cfg[48 + t] = rows;
            }
        }
        let (a, b, scales) = ([0u8; 16 * 64], [0u8; 4 * 64], [1.0f32; 16]);
        let mut sums = [0i32; 2 * 16 * 16];
        let mut n = TRIPS;
        // The f32 epilogue of a block's 16 rows of sums at `{c} + $at`.
        macro_rules! epilogue {
            ($at:literal) => {
                concat!(
                    ".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n",
                    "vpaddd zmm16, zmm17, [{c} + ",
                    $at,
                    " + 64*\\r]\n",
                    "vcvtdq2ps zmm16, zmm16\n",
                    "vmulps zmm18, zmm19, [{s} + 4*\\r]{{1to16}}\n",
                    "vfmadd231ps zmm\\r, zmm16, zmm18\n",
                    ".endr"
                )
            };
        }
        macro_rules! block {
            ($($epilogue:expr),*) => {
                // SAFETY: run only after `amx_permitted`; the configuration
                // is a valid palette-1 layout for tiles 0–2, every tile
                // read or written stays in `a`, `b` and `sums` (rows of
                // stride 64), and the tiles are released before returning.
                unsafe {
                    asm!(
                        "ldtilecfg [{cfg}] /* scales at {s} */",
                        ".irp r,17,19",
                        "vpxord zmm\\r, zmm\\r, zmm\\r",
                        ".endr",
                        "2:",
                        "tilezero tmm0",
                        "tileloadd tmm1, [{a} + {stride}*1]",
                        "tileloadd tmm2, [{b} + {stride}*1]",
                        "tdpbusd tmm0, tmm1, tmm2",
                        "tilestored [{c} + {stride}*1], tmm0",
                        $($epilogue,)*
                        "dec {n}",
                        "jnz 2b",
                        "tilerelease",
                        cfg = in(reg) cfg.as_ptr(),
                        a = in(reg) a.as_ptr(),
                        b = in(reg) b.as_ptr(),
                        c = in(reg) sums.as_mut_ptr(),
                        s = in(reg) scales.as_ptr(),
                        stride = in(reg) 64usize,
                        n = inout(reg) n,
                        out("zmm0") _, out("zmm1") _, out("zmm2") _, out("zmm3") _,
                        out("zmm4") _, out("zmm5") _, out("zmm6") _, out("zmm7") _,
                        out("zmm8") _, out("zmm9") _, out("zmm10") _, out("zmm11") _,
                        out("zmm12") _, out("zmm13") _, out("zmm14") _, out("zmm15") _,
                        out("zmm16") _, out("zmm17") _, out("zmm18") _, out("zmm19") _,
                        options(nostack),
                    );
                }
            };
        }
        match MODE {
            TILES => block!(),
            EPILOGUE => block!(epilogue!("0")),
            _ => block!(
                epilogue!("1024"),
                "tilezero tmm3",
                "tileloadd tmm4, [{a} + {stride}*1]",
                "tileloadd tmm5, [{b} + {stride}*1]",
                "tdpbusd tmm3, tmm4, tmm5",
                "tilestored [{c} + {stride}*1 + 1024], tmm3",
                epilogue!("0")
            ),
        }
        std::hint::black_box((n, sums));
    }

    const TILES: u8 = 0;
    const EPILOGUE: u8 = 1;
    const PIPELINED: u8 = 2;

    /// A block loop: its name, the loop, and blocks and multiply-adds per
    /// trip.
    pub struct BlockRow {
        pub name: &'static str,
        pub run: fn(),
        pub blocks: f64,
        pub macs: f64,
    }

    /// The i16 GEMM tile's work for one 32-element chunk (FP8's and MX's
    /// block) of 8 rows × 16 columns, as `simd::x86_64::avx512::i16`
    /// compiles it: a pass of planes zeroes the row's i32 sums and takes
    /// 16 pair steps (B's 32 pairs loaded, 8 `vpdpwssd` of a broadcast A
    /// pair, one chain of 16 per row). After it, the sums alone
    /// (`I16_SUMS`, their bound); the single-pass f32 epilogue
    /// (`I16_F32`: B's factor made once in f32, then per row A's factor
    /// broadcast, a conversion and an FMA into the f32 accumulator in
    /// memory); or the f64 path (`I16_F64_ONE`, `I16_F64_TWO`: one or two
    /// passes, each converting its sums to f64 and adding them times the
    /// planes' factors into 16 f64 sums, then the block term: the scales'
    /// product, a conversion to f32 and an add into the accumulator).
    /// Two bounds of the pass: its pair steps in two sets of sums a row
    /// (`I16_SPLIT`: 16 chains of 8, added at the end), and with A's pairs
    /// already in registers, so no broadcast loads (`I16_REG`; not a
    /// kernel, since each step needs 8 new pairs). `TRIPS` chunks of 4096
    /// multiply-adds (the chunk's, counted once however many passes). The
    /// data are zero, so nothing grows.
    #[target_feature(enable = "avx512f,avx512dq,avx512vnni")]
    unsafe fn i16_chunk_vnni<const MODE: u8>() {
        // B's pairs (16 × 64 bytes), A's pairs (16 × 32), then 8 f64 of A's
        // factors and 8 of A's scales, 16 f64 of B's factors and 16 of its
        // scales: 1536 + 512 bytes of i16, 48 f64.
        let data = [0u64; 256 + 48];
        let mut acc = [0f32; 128];
        let mut n = TRIPS;
        macro_rules! chunk {
            ($($body:tt)*) => {
                // SAFETY: reads `data` (2432 bytes) and reads and writes
                // `acc` (512 bytes); every vector register it writes is
                // caller-saved, so `clobber_abi("C")` declares it.
                unsafe {
                    trips!(
                        n,
                        [$($body)*, "/* {a} */"],
                        b = in(reg) data.as_ptr(),
                        a = in(reg) data.as_ptr().add(128),
                        o = in(reg) acc.as_mut_ptr(),
                    );
                }
            };
        }
        // One pass of planes: the sums in zmm0–7.
        macro_rules! pass {
            () => {
                concat!(
                    ".irp r,0,1,2,3,4,5,6,7\n",
                    "vpxord zmm\\r, zmm\\r, zmm\\r\n",
                    ".endr\n",
                    ".irp q,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n",
                    "vmovdqu64 zmm8, [{b} + 64*\\q]\n",
                    ".irp r,0,1,2,3,4,5,6,7\n",
                    "vpdpwssd zmm\\r, zmm8, [{a} + 32*\\q + 4*\\r]{{1to16}}\n",
                    ".endr\n",
                    ".endr"
                )
            };
        }
        // The same pass with two sets of sums a row (even and odd pair
        // steps: 16 chains of 8), added at the end: zmm0–7 again.
        macro_rules! pass_split {
            () => {
                concat!(
                    ".irp r,0,1,2,3,4,5,6,7\n",
                    "vpxord zmm\\r, zmm\\r, zmm\\r\n",
                    "vpxord zmm1\\r, zmm1\\r, zmm1\\r\n",
                    ".endr\n",
                    ".irp q,0,2,4,6,8,10,12,14\n",
                    "vmovdqu64 zmm8, [{b} + 64*\\q]\n",
                    "vmovdqu64 zmm9, [{b} + 64*\\q + 64]\n",
                    ".irp r,0,1,2,3,4,5,6,7\n",
                    "vpdpwssd zmm\\r, zmm8, [{a} + 32*\\q + 4*\\r]{{1to16}}\n",
                    "vpdpwssd zmm1\\r, zmm9, [{a} + 32 + 32*\\q + 4*\\r]{{1to16}}\n",
                    ".endr\n",
                    ".endr\n",
                    ".irp r,0,1,2,3,4,5,6,7\n",
                    "vpaddd zmm\\r, zmm\\r, zmm1\\r\n",
                    ".endr"
                )
            };
        }
        // A pass's sums into the f64 sums (row r: zmm1r, zmm2r), times
        // A's factor (broadcast) and B's (zmm28, zmm29).
        macro_rules! f64_sums {
            () => {
                concat!(
                    ".irp r,0,1,2,3,4,5,6,7\n",
                    "vbroadcastsd zmm30, [{b} + 1536 + 8*\\r]\n",
                    "vextracti64x4 ymm31, zmm\\r, 1\n",
                    "vcvtdq2pd zmm9, ymm\\r\n",
                    "vcvtdq2pd zmm31, ymm31\n",
                    "vmulpd zmm18, zmm30, zmm28\n",
                    "vmulpd zmm30, zmm30, zmm29\n",
                    "vfmadd231pd zmm1\\r, zmm9, zmm18\n",
                    "vfmadd231pd zmm2\\r, zmm31, zmm30\n",
                    ".endr"
                )
            };
        }
        // B's factors for the pass (from the data; the kernel loads them
        // per pass too).
        macro_rules! f64_factors {
            () => {
                "vmovupd zmm28, [{b} + 1664]\nvmovupd zmm29, [{b} + 1728]"
            };
        }
        // The block term: A's scale times B's scales times the f64 sums,
        // to f32, added to the accumulator; the f64 sums start again at
        // zero for the next chunk.
        macro_rules! term {
            () => {
                concat!(
                    "vmovupd zmm18, [{b} + 1792]\n",
                    "vmovupd zmm19, [{b} + 1856]\n",
                    ".irp r,0,1,2,3,4,5,6,7\n",
                    "vbroadcastsd zmm30, [{b} + 1600 + 8*\\r]\n",
                    "vmulpd zmm31, zmm30, zmm18\n",
                    "vmulpd zmm30, zmm30, zmm19\n",
                    "vmulpd zmm31, zmm31, zmm1\\r\n",
                    "vmulpd zmm30, zmm30, zmm2\\r\n",
                    "vcvtpd2ps ymm31, zmm31\n",
                    "vcvtpd2ps ymm30, zmm30\n",
                    "vinsertf32x8 zmm31, zmm31, ymm30, 1\n",
                    "vaddps zmm31, zmm31, [{o} + 64*\\r]\n",
                    "vmovups [{o} + 64*\\r], zmm31\n",
                    "vpxord zmm1\\r, zmm1\\r, zmm1\\r\n",
                    "vpxord zmm2\\r, zmm2\\r, zmm2\\r\n",
                    ".endr"
                )
            };
        }
        // The single-pass epilogue: B's factor s·2^(e0 + shift) in f32,
        // made once a chunk, then each row's.
        macro_rules! f32_epilogue {
            () => {
                concat!(
                    "vmovupd zmm28, [{b} + 1792]\n",
                    "vmovupd zmm29, [{b} + 1856]\n",
                    "vmulpd zmm28, zmm28, [{b} + 1664]\n",
                    "vmulpd zmm29, zmm29, [{b} + 1728]\n",
                    "vcvtpd2ps ymm28, zmm28\n",
                    "vcvtpd2ps ymm29, zmm29\n",
                    "vinsertf32x8 zmm28, zmm28, ymm29, 1\n",
                    ".irp r,0,1,2,3,4,5,6,7\n",
                    "vmovsd xmm30, [{b} + 1536 + 8*\\r]\n",
                    "vmulsd xmm30, xmm30, [{b} + 1600 + 8*\\r]\n",
                    "vcvtsd2ss xmm30, xmm30, xmm30\n",
                    "vbroadcastss zmm30, xmm30\n",
                    "vmulps zmm30, zmm30, zmm28\n",
                    "vcvtdq2ps zmm\\r, zmm\\r\n",
                    "vfmadd213ps zmm\\r, zmm30, [{o} + 64*\\r]\n",
                    "vmovups [{o} + 64*\\r], zmm\\r\n",
                    ".endr"
                )
            };
        }
        match MODE {
            I16_SUMS => chunk!(pass!(), "/* {o} */"),
            I16_F32 => chunk!(pass!(), f32_epilogue!()),
            I16_SPLIT => chunk!(pass_split!(), "/* {o} */"),
            I16_REG => chunk!(
                // The pass with A's pairs already in registers (zmm10–17):
                // B's 16 loads and no broadcast loads.
                ".irp r,0,1,2,3,4,5,6,7",
                "vpxord zmm\\r, zmm\\r, zmm\\r",
                ".endr",
                ".irp q,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
                "vmovdqu64 zmm8, [{b} + 64*\\q]",
                ".irp r,0,1,2,3,4,5,6,7",
                "vpdpwssd zmm\\r, zmm8, zmm1\\r",
                ".endr",
                ".endr",
                "/* {o} */"
            ),
            I16_F64_ONE => chunk!(pass!(), f64_factors!(), f64_sums!(), term!()),
            _ => chunk!(
                pass!(),
                f64_factors!(),
                f64_sums!(),
                pass!(),
                f64_factors!(),
                f64_sums!(),
                term!()
            ),
        }
        std::hint::black_box((n, acc));
    }

    /// The AVX2 i16 tile's work (`simd::x86_64::avx2::i16`) for one
    /// 32-element chunk of 8 rows × 16 columns: two register blocks of 4
    /// rows, each a pass of 16 pair steps (B's pair row in two loads, a
    /// broadcast load of each row's pair, and per row two `vpmaddwd` and
    /// two `vpaddd`), then an epilogue: none (`I16_SUMS`, the bound of
    /// the pass), the single-pass f32 one (`I16_F32`), or the f64 one,
    /// whose sums live in memory as the compiled kernel's do (16 ymm of
    /// them do not fit beside the pass's): alone, as for a chunk inside a
    /// longer block (`I16_F64_NO_TERM`), or with the power-of-two block
    /// term after one pass (`I16_F64_ONE`) or two (`I16_F64_TWO`). The data
    /// are zeros, so nothing grows.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn i16_chunk_avx2<const MODE: u8>() {
        // B's pairs (1024 bytes), A's (512), B's f64 factors (at 1536),
        // A's (1664), B's scales (1728), A's (1856), B's f32 factors for
        // the f32 epilogue (1920), the f64 sums (2048, 1 KiB).
        let mut data = [0u64; 384];
        let mut acc = [0f32; 128];
        let mut n = TRIPS;
        macro_rules! chunk {
            ($($body:tt)*) => {
                // SAFETY: reads and writes within `data` (3072 bytes) and
                // `acc` (512 bytes); every vector register it writes is
                // caller-saved, so `clobber_abi("C")` declares it.
                unsafe {
                    trips!(
                        n,
                        [$($body)*],
                        b = in(reg) data.as_mut_ptr(),
                        o = in(reg) acc.as_mut_ptr(),
                    );
                }
            };
        }
        // One pass over the block of rows 4h..4h + 4: row r's sums in
        // ymm r (columns 0–7) and ymm 1r (8–15).
        macro_rules! pass {
            () => {
                concat!(
                    ".irp r,0,1,2,3\n",
                    "vpxor ymm\\r, ymm\\r, ymm\\r\n",
                    "vpxor ymm1\\r, ymm1\\r, ymm1\\r\n",
                    ".endr\n",
                    ".irp q,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n",
                    "vmovdqu ymm8, [{b} + 64*\\q]\n",
                    "vmovdqu ymm9, [{b} + 64*\\q + 32]\n",
                    ".irp r,0,1,2,3\n",
                    "vpbroadcastd ymm14, [{b} + 1024 + 32*\\q + 16*\\h + 4*\\r]\n",
                    "vpmaddwd ymm15, ymm14, ymm8\n",
                    "vpaddd ymm\\r, ymm\\r, ymm15\n",
                    "vpmaddwd ymm15, ymm14, ymm9\n",
                    "vpaddd ymm1\\r, ymm1\\r, ymm15\n",
                    ".endr\n",
                    ".endr\n"
                )
            };
        }
        // A pass's i32 sums into the f64 sums in memory, times A's factor
        // and B's: per row two extracts, four conversions, four products
        // and four FMAs, as the kernel's `cvtepi32_pd` halves.
        macro_rules! f64_sums {
            () => {
                concat!(
                    ".irp r,0,1,2,3\n",
                    "vbroadcastsd ymm14, [{b} + 1664 + 32*\\h + 8*\\r]\n",
                    "vcvtdq2pd ymm8, xmm\\r\n",
                    "vextracti128 xmm9, ymm\\r, 1\n",
                    "vcvtdq2pd ymm9, xmm9\n",
                    "vmulpd ymm15, ymm14, [{b} + 1536]\n",
                    "vfmadd213pd ymm8, ymm15, [{b} + 2048 + 512*\\h + 128*\\r]\n",
                    "vmovupd [{b} + 2048 + 512*\\h + 128*\\r], ymm8\n",
                    "vmulpd ymm15, ymm14, [{b} + 1568]\n",
                    "vfmadd213pd ymm9, ymm15, [{b} + 2048 + 512*\\h + 128*\\r + 32]\n",
                    "vmovupd [{b} + 2048 + 512*\\h + 128*\\r + 32], ymm9\n",
                    "vcvtdq2pd ymm8, xmm1\\r\n",
                    "vextracti128 xmm9, ymm1\\r, 1\n",
                    "vcvtdq2pd ymm9, xmm9\n",
                    "vmulpd ymm15, ymm14, [{b} + 1600]\n",
                    "vfmadd213pd ymm8, ymm15, [{b} + 2048 + 512*\\h + 128*\\r + 64]\n",
                    "vmovupd [{b} + 2048 + 512*\\h + 128*\\r + 64], ymm8\n",
                    "vmulpd ymm15, ymm14, [{b} + 1632]\n",
                    "vfmadd213pd ymm9, ymm15, [{b} + 2048 + 512*\\h + 128*\\r + 96]\n",
                    "vmovupd [{b} + 2048 + 512*\\h + 128*\\r + 96], ymm9\n",
                    ".endr\n"
                )
            };
        }
        // The power-of-two block term of each row (`add_row_terms`):
        // f32(S·(s_a·s_b)) in four quarters, joined in pairs and added to
        // the accumulators; the f64 sums start again at zero.
        macro_rules! term {
            () => {
                concat!(
                    "vxorpd ymm13, ymm13, ymm13\n",
                    ".irp r,0,1,2,3\n",
                    "vbroadcastsd ymm14, [{b} + 1856 + 32*\\h + 8*\\r]\n",
                    ".irp j,4,5,6,7\n",
                    "vmulpd ymm15, ymm14, [{b} + 1728 + 32*(\\j-4)]\n",
                    "vmulpd ymm15, ymm15, [{b} + 2048 + 512*\\h + 128*\\r + 32*(\\j-4)]\n",
                    "vcvtpd2ps xmm\\j, ymm15\n",
                    "vmovupd [{b} + 2048 + 512*\\h + 128*\\r + 32*(\\j-4)], ymm13\n",
                    ".endr\n",
                    "vinsertf128 ymm4, ymm4, xmm5, 1\n",
                    "vaddps ymm4, ymm4, [{o} + 256*\\h + 64*\\r]\n",
                    "vmovups [{o} + 256*\\h + 64*\\r], ymm4\n",
                    "vinsertf128 ymm6, ymm6, xmm7, 1\n",
                    "vaddps ymm6, ymm6, [{o} + 256*\\h + 64*\\r + 32]\n",
                    "vmovups [{o} + 256*\\h + 64*\\r + 32], ymm6\n",
                    ".endr\n"
                )
            };
        }
        match MODE {
            I16_SUMS => chunk!(".irp h,0,1\n", pass!(), ".endr", "/* {o} */"),
            I16_F32 => chunk!(
                // B's factors s·2^(e0 + shift) in f32, once a chunk.
                ".irp c,0,1\n",
                "vmovupd ymm8, [{b} + 1728 + 64*\\c]\n",
                "vmulpd ymm8, ymm8, [{b} + 1536 + 64*\\c]\n",
                "vcvtpd2ps xmm8, ymm8\n",
                "vmovupd ymm9, [{b} + 1760 + 64*\\c]\n",
                "vmulpd ymm9, ymm9, [{b} + 1568 + 64*\\c]\n",
                "vcvtpd2ps xmm9, ymm9\n",
                "vinsertf128 ymm8, ymm8, xmm9, 1\n",
                "vmovups [{b} + 1920 + 32*\\c], ymm8\n",
                ".endr\n",
                ".irp h,0,1\n",
                pass!(),
                ".irp r,0,1,2,3\n",
                "vmovsd xmm14, [{b} + 1856 + 32*\\h + 8*\\r]\n",
                "vmulsd xmm14, xmm14, [{b} + 1664 + 32*\\h + 8*\\r]\n",
                "vcvtsd2ss xmm14, xmm14, xmm14\n",
                "vbroadcastss ymm14, xmm14\n",
                "vmulps ymm15, ymm14, [{b} + 1920]\n",
                "vcvtdq2ps ymm\\r, ymm\\r\n",
                "vfmadd213ps ymm\\r, ymm15, [{o} + 256*\\h + 64*\\r]\n",
                "vmovups [{o} + 256*\\h + 64*\\r], ymm\\r\n",
                "vmulps ymm15, ymm14, [{b} + 1952]\n",
                "vcvtdq2ps ymm1\\r, ymm1\\r\n",
                "vfmadd213ps ymm1\\r, ymm15, [{o} + 256*\\h + 64*\\r + 32]\n",
                "vmovups [{o} + 256*\\h + 64*\\r + 32], ymm1\\r\n",
                ".endr\n",
                ".endr"
            ),
            I16_F64_ONE => chunk!(".irp h,0,1\n", pass!(), f64_sums!(), term!(), ".endr"),
            I16_F64_NO_TERM => chunk!(".irp h,0,1\n", pass!(), f64_sums!(), ".endr", "/* {o} */"),
            _ => chunk!(
                ".irp h,0,1\n",
                pass!(),
                f64_sums!(),
                pass!(),
                f64_sums!(),
                term!(),
                ".endr"
            ),
        }
        std::hint::black_box((n, data, acc));
    }

    const I16_SUMS: u8 = 0;
    const I16_F32: u8 = 1;
    const I16_F64_ONE: u8 = 2;
    const I16_F64_TWO: u8 = 3;
    const I16_SPLIT: u8 = 4;
    const I16_REG: u8 = 5;
    const I16_F64_NO_TERM: u8 = 6;

    /// The i16 chunk loops this CPU runs: AVX2's, and AVX-512 VNNI's.
    pub fn chunk_rows() -> Vec<BlockRow> {
        let row = |name, run| BlockRow {
            name,
            run,
            blocks: 1.0,
            macs: 4096.0,
        };
        let mut rows = Vec::new();
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY (of the calls inside): the CPU has AVX2 and FMA.
            let sums: fn() = || unsafe { i16_chunk_avx2::<I16_SUMS>() };
            let f32: fn() = || unsafe { i16_chunk_avx2::<I16_F32>() };
            let one: fn() = || unsafe { i16_chunk_avx2::<I16_F64_ONE>() };
            let two: fn() = || unsafe { i16_chunk_avx2::<I16_F64_TWO>() };
            rows.push(row(
                "AVX2, 2 blocks of 4 rows x 16 columns, one pass, the sums alone",
                sums,
            ));
            rows.push(row("AVX2, one pass, the f32 epilogue", f32));
            let no_term: fn() = || unsafe { i16_chunk_avx2::<I16_F64_NO_TERM>() };
            rows.push(row(
                "AVX2, one pass, the f64 epilogue (no term: a chunk inside a longer block)",
                no_term,
            ));
            rows.push(row(
                "AVX2, one pass, the f64 epilogue and the power-of-two term",
                one,
            ));
            rows.push(row(
                "AVX2, two passes, the f64 epilogue and the power-of-two term",
                two,
            ));
        }
        if !std::arch::is_x86_feature_detected!("avx512vnni")
            || !std::arch::is_x86_feature_detected!("avx512dq")
        {
            return rows;
        }
        // SAFETY (of the calls inside): the CPU has AVX-512 F, DQ and VNNI.
        let sums: fn() = || unsafe { i16_chunk_vnni::<I16_SUMS>() };
        let f32: fn() = || unsafe { i16_chunk_vnni::<I16_F32>() };
        let one: fn() = || unsafe { i16_chunk_vnni::<I16_F64_ONE>() };
        let two: fn() = || unsafe { i16_chunk_vnni::<I16_F64_TWO>() };
        let split: fn() = || unsafe { i16_chunk_vnni::<I16_SPLIT>() };
        let reg: fn() = || unsafe { i16_chunk_vnni::<I16_REG>() };
        rows.extend([
            row("VNNI, 8 rows x 16 columns, one pass, the sums alone", sums),
            row("VNNI, one pass, the f32 epilogue (one pass a chunk)", f32),
            row("VNNI, one pass, the f64 epilogue and the block term", one),
            row("VNNI, two passes, the f64 epilogue and the block term", two),
            row(
                "VNNI, one pass in two sets of sums (16 chains), alone",
                split,
            ),
            row(
                "VNNI, one pass, A's pairs in registers (no broadcast loads), alone",
                reg,
            ),
        ]);
        rows
    }

    /// The block loops this CPU runs.
    pub fn block_rows() -> Vec<BlockRow> {
        let row = |name, run, blocks, macs| BlockRow {
            name,
            run,
            blocks,
            macs,
        };
        let mut rows = Vec::new();
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY (of the calls inside): the CPU has AVX2 and FMA.
            let f: fn() = || unsafe { i8_block_avx2::<4, true>() };
            let sums: fn() = || unsafe { i8_block_avx2::<4, false>() };
            let mx: fn() = || unsafe { i8_block_avx2::<8, true>() };
            rows.push(row(
                "AVX2, 4 rows x 16 columns, B's scale one value, with the f32 epilogue",
                f,
                2.0,
                2048.0,
            ));
            rows.push(row(
                "AVX2, the same sums alone (no epilogue)",
                sums,
                2.0,
                2048.0,
            ));
            rows.push(row(
                "AVX2, the same with MXFP4's 32-element block (a block: 2048 multiply-adds)",
                mx,
                2.0,
                4096.0,
            ));
        }
        if std::arch::is_x86_feature_detected!("avx512vnni") {
            // SAFETY (of the calls inside): the CPU has AVX-512 VNNI.
            let f: fn() = || unsafe { i8_block_vnni::<PER_ROW>() };
            let u: fn() = || unsafe { i8_block_vnni::<UNIFORM>() };
            let sums: fn() = || unsafe { i8_block_vnni::<SUMS>() };
            rows.push(row(
                "VNNI, 8 rows x 16 columns, with the f32 epilogue",
                f,
                1.0,
                2048.0,
            ));
            rows.push(row(
                "VNNI, the same, B's scales one value across the tile",
                u,
                1.0,
                2048.0,
            ));
            rows.push(row(
                "VNNI, the same sums alone (no epilogue)",
                sums,
                1.0,
                2048.0,
            ));
        }
        if amx_permitted() && std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY (of the calls inside): AMX granted, AVX-512F present.
            let tiles: fn() = || unsafe { i8_block_amx::<TILES>() };
            let with: fn() = || unsafe { i8_block_amx::<EPILOGUE>() };
            let piped: fn() = || unsafe { i8_block_amx::<PIPELINED>() };
            rows.push(row(
                "AMX tdpbusd, 16 x 16, tile instructions only",
                tiles,
                1.0,
                4096.0,
            ));
            rows.push(row(
                "AMX tdpbusd, 16 x 16, with the same epilogue",
                with,
                1.0,
                4096.0,
            ));
            rows.push(row(
                "AMX, two blocks a trip, each epilogue after the other's tiles",
                piped,
                2.0,
                8192.0,
            ));
        }
        rows
    }

    /// AMX rows, where available: 16 × 16 outputs × 64 int8 (32 bf16)
    /// products each; a loop runs 4 × `TRIPS` / 16 of them.
    pub fn amx_rows() -> Vec<(&'static str, fn(), f64)> {
        if !amx_permitted() {
            return Vec::new();
        }
        vec![
            (
                "tdpbssd (AMX int8 tile)",
                tdpbssd as fn(),
                16.0 * 16.0 * 64.0,
            ),
            (
                "tdpbf16ps (AMX bf16 tile)",
                tdpbf16ps as fn(),
                16.0 * 16.0 * 32.0,
            ),
            (
                "tdpbssd, 2 x 2 tiles with their 4 tile loads a step (L1)",
                tdpbssd_2x2_loads as fn(),
                16.0 * 16.0 * 64.0,
            ),
        ]
    }
}

#[cfg(target_arch = "x86_64")]
fn main() {
    use blockscale_bench::{Machine, best};
    let m = Machine::read();
    println!("blockscale port_rates: instruction throughput in core cycles, one thread");
    println!("{m}");
    let hz = 100.0 * x86::TRIPS as f64 / best(x86::add_chain);
    let imul_hz = 300.0 * x86::TRIPS as f64 / best(x86::imul_chain);
    println!(
        "core clock {:.2} GHz (a dependent add chain; {:.2} GHz by an imul chain), TSC {:.2} GHz",
        hz / 1e9,
        imul_hz / 1e9,
        m.tsc_hz / 1e9
    );
    println!();
    println!(
        "| instruction | per core cycle | latency, core cycles | multiply-adds per core cycle | x f32 FMA |"
    );
    println!("|---|---:|---:|---:|---:|");
    let mut fma = f64::NAN;
    for r in x86::rows() {
        if !r.ok {
            println!("| {} | not on this CPU | | | |", r.name);
            continue;
        }
        let per_cycle = 12.0 * x86::TRIPS as f64 / (best(r.run) * hz);
        let lat = best(r.lat) * hz / (12.0 * x86::TRIPS as f64);
        let macs = per_cycle * r.macs;
        if fma.is_nan() {
            fma = macs;
        }
        if r.macs > 0.0 {
            println!(
                "| {} | {per_cycle:.2} | {lat:.1} | {macs:.0} | {:.2}x |",
                r.name,
                macs / fma
            );
        } else {
            println!("| {} | {per_cycle:.2} | {lat:.1} | | |", r.name);
        }
    }
    let amx = x86::amx_rows();
    if amx.is_empty() {
        println!("| AMX | not on this CPU, or not granted by the OS | | | |");
    }
    for (name, run, macs) in amx {
        let per_cycle = 4.0 * (x86::TRIPS / 16) as f64 / (best(run) * hz);
        let m = per_cycle * macs;
        println!("| {name} | {per_cycle:.3} | | {m:.0} | {:.1}x |", m / fma);
    }
    let blocks = x86::block_rows();
    if !blocks.is_empty() {
        println!();
        println!(
            "| i8 GEMM tile, one K block (NVFP4's 16 elements unless named) | core cycles a block | multiply-adds per core cycle | x f32 FMA |"
        );
        println!("|---|---:|---:|---:|");
    }
    for r in blocks {
        let trip = best(r.run) * hz / x86::TRIPS as f64;
        let (cycles, m, name) = (trip / r.blocks, r.macs / trip, r.name);
        println!("| {name} | {cycles:.1} | {m:.0} | {:.2}x |", m / fma);
    }
    let chunks = x86::chunk_rows();
    if !chunks.is_empty() {
        println!();
        println!(
            "| i16 GEMM tile, one 32-element chunk (FP8's) | core cycles a chunk | multiply-adds per core cycle | x f32 FMA |"
        );
        println!("|---|---:|---:|---:|");
    }
    for r in chunks {
        let trip = best(r.run) * hz / x86::TRIPS as f64;
        let (cycles, m, name) = (trip / r.blocks, r.macs / trip, r.name);
        println!("| {name} | {cycles:.1} | {m:.0} | {:.2}x |", m / fma);
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn main() {
    println!("port_rates measures x86-64 instructions; nothing to do here");
}
