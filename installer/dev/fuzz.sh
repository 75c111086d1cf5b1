#!/usr/bin/env bash
# Builds every fuzz target of tests/fuzz once and runs each for SECONDS (default 30) with
# libFuzzer, starting from its seed corpus in tests/fuzz/corpus/<target>/. Prints per target
# the executions, the coverage at start and end and the new inputs found; exits non-zero if
# any target crashed, hung or ran out of memory, naming the file that holds the input.
#
#   bash installer/dev/fuzz.sh [SECONDS]
#
# Installs cargo-fuzz if it is missing. Works on a stable toolchain: RUSTC_BOOTSTRAP=1 lets
# stable accept the -Z flags cargo-fuzz passes. Built without a sanitizer (the parsers are safe
# Rust, the main package forbids unsafe code, so a sanitizer would mostly slow the runs) but
# with debug assertions and overflow checks, so an arithmetic overflow is a crash. New inputs a run
# finds go to a scratch directory, never into the seed corpus. The build goes to
# tests/fuzz/target, or to CARGO_TARGET_DIR when that is set (under the host's target triple,
# apart from the main package's builds). docs/fuzzing.md explains the targets and what to do
# with a crash.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-30}
case $seconds in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
fuzz_dir=tests/fuzz
export RUSTC_BOOTSTRAP=1
build_flags=(--fuzz-dir "$fuzz_dir" --sanitizer none --debug-assertions)

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

started=$SECONDS
echo "==> building the fuzz targets" >&2
cargo fuzz build "${build_flags[@]}"
echo "<== built in $((SECONDS - started)) s" >&2

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# The number after `name:` on a libFuzzer status line (`#123 INITED cov: 456 ft: …`).
field() {
  sed -n "s/.* $2: \([0-9]*\).*/\1/p" <<<"$1" | tail -n 1
}

failed=()
mapfile -t targets < <(cargo fuzz list --fuzz-dir "$fuzz_dir")
printf '%-16s %12s %14s %8s  %s\n' target executions coverage new result
for target in "${targets[@]}"; do
  work=$scratch/$target
  log=$scratch/$target.log
  mkdir -p "$work" "$fuzz_dir/artifacts/$target"
  rc=0
  cargo fuzz run "${build_flags[@]}" "$target" "$work" "$fuzz_dir/corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    >"$log" 2>&1 || rc=$?
  inited=$(grep -E '^#[0-9]+[[:space:]]+INITED' "$log" | tail -n 1 || true)
  last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED)' "$log" | tail -n 1 || true)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  new=$(sed -n 's/^stat::new_units_added: *//p' "$log")
  coverage="$(field "$inited" cov)->$(field "$last" cov)"
  if [ "$rc" = 0 ]; then
    result=ok
  else
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    result="FAILED (exit $rc): input in ${artifact:-?}"
    failed+=("$target")
    echo "---- $target: the end of its log" >&2
    tail -n 40 "$log" >&2
  fi
  printf '%-16s %12s %14s %8s  %s\n' "$target" "${runs:-?}" "$coverage" "${new:-?}" "$result"
done

echo "fuzzing took $((SECONDS - started)) s in all (${#targets[@]} targets, $seconds s each)" >&2
if [ "${#failed[@]}" -gt 0 ]; then
  echo "targets that failed: ${failed[*]}" >&2
  echo "replay one: RUSTC_BOOTSTRAP=1 cargo fuzz run ${build_flags[*]} TARGET FILE" >&2
  exit 1
fi
