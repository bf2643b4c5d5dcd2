#!/usr/bin/env bash
# Fails if any of our C++ sources differs from .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.cu' '*.cuh' 2>/dev/null || find runtime builder tests -name '*.cpp' -o -name '*.h')
clang-format --dry-run --Werror "${files[@]}"
echo "check-format: ${#files[@]} files clean"
