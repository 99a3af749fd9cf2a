#!/usr/bin/env bash
# A busy test clip for --video FILE.y4m: ffmpeg's testsrc2 (moving shapes,
# text, colour bars) averaged with a blurred mandelbrot zoom (texture that
# changes every frame) plus temporal noise like a camera sensor's. At a fixed
# quality libvpx needs about 2.5 Mbit/s for it at 640x480@30 (crf 30,
# realtime), a camera's worth; the synthetic pattern needs a small fraction.
# The clip is made once and kept (build/ is not committed); it prints its
# path. Deterministic: the same arguments give the same bytes.
#   scripts/busy-clip.sh [OUT.y4m] [WxH] [FPS] [SECONDS]
set -euo pipefail
SIZE=${2:-640x480}
FPS=${3:-30}
CLIP_SECONDS=${4:-10}
OUT=${1:-build/busy-$SIZE-$FPS.y4m}
if [ -s "$OUT" ]; then
	echo "$OUT"
	exit 0
fi
command -v ffmpeg >/dev/null || { echo "busy-clip: ffmpeg not found (apt-get install ffmpeg)" >&2; exit 1; }
mkdir -p "$(dirname "$OUT")"
# Written next to OUT and renamed, so concurrent callers never see half a clip.
tmp=$(mktemp "$OUT.XXXXXX")
trap 'rm -f "$tmp"' EXIT
ffmpeg -nostdin -v error -y \
	-f lavfi -i "testsrc2=size=$SIZE:rate=$FPS" \
	-f lavfi -i "mandelbrot=size=$SIZE:rate=$FPS" \
	-filter_complex "[1]gblur=sigma=3[m];[0][m]blend=all_mode=average,noise=alls=6:allf=t+u:all_seed=1,format=yuv420p" \
	-t "$CLIP_SECONDS" -f yuv4mpegpipe "$tmp"
mv -f "$tmp" "$OUT"
trap - EXIT
echo "$OUT"
