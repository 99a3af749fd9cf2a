#!/usr/bin/env bash
# CPU of the desktop app in a call, measured RUNS times (default 5) with the
# Xvfb smoke run (scripts/smoke.sh: real window, software GL, a headless
# peer on 127.0.0.1, 640x480@30 both ways, 10-11 s of connected time after
# the screenshot). One run on a shared 2-core machine varies by a few
# points, so the median is the figure.
#   scripts/gui-cpu.sh [RUNS] [BUILD_DIR]      (writes BUILD_DIR/gui-cpu.txt)
set -euo pipefail
RUNS=${1:-5}
BUILD=${2:-build}
out=$BUILD/gui-cpu.txt
mkdir -p "$BUILD"
: >"$out"
for i in $(seq "$RUNS"); do
	line=$(SMOKE_SECONDS=${SMOKE_SECONDS:-16} scripts/smoke.sh "$BUILD" | grep '^cpu:')
	echo "run $i: $line" | tee -a "$out"
done
awk '{for (i = 1; i <= NF; i++) if ($i == "=") print $(i+1)}' "$out" | tr -d '%' | sort -n |
	awk -v n="$RUNS" '{v[NR] = $1} END {
		m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2
		printf "gui cpu: median %.1f%% of one core (min %.1f%%, max %.1f%%) over %d runs\n", m, v[1], v[NR], NR
	}' | tee -a "$out"
