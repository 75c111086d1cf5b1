#!/usr/bin/env bash
# Two gateways on one machine as docs/cluster.md sets them up, and what that set-up promises,
# checked with the virtual TEST card and the real client:
#
#   PostgreSQL (the shared audit chain and lockout counts), slapd with a TEST directory (the
#   users, their cards' identifiers and groups), gateways A and B using both, HAProxy in front.
#
#   1. logins through both gateways land in one audit chain that `audit verify` finds whole
#   2. five wrong passwords through gateway A lock the user on gateway B
#   3. the gateway holding a session is killed: the client comes back through the other one,
#      with no new PIN
#   4. the directory stopped: logins are refused with "cannot log in now", and come back
#   5. PostgreSQL stopped: logins are refused with "cannot log in now", and come back
#
# Each check prints OK or FEIL; the script stops at the first FEIL with exit code 1.
#
#   cluster-demo.sh              installs what it needs first (installer/dev/setup.sh --cluster)
#   cluster-demo.sh --no-setup   the machine is set up already (CI)
#
# Nothing here touches a real card or a real identity. Everything listens on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."

case "${1:-}" in
  --no-setup) ;;
  "") bash installer/dev/setup.sh --cluster ;;
  *) echo "usage: cluster-demo.sh [--no-setup]" >&2; exit 2 ;;
esac
echo "==> building" >&2
cargo build --quiet --bins

bin=${CARGO_TARGET_DIR:-$PWD/target}/debug
work=$(mktemp -d)
# PostgreSQL and slapd run as their own users and must reach their folders in here.
chmod 711 "$work"
# shellcheck source=installer/dev/local-world.sh
. installer/dev/local-world.sh
# shellcheck source=installer/dev/cluster-world.sh
. installer/dev/cluster-world.sh
trap world_cleanup EXIT

OFFICE_PC=127.0.0.1:33399
A=127.0.0.1:18443 A_HEALTH=127.0.0.1:18444
B=127.0.0.1:18453 B_HEALTH=127.0.0.1:18454
LISTEN_ONCE=127.0.0.1:13398 LISTEN_FAILOVER=127.0.0.1:13399

ok() { printf 'OK   %s\n' "$*" >&2; }
fail() {
  printf 'FEIL %s\n' "$*" >&2
  for log in a/gateway.log b/gateway.log haproxy.log client.log; do
    [ -s "$work/$log" ] && { echo "--- $log" >&2; tail -n 20 "$work/$log" >&2; }
  done
  exit 1
}

# connect GATEWAY PASSWORD OUT [ARG…]: `hjemmekontor connect --json` as the TEST user in the
# background, its events in OUT; sets `client`.
connect() {
  local gateway=$1 password=$2 out=$3
  shift 3
  printf '%s\n%s\n' "$DEMO_PIN" "$password" | "$bin/hjemmekontor" --lang en connect \
    --gateway "$gateway" --gateway-ca "$work/pki/root-ca.pem" --username "$DEMO_USER" \
    --pin-stdin --password-stdin --test-environment --json --settings "$work/client.toml" \
    "$@" >"$out" 2>>"$work/client.log" &
  client=$!
  pids+=("$client")
}

# attempt GATEWAY PASSWORD: one login; prints `up` when the tunnel came up, else the client's
# message, and ends the client.
attempt() {
  local out=$work/attempt.json
  connect "$1" "$2" "$out" --listen "$LISTEN_ONCE" --no-reconnect
  for _ in $(seq 300); do
    grep -q '"tunnel-up"' "$out" && break
    kill -0 "$client" 2>/dev/null || break
    sleep 0.2
  done
  kill "$client" 2>/dev/null || true
  wait "$client" 2>/dev/null || true
  if grep -q '"tunnel-up"' "$out"; then echo up; else tr -s ' \n' ' ' <"$out"; fi
}

# signatures: the card's signatures so far (its control socket's status).
signatures() {
  "$bin/hjemmekontor-vcard" ctl --control "$work/card.sock" status | tr ' ,' '\n\n' |
    sed -n 's/^"*signatures"*[=:]\([0-9]*\).*/\1/p'
}

# serving: which gateway (a or b) holds HAProxy's connection.
serving() {
  local g
  for g in a b; do
    local port=$A
    [ "$g" = b ] && port=$B
    if ss -Htn state established "( dport = :${port#*:} )" | grep -q .; then echo "$g"; return; fi
  done
}

world_pki
world_card
say "stand-in office PC on $OFFICE_PC"
"$bin/hjemmekontor-vcard" office-pc --listen "$OFFICE_PC" 2>"$work/office.log" &
pids+=($!)
cluster_postgres
cluster_directory
cluster_gateway a "$A" "$A_HEALTH" "$OFFICE_PC"
cluster_gateway b "$B" "$B_HEALTH" "$OFFICE_PC"
cluster_haproxy "$A" "$A_HEALTH" "$B" "$B_HEALTH"
wait_for "both gateways ready" ready "$A_HEALTH"
wait_for "both gateways ready" ready "$B_HEALTH"

say "1. logins through both gateways, one audit chain"
for gateway in "$A" "$B" "$CLUSTER_FRONT"; do
  answer=$(attempt "$gateway" "$DEMO_PASSWORD")
  [ "$answer" = up ] || fail "login through $gateway: $answer"
  ok "login through $gateway (directory user $DEMO_USER, password checked by the directory)"
done
"$bin/hjemmekontor-gateway" audit verify --config "$work/a/gateway.toml" >&2 ||
  fail "audit verify found the shared chain broken"
accepted=$("$bin/hjemmekontor-gateway" audit query --config "$work/b/gateway.toml" --json |
  grep -c '"login-accepted"' || true)
[ "$accepted" = 3 ] || fail "the chain holds $accepted accepted logins, not 3"
ok "one chain, whole, with the 3 logins from both gateways"

say "2. five wrong passwords through A, then the right one through B"
for i in 1 2 3 4 5; do
  answer=$(attempt "$A" "feil-passord-$i")
  [[ $answer == *"password is wrong"* || $answer == *"blocked"* ]] ||
    fail "wrong password $i through A: $answer"
done
answer=$(attempt "$B" "$DEMO_PASSWORD")
[[ $answer == *"blocked for a while"* ]] || fail "the right password through B got: $answer"
ok "locked on B after five failures on A: $answer"
cluster_psql -d hjemmekontor -c "DELETE FROM lockout_counters" >/dev/null
ok "the lock lifted by the operator (DELETE FROM lockout_counters)"

say "3. the gateway holding the session is killed"
mkfifo "$work/events"
connect "$CLUSTER_FRONT" "$DEMO_PASSWORD" "$work/events" --listen "$LISTEN_FAILOVER"
exec 4<"$work/events"
read -r -t 60 first <&4 || fail "no tunnel through HAProxy"
[[ $first == *tunnel-up* ]] || fail "through HAProxy: $first"
before=$(signatures)
victim=$(serving)
[ -n "$victim" ] || fail "no gateway holds HAProxy's connection"
cluster_gateway_kill "$victim"
ok "gateway $victim killed (SIGKILL) under a live session"
while read -r -t 90 event <&4; do
  [[ $event == *tunnel-up* ]] && break
done
[[ ${event:-} == *tunnel-up* ]] || fail "the client did not come back: ${event:-nothing}"
after=$(signatures)
[ "$after" = $((before + 1)) ] || fail "card signatures went from $before to $after, not one more"
ok "the client is back through the other gateway; the card signed once more, no new PIN asked"
kill "$client" 2>/dev/null || true
exec 4<&-
cluster_gateway_start "$victim" "$([ "$victim" = a ] && echo "$A" || echo "$B")"
wait_for "gateway $victim back" ready "$([ "$victim" = a ] && echo "$A_HEALTH" || echo "$B_HEALTH")"

say "4. the directory stopped"
cluster_directory_stop
answer=$(attempt "$A" "$DEMO_PASSWORD")
[[ $answer == *"cannot take logins now"* ]] || fail "with the directory down: $answer"
ok "refused: $answer"
ready "$A_HEALTH" && fail "gateway A says ready without its directory"
ok "gateway A's readiness port says not ready"
cluster_directory_start
wait_for "gateway A ready again" ready "$A_HEALTH"
[ "$(attempt "$A" "$DEMO_PASSWORD")" = up ] || fail "no login after the directory came back"
ok "logins back with the directory"

say "5. PostgreSQL stopped"
cluster_postgres_stop
answer=$(attempt "$A" "$DEMO_PASSWORD")
[[ $answer == *"cannot take logins now"* ]] || fail "with the database down: $answer"
ok "refused by gateway A: $answer"
ready "$A_HEALTH" && fail "gateway A says ready without its database"
ready "$B_HEALTH" && fail "gateway B says ready without its database"
ok "both readiness ports say not ready, so HAProxy takes both out"
answer=$(attempt "$CLUSTER_FRONT" "$DEMO_PASSWORD")
[ "$answer" != up ] || fail "a login got in through HAProxy with the database down"
ok "nobody gets in through HAProxy either: $answer"
cluster_postgres_start
wait_for "gateway A ready again" ready "$A_HEALTH"
[ "$(attempt "$A" "$DEMO_PASSWORD")" = up ] || fail "no login after the database came back"
"$bin/hjemmekontor-gateway" audit verify --config "$work/a/gateway.toml" >&2 ||
  fail "the chain is broken after the database's stop"
ok "logins back with the database; the chain still whole"

say "every promise kept"
