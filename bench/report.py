#!/usr/bin/env python3
"""Joins edgert's and PyTorch's JSON results into one table per precision.
Usage: report.py RESULTS.jsonl"""
import json
import sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
by = {}
for r in rows:
    by.setdefault((r.get("precision", "fp32"), r["model"], r["batch"]), {})[r["runner"]] = r


def cell(r, n):
    if n not in r:
        return "-"
    return "%8.3f (%6.0f)" % (r[n]["median_ms"], r[n].get("peak_mib", r[n].get("memory_mib", 0)))


PEERS = [("edgert-fp16", "edgert fp16"), ("torch-eager", "torch eager"), ("torch-default", "compile default"),
         ("torch-reduce-overhead", "compile RO"), ("torch-max-autotune", "compile max-autotune")]
COMPILED = [n for n, _ in PEERS if n.startswith("torch-") and n != "torch-eager"]

for prec in ("fp32", "fp16", "int8"):
    keys = sorted(k for k in by if k[0] == prec)
    if prec == "int8":  # beside fp16: edgert's own fp16 engine and PyTorch's fp16 runs
        for k in keys:
            fp16 = by.get(("fp16", k[1], k[2]), {})
            for n, r in fp16.items():
                by[k]["edgert-fp16" if n == "edgert" else n] = r
    if not keys:
        continue
    peers = [(n, t) for n, t in PEERS if any(n in by[k] for k in keys)]
    print("\n%s: median ms (device MiB)" % prec)
    print("%-16s %5s | %-17s | " % ("model", "batch", "edgert") +
          " | ".join("%-17s" % t for _, t in peers) + " | edgert vs eager / best compile | edgert build s")
    for k in keys:
        r = by[k]
        e = r.get("edgert")  # the default build (tactic timing on): what users get
        ratio = lambda ms: ("%.2fx" % (ms / e["median_ms"])) if e and ms else "-"
        best = min((r[n]["median_ms"] for n in COMPILED if n in r), default=None)
        eager = r["torch-eager"]["median_ms"] if "torch-eager" in r else None
        print("%-16s %5d | %-17s | " % (k[1], k[2], cell(r, "edgert")) +
              " | ".join("%-17s" % cell(r, n) for n, _ in peers) +
              " | %s / %s | %s" % (ratio(eager), ratio(best),
                                   "%.1f" % e["build_s"] if e and "build_s" in e else "-"))

# Issue #10's table: bs 1 and 8 in ms, bs 128 and 256 in images/s; compile RO, edgert fp16, int8.
models = sorted({k[1] for k in by})
if models:
    print("\nlatency ms at bs 1 / 8, throughput img/s at bs 128 / 256 (compile RO | edgert fp16 | edgert int8)")
    print("%-18s | %-26s | %-26s | %-26s | %-26s" % ("model", "bs 1", "bs 8", "bs 128", "bs 256"))

    def val(prec, m, b, runner):
        r = by.get((prec, m, b), {}).get(runner)
        if not r:
            return "-"
        return "%.3f" % r["median_ms"] if b < 64 else "%.0f" % (b * 1000.0 / r["median_ms"])

    for m in models:
        cells = []
        for b in (1, 8, 128, 256):
            cells.append("%s | %s | %s" % (val("fp16", m, b, "torch-reduce-overhead"), val("fp16", m, b, "edgert"),
                                           val("int8", m, b, "edgert")))
        print("%-18s | %-26s | %-26s | %-26s | %-26s" % tuple([m] + cells))
