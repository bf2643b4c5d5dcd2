#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install dependencies, build edgert, make a
# document-camera video from a real scanned page, and run PaddleOCR's text detector
# (bundled) over it in a GStreamer pipeline: the engine is built from the ONNX model on
# first use, and the run writes an annotated video, JSON lines and one frame as an image.
#   bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
export GST_PLUGIN_PATH="$PWD/build/gst_plugin"
bash scripts/make-demo-video.sh build/demo/page-camera.mp4
# The same pipeline by hand:
#   gst-launch-1.0 filesrc location=build/demo/page-camera.mp4 ! decodebin ! videoconvert ! \
#     edgertinfer config=configs/elements/ppocr-det.yaml ! edgertoverlay ! videoconvert ! \
#     x264enc ! mp4mux ! filesink location=out.mp4
build/bin/edgert-app configs/apps/ocr-demo.yaml
# One annotated frame as a picture.
rm -rf build/demo/frames && mkdir -p build/demo/frames
gst-launch-1.0 -q filesrc location=build/demo/page-camera-ocr.mp4 ! decodebin ! videoconvert ! \
    pngenc ! multifilesink location=build/demo/frames/%03d.png
cp build/demo/frames/045.png build/demo/page-camera-ocr-frame.png
echo
echo "annotated video: build/demo/page-camera-ocr.mp4"
echo "results (JSON lines, one per frame): build/demo/page-camera-ocr.jsonl"
echo "one frame: build/demo/page-camera-ocr-frame.png"
head -c 400 build/demo/page-camera-ocr.jsonl
echo " ..."
