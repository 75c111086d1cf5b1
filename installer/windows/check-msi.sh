#!/usr/bin/env bash
# Checks the Windows installer built by build-msi.sh, first by reading its tables, then by
# installing it under wine:
#
#   bash installer/windows/check-msi.sh PATH/hjemmekontor-VERSION-x64.msi PATH/hjemmekontor.exe
#
# The .exe is the one the package was built from.
#
# 1. The tables (msiinfo): the File table holds hjemmekontor.exe and hjemmekontor-gui.exe, in
#    64-bit components in ProgramFiles64Folder\Hjemmekontor (the Directory table); the Shortcut
#    table holds both Start-menu entries with their target and arguments; the Environment table
#    appends the folder to the system PATH and removes it on uninstall; the version, the
#    UpgradeCode and the major-upgrade rule are there, and the codepage is 1252. Every problem
#    is named, then it stops.
# 2. Under wine, in a throwaway prefix, without a display: `msiexec /i … /qn` puts both programs
#    in C:\Program Files\Hjemmekontor, the folder in the system PATH and the entry in «Apps and
#    features»; both print the version (hjemmekontor found through PATH too); the Start-menu
#    shortcuts, run as written, start the window («Hjemmekontor») and doctor through cmd.exe,
#    leaving a prompt in the user's folder. `msiexec /x` takes all of it away again.
# 3. Major upgrade: a later version (built here from the same .exe) replaces the installed one,
#    leaving one product and one PATH entry; the older package then refuses to install; the
#    uninstall leaves nothing behind.
#
# Test-only pieces: the programs need a stand-in bcryptprimitives.dll under wine (see
# installer/dev/wine/bcryptprimitives.c), which is put next to the installed .exe in the
# throwaway prefix only, and taken away before the uninstall; run-shortcut.c beside this script
# opens the shortcuts, which wine's shell cannot do without a display. Wine's own shortcomings
# that the checks allow for are named where they do (see docs/windows.md).
set -euo pipefail

usage="usage: check-msi.sh PATH/hjemmekontor-VERSION-x64.msi PATH/hjemmekontor.exe"
# The window, hjemmekontor-gui.exe, lies beside hjemmekontor.exe (as build-msi.sh wants it).
if [ $# -ne 2 ]; then
  echo "$usage" >&2
  exit 2
fi
msi=$1
exe=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

say() { printf 'check-msi: %s\n' "$*" >&2; }
fail() {
  printf 'check-msi: FAILED: %s\n' "$*" >&2
  exit 1
}

[ -f "$msi" ] || fail "no such file: $msi. Build it with installer/windows/build-msi.sh."
[ -f "$exe" ] || fail "no such file: $exe"
gui_exe=$(dirname "$exe")/hjemmekontor-gui.exe
[ -f "$gui_exe" ] || fail "no such file: $gui_exe"
for tool in msiinfo wine wineboot wineserver winepath x86_64-w64-mingw32-gcc; do
  command -v "$tool" >/dev/null ||
    fail "$tool is missing. Install it: apt-get install msitools wine gcc-mingw-w64-x86-64"
done

version=$(sed -n '/^\[package\]/,/^\[/{s/^version *= *"\([^"]*\)".*/\1/p}' "$root/Cargo.toml" | head -n1)
[ -n "$version" ] || fail "no version = \"…\" in the [package] section of $root/Cargo.toml"
upgrade_code='{9B455D8C-32FB-4852-89DB-BF6B3E056FBA}' # hjemmekontor.wxs; it must never change

# ---------------------------------------------------------------------------------------------
# 1. The tables
# ---------------------------------------------------------------------------------------------

problems=()
missing() { problems+=("$*"); }

# The rows of a table (msiinfo's three header lines left out), one a line, tab-separated.
rows() { msiinfo export "$msi" "$1" 2>/dev/null | tail -n +4 | tr -d '\r'; }
# The long name of a Filename column («SHORT|long» or «long»).
long_name() { printf '%s\n' "${1##*|}"; }
property() { rows Property | awk -F '\t' -v p="$1" '$1 == p { print $2 }'; }

tables=$(msiinfo tables "$msi" 2>/dev/null) || fail "msiinfo cannot read $msi: is it an MSI package?"
for table in File Component Directory Shortcut Environment Property Upgrade InstallExecuteSequence; do
  grep -qx "$table" <<<"$tables" || missing "the package has no $table table"
done

# File: each program, the size of the .exe given, in a 64-bit component in INSTALLDIR; the
# component's id goes into the variable VAR.
expect_file() { # NAME PATH VAR
  local name=$1 path=$2 want_size row id component size comp_dir comp_attr
  want_size=$(stat -c %s "$path")
  row=""
  while IFS=$'\t' read -r id component file_name size _; do
    [ "$(long_name "$file_name")" = "$name" ] && row="$id $component $size"
  done < <(rows File)
  if [ -z "$row" ]; then
    missing "the File table has no $name"
    return
  fi
  read -r _ component size <<<"$row"
  [ "$size" = "$want_size" ] ||
    missing "the File table's $name has $size bytes, $path has $want_size: not built from this .exe"
  # Component: in INSTALLDIR, 64-bit (attribute 256).
  row=$(rows Component | awk -F '\t' -v c="$component" '$1 == c { print $3, $4 }')
  read -r comp_dir comp_attr <<<"${row:-? 0}"
  [ "$comp_dir" = INSTALLDIR ] ||
    missing "the component $component of $name is not in INSTALLDIR (it is in «$comp_dir»)"
  (((comp_attr & 256) != 0)) || missing "the component $component of $name is not marked 64-bit (Win64)"
  printf -v "$3" '%s' "$component"
}
exe_component=""
expect_file hjemmekontor.exe "$exe" exe_component
expect_file hjemmekontor-gui.exe "$gui_exe" gui_component

# Directory: INSTALLDIR = ProgramFiles64Folder\Hjemmekontor.
directories=$(rows Directory)
install_dir_row=$(awk -F '\t' '$1 == "INSTALLDIR" { print $2 "\t" $3 }' <<<"$directories")
[ "${install_dir_row%%$'\t'*}" = ProgramFiles64Folder ] ||
  missing "the Directory table has no INSTALLDIR under ProgramFiles64Folder"
[ "$(long_name "${install_dir_row#*$'\t'}")" = Hjemmekontor ] ||
  missing "the Directory table's INSTALLDIR is not named Hjemmekontor"
awk -F '\t' '$1 == "ProgramFiles64Folder" && $2 == "TARGETDIR" { found = 1 } END { exit !found }' \
  <<<"$directories" || missing "the Directory table has no ProgramFiles64Folder under TARGETDIR"
awk -F '\t' '$1 == "ProgramMenuFolder" && $2 == "TARGETDIR" { found = 1 } END { exit !found }' \
  <<<"$directories" || missing "the Directory table has no ProgramMenuFolder (the Start menu) under TARGETDIR"

# Shortcut: both entries, in the Start menu: the window itself, and cmd.exe /k running
# hjemmekontor.exe doctor.
shortcuts=$(rows Shortcut)
expect_shortcut() { # NAME TARGET ARGUMENTS
  local name=$1 want_target=$2 want_args=$3 row dir target args
  row=$(awk -F '\t' -v n="$name" '{ l = $3; sub(/^[^|]*\|/, "", l) } l == n { print $2 "\t" $5 "\t" $6 }' <<<"$shortcuts")
  if [ -z "$row" ]; then
    missing "the Shortcut table has no «$name»"
    return
  fi
  IFS=$'\t' read -r dir target args <<<"$row"
  [ "$dir" = ProgramMenuFolder ] || missing "the shortcut «$name» is in $dir, not in the Start menu (ProgramMenuFolder)"
  [ "$target" = "$want_target" ] || missing "the shortcut «$name» runs «$target», not «$want_target»"
  [ "$args" = "$want_args" ] || missing "the shortcut «$name» has the arguments «$args», not «$want_args»"
}
expect_shortcut "Hjemmekontor" '[INSTALLDIR]hjemmekontor-gui.exe' ""
expect_shortcut "Hjemmekontor – sjekk oppsettet" '[System64Folder]cmd.exe' \
  '/k "cd /d "%USERPROFILE%" && "[INSTALLDIR]hjemmekontor.exe" doctor"'

# Environment: the system PATH, appended to, removed on uninstall, with the .exe's component.
path_row=""
while IFS=$'\t' read -r _ name value component; do
  [[ ${name##*[=+!*-]} == [Pp][Aa][Tt][Hh] ]] && path_row="${name%[Pp][Aa][Tt][Hh]}"$'\t'"$value"$'\t'"$component"
done < <(rows Environment)
if [ -z "$path_row" ]; then
  missing "the Environment table has no PATH entry"
else
  IFS=$'\t' read -r flags value component <<<"$path_row"
  [[ $flags == *'*'* ]] || missing "the PATH entry is the user's, not the system's (no * in its name)"
  [[ $flags == *-* ]] || missing "the PATH entry is not removed on uninstall (no - in its name)"
  [[ $value == '[~];'* ]] || missing "the PATH entry does not append to PATH (its value «$value» does not start with [~];)"
  [[ $value == *'[INSTALLDIR]'* ]] || missing "the PATH entry does not name the install folder (its value is «$value»)"
  [ "$component" = "${exe_component:-}" ] ||
    missing "the PATH entry belongs to the component «$component», not to hjemmekontor.exe's"
fi
sequence=$(rows InstallExecuteSequence | cut -f1)
for action in WriteEnvironmentStrings RemoveEnvironmentStrings FindRelatedProducts RemoveExistingProducts; do
  grep -qx "$action" <<<"$sequence" || missing "the InstallExecuteSequence has no $action"
done

# Product, per-machine install, major upgrade.
[ "$(property ProductName)" = Hjemmekontor ] || missing "the product is not named Hjemmekontor"
[ "$(property ProductVersion)" = "$version" ] ||
  missing "the package's ProductVersion is «$(property ProductVersion)», Cargo.toml's version is $version"
[ "$(property UpgradeCode)" = "$upgrade_code" ] ||
  missing "the UpgradeCode is «$(property UpgradeCode)», not $upgrade_code: a changed UpgradeCode breaks upgrades"
[ "$(property ALLUSERS)" = 1 ] || missing "the package is not per-machine (ALLUSERS is not 1)"
rows Upgrade | awk -F '\t' -v u="$upgrade_code" -v v="$version" \
  '$1 == u && $2 == "" && $3 == v && $7 == "WIX_UPGRADE_DETECTED" { found = 1 } END { exit !found }' ||
  missing "the Upgrade table has no rule that finds older versions (UpgradeCode $upgrade_code, up to $version)"
msiinfo suminfo "$msi" | grep -q '^Template: x64;' || missing "the package is not a 64-bit package (its Template is not x64)"
# The database codepage, without which Windows reads «ø» and «–» in its own codepage.
msiinfo export "$msi" _ForceCodepage 2>/dev/null | tr -d '\r' | grep -qx $'1252\t_ForceCodepage' ||
  missing "the package's database codepage is not 1252"

if [ ${#problems[@]} -gt 0 ]; then
  printf 'check-msi: FAILED: %s\n' "${problems[@]}" >&2
  exit 1
fi
product_code=$(property ProductCode)
say "the tables hold the .exe, the Program Files folder, both shortcuts, the PATH entry and the upgrade rule"

# ---------------------------------------------------------------------------------------------
# 2. Install, run, uninstall under wine
# ---------------------------------------------------------------------------------------------

scratch=$(mktemp -d)
# winemenubuilder would turn the shortcuts into menu entries of this Linux user: it is off,
# and what the desktop integration might write goes to the scratch directory anyway.
export WINEPREFIX="$scratch/prefix" WINEDEBUG=-all WINEDLLOVERRIDES='winemenubuilder.exe=d;mscoree,mshtml=' \
  XDG_DATA_HOME="$scratch/xdg-data" XDG_CONFIG_HOME="$scratch/xdg-config"
unset DISPLAY WAYLAND_DISPLAY
cleanup() {
  # Stops the wine server of this prefix only, then removes the prefix with everything else.
  wineserver -k 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT

cp "$msi" "$scratch/package.msi"
x86_64-w64-mingw32-gcc -shared -O2 -Wall -Wextra -Werror -o "$scratch/bcryptprimitives.dll" \
  "$root/installer/dev/wine/bcryptprimitives.c" -ladvapi32
x86_64-w64-mingw32-gcc -municode -O2 -Wall -Wextra -Werror -o "$scratch/run-shortcut.exe" \
  "$here/run-shortcut.c" -lole32 -luuid
wineboot --init >/dev/null 2>&1 || fail "wineboot could not set up a wine prefix"

install_dir="$WINEPREFIX/drive_c/Program Files/Hjemmekontor"
installed_exe="$install_dir/hjemmekontor.exe"
windows_exe='C:\Program Files\Hjemmekontor\hjemmekontor.exe'
env_key='HKLM\System\CurrentControlSet\Control\Session Manager\Environment'
uninstall_key='HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall'

# run_msiexec ACTION PACKAGE: runs msiexec silently with a verbose log; sets $rc and $log.
run_msiexec() {
  log="$scratch/msiexec-${1#/}-$(basename "$2").log"
  rc=0
  wine msiexec "$1" "$(winepath -w "$2")" /qn /l*v "$(winepath -w "$log")" >/dev/null 2>&1 || rc=$?
}
log_tail() { grep -a -v '^$' "$log" | tail -n 25 || true; }

# A registry value as reg shows it, or nothing.
reg_value() { # KEY NAME
  wine reg query "$1" /v "$2" 2>/dev/null | tr -d '\r' |
    awk -v n="$2" '$1 == n { sub(/^[ \t]*[^ \t]+[ \t]+REG_[A-Z_]+[ \t]*/, ""); print; exit }'
}
system_path() { reg_value "$env_key" PATH; }
# How often the install folder is in the system PATH (with or without a closing backslash).
path_count() {
  local folder='c:\program files\hjemmekontor'
  system_path | tr ';' '\n' | tr '[:upper:]' '[:lower:]' | grep -cxF -e "$folder" -e "$folder\\" || true
}
shortcut_files() { find "$WINEPREFIX/drive_c" -name 'Hjemmekontor*.lnk' -printf '%f\n' | sort; }

# Runs a shortcut as written (through run-shortcut.exe, stdin empty so the cmd.exe prompt left
# after the program ends reads end-of-file and closes); sets $out.
run_shortcut() { # NAME
  local lnk
  lnk=$(find "$WINEPREFIX/drive_c" -name "$1.lnk" -print -quit)
  [ -n "$lnk" ] || fail "the shortcut «$1» was not installed"
  out=$(cd "$scratch" && wine run-shortcut.exe "$(winepath -w "$lnk")" </dev/null 2>&1) ||
    fail "the shortcut «$1» could not be run:"$'\n'"$out"
}

# «Hjemmekontor» opens the window, which stays until it is closed: the shortcut is opened in the
# background, hjemmekontor-gui.exe must be seen running within 30 s, and is then stopped.
start_window_shortcut() {
  local lnk shortcut running=0
  lnk=$(find "$WINEPREFIX/drive_c" -name "Hjemmekontor.lnk" -print -quit)
  [ -n "$lnk" ] || fail "the shortcut «Hjemmekontor» was not installed"
  (cd "$scratch" && exec wine run-shortcut.exe "$(winepath -w "$lnk")" </dev/null >"$scratch/window.log" 2>&1) &
  shortcut=$!
  for _ in $(seq 60); do
    pgrep -f 'Hjemmekontor.hjemmekontor-gui\.exe' >/dev/null && { running=1; break; }
    sleep 0.5
  done
  wine taskkill /f /im hjemmekontor-gui.exe >/dev/null 2>&1 || true
  wait "$shortcut" 2>/dev/null || true
  out=$(cat "$scratch/window.log")
  [ "$running" = 1 ] || fail "the shortcut «Hjemmekontor» did not start hjemmekontor-gui.exe:"$'\n'"$out"
  expect_out "the shortcut «Hjemmekontor» does not name hjemmekontor-gui.exe" 'hjemmekontor-gui\.exe'
}
expect_out() { # WHAT PATTERN (extended regular expression)
  grep -qE -- "$2" <<<"$out" || fail "$1:"$'\n'"$out"
}

path_before=$(system_path)

run_msiexec /i "$scratch/package.msi"
[ "$rc" = 0 ] || fail "msiexec /i exited with $rc; the end of its log:"$'\n'"$(log_tail)"
[ -f "$installed_exe" ] || fail "msiexec /i put no hjemmekontor.exe in C:\\Program Files\\Hjemmekontor"
cmp -s "$installed_exe" "$exe" || fail "the installed hjemmekontor.exe differs from $exe"
cmp -s "$install_dir/hjemmekontor-gui.exe" "$gui_exe" ||
  fail "the installed hjemmekontor-gui.exe is missing or differs from $gui_exe"
[ "$(path_count)" = 1 ] ||
  fail "the system PATH does not hold C:\\Program Files\\Hjemmekontor once: $(system_path)"
arp="$uninstall_key\\$product_code"
if ! { [ "$(reg_value "$arp" DisplayName)" = Hjemmekontor ] &&
  [ "$(reg_value "$arp" DisplayVersion)" = "$version" ] &&
  [ "$(reg_value "$arp" Publisher)" = Hjemmekontor ]; }; then
  fail "«Apps and features» has no Hjemmekontor $version from Hjemmekontor ($arp)"
fi
[ "$(shortcut_files)" = $'Hjemmekontor – sjekk oppsettet.lnk\nHjemmekontor.lnk' ] ||
  fail "the Start menu does not hold exactly the two shortcuts: $(shortcut_files | paste -sd,)"
# Windows puts a per-machine package's shortcuts in the all-users Start menu
# (C:\ProgramData\…\Start Menu\Programs); wine 8 always uses the user's (its msi sets
# ProgramMenuFolder from CSIDL_PROGRAMS whatever ALLUSERS says), so either is accepted here.
say "installed: both programs in C:\\Program Files\\Hjemmekontor, the folder in the system PATH, Hjemmekontor $version in «Apps and features», both shortcuts"

# The installed program runs, by its full path and through PATH in a new process.
cp "$scratch/bcryptprimitives.dll" "$install_dir/"
out=$(wine "$windows_exe" --version 2>&1) || fail "the installed hjemmekontor.exe --version failed:"$'\n'"$out"
expect_out "the installed hjemmekontor.exe --version does not print «hjemmekontor $version»" "^hjemmekontor ${version//./\\.}"$'\r'"?$"
out=$(cd "$scratch" && wine cmd.exe /c hjemmekontor --version 2>&1) ||
  fail "«hjemmekontor --version» through PATH failed:"$'\n'"$out"
expect_out "«hjemmekontor --version» through PATH does not print «hjemmekontor $version»" "^hjemmekontor ${version//./\\.}"$'\r'"?$"

out=$(wine "$install_dir/hjemmekontor-gui.exe" --version 2>&1) ||
  fail "the installed hjemmekontor-gui.exe --version failed:"$'\n'"$out"
expect_out "the installed hjemmekontor-gui.exe --version does not print «hjemmekontor-gui $version»" "^hjemmekontor-gui ${version//./\\.}"$'\r'"?$"

# The shortcuts: cmd.exe's quoting reaches hjemmekontor.exe, which runs doctor (without a card
# here it names the smart-card service), and the prompt that keeps the window open is in the
# user's folder. «Hjemmekontor» starts the window, which, with no display here, says it could
# not open one (installer/dev/wine/smoke.sh opens it on an X server).
prompt='^C:\\users\\[^\\>]+>'
run_shortcut "Hjemmekontor – sjekk oppsettet"
expect_out "the shortcut «Hjemmekontor – sjekk oppsettet» did not run hjemmekontor doctor" '[Ss]mart'
expect_out "the shortcut «Hjemmekontor – sjekk oppsettet» left no prompt in the user's folder" "$prompt"
start_window_shortcut
say "runs: --version of both by path, hjemmekontor through PATH; the shortcuts start doctor (leaving a prompt in the user's folder) and the window"

# Uninstall: the stand-in DLL is ours, not the package's; it goes first.
rm -f "$install_dir/bcryptprimitives.dll"
run_msiexec /x "$scratch/package.msi"
[ "$rc" = 0 ] || fail "msiexec /x exited with $rc; the end of its log:"$'\n'"$(log_tail)"
[ ! -e "$installed_exe" ] || fail "msiexec /x left hjemmekontor.exe behind"
[ ! -e "$install_dir" ] || fail "msiexec /x left the folder C:\\Program Files\\Hjemmekontor behind"
[ "$(path_count)" = 0 ] || fail "msiexec /x left the folder in the system PATH: $(system_path)"
# Wine leaves the separator that came with the entry: «…;» where Windows restores «…».
after=$(system_path)
[ "${after%;}" = "${path_before%;}" ] || fail "msiexec /x changed the rest of the system PATH: «$path_before» became «$after»"
[ -z "$(shortcut_files)" ] || fail "msiexec /x left shortcuts behind: $(shortcut_files | paste -sd,)"
[ -z "$(reg_value "$arp" DisplayName)" ] || fail "msiexec /x left Hjemmekontor in «Apps and features»"
if wine reg query 'HKLM\Software\Hjemmekontor' >/dev/null 2>&1; then
  fail "msiexec /x left the registry key HKLM\\Software\\Hjemmekontor behind"
fi
say "uninstalled: no .exe, no folder, no PATH entry, no shortcuts, nothing in «Apps and features»"

# ---------------------------------------------------------------------------------------------
# 3. Major upgrade
# ---------------------------------------------------------------------------------------------

IFS=. read -r major minor patch <<<"$version"
newer_version="$major.$minor.$((patch + 1))"
newer=$(bash "$here/build-msi.sh" "$exe" "$scratch/newer" "$newer_version") ||
  fail "build-msi.sh could not build the later version $newer_version"
newer_code=$(msiinfo export "$newer" Property | tr -d '\r' | awk -F '\t' '$1 == "ProductCode" { print $2 }')
[ "$newer_code" != "$product_code" ] || fail "versions $version and $newer_version have the same ProductCode"

run_msiexec /i "$scratch/package.msi"
[ "$rc" = 0 ] || fail "msiexec /i of $version (again) exited with $rc; the end of its log:"$'\n'"$(log_tail)"
run_msiexec /i "$newer"
[ "$rc" = 0 ] || fail "msiexec /i of $newer_version over $version exited with $rc; the end of its log:"$'\n'"$(log_tail)"
[ -z "$(reg_value "$arp" DisplayName)" ] ||
  fail "after the upgrade to $newer_version, $version is still in «Apps and features»"
newer_arp="$uninstall_key\\$newer_code"
[ "$(reg_value "$newer_arp" DisplayVersion)" = "$newer_version" ] ||
  fail "after the upgrade, «Apps and features» has no Hjemmekontor $newer_version"
cmp -s "$installed_exe" "$exe" || fail "after the upgrade, hjemmekontor.exe is missing or differs"
[ "$(path_count)" = 1 ] || fail "after the upgrade, the system PATH does not hold the folder once: $(system_path)"
[ "$(shortcut_files | wc -l)" = 2 ] || fail "after the upgrade, the Start menu does not hold the two shortcuts"

run_msiexec /i "$scratch/package.msi"
[ "$rc" != 0 ] || fail "the older $version installed over $newer_version: a downgrade must be refused"
# Refused by the launch condition NOT WIX_DOWNGRADE_DETECTED: msiexec ends with 1603 (a fatal
# error), which reaches the shell as 1603 mod 256 = 67. Windows shows the condition's message
# («En nyere versjon av Hjemmekontor er allerede installert. …»); wine's log leaves it out.
if [ "$rc" != 67 ] || ! grep -aq 'WIX_DOWNGRADE_DETECTED = {' "$log"; then
  fail "the older $version was refused (exit $rc), but not as a downgrade; the end of its log:"$'\n'"$(log_tail)"
fi
if [ "$(reg_value "$newer_arp" DisplayVersion)" != "$newer_version" ] || [ -n "$(reg_value "$arp" DisplayName)" ]; then
  fail "the refused downgrade changed what is installed"
fi

run_msiexec /x "$newer"
[ "$rc" = 0 ] || fail "msiexec /x of $newer_version exited with $rc; the end of its log:"$'\n'"$(log_tail)"
if [ -e "$install_dir" ] || [ "$(path_count)" != 0 ] || [ -n "$(shortcut_files)" ] ||
  [ -n "$(reg_value "$newer_arp" DisplayName)" ]; then
  fail "the uninstall after the upgrade left something behind (folder, PATH entry, shortcuts or «Apps and features»)"
fi
say "upgrade: $newer_version replaces $version (one product, one PATH entry); $version then refuses to install; the uninstall leaves nothing"
