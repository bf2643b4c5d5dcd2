#!/usr/bin/env bash
# Configures and builds edgert into build/ (or $EDGERT_BUILD_DIR). Extra args go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${EDGERT_BUILD_DIR:-build}"
JOBS="${EDGERT_JOBS:-$(nproc)}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
