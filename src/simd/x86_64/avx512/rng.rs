//! AVX-512 random streams for stochastic rounding: SplitMix64 seeding
//! and Xoshiro256++ draws of many tiles' streams at once.

use core::arch::x86_64::*;

use super::transpose16;
use crate::simd::table::{CounterWalk, DrawGroup, PHI};

/// SplitMix64's output function of 8 states (Steele, Lea and Flood 2014;
/// the finaliser constants of Stafford's "Mix13").
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn splitmix_mix(z: __m512i) -> __m512i {
    let z = _mm512_mullo_epi64(
        _mm512_xor_si512(z, _mm512_srli_epi64::<30>(z)),
        _mm512_set1_epi64(0xBF58_476D_1CE4_E5B9u64 as i64),
    );
    let z = _mm512_mullo_epi64(
        _mm512_xor_si512(z, _mm512_srli_epi64::<27>(z)),
        _mm512_set1_epi64(0x94D0_49BB_1331_11EBu64 as i64),
    );
    _mm512_xor_si512(z, _mm512_srli_epi64::<31>(z))
}

/// Seeds 8 tiles at a time; see [`Kernels::sr_seed`](crate::simd::Kernels::sr_seed).
///
/// # Safety
/// The CPU must support AVX-512 F, BW, DQ and VL.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn sr_seed(seed_mix: u64, t0: u64, states: &mut [u64]) {
    let n = states.len() / 4;
    let phi = |k: u64| _mm512_set1_epi64(PHI.wrapping_mul(k) as i64);
    let lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    let mut i = 0;
    while i < n {
        let m = (n - i).min(8);
        let t = _mm512_add_epi64(_mm512_set1_epi64(t0.wrapping_add(i as u64) as i64), lane);
        // The tile's seed: seed_mix ^ splitmix64(t).
        let x = _mm512_xor_si512(
            _mm512_set1_epi64(seed_mix as i64),
            splitmix_mix(_mm512_add_epi64(t, phi(1))),
        );
        // `seed_from_u64(s)` fills word w with `mix(s + (w + 1)·φ)`. The
        // mix is a bijection, so the four words are distinct and never all
        // zero: rand_xoshiro's replacement of an all-zero state never
        // applies.
        let words: [__m512i; 4] =
            core::array::from_fn(|w| splitmix_mix(_mm512_add_epi64(x, phi(w as u64 + 1))));
        let mask: __mmask8 = if m == 8 { 0xFF } else { (1u8 << m) - 1 };
        for (w, &v) in words.iter().enumerate() {
            assert!(w * n + i + m <= states.len());
            // SAFETY: lanes i..i+m of word w are in bounds (checked above).
            unsafe { _mm512_mask_storeu_epi64(states.as_mut_ptr().add(w * n + i).cast(), mask, v) };
        }
        i += m;
    }
}

/// One Xoshiro256++ step of 8 streams: the outputs (`rotl(s0 + s3, 23) +
/// s0`), and the next states where `live`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
fn xoshiro_step(s: &mut [__m512i; 4], live: Option<__mmask8>) -> __m512i {
    let [s0, s1, s2, s3] = *s;
    let r = _mm512_add_epi64(_mm512_rol_epi64::<23>(_mm512_add_epi64(s0, s3)), s0);
    let t = _mm512_slli_epi64::<17>(s1);
    // Three-way XORs as one `vpternlogq` each (0x96: a ^ b ^ c).
    let n0 = _mm512_ternarylogic_epi64::<0x96>(s0, s3, s1);
    let n1 = _mm512_ternarylogic_epi64::<0x96>(s1, s2, s0);
    let n2 = _mm512_ternarylogic_epi64::<0x96>(s2, s0, t);
    let n3 = _mm512_rol_epi64::<45>(_mm512_xor_si512(s3, s1));
    *s = match live {
        None => [n0, n1, n2, n3],
        Some(m) => [
            _mm512_mask_mov_epi64(s0, m, n0),
            _mm512_mask_mov_epi64(s1, m, n1),
            _mm512_mask_mov_epi64(s2, m, n2),
            _mm512_mask_mov_epi64(s3, m, n3),
        ],
    };
    r
}

/// Xoshiro256++ on 16 tiles at a time (two interleaved groups of 8 for
/// instruction-level parallelism); see [`Kernels::sr_draws`](crate::simd::Kernels::sr_draws).
///
/// # Safety
/// The CPU must support AVX-512 F, BW, DQ and VL.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn sr_draws(states: &mut [u64], counts: &[u32], stride: usize, out: &mut [u32]) {
    const STEPS: usize = 32;
    let n = states.len() / 4;
    // tmp[k][l]: step k of tile l (16 tiles), as the full 64-bit output.
    let mut tmp = [[0u64; 16]; STEPS];
    for grp in DrawGroup::<16>::all(n, counts, stride, out.len()) {
        let (i, m, maxc, uniform) = (grp.i, grp.m, grp.maxc, grp.uniform);
        let mask16: u16 = if m == 16 { 0xFFFF } else { (1u16 << m) - 1 };
        let masks = [mask16 as u8, (mask16 >> 8) as u8];
        let mut st = [[_mm512_setzero_si512(); 4]; 2];
        for (g, sg) in st.iter_mut().enumerate() {
            for (w, v) in sg.iter_mut().enumerate() {
                // SAFETY: lanes i+8g .. i+8g+8 of word w, masked to those below n.
                *v = unsafe {
                    _mm512_maskz_loadu_epi64(
                        masks[g],
                        states.as_ptr().add(w * n + i + 8 * g).cast(),
                    )
                };
            }
        }
        let cv: [__m512i; 2] = core::array::from_fn(|g| {
            // SAFETY: cnt holds 16 u32 and g < 2, so 8 lanes from 8·g are in bounds.
            let half = unsafe { _mm256_loadu_si256(grp.cnt.as_ptr().add(8 * g).cast()) };
            _mm512_cvtepu32_epi64(half)
        });
        let mut j = 0;
        if uniform && m == 16 {
            // 16 tiles drawing alike: 16 steps at a time, transposed in
            // registers so that each tile's 16 values are one store.
            while maxc - j >= 16 {
                let odd =
                    _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
                let a: [__m512i; 16] = core::array::from_fn(|_| {
                    let r0 = xoshiro_step(&mut st[0], None);
                    let r1 = xoshiro_step(&mut st[1], None);
                    _mm512_permutex2var_epi32(r0, odd, r1)
                });
                let b = transpose16(a);
                for (l, v) in b.iter().enumerate() {
                    let base = (i + l) * stride + j;
                    assert!(base + 16 <= out.len());
                    // SAFETY: out[base..base + 16] is in bounds (checked above).
                    unsafe { _mm512_storeu_si512(out.as_mut_ptr().add(base).cast(), *v) };
                }
                j += 16;
            }
        }
        while j < maxc {
            let steps = (maxc - j).min(STEPS);
            for (k, row) in tmp.iter_mut().enumerate().take(steps) {
                let live = |g: usize| {
                    (!uniform)
                        .then(|| _mm512_cmpgt_epu64_mask(cv[g], _mm512_set1_epi64((j + k) as i64)))
                };
                let (l0, l1) = (live(0), live(1));
                let r0 = xoshiro_step(&mut st[0], l0);
                let r1 = xoshiro_step(&mut st[1], l1);
                // SAFETY: row holds 16 u64.
                unsafe {
                    _mm512_storeu_si512(row.as_mut_ptr().cast(), r0);
                    _mm512_storeu_si512(row.as_mut_ptr().add(8).cast(), r1);
                }
            }
            grp.scatter(&tmp, j, steps, stride, out);
            j += steps;
        }
        for (g, sg) in st.iter().enumerate() {
            for (w, v) in sg.iter().enumerate() {
                // SAFETY: as for the loads.
                unsafe {
                    _mm512_mask_storeu_epi64(
                        states.as_mut_ptr().add(w * n + i + 8 * g).cast(),
                        masks[g],
                        *v,
                    )
                };
            }
        }
    }
}

/// The counter's bits of one stored row, 8 words (64 elements) a step;
/// see [`Kernels::sr_counter`](crate::simd::Kernels::sr_counter).
///
/// # Safety
/// The CPU must support AVX-512 F, BW, DQ and VL.
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
pub(super) unsafe fn sr_counter(seed: u64, at: (u64, u64, usize, usize), out: &mut [u32]) -> bool {
    let Some(mut walk) = CounterWalk::<8>::new(seed, at) else {
        return false;
    };
    // SAFETY: `start` holds 8 u64.
    let mut z = unsafe { _mm512_loadu_si512(walk.start.as_ptr().cast()) };
    let deltas = walk.deltas.map(|d| _mm512_set1_epi64(d as i64));
    // Elements 16k.. of a step are bytes 16k.. of its 8 words (lane order,
    // least significant byte first), each to the top of a u32.
    let quarter = |w: __m512i, k: usize| {
        let bytes = match k {
            0 => _mm512_extracti32x4_epi32::<0>(w),
            1 => _mm512_extracti32x4_epi32::<1>(w),
            2 => _mm512_extracti32x4_epi32::<2>(w),
            _ => _mm512_extracti32x4_epi32::<3>(w),
        };
        _mm512_slli_epi32::<24>(_mm512_cvtepu8_epi32(bytes))
    };
    let n = out.len();
    let mut e = 0;
    while e < n {
        let w = splitmix_mix(z);
        if e + 64 <= n {
            for k in 0..4 {
                // SAFETY: e + 64 <= n, so out[e + 16k..][..16] is in bounds.
                unsafe {
                    _mm512_storeu_si512(out.as_mut_ptr().add(e + 16 * k).cast(), quarter(w, k))
                };
            }
        } else {
            for k in 0..(n - e).div_ceil(16) {
                let at = e + 16 * k;
                let m = (n - at).min(16);
                let mask: __mmask16 = if m == 16 { 0xFFFF } else { (1u16 << m) - 1 };
                // SAFETY: lanes at..at + m of out are in bounds (m ≤ n − at).
                unsafe {
                    _mm512_mask_storeu_epi32(out.as_mut_ptr().add(at).cast(), mask, quarter(w, k))
                };
            }
        }
        e += 64;
        z = _mm512_add_epi64(z, deltas[walk.next()]);
    }
    true
}
