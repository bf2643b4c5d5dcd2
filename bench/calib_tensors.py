#!/usr/bin/env python3
"""Calibration samples for the bench models (random weights, so random normal inputs calibrate
them as well as photos would): DIR/00.npy .. one float32 3x224x224 tensor per sample, seeded by
its index so every script that makes them makes the same ones. Usage: calib_tensors.py DIR [N]"""
import os
import sys

import numpy as np


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: calib_tensors.py DIR [N]")
    out, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else 16
    os.makedirs(out, exist_ok=True)
    for i in range(n):
        x = np.random.default_rng(i).standard_normal((3, 224, 224)).astype(np.float32)
        np.save(os.path.join(out, "%02d.npy" % i), x)


if __name__ == "__main__":
    main()
