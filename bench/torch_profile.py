#!/usr/bin/env python3
"""Kernel-level profile of torch.compile (Inductor, default mode: the same kernels as
reduce-overhead without the graph) on the bench models, fp16 channels_last: where PyTorch's
time goes, to set per-layer targets. Usage: torch_profile.py [model ...] [--batch N]"""
import argparse
import os
import sys

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_bench_models import MODELS, ONNX_MODELS  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*", default=list(MODELS) + list(ONNX_MODELS))
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--top", type=int, default=14)
    a = ap.parse_args()
    for name in a.models:
        torch.manual_seed(0)
        if name in ONNX_MODELS:
            import onnx
            from onnx_torch import OnnxModule
            m = OnnxModule(onnx.load(ONNX_MODELS[name]), {"input": (a.batch, 3, 224, 224)}).traced()
        else:
            m = MODELS[name]()
        m = m.eval().cuda().half().to(memory_format=torch.channels_last)
        x = torch.randn(a.batch, 3, 224, 224, device="cuda", dtype=torch.half).to(memory_format=torch.channels_last)
        f = torch.compile(m)
        with torch.no_grad():
            for _ in range(5):
                f(x)
            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                for _ in range(10):
                    f(x)
                torch.cuda.synchronize()
        rows = [(e.device_time_total / 10 / 1000.0, e.count // 10, e.key) for e in prof.key_averages()
                if e.device_time_total > 0]
        rows.sort(reverse=True)
        total = sum(r[0] for r in rows)
        print("== torch.compile %s bs%d: %.3f ms of kernels per run" % (name, a.batch, total))
        for ms, n, k in rows[:a.top]:
            print("  %8.4f ms  x%-3d %s" % (ms, n, k[:110]))


if __name__ == "__main__":
    main()
