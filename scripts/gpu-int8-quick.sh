#!/usr/bin/env bash
# The INT8 GPU checks that fit a few minutes of device time (when the full scripts/gpu-check.sh
# does not): Int8Gpu.* (every QConv path forced, bit-exact against the CPU), EfficientNet-Lite0
# INT8 with default tactics under compute-sanitizer memcheck + racecheck (its 3-channel stem on
# the padded-channel path), and ResNet-50 int8 / fp16 at bs128. Logs to $OUT.
set -uo pipefail; OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
source scripts/gpu-unpack.sh
export LD_LIBRARY_PATH=$PWD/.gpu/lib EDGERT_TEST_BACKEND=cuda
(cd /tmp && timeout 120 $OLDPWD/.gpu/bin/test_ops --gtest_filter='Int8Gpu*' > $OUT/int8_ops.log 2>&1; echo "Int8Gpu rc $?")
grep -E "Failure|FAILED" -A3 $OUT/int8_ops.log | head -20
CS=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
python3 -c "import numpy as np; np.save('/tmp/x.npy', np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32))"
.gpu/bin/edgert build -q --no-tactic-timing --onnx configs/models/efficientnet_lite0.onnx --target cuda --precision int8 \
  --calib-cache .gpu/models/enl.calib --shapes input:1x3x224x224 -o /tmp/e8.engine > $OUT/b.log 2>&1 || tail -3 $OUT/b.log
"$CS" --tool memcheck --leak-check full --error-exitcode 9 .gpu/bin/edgert run --engine /tmp/e8.engine --backend cuda \
  --input /tmp/x.npy --iterations 3 > $OUT/memcheck.log 2>&1; echo "memcheck rc $? $(grep -h 'ERROR SUMMARY' $OUT/memcheck.log | head -1)"
"$CS" --tool racecheck .gpu/bin/edgert run --engine /tmp/e8.engine --backend cuda --input /tmp/x.npy --iterations 3 \
  > $OUT/racecheck.log 2>&1; echo "racecheck: $(grep -c 'Race reported.*edgert_' $OUT/racecheck.log) hazards in edgert kernels"
W=/tmp/bm; mkdir -p $W; python3 bench/export_bench_models.py $W > $OUT/export.log 2>&1
python3 bench/calib_tensors.py $W/calib
for p in fp16 int8; do
  extra=""; [ $p = int8 ] && extra="--calib-dir $W/calib --calib-cache $W/r.calib"
  .gpu/bin/edgert build -q --onnx $W/resnet50.onnx --target cuda --precision $p --shapes input:128x3x224x224 $extra -o $W/e.engine > $OUT/b.log 2>&1 || { tail -3 $OUT/b.log; continue; }
  echo "resnet50 b128 $p $(.gpu/bin/edgert bench --engine $W/e.engine --backend cuda --iterations 100 --warmup 10 | grep -E 'latency')"
done
