//! FP8 per-tensor scaling: current (tensorwise) and delayed.

/// Transformer Engine's current scaling (`compute_scale_from_amax`): 1 if
/// amax is 0, Inf or NaN; else f32(fp8_max / amax), with Inf → f32::MAX;
/// with `power_of_two`, rounded down to a power of two (mantissa cleared).
///
/// ```
/// use blockscale::scale::fp8::current_scale;
/// assert_eq!(current_scale(2.0, 448.0, false), 224.0);
/// assert_eq!(current_scale(2.0, 448.0, true), 128.0);
/// assert_eq!(current_scale(0.0, 448.0, false), 1.0);
/// ```
pub fn current_scale(amax: f32, fp8_max: f32, power_of_two: bool) -> f32 {
    if amax == 0.0 || !amax.is_finite() {
        return 1.0;
    }
    let mut s = fp8_max / amax;
    if s.is_infinite() {
        s = f32::MAX;
    }
    if power_of_two {
        s = f32::from_bits(s.to_bits() & 0xFF80_0000);
    }
    s
}
