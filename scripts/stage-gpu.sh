#!/usr/bin/env bash
# Stages what the GPU machine needs into .gpu/ (git-ignored; pass it in `carry`): the built
# binaries, the shared libraries that machine lacks (libonnx, yaml-cpp 0.7, xxhash), and the
# ONNX conformance data. The build folder itself is too large to carry.
set -euo pipefail
cd "$(dirname "$0")/.."
B="${EDGERT_BUILD_DIR:-build}"
rm -rf .gpu && mkdir -p .gpu/bin .gpu/lib
cp "$B/bin/edgert" "$B"/tests/test_{ops,onnx_conformance,models,bad_input,runtime} "$B/tests/edgert_image_bench" .gpu/bin/
cp -L "$B/runtime/libedgert.so.0" "$B/builder/libedgert_builder.so.0" .gpu/lib/
# The builder commands of bin/edgert: found through bin/../lib/edgert/ as in the build tree.
mkdir -p .gpu/lib/edgert && cp "$B/lib/edgert/edgert-cli-builder.so" .gpu/lib/edgert/
for l in libonnx_proto.so.1 libonnx.so.1 libyaml-cpp.so.0.7 libxxhash.so.0 libgfortran.so.5 libquadmath.so.0; do
  cp -L "/lib/x86_64-linux-gnu/$l" .gpu/lib/
done
mkdir -p .gpu/models
cp ../shared/assets/models/ppocr/*.onnx ../shared/assets/images/page.png \
  ../shared/assets/models/imagenet/efficientnet_lite0_reference_top3.txt .gpu/models/ 2>/dev/null ||
  echo "no ../shared/assets: real-model GPU checks will skip"
# INT8: calibration caches made here from the real photos (this machine has OpenCV; the GPU
# machine builds its INT8 engines from them), and the photos themselves to compare on.
if [ -x build/bin/edgert ] && [ -d ../shared/assets/images ]; then
  mkdir -p .gpu/images && cp ../shared/assets/images/* .gpu/images/
  [ -f .gpu/models/enl.calib ] || build/bin/edgert build -q --onnx configs/models/efficientnet_lite0.onnx \
    --shapes input:1x3x224x224 --target cpu --precision int8 --calib-dir ../shared/assets/images \
    --calib-preprocess "resize=256,mean=127,std=128,order=rgb,interp=pil" \
    --calib-cache .gpu/models/enl.calib -o /tmp/stage-enl.engine
  [ -f .gpu/models/det.calib ] || build/bin/edgert build -q --onnx .gpu/models/ch_PP-OCRv4_det_infer.onnx \
    --shapes x:1x3x640x640 --target cpu --precision int8 --calib-dir ../shared/assets/images \
    --calib-preprocess "resize=letterbox,pad=0,scale=0.00392156862745098,mean=0.485:0.456:0.406,std=0.229:0.224:0.225,order=rgb" \
    --calib-cache .gpu/models/det.calib -o /tmp/stage-det.engine
fi
# The Q/DQ export of EfficientNet-Lite0 from that cache (scripts/gpu_qdq_check.py builds it there).
[ -f .gpu/models/enl.calib ] && build/bin/edgert quantize -q --onnx configs/models/efficientnet_lite0.onnx --shapes input:1x3x224x224 \
  --calib-cache .gpu/models/enl.calib -o .gpu/models/enl.qdq.onnx
xz -T0 -f .gpu/lib/libedgert.so.0  # scripts/gpu-unpack.sh undoes it on the device
tar cJf .gpu/node.tar.xz -C /usr/share/libonnx-testdata/data node
du -sh .gpu
