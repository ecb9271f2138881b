//! Scale layouts: row-major and the cuBLAS/tcgen05 128×4 swizzled layout.
