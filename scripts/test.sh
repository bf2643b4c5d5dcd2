#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: dependencies, format check, every parser's
# fuzz target for a short while, the suite under ASan + UBSan (leak checks on), then the
# regular build and ctest, then the arm64 cross build with its CPU suite under qemu
# (cross/test-arm64.sh), then the Debian packages of both architectures from those builds
# (lintian-checked) and the arm64 ones installed into a clean arm64 root and run under qemu.
# GPU tests skip with the reason where no GPU is present.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${EDGERT_JOBS:-2}"
bash scripts/install-deps.sh
# Test-only: ONNX Runtime from PyPI for the Q/DQ interop test (qdq_interop), in a venv that sees
# Debian's numpy, PIL and onnx; without it that test skips and says why.
ORT_VENV="$HOME/.cache/edgert/ort-venv"
if ! "$ORT_VENV/bin/python3" -c "import onnxruntime, onnx, numpy, PIL" 2>/dev/null; then
  { /usr/bin/python3 -m venv --clear --system-site-packages "$ORT_VENV" &&
    "$ORT_VENV/bin/pip" install -q onnxruntime; } ||
    echo "test.sh: warning: could not install onnxruntime from PyPI; qdq_interop will skip"
fi
bash scripts/check-format.sh
bash scripts/fuzz.sh "${EDGERT_FUZZ_SECONDS:-20}"
if [ "${EDGERT_SKIP_SANITIZERS:-0}" != 1 ]; then
  EDGERT_BUILD_DIR=build-asan EDGERT_JOBS=$JOBS bash scripts/build.sh -DEDGERT_SANITIZE=ON -DEDGERT_WITH_CUDA=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 ctest --output-on-failure -j "$JOBS")
fi
EDGERT_JOBS=$JOBS bash scripts/build.sh
(cd "${EDGERT_BUILD_DIR:-build}" && ctest --output-on-failure -j "$JOBS")
if [ "${EDGERT_SKIP_ARM64:-0}" != 1 ]; then
  # One .deb cache for the arm64 sysroot and the package-test root.
  export EDGERT_APT_ARCHIVES="$PWD/build-arm64-debs-cache"
  EDGERT_ARM64_GST=1 EDGERT_JOBS=$JOBS bash cross/test-arm64.sh
  EDGERT_DEB_BUILD_DIR="${EDGERT_BUILD_DIR:-build}" EDGERT_JOBS=$JOBS bash cross/build-debs.sh amd64
  EDGERT_DEB_BUILD_DIR=build-arm64 EDGERT_JOBS=$JOBS bash cross/build-debs.sh arm64
  bash cross/test-debs.sh
fi
