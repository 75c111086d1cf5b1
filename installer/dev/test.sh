#!/usr/bin/env bash
# Sets up the machine and runs every check CI runs: formatting, lints, and all tests,
# including those that go through the real PC/SC stack with the virtual card and OpenSC.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash installer/dev/setup.sh
rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy 2>/dev/null || true

echo "==> cargo fmt --check" >&2
cargo fmt --all -- --check
echo "==> cargo clippy" >&2
cargo clippy --all-targets --locked -- -D warnings
echo "==> cargo test" >&2
cargo test --locked --all-targets
