#!/usr/bin/env bash
# Per-layer profiles of the bench models on the GPU machine (device tool, carry .gpu after
# scripts/stage-gpu.sh): MODELS, BATCHES and PRECISIONS pick what. For each engine: its build
# time (tactic timing, then again with the warm timing cache), its CUDA-graph latency and
# memory, and a per-layer roofline table (bench/layer_roofline.py) in $OUT/roofline.md.
set -uo pipefail
OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
source scripts/gpu-unpack.sh
export LD_LIBRARY_PATH="$PWD/.gpu/lib:${LD_LIBRARY_PATH:-}"
W=/tmp/bench-models
[ -f $W/resnet50.onnx ] || python3 bench/export_bench_models.py $W > "$OUT/bench_export.log" 2>&1
now() { date +%s.%N; }
for m in ${MODELS:-resnet50 mobilenet_v2 efficientnet_b0 yolov8_tiny}; do
  for prec in ${PRECISIONS:-fp16}; do
    for b in ${BATCHES:-128}; do
      extra=()
      if [ "$prec" = int8 ]; then
        [ -d $W/calib ] || python3 bench/calib_tensors.py $W/calib
        extra=(--calib-dir $W/calib --calib-cache $W/$m.calib)
      fi
      # ENGINES=1: cuDNN's graph engines for the first convolution (3 input channels), each with
      # why it was taken or passed over.
      e=/tmp/e-$m-$prec-b$b.engine tc=/tmp/tc-$m-$prec-b$b.cache; rm -f $tc
      t0=$(now)
      env ${ENGINES:+EDGERT_VERBOSE=1} .gpu/bin/edgert build -q --onnx $W/$m.onnx --target cuda --precision $prec \
        --input-format $([ $prec = fp16 ] && echo fp16 || echo fp32) --shapes input:${b}x3x224x224 "${extra[@]}" \
        --timing-cache $tc -o $e > /tmp/b.log 2>&1 || { echo "build $m $prec b$b failed: $(tail -2 /tmp/b.log)"; continue; }
      t1=$(now)
      .gpu/bin/edgert build -q --onnx $W/$m.onnx --target cuda --precision $prec \
        --input-format $([ $prec = fp16 ] && echo fp16 || echo fp32) --shapes input:${b}x3x224x224 "${extra[@]}" \
        --timing-cache $tc -o $e.warm > /dev/null 2>&1
      t2=$(now)
      [ -n "${ENGINES:-}" ] && grep -E "graph conv x=${b}x[34]x" /tmp/b.log | sort -u | head -40
      lat=$(.gpu/bin/edgert bench --engine $e --backend cuda --iterations $([ $b -ge 64 ] && echo 50 || echo 200) --warmup 10 | grep -E 'latency|memory' | tr -s ' ' | tr '\n' ' ')
      echo "$m $prec b$b: build $(python3 -c "print('%.1f s, warm timing cache %.1f s' % ($t1 - $t0, $t2 - $t1))"); $lat"
      { echo "== $m $prec b$b"; .gpu/bin/edgert bench --engine $e --backend cuda --per-layer --iterations 20 \
          --json $OUT/layers-$m-$prec-b$b.json 2>&1; } >> "$OUT/profiles.txt"
      { python3 bench/layer_roofline.py $OUT/layers-$m-$prec-b$b.json --top ${TOP:-8} --title "$m $prec b$b"; echo; } >> "$OUT/roofline.md"
      rm -f $e $e.warm
    done
  done
done
