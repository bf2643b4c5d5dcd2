#!/usr/bin/env python3
"""Joins edgert's and PyTorch's JSON results into one table. Usage: report.py RESULTS.jsonl"""
import json
import sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
key = lambda r: (r["model"], r["batch"])
by = {}
for r in rows:
    by.setdefault(key(r), {})[r["runner"]] = r
print("%-16s %5s | %-22s | %-22s | %-22s | %-22s | %s" % ("model", "batch", "edgert fp32 ms (MiB)", "edgert+find ms",
      "torch eager ms (MiB)", "torch.compile RO ms (MiB)", "best edgert vs eager / compile"))
for k in sorted(by):
    r = by[k]
    cell = lambda n: ("%8.3f (%6.0f)" % (r[n]["median_ms"], r[n].get("peak_mib", r[n].get("memory_mib", 0)))
                      if n in r else "-")
    cands = [r[n] for n in ("edgert", "edgert-find") if n in r]
    e = min(cands, key=lambda x: x["median_ms"]) if cands else None
    ratio = lambda n: ("%.2fx" % (r[n]["median_ms"] / e["median_ms"])) if e and n in r else "-"
    print("%-16s %5d | %-22s | %-22s | %-22s | %-22s | %s / %s" % (k[0], k[1], cell("edgert"), cell("edgert-find"),
          cell("torch-eager"), cell("torch-reduce-overhead"), ratio("torch-eager"), ratio("torch-reduce-overhead")))
