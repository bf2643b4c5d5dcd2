#!/usr/bin/env bash
# Runs on the GPU machine (device tool) from the repo root with .gpu/ carried (see
# scripts/stage-gpu.sh): the GPU test suite, then the benchmarks. Logs go to $OUT.
set -uo pipefail
OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
source scripts/gpu-unpack.sh
export LD_LIBRARY_PATH="$PWD/.gpu/lib:${LD_LIBRARY_PATH:-}"
export EDGERT_TEST_BACKEND=cuda
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
mkdir -p /tmp/td && tar xJf .gpu/node.tar.xz -C /tmp/td
export EDGERT_ONNX_TESTDATA=/tmp/td/node
python3 tests/models/export_models.py /tmp/models > "$OUT/export.log" 2>&1 || { echo "export failed"; tail -20 "$OUT/export.log"; }
export EDGERT_MODELS_DIR=/tmp/models
declare -A result
export EDGERT_CONFORMANCE_VERBOSE=1
(cd /tmp && EDGERT_TEST_PRECISION=fp16 timeout 300 "$OLDPWD/.gpu/bin/test_models" > "$OUT/test_models_fp16.log" 2>&1)
result[models_fp16]=$?
grep -h "rel L2" "$OUT/test_models_fp16.log"
for t in ops onnx_conformance models bad_input runtime; do
  (cd /tmp && timeout 300 "$OLDPWD/.gpu/bin/test_$t" > "$OUT/test_$t.log" 2>&1)
  result[$t]=$?
done
grep -h "onnx-conformance" "$OUT"/test_onnx_conformance.log
grep -h "rel L2" "$OUT"/test_models.log
cp /tmp/onnx_conformance_report_cuda.txt "$OUT/" 2>/dev/null
# Real pretrained models: the CUDA engine against the CPU engine on the same random input.
python3 - "$OUT" <<'PY'
import json, os, subprocess, sys
import numpy as np
out = sys.argv[1]
from PIL import Image
def photo(path, h, w, mean, std, scale):
    img = Image.open(path).convert("RGB").resize((w, h), Image.BILINEAR)
    x = (np.asarray(img, dtype=np.float32) / scale - np.array(mean, np.float32)) / np.array(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None]).astype(np.float32)
ppocr = dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), scale=255.0)
# Real inputs (real photos, each model's preprocessing), not noise: FP16 is judged on data
# like the deployment's.
models = [("configs/models/efficientnet_lite0.onnx", "input", photo("configs/demo/dog.jpg", 224, 224, (127,) * 3, (128,) * 3, 1.0)),
          (".gpu/models/ch_PP-OCRv4_det_infer.onnx", "x", photo(".gpu/models/page.png", 640, 640, **ppocr)),
          (".gpu/models/ch_ppocr_mobile_v2.0_cls_infer.onnx", "x", photo(".gpu/models/page.png", 48, 192, **ppocr))]
ok = True
for path, name, x in models:
    if not os.path.exists(path):
        print("skip", path); continue
    shape = x.shape
    np.save("/tmp/rx.npy", x)
    res = {}
    for target, prec in (("cpu", "fp32"), ("cuda", "fp32"), ("cuda", "fp16")):
        eng = "/tmp/r-%s-%s.engine" % (target, prec)
        subprocess.run([".gpu/bin/edgert", "build", "-q", "--onnx", path, "--target", target, "--precision", prec,
                        "--shapes", "%s:%s" % (name, "x".join(map(str, shape))), "-o", eng], check=True)
        d = "/tmp/r-%s-%s" % (target, prec)
        subprocess.run(["rm", "-rf", d])
        subprocess.run([".gpu/bin/edgert", "run", "--engine", eng, "--backend", target, "--input", "%s=/tmp/rx.npy" % name,
                        "--save-outputs", d], check=True, stdout=subprocess.DEVNULL)
        res[target + prec] = [np.load(os.path.join(d, f)) for f in sorted(os.listdir(d))]
    for key, tol in (("cudafp32", 1e-4), ("cudafp16", 1e-2)):
        err = max(float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30)) for a, b in zip(res[key], res["cpufp32"]))
        ok &= err < tol
        print("%-44s %s vs cpu fp32 rel L2 %.3g %s" % (os.path.basename(path), key, err, "ok" if err < tol else "FAIL"))
sys.exit(0 if ok else 1)
PY
result[real_models]=$?
# EfficientNet-Lite0's CUDA FP32 engine against PyTorch (the ONNX graph through
# bench/onnx_torch.py) on the pre-processed photos: relative L2 <= 1e-4 (issue #9).
mkdir -p /tmp/assets/models/imagenet && ln -sf "$PWD/.gpu/images" /tmp/assets/images &&
  ln -sf "$PWD/configs/models/efficientnet_lite0.onnx" /tmp/assets/models/imagenet/ &&
  cp .gpu/models/efficientnet_lite0_reference_top3.txt /tmp/assets/models/imagenet/
python3 tests/models/efficientnet_lite0_reference_test.py .gpu/bin/edgert /tmp/assets /tmp/enl_ref --backend cuda \
  --tensors-only > "$OUT/enl_vs_torch.log" 2>&1
result[enl_vs_torch]=$?
tail -1 "$OUT/enl_vs_torch.log"
# INT8 on the GPU: engines built here from the calibration caches staged in .gpu/models (made on
# the host from the real photos), run on those photos. The CUDA INT8 engine against the CPU
# INT8 engine (the same integers up to the fp16 layers around the INT8 ones) and both against
# CPU FP32.
python3 scripts/gpu_int8_check.py
result[int8_real]=$?
python3 scripts/gpu_qdq_check.py
result[qdq_roundtrip]=$?
# compute-sanitizer on every real model: memcheck (bounds, leaks) and racecheck (shared memory).
CS=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
python3 -c "import numpy as np; [np.save('/tmp/s_%s.npy' % n, np.random.default_rng(0).standard_normal(s).astype(np.float32)) for n, s in (('y', (1,3,160,160)), ('e', (1,3,224,224)), ('d', (1,3,320,320)), ('c', (1,3,48,192)))]"
sanitized=0
# Each failing sanitizer command says which it was and its exit status (a bare flag left session
# 22's FAIL unexplained: every line had reported 0 errors).
san_fail() { sanitized=1; echo "sanitizer step failed: $1 (rc $2)"; }
for spec in "/tmp/models/yolov8_tiny.onnx:input:1x3x160x160:y" "configs/models/efficientnet_lite0.onnx:input:1x3x224x224:e" \
            ".gpu/models/ch_PP-OCRv4_det_infer.onnx:x:1x3x320x320:d" ".gpu/models/ch_ppocr_mobile_v2.0_cls_infer.onnx:x:1x3x48x192:c"; do
  IFS=: read -r model in shape tag <<< "$spec"
  [ -f "$model" ] || continue
  # GPU_CHECK_QUICK=1: fp16 only (the NHWC fp16 kernels), no tactic A/B or frame-feeding bench.
  for prec in $([ -n "${GPU_CHECK_QUICK:-}" ] && echo fp16 || echo fp32 fp16); do
    .gpu/bin/edgert build -q --onnx "$model" --target cuda --precision $prec --shapes "$in:$shape" -o /tmp/s.engine 2>/dev/null || { san_fail "$tag $prec build" $?; continue; }
    log="$OUT/sanitizer_${prec}_$tag.log"
    "$CS" --tool memcheck --leak-check full --error-exitcode 9 .gpu/bin/edgert run --engine /tmp/s.engine \
      --backend cuda --input "$in=/tmp/s_$tag.npy" --iterations 3 > "$log" 2>&1 || san_fail "$tag $prec memcheck" $?
    echo "$(basename "$model") $prec memcheck: $(grep -hE 'ERROR SUMMARY' "$log" | tail -1)"
    # racecheck: cuBLASLt's Hopper kernels (nvjet_sm90_*: TMA and async barriers, which
    # racecheck does not model) report hazards; a hazard in one of our kernels fails.
    "$CS" --tool racecheck .gpu/bin/edgert run --engine /tmp/s.engine --backend cuda \
      --input "$in=/tmp/s_$tag.npy" --iterations 3 >> "$log" 2>&1 || san_fail "$tag $prec racecheck" $?
    ours=$(grep -c "Race reported.*edgert_" "$log")
    [ "$ours" = 0 ] || san_fail "$tag $prec: hazards in our kernels" "$ours"
    echo "$(basename "$model") $prec racecheck: $ours hazards in edgert kernels; library kernels: $(grep -hE 'RACECHECK SUMMARY' "$log" | tail -1)"
  done
done
# The INT8 kernels under the sanitizer: EfficientNet-Lite0 and the text detector from their caches.
for spec in "configs/models/efficientnet_lite0.onnx:input:1x3x224x224:e:enl" ".gpu/models/ch_PP-OCRv4_det_infer.onnx:x:1x3x320x320:d:det"; do
  IFS=: read -r model in shape tag cache <<< "$spec"
  [ -f "$model" ] && [ -f ".gpu/models/$cache.calib" ] || continue
  .gpu/bin/edgert build -q --onnx "$model" --target cuda --precision int8 --no-timed-precision --calib-cache ".gpu/models/$cache.calib" \
    --shapes "$in:$shape" -o /tmp/s8.engine 2>/dev/null || { san_fail "$tag int8 build" $?; continue; }
  log="$OUT/sanitizer_int8_$tag.log"
  "$CS" --tool memcheck --leak-check full --error-exitcode 9 .gpu/bin/edgert run --engine /tmp/s8.engine \
    --backend cuda --input "$in=/tmp/s_$tag.npy" --iterations 3 > "$log" 2>&1 || san_fail "$tag int8 memcheck" $?
  "$CS" --tool racecheck .gpu/bin/edgert run --engine /tmp/s8.engine --backend cuda \
    --input "$in=/tmp/s_$tag.npy" --iterations 3 >> "$log" 2>&1 || san_fail "$tag int8 racecheck" $?
  ours=$(grep -c "Race reported.*edgert_" "$log"); [ "$ours" = 0 ] || san_fail "$tag int8: hazards in our kernels" "$ours"
  echo "$(basename "$model") int8 memcheck: $(grep -hE 'ERROR SUMMARY' "$log" | head -1); racecheck: $ours hazards in edgert kernels"
done
# Our big-tile INT8 kernels (64 x 64 warp tiles; wgmma and the TMA-fed wgmma on sm_90) are
# chosen only where tactic timing picks them, which the real models above at batch 1 may not:
# the sanitizer runs them through the Int8Gpu test's forced rounds too (9-11: space-to-depth stems, 12: the persistent TMA kernel).
for r in ${SANITIZE_ROUNDS:-4 5 6 7 8 9 10 11 12 16}; do
  log="$OUT/sanitizer_int8_round$r.log"
  (cd /tmp && EDGERT_TEST_INT8_ROUNDS=$r "$CS" --tool memcheck --error-exitcode 9 "$OLDPWD/.gpu/bin/test_ops" \
    --gtest_filter=Int8Gpu.QConvMatchesTheCpuReference > "$log" 2>&1) || san_fail "Int8Gpu round $r memcheck" $?
  (cd /tmp && EDGERT_TEST_INT8_ROUNDS=$r "$CS" --tool racecheck "$OLDPWD/.gpu/bin/test_ops" \
    --gtest_filter=Int8Gpu.QConvMatchesTheCpuReference >> "$log" 2>&1) || san_fail "Int8Gpu round $r racecheck" $?
  ours=$(grep -c "Race reported.*edgert_" "$log"); [ "$ours" = 0 ] || san_fail "Int8Gpu round $r: hazards in our kernels" "$ours"
  echo "Int8Gpu round $r memcheck: $(grep -hE 'ERROR SUMMARY' "$log" | head -1); racecheck: $ours hazards in edgert kernels"
done
# The FP16 implicit-GEMM kernel: the detector built with it wherever it applies, once among
# the cluster splits (nhwc16-mma-c*), once among the whole and L2-summed ones (nhwc16-mma-s*).
for fam in c s; do
  log="$OUT/sanitizer_fp16_mma_$fam.log"
  EDGERT_TACTIC_PREFER=nhwc16-mma-$fam .gpu/bin/edgert build -q --onnx /tmp/models/yolov8_tiny.onnx \
    --target cuda --precision fp16 --shapes input:1x3x160x160 -o /tmp/sm.engine 2>/dev/null || { san_fail "mma-$fam build" $?; continue; }
  n=$(.gpu/bin/edgert inspect --engine /tmp/sm.engine | grep -c "nhwc16-mma-$fam")
  "$CS" --tool memcheck --error-exitcode 9 .gpu/bin/edgert run --engine /tmp/sm.engine --backend cuda \
    --input "input=/tmp/s_y.npy" --iterations 3 > "$log" 2>&1 || san_fail "nhwc16-mma-$fam memcheck" $?
  "$CS" --tool racecheck .gpu/bin/edgert run --engine /tmp/sm.engine --backend cuda \
    --input "input=/tmp/s_y.npy" --iterations 3 >> "$log" 2>&1 || san_fail "nhwc16-mma-$fam racecheck" $?
  ours=$(grep -c "Race reported.*edgert_" "$log"); [ "$ours" = 0 ] || san_fail "nhwc16-mma-$fam: hazards in our kernels" "$ours"
  echo "detector fp16, $n layers on nhwc16-mma-$fam*: memcheck $(grep -hE 'ERROR SUMMARY' "$log" | head -1); racecheck: $ours hazards in edgert kernels"
done
# The TMA-fed wgmma kernel (Hopper): ResNet-18 (exported at batch 1) built with it wherever it applies -
# 128-wide tiles, 64-wide ones (whole or split, as timed), the cluster splits alone, and the
# persistent kernel.
python3 -c "import numpy as np; np.save('/tmp/s_r.npy', np.random.default_rng(3).standard_normal((1, 3, 224, 224)).astype(np.float32))"
# The persistent blocks (p-n64) capped at four, so that each walks many tiles.
for fam in n128 n64 n64-c p-n64; do
  log="$OUT/sanitizer_fp16_tma_$fam.log"
  EDGERT_TACTIC_PREFER=nhwc16-tma-$fam .gpu/bin/edgert build -q --onnx /tmp/models/resnet18.onnx \
    --target cuda --precision fp16 --shapes input:1x3x224x224 -o /tmp/sm.engine 2>/dev/null || { san_fail "tma-$fam build" $?; continue; }
  n=$(.gpu/bin/edgert inspect --engine /tmp/sm.engine | grep -c "nhwc16-tma-$fam")
  EDGERT_TMA_P_BLOCKS=4 "$CS" --tool memcheck --error-exitcode 9 .gpu/bin/edgert run --engine /tmp/sm.engine \
    --backend cuda --input "input=/tmp/s_r.npy" --iterations 2 > "$log" 2>&1 || san_fail "nhwc16-tma-$fam memcheck" $?
  EDGERT_TMA_P_BLOCKS=4 "$CS" --tool racecheck .gpu/bin/edgert run --engine /tmp/sm.engine --backend cuda \
    --input "input=/tmp/s_r.npy" --iterations 2 >> "$log" 2>&1 || san_fail "nhwc16-tma-$fam racecheck" $?
  ours=$(grep -c "Race reported.*edgert_" "$log"); [ "$ours" = 0 ] || san_fail "nhwc16-tma-$fam: hazards in our kernels" "$ours"
  echo "resnet18 bs1 fp16, $n layers on nhwc16-tma-$fam*: memcheck $(grep -hE 'ERROR SUMMARY' "$log" | head -1); racecheck: $ours hazards in edgert kernels"
done
result[compute_sanitizer]=$sanitized
if [ -z "${GPU_CHECK_QUICK:-}" ]; then
# Tactic timing and elementwise fusion A/B on the real text detector (its HardSwish chains
# are spelled out; its 1x1 convolutions are where cuBLASLt may beat cuDNN).
for f in "" "--no-tactic-timing" "--no-tactic-timing --no-fuse-elementwise"; do
  t0=$(date +%s.%N)
  .gpu/bin/edgert build -q $f --onnx .gpu/models/ch_PP-OCRv4_det_infer.onnx --target cuda \
    --shapes x:1x3x640x640 -o /tmp/ab.engine > /tmp/ab.log 2>&1 || { cat /tmp/ab.log; continue; }
  t1=$(date +%s.%N)
  echo "ppocr det 640 [${f:-timing + fusion}] build $(python3 -c "print(round($t1 - $t0, 2))") s, $(grep -o 'tactics:.*' /tmp/ab.log)" \
       "$(.gpu/bin/edgert bench --engine /tmp/ab.engine --backend cuda --iterations 300 --warmup 30 | grep latency)"
done
.gpu/bin/edgert build -q --onnx .gpu/models/ch_PP-OCRv4_det_infer.onnx --target cuda --shapes x:1x3x640x640 -o /tmp/ab.engine >/dev/null 2>&1 &&
  echo "chosen tactics: $(.gpu/bin/edgert inspect --engine /tmp/ab.engine | grep -oE 'cudnn-fp32-algo[0-9]+|cublaslt-1x1' | sort | uniq -c | tr '\n' ' ')"
# Frame feeding (edgertinfer's pre-processing on the GPU): 1080p -> 640x640 per frame.
python3 -c "
import onnx
from onnx import helper as h, TensorProto as T
io = [h.make_tensor_value_info(n, T.FLOAT, [1, 3, 640, 640]) for n in 'xy']
g = h.make_graph([h.make_node('Mul', ['x', 'one'], ['y'])], 'p', io[:1], io[1:], [h.make_tensor('one', T.FLOAT, [1], [1.0])])
onnx.save(h.make_model(g, opset_imports=[h.make_opsetid('', 13)]), '/tmp/pass.onnx')"
for b in cuda cpu; do EDGERT_BENCH_PASSTHROUGH=/tmp/pass.onnx .gpu/bin/edgert_image_bench $b 200 | tee -a "$OUT/image_bench.log"; done
fi
if [ "${1:-}" = "--bench" ]; then bash bench/run.sh "$OUT"; fi
# What failed, in the output tail (the logs themselves may not all come back).
for t in "${!result[@]}"; do
  [ "${result[$t]}" = 0 ] && continue
  log="$OUT/test_$t.log"; [ "$t" = models_fp16 ] && log="$OUT/test_models_fp16.log"
  [ -f "$log" ] && { echo "---- $t failures ----"; grep -E "Failure|\[  FAILED  \]" -A4 "$log" | head -40; }
done
echo "---- GPU suite ----"
for t in "${!result[@]}"; do printf "%-20s %s\n" "$t" "$([ "${result[$t]}" = 0 ] && echo PASS || echo "FAIL (rc ${result[$t]})")"; done
