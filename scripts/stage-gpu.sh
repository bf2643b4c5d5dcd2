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
for l in libonnx_proto.so.1 libyaml-cpp.so.0.7 libxxhash.so.0 libgfortran.so.5 libquadmath.so.0; do
  cp -L "/lib/x86_64-linux-gnu/$l" .gpu/lib/
done
mkdir -p .gpu/models
cp ../shared/assets/models/ppocr/*.onnx ../shared/assets/images/page.png .gpu/models/ 2>/dev/null || echo "no ../shared/assets: real-model GPU checks will skip"
tar cJf .gpu/node.tar.xz -C /usr/share/libonnx-testdata/data node
du -sh .gpu
