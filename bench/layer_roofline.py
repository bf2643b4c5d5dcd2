#!/usr/bin/env python3
"""Per-layer roofline table from `edgert bench --per-layer --json F` (issue #10's "per-layer
table: time, achieved TFLOP/s or GB/s, and percent of the roofline").

For each layer the roofline time is max(flops / peak compute, bytes / peak bandwidth), from what
its shapes imply (edgert's LayerCost: inputs, weights and outputs moved once); "roof %" is that
time over the measured one, and "bound" says which of the two limits it. Peaks default to the
H100 SXM (HBM3): 989 dense FP16 / 1979 INT8 tensor TFLOP/s, 3350 GB/s.

Usage: layer_roofline.py LAYERS.json [--top 10] [--peak-tflops 989] [--peak-gbs 3350]"""
import argparse
import json

ap = argparse.ArgumentParser()
ap.add_argument("json")
ap.add_argument("--top", type=int, default=10)
ap.add_argument("--peak-tflops", type=float, default=989.0)
ap.add_argument("--peak-gbs", type=float, default=3350.0)
ap.add_argument("--title", default="")
args = ap.parse_args()

d = json.load(open(args.json))
layers = d["layers"]
total = sum(l["ms"] for l in layers) or 1e-12
roof_total = 0.0
rows = []
for l in layers:
    s = max(l["ms"], 1e-9) * 1e-3
    flops, nbytes = l.get("flops", 0), l.get("bytes", 0)
    # INT8 layers run on tensor cores at twice the FP16 rate.
    peak = args.peak_tflops * (2 if l["op"] == "EdgertQConv" else 1)
    t_compute = flops / (peak * 1e12)
    t_memory = nbytes / (args.peak_gbs * 1e9)
    roof = max(t_compute, t_memory)
    roof_total += roof
    rows.append((l, s, flops, nbytes, roof, "compute" if t_compute >= t_memory else "memory"))

print("%s%d layers, %.3f ms eager; the roofline of the same work: %.3f ms (%.0f%%)" % (
    args.title + ": " if args.title else "", len(layers), total, roof_total * 1e3,
    100 * roof_total * 1e3 / total))
print("| layer | op | tactic | ms | share | TFLOP/s | GB/s | bound | roof % |")
print("|---|---|---|---|---|---|---|---|---|")
for l, s, flops, nbytes, roof, bound in sorted(rows, key=lambda r: -r[0]["ms"])[:args.top]:
    print("| %s | %s | %s | %.4f | %.1f%% | %s | %.0f | %s | %.0f%% |" % (
        l["name"], l["op"], l["tactic"], l["ms"], 100 * l["ms"] / total,
        "%.1f" % (flops / s * 1e-12) if flops else "-", nbytes / s * 1e-9, bound,
        100 * roof / s))
