#!/usr/bin/env bash
# Builds the demo video (H.264 in MP4) from configs/demo/page.png with GStreamer.
#   bash scripts/make-demo-video.sh OUT.mp4 [FRAMES] [--upside-down]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="$1"
FRAMES="${2:-120}"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3  # Debian's PIL, not a local pyenv
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$PY" scripts/make-demo-video.py configs/demo/page.png "$TMP" --frames "$FRAMES" ${3:-}
mkdir -p "$(dirname "$OUT")"
gst-launch-1.0 -q multifilesrc location="$TMP/%04d.png" index=0 stop-index=$((FRAMES - 1)) \
    caps="image/png,framerate=10/1" ! pngdec ! videoconvert ! video/x-raw,format=I420 ! \
    x264enc speed-preset=medium ! mp4mux ! filesink location="$OUT.part"
mv "$OUT.part" "$OUT"
echo "demo video: $OUT ($FRAMES frames, 10 fps)"
