#!/usr/bin/env bash
# Adds to .gpu/ (after scripts/stage-gpu.sh) what running the GStreamer elements on the GPU
# machine needs, since it has no GStreamer or OpenCV: gst-launch-1.0, the plugin scanner,
# the few GStreamer plugins the checks use, libgstedgert, edgert-app, and the shared-library
# closure of all of them (minus the C/C++ runtime, which the machine has, newer).
set -euo pipefail
cd "$(dirname "$0")/.."
B="${EDGERT_BUILD_DIR:-build}"
G=.gpu/gst
rm -rf $G && mkdir -p $G/bin $G/lib $G/plugins
M=/usr/lib/x86_64-linux-gnu
cp /usr/bin/gst-launch-1.0 "$B/bin/edgert-app" "$B/tests/test_vision" "$B/tests/test_gst_elements" $G/bin/
cp $M/gstreamer1.0/gstreamer-1.0/gst-plugin-scanner $G/bin/
for p in coreelements videotestsrc videoconvertscale png typefindfunctions playback app imagefreeze; do
  cp $M/gstreamer-1.0/libgst$p.so $G/plugins/
done
cp "$B/gst_plugin/libgstedgert.so" $G/plugins/
skip='^(libc|libm|libstdc\+\+|libgcc_s|ld-linux-x86-64|libdl|libpthread|librt|linux-vdso)\.'
for f in $G/bin/* $G/plugins/*.so; do
  ldd "$f" | awk '/=> \//{print $3}'
done | sort -u | while read -r lib; do
  base=$(basename "$lib")
  [[ "$base" =~ $skip ]] && continue
  [ -e ".gpu/lib/$base" ] || cp -L "$lib" $G/lib/
done
# Compressed: the carry limit is 64 MiB.
tar cJf .gpu/gst.tar.xz -C .gpu gst && rm -rf $G
du -sh .gpu
