#!/usr/bin/env bash
# Installs the arm64 packages from dist/ (cross/build-debs.sh arm64) into a clean arm64 root
# that holds only what their Depends pull in (plus gstreamer1.0-tools for gst-inspect-1.0),
# and runs them there under qemu-aarch64: edgert builds and runs an engine, and GStreamer
# finds the edgertinfer element. A missing Depends shows up as a library that fails to load.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${EDGERT_ARM64_ROOT:-$PWD/build-arm64-root}"
debs=(dist/*_arm64.deb)
[ -e "${debs[0]}" ] || { echo "test-debs: no dist/*_arm64.deb (run cross/build-debs.sh arm64)"; exit 1; }
rm -rf "$ROOT" "$ROOT.apt"
extra=()
ls dist/gstreamer1.0-edgert_*_arm64.deb >/dev/null 2>&1 && extra+=(gstreamer1.0-tools)
EDGERT_SYSROOT_DEV=0 bash cross/make-sysroot.sh arm64 "$ROOT" "${debs[@]/#/./}" "${extra[@]}"
run() { qemu-aarch64 -L "$ROOT" "$ROOT$1" "${@:2}"; }
W="$ROOT/work"; mkdir -p "$W"
/usr/bin/python3 -c "import numpy as np; np.save('$W/x.npy', np.random.default_rng(3).standard_normal((1, 3, 224, 224)).astype(np.float32))"
# A device's install first: the runtime and edgert-tools alone run an engine built on this
# host, and the builder's commands say which package they need.
[ ! -e "$ROOT/usr/lib/aarch64-linux-gnu/edgert" ] || { echo "test-debs: the root already holds edgert-builder"; exit 1; }
for d in dist/libedgert0_*_arm64.deb dist/edgert-tools_*_arm64.deb; do dpkg-deb -x "$d" "$ROOT"; done
HOST_BIN="${EDGERT_BUILD_DIR:-build}/bin/edgert"
"$HOST_BIN" build -q --onnx configs/models/efficientnet_lite0.onnx --target cpu \
  --shapes input:1x3x224x224 -o "$W/host.engine" >/dev/null
run /usr/bin/edgert run --engine "$W/host.engine" --backend cpu --input "$W/x.npy" --save-outputs "$W/tools-out" | tail -1
[ -s "$W/tools-out/logits.npy" ] || { echo "test-debs: edgert-tools' edgert run wrote no output"; exit 1; }
if run /usr/bin/edgert build --onnx configs/models/efficientnet_lite0.onnx -o "$W/no.engine" 2> "$W/err.txt" ||
   ! grep -q "install edgert-builder" "$W/err.txt"; then
  echo "test-debs: edgert build without edgert-builder did not fail as it should:"; cat "$W/err.txt"; exit 1
fi
echo "test-debs: edgert-tools alone: run ok, build says: $(cut -c1-90 "$W/err.txt")..."
for d in "${debs[@]}"; do dpkg-deb -x "$d" "$ROOT"; done
run /usr/bin/edgert --version
run /usr/bin/edgert build -q --onnx configs/models/efficientnet_lite0.onnx --target cpu \
  --shapes input:1x3x224x224 -o "$W/m.engine"
run /usr/bin/edgert run --engine "$W/m.engine" --backend cpu --input "$W/x.npy" --save-outputs "$W/out" |
  tail -2
[ -s "$W/out/logits.npy" ] || { echo "test-debs: edgert run wrote no output"; exit 1; }
if [ ${#extra[@]} -gt 0 ]; then
  # No forked plugin scanner: it would be an arm64 process started without qemu.
  GST_REGISTRY_FORK=no GST_REGISTRY="$W/registry.bin" GST_PLUGIN_SYSTEM_PATH="$ROOT/usr/lib/aarch64-linux-gnu/gstreamer-1.0" \
    run /usr/bin/gst-inspect-1.0 edgertinfer > "$W/inspect.txt"
  grep -q "edgertinfer" "$W/inspect.txt" || { cat "$W/inspect.txt"; exit 1; }
  echo "test-debs: gst-inspect-1.0 edgertinfer: $(grep -m1 'Long-name' "$W/inspect.txt" | sed 's/^ *//')"
fi
echo "test-debs: ok (${#debs[@]} packages of ours in a root of their dependencies)"
