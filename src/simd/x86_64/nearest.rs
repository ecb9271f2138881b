//! The constants of nearest rounding by one add per binade, which the
//! encoders read (`nearest_magnitudes` in `avx512/encode.rs` and
//! `avx2/encode.rs`): they depend on the element format alone, not on the
//! SIMD level.

/// The constants of nearest rounding to a minifloat with `man` mantissa
/// bits and this bias, whose overflowing magnitudes take `over_code`.
///
/// Binade e (from the smallest normal's, which holds the subnormals too,
/// to `top`'s) rounds by adding its magic constant `2^(e + 23 − M)`,
/// whose ulp `2^(e − M)` is the element's step in binade e, with the codes
/// below binade e, `(e − emin)·2^M`, in its mantissa ([`Nearest::base`]).
pub(super) struct Nearest {
    /// The f32 bits of `over_code`'s value read with an unbounded
    /// exponent: the least magnitude that rounds to `over_code`.
    pub(super) top: u32,
    /// The f32 exponent field of the smallest normal, `emin + 127`.
    pub(super) normal: u32,
    /// `23 − M`.
    pub(super) shift: u32,
    /// `(23 − M)·2^23 − normal·2^M` (wrapping): with `b` the bits of `2^e`,
    /// `b + (b >> shift) + base` is binade e's constant, its exponent field
    /// `e + 127 + 23 − M` and its mantissa `(e − emin)·2^M`.
    pub(super) base: u32,
}

impl Nearest {
    pub(super) fn new(man: u32, bias: i32, over_code: u32) -> Nearest {
        let normal = (128 - bias) as u32;
        let (field, m) = (over_code >> man, over_code & ((1 << man) - 1));
        // over_code is max_code or the code after it, a normal's in every
        // minifloat; its exponent field may be one past the format's.
        let top_field = field + 127 - bias as u32;
        // 31 binades at most (E5M2 to Inf, 2^-14 to 2^16): the exponent's
        // low 5 bits tell them apart (the AVX-512 encoder's table).
        debug_assert!(top_field - normal < 32);
        Nearest {
            top: (top_field << 23) | (m << (23 - man)),
            normal,
            shift: 23 - man,
            base: ((23 - man) << 23).wrapping_sub(normal << man),
        }
    }

    /// The bits of the magic constant of the binade whose exponent field
    /// is `field` (from `normal` to `top`'s): what the encoders compute in
    /// registers, in the scalar form the tests check.
    #[cfg(test)]
    fn magic(&self, field: u32) -> u32 {
        let b = field << 23;
        b.wrapping_add(b >> self.shift).wrapping_add(self.base)
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

    /// Each binade's constant, from its definition: E2M1's worked by hand,
    /// 2^22 (steps of 1/2), 2^23 + 2 (steps of 1/2 above codes 0 and 1)
    /// and 2^24 + 8 (steps of 1 above codes 0 to 3: 2^24's ulp is 2); in
    /// every format, `2^(e + 23 − M)` with `(e − emin)·2^M` in its mantissa.
    #[test]
    fn nearest_magics() {
        let n = nearest(E2M1);
        // Binades 0, 1 and 2 at f32 exponent fields 127, 128 and 129.
        let got = [127, 128, 129].map(|f| f32::from_bits(n.magic(f)));
        assert_eq!(got, [4194304.0, 8388610.0, 16777224.0]);
        for f in [E2M1, E2M3, E3M2, E4M3_SAT, E4M3_NAN, E5M2_SAT, E5M2_INF] {
            let (man, bias) = (f.0 as i32, f.1);
            let n = nearest(f);
            for e in 1 - bias..=(n.top >> 23) as i32 - 127 {
                let want = (((e + 23 - man + 127) as u32) << 23) | (((e - 1 + bias) as u32) << man);
                assert_eq!(n.magic((e + 127) as u32), want, "{f:?} binade {e}");
            }
        }
    }
}
