//! [`Kernels::wide_terms`](crate::simd::Kernels::wide_terms) for both x86-64
//! levels: `simd::wide::add_rows` compiled with LZCNT and BMI2, which
//! [`crate::simd::detected`] requires of [`Level::Avx2`](crate::simd::Level::Avx2)
//! and so of every level above it.

use crate::simd::{GEMM_MR as MR, GEMM_NR as NR};

pub(super) fn wide_terms(
    sums: &[i64; MR * NR],
    rows: &[(i64, i32); MR],
    cols: &[(i64, i32); NR],
    acc: &mut [f32; MR * NR],
) -> u32 {
    // SAFETY: an entry of the AVX2 and AVX-512 tables, which
    // `simd::kernels` hands out only on a CPU with LZCNT, BMI1 and BMI2.
    unsafe { wide_terms_impl(sums, rows, cols, acc) }
}

#[target_feature(enable = "lzcnt,bmi1,bmi2")]
fn wide_terms_impl(
    sums: &[i64; MR * NR],
    rows: &[(i64, i32); MR],
    cols: &[(i64, i32); NR],
    acc: &mut [f32; MR * NR],
) -> u32 {
    crate::simd::wide::add_rows(sums, rows, cols, acc)
}
