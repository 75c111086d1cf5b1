#!/usr/bin/env bash
# Runs the Windows client (hjemmekontor.exe, cross-built) under wine and checks what works
# without a card: it starts, and the certificate core (levels, verdicts, chain and CRL through
# webpki) gives the same answers as on Linux for certificates from a fresh TEST PKI, and
# `posture --json` gives a coherent report from the real Windows probes. Given the library's
# unit tests built for Windows, it runs them too.
#
#   bash installer/dev/wine/smoke.sh PATH/hjemmekontor.exe PATH/hjemmekontor-vcard [UNIT-TESTS.exe]
#
# The second program is the native virtual-card tool; it writes the TEST PKI. Everything runs
# in a scratch directory with its own throwaway wine prefix, without a display. Card commands
# are not checked: wine's smart-card service does not reach pcscd (see docs/windows.md).
set -euo pipefail

usage="usage: smoke.sh PATH/hjemmekontor.exe PATH/hjemmekontor-vcard [UNIT-TESTS.exe]"
exe=${1:?$usage}
vcard=${2:?$usage}
unit_tests=${3:-}
here=$(cd "$(dirname "$0")" && pwd)

scratch=$(mktemp -d)
export WINEPREFIX="$scratch/prefix" WINEDEBUG=-all
unset DISPLAY WAYLAND_DISPLAY
cleanup() {
  # Stops the wine server of this prefix only, then removes the prefix with everything else.
  wineserver -k 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT

fail() { printf 'wine smoke: FAILED: %s\n' "$*" >&2; exit 1; }

# The test-only stand-in for bcryptprimitives.dll (see bcryptprimitives.c), next to the .exe in
# the scratch directory only.
cp "$exe" "$scratch/hjemmekontor.exe"
x86_64-w64-mingw32-gcc -shared -O2 -Wall -Wextra -Werror -o "$scratch/bcryptprimitives.dll" \
  "$here/bcryptprimitives.c" -ladvapi32
"$vcard" pki --out "$scratch/pki" >/dev/null 2>&1 || fail "hjemmekontor-vcard pki"
cd "$scratch"

# Runs the client under wine; sets $out and $rc.
client() {
  rc=0
  # The checks read bokmål; under wine the system language is English.
  out=$(wine hjemmekontor.exe --lang nb "$@" 2>&1) || rc=$?
}
expect() { # expect RC PATTERN... — every pattern (fixed string) is in the last output
  local want=$1
  shift
  [ "$rc" = "$want" ] || fail "exit code $rc, expected $want:"$'\n'"$out"
  for pattern in "$@"; do
    grep -qF -- "$pattern" <<<"$out" || fail "missing «$pattern» in:"$'\n'"$out"
  done
}

version=$("$vcard" --version)
client --version
expect 0 "hjemmekontor ${version##* }"

# Refused as a TEST certificate, but its policy is Person-High.
client cert inspect pki/person-high.pem --json
expect 4 '"policy_level": "person-high"' '"test_certificate": true' '"code": "level-too-low"'

chain=(--roots pki/root-ca.pem --intermediates pki/person-ca.pem --crl pki/crl.pem --test-environment)
client cert inspect pki/person-high.pem "${chain[@]}" --json
expect 0 '"level": "person-high"' '"trusted": true' '"revocation_checked": true' '"usable": true'
client cert inspect pki/revoked.pem "${chain[@]}" --json
expect 4 '"code": "revoked"' '"usable": false'
client cert inspect pki/expired.pem --test-environment
expect 4 'Kan IKKE brukes til innlogging'
# Without --lang the Windows system language decides: wine's is English.
rc=0
out=$(env -u LC_ALL -u LC_MESSAGES LANG=C wine hjemmekontor.exe cert inspect pki/expired.pem --test-environment 2>&1) || rc=$?
expect 4 'Can NOT be used to log in'

# The posture report (the Windows probes, for real, under wine): whole and coherent. Much is
# missing under wine (Security Center, the firewall's WMI provider, a working PowerShell), so
# facts may be unknown, but each must say why, and the OS is Windows or unknown saying why.
client posture --json
expect 0 '"report": {' '"taken_at": '
grep -qE '^    "version": [1-9][0-9]*,$' <<<"$out" || fail "no report version in:"$'\n'"$out"
[ "$(grep -cE '"state": "(known|unknown)"' <<<"$out")" = 6 ] || fail "not six facts in:"$'\n'"$out"
grep -qF '"family": "windows"' <<<"$out" ||
  grep -A2 -F '"os": {' <<<"$out" | grep -qE '"reason": "[^"]+"' ||
  fail "the OS is neither Windows nor unknown with a reason:"$'\n'"$out"
unknown=$(grep -c '"state": "unknown"' <<<"$out" || true)
reasons=$(grep -cE '"reason": "[^"]+"' <<<"$out" || true)
[ "$unknown" = "$reasons" ] || fail "$unknown unknown facts but $reasons reasons in:"$'\n'"$out"

echo "wine smoke: hjemmekontor.exe starts; cert inspect gives the expected verdicts; posture reports coherently ($unknown facts unknown, each saying why)" >&2

if [ -n "$unit_tests" ]; then
  cp "$unit_tests" unit-tests.exe
  wine unit-tests.exe || fail "the library's unit tests under wine"
fi
