//! The constants of nearest rounding by one add per binade, which the
//! encoders read (`avx512/encode.rs`, `nearest_magnitudes`, by a table;
//! `avx2/encode.rs`, by arithmetic on the exponent): they depend on the
//! element format alone, not on the SIMD level.

/// The constants of nearest rounding to a minifloat with `man` mantissa
/// bits and this bias, whose overflowing magnitudes take `over_code`
/// (the AVX-512 encoder's `nearest_magnitudes`).
pub(super) struct Nearest {
    /// The f32 bits of `over_code`'s value read with an unbounded
    /// exponent: the least magnitude that rounds to `over_code`.
    pub(super) top: u32,
    /// Magic constants by binade, at the binade's f32 exponent mod 32.
    pub(super) magics: [f32; 32],
    /// The same constants without a table: binade e's is `b + (b >> (23 −
    /// M)) + base` (wrapping), `b` the bits of `2^e` (an f32 exponent field
    /// alone), since its exponent field is e's plus `23 − M` and its
    /// mantissa `e − emin` times `2^M`.
    pub(super) base: u32,
}

impl Nearest {
    pub(super) fn new(man: u32, bias: i32, over_code: u32) -> Nearest {
        let emin = 1 - bias;
        let (field, m) = (over_code >> man, over_code & ((1 << man) - 1));
        // over_code is max_code or the code after it, a normal's in every
        // minifloat; its exponent field may be one past the format's.
        let top_exp = field as i32 - bias;
        let top = (((top_exp + 127) as u32) << 23) | (m << (23 - man));
        let mut magics = [0f32; 32];
        // The binades from the smallest normal's (which holds the
        // subnormals too) to `top`'s: 31 at most (E5M2 to Inf, 2^-14 to
        // 2^16), so the exponent's low 5 bits tell them apart.
        debug_assert!(top_exp - emin < 32);
        for e in emin..=top_exp {
            // 2^(e + 23 − M), whose ulp 2^(e − M) is the element's step in
            // binade e, with the codes below binade e in its mantissa.
            let bits = (((e + 23 - man as i32 + 127) as u32) << 23) | (((e - emin) as u32) << man);
            magics[((e + 127) & 31) as usize] = f32::from_bits(bits);
        }
        // (23 − M)·2^23 − emin's field·2^M; with b's field e + 127 the sum
        // is (e + 127 + 23 − M)·2^23 + (e − emin)·2^M.
        let base = ((23 - man) << 23).wrapping_sub(((emin + 127) as u32) << man);
        Nearest { top, magics, base }
    }
}

#[cfg(test)]
mod tests {
    use super::Nearest;

    // (mantissa bits, bias, overflow code) of each minifloat, from the OCP
    // MX and FP8 specifications: E2M1, E2M3 and E3M2 saturate; E4M3 and
    // E5M2 saturate (satfinite) or overflow to NaN (0x7F) and Inf (0x7C).
    const E2M1: (u32, i32, u32) = (1, 1, 0x7);
    const E2M3: (u32, i32, u32) = (3, 1, 0x1F);
    const E3M2: (u32, i32, u32) = (2, 3, 0x1F);
    const E4M3_SAT: (u32, i32, u32) = (3, 7, 0x7E);
    const E4M3_NAN: (u32, i32, u32) = (3, 7, 0x7F);
    const E5M2_SAT: (u32, i32, u32) = (2, 15, 0x7B);
    const E5M2_INF: (u32, i32, u32) = (2, 15, 0x7C);

    fn nearest((man, bias, over): (u32, i32, u32)) -> Nearest {
        Nearest::new(man, bias, over)
    }

    /// The clamp is the least magnitude that rounds to the overflow code:
    /// the largest finite value where overflow saturates, else the value
    /// the next code would have (E4M3: 480, NaN's; E5M2: 2^16, Inf's).
    #[test]
    fn nearest_tops() {
        for (n, want) in [
            (E2M1, 6.0),
            (E2M3, 7.5),
            (E3M2, 28.0),
            (E4M3_SAT, 448.0),
            (E4M3_NAN, 480.0),
            (E5M2_SAT, 57344.0),
            (E5M2_INF, 65536.0),
        ] {
            assert_eq!(f32::from_bits(nearest(n).top), want, "{n:?}");
        }
    }

    /// One constant a binade, each in its own slot: E5M2 to Inf has 31
    /// (2^-14 to 2^16); E2M1's, worked by hand, are 2^22 (steps of 1/2),
    /// 2^23 + 2 (steps of 1/2 above codes 0 and 1) and 2^24 + 8 (steps of 1
    /// above codes 0 to 3: 2^24's ulp is 2).
    #[test]
    fn nearest_magics() {
        let slots = |n: Nearest| n.magics.iter().filter(|m| **m != 0.0).count();
        assert_eq!(slots(nearest(E5M2_INF)), 31);
        assert_eq!(slots(nearest(E4M3_NAN)), 15);
        let m = nearest(E2M1).magics;
        // Binades 0, 1 and 2 at f32 exponents 127, 128 and 129 (mod 32).
        assert_eq!(m[31], 4194304.0);
        assert_eq!(m[0], 8388610.0);
        assert_eq!(m[1], 16777224.0);
        assert_eq!(slots(nearest(E2M1)), 3);
    }

    /// The arithmetic form gives each binade's constant: E2M1's three
    /// worked above, and the table's in every format.
    #[test]
    fn nearest_base() {
        let by_exp = |f: (u32, i32, u32), e: i32| {
            let b = ((e + 127) as u32) << 23;
            f32::from_bits(
                b.wrapping_add(b >> (23 - f.0))
                    .wrapping_add(nearest(f).base),
            )
        };
        assert_eq!(
            [0, 1, 2].map(|e| by_exp(E2M1, e)),
            [4194304.0, 8388610.0, 16777224.0]
        );
        for f in [E2M1, E2M3, E3M2, E4M3_SAT, E4M3_NAN, E5M2_SAT, E5M2_INF] {
            let n = nearest(f);
            // From the smallest normal's binade to the clamp's.
            for e in 1 - f.1..=(n.top >> 23) as i32 - 127 {
                let m = n.magics[((e + 127) & 31) as usize];
                assert_eq!(by_exp(f, e).to_bits(), m.to_bits(), "{f:?} binade {e}");
            }
        }
    }
}
