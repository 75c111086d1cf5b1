#!/usr/bin/env bash
# Runs the gateway package's service under a real systemd: a minimal Debian with systemd is
# made with debootstrap, the package installed in it, a TEST PKI put in place, and the system
# booted in a container (systemd-nspawn, private network, nothing of this machine changed).
# A probe unit inside checks, as systemd runs it:
#
#   - the service starts (check-config first), listens, runs as its user with no
#     capabilities, no new privileges, a seccomp filter and a read-only root;
#   - reload (SIGHUP) keeps the process and records the reload in the audit log;
#   - the daily audit-log check succeeds; stop is clean and the log verifies;
#   - port 443 is refused without the low-port drop-in, and served with it, holding only
#     CAP_NET_BIND_SERVICE;
#   - the client, installed beside it, reaches the smart-card service (pcscd, started by its
#     socket) and finds no reader there.
#
#   sudo bash installer/debian/check-service.sh DEB_DIR PATH/hjemmekontor-vcard
#
# Needs root, debootstrap, systemd-container, and Debian's package mirror (DEBIAN_MIRROR, by
# default deb.debian.org). The system is made in a scratch folder and removed at the end.
set -euo pipefail

usage="usage: check-service.sh DEB_DIR PATH/hjemmekontor-vcard"
debs=$(cd "${1:?$usage}" && pwd)
vcard=${2:?$usage}
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=installer/debian/test-pki.sh
. "$root/installer/debian/test-pki.sh"
[ "$(id -u)" = 0 ] || { echo "check-service: run as root (debootstrap, systemd-nspawn)" >&2; exit 2; }
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$suite" ] || { echo "check-service: no VERSION_CODENAME in /etc/os-release" >&2; exit 2; }

work=$(mktemp -d /var/tmp/hjemmekontor-service.XXXXXX)
system=$work/system
trap 'rm -rf "$work"' EXIT
fail() { printf 'check-service: FAILED: %s\n' "$*" >&2; exit 1; }

echo "==> a minimal Debian $suite with systemd (debootstrap)" >&2
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus \
  "$suite" "$system" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  fail "debootstrap: $(tail -n 5 "$work/debootstrap.log")"

echo "==> both packages in it (by apt, with their dependencies), and a TEST PKI where the configuration expects certificates" >&2
cp "$debs"/hjemmekontor-gateway_*.deb "$system/tmp/gateway.deb"
cp "$debs"/hjemmekontor_*.deb "$system/tmp/client.deb"
# apt takes what the package says it depends on, and only that: a missing dependency shows.
cp /etc/resolv.conf "$system/etc/resolv.conf"
chroot "$system" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  /tmp/gateway.deb /tmp/client.deb >"$work/apt.log" 2>&1 || fail "apt-get install: $(tail -n 20 "$work/apt.log")"
place_test_pki "$vcard" "$work" "$system" \
  "$(chroot "$system" id -u hjemmekontor-gateway)" "$(chroot "$system" id -g hjemmekontor-gateway)"
install -m 0755 "$root/installer/debian/service-probe.sh" "$system/usr/local/sbin/service-probe"
cat >"$system/etc/systemd/system/service-probe.service" <<'UNIT'
[Unit]
Description=Checks hjemmekontor-gateway.service as systemd runs it, then powers off
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/service-probe /run/probe
ExecStopPost=/bin/systemctl --no-block poweroff
UNIT

echo "==> booting it (systemd-nspawn, private network)" >&2
mkdir -p "$work/probe"
timeout 300 systemd-nspawn --quiet --directory="$system" --register=no --keep-unit \
  --private-network --bind="$work/probe:/run/probe" --boot systemd.wants=service-probe.service \
  >"$work/boot.log" 2>&1 || true

[ -s "$work/probe/report" ] || fail "the probe wrote nothing; the boot said: $(tail -n 20 "$work/boot.log")"
sed 's/^/  /' "$work/probe/report" >&2
if grep -q '^fail' "$work/probe/report" || ! grep -qx 'ok done' "$work/probe/report"; then
  echo "--- the service's journal:" >&2
  cat "$work/probe/journal" >&2 2>/dev/null || true
  echo "--- /proc/PID/status of the service's last process:" >&2
  cat "$work/probe/status" >&2 2>/dev/null || true
  fail "the service does not behave under systemd as it should (above)"
fi
echo "check-service: the service runs contained under systemd as docs/gateway-operations.md says" >&2
