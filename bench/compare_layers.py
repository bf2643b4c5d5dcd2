#!/usr/bin/env python3
"""Two per-layer profiles side by side (`edgert bench --per-layer --json`), e.g. an fp16 and an
int8 engine of one model: layers matched by name, the biggest differences first, plus the
total of each op type. Shows where one engine loses time to the other."""
import json
import sys
from collections import defaultdict


def load(path):
    with open(path) as f:
        return json.load(f)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: compare_layers.py A.json B.json [rows]")
    top = int(sys.argv[3]) if len(sys.argv) == 4 else 25
    a, b = load(sys.argv[1]), load(sys.argv[2])
    la = {l["name"]: l for l in a["layers"]}
    lb = {l["name"]: l for l in b["layers"]}
    print(f"A {sys.argv[1]}: {a['total_ms']:.3f} ms; B {sys.argv[2]}: {b['total_ms']:.3f} ms")
    rows = []
    for name, y in lb.items():
        x = la.get(name)
        rows.append((y["ms"] - (x["ms"] if x else 0.0), name, x, y))
    rows.sort(key=lambda r: -r[0])
    print(f"{'B - A ms':>9} {'A ms':>8} {'B ms':>8}  {'B tactic':<20} layer")
    for d, name, x, y in rows[:top]:
        xa = f"{x['ms']:.4f}" if x else "-"
        print(f"{d:9.4f} {xa:>8} {y['ms']:8.4f}  {y['tactic']:<20} {name}")
    ops = defaultdict(lambda: [0.0, 0.0])
    for l in a["layers"]:
        ops[l["op"]][0] += l["ms"]
    for l in b["layers"]:
        ops[l["op"]][1] += l["ms"]
    print("by op (A ms, B ms):")
    for op, (ta, tb) in sorted(ops.items(), key=lambda kv: -max(kv[1])):
        print(f"  {op:<22} {ta:8.4f} {tb:8.4f}")
    matched_a = sum(la[n]["ms"] for n in lb if n in la)
    matched_b = sum(lb[n]["ms"] for n in lb if n in la)
    print(f"layers of both: A {matched_a:.3f} ms, B {matched_b:.3f} ms")


if __name__ == "__main__":
    main()
