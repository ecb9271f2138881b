//! Where code `i` lives in a tensor's bytes: byte `i`, or, for 4-bit
//! elements ([`Element::PACKED`](super::Element::PACKED)), the low nibble
//! of byte `i/2` for even `i` and the high nibble for odd `i` (OCP, TE,
//! Model-Optimizer and torchao all pack FP4 this way).

/// Bytes that hold `n` codes.
#[inline]
pub(crate) const fn packed_len(n: usize, packed: bool) -> usize {
    if packed { n.div_ceil(2) } else { n }
}

/// Code `i` (high bits of a nibble-packed byte excluded).
#[inline]
pub(crate) fn get(data: &[u8], i: usize, packed: bool) -> u8 {
    if packed {
        (data[i / 2] >> (4 * (i % 2))) & 0xF
    } else {
        data[i]
    }
}

/// Writes code `i`, leaving the other nibble of a packed byte as it was.
#[inline]
pub(crate) fn put(data: &mut [u8], i: usize, code: u8, packed: bool) {
    if packed {
        let sh = 4 * (i % 2);
        data[i / 2] = (data[i / 2] & !(0xF << sh)) | ((code & 0xF) << sh);
    } else {
        data[i] = code;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_nibble_is_the_even_element() {
        let mut d = [0u8; 2];
        put(&mut d, 0, 0x2, true);
        put(&mut d, 1, 0xF, true);
        put(&mut d, 2, 0x1, true);
        assert_eq!(d, [0xF2, 0x01]);
        assert_eq!((get(&d, 1, true), get(&d, 2, true)), (0xF, 0x1));
        assert_eq!((packed_len(3, true), packed_len(3, false)), (2, 3));
        assert_eq!(get(&d, 1, false), 0x01);
    }
}
