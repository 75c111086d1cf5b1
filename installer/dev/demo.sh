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

bin=$PWD/target/debug
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Demo credentials (TEST only): the virtual card's PIN, and the demo user's password.
DEMO_USER=ase.nordmann
DEMO_PIN=123456
DEMO_PASSWORD=demo-passord-TEST
GATEWAY=127.0.0.1:18443
OFFICE_PC=127.0.0.1:33389
LISTEN=127.0.0.1:13389

say() { printf '\n==> %s\n' "$*" >&2; }
wait_for() { # wait_for DESCRIPTION COMMAND…: up to 20 s
  local what=$1; shift
  for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "gave up waiting for $what" >&2; return 1
}
port_open() { (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; }

say "TEST PKI"
"$bin/hjemmekontor-vcard" pki --out "$work/pki" >/dev/null
# The gateway presents its certificate with the issuing CA, so clients need only the root.
cat "$work/pki/gateway.pem" "$work/pki/person-ca.pem" >"$work/pki/gateway-chain.pem"

say "virtual card (Person-High TEST certificate, PIN $DEMO_PIN) in the virtual reader"
"$bin/hjemmekontor-vcard" run --cert "$work/pki/person-high.pem" --key "$work/pki/person-high.key" \
  --control "$work/card.sock" 2>"$work/card.log" &
pids+=($!)
wait_for "the card" sh -c "'$bin/hjemmekontor' readers --json | grep -q '\"card_present\": true'"

say "stand-in office PC on $OFFICE_PC"
"$bin/hjemmekontor-vcard" office-pc --listen "$OFFICE_PC" 2>"$work/office.log" &
pids+=($!)

say "gateway on $GATEWAY (test environment: TEST certificates accepted)"
hash=$(printf '%s\n' "$DEMO_PASSWORD" | "$bin/hjemmekontor-gateway" hash-password --stdin)
cat >"$work/gateway.toml" <<TOML
[gateway]
listen = "$GATEWAY"
server_cert = "pki/gateway-chain.pem"
server_key = "pki/gateway.key"
required_level = "person-high"
test_environment = true

[trust]
anchors = ["pki/root-ca.pem"]
intermediates = ["pki/person-ca.pem"]
crls = ["pki/crl.pem"]

[audit]
path = "audit.jsonl"

[[user]]
username = "$DEMO_USER"
display_name = "Åse Test Nordmann"
personal_id = "UN:NO-9578-4050-12345678"
password_hash = "$hash"

[[group]]
id = "legesenter"
name = "Sentrum legesenter (TEST)"
kind = "legesenter"

[[machine]]
id = "kontor-pc"
name = "Kontor-PC, Sentrum legesenter (TEST)"
address = "$OFFICE_PC"
group = "legesenter"

[[grant]]
user = "$DEMO_USER"
machines = ["kontor-pc"]
TOML
"$bin/hjemmekontor-gateway" check-config "$work/gateway.toml"
"$bin/hjemmekontor-gateway" run "$work/gateway.toml" 2>"$work/gateway.log" &
pids+=($!)
wait_for "the gateway" port_open "$GATEWAY"

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
"$bin/hjemmekontor-vcard" ctl --control "$work/card.sock" remove >/dev/null
read -r closed <&4 || true
echo "$closed"
wait "$connect_pid" 2>/dev/null || true

say "audit log"
sleep 0.5
"$bin/hjemmekontor-gateway" audit query "$work/audit.jsonl"
"$bin/hjemmekontor-gateway" audit verify "$work/audit.jsonl"
