# Batch split A/B on the GPU machine: per-layer profiles of the split and whole engines.
source scripts/gpu-unpack.sh
export LD_LIBRARY_PATH=$PWD/.gpu/lib
python3 bench/export_bench_models.py /tmp/bm > /dev/null 2>&1
for m in ${MODELS:-mobilenet_v2 yolov8_tiny}; do for p in ${PRECS:-fp16}; do for s in ${SPLITS:-32 0}; do
 .gpu/bin/edgert build -q --onnx /tmp/bm/$m.onnx --target cuda --precision $p --batch-split $s --shapes input:128x3x224x224 -o /tmp/e$s.engine | grep split
 echo "$m $p split=$s $(.gpu/bin/edgert bench --engine /tmp/e$s.engine --backend cuda --iterations 50 --warmup 10 | grep -E 'median|memory' | tr -s ' ' | tr '\n' ' ')"
 .gpu/bin/edgert bench --engine /tmp/e$s.engine --backend cuda --per-layer --iterations 20 --json /tmp/p$s.json > /dev/null
done
python3 - <<'PY'
import json, re, collections
def load(f):
    d = collections.OrderedDict()
    for l in json.load(open(f))["layers"]:
        k = re.sub(r"/batch\d+-\d+$", "", l["name"]); k = re.sub(r"/batch\d+-\d+", "", k)
        d.setdefault(k, [0.0, l["op"], l["tactic"]]); d[k][0] += l["ms"]
    return d
a, b = load("/tmp/p32.json"), load("/tmp/p0.json")
print("total split %.3f whole %.3f" % (sum(v[0] for v in a.values()), sum(v[0] for v in b.values())))
rows = sorted(set(a) | set(b), key=lambda k: -abs(a.get(k, [0])[0] - b.get(k, [0])[0]))
for k in rows[:12]:
    print("%8.4f %8.4f %-14s %-28s %s" % (a.get(k, [0])[0], b.get(k, [0])[0], (a.get(k) or b.get(k))[1], (a.get(k) or [0, 0, "-"])[2] + "|" + (b.get(k) or [0, 0, "-"])[2], k[-50:]))
PY
done; done
