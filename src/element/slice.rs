//! Bulk conversion between slices of reals (f32, f64, f16, bf16) and
//! elements, and FP4 packing.
//!
//! Every function gives exactly what the scalar conversion gives, element by
//! element; lengths are checked and a mismatch is an [`Error::LengthMismatch`],
//! never a truncation.

use super::{ConvertOptions, E2M1, Element, RandomBits, Rounding};
use crate::Error;
use half::{bf16, f16};

mod sealed {
    pub trait Sealed {}
}

/// A real type elements convert from and to: f32, f64, [`half::f16`], [`half::bf16`].
pub trait Real: sealed::Sealed + Copy + Send + Sync + 'static {
    /// Converts to element `T`, rounding the exact value once.
    fn encode<T: Element>(self, opts: ConvertOptions) -> T;
    /// The nearest value of this type to `x` (nearest-even). Exact for every
    /// element value except [`E8M0`](super::E8M0) beyond f16's range
    /// (→ ±Inf) or below its subnormals (→ 0).
    fn from_f32(x: f32) -> Self;
    /// The value as f32: exact for f32, f16 and bf16; f64 rounds to nearest
    /// even (block quantizers compute in f32).
    fn to_f32(self) -> f32;
    /// The value as f64, exactly.
    fn to_f64(self) -> f64;
    /// True when [`Real::to_f32`] is exact (f32, f16, bf16), so that
    /// encoding the f32 value equals encoding `self`.
    #[doc(hidden)]
    const WIDENS_EXACTLY: bool;
    /// The slice itself when `Self` is f32 (lets kernels read it in place).
    #[doc(hidden)]
    fn as_f32s(s: &[Self]) -> Option<&[f32]>;
    /// The slice itself when `Self` is f32.
    #[doc(hidden)]
    fn as_f32s_mut(s: &mut [Self]) -> Option<&mut [f32]>;
}

fn not_f32<T, U>(_: T) -> Option<U> {
    None
}

macro_rules! real_via_f32 {
    ($t:ty, $to:expr, $from:expr, $view:expr, $view_mut:expr) => {
        impl sealed::Sealed for $t {}
        impl Real for $t {
            #[inline]
            fn encode<T: Element>(self, opts: ConvertOptions) -> T {
                T::from_f32_with($to(self), opts)
            }
            #[inline]
            fn from_f32(x: f32) -> Self {
                $from(x)
            }
            #[inline]
            fn to_f32(self) -> f32 {
                $to(self)
            }
            #[inline]
            fn to_f64(self) -> f64 {
                super::widen($to(self))
            }
            const WIDENS_EXACTLY: bool = true;
            #[inline]
            fn as_f32s(s: &[Self]) -> Option<&[f32]> {
                $view(s)
            }
            #[inline]
            fn as_f32s_mut(s: &mut [Self]) -> Option<&mut [f32]> {
                $view_mut(s)
            }
        }
    };
}
real_via_f32!(f32, |x| x, |x| x, Some, Some);
real_via_f32!(f16, f16::to_f32, f16::from_f32, not_f32, not_f32);
real_via_f32!(bf16, bf16::to_f32, bf16::from_f32, not_f32, not_f32);

impl sealed::Sealed for f64 {}
impl Real for f64 {
    #[inline]
    fn encode<T: Element>(self, opts: ConvertOptions) -> T {
        T::from_f64_with(self, opts)
    }
    #[inline]
    fn from_f32(x: f32) -> Self {
        super::widen(x)
    }
    #[inline]
    fn to_f32(self) -> f32 {
        self as f32
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    const WIDENS_EXACTLY: bool = false;
    fn as_f32s(_: &[Self]) -> Option<&[f32]> {
        None
    }
    fn as_f32s_mut(_: &mut [Self]) -> Option<&mut [f32]> {
        None
    }
}

/// Elements per stack buffer when a kernel needs f32 input or random bits
/// staged (f16/bf16 sources, stochastic rounding): small enough for L1.
const STAGE: usize = 512;

/// Runs the encode kernel over `src` (nearest even, or stochastic with one
/// `next_u32` per element in order) if `kernels` has one for `T`; `false`
/// means nothing was written and the portable loop must run.
fn encode_kernel<S: Real, T: Element, R: rand_core::Rng + ?Sized>(
    kernels: &crate::simd::Kernels,
    src: &[S],
    dst: &mut [T],
    opts: ConvertOptions,
    mut rng: Option<&mut R>,
) -> bool {
    use crate::simd::Packing;
    let Some(encode_row) = kernels.encode_row else {
        return false;
    };
    if !S::WIDENS_EXACTLY {
        return false;
    }
    let Some(c) = super::kernel_codec::<T>(opts) else {
        return false;
    };
    let out: &mut [u8] = bytemuck::cast_slice_mut(dst);
    if let (Some(x), None) = (S::as_f32s(src), rng.as_ref()) {
        // f32 with nearest even: nothing to stage, one call.
        encode_row(&c, &[], usize::MAX, x, None, out, Packing::Bytes, &[]);
        return true;
    }
    let mut xs = [0f32; STAGE];
    let mut rs = [0u32; STAGE];
    for (k, (s, d)) in src.chunks(STAGE).zip(out.chunks_mut(STAGE)).enumerate() {
        let x: &[f32] = match S::as_f32s(src) {
            Some(all) => &all[k * STAGE..k * STAGE + s.len()],
            None => {
                for (t, v) in xs.iter_mut().zip(s) {
                    *t = v.to_f32();
                }
                &xs[..s.len()]
            }
        };
        let rand = match rng.as_deref_mut() {
            Some(g) => {
                for r in &mut rs[..s.len()] {
                    *r = g.next_u32();
                }
                Some(&rs[..s.len()])
            }
            None => None,
        };
        encode_row(&c, &[], usize::MAX, x, rand, d, Packing::Bytes, &[]);
    }
    true
}

use crate::error::check_len;

/// Converts every element of `src` into `dst` with `opts`, as
/// `T::from_f32_with` (or `from_f64_with`) does for each.
///
/// Errors: [`Error::LengthMismatch`] if the lengths differ;
/// [`Error::InvalidArgument`] for [`Rounding::Stochastic`], whose one set of
/// random bits cannot serve a whole slice (use [`encode_stochastic`]).
///
/// ```
/// use blockscale::{E4M3, element::slice};
/// use half::bf16;
/// let src = [bf16::from_f32(1.0), bf16::from_f32(-300.0), bf16::from_f32(1e-4)];
/// let mut dst = [E4M3::ZERO; 3];
/// slice::encode(&src, &mut dst, Default::default())?;
/// assert_eq!(dst.map(|e| e.to_f32()), [1.0, -288.0, 0.0]);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn encode<S: Real, T: Element>(
    src: &[S],
    dst: &mut [T],
    opts: ConvertOptions,
) -> Result<(), Error> {
    check_len("output", src.len(), dst.len())?;
    if let Rounding::Stochastic(_) = opts.rounding {
        return Err(Error::InvalidArgument(
            "a slice needs fresh random bits per element: use encode_stochastic".into(),
        ));
    }
    if opts.rounding == Rounding::NearestEven
        && encode_kernel::<S, T, rand_xoshiro::Xoshiro256PlusPlus>(
            crate::simd::kernels(crate::simd::active()),
            src,
            dst,
            opts,
            None,
        )
    {
        return Ok(());
    }
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = s.encode(opts);
    }
    Ok(())
}

/// Converts with stochastic rounding, drawing 32 random bits per element from
/// `rng` in order (element i uses the i-th `next_u32`), so the result is
/// reproducible for a seeded generator. `opts.rounding` is ignored; overflow
/// and NaN follow `opts`.
///
/// ```
/// use blockscale::{E2M1, element::slice};
/// use rand_xoshiro::{Xoshiro256PlusPlus, rand_core::SeedableRng};
/// let src = vec![2.5f32; 1000];
/// let mut dst = vec![E2M1::ZERO; 1000];
/// let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
/// slice::encode_stochastic(&src, &mut dst, Default::default(), &mut rng)?;
/// let mean = dst.iter().map(|e| e.to_f32()).sum::<f32>() / 1000.0;
/// assert!((mean - 2.5).abs() < 0.05);
/// assert!(dst.iter().all(|e| e.to_f32() == 2.0 || e.to_f32() == 3.0));
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn encode_stochastic<S: Real, T: Element, R: rand_core::Rng + ?Sized>(
    src: &[S],
    dst: &mut [T],
    opts: ConvertOptions,
    rng: &mut R,
) -> Result<(), Error> {
    check_len("output", src.len(), dst.len())?;
    // The kernel can stop only before its first chunk (no kernel for this
    // level or type), so no random bits are drawn twice.
    let kernels = crate::simd::kernels(crate::simd::active());
    if encode_kernel(kernels, src, dst, opts, Some(&mut *rng)) {
        return Ok(());
    }
    for (d, &s) in dst.iter_mut().zip(src) {
        let o = opts.with_rounding(Rounding::Stochastic(RandomBits::from_rng(rng)));
        *d = s.encode(o);
    }
    Ok(())
}

/// [`encode_stochastic`] with the crate's generator, Xoshiro256++ seeded
/// from `seed` (`seed_from_u64`): reproducible from a number, with no
/// generator type to name (a generator from another `rand_core` version
/// than [`crate::rand_core`] can't be passed to [`encode_stochastic`];
/// draw its `u32`s into [`RandomBits::full`] or use this).
///
/// ```
/// use blockscale::{E2M1, element::slice};
/// let src = vec![2.5f32; 64];
/// let (mut a, mut b) = (vec![E2M1::ZERO; 64], vec![E2M1::ZERO; 64]);
/// slice::encode_stochastic_seeded(&src, &mut a, Default::default(), 7)?;
/// slice::encode_stochastic_seeded(&src, &mut b, Default::default(), 7)?;
/// assert_eq!(a, b);
/// assert!(a.iter().any(|e| e.to_f32() == 2.0) && a.iter().any(|e| e.to_f32() == 3.0));
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn encode_stochastic_seeded<S: Real, T: Element>(
    src: &[S],
    dst: &mut [T],
    opts: ConvertOptions,
    seed: u64,
) -> Result<(), Error> {
    use rand_xoshiro::rand_core::SeedableRng;
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    encode_stochastic(src, dst, opts, &mut rng)
}

/// Writes the value of every element of `src` into `dst`: exact into f32 and
/// f64; into f16 and bf16, exact for every element except E8M0 values outside
/// f16's range.
///
/// ```
/// use blockscale::{E5M2, element::slice};
/// let src = [E5M2::MAX, E5M2::INFINITY, E5M2::MIN_POSITIVE_SUBNORMAL];
/// let mut dst = [0f32; 3];
/// slice::decode(&src, &mut dst)?;
/// assert_eq!(dst, [57344.0, f32::INFINITY, 2f32.powi(-16)]);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn decode<T: Element, D: Real>(src: &[T], dst: &mut [D]) -> Result<(), Error> {
    check_len("output", src.len(), dst.len())?;
    if let Some(out) = D::as_f32s_mut(dst)
        && let Some(decode_row) = crate::simd::kernels(crate::simd::active()).decode_row
    {
        let codes = bytemuck::cast_slice(src);
        decode_row(
            &super::decoder::<T>(),
            codes,
            out,
            None,
            crate::simd::Packing::Bytes,
        );
        return Ok(());
    }
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = D::from_f32(s.to_f32());
    }
    Ok(())
}

/// Number of bytes that hold `n` packed FP4 elements: ⌈n/2⌉.
pub const fn packed_e2m1_len(n: usize) -> usize {
    n.div_ceil(2)
}

/// Packs FP4 elements two per byte: element 2j in the low nibble of byte j,
/// 2j+1 in the high nibble (Transformer Engine, Model-Optimizer, torchao,
/// OCP/ONNX). An odd count leaves the last high nibble zero.
///
/// `dst` must hold exactly [`packed_e2m1_len`]`(src.len())` bytes.
///
/// ```
/// use blockscale::{E2M1, element::slice};
/// let src = [E2M1::from_f32(1.0), E2M1::from_f32(-6.0), E2M1::from_f32(0.5)];
/// let mut dst = [0u8; 2];
/// slice::pack_e2m1(&src, &mut dst)?;
/// assert_eq!(dst, [0xF2, 0x01]);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn pack_e2m1(src: &[E2M1], dst: &mut [u8]) -> Result<(), Error> {
    check_len("packed output", packed_e2m1_len(src.len()), dst.len())?;
    for (d, pair) in dst.iter_mut().zip(src.chunks(2)) {
        let lo = pair[0].to_bits() & 0xF;
        let hi = pair.get(1).map_or(0, |e| e.to_bits() & 0xF);
        *d = lo | (hi << 4);
    }
    Ok(())
}

/// Unpacks `dst.len()` FP4 elements from `src` (low nibble first), the
/// inverse of [`pack_e2m1`]. `src` must hold exactly
/// [`packed_e2m1_len`]`(dst.len())` bytes; with an odd count the last high
/// nibble is ignored.
///
/// ```
/// use blockscale::{E2M1, element::slice};
/// let mut dst = [E2M1::ZERO; 3];
/// slice::unpack_e2m1(&[0xF2, 0x01], &mut dst)?;
/// assert_eq!(dst.map(|e| e.to_f32()), [1.0, -6.0, 0.5]);
/// # Ok::<(), blockscale::Error>(())
/// ```
pub fn unpack_e2m1(src: &[u8], dst: &mut [E2M1]) -> Result<(), Error> {
    check_len("packed input", packed_e2m1_len(dst.len()), src.len())?;
    for (pair, &b) in dst.chunks_mut(2).zip(src) {
        pair[0] = E2M1::from_bits(b & 0xF);
        if let Some(e) = pair.get_mut(1) {
            *e = E2M1::from_bits(b >> 4);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_mismatches_are_errors() {
        let mut out = [E2M1::ZERO; 2];
        assert!(matches!(
            encode(&[1.0f32], &mut out, ConvertOptions::default()),
            Err(Error::LengthMismatch {
                expected: 1,
                found: 2,
                ..
            })
        ));
        let mut f = [0f32; 1];
        assert!(decode(&out, &mut f).is_err());
        assert!(pack_e2m1(&out, &mut [0u8; 2]).is_err());
        assert!(unpack_e2m1(&[0u8; 2], &mut out[..1]).is_err());
        let sr = ConvertOptions::default().with_rounding(Rounding::Stochastic(RandomBits::full(0)));
        assert!(matches!(
            encode(&[1.0f32, 2.0], &mut out, sr),
            Err(Error::InvalidArgument(_))
        ));
    }
}
