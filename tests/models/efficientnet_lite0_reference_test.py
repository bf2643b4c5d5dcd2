#!/usr/bin/env python3
"""EfficientNet-Lite0 (real pretrained weights) on every real photo in ../shared/assets/images,
through the edgert CLI as a user runs it:

1. Photos end to end: `edgert run --input input=<photo folder> --labels ... --top-k 3 --json -`
   on an FP32 engine built with `--preprocess` (edgert reads and pre-processes the images
   itself). The top-3 classes equal efficientnet_lite0_reference_top3.txt wherever the
   reference's neighbouring probabilities differ by more than 0.02 (a closer pair may swap with
   the resize implementation), and every top-3 probability is within 0.005.
2. Logits against PyTorch: the same photos pre-processed once (scripts/preprocess.py) feed the
   engine (`edgert run` on .npy) and PyTorch running the ONNX graph (bench/onnx_torch.py);
   relative L2 error of the logits <= 1e-4.

Usage: TEST EDGERT_BIN ASSETS_DIR WORKDIR [--backend cpu|cuda] [--tensors-only]
(--tensors-only: step 2 alone, for an edgert built without OpenCV such as the GPU machine's)."""
import json
import os
import subprocess
import sys

import numpy as np

args = [a for a in sys.argv[1:] if not a.startswith("--")]
edgert, assets, work = args[:3]
backend = sys.argv[sys.argv.index("--backend") + 1] if "--backend" in sys.argv else "cpu"
tensors_only = "--tensors-only" in sys.argv
ref_file = os.path.join(assets, "models/imagenet/efficientnet_lite0_reference_top3.txt")
onnx_path = os.path.join(assets, "models/imagenet/efficientnet_lite0.onnx")
if not os.path.exists(ref_file):
    print("SKIP: %s not found (../shared/assets)" % ref_file)
    sys.exit(77)
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "../../scripts"))
sys.path.insert(0, os.path.join(here, "../../bench"))
from preprocess import enl_input  # noqa: E402
from PIL import Image  # noqa: E402

os.makedirs(work, exist_ok=True)
ref = {}
for line in open(ref_file):
    name, rest = line.split(" ", 1)
    ref[name] = [(int(p.split()[0]), float(p.split()[-1])) for p in rest.split("|")]
photos = sorted(ref)
failed = 0

engine = os.path.join(work, "effl0-%s.engine" % backend)
PRE = "resize=256,crop=224,mean=127,std=128,order=rgb,interp=pil"
subprocess.run([edgert, "build", "-q", "--onnx", onnx_path, "--shapes", "input:1x3x224x224",
                "--target", backend] + ([] if tensors_only else ["--preprocess", PRE]) + ["-o", engine],
               check=True)

if not tensors_only:
    out = subprocess.run([edgert, "run", "--engine", engine, "--backend", backend, "--input",
                          "input=" + os.path.join(assets, "images"), "--labels",
                          os.path.join(assets, "labels/imagenet_classes.txt"), "--top-k", "3", "--json", "-"],
                         check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    got = {os.path.basename(r["file"]): r["outputs"]["logits"]["top"] for r in json.loads(out)["images"]}
    for name in photos:
        want, top = ref[name], got.get(name, [])
        ok = len(top) == 3
        for k in range(min(3, len(top))):
            # Class k must match unless the reference's k-th and a neighbour are a near-tie.
            tie = any(abs(want[k][1] - want[j][1]) <= 0.02 for j in (k - 1, k + 1) if 0 <= j < 3)
            same = top[k]["class"] == want[k][0] or tie
            ok &= same and abs(top[k]["probability"] - want[k][1]) < 0.005
        print("photo  %-24s %s  got %s  want %s" % (
            name, "ok  " if ok else "FAIL", [(t["class"], round(t["probability"], 3)) for t in top], want))
        failed += not ok

# The same tensors into edgert and PyTorch.
import onnx  # noqa: E402
import torch  # noqa: E402
from onnx_torch import OnnxModule  # noqa: E402

torch.set_num_threads(max(1, os.cpu_count() or 1))
module = OnnxModule(onnx.load(onnx_path), {"input": (1, 3, 224, 224)}).eval()
worst = 0.0
for name in photos:
    x = enl_input(Image.open(os.path.join(assets, "images", name)))
    xf = os.path.join(work, name + ".npy")
    np.save(xf, x)
    od = os.path.join(work, name + ".out")
    subprocess.run([edgert, "run", "--engine", engine, "--backend", backend, "--input", "input=" + xf,
                    "--save-outputs", od], check=True, stdout=subprocess.DEVNULL)
    got = np.load(os.path.join(od, "logits.npy")).astype(np.float64).reshape(-1)
    with torch.no_grad():
        want = module(torch.from_numpy(x)).double().numpy().reshape(-1)
    rel = np.linalg.norm(got - want) / np.linalg.norm(want)
    worst = max(worst, rel)
    ok = rel <= 1e-4
    print("logits %-24s %s  relative L2 vs PyTorch %.2e" % (name, "ok  " if ok else "FAIL", rel))
    failed += not ok
print("%s backend: worst relative L2 of the logits vs PyTorch %.2e; %d failed" % (backend, worst, failed))
sys.exit(1 if failed else 0)
