#!/usr/bin/env python3
"""EfficientNet-Lite0 (real pretrained weights) through the edgert CLI on every real photo
in ../shared/assets/images: top-3 classes and probabilities must match the FP32 reference
(efficientnet_lite0_reference_top3.txt) within 0.005. Usage: TEST EDGERT_BIN ASSETS_DIR WORKDIR"""
import os
import subprocess
import sys

import numpy as np

edgert, assets, work = sys.argv[1:4]
ref_file = os.path.join(assets, "models/imagenet/efficientnet_lite0_reference_top3.txt")
if not os.path.exists(ref_file):
    print("SKIP: %s not found (../shared/assets)" % ref_file)
    sys.exit(77)
here = os.path.dirname(os.path.abspath(__file__))
scripts = os.path.join(here, "../../scripts")
os.makedirs(work, exist_ok=True)
engine = os.path.join(work, "effl0.engine")
subprocess.run([edgert, "build", "-q", "--onnx", os.path.join(assets, "models/imagenet/efficientnet_lite0.onnx"),
                "--shapes", "input:1x3x224x224", "-o", engine], check=True)
passed = failed = 0
for line in open(ref_file):
    name, rest = line.split(" ", 1)
    want = [(int(p.split()[0]), float(p.split()[-1])) for p in rest.split("|")]
    x = os.path.join(work, name + ".npy")
    subprocess.run([sys.executable, os.path.join(scripts, "preprocess.py"), os.path.join(assets, "images", name), x],
                   check=True)
    out = os.path.join(work, name + ".out")
    subprocess.run([edgert, "run", "--engine", engine, "--backend", "cpu", "--input", "input=" + x, "--save-outputs", out],
                   check=True, stdout=subprocess.DEVNULL)
    logits = np.load(os.path.join(out, "logits.npy")).reshape(-1).astype(np.float64)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    top = np.argsort(-p)[:3]
    ok = all(int(t) == c and abs(p[t] - prob) < 0.005 for t, (c, prob) in zip(top, want))
    print("%-24s %s  got %s  want %s" % (name, "ok  " if ok else "FAIL",
                                         [(int(t), round(float(p[t]), 3)) for t in top], want))
    passed += ok
    failed += not ok
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
