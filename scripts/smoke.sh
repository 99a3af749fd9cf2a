#!/usr/bin/env bash
# Xvfb smoke run of the desktop app: a headless peer hosts the signaling
# server on 127.0.0.1, the real GUI joins it with loopback-only ICE and the
# synthetic sources, takes a screenshot and prints its CPU use.
#   scripts/smoke.sh [BUILD_DIR]      (needs xvfb-run; builds BUILD_DIR/peercall)
set -euo pipefail
BUILD=${1:-build}
GO=${GO:-go}
DURATION=${SMOKE_SECONDS:-16}
mkdir -p "$BUILD"
[ -x "$BUILD/peercall" ] && [ -z "${SMOKE_REBUILD:-}" ] || $GO build -o "$BUILD/peercall" .
home=$(mktemp -d)          # fresh preferences, no user settings leak in
trap 'rm -rf "$home"; [ -n "${peer:-}" ] && kill "$peer" 2>/dev/null || true' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export HOME=$home XDG_CONFIG_HOME=$home/.config XDG_CACHE_HOME=$home/.cache
mkdir -p "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME"
"$BUILD/peercall" --headless --serve "127.0.0.1:$port" --room smoke --name peer --loopback-only \
	--ice-policy all --video synthetic --audio synthetic --duration "$((DURATION + 4))s" \
	--report "$BUILD/smoke-peer.json" >"$BUILD/smoke-peer.log" 2>&1 &
peer=$!
sleep 1
xvfb-run -a -s "-screen 0 1280x800x24" "$BUILD/peercall" --room smoke --name gui \
	--join "ws://127.0.0.1:$port/ws" --loopback-only --auto-join --video synthetic --audio synthetic \
	--screenshot "$BUILD/smoke.png" --screenshot-after 5s --quit-after "${DURATION}s" --cpu-report \
	${SMOKE_ARGS:-} >"$BUILD/smoke-gui.log" 2>&1
grep -E '^cpu:' "$BUILD/smoke-gui.log"
test -s "$BUILD/smoke.png" || { echo "smoke: no screenshot"; exit 1; }
if wait "$peer"; then peer=; else echo "smoke: headless peer failed:"; tail -5 "$BUILD/smoke-peer.log"; exit 1; fi
peer=
python3 - "$BUILD/smoke-peer.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("smoke: peer ok=%s received %.1f fps from the GUI, sas=%s" % (r["ok"], r["video_in"]["fps"], r["sas"]))
sys.exit(0 if r["ok"] and r["video_in"]["fps"] > 10 else 1)
PY
echo "smoke: screenshot $BUILD/smoke.png"
