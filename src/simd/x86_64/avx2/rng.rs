//! AVX2 random streams for stochastic rounding: SplitMix64 seeding and
//! Xoshiro256++ draws of many tiles' streams at once.

use super::transpose8;
use crate::simd::table::{CounterWalk, DrawGroup, PHI};
use core::arch::x86_64::*;

/// `a · c` modulo 2⁶⁴ in each lane. AVX2 multiplies only 32 × 32 → 64 bits
/// (`vpmuludq`), so: `lo·lo + ((hi(a)·lo(c) + lo(a)·hi(c)) << 32)`.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn mul_const(a: __m256i, c: u64) -> __m256i {
    let lo = _mm256_set1_epi64x(c as i64);
    let hi = _mm256_set1_epi64x((c >> 32) as i64);
    let cross = _mm256_add_epi64(
        _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), lo),
        _mm256_mul_epu32(a, hi),
    );
    _mm256_add_epi64(_mm256_mul_epu32(a, lo), _mm256_slli_epi64::<32>(cross))
}

/// SplitMix64's output function of 4 states (Steele, Lea and Flood 2014;
/// the finaliser constants of Stafford's "Mix13").
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) fn splitmix_mix(z: __m256i) -> __m256i {
    let z = mul_const(xor_shr::<30>(z), 0xBF58_476D_1CE4_E5B9);
    let z = mul_const(xor_shr::<27>(z), 0x94D0_49BB_1331_11EB);
    xor_shr::<31>(z)
}

/// `z ^ (z >> R)` in each lane.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn xor_shr<const R: i32>(z: __m256i) -> __m256i {
    _mm256_xor_si256(z, _mm256_srli_epi64::<R>(z))
}

/// Seeds 4 tiles at a time; see [`Kernels::sr_seed`](crate::simd::Kernels::sr_seed).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn sr_seed(seed_mix: u64, t0: u64, states: &mut [u64]) {
    let n = states.len() / 4;
    let phi = |k: u64| _mm256_set1_epi64x(PHI.wrapping_mul(k) as i64);
    let lane = _mm256_set_epi64x(3, 2, 1, 0);
    let mut i = 0;
    while i < n {
        let m = (n - i).min(4);
        let t = _mm256_add_epi64(_mm256_set1_epi64x(t0.wrapping_add(i as u64) as i64), lane);
        // The tile's seed: seed_mix ^ splitmix64(t).
        let x = _mm256_xor_si256(
            _mm256_set1_epi64x(seed_mix as i64),
            splitmix_mix(_mm256_add_epi64(t, phi(1))),
        );
        // Never all zero (see the AVX-512 `sr_seed`).
        for w in 0..4 {
            let v = splitmix_mix(_mm256_add_epi64(x, phi(w as u64 + 1)));
            let mut lanes = [0u64; 4];
            // SAFETY: lanes holds 4 u64.
            unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), v) };
            // Of constant length the copy is one store; of length m, a
            // `memcpy` call for every 4 tiles.
            if m == 4 {
                states[w * n + i..w * n + i + 4].copy_from_slice(&lanes);
            } else {
                states[w * n + i..w * n + i + m].copy_from_slice(&lanes[..m]);
            }
        }
        i += m;
    }
}

/// `x` rotated left by `L` bits (`R = 64 − L`): AVX2 has no rotate.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn rotl<const L: i32, const R: i32>(x: __m256i) -> __m256i {
    _mm256_or_si256(_mm256_slli_epi64::<L>(x), _mm256_srli_epi64::<R>(x))
}

/// One Xoshiro256++ step of 4 streams: the outputs (`rotl(s0 + s3, 23) +
/// s0`), and the next states in the lanes where `live` is all ones.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn xoshiro_step(s: &mut [__m256i; 4], live: Option<__m256i>) -> __m256i {
    let [s0, s1, s2, s3] = *s;
    let r = _mm256_add_epi64(rotl::<23, 41>(_mm256_add_epi64(s0, s3)), s0);
    let a = _mm256_xor_si256(s2, s0);
    let b = _mm256_xor_si256(s3, s1);
    let next = [
        _mm256_xor_si256(s0, b),
        _mm256_xor_si256(s1, a),
        _mm256_xor_si256(a, _mm256_slli_epi64::<17>(s1)),
        rotl::<45, 19>(b),
    ];
    *s = match live {
        None => next,
        Some(m) => core::array::from_fn(|w| _mm256_blendv_epi8(s[w], next[w], m)),
    };
    r
}

/// Xoshiro256++ on 8 tiles at a time (two interleaved groups of 4 for
/// instruction-level parallelism); see [`Kernels::sr_draws`](crate::simd::Kernels::sr_draws).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn sr_draws(states: &mut [u64], counts: &[u32], stride: usize, out: &mut [u32]) {
    const STEPS: usize = 32;
    // The high halves of two groups' outputs, picked by `vshufps` 0xDD,
    // lie in the tile order [0, 1, 4, 5, 2, 3, 6, 7].
    const ORDER: [usize; 8] = [0, 1, 4, 5, 2, 3, 6, 7];
    let n = states.len() / 4;
    // tmp[k][l]: step k of tile l (8 tiles), as the full 64-bit output.
    let mut tmp = [[0u64; 8]; STEPS];
    for grp in DrawGroup::<8>::all(n, counts, stride, out.len()) {
        let (i, m, maxc, uniform) = (grp.i, grp.m, grp.maxc, grp.uniform);
        let mut st = load_states(states, n, i, m);
        let cv: [__m256i; 2] = core::array::from_fn(|g| {
            // SAFETY: cnt holds 8 u32 and g < 2, so 4 lanes from 4·g are in bounds.
            let half = unsafe { _mm_loadu_si128(grp.cnt.as_ptr().add(4 * g).cast()) };
            _mm256_cvtepu32_epi64(half)
        });
        let mut j = 0;
        if uniform && m == 8 {
            // 8 tiles drawing alike: 8 steps at a time, transposed in
            // registers so that each tile's 8 values are one store.
            while maxc - j >= 8 {
                let a: [__m256i; 8] = core::array::from_fn(|_| {
                    let r0 = _mm256_castsi256_ps(xoshiro_step(&mut st[0], None));
                    let r1 = _mm256_castsi256_ps(xoshiro_step(&mut st[1], None));
                    _mm256_castps_si256(_mm256_shuffle_ps::<0xDD>(r0, r1))
                });
                for (p, v) in transpose8(a).iter().enumerate() {
                    let base = (i + ORDER[p]) * stride + j;
                    assert!(base + 8 <= out.len());
                    // SAFETY: out[base..base + 8] is in bounds (checked above).
                    unsafe { _mm256_storeu_si256(out.as_mut_ptr().add(base).cast(), *v) };
                }
                j += 8;
            }
        }
        while j < maxc {
            let steps = (maxc - j).min(STEPS);
            for (k, row) in tmp.iter_mut().enumerate().take(steps) {
                let live = |g: usize| {
                    (!uniform)
                        .then(|| _mm256_cmpgt_epi64(cv[g], _mm256_set1_epi64x((j + k) as i64)))
                };
                let (l0, l1) = (live(0), live(1));
                let r0 = xoshiro_step(&mut st[0], l0);
                let r1 = xoshiro_step(&mut st[1], l1);
                // SAFETY: row holds 8 u64.
                unsafe {
                    _mm256_storeu_si256(row.as_mut_ptr().cast(), r0);
                    _mm256_storeu_si256(row.as_mut_ptr().add(4).cast(), r1);
                }
            }
            grp.scatter(&tmp, j, steps, stride, out);
            j += steps;
        }
        store_states(&st, states, n, i, m);
    }
}

/// The states of tiles `i..i + m` (m ≤ 8), word w of group g (4 tiles) as
/// `st[g][w]`; lanes past m are zero.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn load_states(states: &[u64], n: usize, i: usize, m: usize) -> [[__m256i; 4]; 2] {
    // Short groups go through a padded copy: a copy of a run whose length
    // is not constant is a `memcpy` call, too dear for every 8 tiles.
    let mut pad = [[0u64; 8]; 4];
    if m < 8 {
        for (w, row) in pad.iter_mut().enumerate() {
            row[..m].copy_from_slice(&states[w * n + i..w * n + i + m]);
        }
    }
    // Loops, not `array::from_fn`: rustc compiled that closure out of
    // line here (a call and a `vzeroupper` per group of 4 tiles).
    let mut st = [[_mm256_setzero_si256(); 4]; 2];
    for (g, sg) in st.iter_mut().enumerate() {
        for (w, v) in sg.iter_mut().enumerate() {
            let src = if m < 8 {
                &pad[w][4 * g..4 * g + 4]
            } else {
                &states[w * n + i + 4 * g..w * n + i + 4 * g + 4]
            };
            // SAFETY: src holds 4 u64.
            *v = unsafe { _mm256_loadu_si256(src.as_ptr().cast()) };
        }
    }
    st
}

/// Writes back what [`load_states`] read, lanes `..m` only.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn store_states(st: &[[__m256i; 4]; 2], states: &mut [u64], n: usize, i: usize, m: usize) {
    let mut pad = [[0u64; 8]; 4];
    for (g, sg) in st.iter().enumerate() {
        for (w, v) in sg.iter().enumerate() {
            let dst = if m < 8 {
                &mut pad[w][4 * g..4 * g + 4]
            } else {
                &mut states[w * n + i + 4 * g..w * n + i + 4 * g + 4]
            };
            // SAFETY: dst holds 4 u64.
            unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), *v) };
        }
    }
    if m < 8 {
        for (w, row) in pad.iter().enumerate() {
            states[w * n + i..w * n + i + m].copy_from_slice(&row[..m]);
        }
    }
}

/// The counter's bits of one stored row, 4 words (32 elements) a step;
/// see [`Kernels::sr_counter`](crate::simd::Kernels::sr_counter).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn sr_counter(seed: u64, at: (u64, u64, usize, usize), out: &mut [u32]) -> bool {
    let Some(mut walk) = CounterWalk::<4>::new(seed, at) else {
        return false;
    };
    // SAFETY: `start` holds 4 u64.
    let mut z = unsafe { _mm256_loadu_si256(walk.start.as_ptr().cast()) };
    let deltas = walk.deltas.map(|d| _mm256_set1_epi64x(d as i64));
    // Elements 8k.. of a step are the bytes of its word k (least
    // significant first), each to the top of a u32.
    let words = |w: __m256i| {
        let lo = _mm256_castsi256_si128(w);
        let hi = _mm256_extracti128_si256::<1>(w);
        [
            lo,
            _mm_unpackhi_epi64(lo, lo),
            hi,
            _mm_unpackhi_epi64(hi, hi),
        ]
        .map(|b| _mm256_slli_epi32::<24>(_mm256_cvtepu8_epi32(b)))
    };
    let n = out.len();
    let mut e = 0;
    while e < n {
        let v = words(splitmix_mix(z));
        if e + 32 <= n {
            for (k, v) in v.iter().enumerate() {
                // SAFETY: e + 32 <= n, so out[e + 8k..][..8] is in bounds.
                unsafe { _mm256_storeu_si256(out.as_mut_ptr().add(e + 8 * k).cast(), *v) };
            }
        } else {
            let mut tmp = [0u32; 32];
            for (k, v) in v.iter().enumerate() {
                // SAFETY: tmp holds 32 u32.
                unsafe { _mm256_storeu_si256(tmp.as_mut_ptr().add(8 * k).cast(), *v) };
            }
            out[e..].copy_from_slice(&tmp[..n - e]);
        }
        e += 32;
        z = _mm256_add_epi64(z, deltas[walk.next()]);
    }
    true
}
