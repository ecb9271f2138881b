#!/usr/bin/env bash
# The codecs, formats and tensors without std (`no_std` + `alloc`):
# - the library's lints with `--no-default-features`;
# - `.ci/no_std`, a `#![no_std]` crate using them, built for a bare-metal
#   target whose standard library does not exist, so that no dependency can
#   pull std in either (the host target if rustup cannot add one);
# - the tests that need nothing but those layers, run on the sequential
#   paths the no-std build takes.
set -euo pipefail
cd "$(dirname "$0")/.."
target=thumbv7em-none-eabihf
cargo clippy --no-default-features --lib -- -D warnings
if rustup target list --installed | grep -qx "$target" || rustup target add "$target"; then
    cargo build --release --manifest-path .ci/no_std/Cargo.toml --target-dir target/no_std --target "$target"
else
    echo "no $target: building .ci/no_std for the host" >&2
    cargo build --release --manifest-path .ci/no_std/Cargo.toml --target-dir target/no_std
fi
cargo test --release --no-default-features --lib \
    --test decode_definitions --test layout --test rounding_modes --test slices \
    --test fp8_ue8m0 --test golden_blocks --test element_ergonomics
