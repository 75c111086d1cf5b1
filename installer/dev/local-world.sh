# shellcheck shell=bash
# The local world of the demo and the desktop smoke test, all on 127.0.0.1: a TEST PKI, the
# virtual TEST card (Person-High shape) in the virtual reader, and a gateway whose one user may
# reach one office PC. Sourced, not run; the caller sets `bin` (the built programs) and `work`
# (a temporary folder), and sets `trap world_cleanup EXIT`.
#
# Nothing here touches a real card or a real identity.

: "${bin:?set bin to the folder of the built programs before sourcing local-world.sh}"
: "${work:?set work to a temporary folder before sourcing local-world.sh}"

# TEST only: the virtual card's PIN, and the demo user's password.
DEMO_USER=ase.nordmann
DEMO_PIN=123456
DEMO_PASSWORD=demo-passord-TEST
GATEWAY=127.0.0.1:18443
pids=()

say() { printf '\n==> %s\n' "$*" >&2; }
wait_for() { # wait_for DESCRIPTION COMMAND…: up to 20 s
  local what=$1
  shift
  for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "gave up waiting for $what" >&2
  return 1
}
port_open() { (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; }
# The caller's exit trap: every process started here stopped, the temporary folder removed.
world_cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

# The TEST PKI in $work/pki; the gateway presents its certificate with the issuing CA, so
# clients need only the root.
world_pki() {
  say "TEST PKI"
  "$bin/hjemmekontor-vcard" pki --out "$work/pki" >/dev/null
  cat "$work/pki/gateway.pem" "$work/pki/person-ca.pem" >"$work/pki/gateway-chain.pem"
}

# The virtual card in the virtual reader, pulled with `world_pull_card`.
world_card() {
  say "virtual card (Person-High TEST certificate, PIN $DEMO_PIN) in the virtual reader"
  "$bin/hjemmekontor-vcard" run --cert "$work/pki/person-high.pem" --key "$work/pki/person-high.key" \
    --control "$work/card.sock" 2>"$work/card.log" &
  pids+=($!)
  wait_for "the card" sh -c "'$bin/hjemmekontor' readers --json | grep -q '\"card_present\": true'"
}
world_pull_card() { "$bin/hjemmekontor-vcard" ctl --control "$work/card.sock" remove >/dev/null; }

# world_office_toml OFFICE_PC: the TEST clinic and its one office PC at OFFICE_PC, as TOML.
world_office_toml() {
  cat <<TOML
[[group]]
id = "legesenter"
name = "Sentrum legesenter (TEST)"
kind = "legesenter"

[[machine]]
id = "kontor-pc"
name = "Kontor-PC, Sentrum legesenter (TEST)"
address = "$1"
group = "legesenter"
TOML
}

# world_gateway OFFICE_PC: the gateway on $GATEWAY, its one machine at OFFICE_PC (host:port).
world_gateway() {
  local office_pc=$1 hash
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

$(world_office_toml "$office_pc")

[[grant]]
user = "$DEMO_USER"
machines = ["kontor-pc"]
TOML
  "$bin/hjemmekontor-gateway" check-config "$work/gateway.toml"
  "$bin/hjemmekontor-gateway" run "$work/gateway.toml" 2>"$work/gateway.log" &
  pids+=($!)
  wait_for "the gateway" port_open "$GATEWAY"
}

world_audit() {
  say "audit log"
  sleep 0.5
  "$bin/hjemmekontor-gateway" audit query "$work/audit.jsonl"
  "$bin/hjemmekontor-gateway" audit verify "$work/audit.jsonl"
}
