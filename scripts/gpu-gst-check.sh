#!/usr/bin/env bash
# On the GPU machine (after scripts/stage-gpu.sh and scripts/stage-gpu-gst.sh here): the
# GStreamer elements on the CUDA backend. The element and harness tests, then the real text
# detector on a real page through edgertinfer on cuda vs cpu (the boxes must agree), then
# per-frame cost at 1080p (GST_DEBUG stats of edgertinfer). Logs to $OUT.
set -uo pipefail
OUT="${OUT:-/tmp/out}"
mkdir -p "$OUT"
rm -rf /tmp/gst && tar xJf .gpu/gst.tar.xz -C /tmp
source scripts/gpu-unpack.sh
export LD_LIBRARY_PATH="$PWD/.gpu/lib:/tmp/gst/lib"
export GST_PLUGIN_SYSTEM_PATH=/tmp/gst/plugins GST_PLUGIN_PATH=/tmp/gst/plugins
export GST_PLUGIN_SCANNER=/tmp/gst/bin/gst-plugin-scanner GST_REGISTRY=/tmp/gst-registry.bin
declare -A result
/tmp/gst/bin/test_vision > "$OUT/gst_test_vision.log" 2>&1; result[vision]=$?
/tmp/gst/bin/test_gst_elements > "$OUT/gst_test_elements.log" 2>&1; result[gst_elements]=$?
tail -3 "$OUT/gst_test_elements.log"
# The same frames through the element on both backends.
for b in cpu cuda; do
  cat > /tmp/app_$b.yaml <<YAML
sources:
  - {name: nv12, file: $PWD/configs/demo/page.png, format: NV12}
  - {name: rgb, file: $PWD/configs/demo/page.png, format: RGB}
model: $PWD/configs/elements/ppocr-det.yaml
backend: $b
outputs: {json: /tmp/app_$b.jsonl}
YAML
  /tmp/gst/bin/edgert-app /tmp/app_$b.yaml > "$OUT/app_$b.log" 2>&1 || echo "edgert-app $b failed: $(tail -3 "$OUT/app_$b.log")"
done
python3 - <<'PY'
import json, sys
def load(b):
    return {l["source"]: l for l in map(json.loads, open(f"/tmp/app_{b}.jsonl"))}
cpu, cuda = load("cpu"), load("cuda")
def iou(a, b):
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    u = a[2] * a[3] + b[2] * b[3] - ix * iy
    return ix * iy / u if u else 0
ok = True
for src in ("nv12", "rgb"):
    c, g = [d["box"] for d in cpu[src]["detections"]], [d["box"] for d in cuda[src]["detections"]]
    ious = [max((iou(a, b) for b in g), default=0) for a in c]
    good = len(c) == len(g) and len(c) > 3 and min(ious) > 0.8
    ok &= good
    print(f"edgertinfer {src}: cpu {len(c)} boxes, cuda {len(g)} boxes, min IoU {min(ious, default=0):.3f} {'ok' if good else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
result[cuda_vs_cpu]=$?
# The cascade on the GPU (issue #11): text detector + orientation classifier per line
# (secondary mode: crops uploaded and pre-processed on the GPU), cuda vs cpu.
for b in cpu cuda; do
  cat > /tmp/casc_$b.yaml <<YAML
sources:
  - {name: rgb, file: $PWD/configs/demo/page.png, format: RGB}
  - {name: nv12, file: $PWD/configs/demo/page.png, format: NV12}
model: $PWD/configs/elements/ppocr-det.yaml
track: true
secondary: [$PWD/configs/elements/ppocr-cls.yaml]
backend: $b
outputs: {json: /tmp/casc_$b.jsonl}
YAML
  /tmp/gst/bin/edgert-app /tmp/casc_$b.yaml > "$OUT/casc_$b.log" 2>&1 || echo "cascade $b failed: $(tail -3 "$OUT/casc_$b.log")"
done
python3 - <<'PY'
import json, sys
ok = True
runs = {b: {l["source"]: l for l in map(json.loads, open(f"/tmp/casc_{b}.jsonl"))} for b in ("cpu", "cuda")}
for src in ("rgb", "nv12"):
    lab = {b: [[s["label"] for s in d.get("secondary", [])] for d in runs[b][src]["detections"]] for b in runs}
    n = len(lab["cpu"])
    same = sum(a == b for a, b in zip(lab["cpu"], lab["cuda"]))
    upright = sum(l == ["0"] for l in lab["cuda"])
    good = n > 3 and len(lab["cuda"]) == n and same >= n - 1 and upright >= 0.8 * n
    ok &= good
    print(f"cascade {src}: {n} lines, cuda agrees with cpu on {same}, cuda upright {upright} {'ok' if good else 'FAIL'}")
sys.exit(0 if ok else 1)
PY
result[cascade_cuda_vs_cpu]=$?
# Per-frame cost at 1080p on the CUDA backend (frame upload + GPU pre-processing, engine,
# DBNet decoding and metadata), from the element's own stage timing.
for fmt in NV12 RGB; do
  GST_DEBUG=edgertinfer:4 /tmp/gst/bin/gst-launch-1.0 -q videotestsrc num-buffers=300 pattern=ball ! \
    video/x-raw,format=$fmt,width=1920,height=1080 ! \
    edgertinfer config=$PWD/configs/elements/ppocr-det.yaml backend=cuda ! fakesink \
    > "$OUT/gst_1080p_$fmt.log" 2>&1
  echo "1080p $fmt cuda: $(grep -o 'per frame:.*' "$OUT/gst_1080p_$fmt.log" | tail -1)"
done
echo "---- GStreamer on the GPU ----"
for k in "${!result[@]}"; do printf "%-20s %s\n" "$k" "$([ "${result[$k]}" = 0 ] && echo PASS || echo FAIL)"; done
