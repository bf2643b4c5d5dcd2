#!/usr/bin/env python3
"""`edgert quantize` (issue #12) on the real models of ../shared/assets: the Q/DQ models it
writes are valid ONNX (checker, full check), keep the model's names, inputs and outputs, carry
the calibration cache's scales, build in edgert into the engine the cache builds (outputs
byte-equal), and run in ONNX Runtime (CPU) with edgert's CPU INT8 results:
  - layer by layer: every quantised layer of EfficientNet-Lite0, run alone in both runtimes on
    the same int8 inputs, gives outputs within one quantisation step of each other;
  - end to end: close (cosine), and the exported EfficientNet-Lite0 under ONNX Runtime keeps
    issue #9's top-1 agreement with FP32 on 108 held-out views of the photos.
  - with --mixed-precision (not under the sanitizers: minutes), the export of issue #9's
    mixed-precision build (--int8-min-top1 1 --int8-min-cosine 0.9998) keeps its 100% under ONNX
    Runtime.
Usage: TEST EDGERT_BIN ASSETS_DIR WORKDIR [--mixed-precision]. Exit 77 (skip) without the assets or onnxruntime
(pip install onnxruntime: a test-only dependency; scripts/install-deps.sh makes a venv)."""
import os
import subprocess
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from photo_views import make_views  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts"))
from preprocess import enl_input  # noqa: E402  (the EfficientNet-Lite0 input tensor of a photo)

edgert, assets, work = [os.path.abspath(a) for a in sys.argv[1:4]]
mixed = "--mixed-precision" in sys.argv[4:]
ENL = os.path.join(assets, "models/imagenet/efficientnet_lite0.onnx")
DET = os.path.join(assets, "models/ppocr/ch_PP-OCRv4_det_infer.onnx")
CLS = os.path.join(assets, "models/ppocr/ch_ppocr_mobile_v2.0_cls_infer.onnx")
PHOTOS = os.path.join(assets, "images")
if not os.path.exists(ENL):
    print("SKIP: %s not found (../shared/assets)" % ENL)
    sys.exit(77)
try:
    import onnx
    import onnx.numpy_helper
    import onnx.utils
    import onnxruntime as ort
except ImportError as e:
    print("SKIP: %s (pip install onnxruntime, or scripts/install-deps.sh's venv)" % e)
    sys.exit(77)
print("onnxruntime %s, onnx %s" % (ort.__version__, onnx.__version__))

failed = []


def check(ok, what):
    print("%s: %s" % ("ok" if ok else "FAIL", what))
    if not ok:
        failed.append(what)


def run(args, log):
    with open(log, "w") as f:
        r = subprocess.run([edgert] + args, stdout=f, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        print(open(log).read()[-3000:])
        sys.exit("FAIL: edgert %s exited %d" % (" ".join(args[:3]), r.returncode))


def edgert_outputs(model, name, x, extra=(), tag=None):
    """The CPU engine of `model` (int8) on batch x: {output file name: array} (edgert run writes
    output 'a/b' as a_b.npy)."""
    tag = tag or os.path.basename(model)
    shape = "x".join(str(d) for d in x.shape)
    np.save(tag + ".in.npy", x)
    run(["build", "-q", "--onnx", model, "--shapes", "%s:%s" % (name, shape), "--target", "cpu",
         "--precision", "int8", "-o", tag + ".engine"] + list(extra), tag + ".build.log")
    out = tag + ".out"
    run(["run", "--engine", tag + ".engine", "--backend", "cpu", "--input",
         "%s=%s.in.npy" % (name, tag), "--save-outputs", out], tag + ".run.log")
    return {f[:-4]: np.load(os.path.join(out, f)) for f in os.listdir(out)}


def ort_run(model, feeds):
    s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds)))


def load_cache(path):
    th = {}
    for line in open(path):
        parts = line.rstrip("\n").split(" ", 1)
        try:
            th[parts[1]] = float(parts[0])
        except (ValueError, IndexError):
            pass
    return th


def check_model(orig_path, qdq_path, cache_path, what):
    """Checker, names kept, scales = the cache's thresholds / 127 (/ 255 for uint8)."""
    m = onnx.load(qdq_path)
    onnx.checker.check_model(m, full_check=True)
    o = onnx.load(orig_path)
    opset = [i.version for i in m.opset_import if i.domain in ("", "ai.onnx")][0]
    check(opset >= 13, "%s: opset %d >= 13" % (what, opset))
    check([i.name for i in m.graph.input] == [i.name for i in o.graph.input] and
          [i.name for i in m.graph.output] == [i.name for i in o.graph.output],
          "%s: graph inputs and outputs kept" % what)
    kept = {n.name for n in m.graph.node}
    lost = [n.name for n in o.graph.node if n.name and n.op_type not in ("Constant", "BatchNormalization")
            and n.name not in kept]
    check(not lost, "%s: every node name kept (batch norms folded; missing: %s)" % (what, lost[:5]))
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in m.graph.initializer}
    producer = {out: n for n in m.graph.node for out in n.output}
    th = load_cache(cache_path)
    bad, n = [], 0
    for node in m.graph.node:
        if node.op_type != "QuantizeLinear":
            continue
        t, s, z = node.input[0], inits[node.input[1]], inits[node.input[2]]
        cands = [t]
        p = producer.get(t)
        if p is not None and p.op_type == "Pad":
            cands.append(p.input[0])  # the cache of a CPU build names the Pad's input
        thr = next((th[c] for c in cands if c in th), None)
        levels = 255.0 if z.dtype == np.uint8 else 127.0
        n += 1
        if thr is None or np.float32(thr / levels) != s:
            bad.append((t, thr, float(s)))
    check(n > 0 and not bad, "%s: %d activation scales equal the cache's (differing: %s)" % (what, n, bad[:3]))
    return m


os.makedirs(work, exist_ok=True)
os.chdir(work)
for f in os.listdir("."):
    if f.endswith(".calib"):
        os.remove(f)

# --- EfficientNet-Lite0: calibration views and held-out views of the photos (as the views test).
PRE = "resize=256,crop=224,mean=127,std=128,order=rgb,interp=pil"
make_views(PHOTOS, "calib", 3, seed=1)
n_eval = make_views(PHOTOS, "eval", 9, seed=2)


X = np.concatenate([enl_input(Image.open(os.path.join("eval", f))) for f in sorted(os.listdir("eval"))])
run(["quantize", "-q", "--onnx", ENL, "--shapes", "input:1x3x224x224", "--calib-dir", "calib",
     "--preprocess", PRE, "--calib-algo", "entropy", "--calib-cache", "enl.calib", "-o", "enl.qdq.onnx"],
    "enl-quantize.log")
run(["quantize", "-q", "--onnx", ENL, "--shapes", "input:1x3x224x224", "--calib-cache", "enl.calib",
     "--unsigned-activations", "-o", "enl.qdq-u.onnx"], "enl-quantize-u.log")
print(open("enl-quantize.log").read().strip())
check_model(ENL, "enl.qdq.onnx", "enl.calib", "EfficientNet-Lite0 symmetric")
check_model(ENL, "enl.qdq-u.onnx", "enl.calib", "EfficientNet-Lite0 unsigned")

# Round trip: the Q/DQ model builds into the engine the calibration cache builds.
for qdq, extra in (("enl.qdq.onnx", ["--int8-symmetric"]), ("enl.qdq-u.onnx", [])):
    a = edgert_outputs(qdq, "input", X[:16])["logits"]
    b = edgert_outputs(ENL, "input", X[:16], ["--calib-cache", "enl.calib"] + extra, tag="cache-" + qdq)["logits"]
    check(np.array_equal(a, b), "%s: engine equals the --calib-cache%s engine (max diff %g)" % (
        qdq, " --int8-symmetric" if extra else "", np.abs(a - b).max()))

# ONNX Runtime end to end, against FP32 (ONNX Runtime on the float model) and edgert.
fp32 = ort_run(ENL, {"input": X})["logits"]
step = load_cache("enl.calib")["logits"] / 127
top1_edgert = {}
for qdq in ("enl.qdq.onnx", "enl.qdq-u.onnx"):
    o = ort_run(qdq, {"input": X})["logits"]
    e = edgert_outputs(qdq, "input", X, tag="all-" + qdq)["logits"]
    top1 = float((o.argmax(1) == fp32.argmax(1)).mean())
    agree = float((o.argmax(1) == e.argmax(1)).mean())
    cos = (o * e).sum(1) / np.linalg.norm(o, axis=1) / np.linalg.norm(e, axis=1)
    d = np.abs(o - e) / step
    print("%s under ONNX Runtime: top-1 agreement with FP32 %.4f (%d/%d); with edgert's INT8 %.4f, "
          "cosine min %.5f, |diff| mean %.2f / max %.2f output steps" % (
              qdq, top1, round(top1 * n_eval), n_eval, agree, cos.min(), d.mean(), d.max()))
    # Two INT8 runtimes round differently in the last bit here and there, and 50 layers carry
    # it to the logits (ONNX Runtime's own optimised and unoptimised graphs differ as much):
    # near-tie views may flip, so top-1 is compared with FP32, not bit for bit.
    check(cos.min() > 0.99 and agree >= 0.9, "%s: ONNX Runtime tracks edgert's INT8 end to end" % qdq)
    mine = float((e.argmax(1) == fp32.argmax(1)).mean())
    print("  edgert's INT8 engine on the same views: top-1 agreement with FP32 %.4f" % mine)
    # Measured (2026-11-28, onnxruntime 1.32): unsigned 0.954 (edgert 0.963; the views test's
    # 0.972 compares with edgert's own FP32); symmetric 0.907 (edgert 0.917). Issue #9's 97% is
    # reached in either runtime with mixed precision (--int8-min-top1 / --int8-min-cosine).
    check(top1 >= mine - 2.5 / n_eval, "%s: ONNX Runtime keeps edgert's INT8 top-1 agreement with "
          "FP32 (%.4f vs %.4f, at most two near-tie views apart)" % (qdq, top1, mine))

# Mixed precision: the layers the calibration views need in float stay unquantised in the export.
if mixed:
    run(["quantize", "-q", "--onnx", ENL, "--shapes", "input:1x3x224x224", "--calib-dir", "calib",
         "--preprocess", PRE, "--calib-cache", "enl.calib", "--unsigned-activations", "--int8-min-top1", "1",
         "--int8-min-cosine", "0.9998", "--int8-check-batches", "36", "-o", "enl.qdq-amp.onnx"], "enl-amp.log")
    o = ort_run("enl.qdq-amp.onnx", {"input": X})["logits"]
    top1 = float((o.argmax(1) == fp32.argmax(1)).mean())
    g = onnx.load("enl.qdq-amp.onnx").graph
    dequantized = {n.output[0] for n in g.node if n.op_type == "DequantizeLinear"}
    kept = sum(1 for n in g.node if n.op_type in ("Conv", "Gemm") and n.input[1] not in dequantized)
    print("enl.qdq-amp.onnx (%d of 50 layers left in float) under ONNX Runtime: top-1 agreement with FP32 "
          "%.4f (%d/%d)" % (kept, top1, round(top1 * n_eval), n_eval))
    # Measured 2026-11-28 (session 19): 34 of 50 layers in float, 108/108 (session 18, before the
    # search counted check-sample near-ties as agreeing: 44; at 0.9995: 31 in float, 107/108,
    # the held-out near-tie dog_1 flips, as in edgert). The floor allows that one flip on
    # another CPU, as the views test does; the target is printed beside it.
    print("issue #9's mixed-precision target (100%%) under ONNX Runtime: %s" % ("met" if top1 == 1 else "NOT met"))
    check(top1 >= 0.99, "mixed-precision export keeps issue #9's top-1 agreement under ONNX Runtime")

# Layer by layer: each quantised layer alone (from its quantised input, and residual, to the
# tensor the next layer quantises), fed the same values in both runtimes: within one step.
m = onnx.load("enl.qdq.onnx")
inits = {t.name: onnx.numpy_helper.to_array(t) for t in m.graph.initializer}
producer = {out: n for n in m.graph.node for out in n.output}
readers = {}
for n in m.graph.node:
    for i in n.input:
        readers.setdefault(i, []).append(n)
qscale = {n.input[0]: (float(inits[n.input[1]]), inits[n.input[2]].dtype) for n in m.graph.node
          if n.op_type == "QuantizeLinear"}
# Shapes at batch 1, from ONNX Runtime's run with every quantised tensor as an output.
full = onnx.load("enl.qdq.onnx")
want = sorted(qscale)
for t in want:
    full.graph.output.append(onnx.helper.make_empty_tensor_value_info(t))
onnx.save(full, "enl.all-outputs.onnx")
vals = ort_run("enl.all-outputs.onnx", {"input": X[:2]})
rng = np.random.default_rng(0)
layers, worst, equal, total = 0, 0, 0, 0
for conv in [n for n in m.graph.node if n.op_type in ("Conv", "Gemm")]:
    x = producer[conv.input[0]].input[0]  # DequantizeLinear <- QuantizeLinear <- x
    x = producer[x].input[0]
    # Forward to the next quantised tensor: the activation, a zero Pad, and an Add with its
    # residual. (The head, whose output the pool reads in float, and the Gemm writing the logits
    # are compared end to end above.)
    y, ins = conv.output[0], [x]
    while y not in qscale and len(readers.get(y, [])) == 1 and readers[y][0].op_type in ("Clip", "Add", "Pad"):
        nxt = readers[y][0]
        if nxt.op_type == "Add":
            r = [i for i in nxt.input if i != y][0]
            if producer.get(r) is None or producer[r].op_type != "DequantizeLinear":
                break
            ins.append(producer[producer[r].input[0]].input[0])
        y = nxt.output[0]
    if y not in qscale:
        continue
    sub = "layer%d.onnx" % layers
    onnx.utils.extract_model("enl.qdq.onnx", sub, ins, [y])
    feeds = {}
    for t in ins:  # values on the tensor's grid, as the layer reads them
        s, dt = qscale[t]
        q = rng.integers(0, 256, vals[t].shape) if dt == np.uint8 else rng.integers(-127, 128, vals[t].shape)
        feeds[t] = (q * s).astype(np.float32)
    o = ort_run(sub, feeds)[y]
    if len(ins) == 1:
        e = edgert_outputs(sub, ins[0], feeds[ins[0]], tag="layer")[y.replace("/", "_")]
    else:  # two inputs: edgert run takes one file per input
        for t in ins:
            np.save(t.replace("/", "_") + ".npy", feeds[t])
        shapes = ",".join("%s:%s" % (t, "x".join(map(str, feeds[t].shape))) for t in ins)
        run(["build", "-q", "--onnx", sub, "--shapes", shapes, "--target", "cpu", "--precision", "int8",
             "-o", "layer.engine"], "layer.build.log")
        args = ["run", "--engine", "layer.engine", "--backend", "cpu", "--save-outputs", "layer.out"]
        for t in ins:
            args += ["--input", "%s=%s.npy" % (t, t.replace("/", "_"))]
        run(args, "layer.run.log")
        e = np.load(os.path.join("layer.out", y.replace("/", "_") + ".npy"))
    s, dt = qscale[y]
    lo, hi = (0, 255) if dt == np.uint8 else (-128, 127)
    qo = np.clip(np.rint(o / s), lo, hi)
    qe = np.clip(np.rint(e / s), lo, hi)
    worst = max(worst, int(np.abs(qo - qe).max()))
    equal += int((qo == qe).sum())
    total += qo.size
    layers += 1
print("layer by layer: %d layers, %.5f%% of outputs equal, the rest within %d step(s)" % (
    layers, 100.0 * equal / max(total, 1), worst))
check(layers >= 48 and worst <= 1, "every quantised layer within one step of edgert's (%d layers)" % layers)


# --- PP-OCR: the text detector (opset 11, batch norms) and the text-line classifier (opset 9,
# batch norms, a MatMul): pre-processed photos as .npy tensors.
def photo_tensors(folder, h, w, bgr, mean, std):
    os.makedirs(folder, exist_ok=True)
    xs = []
    for i, name in enumerate(sorted(os.listdir(PHOTOS))):
        img = np.asarray(Image.open(os.path.join(PHOTOS, name)).convert("RGB").resize((w, h), Image.BILINEAR),
                         np.float32) / 255.0
        if bgr:
            img = img[:, :, ::-1]
        x = ((img - np.array(mean, np.float32)) / np.array(std, np.float32)).transpose(2, 0, 1)
        np.save(os.path.join(folder, "%02d.npy" % i), np.ascontiguousarray(x, np.float32))
        xs.append(x)
    return np.stack(xs).astype(np.float32)


for model, name, folder, shape, pre in (
        (DET, "x", "det_calib", (320, 320), dict(bgr=False, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])),
        (CLS, "x", "cls_calib", (48, 192), dict(bgr=True, mean=[0.5] * 3, std=[0.5] * 3))):
    what = os.path.basename(model)
    xs = photo_tensors(folder, shape[0], shape[1], **pre)
    spec = "%s:1x3x%dx%d" % (name, shape[0], shape[1])
    run(["quantize", "-q", "--onnx", model, "--shapes", spec, "--calib-dir", folder, "--calib-cache",
         what + ".calib", "-o", what + ".qdq.onnx"], what + ".quantize.log")
    print(open(what + ".quantize.log").read().strip())
    check_model(model, what + ".qdq.onnx", what + ".calib", what)
    a = edgert_outputs(what + ".qdq.onnx", name, xs)
    b = edgert_outputs(model, name, xs, ["--calib-cache", what + ".calib", "--int8-symmetric"], tag="cache-" + what)
    out = list(a)[0]
    check(all(np.array_equal(a[k], b[k]) for k in a), "%s: engine equals the --calib-cache engine" % what)
    o = ort_run(what + ".qdq.onnx", {name: xs})[out]
    e = a[out].reshape(o.shape)
    if model == DET:
        mo, me = o > 0.3, e > 0.3
        iou = (mo & me).sum() / max(1, (mo | me).sum())
        print("%s: ONNX Runtime vs edgert INT8 maps at 0.3: IoU %.4f" % (what, iou))
        check(iou >= 0.95, "%s: ONNX Runtime's maps match edgert's (IoU >= 0.95)" % what)
    else:
        # The photos are not text lines: several are near-ties (FP32 0.54 / 0.46), where two
        # INT8 runtimes may pick either side; the probabilities must still agree closely.
        decided = np.abs(o[:, 0] - o[:, 1]) > 0.1
        agree = float((o.argmax(1) == e.argmax(1))[decided].mean())
        diff = float(np.abs(o - e).max())
        print("%s: ONNX Runtime vs edgert INT8: top-1 agreement %.3f on the %d photos with a margin "
              "> 0.1, max |probability diff| %.4f" % (what, agree, decided.sum(), diff))
        check(agree == 1.0 and diff < 0.06, "%s: ONNX Runtime classifies as edgert's INT8" % what)

for f in failed:
    print("FAIL: " + f)
sys.exit(1 if failed else 0)
