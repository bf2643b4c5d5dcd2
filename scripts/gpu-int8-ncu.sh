#!/usr/bin/env bash
# Nsight Compute on ResNet-50 int8 batch 128's big-tile kernels (KERNELS regex, default the wgmma
# and wide ones): time, throughput, occupancy and stall reasons per launch, plus the engine's
# layer table for the first bottleneck. Logs to $OUT. Run from the repo root, .gpu/ staged.
set -uo pipefail; OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
source scripts/gpu-unpack.sh
export LD_LIBRARY_PATH=$PWD/.gpu/lib
W=/tmp/bm; mkdir -p $W/calib; python3 bench/export_bench_models.py $W > $OUT/export.log 2>&1 || tail -5 $OUT/export.log
python3 -c "import numpy as np; [np.save('$W/calib/%02d.npy' % i, np.random.default_rng(i).standard_normal((3, 224, 224)).astype(np.float32)) for i in range(16)]"
.gpu/bin/edgert build -q --onnx $W/resnet50.onnx --target cuda --precision int8 --shapes input:128x3x224x224 \
  --calib-dir $W/calib --calib-cache $W/r.calib -o $W/r8.engine > $OUT/b.log 2>&1 || tail -3 $OUT/b.log
.gpu/bin/edgert inspect --engine $W/r8.engine > $OUT/inspect.txt 2>&1
grep -E "layer1.0/conv3|layer1.0/downsample|layer1.1/conv3|layer3.1/conv3" $OUT/inspect.txt | head -8
NCU_BIN=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
"$NCU_BIN" --kernel-name regex:"${KERNELS:-edgert_qconv_wgmma|edgert_qconv_mma_wide}" --launch-skip "${NCU_SKIP:-0}" \
  --launch-count "${NCU_COUNT:-6}" --section SpeedOfLight --section Occupancy --section LaunchStats \
  --section MemoryWorkloadAnalysis --section WarpStateStats --section SchedulerStats \
  .gpu/bin/edgert bench --engine $W/r8.engine --backend cuda --iterations 1 --warmup 0 --no-cuda-graph > $OUT/ncu.txt 2>&1
grep -E "edgert_qconv|Duration|DRAM Throughput|Compute \(SM\) Throughput|Memory Throughput|Registers Per|Achieved Occupancy|Theoretical Occupancy|Block Limit (Reg|Shared)|Grid Size|Issued Warp Per|No Eligible|Stall|L1/TEX Hit|L2 Hit" $OUT/ncu.txt | head -${NCU_LINES:-150}
