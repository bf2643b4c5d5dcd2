#!/usr/bin/env bash
# Cross-compiles edgert for arm64 (Jetson's userland) on this x86_64 host and runs the CPU
# test suite under qemu-aarch64 with the arm64 libraries, then checks that an engine built
# here for the `cpu` target gives the same outputs on arm64 as on x86_64 (within 1e-5).
# Needs g++-aarch64-linux-gnu and qemu-user (scripts/install-deps.sh installs them) and a
# native build in build/ (or $EDGERT_BUILD_DIR) for the host side of the comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${EDGERT_JOBS:-2}"
SYS="${EDGERT_SYSROOT:-$PWD/build-arm64-sysroot}"
B="${EDGERT_ARM64_BUILD_DIR:-build-arm64}"
HOST_BIN="${EDGERT_BUILD_DIR:-build}/bin/edgert"
# EDGERT_ARM64_GST=1: GStreamer and OpenCV in the sysroot too, so the build has the elements
# (gstreamer1.0-edgert) for cross/build-debs.sh to package.
GST_PKGS=(libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libopencv-core-dev
          libopencv-imgproc-dev libopencv-imgcodecs-dev libmosquitto-dev libgstrtspserver-1.0-dev)
extra=(); [ "${EDGERT_ARM64_GST:-0}" = 1 ] && extra=("${GST_PKGS[@]}")
if [ ! -d "$SYS/usr/include" ] || { [ ${#extra[@]} -gt 0 ] && [ ! -d "$SYS/usr/include/gstreamer-1.0" ]; }; then
  rm -rf "$SYS"; bash cross/make-sysroot.sh arm64 "$SYS" "${extra[@]}"
fi
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# Configured as cross/build-debs.sh will package it (/usr, Debian's multiarch libdir).
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" \
  -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_LIBDIR=lib/aarch64-linux-gnu \
  -DCMAKE_TOOLCHAIN_FILE=cross/toolchains/aarch64-linux-gnu.cmake -DEDGERT_SYSROOT="$SYS" \
  -DEDGERT_WITH_CUDA=OFF >/dev/null
cmake --build "$B" -j "$JOBS"
file "$B/bin/edgert" | grep -q "ARM aarch64" || { echo "test-arm64: $B/bin/edgert is not an aarch64 binary"; exit 1; }
# The suites that need no Python model export and no shell wrappers (ctest runs each test
# binary through qemu-aarch64 -L sysroot, the toolchain's CMAKE_CROSSCOMPILING_EMULATOR).
(cd "$B" && ctest --output-on-failure -j "$JOBS" -R '^(onnx_conformance|ops|bad_input|fuzz_regressions|runtime)$')
# One engine, two architectures: built on x86_64 for the CPU target, run on both.
W="$B/cross-check"; rm -rf "$W"; mkdir -p "$W"
"$HOST_BIN" build -q --onnx configs/models/efficientnet_lite0.onnx --target cpu \
  --shapes input:2x3x224x224 -o "$W/m.engine" >/dev/null
/usr/bin/python3 -c "import numpy as np; np.save('$W/x.npy', np.random.default_rng(7).standard_normal((2, 3, 224, 224)).astype(np.float32))"
"$HOST_BIN" run --engine "$W/m.engine" --backend cpu --input "$W/x.npy" --save-outputs "$W/x86_64" >/dev/null
qemu-aarch64 -L "$SYS" "$B/bin/edgert" run --engine "$W/m.engine" --backend cpu --input "$W/x.npy" \
  --save-outputs "$W/aarch64" >/dev/null
/usr/bin/python3 - "$W" <<'PY'
import os, sys
import numpy as np
w = sys.argv[1]
for f in sorted(os.listdir(os.path.join(w, "x86_64"))):
    a, b = np.load(os.path.join(w, "aarch64", f)), np.load(os.path.join(w, "x86_64", f))
    err = float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))
    print("test-arm64: %s: x86_64-built cpu engine on aarch64 vs x86_64: max rel err %.3g" % (f, err))
    if not err <= 1e-5:
        sys.exit(1)
PY
echo "test-arm64: ok"
