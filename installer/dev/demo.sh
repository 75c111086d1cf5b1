#!/usr/bin/env bash
# The main job on the embedded default, on one machine: sets up the smart-card stack, makes a
# TEST PKI, puts a virtual TEST card (Person-High shape) in the virtual reader, and lets the
# client read it. Nothing here touches a real card or a real identity.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash installer/dev/setup.sh
echo "==> building" >&2
cargo build --quiet --bins

bin=target/debug
work=$(mktemp -d)
card_pid=
cleanup() {
  [ -n "$card_pid" ] && kill "$card_pid" 2>/dev/null && wait "$card_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/hjemmekontor-vcard" pki --out "$work/pki" >/dev/null

# The card's PIN is the TEST default, 123456.
"$bin/hjemmekontor-vcard" run --cert "$work/pki/person-high.pem" --key "$work/pki/person-high.key" \
  --control "$work/card.sock" 2>"$work/card.log" &
card_pid=$!

echo "==> waiting for the virtual card in the virtual reader" >&2
for _ in $(seq 100); do
  if "$bin/hjemmekontor" readers --json 2>/dev/null | grep -q '"card_present": true'; then break; fi
  kill -0 "$card_pid" 2>/dev/null || { cat "$work/card.log" >&2; exit 1; }
  sleep 0.2
done

echo
echo "\$ hjemmekontor readers"
"$bin/hjemmekontor" readers
echo
echo "\$ hjemmekontor card --test-environment"
"$bin/hjemmekontor" card --test-environment
