#!/usr/bin/env bash
# The main job on the embedded default, on one machine: sets up the smart-card stack, makes a
# TEST PKI, puts a virtual TEST card (Person-High shape) in the virtual reader, starts a local
# gateway and a stand-in office PC, connects with the card (PIN and password from stdin),
# sends bytes through the tunnel, pulls the card, and shows the audit log.
# Nothing here touches a real card or a real identity. Everything listens on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash installer/dev/setup.sh
echo "==> building" >&2
cargo build --quiet --bins

bin=${CARGO_TARGET_DIR:-$PWD/target}/debug
work=$(mktemp -d)
# shellcheck source=installer/dev/local-world.sh
. installer/dev/local-world.sh
trap world_cleanup EXIT

OFFICE_PC=127.0.0.1:33389
LISTEN=127.0.0.1:13389

world_pki
world_card
say "stand-in office PC on $OFFICE_PC"
"$bin/hjemmekontor-vcard" office-pc --listen "$OFFICE_PC" 2>"$work/office.log" &
pids+=($!)
world_gateway "$OFFICE_PC"

say "hjemmekontor connect (PIN and password on stdin)"
mkfifo "$work/events"
printf '%s\n%s\n' "$DEMO_PIN" "$DEMO_PASSWORD" | "$bin/hjemmekontor" connect \
  --gateway "$GATEWAY" --gateway-ca "$work/pki/root-ca.pem" --username "$DEMO_USER" \
  --pin-stdin --password-stdin --test-environment --listen "$LISTEN" --no-reconnect --json \
  --settings "$work/client.toml" >"$work/events" &
connect_pid=$!
pids+=("$connect_pid")
exec 4<"$work/events"
read -r up <&4
echo "$up"

say "bytes through the tunnel: 127.0.0.1:13389 → gateway → office PC"
exec 3<>"/dev/tcp/${LISTEN%:*}/${LISTEN#*:}"
read -r greeting <&3
echo "office PC says: $greeting"
echo "hei fra hjemmekontoret" >&3
read -r echoed <&3
echo "echoed back:    $echoed"
exec 3>&-

say "pulling the card out: the tunnel closes"
world_pull_card
read -r closed <&4 || true
echo "$closed"
wait "$connect_pid" 2>/dev/null || true

world_audit
