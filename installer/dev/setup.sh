#!/usr/bin/env bash
# Prepares a Debian/Ubuntu development or CI machine: system packages for the smart-card
# stack (pcscd, the vpcd virtual reader, OpenSC as an independent card client, SoftHSM as a
# PKCS#11 token), then starts pcscd with the virtual reader loaded. Safe to run again: it
# only does what is missing.
#
#   setup.sh              what the demo and the tests need
#   setup.sh --windows    also the Windows cross-build (MinGW, the Rust target
#                         x86_64-pc-windows-gnu) and wine to run its result
#   setup.sh --packaging  also what builds and checks the installers: dpkg-dev, lintian,
#                         wixl and msitools (the MSI), desktop-file-utils, logrotate, shellcheck,
#                         debootstrap and systemd-container (the service booted under systemd)
#   setup.sh --bench      also what the benchmark compares the tunnel with: stunnel4 and
#                         OpenSSH's client and server (installer/dev/bench.sh)
#   setup.sh --fuzzing    also what the fuzz targets need (docs/fuzzing.md): g++, which builds
#                         libFuzzer, and cargo-fuzz
#   setup.sh --desktop    also what the window's desktop test needs (installer/dev/gui-smoke.sh):
#                         an X server (Xvfb) with software OpenGL, xdotool and ImageMagick to
#                         drive and photograph it, xrdp as the office PC and xfreerdp
#   setup.sh --cluster    also what the tests with more than one gateway need: HAProxy in front,
#                         PostgreSQL for the shared audit chain, OpenLDAP (slapd) as a TEST
#                         directory (tests/cluster_*.rs, tests/directory_ldap.rs)
# CI gives all six flags.
set -euo pipefail

packages=(pcscd vsmartcard-vpcd opensc softhsm2 libpcsclite-dev pkg-config ca-certificates procps nftables iptables iproute2)
windows=0
fuzzing=0
for flag in "$@"; do
  case "$flag" in
    --windows) windows=1; packages+=(gcc-mingw-w64-x86-64 wine wine64) ;;
    # adduser, curl and openssl: what the gateway package depends on, so dpkg -i finds them.
    --packaging) packages+=(dpkg-dev lintian wixl msitools desktop-file-utils logrotate shellcheck man-db adduser curl openssl procps debootstrap systemd-container) ;;
    --bench) packages+=(stunnel4 openssh-client openssh-server) ;;
    --fuzzing) fuzzing=1; packages+=(g++) ;;
    # The window opens OpenGL (EGL or GLX) and X11's keyboard and cursor libraries at run time.
    --desktop) packages+=(xvfb xauth x11-utils xdotool imagemagick libgl1-mesa-dri libegl1 libgl1
      libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6 xrdp freerdp2-x11) ;;
    --cluster) packages+=(haproxy postgresql slapd ldap-utils) ;;
    *) echo "usage: setup.sh [--windows] [--packaging] [--bench] [--fuzzing] [--desktop] [--cluster]" >&2; exit 2 ;;
  esac
done

say() { printf '==> %s\n' "$*" >&2; }

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "Run as root or install sudo: packages to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi

if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  restart_pcscd=1
else
  restart_pcscd=0
fi

if ! command -v cargo >/dev/null; then
  echo "cargo (Rust ${RUST_MIN:-1.89} or newer) is required: install it with rustup, then run this again." >&2
  exit 1
fi

if [ "$windows" = 1 ] && ! rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu; then
  command -v rustup >/dev/null || { echo "The Windows build needs rustup (rustup target add x86_64-pc-windows-gnu)." >&2; exit 1; }
  say "adding the Rust target x86_64-pc-windows-gnu (the Windows client)"
  rustup target add x86_64-pc-windows-gnu
fi

if [ "$fuzzing" = 1 ] && ! cargo fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz (the fuzz targets)"
  cargo install cargo-fuzz --locked
fi

# vpcd (the virtual reader driver) listens on 127.0.0.1:35963 once pcscd has loaded it.
vpcd_listening() { grep -qi ':8C7B 00000000:0000 0A' /proc/net/tcp /proc/net/tcp6 2>/dev/null; }

if pidof pcscd >/dev/null && { [ "$restart_pcscd" = 1 ] || ! vpcd_listening; }; then
  say "restarting pcscd so it loads the virtual reader"
  "${sudo_cmd[@]}" pkill -x pcscd || true
  for _ in $(seq 50); do pidof pcscd >/dev/null || break; sleep 0.1; done
fi

if ! pidof pcscd >/dev/null; then
  say "starting pcscd"
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    "${sudo_cmd[@]}" systemctl start pcscd.socket pcscd.service
  else
    "${sudo_cmd[@]}" pcscd
  fi
fi

for _ in $(seq 100); do
  vpcd_listening && break
  sleep 0.1
done
vpcd_listening || { echo "pcscd is running but the virtual reader (vpcd) is not listening on port 35963." >&2; exit 1; }
say "smart card stack ready (pcscd with the virtual reader)"
