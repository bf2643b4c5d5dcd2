#!/usr/bin/env bash
# Nsight Compute on ResNet-50 int8 batch 128's tensor-core kernels (KERNELS regex; NCU_COUNT
# launches after skipping NCU_SKIP): time, throughput, occupancy and the warps' stall reasons per
# launch, and the engine's layer table ($OUT/inspect.txt: tactics and element types). Logs to
# $OUT. Run from the repo root, .gpu/ staged; reuses the models and calibration samples of
# scripts/gpu-int8-bench.sh (which calls this with NCU=1) when they are there.
set -uo pipefail; OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
source scripts/gpu-unpack.sh
export LD_LIBRARY_PATH=$PWD/.gpu/lib
W=/tmp/bm; mkdir -p $W
[ -f $W/resnet50.onnx ] || python3 bench/export_bench_models.py $W > $OUT/export.log 2>&1 || tail -5 $OUT/export.log
[ -d $W/calib ] || python3 bench/calib_tensors.py $W/calib
.gpu/bin/edgert build -q --onnx $W/resnet50.onnx --target cuda --precision int8 --shapes input:128x3x224x224 \
  --calib-dir $W/calib --calib-cache $W/resnet50.calib -o $W/r8.engine > $OUT/b.log 2>&1 || tail -3 $OUT/b.log
.gpu/bin/edgert inspect --engine $W/r8.engine > $OUT/inspect.txt 2>&1
NCU_BIN=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
"$NCU_BIN" --kernel-name regex:"${KERNELS:-edgert_qconv_mma|edgert_qconv_wgmma|edgert_im2col}" \
  --launch-skip "${NCU_SKIP:-0}" --launch-count "${NCU_COUNT:-6}" --section SpeedOfLight \
  --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis --section WarpStateStats \
  --section SchedulerStats --section ComputeWorkloadAnalysis \
  .gpu/bin/edgert bench --engine $W/r8.engine --backend cuda --iterations 1 --warmup 0 --no-cuda-graph > $OUT/ncu.txt 2>&1
grep -E "edgert_|Duration|DRAM Throughput|Compute \(SM\) Throughput|Memory Throughput|Registers Per|Achieved Occupancy|Theoretical Occupancy|Block Limit (Reg|Shared)|Grid Size|Issued Warp Per|No Eligible|Stall|Issue Slots|Executed Ipc|L1/TEX Hit|L2 Hit" \
  $OUT/ncu.txt | head -${NCU_LINES:-150}
