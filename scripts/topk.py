#!/usr/bin/env python3
"""Prints the top-5 classes of a logits .npy. Usage: topk.py LOGITS.npy LABELS.txt"""
import sys

import numpy as np

logits = np.load(sys.argv[1]).reshape(-1)
labels = open(sys.argv[2]).read().splitlines()
p = np.exp(logits - logits.max())
p /= p.sum()
for i in np.argsort(-p)[:5]:
    print("%6.2f%%  %4d  %s" % (100 * p[i], i, labels[i]))
