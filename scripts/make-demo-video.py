#!/usr/bin/env python3
"""Writes the demo's input frames: a document camera moving over a real scanned page
(configs/demo/page.png): a slow pan, a zoom out and back in, and a small tilt, so the text
detector has lines entering, leaving, growing and rotating. The frames are PNGs for
GStreamer to encode (scripts/make-demo-video.sh).

    make-demo-video.py PAGE.png OUT_DIR [--frames N] [--size WxH] [--upside-down]

--upside-down turns every frame by 180 degrees (the text-orientation classifier's test).
"""
import argparse
import math
import os

from PIL import Image


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("page")
    ap.add_argument("out_dir")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--upside-down", action="store_true")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    page = Image.open(a.page).convert("RGB")
    # The page on a desk: a grey border so zooming out shows its edges.
    B = 400
    desk = Image.new("RGB", (page.width + 2 * B, page.height + 2 * B), (92, 88, 80))
    desk.paste(page, (B, B))
    os.makedirs(a.out_dir, exist_ok=True)
    n = a.frames
    for i in range(n):
        t = i / max(1, n - 1)
        # Zoom: 2.6x -> 1.3x -> 2.2x (of the page's size in the frame), eased.
        zoom = 2.6 - 1.3 * math.sin(math.pi * min(1.0, t * 1.6)) ** 2 if t < 0.62 else \
            1.3 + 0.9 * (t - 0.62) / 0.38
        angle = 4.0 * math.sin(2 * math.pi * t)  # degrees of camera tilt
        view_w, view_h = w / zoom, h / zoom
        # Pan: left to right along the text, then down the page.
        cx = B + view_w / 2 + (page.width - view_w) * (0.5 - 0.5 * math.cos(math.pi * t))
        cy = B + view_h / 2 + (page.height - view_h) * t
        box = (cx - view_w / 2, cy - view_h / 2, cx + view_w / 2, cy + view_h / 2)
        frame = desk.rotate(angle, resample=Image.BICUBIC, center=(cx, cy), fillcolor=(92, 88, 80))
        frame = frame.resize((w, h), Image.BICUBIC, box=box)
        if a.upside_down:
            frame = frame.rotate(180)
        frame.save(os.path.join(a.out_dir, "%04d.png" % i))


if __name__ == "__main__":
    main()
