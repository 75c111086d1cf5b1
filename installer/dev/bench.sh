#!/usr/bin/env bash
# The tunnel beside stunnel and `ssh -L` on 127.0.0.1, in one run (docs/performance.md): bulk
# throughput each way and over 8 streams, CPU seconds and context switches per GiB, 64-byte
# round trips, connect time with its phases, the gateway's memory per idle session and its
# handshakes per second. Installs stunnel4 and OpenSSH if missing (setup.sh --bench), builds
# in release mode, prints the table and writes JSON for comparing commits. It asserts nothing
# about time.
#
#   bench.sh [--quick] [--size MIB] [--reps N] [--pings N] [--sessions N,N] [--json FILE]
#
# --quick: a few MiB and 200 sessions, to check the command works end to end (CI runs it).
# The JSON goes to target/bench/tunnel_compare.json (under CARGO_TARGET_DIR if set) unless
# --json says otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."

target_dir=${CARGO_TARGET_DIR:-$PWD/target}
json=$target_dir/bench/tunnel_compare.json
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --json) [ $# -ge 2 ] || { echo "--json needs a file" >&2; exit 2; }; json=$2; shift 2 ;;
    --quick) args+=("$1"); shift ;;
    --size | --reps | --pings | --sessions)
      [ $# -ge 2 ] || { echo "$1 needs a value" >&2; exit 2; }
      args+=("$1" "$2"); shift 2 ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: bench.sh [--quick] [--size MIB] [--reps N] [--pings N] [--sessions N,N] [--json FILE]" >&2; exit 2 ;;
  esac
done
case "$json" in /*) ;; *) json=$PWD/$json ;; esac

bash installer/dev/setup.sh --bench

# Every idle session holds a socket in the gateway and one in the bench's clients; the
# gateway inherits the limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# The bench profile is the release profile; cargo builds the gateway binary the bench starts.
# The window (feature gui) has no part in the tunnel: it is left out of this optimised build.
cargo bench --locked --no-default-features --features client,gateway,vcard --bench tunnel_compare \
  -- "${args[@]}" --json "$json"
