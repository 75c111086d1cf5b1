#!/usr/bin/env bash
# Builds the Debian packages of the client and the gateway from this source tree:
#
#   hjemmekontor_VERSION-1_ARCH.deb          the client: the window (hjemmekontor-gui) with
#                                            its menu entry, the command line, manual pages
#                                            and completions
#   hjemmekontor-gateway_VERSION-1_ARCH.deb  the gateway as a contained systemd service
#
#   bash installer/debian/build-debs.sh OUT_DIR
#
# The programs are release builds of one feature each (`gui`, the client with its window, and
# `gateway`), so neither package carries the virtual card or the TEST PKI. Needs cargo, dpkg-dev (for
# dpkg-shlibdeps) and a Debian/Ubuntu machine. CARGO_TARGET_DIR is honoured.
set -euo pipefail

out=${1:?usage: build-debs.sh OUT_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/installer/debian
target_dir=${CARGO_TARGET_DIR:-$root/target}
revision=1
maintainer="Hjemmekontor <drift@hjemmekontor.no>"
homepage="https://hjemmekontor.no"

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
[ -n "$version" ] || { echo "build-debs: no version in Cargo.toml" >&2; exit 1; }
arch=$(dpkg --print-architecture)
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say() { printf '==> %s\n' "$*" >&2; }

build_programs() {
  cd "$root"
  # The client package's two programs in one build: feature gui is the client and its window,
  # and one build of their shared crates is half the time of two.
  say "release build: hjemmekontor and hjemmekontor-gui (the client and its window)"
  cargo build --release --locked --no-default-features --features gui --bin hjemmekontor --bin hjemmekontor-gui
  say "release build: hjemmekontor-gateway"
  cargo build --release --locked --no-default-features --features gateway --bin hjemmekontor-gateway
  say "manual pages and completions"
  cargo build --locked --bin hjemmekontor-manuals
  "$target_dir/debug/hjemmekontor-manuals" --out "$work/manuals" >/dev/null
}

# stage_common PKG PROGRAM: the program, its manual pages, completions and Debian docs.
stage_common() {
  local pkg=$1 program=$2 tree=$work/$1 page name
  install -D -m 0755 "$target_dir/release/$program" "$tree/usr/bin/$program"
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$tree/usr/bin/$program"
  if [ -f "$here/$pkg.lintian-overrides" ]; then
    install -D -m 0644 "$here/$pkg.lintian-overrides" "$tree/usr/share/lintian/overrides/$pkg"
  fi
  install -d "$tree/usr/share/man/man1"
  for page in "$work/manuals/man/man1/$program".1 "$work/manuals/man/man1/$program"-*.1; do
    # The client's pages are hjemmekontor*.1 except the gateway's hjemmekontor-gateway*.1.
    name=$(basename "$page")
    if [ "$program" = hjemmekontor ] && [[ $name == hjemmekontor-gateway* ]]; then
      continue
    fi
    gzip -9nc "$page" >"$tree/usr/share/man/man1/$name.gz"
  done
  install -D -m 0644 "$work/manuals/completions/bash/$program" \
    "$tree/usr/share/bash-completion/completions/$program"
  install -D -m 0644 "$work/manuals/completions/zsh/_$program" \
    "$tree/usr/share/zsh/vendor-completions/_$program"
  install -D -m 0644 "$work/manuals/completions/fish/$program.fish" \
    "$tree/usr/share/fish/vendor_completions.d/$program.fish"
  install -D -m 0644 "$here/copyright" "$tree/usr/share/doc/$pkg/copyright"
  sed "s/@PACKAGE@/$pkg/; s/@VERSION@/$version-$revision/; s/@DATE@/$(changelog_date)/" \
    "$here/changelog.in" | gzip -9n >"$tree/usr/share/doc/$pkg/changelog.Debian.gz"
}

# The date of the last commit, so that two builds of one commit give the same files.
changelog_date() {
  local epoch=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}
  LC_ALL=C date -u -R -d "@$epoch"
}

stage_client() {
  local tree=$work/hjemmekontor
  stage_common hjemmekontor hjemmekontor
  # The window: its program and manual page (a window needs no shell completion).
  install -m 0755 "$target_dir/release/hjemmekontor-gui" "$tree/usr/bin/hjemmekontor-gui"
  strip --strip-unneeded --remove-section=.comment --remove-section=.note "$tree/usr/bin/hjemmekontor-gui"
  gzip -9nc "$work/manuals/man/man1/hjemmekontor-gui.1" >"$tree/usr/share/man/man1/hjemmekontor-gui.1.gz"
  install -D -m 0644 "$root/installer/client/no.hjemmekontor.Hjemmekontor.desktop" \
    "$tree/usr/share/applications/no.hjemmekontor.Hjemmekontor.desktop"
  install -D -m 0644 "$root/installer/client/no.hjemmekontor.Hjemmekontor.svg" \
    "$tree/usr/share/icons/hicolor/scalable/apps/no.hjemmekontor.Hjemmekontor.svg"
}

stage_gateway() {
  local pkg=hjemmekontor-gateway tree=$work/hjemmekontor-gateway
  local examples=$tree/usr/share/doc/$pkg/examples
  stage_common "$pkg" hjemmekontor-gateway
  install -d "$tree/lib/systemd/system"
  install -m 0644 "$root"/installer/gateway/systemd/hjemmekontor-gateway*.{service,timer} \
    "$tree/lib/systemd/system/"
  install -D -m 0755 "$root/installer/gateway/refresh-crls" \
    "$tree/usr/libexec/hjemmekontor-gateway/refresh-crls"
  install -D -m 0644 "$root/installer/gateway/logrotate" "$tree/etc/logrotate.d/$pkg"
  install -D -m 0644 "$root/installer/gateway/crl-sources" "$tree/etc/hjemmekontor/crl-sources"
  packaged_config >"$work/gateway.toml"
  install -D -m 0640 "$work/gateway.toml" "$tree/etc/hjemmekontor/gateway.toml"
  install -d -m 0750 "$tree/etc/hjemmekontor/tls"
  install -d -m 0755 "$tree/etc/hjemmekontor/ca"
  install -D -m 0644 "$root/installer/gateway/gateway.example.toml" "$examples/gateway.example.toml"
  install -m 0644 "$root/installer/gateway/systemd/low-port.conf" \
    "$root/installer/gateway/systemd/log-to-file.conf" "$examples/"
  # Several gateways (docs/cluster.md): HAProxy in front, the shared database's schema.
  install -m 0644 "$root/installer/gateway/haproxy.cfg" "$examples/"
  install -D -m 0644 "$root/installer/gateway/postgres/schema.sql" "$examples/postgres/schema.sql"
  install -D -m 0755 "$here/gateway/postinst" "$tree/DEBIAN/postinst"
  install -m 0755 "$here/gateway/prerm" "$here/gateway/postrm" "$tree/DEBIAN/"
  # dpkg keeps an operator's edits of these across upgrades (and asks before replacing them).
  (cd "$tree" && find etc -type f | sort | sed 's|^|/|') >"$tree/DEBIAN/conffiles"
}

# The example configuration with the package's paths: certificates under /etc/hjemmekontor,
# CRLs, the audit log and the lockout state under /var/lib/hjemmekontor-gateway (the only
# place the service may write).
packaged_config() {
  local example=$root/installer/gateway/gateway.example.toml text
  text=$(cat "$here/gateway/config-header.toml"; sed '1,/^$/d' "$example")
  text=$(replace_line "$text" 'server_cert = "pki/gateway.pem"' 'server_cert = "/etc/hjemmekontor/tls/gateway.pem"')
  text=$(replace_line "$text" 'server_key = "pki/gateway.key"' 'server_key = "/etc/hjemmekontor/tls/gateway.key"')
  text=$(replace_line "$text" 'anchors = ["pki/root-ca.pem"]' 'anchors = ["/etc/hjemmekontor/ca/root-ca.pem"]')
  text=$(replace_line "$text" 'intermediates = ["pki/person-ca.pem"]' 'intermediates = ["/etc/hjemmekontor/ca/person-ca.pem"]')
  text=$(replace_line "$text" 'crls = ["pki/crl.pem"]' 'crls = ["/var/lib/hjemmekontor-gateway/crl/person-ca.crl"]')
  text=$(replace_line "$text" 'path = "audit.log"' 'path = "/var/lib/hjemmekontor-gateway/audit.jsonl"')
  printf '%s\n' "$text"
}

# replace_line TEXT OLD NEW: OLD must be one whole line of TEXT, exactly once.
replace_line() {
  local count
  count=$(grep -cxF -- "$2" <<<"$1" || true)
  [ "$count" = 1 ] || { echo "build-debs: the example no longer has the line «$2» once (found $count)" >&2; exit 1; }
  awk -v old="$2" -v new="$3" '$0 == old { print new; next } { print }' <<<"$1"
}

# control PKG DEPENDS RECOMMENDS SECTION SUMMARY: DEBIAN/control, with the shared libraries
# the program needs found by dpkg-shlibdeps.
control() {
  local pkg=$1 depends=$2 recommends=$3 section=$4 summary=$5 tree=$work/$1 shlibs size
  mkdir -p "$work/shlibs-$pkg/debian" "$tree/DEBIAN"
  printf 'Source: hjemmekontor\n\nPackage: %s\nArchitecture: any\n' "$pkg" >"$work/shlibs-$pkg/debian/control"
  shlibs=$(cd "$work/shlibs-$pkg" && dpkg-shlibdeps -O "$tree/usr/bin/"* | sed -n 's/^shlibs:Depends=//p')
  size=$(du -sk --exclude=DEBIAN "$tree" | cut -f1)
  {
    echo "Package: $pkg"
    echo "Version: $version-$revision"
    echo "Architecture: $arch"
    echo "Maintainer: $maintainer"
    echo "Installed-Size: $size"
    echo "Depends: ${shlibs:+$shlibs, }$depends"
    [ -z "$recommends" ] || echo "Recommends: $recommends"
    echo "Section: $section"
    echo "Priority: optional"
    echo "Homepage: $homepage"
    echo "Description: $summary"
    sed 's/^/ /; s/^ $/ ./' "$here/$pkg.description"
  } >"$tree/DEBIAN/control"
}

build_programs
say "staging the packages"
stage_client
stage_gateway
# The window's libraries that it opens at run time (OpenGL through EGL or GLX, and X11's
# keyboard and cursor), which dpkg-shlibdeps cannot see.
control hjemmekontor "pcscd, libegl1, libgl1, libxkbcommon-x11-0, libxcursor1, libxrandr2, libxi6" \
  "opensc, freerdp2-x11" net \
  "reach your office PC in Helsenettet from home with your smart card"
# procps: /bin/kill, which the unit's ExecReload sends SIGHUP with.
control hjemmekontor-gateway "adduser, curl, openssl, procps" "logrotate" net \
  "gateway that lets health personnel reach their office PCs with a smart card"
for pkg in hjemmekontor hjemmekontor-gateway; do
  file="$out/${pkg}_${version}-${revision}_${arch}.deb"
  dpkg-deb --build --root-owner-group -Zxz "$work/$pkg" "$file" >/dev/null
  say "built $file"
done
