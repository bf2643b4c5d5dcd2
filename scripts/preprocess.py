#!/usr/bin/env python3
"""Image -> EfficientNet-Lite0 input tensor (.npy): RGB, short side 256, centre crop 224,
(p - 127) / 128, NCHW float32. Usage: preprocess.py IMAGE OUT.npy (or import enl_input)."""
import sys

import numpy as np
from PIL import Image


def enl_input(img):
    """A PIL image -> the [1, 3, 224, 224] float32 tensor."""
    img = img.convert("RGB")
    w, h = img.size
    s = 256 / min(w, h)
    img = img.resize((max(256, round(w * s)), max(256, round(h * s))), Image.BILINEAR)
    w, h = img.size
    left, top = (w - 224) // 2, (h - 224) // 2
    img = img.crop((left, top, left + 224, top + 224))
    x = (np.asarray(img, dtype=np.float32) - 127.0) / 128.0
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


if __name__ == "__main__":
    np.save(sys.argv[2], enl_input(Image.open(sys.argv[1])))
