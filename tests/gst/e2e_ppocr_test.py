#!/usr/bin/env python3
"""End to end on a real model and real pixels: the demo video (made from a real scanned
page) through edgert-app (filesrc ! decodebin ! edgertinfer ! edgertoverlay ! x264enc), then
the same frames through `edgert run` and an independent DBNet post-processing here. The
element's text boxes must match in count and position. Also: the annotated video decodes
with every frame, no temporary file is left, Ctrl-C finishes the files, and bad configs
exit non-zero naming the file and line.

    e2e_ppocr_test.py EDGERT EDGERT_APP SOURCE_DIR WORK_DIR
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
from PIL import Image

edgert, app, src, work = sys.argv[1:5]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
env = dict(os.environ)
FRAMES = 12
failures = []


def check(cond, msg):
    print(("ok   " if cond else "FAIL ") + msg)
    if not cond:
        failures.append(msg)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)


video = os.path.join(work, "page.mp4")
r = run(["bash", os.path.join(src, "scripts/make-demo-video.sh"), video, str(FRAMES)])
assert r.returncode == 0, r.stderr

# The element config of the demo, with its engine cached in the work dir.
shutil.copy(os.path.join(src, "configs/models/ch_PP-OCRv4_det_infer.onnx"), work)
cfg = open(os.path.join(src, "configs/elements/ppocr-det.yaml")).read()
cfg = cfg.replace("../models/", "").replace("../labels/", os.path.join(src, "configs/labels/"))
open(os.path.join(work, "det.yaml"), "w").write(cfg)
open(os.path.join(work, "app.yaml"), "w").write(f"""
sources:
  - {{name: page, file: page.mp4}}
model: det.yaml
backend: cpu
outputs: {{video: out.mp4, json: out.jsonl}}
""")
t0 = time.time()
r = run([app, os.path.join(work, "app.yaml")])
check(r.returncode == 0, f"edgert-app exits 0 ({r.returncode}: {r.stderr.strip()[-300:]})")
check("building" in r.stderr, "the first run says it builds the engine")
lines = [json.loads(l) for l in open(os.path.join(work, "out.jsonl"))]
check(len(lines) == FRAMES, f"{FRAMES} JSON lines ({len(lines)})")
check(not [f for f in os.listdir(work) if f.endswith(".part")], "no temporary files left")
r2 = run([app, os.path.join(work, "app.yaml")])
check(r2.returncode == 0 and "building" not in r2.stderr, "the second run reuses the cached engine")

# The annotated video decodes, every frame; keep them as PNGs for the comparison.
frames_dir = os.path.join(work, "in")
os.makedirs(frames_dir)
r = run(["gst-launch-1.0", "-q", "filesrc", f"location={video}", "!", "decodebin", "!",
         "videoconvert", "!", "video/x-raw,format=RGB", "!", "pngenc", "!", "multifilesink",
         f"location={frames_dir}/%03d.png"])
check(r.returncode == 0, "input video decodes")
out_dir = os.path.join(work, "out")
os.makedirs(out_dir)
r = run(["gst-launch-1.0", "-q", "filesrc", f"location={os.path.join(work, 'out.mp4')}", "!",
         "decodebin", "!", "videoconvert", "!", "pngenc", "!", "multifilesink",
         f"location={out_dir}/%03d.png"])
check(r.returncode == 0 and len(os.listdir(out_dir)) == FRAMES,
      f"annotated video decodes with {FRAMES} frames ({len(os.listdir(out_dir))})")

# Independent reference: letterbox + normalise here, `edgert run`, connected regions of
# the probability map. Each region must have exactly one element box around it.
engine = [f for f in os.listdir(work) if f.endswith(".engine")][0]
mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def regions(prob, thr=0.3):
    mask = prob > thr
    seen = np.zeros_like(mask)
    out = []
    H, W = mask.shape
    for y0, x0 in zip(*np.nonzero(mask)):
        if seen[y0, x0]:
            continue
        stack, pts = [(y0, x0)], []
        seen[y0, x0] = True
        while stack:
            y, x = stack.pop()
            pts.append((y, x))
            for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                v, u = y + dy, x + dx
                if 0 <= v < H and 0 <= u < W and mask[v, u] and not seen[v, u]:
                    seen[v, u] = True
                    stack.append((v, u))
        pts = np.array(pts)
        if len(pts) > 60 and prob[pts[:, 0], pts[:, 1]].mean() > 0.6:
            out.append(pts)
    return out


for idx in (0, FRAMES // 2, FRAMES - 1):
    img = Image.open(os.path.join(frames_dir, "%03d.png" % idx)).convert("RGB")
    w, h = img.size
    s = min(640 / w, 640 / h)
    rw, rh = round(w * s), round(h * s)
    x = np.zeros((640, 640, 3), np.float32)
    oy, ox = (640 - rh) // 2, (640 - rw) // 2
    x[oy:oy + rh, ox:ox + rw] = np.asarray(img.resize((rw, rh), Image.BILINEAR), np.float32) / 255
    x = ((x - mean) / std).astype(np.float32).transpose(2, 0, 1)[None]
    np.save(os.path.join(work, "x.npy"), x)
    r = run([edgert, "run", "--engine", os.path.join(work, engine), "--backend", "cpu", "--input",
             f"x={os.path.join(work, 'x.npy')}", "--save-outputs", os.path.join(work, "ref")])
    assert r.returncode == 0, r.stderr
    prob = np.load(os.path.join(work, "ref", "sigmoid_0.tmp_0.npy"))[0, 0]
    ref = regions(prob)
    boxes = [d["box"] for d in lines[idx]["detections"]]
    check(abs(len(boxes) - len(ref)) <= 1,
          f"frame {idx}: element found {len(boxes)} text regions, reference {len(ref)}")
    matched = 0
    for pts in ref:
        cy, cx = pts.mean(axis=0)
        fx, fy = (cx - ox) / s, (cy - oy) / s  # back to frame pixels
        if any(b[0] <= fx <= b[0] + b[2] and b[1] <= fy <= b[1] + b[3] for b in boxes):
            matched += 1
    check(matched >= len(ref) - 1 and len(ref) > 3,
          f"frame {idx}: {matched}/{len(ref)} reference regions inside an element box")

# Ctrl-C: a long test source is interrupted; the files are finished, exit 0.
open(os.path.join(work, "long.yaml"), "w").write("""
sources: [{name: cam, test: ball, num_buffers: 100000}]
model: det.yaml
backend: cpu
outputs: {video: long.mp4, json: long.jsonl}
""")
p = subprocess.Popen([app, os.path.join(work, "long.yaml")], stderr=subprocess.PIPE, text=True, env=env)
# Interrupt once results flow (the handler is installed by then; sanitizer builds start slowly).
part = os.path.join(work, ".long.jsonl.part")
for _ in range(600):
    if os.path.exists(part) and os.path.getsize(part) > 0:
        break
    time.sleep(0.2)
time.sleep(1)
p.send_signal(signal.SIGINT)
try:
    _, err = p.communicate(timeout=60)
except subprocess.TimeoutExpired:
    p.kill()
    err = "timeout"
check(p.returncode == 0, f"Ctrl-C finishes cleanly ({p.returncode}: {err.strip()[-200:]})")
check(os.path.exists(os.path.join(work, "long.mp4")) and os.path.exists(os.path.join(work, "long.jsonl")),
      "interrupted run still leaves complete outputs")
# An MP4 without its index (an unfinished mux) fails to demux.
r = run(["gst-launch-1.0", "-q", "filesrc", f"location={os.path.join(work, 'long.mp4')}", "!",
         "qtdemux", "!", "decodebin", "!", "fakesink"])
check(r.returncode == 0, f"the interrupted video is playable ({r.stderr.strip()[-200:]})")

# Bad configs: exit 2 with file and line.
open(os.path.join(work, "bad.yaml"), "w").write("sources:\n  - {name: a, file: page.mp4}\nmodle: det.yaml\n")
r = run([app, os.path.join(work, "bad.yaml")])
check(r.returncode == 2 and "bad.yaml:3:" in r.stderr and "modle" in r.stderr,
      f"unknown app key: exit 2 naming the line ({r.returncode}: {r.stderr.strip()})")
open(os.path.join(work, "missing.yaml"), "w").write("sources: [{file: nothere.mp4}]\nmodel: det.yaml\n")
r = run([app, os.path.join(work, "missing.yaml")])
check(r.returncode == 1 and "nothere.mp4" in r.stderr,
      f"missing video: exit 1 naming it ({r.returncode}: {r.stderr.strip()[-200:]})")

# A camera with display and file outputs: the pipeline builds (v4l2src, tee, autovideosink,
# x264enc ...) even where no camera or display exists to run it.
open(os.path.join(work, "cam.yaml"), "w").write("""
sources: [{name: cam0, camera: /dev/video0}, {name: net, uri: 'rtsp://127.0.0.1:8554/cam'}]
model: det.yaml
outputs: {video: 'out-{name}.mkv', display: true, json: '-'}
""")
r = run([app, "--check", os.path.join(work, "cam.yaml")])
check(r.returncode == 0 and "v4l2src device=" in r.stdout and "autovideosink" in r.stdout and
      "uridecodebin uri=" in r.stdout and "matroskamux" in r.stdout,
      f"camera + RTSP + display + file pipeline builds ({r.returncode}: {(r.stdout + r.stderr).strip()[-300:]})")

# The OCR cascade (issue #11): text detector, tracker, and the text-line orientation
# classifier on each line (edgertinfer process-mode=secondary), on the upright demo video
# and on the same video upside down. Real model, real pixels: the classifier must say 0
# degrees on the upright page and 180 on the turned one, for most lines.
shutil.copy(os.path.join(src, "configs/models/ch_ppocr_mobile_v2.0_cls_infer.onnx"), work)
cls = open(os.path.join(src, "configs/elements/ppocr-cls.yaml")).read()
cls = cls.replace("../models/", "").replace("../labels/", os.path.join(src, "configs/labels/"))
open(os.path.join(work, "cls.yaml"), "w").write(cls)
r = run(["bash", os.path.join(src, "scripts/make-demo-video.sh"), os.path.join(work, "upside.mp4"),
         str(FRAMES), "--upside-down"])
assert r.returncode == 0, r.stderr
for video_name, want in (("page.mp4", "0"), ("upside.mp4", "180")):
    open(os.path.join(work, "cascade.yaml"), "w").write(f"""
sources: [{{name: page, file: {video_name}}}]
model: det.yaml
track: {{max_age: 15, min_hits: 2}}
secondary: [cls.yaml]
backend: cpu
outputs: {{json: cascade.jsonl}}
""")
    r = run([app, os.path.join(work, "cascade.yaml")])
    check(r.returncode == 0, f"cascade on {video_name} exits 0 ({r.returncode}: {r.stderr.strip()[-300:]})")
    frames = [json.loads(l) for l in open(os.path.join(work, "cascade.jsonl"))]
    dets = [d for f in frames for d in f.get("detections", [])]
    labels = [s["label"] for d in dets for s in d.get("secondary", [])]
    tracked = sum("track_id" in d for d in dets)
    check(len(frames) == FRAMES, f"cascade: {FRAMES} JSON lines ({len(frames)})")
    check(len(dets) > 3 * FRAMES and len(labels) == len(dets),
          f"cascade on {video_name}: every one of {len(dets)} lines classified ({len(labels)})")
    check(all(s["producer_id"] == 2 for d in dets for s in d.get("secondary", [])),
          "secondary results carry the classifier's unique_id")
    # 12 frames cover the whole pan and zoom: lines move far between frames, and new ones
    # need min_hits frames before an id.
    check(tracked >= 0.6 * len(dets), f"lines tracked: {tracked} of {len(dets)}")
    share = labels.count(want) / max(1, len(labels))
    check(share >= 0.8, f"{video_name}: {share:.0%} of the lines classified {want} degrees")

# Several streams (issue #11): four file sources sharing the one engine; every stream gets
# all its frames, each result tagged with its stream.
r = run(["bash", os.path.join(src, "scripts/make-demo-video.sh"), os.path.join(work, "short.mp4"), "6"])
assert r.returncode == 0, r.stderr
open(os.path.join(work, "multi.yaml"), "w").write("""
sources:
""" + "".join(f"  - {{name: s{i}, file: short.mp4}}\n" for i in range(4)) + """
model: det.yaml
backend: cpu
outputs: {json: multi.jsonl}
""")
r = run([app, os.path.join(work, "multi.yaml")])
check(r.returncode == 0, f"four streams run ({r.returncode}: {r.stderr.strip()[-300:]})")
per = {}
for l in open(os.path.join(work, "multi.jsonl")):
    j = json.loads(l)
    per.setdefault(j["source"], []).append(j["frame"])
check(sorted(per) == ["s0", "s1", "s2", "s3"] and all(sorted(v) == list(range(6)) for v in per.values()),
      f"every stream got its 6 frames: { {k: len(v) for k, v in per.items()} }")

# RTSP output (issue #11): the annotated stream served by edgert-app, played back here with
# rtspsrc on loopback and decoded frame by frame.
import socket
sock = socket.socket()
sock.bind(("127.0.0.1", 0))
port = sock.getsockname()[1]
sock.close()
open(os.path.join(work, "rtsp.yaml"), "w").write(f"""
sources: [{{name: cam, test: ball, num_buffers: 40}}]
model: det.yaml
backend: cpu
outputs: {{rtsp: {{port: {port}, path: /edgert}}}}
""")
server = subprocess.Popen([app, os.path.join(work, "rtsp.yaml")], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env)
# Connect as soon as the server listens (frames before a client joins are not kept).
for _ in range(300):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        break
    except OSError:
        time.sleep(0.1)
frames_dir = os.path.join(work, "rtsp_frames")
os.makedirs(frames_dir, exist_ok=True)
client = run(["timeout", "400", "gst-launch-1.0", "-q", "rtspsrc",
              f"location=rtsp://127.0.0.1:{port}/edgert", "latency=100", "!", "rtph264depay", "!",
              "h264parse", "!", "avdec_h264", "!", "videoconvert", "!", "pngenc", "!",
              "multifilesink", f"location={frames_dir}/%03d.png"])
out, err = server.communicate(timeout=600)
got = sorted(os.listdir(frames_dir))
check(server.returncode == 0 and f"rtsp://127.0.0.1:{port}/edgert" in err,
      f"edgert-app serves RTSP and exits 0 ({server.returncode}: {err.strip()[-200:]})")
check(len(got) >= 10, f"RTSP playback decoded {len(got)} frames")
if got:
    px = np.asarray(Image.open(os.path.join(frames_dir, got[len(got) // 2])).convert("L"))
    check(px.std() > 5, "decoded RTSP frames carry the picture")

print(f"e2e: {time.time() - t0:.1f} s")
sys.exit(1 if failures else 0)
