#!/usr/bin/env bash
# The x86-64 kernels' closures compiled into their callers. A closure inside
# a `#[target_feature]` kernel that rustc emits as a function of its own
# costs a call and a `vzeroupper` in a hot loop, and whether it does can
# flip when unrelated code joins the module: a8ec370 made the AVX2 streams'
# stochastic rounding 3-9% slower that way (bench/README.md, "Back on a Zen 3").
# The AVX2 and AVX-512 encoders' per-vector helpers, and the AVX-512 FP8
# lookup the one-pass NVFP4 kernel shares, are functions, not closures,
# and must be compiled in too (a call per 8 or 16 elements otherwise).
# Reads the release examples the CI build step made.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(uname -m)" = x86_64 ] || { echo "not x86-64: nothing to check"; exit 0; }
command -v nm > /dev/null || { echo "no nm (binutils): cannot check" >&2; exit 1; }
found=0
for example in quant_split quant_bench quant_one gemm_bench gemm_one; do
    bin=target/release/examples/$example
    [ -x "$bin" ] || { echo "$bin missing: run the release build first" >&2; exit 1; }
    if nm -C "$bin" | grep -E 'blockscale::simd::x86_64::.*\{\{closure\}\}|x86_64::avx2::(encode::(vector16|step8|codes8|nibbles16)|codes::(number_codes|mini_codes|nearest_magnitudes)|counter::(half_bits|counter_words))$|x86_64::avx512::(encode::(vectors|codes16|number_codes|mini_codes|nearest_magnitudes)|decode::perm128_sign)$'; then
        echo "$example: a kernel closure or encode helper above is a function of its own" >&2
        found=1
    fi
done
exit "$found"
