#!/usr/bin/env bash
# Sets up the machine and runs every check CI runs: formatting, lints (Linux and the Windows
# client), the single-feature builds, the Windows client under wine, all tests, including
# those that go through the real PC/SC stack with the virtual card and OpenSC, the window on an
# X server (Xvfb) connecting to xrdp, two gateways behind HAProxy with PostgreSQL and slapd, a
# quick run of the benchmark command, a short run of every fuzz target, and the installers.
#
# Every phase prints `==> NAME` when it starts and `<== NAME: N s` when it ends; a table of
# the phase times follows, and the last line is the test count. All phases share one target
# directory (CARGO_TARGET_DIR, or ./target), so later phases reuse what earlier ones built.
set -euo pipefail
cd "$(dirname "$0")/../.."

windows=x86_64-pc-windows-gnu
# The library's unit tests built for Windows: every module but the window's (its model and
# fields are plain Rust, tested on Linux; leaving egui out halves the Windows test build).
windows_tested=client,gateway,vcard
target_dir=${CARGO_TARGET_DIR:-$PWD/target}
# A run from scratch gains nothing from incremental compilation's caches, only their writing.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
phase_names=()
phase_secs=()
current=
started=0

# phase NAME COMMAND...: runs the command as one named, timed phase. A failing command stops
# the whole run (set -e holds inside the phase's functions too); the exit trap then reports
# the phase that failed and the times so far.
phase() {
  current=$1
  started=$SECONDS
  shift
  echo "==> $current" >&2
  "$@"
  phase_names+=("$current")
  phase_secs+=($((SECONDS - started)))
  echo "<== $current: $((SECONDS - started)) s" >&2
  current=
}

summary() {
  echo "phase times:" >&2
  local i
  for i in "${!phase_names[@]}"; do
    printf '  %-28s %5d s\n' "${phase_names[$i]}" "${phase_secs[$i]}" >&2
  done
}

log=$(mktemp)
on_exit() {
  rm -f "$log"
  if [ -n "$current" ]; then
    phase_names+=("$current (failed)")
    phase_secs+=($((SECONDS - started)))
    echo "<== $current: failed after $((SECONDS - started)) s" >&2
    summary
  fi
}
trap on_exit EXIT

setup() {
  bash installer/dev/setup.sh --windows --packaging --bench --fuzzing --desktop --cluster
  rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy 2>/dev/null || true
}

# Each program alone: the client and the gateway carry none of the virtual card's and TEST
# PKI's crates, and the gateway neither depends on nor links the PC/SC library.
feature_builds() {
  local vcard_crates='rsa|rcgen|p256|p384|signal-hook' feature banned tree found
  for feature in client gateway; do
    banned=$vcard_crates
    [ "$feature" = gateway ] && banned+='|pcsc|pcsc-sys'
    tree=$(cargo tree --locked --no-default-features --features "$feature" -e normal --prefix none)
    found=$(grep -E "^($banned) " <<<"$tree" | sort -u || true)
    [ -z "$found" ] || { echo "feature $feature pulls in: $found" >&2; return 1; }
  done
  cargo build --locked --no-default-features --features client --bin hjemmekontor
  cargo build --locked --no-default-features --features gateway --bin hjemmekontor-gateway
  if ldd "$target_dir/debug/hjemmekontor-gateway" | grep -i pcsc; then
    echo "hjemmekontor-gateway links the PC/SC library" >&2
    return 1
  fi
}

# The Windows client, cross-built, then run under wine with the native tool's TEST PKI; and
# the library's unit tests built for Windows (every module but the window's), under wine too.
windows_smoke() {
  local unit_tests
  cargo build --locked --target "$windows" --no-default-features --features client --bin hjemmekontor
  cargo build --locked --bin hjemmekontor-vcard
  unit_tests=$(cargo test --locked --target "$windows" --no-default-features --features "$windows_tested" \
    --lib --no-run --message-format=json |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p')
  [ -f "$unit_tests" ] || { echo "no Windows unit-test executable: «$unit_tests»" >&2; return 1; }
  bash installer/dev/wine/smoke.sh "$target_dir/$windows/debug/hjemmekontor.exe" \
    "$target_dir/debug/hjemmekontor-vcard" "$unit_tests"
}

# cargo test's failure does not stop the run: the summary and the test count come first.
status=0
run_tests() {
  cargo test --locked 2>&1 | tee "$log" || status=$?
}

# The installers, built and checked as a user and an operator meet them: the Debian packages
# installed, used and removed on this machine, and the gateway's service booted under a real
# systemd in a container; the MSI's tables read and the MSI installed,
# run, upgraded and removed under wine (and the window opened under wine on an X server); the
# macOS script refusing to run off a Mac.
scripts_lint() {
  shellcheck -x -S warning installer/dev/*.sh installer/dev/wine/*.sh installer/debian/*.sh \
    installer/debian/gateway/postinst installer/debian/gateway/prerm \
    installer/debian/gateway/postrm installer/windows/*.sh installer/macos/*.sh \
    installer/gateway/refresh-crls
}
debian_packages() {
  bash installer/debian/build-debs.sh "$target_dir/dist"
  cargo build --locked --bin hjemmekontor-vcard
  bash installer/debian/check-debs.sh "$target_dir/dist" "$target_dir/debug/hjemmekontor-vcard"
  bash installer/debian/check-service.sh "$target_dir/dist" "$target_dir/debug/hjemmekontor-vcard"
}
windows_installer() {
  local exe=$target_dir/$windows/release/hjemmekontor.exe msi rc=0
  # Both programs of the MSI in one build (feature gui is the client and its window).
  cargo build --release --locked --target "$windows" --no-default-features --features gui \
    --bin hjemmekontor --bin hjemmekontor-gui
  bash installer/dev/wine/gui-smoke.sh "$target_dir/$windows/release/hjemmekontor-gui.exe" \
    "$target_dir/gui-smoke-wine"
  msi=$(bash installer/windows/build-msi.sh "$exe" "$target_dir/dist")
  bash installer/windows/check-msi.sh "$msi" "$exe"
  bash installer/macos/build-pkg.sh "$target_dir/dist" 2>/dev/null || rc=$?
  [ "$rc" = 2 ] || { echo "build-pkg.sh off a Mac: exit $rc, not 2" >&2; return 1; }
}

phase setup setup
# The main package, and the fuzz targets, which are a workspace of their own.
fmt_check() {
  cargo fmt --all -- --check
  cargo fmt --manifest-path tests/fuzz/Cargo.toml -- --check
}
phase fmt fmt_check
phase "shellcheck" scripts_lint
phase "clippy (host)" cargo clippy --all-targets --locked -- -D warnings
# The Windows client and its window, and the library with its unit tests (the Windows posture
# probes live behind cfg(windows) and are linted only here).
windows_clippy() {
  cargo clippy --locked --target "$windows" --no-default-features --features gui \
    --bin hjemmekontor --bin hjemmekontor-gui -- -D warnings
  cargo clippy --locked --target "$windows" --no-default-features --features "$windows_tested" \
    --lib --profile test -- -D warnings
}
phase "clippy (windows)" windows_clippy
phase "feature builds" feature_builds
phase "windows build + wine smoke" windows_smoke
phase "cargo test" run_tests
# The window on an X server: the virtual card, a local gateway, xfreerdp to xrdp, the card
# pulled; screenshots in target/gui-smoke.
phase "window (Xvfb, xrdp)" bash installer/dev/gui-smoke.sh "$target_dir/gui-smoke"
# Two gateways as docs/cluster.md sets them up, each promise checked with the real client.
phase "two gateways (cluster-demo)" bash installer/dev/cluster-demo.sh --no-setup
# The benchmark command end to end, small: it builds in release mode, measures the tunnel
# beside stunnel and ssh, and prints numbers; it asserts nothing about time.
phase "bench (quick)" bash installer/dev/bench.sh --quick
# Every fuzz target 10 s from its seed corpus (docs/fuzzing.md); a crash fails the run.
phase fuzzing bash installer/dev/fuzz.sh 10
phase "debian packages" debian_packages
phase "windows installer (msi)" windows_installer
summary
# One closing line over every test binary (cargo prints one per binary, doc tests last).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
