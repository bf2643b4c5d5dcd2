#!/usr/bin/env python3
"""Where a network's INT8 error comes from, by simulation: the ONNX graph in PyTorch
(onnx_torch.py) with the inputs and weights of every Conv / Gemm rounded as an INT8 layer
rounds them (per-tensor symmetric activations at the calibration maximum, per-output-channel
symmetric weights), one source at a time, and two remedies. It does not reproduce edgert's
engine bit for bit (no output requantisation, minmax thresholds only): it says which rounding
costs what, before a kernel is written for a remedy.

Modes: sym (both, as edgert), wonly (weights only), aonly (activations only), uns (non-negative
inputs as unsigned 0..255, half the step), wbc (weights only, bias corrected: each output's
bias minus (Wq - W) E[x] over the calibration images), allbc (both, bias corrected),
unsbc (unsigned + bias corrected).

Usage: int8_sim.py MODEL.onnx CALIB_DIR EVAL_DIR [MODE,...]  (images, pre-processed as
EfficientNet-Lite0's: scripts/preprocess.py)"""
import glob
import os
import sys

import numpy as np
import onnx
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "../scripts"))
from onnx_torch import OnnxModule  # noqa: E402
from preprocess import enl_input  # noqa: E402


def main():
    model, calib_dir, eval_dir = sys.argv[1:4]
    modes = sys.argv[4].split(",") if len(sys.argv) > 4 else ["sym", "wonly", "aonly", "uns", "wbc", "allbc",
                                                               "unsbc"]
    m = OnnxModule(onnx.load(model), {"input": (1, 3, 224, 224)}).eval()
    load = lambda d: np.concatenate([enl_input(Image.open(p)) for p in sorted(glob.glob(os.path.join(d, "*")))])  # noqa: E731
    calib, evalx = load(calib_dir), load(eval_dir)
    stats = {}  # layer -> [max |x|, min x, sum of per-channel means, batches]
    mode = [None]
    run = OnnxModule._run

    def quantized_run(node, a, v):
        if node.op_type not in ("Conv", "Gemm") or mode[0] is None:
            return run(node, a, v)
        x, w = v[0], v[1]
        if mode[0] == "calib":
            s = stats.setdefault(node.name, [0.0, 1e9, 0, 0])
            s[0] = max(s[0], float(x.abs().max()))
            s[1] = min(s[1], float(x.min()))
            s[2] = s[2] + (x.mean(dim=(0, 2, 3)) if x.dim() == 4 else x.mean(dim=0))
            s[3] += 1
            return run(node, a, v)
        amax, mn, msum, n = stats[node.name]
        q = mode[0]
        wscale = w.abs().amax(dim=tuple(range(1, w.dim())), keepdim=True).clamp(min=1e-12) / 127
        wq = torch.round(w / wscale).clamp(-127, 127) * wscale if q != "aonly" else w
        if q not in ("wonly", "wbc"):
            if q in ("uns", "unsbc") and mn >= 0:
                sx = amax / 255
                x = torch.round(x / sx).clamp(0, 255) * sx
            else:
                sx = amax / 127
                x = torch.round(x / sx).clamp(-127, 127) * sx
        b = v[2] if len(v) > 2 and v[2] is not None else torch.zeros(w.shape[0])
        if q in ("wbc", "allbc", "unsbc"):
            ex, dw = msum / n, wq - w
            if node.op_type == "Gemm":
                corr = (dw * ex[None, :]).sum(1) if a.get("transB", 0) else dw.t() @ ex
            elif a.get("group", 1) == 1:
                corr = (dw.sum(dim=(2, 3)) * ex[None, :]).sum(1)
            else:  # depthwise: output channel c reads input channel c
                corr = dw.sum(dim=(1, 2, 3)) * ex
            b = b - corr
        return run(node, a, [x, wq, b] + list(v[3:]))

    OnnxModule._run = staticmethod(quantized_run)

    def logits(x):
        with torch.no_grad():
            return torch.cat([m(torch.from_numpy(x[i:i + 1])) for i in range(len(x))]).numpy()

    mode[0] = "calib"
    logits(calib)
    mode[0] = None
    ref = logits(evalx)
    print("%d calibration, %d evaluation images" % (len(calib), len(evalx)))
    for q in modes:
        mode[0] = q
        got = logits(evalx)
        cos = (ref * got).sum(1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(got, axis=1)
        print("%-6s top-1 agreement %.3f  cosine mean %.4f min %.4f" % (
            q, (ref.argmax(1) == got.argmax(1)).mean(), cos.mean(), cos.min()), flush=True)


if __name__ == "__main__":
    main()
