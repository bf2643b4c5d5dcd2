#!/usr/bin/env python3
"""INT8 on the GPU with real models and photos (run by scripts/gpu-check.sh on the GPU machine,
from the repo root with .gpu/ staged): engines built from the calibration caches in .gpu/models
(made on the host from the real photos). The CUDA INT8 engine against the CPU INT8 engine (the
same integers up to the fp16 layers around the INT8 ones) and both against CPU FP32; the CUDA
FP16 engine beside them shows what the fp16 layers alone cost.

Classifier: cosine of the logits and top-1 agreement. Text detector: its probability maps
thresholded at 0.3, IoU pooled over the photos that have text (the maps of the others are
near zero everywhere, and their cosine is noise), and the cosine on those photos."""
import os, subprocess, sys
import numpy as np
from PIL import Image

EDGERT = ".gpu/bin/edgert"


def prep(path, h, w, mean, std, scale):
    img = Image.open(path).convert("RGB").resize((w, h), Image.BILINEAR)
    x = (np.asarray(img, dtype=np.float32) / scale - np.array(mean, np.float32)) / np.array(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None]).astype(np.float32)


def cos(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))


photos = sorted(os.path.join(".gpu/images", f) for f in os.listdir(".gpu/images")) if os.path.isdir(".gpu/images") else []
specs = [("configs/models/efficientnet_lite0.onnx", "input", 224, 224, dict(mean=(127,) * 3, std=(128,) * 3, scale=1.0), ".gpu/models/enl.calib"),
         (".gpu/models/ch_PP-OCRv4_det_infer.onnx", "x", 640, 640, dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), scale=255.0), ".gpu/models/det.calib")]
RUNS = (("cpu32", "cpu", "fp32"), ("cpu8", "cpu", "int8"), ("gpu8", "cuda", "int8"), ("gpu16", "cuda", "fp16"))
ok = True
for path, name, h, w, pre, cache in specs:
    if not (os.path.exists(path) and os.path.exists(cache) and photos):
        print("int8 skip", path)
        continue
    engines = {}
    for key, target, prec in RUNS:
        eng = "/tmp/i8-%s.engine" % key
        cmd = [EDGERT, "build", "-q", "--onnx", path, "--target", target, "--precision", prec,
               "--shapes", "%s:1x3x%dx%d" % (name, h, w), "-o", eng]
        if prec == "int8":
            cmd += ["--calib-cache", cache]
        if target == "cuda" and prec == "int8":
            # The INT8 kernels on real data: every candidate INT8, not what timing prefers.
            cmd += ["--no-timed-precision"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            print("int8 build failed", key, r.stderr[-800:])
            ok = False
            continue
        engines[key] = eng
    if len(engines) < len(RUNS):
        continue
    outs = {k: [] for k in engines}
    for ph in photos:
        np.save("/tmp/i8x.npy", prep(ph, h, w, **pre))
        for key, eng in engines.items():
            d = "/tmp/i8o-" + key
            subprocess.run(["rm", "-rf", d])
            be = "cuda" if key.startswith("gpu") else "cpu"
            r = subprocess.run([EDGERT, "run", "--engine", eng, "--backend", be, "--input", "%s=/tmp/i8x.npy" % name,
                                "--save-outputs", d], capture_output=True, text=True)
            if r.returncode:
                print("int8 run failed", key, r.stderr[-800:])
                sys.exit(1)
            outs[key].append(np.load(os.path.join(d, sorted(os.listdir(d))[0])))
    pairs = (("gpu8", "cpu8"), ("gpu8", "cpu32"), ("cpu8", "cpu32"), ("gpu16", "cpu32"))
    base = os.path.basename(path)
    if name == "input":
        for a, b in pairs:
            c = [cos(x, y) for x, y in zip(outs[a], outs[b])]
            t1 = sum(int(x.argmax() == y.argmax()) for x, y in zip(outs[a], outs[b]))
            print("%-28s %5s~%-5s cos min %.5f  top-1 %d/%d" % (base, a, b, min(c), t1, len(c)))
        good = min(cos(x, y) for x, y in zip(outs["gpu8"], outs["cpu8"])) > 0.99
    else:
        text = [i for i, y in enumerate(outs["cpu32"]) if (y > 0.3).sum() > 200]
        for a, b in pairs:
            ma = np.concatenate([(outs[a][i] > 0.3).ravel() for i in text])
            mb = np.concatenate([(outs[b][i] > 0.3).ravel() for i in text])
            iou = (ma & mb).sum() / max((ma | mb).sum(), 1)
            c = [cos(outs[a][i], outs[b][i]) for i in text]
            print("%-28s %5s~%-5s IoU of maps > 0.3 on %d photos with text %.4f, cos min %.4f" % (base, a, b, len(text), iou, min(c)))
        ma = np.concatenate([(outs["gpu8"][i] > 0.3).ravel() for i in text])
        mb = np.concatenate([(outs["cpu8"][i] > 0.3).ravel() for i in text])
        good = (ma & mb).sum() / max((ma | mb).sum(), 1) > 0.9
    ok &= good
    print("%-28s gpu int8 vs cpu int8: %s" % (base, "ok" if good else "FAIL"))
    for key in ("gpu8", "gpu16"):
        bench = subprocess.run([EDGERT, "bench", "--engine", engines[key], "--backend", "cuda", "--iterations", "300", "--warmup", "30"],
                               capture_output=True, text=True).stdout
        print("  %s bench: %s" % (key, " ".join(l.strip() for l in bench.splitlines() if "latency" in l or "memory" in l)))
sys.exit(0 if ok else 1)
