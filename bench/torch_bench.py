#!/usr/bin/env python3
"""PyTorch peers for the same models, batch and precision as edgert's engines: eager and
torch.compile(mode="reduce-overhead") (Inductor + CUDA graphs). CUDA-event medians after
warm-up, peak device memory. Prints one JSON object per line.
Usage: torch_bench.py PRECISION BATCH[,BATCH...] MODEL[,MODEL...] [ITERS]"""
import json
import os
import sys
import time

import torch
import torchvision

from export_bench_models import MODELS, ONNX_MODELS


def timed(fn, x, iters, warmup=10):
    for _ in range(warmup):
        fn(x)
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn(x)
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e))
    times.sort()
    return times[len(times) // 2]


# eager, torch.compile's default mode (Inductor) and reduce-overhead (Inductor + CUDA graphs);
# add max-autotune with BENCH_TORCH_MODES=eager,default,reduce-overhead,max-autotune (its
# autotuning compile takes minutes per model and batch).
MODES = os.environ.get("BENCH_TORCH_MODES", "eager,default,reduce-overhead").split(",")


def main():
    precision, batches, models = sys.argv[1], [int(b) for b in sys.argv[2].split(",")], sys.argv[3].split(",")
    iters = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    # Same arithmetic as edgert's fp32 engines: no TF32.
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    dtype = torch.float16 if precision == "fp16" else torch.float32
    for name in models:
        torch.manual_seed(0)
        if name in ONNX_MODELS:
            import onnx
            from onnx_torch import OnnxModule
            graph = onnx.load(ONNX_MODELS[name])
            # Straight-line torch.fx code of the ONNX graph, static shapes (one module per batch).
            make = lambda bs: OnnxModule(graph, {"input": (bs, 3, 224, 224)}).traced()  # noqa: E731
        else:
            net = MODELS[name]()
            make = lambda bs: net  # noqa: E731
        for bs in batches:
            base = make(bs).eval().cuda().to(dtype).to(memory_format=torch.channels_last)
            x = torch.randn(bs, 3, 224, 224, device="cuda", dtype=dtype).to(memory_format=torch.channels_last)
            for mode in MODES:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
                fn = base if mode == "eager" else torch.compile(base, mode=None if mode == "default" else mode)
                t0 = time.time()
                with torch.inference_mode():
                    ms = timed(lambda t: fn(t), x, iters)
                print(json.dumps({"model": name, "batch": bs, "precision": precision, "runner": "torch-" + mode,
                                  "median_ms": ms, "images_per_s": bs * 1000.0 / ms,
                                  "peak_mib": torch.cuda.max_memory_allocated() / 2**20,
                                  "setup_s": time.time() - t0}), flush=True)
                torch._dynamo.reset()


if __name__ == "__main__":
    main()
