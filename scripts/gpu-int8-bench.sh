#!/usr/bin/env bash
# INT8 on the GPU machine, quickly: the GPU-vs-CPU INT8 tests, real models and photos
# (scripts/gpu_int8_check.py), and ResNet-50 / MobileNetV2 int8 beside fp16 with a per-layer
# profile of the int8 engines at batch 128. Logs to $OUT. Run from the repo root, .gpu/ staged.
set -uo pipefail; OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
source scripts/gpu-unpack.sh
export LD_LIBRARY_PATH=$PWD/.gpu/lib; export EDGERT_TEST_BACKEND=cuda
[ -x .gpu/bin/mma_peak ] && .gpu/bin/mma_peak  # the tensor-core ceiling (bench/micro/mma_peak.cu)
(cd /tmp && timeout 120 $OLDPWD/.gpu/bin/test_ops --gtest_filter='Int8Gpu*' > $OUT/int8_ops.log 2>&1; echo "int8 ops rc $?")
grep -E "Failure|FAILED|Expected|Which|of " -A2 $OUT/int8_ops.log | head -30
[ -z "${SKIP_REAL:-}" ] && timeout 200 python3 scripts/gpu_int8_check.py 2>&1 | tail -20
W=/tmp/bm; mkdir -p $W; python3 bench/export_bench_models.py $W > $OUT/export.log 2>&1 || tail -5 $OUT/export.log
python3 bench/calib_tensors.py $W/calib
MODELS="${MODELS:-resnet50 mobilenet_v2}"
for m in $MODELS; do for b in 1 128; do for p in fp16 int8; do
  extra=""; [ $p = int8 ] && extra="--calib-dir $W/calib --calib-cache $W/$m.calib"
  .gpu/bin/edgert build -q --onnx $W/$m.onnx --target cuda --precision $p --shapes input:${b}x3x224x224 $extra -o $W/e.engine > $OUT/b.log 2>&1 || { tail -3 $OUT/b.log; continue; }
  echo "$m b$b $p $(.gpu/bin/edgert bench --engine $W/e.engine --backend cuda --iterations 100 --warmup 10 | grep -E 'latency|memory' | tr '\n' ' ')" | tee -a $OUT/summary.txt
  .gpu/bin/edgert bench --engine $W/e.engine --backend cuda --iterations 20 --warmup 3 --per-layer \
    --json $OUT/layers_${m}_b${b}_$p.json > $OUT/perlayer_${m}_b${b}_$p.txt 2>&1
done; done; done
# A/B: the same networks without the tactics in AB_EXCLUDE (EDGERT_TACTIC_EXCLUDE), by
# default the 64 x 64 warp tiles.
AB_EXCLUDE="${AB_EXCLUDE:-int8-mma-wide}"
for m in $MODELS; do for b in 1 128; do
  EDGERT_TACTIC_EXCLUDE=$AB_EXCLUDE .gpu/bin/edgert build -q --onnx $W/$m.onnx --target cuda --precision int8 \
    --shapes input:${b}x3x224x224 --calib-dir $W/calib --calib-cache $W/$m.calib -o $W/e.engine > $OUT/b.log 2>&1 || continue
  echo "$m b$b int8 without $AB_EXCLUDE: $(.gpu/bin/edgert bench --engine $W/e.engine --backend cuda --iterations 100 --warmup 10 | grep -E 'latency')" | tee -a $OUT/summary.txt
done; done
for m in $MODELS; do for b in 128 1; do
  echo "-- $m int8 b$b per layer (tactics: $(python3 -c "import json, collections, sys; print(dict(collections.Counter(l['tactic'] for l in json.load(open(sys.argv[1]))['layers'] if l['op'] == 'EdgertQConv')))" $OUT/layers_${m}_b${b}_int8.json))"; head -${PERLAYER_LINES:-24} $OUT/perlayer_${m}_b${b}_int8.txt; done; done
# Where int8 loses to fp16, layer by layer (batch 128).
for m in $MODELS; do
  echo "-- $m b128: A = fp16, B = int8"
  python3 bench/compare_layers.py $OUT/layers_${m}_b128_fp16.json $OUT/layers_${m}_b128_int8.json ${COMPARE_LINES:-20}
done
# NCU=1: Nsight Compute on ResNet-50 int8 batch 128's tensor-core kernels (scripts/gpu-int8-ncu.sh:
# KERNELS, NCU_SKIP, NCU_COUNT), with the warps' stall reasons.
[ -n "${NCU:-}" ] && bash scripts/gpu-int8-ncu.sh
echo "---- summary (CUDA graphs, median ms) ----"; sed -E 's/ +memory.*//; s/min [0-9.]+ +//; s/p90.*//' $OUT/summary.txt
