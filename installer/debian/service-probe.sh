#!/bin/sh
# Inside the container that check-service.sh boots: checks hjemmekontor-gateway.service as
# systemd runs it and writes one line per check to OUT/report ("ok …" or "fail …", "ok done"
# last), and the service's journal to OUT/journal.
#
#   service-probe OUT
set -u

out=${1:?usage: service-probe OUT}
unit=hjemmekontor-gateway.service
config=/etc/hjemmekontor/gateway.toml
state=/var/lib/hjemmekontor-gateway
: >"$out/report"

ok() { echo "ok $*" >>"$out/report"; }
bad() { echo "fail $*" >>"$out/report"; }
check() { # check TEXT COMMAND...: "ok TEXT" when the command succeeds
	text=$1
	shift
	if "$@"; then ok "$text"; else bad "$text"; fi
}

# listening PORT-IN-HEX: a socket listens on that port (IPv4).
listening() { grep -qi ":$1 00000000:0000 0A" /proc/net/tcp; }
wait_listening() {
	i=0
	while [ "$i" -lt 100 ]; do
		listening "$1" && return 0
		i=$((i + 1))
		sleep 0.1
	done
	return 1
}
main_pid() { systemctl show -p MainPID --value "$unit"; }
# status PID FIELD: a field of /proc/PID/status.
status() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
# The process's own view of / (mountinfo's 5th field is the mount point, the 6th its options).
root_read_only() { awk '$5 == "/" && $6 ~ /^ro/ { found = 1 } END { exit !found }' "/proc/$1/mountinfo"; }
records() { grep -c "\"event\":\"$1\"" "$state/audit.jsonl"; }

contained() { # contained PID CAPS: the service's process as the unit file promises
	cp "/proc/$1/status" "$out/status" 2>/dev/null
	[ "$(status "$1" Uid)" = "$(id -u hjemmekontor-gateway)" ] &&
		[ "$(status "$1" CapEff)" = "$2" ] && [ "$(status "$1" CapBnd)" = "$2" ] &&
		[ "$(status "$1" NoNewPrivs)" = 1 ] && [ "$(status "$1" Seccomp)" = 2 ] &&
		root_read_only "$1"
}

check "the service starts" systemctl start "$unit"
check "it listens on 8443" wait_listening 20FB
pid=$(main_pid)
check "it runs as hjemmekontor-gateway, no capabilities, no new privileges, seccomp, read-only root" \
	contained "$pid" 0000000000000000

reloads=$(records config-reloaded)
check "reload" systemctl reload "$unit"
sleep 1
check "reload keeps the process" [ "$(main_pid)" = "$pid" ]
check "the reload is in the audit log" [ "$(records config-reloaded)" -gt "$reloads" ]

check "the daily audit-log check runs" systemctl start hjemmekontor-gateway-audit-verify.service
check "and finds the log intact" \
	[ "$(systemctl show -p Result --value hjemmekontor-gateway-audit-verify.service)" = success ]

check "stop" systemctl stop "$unit"
check "it stopped cleanly" [ "$(systemctl show -p Result --value "$unit")" = success ]
check "its audit log verifies" hjemmekontor-gateway audit verify "$state/audit.jsonl"

# Port 443: refused without the drop-in (no capability at all), served with it.
sed -i 's/^listen = .*/listen = "0.0.0.0:443"/' "$config"
systemctl start "$unit"
denied() { ! wait_listening 01BB && journalctl -u "$unit" --no-pager | grep -q 'os error 13'; }
check "without low-port.conf port 443 is refused (permission denied)" denied
systemctl stop "$unit"
systemctl reset-failed "$unit" 2>/dev/null
mkdir -p "/etc/systemd/system/$unit.d"
cp /usr/share/doc/hjemmekontor-gateway/examples/low-port.conf "/etc/systemd/system/$unit.d/"
systemctl daemon-reload
check "with low-port.conf it starts" systemctl start "$unit"
check "and listens on 443" wait_listening 01BB
# CAP_NET_BIND_SERVICE is capability 10: the mask 0x400, and nothing else.
check "holding CAP_NET_BIND_SERVICE only" contained "$(main_pid)" 0000000000000400
systemctl stop "$unit"

# The client's package: pcscd comes with it and starts when a program asks (its socket).
client_reaches_pcscd() {
	hjemmekontor --lang en readers --json >"$out/readers" 2>&1
	! grep -q no-smartcard-service "$out/readers" && grep -qi reader "$out/readers"
}
check "the client reaches the smart-card service (socket-activated pcscd)" client_reaches_pcscd

journalctl -u "$unit" --no-pager >"$out/journal" 2>&1
ok "done"
