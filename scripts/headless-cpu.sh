#!/usr/bin/env bash
# CPU of a headless peer at 640x480@30 both ways on 127.0.0.1, the busy Y4M
# clip (scripts/busy-clip.sh) against the synthetic pattern: RUNS calls of
# each (default 3), alternating so both see the same machine load, each
# peer's cpu.percent_of_core from its report. Prints one line per call and
# the median per source; the machine's load at start and end.
#   scripts/headless-cpu.sh [RUNS] [DURATION] [BUILD_DIR]
# BIN overrides the binary (default: built into BUILD_DIR); EXTRA adds flags
# to both peers. BINS="NAME=PATH NAME=PATH" compares builds instead (say,
# before and after a change): each round runs every build on both sources.
set -euo pipefail
RUNS=${1:-3}
DUR=${2:-10s}
BUILD=${3:-build}
GO=${GO:-go}
BIN=${BIN:-$BUILD/peercall-headless}
if [ -z "${NOBUILD:-}" ]; then
	$GO build -o "$BUILD/peercall-headless" ./app/cmd/peercall-headless
fi
CLIP=$(scripts/busy-clip.sh "$BUILD/busy-640x480-30.y4m")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
port=$((20000 + RANDOM % 20000))
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
call() { # call NAME BIN VIDEO: one call of two peers, prints both CPU figures
	local name=$1 bin=$2 video=$3 common
	common=(--room cpu --loopback-only --ice-policy all --duration "$DUR" --video "$video" --size 640x480 --fps 30 ${EXTRA:-})
	rm -f "$tmp/ready"
	"$bin" --serve "127.0.0.1:$port" --name a "${common[@]}" --report "$tmp/a.json" --ready-file "$tmp/ready" 2>"$tmp/a.err" &
	local pa=$!
	for _ in $(seq 300); do [ -e "$tmp/ready" ] && break; sleep 0.02; done
	"$bin" --server "ws://127.0.0.1:$port/ws" --name b "${common[@]}" --report "$tmp/b.json" 2>"$tmp/b.err" || { cat "$tmp/b.err" >&2; }
	wait "$pa" || cat "$tmp/a.err" >&2
	for p in a b; do
		python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.1f %.1f %.2f %.0f" % (r["cpu"]["percent_of_core"], r["video_in"]["fps"], r["video_out"]["encode_ms_avg"], r["video_out"]["bitrate_kbps"]))' "$tmp/$p.json"
	done | while read -r cpu fps enc kbps; do
		echo "$name peer: cpu $cpu% fps $fps encode ${enc} ms/frame sent ${kbps} kbit/s"
	done
	port=$((port + 1))
}
BINS=${BINS:-current=$BIN}
names=()
for i in $(seq "$RUNS"); do
	for b in $BINS; do
		for src in y4m synthetic; do
			video=$src
			[ "$src" = y4m ] && video=$CLIP
			name=$src
			[ "$BINS" = "current=$BIN" ] || name="${b%%=*}/$src"
			[ "$i" = 1 ] && names+=("$name")
			call "$name" "${b#*=}" "$video" | tee -a "$tmp/all"
		done
	done
done
for name in "${names[@]}"; do
	grep "^$name " "$tmp/all" | awk '{print $4}' | tr -d '%' | sort -n |
		awk -v name="$name" '{v[NR] = $1} END {
			m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
			printf "%s: median %.1f%% of a core per peer (min %.1f, max %.1f, %d peers)\n", name, m, v[1], v[NR], NR
		}'
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
