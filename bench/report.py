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


for prec in ("fp32", "fp16"):
    keys = sorted(k for k in by if k[0] == prec)
    if not keys:
        continue
    print("\n%s: median ms (device MiB)" % prec)
    print("%-16s %5s | %-17s | %-17s | %-17s | %s | %s" % ("model", "batch", "edgert",
          "torch eager", "torch.compile RO", "edgert vs eager / compile", "edgert build s"))
    for k in keys:
        r = by[k]
        e = r.get("edgert")  # the default build (tactic timing on): what users get
        ratio = lambda n: ("%.2fx" % (r[n]["median_ms"] / e["median_ms"])) if e and n in r else "-"
        print("%-16s %5d | %-17s | %-17s | %-17s | %s / %s | %s" % (k[1], k[2], cell(r, "edgert"),
              cell(r, "torch-eager"), cell(r, "torch-reduce-overhead"),
              ratio("torch-eager"), ratio("torch-reduce-overhead"),
              "%.1f" % e["build_s"] if e and "build_s" in e else "-"))
