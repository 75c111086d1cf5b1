#!/usr/bin/env bash
# Opens the Windows build of the window (hjemmekontor-gui.exe, cross-built) under wine on an X
# server (Xvfb), and checks that it comes up as a user would see it: a window named
# Hjemmekontor, drawing through wine's OpenGL, that watches for the card and says what it
# found. Wine's smart-card service does not reach pcscd (docs/windows.md), so the window must
# say so in its own words, not crash. It is then closed as its close button closes it, and
# must end.
#
#   bash installer/dev/wine/gui-smoke.sh PATH/hjemmekontor-gui.exe [SHOTS_DIR]
#
# A screenshot is kept in SHOTS_DIR (default: a folder beside the .exe). Everything runs in a
# scratch directory with its own throwaway wine prefix and its own display.
set -euo pipefail

usage="usage: gui-smoke.sh PATH/hjemmekontor-gui.exe [SHOTS_DIR]"
exe=${1:?$usage}
shots=${2:-$(dirname "$exe")/gui-smoke}
here=$(cd "$(dirname "$0")" && pwd)
for tool in wine wineserver Xvfb xdotool import x86_64-w64-mingw32-gcc; do
  command -v "$tool" >/dev/null ||
    { echo "wine gui smoke: $tool is missing: run bash installer/dev/setup.sh --windows --desktop" >&2; exit 1; }
done

scratch=$(mktemp -d)
export WINEPREFIX="$scratch/prefix" WINEDEBUG=-all WINEDLLOVERRIDES='winemenubuilder.exe=d;mscoree,mshtml='
pids=()
cleanup() {
  wineserver -k 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
mkdir -p "$shots"

fail() {
  printf 'wine gui smoke: FAILED: %s\n' "$*" >&2
  [ -s "$scratch/gui.log" ] && { echo "--- the window's log (last lines)" >&2; tail -n 20 "$scratch/gui.log" >&2; }
  exit 1
}
# within SECONDS COMMAND…: true once the command succeeds, false after SECONDS.
within() {
  local until=$((SECONDS + $1))
  shift
  while [ "$SECONDS" -lt "$until" ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  return 1
}

for n in $(seq 121 150); do [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || break; done
export DISPLAY=:$n
Xvfb "$DISPLAY" -screen 0 1024x768x24 -nolisten tcp >"$scratch/xvfb.log" 2>&1 &
pids+=($!)
within 20 xdotool getmouselocation || fail "the X server $DISPLAY did not start"

# The test-only stand-in for bcryptprimitives.dll (see bcryptprimitives.c), next to the .exe in
# the scratch directory only.
cp "$exe" "$scratch/hjemmekontor-gui.exe"
x86_64-w64-mingw32-gcc -shared -O2 -Wall -Wextra -Werror -o "$scratch/bcryptprimitives.dll" \
  "$here/bcryptprimitives.c" -ladvapi32
wineboot --init >/dev/null 2>&1 || fail "wineboot could not set up a wine prefix"

cd "$scratch"
out=$(wine hjemmekontor-gui.exe --version 2>&1) || fail "hjemmekontor-gui.exe --version: $out"
grep -qE '^hjemmekontor-gui [0-9]' <<<"$out" || fail "hjemmekontor-gui.exe --version printed «$out»"

wine hjemmekontor-gui.exe -v --lang nb >"$scratch/gui.log" 2>&1 &
gui=$!
within 90 xdotool search --name '^Hjemmekontor$' || fail "no window named Hjemmekontor within 90 s"
# The card watch's first report: wine has no smart-card service, which the window says.
within 30 grep -qE 'Card\((NoService|NoReader|NoCard)' "$scratch/gui.log" ||
  fail "the window reported nothing about the card"
sleep 1
import -display "$DISPLAY" -window root "$shots/wine-hjemmekontor-gui.png" 2>/dev/null || true
kill -0 "$gui" 2>/dev/null || fail "the window ended by itself"
state=$(grep -oE 'Card\([A-Za-z]+' "$scratch/gui.log" | head -n 1)

# Closed as a user closes it: taskkill without /f posts WM_CLOSE to the window, as its close
# button does; the program ends.
wine taskkill /im hjemmekontor-gui.exe >/dev/null 2>&1 || fail "taskkill found no hjemmekontor-gui.exe"
within 20 sh -c "! kill -0 $gui 2>/dev/null" || fail "the window did not end when it was closed"
echo "wine gui smoke: hjemmekontor-gui.exe opened its window under wine, reported ${state#Card(} for the card, and closed; screenshot in $shots" >&2
