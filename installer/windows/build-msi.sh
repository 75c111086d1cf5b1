#!/usr/bin/env bash
# Builds the Windows installer of the client, hjemmekontor-VERSION-x64.msi, on Linux with wixl
# and msibuild (Debian: apt-get install wixl msitools), from a cross-built hjemmekontor.exe and
# the window, hjemmekontor-gui.exe, which must lie beside it:
#
#   bash installer/windows/build-msi.sh PATH/hjemmekontor.exe OUT_DIR [VERSION]
#
# VERSION is the root Cargo.toml's `version` unless given; give it only to build a test package
# (check-msi.sh builds a later version from the same .exe to try a major upgrade). It must be
# major.minor.patch with numbers only, as Windows Installer compares them: major and minor at
# most 255, patch at most 65535.
#
# The package is described by hjemmekontor.wxs beside this script. Two things Debian 12's wixl
# (0.101) cannot say are added to the built package with msibuild: the PATH entry (the
# Environment table) and the database codepage (1252, so «ø» and «–» read the same on every
# Windows). Both programs must import only DLLs that Windows has: that is checked first.
#
# Signing the .exe and the package is left to the operator: see docs/install.md.
set -euo pipefail

usage="usage: build-msi.sh PATH/hjemmekontor.exe OUT_DIR [VERSION]"
fail() { printf 'build-msi: %s\n' "$*" >&2; exit 1; }

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "$usage" >&2
  exit 2
fi
exe=$1
out_dir=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

gui_exe=$(dirname "$exe")/hjemmekontor-gui.exe
[ -f "$exe" ] || fail "no such file: $exe. Build it first: cargo build --release --locked --target x86_64-pc-windows-gnu --no-default-features --features client --bin hjemmekontor"
[ -f "$gui_exe" ] || fail "no such file: $gui_exe (the window). Build it first: cargo build --release --locked --target x86_64-pc-windows-gnu --no-default-features --features gui --bin hjemmekontor-gui"
for tool in wixl msibuild x86_64-w64-mingw32-objdump sha1sum; do
  command -v "$tool" >/dev/null ||
    fail "$tool is missing. Install it: apt-get install wixl msitools binutils-mingw-w64-x86-64"
done

# The version: the first `version = "…"` in Cargo.toml's [package] section.
if [ $# -eq 3 ]; then
  version=$3
else
  version=$(sed -n '/^\[package\]/,/^\[/{s/^version *= *"\([^"]*\)".*/\1/p}' "$root/Cargo.toml" | head -n1)
  [ -n "$version" ] || fail "no version = \"…\" in the [package] section of $root/Cargo.toml"
fi
if ! [[ $version =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] ||
  ((BASH_REMATCH[1] > 255 || BASH_REMATCH[2] > 255 || BASH_REMATCH[3] > 65535)); then
  fail "version «$version» cannot be an MSI ProductVersion: it must be major.minor.patch, numbers only (major and minor at most 255, patch at most 65535); a pre-release such as 1.0.0-rc.1 needs a version of its own, e.g. 0.99.1"
fi

# Every DLL the programs import must be part of Windows (10 and later): the package ships the
# .exe files alone. A MinGW build that links libgcc or winpthreads dynamically would import
# libgcc_s_seh-1.dll or libwinpthread-1.dll, which Windows does not have; Rust's
# x86_64-pc-windows-gnu target links them statically, so today nothing else is needed. The
# window adds the desktop's DLLs: drawing (gdi32, opengl32), the window manager's (dwmapi,
# uxtheme), input methods (imm32), and UI Automation for screen readers (uiautomationcore).
system_dlls=" advapi32.dll bcrypt.dll bcryptprimitives.dll combase.dll crypt32.dll dwmapi.dll
  gdi32.dll imm32.dll kernel32.dll msvcrt.dll ncrypt.dll ntdll.dll ole32.dll oleaut32.dll
  opengl32.dll propsys.dll rpcrt4.dll shell32.dll uiautomationcore.dll user32.dll userenv.dll
  uxtheme.dll winscard.dll ws2_32.dll "
check_imports() { # EXE
  local imports dll
  imports=$(x86_64-w64-mingw32-objdump -p "$1" | sed -n 's/^[[:space:]]*DLL Name: //p' | tr '[:upper:]' '[:lower:]' | sort -u)
  [ -n "$imports" ] || fail "$1 imports no DLL at all: is it a Windows program?"
  for dll in $imports; do
    case $dll in
    api-ms-win-*.dll) continue ;; # API sets: resolved by Windows itself
    esac
    [[ $system_dlls == *" $dll"[[:space:]]* ]] ||
      fail "$1 imports $dll, which is not in the list of Windows DLLs here. If Windows has it, add it to system_dlls in $0; if not (a MinGW runtime DLL such as libgcc_s_seh-1.dll), link it statically or ship it beside the .exe (a File in hjemmekontor.wxs)."
  done
}
check_imports "$exe"
check_imports "$gui_exe"

# One ProductCode per version, derived from it: building the same version twice gives the same
# product, which Windows Installer repairs or refuses instead of installing it a second time.
hash=$(printf 'hjemmekontor x64 %s' "$version" | sha1sum)
product_code=$(printf '%s-%s-5%s-%x%s-%s' "${hash:0:8}" "${hash:8:4}" "${hash:13:3}" \
  $((0x${hash:16:1} & 0x3 | 0x8)) "${hash:17:3}" "${hash:20:12}" | tr '[:lower:]' '[:upper:]')

mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)
msi="$out_dir/hjemmekontor-$version-x64.msi"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# wixl finds File sources relative to the folder it runs in (it takes no absolute paths).
cp "$exe" "$stage/hjemmekontor.exe"
cp "$gui_exe" "$stage/hjemmekontor-gui.exe"
# The locale is fixed: wixl writes the strings in the locale's Windows codepage until the
# codepage is set below, and reads them back the same way.
export LC_ALL=C.UTF-8
(cd "$stage" && wixl --arch x64 --define "Version=$version" --define "ProductCode=$product_code" \
  --output "$stage/package.msi" "$here/hjemmekontor.wxs") ||
  fail "wixl could not build the package from $here/hjemmekontor.wxs (its message is above)"

# The PATH entry, in the Environment table's text form (columns, types, table and key, rows;
# tab-separated). Name: = set on install, - remove on uninstall, * the system's variable, not
# the user's. Value: [~]; first appends to what is there. The component is the .exe's, so the
# entry lives and goes with the program.
printf '%s\t%s\t%s\t%s\n' \
  Environment Name Value Component_ \
  s72 l255 L255 s72 \
  Environment Environment '' '' \
  PathEntry '=-*PATH' '[~];[INSTALLDIR]' HjemmekontorExe | sed 's/\t*$//' >"$stage/Environment.idt"
# The database codepage: Western European (1252), which has Norwegian letters and «–».
printf '\n\n1252\t_ForceCodepage\n' >"$stage/_ForceCodepage.idt"
msibuild "$stage/package.msi" -i "$stage/Environment.idt" ||
  fail "msibuild could not add the Environment table (PATH)"
msibuild "$stage/package.msi" -i "$stage/_ForceCodepage.idt" ||
  fail "msibuild could not set the database codepage"

mv "$stage/package.msi" "$msi"
echo "$msi"
