#!/usr/bin/env bash
# The window on a real desktop, end to end: an X server (Xvfb), the virtual TEST card, a local
# gateway, and xrdp as the office PC. IT's profile is made and imported with the command line;
# then the window (hjemmekontor-gui) opens, shows the card's holder and "Kortet er klart",
# takes the PIN and the password typed on the keyboard, connects, starts xfreerdp through the
# tunnel to xrdp with "Start fjernskrivebord", and goes back to "Sett inn kortet" when the card
# is pulled, the remote desktop closed with the tunnel.
#
#   bash installer/dev/gui-smoke.sh [SHOTS_DIR]
#
# What the window shows is followed through its log (-v: one line per report it is given) and
# kept as screenshots in SHOTS_DIR (default: target/gui-smoke). Needs what `setup.sh
# --desktop` installs, and pcscd with the virtual reader; the programs are built here. Every
# server listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/../.."

target_dir=${CARGO_TARGET_DIR:-$PWD/target}
shots=${1:-$target_dir/gui-smoke}
for tool in Xvfb xdotool xrdp xfreerdp import; do
  command -v "$tool" >/dev/null ||
    { echo "gui-smoke: $tool is missing: run bash installer/dev/setup.sh --desktop" >&2; exit 1; }
done
cargo build --locked --bin hjemmekontor --bin hjemmekontor-gui --bin hjemmekontor-vcard \
  --bin hjemmekontor-gateway

bin=$target_dir/debug
work=$(mktemp -d)
# shellcheck source=installer/dev/local-world.sh
. installer/dev/local-world.sh
trap world_cleanup EXIT
mkdir -p "$shots"
rm -f "$shots"/*.png

fail() {
  echo "gui-smoke: FAILED: $*" >&2
  shot failed
  for log in gui xrdp gateway; do
    [ -s "$work/$log.log" ] && { echo "--- $log.log (last lines)" >&2; tail -n 15 "$work/$log.log" >&2; }
  done
  exit 1
}
shot() { import -display "$DISPLAY" -window root "$shots/$1.png" 2>/dev/null || true; }
# seen WHAT PATTERN: waits up to 20 s for the window's log to show PATTERN.
seen() { wait_for "$1" grep -qE -- "$2" "$work/gui.log" || fail "the window never showed $1"; }

# xrdp on the first free port from 33890 (a test may hold one), the tunnel's listener at 13389.
for office_port in $(seq 33890 33990); do port_open "127.0.0.1:$office_port" || break; done
OFFICE_PC=127.0.0.1:$office_port
LISTEN=127.0.0.1:13389

# A display of our own: the first free number from 90.
for n in $(seq 90 120); do [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ] || break; done
export DISPLAY=:$n
say "X server $DISPLAY (Xvfb)"
Xvfb "$DISPLAY" -screen 0 1280x1024x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
pids+=($!)
wait_for "the X server" xdotool getmouselocation

# xrdp as the office PC: its own configuration, on 127.0.0.1 only, in the foreground.
say "xrdp (the office PC) on $OFFICE_PC"
sed -e "s|^port=3389\$|port=tcp://$OFFICE_PC|" -e 's|^fork=true|fork=false|' \
  -e "s|^LogFile=.*|LogFile=$work/xrdp.log|" -e 's|^EnableSyslog=true|EnableSyslog=false|' \
  /etc/xrdp/xrdp.ini >"$work/xrdp.ini"
xrdp --nodaemon --config "$work/xrdp.ini" >"$work/xrdp.out" 2>&1 &
pids+=($!)
wait_for "xrdp" port_open "$OFFICE_PC" || fail "xrdp did not listen on $OFFICE_PC: $(tail -n 5 "$work/xrdp.out")"

world_pki
world_card
world_gateway "$OFFICE_PC"

# The user's home, as on a new laptop: IT's profile imported with the command line, the
# username remembered from an earlier login.
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config
settings=$work/home/.config/hjemmekontor/client.toml
mkdir -p "${settings%/*}"
printf 'username = "%s"\n' "$DEMO_USER" >"$settings"
say "the connection profile from IT, imported"
"$bin/hjemmekontor" profile create --name "Hjemmekontor Testkommune" --gateway "$GATEWAY" \
  --gateway-ca "$work/pki/root-ca.pem" --output "$work/testkommune.hjemmekontor"
"$bin/hjemmekontor" --lang nb profile import "$work/testkommune.hjemmekontor" --settings "$settings"

say "the window"
"$bin/hjemmekontor-gui" -v --lang nb --test-environment --settings "$settings" \
  --listen "$LISTEN" 2>"$work/gui.log" &
pids+=($!)
wait_for "the window" xdotool search --name '^Hjemmekontor$' || fail "no window named Hjemmekontor"
window=$(xdotool search --name '^Hjemmekontor$' | head -n 1)
seen "the card ready with its holder" 'Card\(Ready\(CardSummary \{ holder: "[^"]+"'
holder=$(grep -oE 'holder: "[^"]+"' "$work/gui.log" | head -n 1)
seen "three PIN tries" 'pin: TriesLeft\(3\)'
sleep 0.5
shot 1-kortet-er-klart
echo "card ready: $holder, PIN tries left: 3" >&2

# The PIN field has the keyboard once the card is ready; Tab goes on to the password, Enter
# connects, and once the tunnel is up Enter starts the remote desktop.
say "PIN and password typed into the window"
xdotool windowfocus --sync "$window"
xdotool type --delay 60 "$DEMO_PIN"
xdotool key Tab
xdotool type --delay 30 "$DEMO_PASSWORD"
xdotool key Return
seen "the tunnel up" 'TunnelUp'
sleep 0.5
shot 2-tilkoblet
grep -qF -e "$DEMO_PIN" -e "$DEMO_PASSWORD" "$work/gui.log" && fail "the PIN or the password is in the window's log"

say "Start fjernskrivebord: xfreerdp through the tunnel to xrdp"
xdotool key Return
wait_for "xfreerdp's window" xdotool search --name "^FreeRDP: ${LISTEN}\$" || fail "no FreeRDP window"
wait_for "xrdp's TLS" grep -q "TLS connection established" "$work/xrdp.log" ||
  fail "xrdp saw no RDP connection"
sleep 2
shot 3-fjernskrivebord

say "the card pulled"
world_pull_card
seen "insert your card" 'Card\(NoCard\)'
seen "the connection ended" 'Ended\('
for _ in $(seq 100); do xdotool search --name '^FreeRDP' >/dev/null 2>&1 || break; sleep 0.2; done
xdotool search --name '^FreeRDP' >/dev/null 2>&1 && fail "the remote desktop is still open after the card was pulled"
sleep 0.5
shot 4-sett-inn-kortet
echo "gui-smoke: window, card ready, PIN and password, tunnel, xfreerdp to xrdp, card pulled: all seen; screenshots in $shots" >&2
