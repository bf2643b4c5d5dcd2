#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: dependencies, format check, build, ctest.
# (GPU suites skip cleanly without a GPU.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/check-format.sh
EDGERT_JOBS="${EDGERT_JOBS:-2}" bash scripts/build.sh
cd "${EDGERT_BUILD_DIR:-build}"
ctest --output-on-failure -j "${EDGERT_JOBS:-2}"
cd - >/dev/null
# Every parser's fuzz target for a short while (ASan + UBSan); findings fail the run.
bash scripts/fuzz.sh "${EDGERT_FUZZ_SECONDS:-20}"
