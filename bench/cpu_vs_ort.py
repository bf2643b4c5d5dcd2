#!/usr/bin/env python3
"""edgert's CPU backend against ONNX Runtime (issue #10): the same ONNX model, batch 1, fp32,
the same thread count, median latency of many runs after warm-up, in one run.

Models: ResNet-18 (torchvision, random weights, fixed seed), EfficientNet-Lite0 and the PP-OCRv4
text detector at 640x640 (../shared/assets). ONNX Runtime is a bench-only dependency (pip
install onnxruntime), never a runtime one.

Usage: cpu_vs_ort.py EDGERT_BIN ASSETS_DIR WORKDIR [--threads 2] [--iterations 50]
[--models resnet18,efficientnet_lite0,ppocr_det]"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("edgert")
ap.add_argument("assets")
ap.add_argument("work")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--iterations", type=int, default=50)
ap.add_argument("--models", default="resnet18,efficientnet_lite0,ppocr_det")
args = ap.parse_args()
os.makedirs(args.work, exist_ok=True)
# edgert's CPU backend runs its kernels (and OpenBLAS, single-threaded) on this many threads.
os.environ["EDGERT_CPU_THREADS"] = str(args.threads)
import onnxruntime as ort  # noqa: E402


def resnet18(path):
    if not os.path.exists(path):
        import torch
        import torchvision
        torch.manual_seed(0)
        m = torchvision.models.resnet18().eval()
        torch.onnx.export(m, torch.randn(1, 3, 224, 224), path, input_names=["input"],
                          output_names=["output"], opset_version=17)
    return path


MODELS = {
    "resnet18": (lambda: resnet18(os.path.join(args.work, "resnet18.onnx")), "input", (1, 3, 224, 224)),
    "efficientnet_lite0": (lambda: os.path.join(args.assets, "models/imagenet/efficientnet_lite0.onnx"),
                           "input", (1, 3, 224, 224)),
    "ppocr_det": (lambda: os.path.join(args.assets, "models/ppocr/ch_PP-OCRv4_det_infer.onnx"),
                  "x", (1, 3, 640, 640)),
}

rows = []
for name in args.models.split(","):
    make, inp, shape = MODELS[name]
    model = make()
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    # ONNX Runtime: all graph optimisations, intra-op threads = --threads.
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    for _ in range(5):
        s.run(None, {inp: x})
    t = []
    for _ in range(args.iterations):
        t0 = time.perf_counter()
        s.run(None, {inp: x})
        t.append((time.perf_counter() - t0) * 1e3)
    ort_ms = float(np.median(t))
    # edgert: a CPU fp32 engine, timed by edgert bench.
    engine = os.path.join(args.work, name + ".engine")
    spec = "%s:%s" % (inp, "x".join(map(str, shape)))
    t0 = time.time()
    subprocess.run([args.edgert, "build", "-q", "--onnx", model, "--shapes", spec, "--target", "cpu",
                    "-o", engine], check=True, stdout=subprocess.DEVNULL)
    build_s = time.time() - t0
    js = os.path.join(args.work, name + ".json")
    subprocess.run([args.edgert, "bench", "--engine", engine, "--backend", "cpu", "--iterations",
                    str(args.iterations), "--warmup", "5", "--json", js], check=True, stdout=subprocess.DEVNULL)
    r = json.load(open(js))
    ed_ms = r.get("median_ms", r.get("latency_ms", {}).get("median"))
    rows.append((name, ed_ms, ort_ms, build_s))

print("CPU, batch 1, fp32, %d threads, median of %d runs (ms); ONNX Runtime %s" % (
    args.threads, args.iterations, ort.__version__))
print("| model | edgert | ONNX Runtime | edgert / ORT | target <= 1.5 |")
print("|---|---|---|---|---|")
for name, e, o, b in rows:
    print("| %s | %.2f | %.2f | %.2f | %s |" % (name, e, o, e / o, "met" if e / o <= 1.5 else "not met"))
sys.stdout.flush()
