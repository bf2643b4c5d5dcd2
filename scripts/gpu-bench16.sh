#!/usr/bin/env bash
# One device call: the FP16 checks (scripts/gpu-fp16-check.sh, per-layer profiles at batch
# 128), then the full side-by-side benchmark (bench/run.sh). Logs and tables to $OUT.
OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
export OUT
PROFILE_BATCH=128 bash scripts/gpu-fp16-check.sh
source scripts/gpu-unpack.sh
export LD_LIBRARY_PATH="$PWD/.gpu/lib:${LD_LIBRARY_PATH:-}"
bash bench/run.sh "$OUT"
