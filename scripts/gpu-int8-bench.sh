#!/usr/bin/env bash
# INT8 on the GPU machine, quickly: the GPU-vs-CPU INT8 tests, real models and photos
# (scripts/gpu_int8_check.py), and ResNet-50 / MobileNetV2 int8 beside fp16 with a per-layer
# profile of the int8 engines at batch 128. Logs to $OUT. Run from the repo root, .gpu/ staged.
set -uo pipefail; OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
source scripts/gpu-unpack.sh
export LD_LIBRARY_PATH=$PWD/.gpu/lib; export EDGERT_TEST_BACKEND=cuda
(cd /tmp && timeout 120 $OLDPWD/.gpu/bin/test_ops --gtest_filter='Int8Gpu*' > $OUT/int8_ops.log 2>&1; echo "int8 ops rc $?")
grep -E "Failure|FAILED|Expected|Which|of " -A2 $OUT/int8_ops.log | head -30
timeout 200 python3 scripts/gpu_int8_check.py 2>&1 | tail -20
W=/tmp/bm; mkdir -p $W; python3 bench/export_bench_models.py $W > $OUT/export.log 2>&1 || tail -5 $OUT/export.log
python3 -c "import numpy as np, os; os.makedirs('$W/calib', exist_ok=True); [np.save('$W/calib/%02d.npy' % i, np.random.default_rng(i).standard_normal((3, 224, 224)).astype(np.float32)) for i in range(16)]"
for m in resnet50 mobilenet_v2; do for b in 1 128; do for p in fp16 int8; do
  extra=""; [ $p = int8 ] && extra="--calib-dir $W/calib --calib-cache $W/$m.calib"
  .gpu/bin/edgert build -q --onnx $W/$m.onnx --target cuda --precision $p --shapes input:${b}x3x224x224 $extra -o $W/e.engine > $OUT/b.log 2>&1 || { tail -3 $OUT/b.log; continue; }
  echo "$m b$b $p $(.gpu/bin/edgert bench --engine $W/e.engine --backend cuda --iterations 100 --warmup 10 | grep -E 'latency|memory' | tr '\n' ' ')"
  [ $b = 128 ] && [ $p = int8 ] && .gpu/bin/edgert bench --engine $W/e.engine --backend cuda --iterations 20 --warmup 3 --per-layer > $OUT/perlayer_$m.txt 2>&1
done; done; done
for m in resnet50 mobilenet_v2; do echo "-- $m int8 b128 per layer"; head -40 $OUT/perlayer_$m.txt; done
# NCU=1: Nsight Compute on ResNet-50 int8 batch 128's tensor-core kernels (a few launches).
if [ -n "${NCU:-}" ]; then
  NCU_BIN=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
  .gpu/bin/edgert build -q --onnx $W/resnet50.onnx --target cuda --precision int8 --shapes input:128x3x224x224 \
    --calib-dir $W/calib --calib-cache $W/resnet50.calib -o $W/r8.engine > /dev/null 2>&1
  "$NCU_BIN" --kernel-name regex:"edgert_qconv_mma|edgert_im2col" --launch-skip 0 --launch-count 4 \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis \
    .gpu/bin/edgert bench --engine $W/r8.engine --backend cuda --iterations 1 --warmup 0 --no-cuda-graph > $OUT/ncu.txt 2>&1
  grep -E "edgert_|Duration|Throughput|Registers Per|Achieved Occupancy|Theoretical Occupancy|Block Limit|Memory Throughput|Shared Memory Config" $OUT/ncu.txt | head -80
fi
