#!/usr/bin/env bash
# Installs the packages that build-debs.sh made on this machine, checks them as a user and an
# operator would, and removes them again:
#
#   sudo bash installer/debian/check-debs.sh DEB_DIR PATH/hjemmekontor-vcard
#
# - both: lintian, without errors or warnings (the overrides say why for each exception);
# - the client: --version of the command line and the window, their manual pages, completions,
#   the menu entry opening the window, nothing of the virtual card or the TEST PKI;
# - the gateway: the system user, who may read what, systemd-analyze verify and security (the
#   score must be the one docs/gateway-operations.md states), check-config on the shipped
#   configuration with a TEST PKI put where the comments say, a short run as the service user
#   (on 127.0.0.1) that writes and verifies its audit log, logrotate leaving the audit log
#   alone, an upgrade keeping the operator's configuration, and removal and purge leaving the
#   audit log in place.
#
# The second argument is the development tool that writes the TEST PKI. Needs root; changes the
# machine (installs, then purges, both packages) and removes the test's state at the end.
set -euo pipefail

usage="usage: check-debs.sh DEB_DIR PATH/hjemmekontor-vcard"
debs=$(cd "${1:?$usage}" && pwd)
vcard=${2:?$usage}
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=installer/debian/test-pki.sh
. "$root/installer/debian/test-pki.sh"
[ "$(id -u)" = 0 ] || { echo "check-debs: run as root (it installs packages)" >&2; exit 2; }

user=hjemmekontor-gateway
state=/var/lib/hjemmekontor-gateway
config=/etc/hjemmekontor/gateway.toml
unit=/lib/systemd/system/hjemmekontor-gateway.service
work=$(mktemp -d)
gateway_pid=

fail() { printf 'check-debs: FAILED: %s\n' "$*" >&2; exit 1; }
ok() { printf '  ok  %s\n' "$*" >&2; }

cleanup() {
  [ -z "$gateway_pid" ] || kill "$gateway_pid" 2>/dev/null || true
  dpkg --purge hjemmekontor hjemmekontor-gateway >/dev/null 2>&1 || true
  # The test's own state (an audit log of a TEST PKI gateway), never an operator's.
  rm -rf "$work" "$state" /var/log/hjemmekontor-gateway
}
trap cleanup EXIT

man_text() { MANPAGER=cat MANWIDTH=80 man "$1" 2>/dev/null; }
as_service() { setpriv --reuid="$user" --regid="$user" --clear-groups "$@"; }
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
client_deb=$(ls "$debs"/hjemmekontor_*.deb)
gateway_deb=$(ls "$debs"/hjemmekontor-gateway_*.deb)

check_client() {
  echo "==> client package" >&2
  dpkg-deb -c "$client_deb" | grep -Eiq 'vcard|pki/|softhsm' && fail "the client package carries test material"
  ok "no virtual card or TEST PKI in the package"
  dpkg -i "$client_deb" >/dev/null
  [ "$(hjemmekontor --version)" = "hjemmekontor $version" ] || fail "hjemmekontor --version: $(hjemmekontor --version)"
  ok "hjemmekontor --version"
  local page
  for page in hjemmekontor hjemmekontor-connect hjemmekontor-doctor; do
    man_text "$page" | grep -q "SYNOPSIS" || fail "man $page"
  done
  man_text hjemmekontor | grep -q "EXIT STATUS" || fail "man hjemmekontor: no EXIT STATUS"
  ok "man hjemmekontor, hjemmekontor-connect, hjemmekontor-doctor"
  bash -c 'source /usr/share/bash-completion/completions/hjemmekontor && complete -p hjemmekontor' >/dev/null ||
    fail "the bash completion does not load"
  [ -s /usr/share/zsh/vendor-completions/_hjemmekontor ] || fail "no zsh completion"
  [ -s /usr/share/fish/vendor_completions.d/hjemmekontor.fish ] || fail "no fish completion"
  ok "bash, zsh and fish completions"
  [ "$(hjemmekontor-gui --version)" = "hjemmekontor-gui $version" ] ||
    fail "hjemmekontor-gui --version: $(hjemmekontor-gui --version)"
  man_text hjemmekontor-gui | grep -q "EXIT STATUS" || fail "man hjemmekontor-gui"
  ok "hjemmekontor-gui --version, man hjemmekontor-gui"
  local entry=/usr/share/applications/no.hjemmekontor.Hjemmekontor.desktop
  desktop-file-validate "$entry" || fail "desktop entry"
  grep -qx 'Exec=hjemmekontor-gui' "$entry" && grep -qx 'Terminal=false' "$entry" ||
    fail "the menu entry does not open the window (hjemmekontor-gui, no terminal)"
  ok "menu entry opens the window (desktop-file-validate)"
}

check_gateway_install() {
  echo "==> gateway package" >&2
  dpkg-deb -c "$gateway_deb" | grep -Eiq 'vcard|softhsm' && fail "the gateway package carries test material"
  dpkg -i "$gateway_deb" >/dev/null
  [ "$(hjemmekontor-gateway --version)" = "hjemmekontor-gateway $version" ] || fail "hjemmekontor-gateway --version"
  man_text hjemmekontor-gateway-check-config | grep -q SYNOPSIS || fail "man hjemmekontor-gateway-check-config"
  ok "hjemmekontor-gateway --version, man pages"
  getent passwd "$user" | grep -q ':/usr/sbin/nologin$' || fail "no system user $user with nologin"
  [ "$(stat -c '%U:%G %a' "$config")" = "root:$user 640" ] || fail "$config is $(stat -c '%U:%G %a' "$config")"
  [ "$(stat -c '%U:%G %a' "$state")" = "$user:$user 750" ] || fail "$state is $(stat -c '%U:%G %a' "$state")"
  ok "system user, configuration 0640 root:$user, $state"
  [ -L /etc/systemd/system/multi-user.target.wants/hjemmekontor-gateway.service ] || fail "the service is not enabled"
  [ -L /etc/systemd/system/timers.target.wants/hjemmekontor-gateway-audit-verify.timer ] ||
    fail "the daily audit-log check is not enabled"
  ok "service and the daily audit-log check enabled"
}

check_units() {
  local unit_file score stated said
  for unit_file in /lib/systemd/system/hjemmekontor-gateway*; do
    # verify only warns about a misspelt key, so anything it says is a failure.
    said=$(cd "$work" && systemd-analyze verify --man=no "$unit_file" 2>&1) && [ -z "$said" ] ||
      fail "systemd-analyze verify $unit_file: $said"
  done
  ok "systemd-analyze verify: $(cd /lib/systemd/system && echo hjemmekontor-gateway*)"
  score=$(cd "$work" && systemd-analyze security --offline=true "$unit" 2>&1 |
    sed -n 's/.*Overall exposure level for hjemmekontor-gateway.service: \([0-9.]*\).*/\1/p')
  [ -n "$score" ] || fail "systemd-analyze security gave no score"
  stated=$(sed -n 's/.*exposure level \*\*\([0-9.]*\)\*\*.*/\1/p' "$root/docs/gateway-operations.md" | head -n 1)
  [ "$score" = "$stated" ] || fail "systemd-analyze security: $score, docs/gateway-operations.md says ${stated:-nothing}"
  ok "systemd-analyze security: exposure level $score, as the docs say"
}

check_config_and_run() {
  place_test_pki "$vcard" "$work" "" "$(id -u "$user")" "$(id -g "$user")"
  as_service hjemmekontor-gateway check-config "$config" >"$work/check.txt" ||
    fail "check-config on the shipped configuration: $(cat "$work/check.txt")"
  ok "check-config $config (as the service user)"
  # The shipped configuration listens on every address; the run here stays on 127.0.0.1.
  local port=18443 i
  sed 's/^listen = .*/listen = "127.0.0.1:18443"/' "$config" >"$work/run.toml"
  chmod 0644 "$work/run.toml" && chmod 0755 "$work"
  setpriv --reuid="$user" --regid="$user" --clear-groups \
    hjemmekontor-gateway run "$work/run.toml" 2>"$work/run.log" &
  gateway_pid=$!
  for i in $(seq 200); do
    grep -qi ":$(printf '%04X' "$port") 00000000:0000 0A" /proc/net/tcp && break
    kill -0 "$gateway_pid" 2>/dev/null || fail "the gateway stopped: $(cat "$work/run.log")"
    sleep 0.1
  done
  [ "$i" -lt 200 ] || fail "the gateway did not listen within 20 s"
  kill -TERM "$gateway_pid"
  wait "$gateway_pid" || fail "the gateway did not stop cleanly: $(cat "$work/run.log")"
  gateway_pid=
  [ "$(stat -c %U "$state/audit.jsonl")" = "$user" ] || fail "no audit log written by the service user"
  as_service hjemmekontor-gateway audit verify "$state/audit.jsonl" >/dev/null || fail "audit verify"
  ok "run as the service user: listened, stopped on SIGTERM, audit log written and verified"
}

# An upgrade (the same package as revision 2) over an operator's edited configuration: dpkg
# keeps the edit, the modes and the enabled units, and the audit log is untouched.
check_upgrade() {
  local before
  dpkg-deb -R "$gateway_deb" "$work/next"
  sed -i "s/^Version: .*/Version: $version-2/" "$work/next/DEBIAN/control"
  dpkg-deb --build --root-owner-group "$work/next" "$work/next.deb" >/dev/null
  echo "# edited by the operator" >>"$config"
  before=$(sha256sum <"$state/audit.jsonl")
  dpkg -i "$work/next.deb" >/dev/null 2>"$work/upgrade.txt" || fail "upgrade: $(cat "$work/upgrade.txt")"
  [ "$(dpkg-query -W -f='${Version}' hjemmekontor-gateway)" = "$version-2" ] || fail "upgrade: not installed"
  tail -n 1 "$config" | grep -qx "# edited by the operator" || fail "upgrade replaced the operator's configuration"
  [ "$(stat -c '%U:%G %a' "$config")" = "root:$user 640" ] || fail "upgrade: $config is $(stat -c '%U:%G %a' "$config")"
  [ "$(sha256sum <"$state/audit.jsonl")" = "$before" ] || fail "upgrade changed the audit log"
  [ -L /etc/systemd/system/multi-user.target.wants/hjemmekontor-gateway.service ] || fail "upgrade disabled the service"
  as_service hjemmekontor-gateway check-config "$config" >/dev/null || fail "check-config after the upgrade"
  ok "upgrade: the operator's configuration, its mode, the enabled service and the audit log are kept"
}

check_logrotate() {
  local before
  install -d -o "$user" -g "$user" -m 0750 /var/log/hjemmekontor-gateway
  echo "a diagnostic line" >/var/log/hjemmekontor-gateway/gateway.log
  chown "$user:$user" /var/log/hjemmekontor-gateway/gateway.log
  before=$(sha256sum <"$state/audit.jsonl")
  logrotate -f -s "$work/logrotate.state" /etc/logrotate.d/hjemmekontor-gateway || fail "logrotate"
  [ -e /var/log/hjemmekontor-gateway/gateway.log.1 ] || fail "logrotate did not rotate gateway.log"
  [ "$(sha256sum <"$state/audit.jsonl")" = "$before" ] || fail "logrotate changed the audit log"
  # Beside the log: its lock and the lockout state; anything else (audit.jsonl.1, .gz) is a copy.
  compgen -G "$state/audit.jsonl.[0-9]*" >/dev/null && fail "logrotate made a copy of the audit log"
  compgen -G "$state/audit.jsonl*.gz" >/dev/null && fail "logrotate compressed the audit log"
  logrotate -d /etc/logrotate.conf 2>&1 | grep -q "$state" && fail "some logrotate rule reaches $state"
  ok "logrotate rotates the diagnostic log and never the audit log"
}

check_removal() {
  local before
  before=$(sha256sum <"$state/audit.jsonl")
  dpkg -r hjemmekontor-gateway >/dev/null
  [ ! -e /usr/bin/hjemmekontor-gateway ] || fail "the program is still there after removal"
  [ "$(sha256sum <"$state/audit.jsonl")" = "$before" ] || fail "removal changed the audit log"
  [ -e "$config" ] || fail "removal (not purge) deleted the configuration"
  dpkg --purge hjemmekontor-gateway >/dev/null 2>"$work/purge.txt"
  [ ! -e "$config" ] || fail "purge left $config"
  [ "$(sha256sum <"$state/audit.jsonl")" = "$before" ] || fail "purge changed the audit log"
  grep -q "audit log" "$work/purge.txt" || fail "purge did not say the audit log is kept"
  ok "remove and purge keep the audit log; purge removes the configuration"
  dpkg -r hjemmekontor >/dev/null
  [ ! -e /usr/bin/hjemmekontor ] && [ ! -e /usr/bin/hjemmekontor-gui ] ||
    fail "the client is still there after removal"
  ok "the client removes cleanly"
}

check_lintian() {
  echo "==> lintian" >&2
  lintian --fail-on error,warning --tag-display-limit 0 "$client_deb" "$gateway_deb" 2>&1 |
    grep -v 'running with root privileges' >&2 || true
  lintian --fail-on error,warning "$client_deb" "$gateway_deb" >/dev/null 2>&1 ||
    fail "lintian finds errors or warnings (above)"
  ok "lintian: no errors or warnings"
}

dpkg --purge hjemmekontor hjemmekontor-gateway >/dev/null 2>&1 || true
check_lintian
check_client
check_gateway_install
check_units
check_config_and_run
check_upgrade
check_logrotate
check_removal
echo "check-debs: both packages install, work and uninstall as they should" >&2
