#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: dependencies, format check, every parser's
# fuzz target for a short while (ASan + UBSan), then the build and ctest. GPU tests skip
# with the reason where no GPU is present.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/check-format.sh
bash scripts/fuzz.sh "${EDGERT_FUZZ_SECONDS:-20}"
EDGERT_JOBS="${EDGERT_JOBS:-2}" bash scripts/build.sh
cd "${EDGERT_BUILD_DIR:-build}"
ctest --output-on-failure -j "${EDGERT_JOBS:-2}"
