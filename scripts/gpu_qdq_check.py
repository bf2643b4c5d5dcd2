#!/usr/bin/env python3
"""Q/DQ export on the GPU (run by scripts/gpu-check.sh on the GPU machine, .gpu/ staged): the
exported EfficientNet-Lite0 (.gpu/models/enl.qdq.onnx, symmetric, made on the host by edgert
quantize from .gpu/models/enl.calib) builds for CUDA into the INT8 engine that the calibration
cache builds with --int8-symmetric: outputs on a photo equal (the INT8 layers' integers are the
CPU's; the fp16 layers around them run the same kernels)."""
import os, subprocess, sys
import numpy as np
from PIL import Image

E = ".gpu/bin/edgert"
qdq, cache, onnx = ".gpu/models/enl.qdq.onnx", ".gpu/models/enl.calib", "configs/models/efficientnet_lite0.onnx"
if not (os.path.exists(qdq) and os.path.exists(cache)):
    print("skip: no %s (scripts/stage-gpu.sh)" % qdq)
    sys.exit(0)
img = Image.open("configs/demo/dog.jpg").convert("RGB").resize((224, 224), Image.BILINEAR)
x = ((np.asarray(img, np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
np.save("/tmp/qdq_x.npy", np.ascontiguousarray(x, np.float32))
outs = {}
for tag, args in (("qdq", ["--onnx", qdq]), ("cache", ["--onnx", onnx, "--calib-cache", cache, "--int8-symmetric", "--no-timed-precision"])):
    eng = "/tmp/qdq-%s.engine" % tag
    subprocess.run([E, "build", "-q", "--target", "cuda", "--precision", "int8", "--shapes", "input:1x3x224x224",
                    "-o", eng] + args, check=True, stdout=subprocess.DEVNULL)
    d = "/tmp/qdq-%s" % tag
    subprocess.run(["rm", "-rf", d])
    subprocess.run([E, "run", "--engine", eng, "--backend", "cuda", "--input", "input=/tmp/qdq_x.npy",
                    "--save-outputs", d], check=True, stdout=subprocess.DEVNULL)
    outs[tag] = np.load(os.path.join(d, "logits.npy"))
diff = float(np.abs(outs["qdq"] - outs["cache"]).max())
print("enl.qdq.onnx CUDA INT8 engine vs the calibration cache's: max |diff| %g %s" % (diff, "ok" if diff == 0 else "FAIL"))
sys.exit(0 if diff == 0 else 1)
