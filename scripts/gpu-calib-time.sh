#!/usr/bin/env bash
# Issue #4's calibration speed on the GPU machine: 500 random crops and flips of the real photos
# (.gpu/images, staged by scripts/stage-gpu.sh) calibrate EfficientNet-Lite0 at 224 x 224. The
# GPU machine has no OpenCV, so the crops are decoded and pre-processed here with PIL into .npy
# tensors (timed apart); `edgert build` then runs the FP32 network on the GPU over them and
# builds the histograms and scales. Run from the repo root with .gpu/ carried.
set -euo pipefail
source scripts/gpu-unpack.sh
export LD_LIBRARY_PATH=$PWD/.gpu/lib
D=/tmp/calib500; rm -rf $D; mkdir -p $D
t0=$(date +%s.%N)
python3 - "$D" <<'PY'
import glob, os, random, sys
import numpy as np
from PIL import Image
sys.path.insert(0, "scripts")
from preprocess import enl_input  # the element's pre-processing of EfficientNet-Lite0
out = sys.argv[1]
photos = sorted(glob.glob(".gpu/images/*.jpg") + glob.glob(".gpu/images/*.png"))
rng = random.Random(0)
for i in range(500):
    img = Image.open(photos[i % len(photos)]).convert("RGB")
    w, h = img.size
    s = rng.uniform(0.5, 1.0)
    cw, ch = int(w * s), int(h * s)
    x0, y0 = rng.randint(0, w - cw), rng.randint(0, h - ch)
    img = img.crop((x0, y0, x0 + cw, y0 + ch))
    if rng.random() < 0.5:
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    np.save(os.path.join(out, "%03d.npy" % i), enl_input(img)[0])
PY
t1=$(date +%s.%N)
.gpu/bin/edgert build --onnx configs/models/efficientnet_lite0.onnx \
  --shapes input:1x3x224x224 --target cuda --precision int8 --calib-dir $D \
  --calib-cache /tmp/calib500.cache -o /tmp/calib500.engine > /tmp/calib500.log 2>&1
t2=$(date +%s.%N)
grep -E "calibrated" /tmp/calib500.log
python3 -c "import sys; a, b, c = map(float, sys.argv[1:]); print('calibration, 500 images at 224x224: pre-processing (PIL, one core) %.1f s, edgert build (GPU network + histograms + engine) %.1f s' % (b - a, c - b))" $t0 $t1 $t2
