#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install dependencies, build edgert, build an
# engine from the bundled EfficientNet-Lite0 and classify a photo with it.
#   bash scripts/demo.sh [photo.jpg]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
PHOTO="${1:-configs/demo/dog.jpg}"
EDGERT=build/bin/edgert
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3  # Debian's numpy/PIL, not a local pyenv
$EDGERT build --config configs/build/efficientnet-lite0.yaml
# Preprocessing as the model was trained (resize 256, centre crop 224, (p-127)/128).
"$PY" scripts/preprocess.py "$PHOTO" build/demo_input.npy
$EDGERT run --engine build/efficientnet_lite0.engine --backend auto --input input=build/demo_input.npy \
    --save-outputs build/demo_out
"$PY" scripts/topk.py build/demo_out/logits.npy configs/labels/imagenet_classes.txt
