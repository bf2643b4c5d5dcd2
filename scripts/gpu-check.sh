#!/usr/bin/env bash
# Runs on the GPU machine (device tool) from the repo root with .gpu/ carried (see
# scripts/stage-gpu.sh): the GPU test suite, then the benchmarks. Logs go to $OUT.
set -uo pipefail
OUT="${OUT:-/tmp/out}"; mkdir -p "$OUT"
export LD_LIBRARY_PATH="$PWD/.gpu/lib:${LD_LIBRARY_PATH:-}"
export EDGERT_TEST_BACKEND=cuda
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
mkdir -p /tmp/td && tar xJf .gpu/node.tar.xz -C /tmp/td
export EDGERT_ONNX_TESTDATA=/tmp/td/node
python3 tests/models/export_models.py /tmp/models > "$OUT/export.log" 2>&1 || { echo "export failed"; tail -20 "$OUT/export.log"; }
export EDGERT_MODELS_DIR=/tmp/models
declare -A result
export EDGERT_CONFORMANCE_VERBOSE=1
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
models = [("configs/models/efficientnet_lite0.onnx", "input", (1, 3, 224, 224)),
          (".gpu/models/ch_PP-OCRv4_det_infer.onnx", "x", (1, 3, 640, 640)),
          (".gpu/models/ch_ppocr_mobile_v2.0_cls_infer.onnx", "x", (1, 3, 48, 192))]
ok = True
for path, name, shape in models:
    if not os.path.exists(path):
        print("skip", path); continue
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    np.save("/tmp/rx.npy", x)
    res = {}
    for target in ("cpu", "cuda"):
        eng = "/tmp/r-%s.engine" % target
        subprocess.run([".gpu/bin/edgert", "build", "-q", "--onnx", path, "--target", target, "--shapes",
                        "%s:%s" % (name, "x".join(map(str, shape))), "-o", eng], check=True)
        d = "/tmp/r-%s" % target
        subprocess.run([".gpu/bin/edgert", "run", "--engine", eng, "--backend", target, "--input", "%s=/tmp/rx.npy" % name,
                        "--save-outputs", d], check=True, stdout=subprocess.DEVNULL)
        res[target] = [np.load(os.path.join(d, f)) for f in sorted(os.listdir(d))]
    err = max(float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30)) for a, b in zip(res["cuda"], res["cpu"]))
    ok &= err < 1e-4
    print("%-44s cuda vs cpu rel L2 %.3g %s" % (os.path.basename(path), err, "ok" if err < 1e-4 else "FAIL"))
sys.exit(0 if ok else 1)
PY
result[real_models]=$?
# compute-sanitizer on a real model run: memcheck (bounds, leaks) and racecheck (shared memory).
CS=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
.gpu/bin/edgert build -q --onnx /tmp/models/yolov8_tiny.onnx --target cuda --shapes input:1x3x160x160 -o /tmp/y.engine
for tool in memcheck racecheck; do
  extra=""; [ $tool = memcheck ] && extra="--leak-check full"
  "$CS" --tool $tool $extra --error-exitcode 9 .gpu/bin/edgert run --engine /tmp/y.engine --backend cuda \
    --input /tmp/models/yolov8_tiny.input.npy --iterations 3 > "$OUT/sanitizer_$tool.log" 2>&1
  result[sanitizer_$tool]=$?
  tail -2 "$OUT/sanitizer_$tool.log"
done
if [ "${1:-}" = "--bench" ]; then bash bench/run.sh "$OUT"; fi
echo "---- GPU suite ----"
for t in "${!result[@]}"; do printf "%-20s %s\n" "$t" "$([ "${result[$t]}" = 0 ] && echo PASS || echo "FAIL (rc ${result[$t]})")"; done
