#!/usr/bin/env bash
# Xvfb smoke run of the desktop app: a headless peer hosts the signaling
# server on 127.0.0.1, the real GUI joins it with loopback-only ICE and the
# synthetic sources, saves a screenshot (and the X server's own picture of the
# screen, checked for a painted window) and prints its CPU use while the call
# is connected. Nothing leaves loopback.
#   scripts/smoke.sh [BUILD_DIR]     (needs xvfb-run; builds BUILD_DIR/peercall)
# SMOKE_SECONDS (default 16) is how long the GUI runs; SMOKE_ARGS adds GUI flags;
# SMOKE_SCREEN (default 1280x800) is the Xvfb screen size; SMOKE_PEER_ARGS adds
# flags of the headless peers (flags given twice: the last wins); SMOKE_PEERS
# (default 2) is the number of people in the call, the GUI included: with 3
# or 4 the GUI joins a group call of headless peers and shows the grid.
set -euo pipefail
BUILD=${1:-build}
GO=${GO:-go}
DURATION=${SMOKE_SECONDS:-16}
mkdir -p "$BUILD"
$GO build -o "$BUILD/peercall" .

$GO build -o "$BUILD/xwd2png" ./scripts/xwd2png

home=$(mktemp -d) # fresh preferences: no user settings leak in
fbdir=$(mktemp -d) # Xvfb keeps its screen here as an XWD file (-fbdir)
PEERS=${SMOKE_PEERS:-2}
peer=
others=()
cleanup() {
	[ -n "$peer" ] && kill "$peer" 2>/dev/null || true
	for p in "${others[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$home" "$fbdir"
}
trap cleanup EXIT
export HOME=$home XDG_CONFIG_HOME=$home/.config XDG_CACHE_HOME=$home/.cache XDG_RUNTIME_DIR=$home/run
mkdir -p "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

# The peer hosts the server on a random loopback port (retried if taken).
for try in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 40000))
	"$BUILD/peercall" --headless --serve "127.0.0.1:$port" --room smoke --name peer --loopback-only \
		--ice-policy all --video synthetic --audio synthetic --duration "$((DURATION + 4))s" --peers "$PEERS" \
		--report "$BUILD/smoke-peer.json" ${SMOKE_PEER_ARGS:-} >"$BUILD/smoke-peer.log" 2>&1 &
	peer=$!
	sleep 1
	kill -0 "$peer" 2>/dev/null && break
	peer=
done
[ -n "$peer" ] || { echo "smoke: headless peer did not start"; cat "$BUILD/smoke-peer.log"; exit 1; }
# A group call: more headless peers join the first one's server.
for i in $(seq 2 $((PEERS - 1))); do
	"$BUILD/peercall" --headless --server "ws://127.0.0.1:$port/ws" --room smoke --name "peer$i" --loopback-only \
		--ice-policy all --video synthetic --audio synthetic --duration "$((DURATION + 2))s" --peers "$PEERS" \
		--report "$BUILD/smoke-peer$i.json" ${SMOKE_PEER_ARGS:-} >"$BUILD/smoke-peer$i.log" 2>&1 &
	others+=($!)
	sleep 0.5
done

# What the X server shows, from a second after the app's own screenshot on:
# the app paints that one in software, these prove GL really drew the
# window. Four copies a second apart: a loaded machine may be between
# frames at any one of them.
(for i in 1 2 3 4; do sleep $((i == 1 ? 7 : 1)); cp "$fbdir/Xvfb_screen0" "$BUILD/smoke-screen-$i.xwd" 2>/dev/null; done) &
xvfb-run -a -s "-screen 0 ${SMOKE_SCREEN:-1280x800}x24 -fbdir $fbdir" "$BUILD/peercall" --room smoke --name gui \
	--join "ws://127.0.0.1:$port/ws" --loopback-only --auto-join --video synthetic --audio synthetic \
	--screenshot "$BUILD/smoke.png" --screenshot-after 5s --quit-after "${DURATION}s" --cpu-report \
	${SMOKE_ARGS:-} >"$BUILD/smoke-gui.log" 2>&1
grep -E '^cpu:' "$BUILD/smoke-gui.log" || { echo "smoke: no CPU line"; tail -20 "$BUILD/smoke-gui.log"; exit 1; }
if grep -q 'never connected' "$BUILD/smoke-gui.log"; then
	echo "smoke: the GUI never connected"
	grep -v 'Fyne error\|Cause:\|At:' "$BUILD/smoke-gui.log" | tail -15
	tail -5 "$BUILD/smoke-peer.log"
	exit 1
fi
test -s "$BUILD/smoke.png" || { echo "smoke: no screenshot"; exit 1; }
# The window (top left: Xvfb has no window manager) must show the video:
# the test pattern alone has thousands of colours, a blank window a handful.
win=$(sed -n 's/.*--window \([0-9]*x[0-9]*\).*/\1/p' <<<"${SMOKE_ARGS:-}")
shown=
for i in 1 2 3 4; do
	if "$BUILD/xwd2png" -crop "${win:-900x580}" -min-colours 1000 "$BUILD/smoke-screen-$i.xwd" "$BUILD/smoke-screen.png"; then
		shown=$i
		break
	fi
done
[ -n "$shown" ] || { echo "smoke: the real window (build/smoke-screen.png) does not show the call"; exit 1; }
if ! wait "$peer"; then
	peer=
	echo "smoke: headless peer failed:"
	tail -5 "$BUILD/smoke-peer.log"
	exit 1
fi
peer=
reports=("$BUILD/smoke-peer.json")
for i in "${!others[@]}"; do
	n=$((i + 2))
	if ! wait "${others[$i]}"; then
		echo "smoke: headless peer$n failed:"
		tail -5 "$BUILD/smoke-peer$n.log"
		exit 1
	fi
	reports+=("$BUILD/smoke-peer$n.json")
done
others=()
# Every peer must have received every other's video, the GUI's included:
# totals.min_fps is the lowest frame rate any one of them sent it.
fps=
for r in "${reports[@]}"; do
	f=$(awk '/"totals"/ {v=1} v && /"min_fps"/ {gsub(/[",]/, ""); print int($2); exit}' "$r")
	grep -q '"ok": true' "$r" && [ "${f:-0}" -ge 10 ] ||
		{ echo "smoke: $r not ok (lowest video_in fps ${f:-?})"; exit 1; }
	fps="$fps${fps:+, }$f"
done
echo "smoke: ok, $PEERS in the call, the headless peers' lowest received fps: ${fps}; screenshots $BUILD/smoke.png (app) and $BUILD/smoke-screen.png (X server)"
