#!/usr/bin/env python3
"""EfficientNet-Lite0 (real ImageNet weights) in INT8 against FP32 on held-out views of the real
photos: calibrated on some views of each photo (random crops, flips, scales), evaluated with
`edgert compare` on other views of them. Issue #9's targets, for entropy calibration (TensorRT's
default) with no per-model tuning: top-1 agreement with FP32 >= 97% and mean logit cosine >=
0.995 over >= 100 held-out views; with automatic mixed precision (--int8-min-top1 1
--int8-min-cosine 0.9998), 100%.
minmax and percentile are measured and printed beside it.
Usage: TEST EDGERT_BIN ASSETS_DIR WORKDIR [ALGO,...]
(EDGERT_CALIB_VIEWS=N: calibration views per photo, default 3; 8 gave no better agreement)."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from photo_views import make_views  # noqa: E402

edgert, assets, work = sys.argv[1:4]
algos = sys.argv[4].split(",") if len(sys.argv) > 4 else ["entropy", "minmax", "percentile"]
onnx = os.path.join(assets, "models/imagenet/efficientnet_lite0.onnx")
photos_dir = os.path.join(assets, "images")
if not os.path.exists(onnx):
    print("SKIP: %s not found (../shared/assets)" % onnx)
    sys.exit(77)
PRE = "resize=256,crop=224,mean=127,std=128,order=rgb,interp=pil"
CALIB_VIEWS = int(os.environ.get("EDGERT_CALIB_VIEWS", "3"))  # per photo
EVAL_VIEWS = 9  # per photo: 108 held-out views


def run(args, log):
    with open(log, "w") as f:
        r = subprocess.run([edgert] + args, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        print(open(log).read()[-3000:])
        sys.exit("FAIL: edgert %s exited %d" % (args[0], r.returncode))


os.makedirs(work, exist_ok=True)
os.chdir(work)
# Calibrate afresh: a cache from an earlier build of edgert would measure that build's calibration.
for f in os.listdir("."):
    if f.endswith(".calib"):
        os.remove(f)
# Different seeds: no held-out view is a calibration view.
n_calib = make_views(photos_dir, "calib", CALIB_VIEWS, seed=1)
n_eval = make_views(photos_dir, "eval", EVAL_VIEWS, seed=2)
print("%d calibration views, %d held-out views of %d photos" % (n_calib, n_eval, len(os.listdir(photos_dir))))

results = {}
builds = [(a, []) for a in algos]
if "entropy" in algos:
    # Both measures: top-1 alone is met on the 36 calibration views long before it holds on
    # held-out ones. The held-out near-tie dog_1 (FP32 logits 6.56 and 6.48) needs 0.9998: at
    # 0.9995 (27 layers in float) it flips, 107/108.
    builds.append(("entropy+amp", ["--int8-min-top1", "1", "--int8-min-cosine", "0.9998",
                                   "--int8-check-batches", str(n_calib)]))
failed = []
for name, extra in builds:
    algo = name.split("+")[0]
    engine = "effl0-%s.engine" % name
    run(["build", "--onnx", onnx, "--shapes", "input:1x3x224x224", "--target", "cpu", "--precision", "int8",
         "--calib-dir", "calib", "--preprocess", PRE, "--calib-algo", algo,
         "--calib-cache", "effl0-%s.calib" % algo, "-o", engine] + extra, "build-%s.log" % name)
    run(["compare", "--onnx", onnx, "--engine", engine, "--data", "eval", "--json", "cmp-%s.json" % name],
        "compare-%s.log" % name)
    r = json.load(open("cmp-%s.json" % name))["outputs"]["logits"]
    kept = [l for l in open("build-%s.log" % name) if "kept" in l or "float" in l.lower()]
    results[name] = r
    print("%-14s top-1 agreement %.4f (%d/%d)  cosine mean %.5f min %.5f  %s" % (
        name, r["top1_agreement"], round(r["top1_agreement"] * n_eval), n_eval, r["cosine_mean"],
        r["cosine_min"], " ".join(k.strip() for k in kept[:2])))
    for d in r.get("top1_differs", [])[:5]:
        print("    differs: %s" % d)

# Issue #9 asks entropy INT8 for >= 97% top-1 and >= 0.995 mean cosine, and 100% with mixed
# precision. Measured (bench/NOTES.md, session 19, with adaptive rounding, the entropy threshold
# keeping a pile of saturated values, and the CPU convolutions on edgert's own GEMM): entropy
# 97.2% / 0.9975, minmax 95.4% / 0.9969, percentile 96.3% / 0.9978, mixed precision (34 layers
# in float; check-sample near-ties count as agreeing) 100% / 0.99991. What is asserted are floors a
# regression would cross (the remaining flips are FP32 near-ties, margins 0.08-0.23, so a
# different CPU's summation order may move one; mixed precision: one flip of dog_1 allowed),
# with the targets printed beside them.
FLOORS = {"entropy": (0.95, 0.996), "minmax": (0.93, 0.995), "percentile": (0.95, 0.996),
          "entropy+amp": (0.99, 0.9997)}
TARGETS = {"entropy": (0.97, 0.995), "entropy+amp": (1.0, 0.995)}
for name, r in results.items():
    top1, cos = FLOORS[name]
    if r["top1_agreement"] < top1 or r["cosine_mean"] < cos:
        failed.append("%s: top-1 %.4f (floor %.2f), cosine mean %.5f (floor %.4f)" % (
            name, r["top1_agreement"], top1, r["cosine_mean"], cos))
    if name in TARGETS:
        t1, tc = TARGETS[name]
        met = r["top1_agreement"] >= t1 and r["cosine_mean"] >= tc
        print("issue #9 target for %s (top-1 >= %.2f, cosine mean >= %.3f): %s" % (
            name, t1, tc, "met" if met else "NOT met"))
for f in failed:
    print("FAIL: " + f)
sys.exit(1 if failed else 0)
