# shellcheck shell=bash
# Several gateways on this machine, set up as docs/cluster.md says: a PostgreSQL server of its
# own (the shared audit chain and lockout counts, installer/gateway/postgres/schema.sql), slapd
# with the TEST directory (installer/dev/slapd/), gateways that use both, and HAProxy in front
# with the shipped installer/gateway/haproxy.cfg. Sourced after local-world.sh (it uses `bin`,
# `work`, `pids`, `say`, `wait_for` and `port_open`), never run.
#
# PostgreSQL and slapd refuse to run as root, or should not: as root they run as their Debian
# users (`postgres`, `openldap`). Everything listens on 127.0.0.1; HAProxy reaches the
# gateways from 127.0.0.3, the address their `[load_balancer]` names.

: "${bin:?source local-world.sh first}"
: "${work:?source local-world.sh first}"

# TEST only: the gateways' database password.
CLUSTER_DB_PASSWORD=db-passord-TEST
CLUSTER_DB=127.0.0.1:15432
CLUSTER_FRONT=127.0.0.1:18400
CLUSTER_HAPROXY_SOURCE=127.0.0.3
CLUSTER_LDAPS=127.0.0.1:16360
CLUSTER_LDAP_SERVICE_PASSWORD=tjeneste-passord-TEST
# The TEST directory's group of GPs; the demo user is a member (installer/dev/slapd/).
CLUSTER_GRANTED_GROUP="cn=fastleger,ou=grupper,dc=test,dc=hjemmekontor"

# What runs a command as `postgres` when this shell is root (else nothing): a prefix, not a
# function, so that `$!` of a server started in the background is the server itself.
run_as=()
[ "$(id -u)" = 0 ] && run_as=(setpriv --reuid=postgres --regid=postgres --init-groups --reset-env)

# The newest installed PostgreSQL's programs.
pg_bin() {
  local dir
  dir=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] || { echo "PostgreSQL is not installed: installer/dev/setup.sh --cluster installs it" >&2; return 1; }
  printf '%s\n' "$dir"
}

# psql as the database's owner on the server's own socket (trusted there).
cluster_psql() {
  "${run_as[@]}" "$(pg_bin)/psql" -h "$work/pg" -p "${CLUSTER_DB#*:}" -U hjemmekontor_eier \
    -v ON_ERROR_STOP=1 -qAt "$@"
}

# A new PostgreSQL cluster with the project's schema and the gateways' role, as an operator
# sets it up (docs/cluster.md).
cluster_postgres() {
  local pg
  pg=$(pg_bin)
  say "PostgreSQL on $CLUSTER_DB (the shared audit chain and lockout counts)"
  mkdir -p "$work/pg"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$work/pg"
  "${run_as[@]}" "$pg/initdb" -D "$work/pg/data" -U hjemmekontor_eier --auth-local=trust \
    --auth-host=scram-sha-256 --no-sync -E UTF8 --locale=C >"$work/pg-initdb.log"
  cluster_postgres_start
  cluster_psql -d postgres -c "CREATE DATABASE hjemmekontor"
  cluster_psql -d hjemmekontor \
    -c "CREATE ROLE hjemmekontor_gateway LOGIN PASSWORD '$CLUSTER_DB_PASSWORD'"
  cp installer/gateway/postgres/schema.sql "$work/pg/schema.sql"
  cluster_psql -d hjemmekontor -v gateway_role=hjemmekontor_gateway -f "$work/pg/schema.sql"
  (umask 077 && printf '%s\n' "$CLUSTER_DB_PASSWORD" >"$work/postgres.pass")
}

cluster_postgres_start() {
  local pg
  pg=$(pg_bin)
  "${run_as[@]}" "$pg/postgres" -D "$work/pg/data" -h "${CLUSTER_DB%:*}" -p "${CLUSTER_DB#*:}" \
    -k "$work/pg" -c fsync=off 2>>"$work/pg/postgres.log" &
  CLUSTER_PG_PID=$!
  pids+=("$CLUSTER_PG_PID")
  wait_for "PostgreSQL" "${run_as[@]}" "$pg/pg_isready" -h "$work/pg" -p "${CLUSTER_DB#*:}" -q
}

# Stops PostgreSQL at once (clients cut off), as a crash or an operator would.
cluster_postgres_stop() {
  kill -INT "$CLUSTER_PG_PID"
  wait "$CLUSTER_PG_PID" 2>/dev/null || true
}

# slapd with the TEST directory on $CLUSTER_LDAPS, its certificate the TEST PKI's gateway
# certificate (issued for 127.0.0.1).
cluster_directory() {
  local dir=$work/slapd
  say "slapd on $CLUSTER_LDAPS (the TEST directory: installer/dev/slapd/)"
  mkdir -p "$dir/data"
  sed "s|@DIR@|$dir|g" installer/dev/slapd/slapd.conf.in >"$dir/slapd.conf"
  cp "$work/pki/gateway-chain.pem" "$dir/server.pem"
  cp "$work/pki/gateway.key" "$dir/server.key"
  slapadd -f "$dir/slapd.conf" -l installer/dev/slapd/directory.ldif 2>"$dir/slapadd.log"
  [ "$(id -u)" = 0 ] && chown -R openldap:openldap "$dir"
  (umask 077 && printf '%s\n' "$CLUSTER_LDAP_SERVICE_PASSWORD" >"$work/ldap.pass")
  cluster_directory_start
}

cluster_directory_start() {
  local as_openldap=()
  [ "$(id -u)" = 0 ] && as_openldap=(-u openldap -g openldap)
  slapd -f "$work/slapd/slapd.conf" -h "ldaps://$CLUSTER_LDAPS/" "${as_openldap[@]}" -d 0 \
    2>>"$work/slapd/slapd.log" &
  CLUSTER_SLAPD_PID=$!
  pids+=("$CLUSTER_SLAPD_PID")
  wait_for "slapd" port_open "$CLUSTER_LDAPS"
}

# Stops slapd outright, as a crash would.
cluster_directory_stop() {
  kill -KILL "$CLUSTER_SLAPD_PID"
  wait "$CLUSTER_SLAPD_PID" 2>/dev/null || true
}

# The gateways' [directory] section.
cluster_directory_section() {
  cat <<TOML
[directory]
url = "ldaps://$CLUSTER_LDAPS"
ca_file = "../pki/root-ca.pem"
bind_dn = "cn=hjemmekontor-gateway,ou=tjenester,dc=test,dc=hjemmekontor"
bind_password_file = "../ldap.pass"
user_base = "ou=personer,dc=test,dc=hjemmekontor"
personal_id_attribute = "employeeNumber"
group_base = "ou=grupper,dc=test,dc=hjemmekontor"
TOML
}

# cluster_gateway NAME LISTEN HEALTH OFFICE_PC: a gateway of the cluster in $work/NAME, with
# the shared database, the directory's users and HAProxy's address as its balancer.
cluster_gateway() {
  local name=$1 listen=$2 health=$3 office_pc=$4 dir=$work/$1
  say "gateway $name on $listen (readiness on $health)"
  mkdir -p "$dir"
  cat >"$dir/gateway.toml" <<TOML
[gateway]
listen = "$listen"
server_cert = "../pki/gateway-chain.pem"
server_key = "../pki/gateway.key"
required_level = "person-high"
test_environment = true

[trust]
anchors = ["../pki/root-ca.pem"]
intermediates = ["../pki/person-ca.pem"]
crls = ["../pki/crl.pem"]

[audit]
postgres = "host=${CLUSTER_DB%:*} port=${CLUSTER_DB#*:} dbname=hjemmekontor user=hjemmekontor_gateway"
postgres_password_file = "../postgres.pass"

[load_balancer]
addresses = ["$CLUSTER_HAPROXY_SOURCE"]

[health]
listen = "$health"

$(cluster_directory_section)

$(world_office_toml "$office_pc")

[[grant]]
ldap_group = "$CLUSTER_GRANTED_GROUP"
machines = ["kontor-pc"]
TOML
  "$bin/hjemmekontor-gateway" check-config "$dir/gateway.toml" >/dev/null
  cluster_gateway_start "$name" "$listen"
}

# cluster_gateway_start NAME LISTEN: (re)starts a gateway whose configuration is written.
cluster_gateway_start() {
  local name=$1 listen=$2
  "$bin/hjemmekontor-gateway" run "$work/$name/gateway.toml" 2>>"$work/$name/gateway.log" &
  pids+=($!)
  printf '%s\n' "$!" >"$work/$name/pid"
  wait_for "gateway $name" port_open "$listen"
}

# cluster_gateway_kill NAME: the gateway's process killed outright (SIGKILL), as a crash.
cluster_gateway_kill() {
  kill -KILL "$(cat "$work/$1/pid")"
  wait "$(cat "$work/$1/pid")" 2>/dev/null || true
}

# cluster_haproxy A_LISTEN A_HEALTH B_LISTEN B_HEALTH: HAProxy on $CLUSTER_FRONT from the
# shipped file, changed only in its addresses and in what running here needs (foreground,
# this user, no syslog, checks every 200 ms).
cluster_haproxy() {
  say "HAProxy on $CLUSTER_FRONT in front of both (installer/gateway/haproxy.cfg)"
  awk -v front="$CLUSTER_FRONT" -v source="$CLUSTER_HAPROXY_SOURCE" \
    -v a="$1" -v ah="${2#*:}" -v b="$3" -v bh="${4#*:}" '
    /^    (chroot|user|group|daemon|log|maxconn) / { next }
    /^    bind / { print "    bind " front; next }
    /^    server / { next }
    /^    default-server / {
      print
      print "    default-server source " source " inter 200ms fall 1 rise 1"
      next
    }
    { print }
    END {
      print "    server gw-a " a " check port " ah
      print "    server gw-b " b " check port " bh
    }' installer/gateway/haproxy.cfg >"$work/haproxy.cfg"
  grep -q send-proxy-v2 "$work/haproxy.cfg"
  haproxy -c -q -f "$work/haproxy.cfg"
  haproxy -db -f "$work/haproxy.cfg" 2>"$work/haproxy.log" &
  pids+=($!)
  wait_for "HAProxy" port_open "$CLUSTER_FRONT"
}

# ready HEALTH: the gateway's readiness port answers 200.
ready() {
  local answer
  exec 5<>"/dev/tcp/${1%:*}/${1#*:}" || return 1
  printf 'GET /ready HTTP/1.0\r\n\r\n' >&5
  read -r answer <&5 || true
  exec 5>&-
  [[ $answer == *" 200 "* ]]
}
