#!/usr/bin/env bash
# Per-layer profiles of the bench models on the GPU machine (device tool, carry .gpu after
# scripts/stage-gpu.sh): MODELS, BATCHES and PRECISION pick what; profiles go to $OUT.
set -uo pipefail
OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
source scripts/gpu-unpack.sh
export LD_LIBRARY_PATH="$PWD/.gpu/lib:${LD_LIBRARY_PATH:-}"
W=/tmp/bench-models
[ -f $W/resnet50.onnx ] || python3 bench/export_bench_models.py $W > "$OUT/bench_export.log" 2>&1
for m in ${MODELS:-resnet50 mobilenet_v2 efficientnet_b0 yolov8_tiny}; do
  for b in ${BATCHES:-128}; do
    # ENGINES=1: cuDNN's graph engines for the first convolution (3 input channels), each with
    # why it was taken or passed over.
    env ${ENGINES:+EDGERT_VERBOSE=1} .gpu/bin/edgert build -q --onnx $W/$m.onnx --target cuda --precision ${PRECISION:-fp16} \
      --shapes input:${b}x3x224x224 -o /tmp/e.engine > /tmp/b.log 2>&1 || { echo "build $m $b failed: $(tail -2 /tmp/b.log)"; continue; }
    [ -n "${ENGINES:-}" ] && grep -E "graph conv x=${b}x[34]x" /tmp/b.log | sort -u | head -40
    echo "$m b$b: $(.gpu/bin/edgert bench --engine /tmp/e.engine --backend cuda --iterations 100 --warmup 10 | grep -E 'latency|memory' | tr '\n' ' ')"
    { echo "== $m b$b"; .gpu/bin/edgert bench --engine /tmp/e.engine --backend cuda --per-layer --iterations 20 2>&1; } >> "$OUT/profiles.txt"
  done
done
