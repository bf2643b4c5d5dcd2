#!/usr/bin/env python3
"""Real text-line crops for PaddleOCR's orientation classifier (issue #4: "classifier agreement
100% on the assets"): the FP32 PP-OCRv4 detector (an edgert CPU engine) finds the text regions
of the given photos, and each region is cut from the photo as it is (OUT/<photo>_<k>_0.png) and
turned 180 degrees (OUT/<photo>_<k>_180.png) - the two classes the classifier tells apart.

The detector's map is post-processed as PaddleOCR's DB head is (threshold 0.3, connected regions,
each box grown by area * 1.5 / perimeter), with boxes rather than rotated rectangles: the photos'
text is horizontal. Needs numpy and PIL.

usage: make-text-crops.py EDGERT DET.onnx OUT_DIR PHOTO...
"""
import os
import subprocess
import sys
import tempfile
from collections import deque

import numpy as np
from PIL import Image

NET = 640
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def letterbox(img):
    """The element's resize=letterbox (centred, pad 0): the tensor and the mapping back."""
    w, h = img.size
    s = min(NET / w, NET / h)
    rw, rh = max(1, round(w * s)), max(1, round(h * s))
    ox, oy = (NET - rw) // 2, (NET - rh) // 2
    canvas = np.zeros((NET, NET, 3), np.float32)
    canvas[oy:oy + rh, ox:ox + rw] = np.asarray(img.resize((rw, rh), Image.BILINEAR), np.float32)
    x = (canvas / 255.0 - MEAN) / STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None]), s, ox, oy


def regions(mask, min_area=30):
    """Bounding boxes (x0, y0, x1, y1, area) of the 4-connected regions of a boolean map."""
    seen = np.zeros_like(mask, bool)
    h, w = mask.shape
    out = []
    for y0, x0 in zip(*np.nonzero(mask)):
        if seen[y0, x0]:
            continue
        seen[y0, x0] = True
        q = deque([(y0, x0)])
        xs, ys, area = [x0, x0], [y0, y0], 0
        while q:
            y, x = q.popleft()
            area += 1
            xs[0], xs[1] = min(xs[0], x), max(xs[1], x)
            ys[0], ys[1] = min(ys[0], y), max(ys[1], y)
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    q.append((ny, nx))
        if area >= min_area:
            out.append((xs[0], ys[0], xs[1] + 1, ys[1] + 1, area))
    return out


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    edgert, det, out = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="text-crops-")
    engine = os.path.join(work, "det.engine")
    subprocess.run([edgert, "build", "-q", "--onnx", det, "--shapes", "x:1x3x%dx%d" % (NET, NET),
                    "--target", "cpu", "-o", engine], check=True, stdout=subprocess.DEVNULL)
    total = 0
    for photo in sys.argv[4:]:
        img = Image.open(photo).convert("RGB")
        x, s, ox, oy = letterbox(img)
        np.save(os.path.join(work, "x.npy"), x)
        maps = os.path.join(work, "maps")
        subprocess.run([edgert, "run", "--engine", engine, "--backend", "cpu", "--input",
                        "x=" + os.path.join(work, "x.npy"), "--save-outputs", maps],
                       check=True, stdout=subprocess.DEVNULL)
        prob = np.load(os.path.join(maps, sorted(os.listdir(maps))[0])).reshape(NET, NET)
        name = os.path.splitext(os.path.basename(photo))[0]
        k = 0
        for bx0, by0, bx1, by1, area in regions(prob > 0.3):
            bw, bh = bx1 - bx0, by1 - by0
            grow = area * 1.5 / (2 * (bw + bh))
            # Back to the photo's pixels.
            x0 = max(0, int((bx0 - grow - ox) / s))
            y0 = max(0, int((by0 - grow - oy) / s))
            x1 = min(img.size[0], int(np.ceil((bx1 + grow - ox) / s)))
            y1 = min(img.size[1], int(np.ceil((by1 + grow - oy) / s)))
            if y1 - y0 < 8 or x1 - x0 < y1 - y0:  # a text line: readable and wider than tall
                continue
            crop = img.crop((x0, y0, x1, y1))
            crop.save(os.path.join(out, "%s_%02d_0.png" % (name, k)))
            crop.rotate(180).save(os.path.join(out, "%s_%02d_180.png" % (name, k)))
            k += 1
        print("%s: %d text lines" % (photo, k))
        total += k
    print("%d crops (each upright and turned) in %s" % (2 * total, out))


if __name__ == "__main__":
    main()
