#!/usr/bin/env bash
# Quick FP16 check on the GPU machine (device tool, carry .gpu after scripts/stage-gpu.sh):
# the NHWC fp16 op tests, the exported models in fp16, and fp16 engine latency per model and
# batch with a per-layer profile of the slowest. `bench/run.sh` is the full comparison.
set -uo pipefail
OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
source scripts/gpu-unpack.sh
export LD_LIBRARY_PATH="$PWD/.gpu/lib:${LD_LIBRARY_PATH:-}"
export EDGERT_TEST_BACKEND=cuda
nvidia-smi --query-gpu=name --format=csv,noheader
(cd /tmp && timeout 200 "$OLDPWD/.gpu/bin/test_runtime" --gtest_filter='*Nhwc*:*Tactics*:*Again*' > "$OUT/nhwc.log" 2>&1); echo "nhwc ops rc $?"
grep -E "rel L2|FAILED|Failure|ran as|Expected|Which is" "$OUT/nhwc.log" | head -40
python3 tests/models/export_models.py /tmp/models > "$OUT/export.log" 2>&1
export EDGERT_MODELS_DIR=/tmp/models
(cd /tmp && EDGERT_TEST_PRECISION=fp16 timeout 300 "$OLDPWD/.gpu/bin/test_models" > "$OUT/models_fp16.log" 2>&1); echo "models fp16 rc $?"
grep -h "rel L2\|FAILED" "$OUT/models_fp16.log"
W=/tmp/bench-models
python3 bench/export_bench_models.py $W > "$OUT/bench_export.log" 2>&1
for m in ${MODELS:-resnet50 mobilenet_v2 efficientnet_b0 yolov8_tiny}; do
  for b in ${BATCHES:-1 8 128}; do
    .gpu/bin/edgert build -q --onnx $W/$m.onnx --target cuda --precision fp16 --shapes input:${b}x3x224x224 \
      -o /tmp/e.engine > /tmp/b.log 2>&1 || { echo "build $m $b failed: $(tail -2 /tmp/b.log)"; continue; }
    echo "$m b$b fp16: $(.gpu/bin/edgert bench --engine /tmp/e.engine --backend cuda --iterations 100 --warmup 10 | grep -E 'latency|memory' | tr '\n' ' ')"
    if [ "$b" = "${PROFILE_BATCH:-1}" ]; then
      echo "== $m b$b" >> "$OUT/profiles.txt"; .gpu/bin/edgert bench --engine /tmp/e.engine --backend cuda --per-layer --iterations 20 >> "$OUT/profiles.txt" 2>&1
    fi
  done
done
