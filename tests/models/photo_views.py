"""Random views of the real photos (crops, flips, scales), shared by the INT8 accuracy tests:
calibration on some views of each photo, evaluation on others (different seeds)."""
import os

import numpy as np
from PIL import Image, ImageOps


def view(img, rng):
    """A random view: a crop of 35-100% of the area (aspect 3:4..4:3), flipped half the time,
    scaled to 60-100% of its size."""
    w, h = img.size
    for _ in range(20):
        area = rng.uniform(0.35, 1.0) * w * h
        aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
        cw, ch = int(round(np.sqrt(area * aspect))), int(round(np.sqrt(area / aspect)))
        if cw <= w and ch <= h:
            break
    else:
        cw, ch = w, h
    x, y = rng.integers(0, w - cw + 1), rng.integers(0, h - ch + 1)
    v = img.crop((x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        v = ImageOps.mirror(v)
    s = rng.uniform(0.6, 1.0)
    return v.resize((max(64, int(cw * s)), max(64, int(ch * s))), Image.BILINEAR)


def make_views(photos_dir, folder, per_photo, seed):
    """Writes per_photo views of every photo in photos_dir into folder; returns the count."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = 0
    for name in sorted(os.listdir(photos_dir)):
        img = Image.open(os.path.join(photos_dir, name)).convert("RGB")
        for k in range(per_photo):
            view(img, rng).save(os.path.join(folder, "%s_%d.png" % (os.path.splitext(name)[0], k)))
            n += 1
    return n
