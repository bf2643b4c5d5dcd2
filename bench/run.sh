#!/usr/bin/env bash
# edgert vs PyTorch eager vs torch.compile (default mode and reduce-overhead; max-autotune
# with BENCH_TORCH_MODES, see torch_bench.py), same models, batch and
# precision, in one run on the GPU machine. Usage: bench/run.sh OUT_DIR (from the repo root,
# with .gpu/ staged; see scripts/gpu-check.sh --bench).
set -uo pipefail
OUT="${1:-/tmp/bench}"; mkdir -p "$OUT"
EDGERT="$PWD/.gpu/bin/edgert"
[ -f scripts/gpu-unpack.sh ] && source scripts/gpu-unpack.sh
export LD_LIBRARY_PATH="$PWD/.gpu/lib:${LD_LIBRARY_PATH:-}"  # the staged libraries
MODELS="${BENCH_MODELS:-resnet50,mobilenet_v2,efficientnet_b0,yolov8_tiny}"
BATCHES="${BENCH_BATCHES:-1,8,128}"
W=/tmp/bench-models
python3 bench/export_bench_models.py $W > "$OUT/bench_export.log" 2>&1 || { echo "bench export failed"; tail "$OUT/bench_export.log"; }
RES="$OUT/bench_results.jsonl"; : > "$RES"
PRECISIONS="${BENCH_PRECISIONS:-fp32 fp16 int8}"  # edgert's; PyTorch runs fp32 and fp16
# BENCH_EXTRA: more model:batch pairs, e.g. resnet50:256 (issue #10's bs 256 column).
PAIRS=""
for m in ${MODELS//,/ }; do for b in ${BATCHES//,/ }; do PAIRS="$PAIRS $m:$b"; done; done
EXTRA="${BENCH_EXTRA:-}"
PAIRS="$PAIRS ${EXTRA//,/ }"
for pair in $PAIRS; do
  m=${pair%%:*}
  for b in ${pair#*:}; do
    iters=200; [ "$b" -ge 64 ] && iters=50
    for prec in $PRECISIONS; do
      # fp16: NHWC fp16 between tensor-core convolutions.
      e=$W/$m-b$b-$prec.engine
      t0=$(date +%s%N)
      # fp16: the input binding in fp16 too, as PyTorch is fed (TensorRT's --inputIOFormats).
      fmt=fp32; [ "$prec" = fp16 ] && fmt="${BENCH_FP16_INPUT:-fp16}"
      extra=""
      if [ "$prec" = int8 ]; then
        # The bench models have random weights: random normal inputs calibrate them as well as
        # photos would. One cache per model serves every batch size.
        [ -d $W/calib ] || python3 bench/calib_tensors.py $W/calib
        extra="--calib-dir $W/calib --calib-cache $W/$m.calib"
        # The real classifier: the cache calibrated on the real photos (scripts/stage-gpu.sh).
        [ $m = efficientnet_lite0 ] && [ -f .gpu/models/enl.calib ] && extra="--calib-cache .gpu/models/enl.calib"
      fi
      "$EDGERT" build -q --onnx $W/$m.onnx --target cuda --precision $prec --input-format $fmt --shapes input:${b}x3x224x224 $extra -o $e \
        >> "$OUT/bench_build.log" 2>&1 || { echo "build $m b$b $prec failed"; continue; }
      build_s=$(( ($(date +%s%N) - t0) / 1000000 ))e-3
      "$EDGERT" bench --engine $e --backend cuda --iterations $iters --warmup 10 --json $W/r.json \
        >> "$OUT/bench_edgert.log" 2>&1 || { echo "bench $m b$b $prec failed"; tail -3 "$OUT/bench_edgert.log"; continue; }
      python3 -c "import json,sys; r=json.load(open('$W/r.json')); r.update(model='$m', runner='edgert', precision='$prec', build_s=$build_s); print(json.dumps(r))" >> "$RES"
    done
  done
done
# PyTorch has no INT8 engine to compare: edgert's int8 rows stand beside its fp16 ones.
for prec in ${BENCH_TORCH_PRECISIONS:-${PRECISIONS//int8/}}; do
  (cd bench && python3 torch_bench.py $prec "$BATCHES" "$MODELS" 50) >> "$RES" 2>> "$OUT/bench_torch.log" || tail -5 "$OUT/bench_torch.log"
  for pair in ${EXTRA//,/ }; do
    (cd bench && python3 torch_bench.py $prec "${pair#*:}" "${pair%%:*}" 50) >> "$RES" 2>> "$OUT/bench_torch.log" || tail -5 "$OUT/bench_torch.log"
  done
done
python3 bench/report.py "$RES" | tee "$OUT/bench_table.txt"
