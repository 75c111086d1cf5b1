#!/usr/bin/env bash
# Builds the macOS installer of the client, hjemmekontor-VERSION.pkg: one universal binary
# (Apple silicon and Intel) in /usr/local/bin, its man pages and its zsh, bash and fish
# completions, for macOS 13 and later. Runs on a Mac only (it needs Xcode's command line tools:
# lipo, pkgbuild, productbuild); it is not run by this project's CI, which has no Mac.
#
#   bash installer/macos/build-pkg.sh OUT_DIR
#
# Needs the Rust targets aarch64-apple-darwin and x86_64-apple-darwin
# (rustup target add aarch64-apple-darwin x86_64-apple-darwin). VERSION is the root
# Cargo.toml's version.
#
# Signing and notarization, all optional, through the environment:
#   HJEMMEKONTOR_APP_SIGN="Developer ID Application: NAME (TEAMID)"
#       signs the binary (hardened runtime, secure timestamp) before it is packaged;
#   HJEMMEKONTOR_PKG_SIGN="Developer ID Installer: NAME (TEAMID)"
#       signs the package (productbuild --sign); needs HJEMMEKONTOR_APP_SIGN too, since Apple's
#       notary service refuses a signed package with an unsigned program inside;
#   HJEMMEKONTOR_NOTARY_PROFILE=PROFILE
#       then sends the signed package to Apple's notary service and staples the ticket to it:
#         xcrun notarytool submit OUT.pkg --keychain-profile PROFILE --wait
#         xcrun stapler staple OUT.pkg
#       (the profile is made once with `xcrun notarytool store-credentials PROFILE`).
# The certificates must be in the login keychain. See docs/install.md.
set -euo pipefail

usage="usage: build-pkg.sh OUT_DIR"
if [ "$(uname -s)" != Darwin ]; then
  echo "build-pkg.sh builds the macOS package and runs on macOS only (this is $(uname -s)): run it on a Mac with Xcode's command line tools." >&2
  exit 2
fi
if [ $# -ne 1 ]; then
  echo "$usage" >&2
  exit 2
fi
fail() { printf 'build-pkg: %s\n' "$*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mkdir -p "$1"
out_dir=$(cd "$1" && pwd)

for tool in cargo rustup lipo pkgbuild productbuild; do
  command -v "$tool" >/dev/null ||
    fail "$tool is missing: install Xcode's command line tools (xcode-select --install) and Rust (rustup)"
done
targets=(aarch64-apple-darwin x86_64-apple-darwin)
for target in "${targets[@]}"; do
  rustup target list --installed | grep -qx "$target" ||
    fail "the Rust target $target is missing: rustup target add $target"
done
app_sign=${HJEMMEKONTOR_APP_SIGN:-}
pkg_sign=${HJEMMEKONTOR_PKG_SIGN:-}
notary_profile=${HJEMMEKONTOR_NOTARY_PROFILE:-}
if [ -n "$pkg_sign" ] && [ -z "$app_sign" ]; then
  echo "build-pkg: HJEMMEKONTOR_PKG_SIGN is set but HJEMMEKONTOR_APP_SIGN is not: a signed package needs a signed program inside (set HJEMMEKONTOR_APP_SIGN=\"Developer ID Application: …\")." >&2
  exit 2
fi
if [ -n "$notary_profile" ] && [ -z "$pkg_sign" ]; then
  echo "build-pkg: HJEMMEKONTOR_NOTARY_PROFILE is set but the package is not signed: set HJEMMEKONTOR_PKG_SIGN and HJEMMEKONTOR_APP_SIGN too." >&2
  exit 2
fi

version=$(sed -n '/^\[package\]/,/^\[/{s/^version *= *"\([^"]*\)".*/\1/p;}' "$root/Cargo.toml" | head -n1)
[ -n "$version" ] || fail "no version = \"…\" in the [package] section of $root/Cargo.toml"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"

# The client, once for each architecture, joined into one universal binary; built for macOS 13,
# the oldest the package allows, whatever macOS this Mac runs.
export MACOSX_DEPLOYMENT_TARGET=13.0
slices=()
for target in "${targets[@]}"; do
  cargo build --release --locked --target "$target" --no-default-features --features client --bin hjemmekontor
  slices+=("target/$target/release/hjemmekontor")
done
lipo -create -output "$work/hjemmekontor" "${slices[@]}"
for arch in arm64 x86_64; do
  lipo "$work/hjemmekontor" -verify_arch "$arch" || fail "the universal binary has no $arch slice"
done

# The man pages and the completions, written by the generator built for this Mac.
cargo build --release --locked --no-default-features --features manuals --bin hjemmekontor-manuals
target/release/hjemmekontor-manuals --out "$work/manuals"

# What the package installs, laid out under / (everything in /usr/local, which macOS leaves to
# software the user installs):
#   /usr/local/bin/hjemmekontor
#   /usr/local/share/man/man1/hjemmekontor*.1                      (man hjemmekontor, one a command)
#   /usr/local/share/zsh/site-functions/_hjemmekontor              (macOS's zsh looks here)
#   /usr/local/share/bash-completion/completions/hjemmekontor      (bash-completion 2)
#   /usr/local/share/fish/vendor_completions.d/hjemmekontor.fish   (fish)
stage="$work/root"
install -d -m 755 "$stage/usr/local/bin" "$stage/usr/local/share/man/man1" \
  "$stage/usr/local/share/zsh/site-functions" "$stage/usr/local/share/bash-completion/completions" \
  "$stage/usr/local/share/fish/vendor_completions.d"
install -m 755 "$work/hjemmekontor" "$stage/usr/local/bin/hjemmekontor"
# The generator writes the gateway's pages too (hjemmekontor-gateway*.1): only the client's go.
pages=()
for page in "$work"/manuals/man/man1/hjemmekontor.1 "$work"/manuals/man/man1/hjemmekontor-*.1; do
  case ${page##*/} in
  hjemmekontor-gateway.1 | hjemmekontor-gateway-*.1) continue ;;
  esac
  if [ -e "$page" ]; then pages+=("$page"); fi
done
[ -e "$work/manuals/man/man1/hjemmekontor.1" ] ||
  fail "hjemmekontor-manuals wrote no hjemmekontor.1 in $work/manuals/man/man1"
install -m 644 "${pages[@]}" "$stage/usr/local/share/man/man1/"
install -m 644 "$work/manuals/completions/zsh/_hjemmekontor" "$stage/usr/local/share/zsh/site-functions/_hjemmekontor"
install -m 644 "$work/manuals/completions/bash/hjemmekontor" "$stage/usr/local/share/bash-completion/completions/hjemmekontor"
install -m 644 "$work/manuals/completions/fish/hjemmekontor.fish" "$stage/usr/local/share/fish/vendor_completions.d/hjemmekontor.fish"

if [ -n "$app_sign" ]; then
  # Hardened runtime and a secure timestamp: what the notary service requires.
  codesign --force --sign "$app_sign" --options runtime --timestamp "$stage/usr/local/bin/hjemmekontor"
  codesign --verify --strict --verbose=2 "$stage/usr/local/bin/hjemmekontor"
fi

# The component package: the files above, owned by root, installed at /.
pkgbuild --root "$stage" --identifier no.hjemmekontor.client --version "$version" \
  --install-location / --ownership recommended "$work/hjemmekontor-client.pkg"

# The product package: its title, macOS 13 or later, Apple silicon or Intel, for the whole
# machine, nothing to choose.
cat >"$work/distribution.xml" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<installer-gui-script minSpecVersion="2">
    <title>Hjemmekontor $version</title>
    <options customize="never" require-scripts="false" hostArchitectures="arm64,x86_64"/>
    <domains enable_anywhere="false" enable_currentUserHome="false" enable_localSystem="true"/>
    <volume-check>
        <allowed-os-versions>
            <os-version min="13.0"/>
        </allowed-os-versions>
    </volume-check>
    <choices-outline>
        <line choice="no.hjemmekontor.client"/>
    </choices-outline>
    <choice id="no.hjemmekontor.client" title="Hjemmekontor" visible="false">
        <pkg-ref id="no.hjemmekontor.client"/>
    </choice>
    <pkg-ref id="no.hjemmekontor.client" version="$version" onConclusion="none">hjemmekontor-client.pkg</pkg-ref>
</installer-gui-script>
EOF
pkg="$out_dir/hjemmekontor-$version.pkg"
sign_args=()
[ -z "$pkg_sign" ] || sign_args=(--sign "$pkg_sign" --timestamp)
# (The guarded expansion keeps macOS's own bash 3.2 from calling an empty array unbound.)
productbuild --distribution "$work/distribution.xml" --package-path "$work" \
  ${sign_args[@]+"${sign_args[@]}"} "$pkg"

if [ -n "$pkg_sign" ]; then
  pkgutil --check-signature "$pkg"
fi
if [ -n "$notary_profile" ]; then
  xcrun notarytool submit "$pkg" --keychain-profile "$notary_profile" --wait
  xcrun stapler staple "$pkg"
  xcrun stapler validate "$pkg"
  spctl --assess --type install --verbose=2 "$pkg"
fi
echo "$pkg"
