#!/usr/bin/env bash
# `edgert run` on images (the classifier of ../shared/assets on its photos: batches, labels,
# top-k, JSON, the engine's recorded pre-processing), calibration from batched .npy tensors and
# one sub-folder per input, and the bad inputs of both. Exit 77 (skip) without the assets.
# Usage: run_images_test.sh EDGERT_BIN ASSETS_DIR WORKDIR
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/check_lib.sh"
EDGERT="$(realpath "$1")"; ASSETS="$(realpath "$2")"; WORK="$3"
SCRIPTS="$(realpath "$(dirname "${BASH_SOURCE[0]}")/../../scripts")"
[ -d "$ASSETS/images" ] || { echo "skip: no $ASSETS"; exit 77; }
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
ENL="$ASSETS/models/imagenet/efficientnet_lite0.onnx"
LABELS="$ASSETS/labels/imagenet_classes.txt"
PRE="resize=256,crop=224,mean=127,std=128,order=rgb,interp=pil"

# Batch 4 over 12 photos (three full batches) and batch 5 (a last batch of 2, filled up).
for b in 4 5; do
  "$EDGERT" build -q --onnx "$ENL" --shapes input:${b}x3x224x224 --target cpu --preprocess "$PRE" \
    -o enl$b.engine > /dev/null 2>&1 || bad "build batch $b"
  "$EDGERT" run --engine enl$b.engine --backend cpu --input "$ASSETS/images" --labels "$LABELS" \
    --top-k 3 --json r$b.json --save-outputs out$b > run$b.txt 2>&1 || { bad "run batch $b"; cat run$b.txt; }
done
grep -q "12 image(s) in 3 batch(es) of 4" run4.txt && grep -q "12 image(s) in 3 batch(es) of 5" run5.txt &&
  ok "images run in batches of the engine's batch size" || { bad "batching"; head -3 run4.txt run5.txt; }
grep -A2 "dog.jpg" run4.txt | grep -qE "0\.(39|40)[0-9]* +235 +German shepherd" &&
  ok "top classes printed with probability and label" || { bad "top-k text"; grep -A4 dog.jpg run4.txt; }
/usr/bin/python3 - <<'PY' && ok "batch 4 and batch 5 (partly filled) give the same per-image results" || bad "json"
import json, numpy as np
a, b = json.load(open("r4.json")), json.load(open("r5.json"))
assert len(a["images"]) == 12 and a["batch"] == 4 and "interp=pil" in a["preprocess"]
for x, y in zip(a["images"], b["images"]):
    assert x["file"] == y["file"]
    tx, ty = x["outputs"]["logits"]["top"], y["outputs"]["logits"]["top"]
    assert [t["class"] for t in tx] == [t["class"] for t in ty] and len(tx) == 3
    assert abs(tx[0]["probability"] - ty[0]["probability"]) < 1e-5
coffee = [x for x in a["images"] if x["file"].endswith("coffee.png")][0]["outputs"]["logits"]["top"][0]
assert coffee["class"] == 967 and coffee["label"] == "espresso" and coffee["probability"] > 0.9
o4, o5 = np.load("out4/logits.npy"), np.load("out5/logits.npy")
assert o4.shape == (12, 1000) and o5.shape == (12, 1000), (o4.shape, o5.shape)
assert np.abs(o4 - o5).max() < 1e-3
PY
"$EDGERT" run --engine enl4.engine --backend cpu --input input="$ASSETS/images/dog.jpg" --json - 2>/dev/null |
  /usr/bin/python3 -c "import json,sys; r=json.load(sys.stdin); assert r['images'][0]['outputs']['logits']['top'][0]['class'] == 235 and len(r['images'][0]['outputs']['logits']['top']) == 5" &&
  ok "one image: default top-5 from the engine's recorded pre-processing, JSON on stdout" || bad "--json -"
/usr/bin/python3 -c "
import numpy as np, sys; sys.path.insert(0, '$SCRIPTS')
from preprocess import enl_input; from PIL import Image
np.save('dog.npy', np.concatenate([enl_input(Image.open('$ASSETS/images/dog.jpg'))] * 4))"
"$EDGERT" run --engine enl4.engine --backend cpu --input dog.npy --labels "$LABELS" --top-k 2 > t.txt 2>&1 &&
  [ "$(grep -c 'German shepherd' t.txt)" = 4 ] && ok "tensor input: top-k per batch row" || { bad "tensor top-k"; cat t.txt; }

# Bad input: one clear error each.
"$EDGERT" build -q --onnx "$ENL" --shapes input:1x3x224x224 --target cpu -o plain.engine >/dev/null 2>&1
expect_fail "image without pre-processing" "records no image pre-processing .*give --preprocess for input 'input'" \
  "$EDGERT" run --engine plain.engine --backend cpu --input "$ASSETS/images/dog.jpg"
expect_fail "crop that is not the input size" "crop=200 but input 'input' is 1x3x224x224" \
  "$EDGERT" run --engine plain.engine --backend cpu --input "$ASSETS/images/dog.jpg" --preprocess resize=256,crop=200
expect_fail "labels of another model" "names 80 classes but output 'logits' 4x1000 scores 1000" \
  "$EDGERT" run --engine enl4.engine --backend cpu --input "$ASSETS/images/dog.jpg" --labels "$ASSETS/labels/coco.names"
expect_fail "images and a tensor for one input" "given both images and a tensor file" \
  "$EDGERT" run --engine enl4.engine --backend cpu --input input=dog.npy --input input="$ASSETS/images/dog.jpg"
echo "not an image" > broken.jpg
expect_fail "undecodable image" "broken.jpg: cannot decode as an image" \
  "$EDGERT" run --engine enl4.engine --backend cpu --input broken.jpg
expect_fail "unknown input name" "'image' is not an input of this engine \(inputs: input\)" \
  "$EDGERT" run --engine enl4.engine --backend cpu --input image="$ASSETS/images/dog.jpg"
expect_fail "missing labels file" "nolabels.txt: cannot open the labels file" \
  "$EDGERT" run --engine enl4.engine --backend cpu --input "$ASSETS/images/dog.jpg" --labels nolabels.txt

# Calibration from tensors: files of several samples ([N, C, H, W]) count each sample.
/usr/bin/python3 -c "
import numpy as np, os
os.makedirs('npy', exist_ok=True); os.makedirs('multi/a', exist_ok=True); os.makedirs('multi/b', exist_ok=True)
g = np.random.default_rng(0)
np.save('npy/0.npy', g.standard_normal((3, 3, 224, 224)).astype(np.float32))
np.save('npy/1.npy', g.standard_normal((1, 3, 224, 224)).astype(np.float32))
np.save('npy/2.npy', g.standard_normal((3, 224, 224)).astype(np.float32))
np.save('multi/a/0.npy', g.standard_normal((2, 3, 224, 224)).astype(np.float32))
np.save('multi/b/0.npy', g.standard_normal((3, 3, 224, 224)).astype(np.float32))"
"$EDGERT" build --onnx "$ENL" --shapes input:1x3x224x224 --target cpu --precision int8 --calib-dir npy \
  -o npy.engine > npy.txt 2>&1 && grep -q "calibrated on 5 batch(es)" npy.txt &&
  ok "batched .npy files: every sample calibrates" || { bad "batched npy"; cat npy.txt; }
expect_fail "per-input sub-folders of different sizes" "multi: sub-folders hold different numbers of samples \(a: 2, b: 3\)" \
  "$EDGERT" build --onnx "$ENL" --shapes input:1x3x224x224 --target cpu --precision int8 --calib-dir multi -o x.engine
rm -rf multi/b && mkdir -p multi/x && cp multi/a/0.npy multi/x/
expect_fail "no sub-folder for the input" "no sub-folder for input 'input' .*a, x" \
  "$EDGERT" build --onnx "$ENL" --shapes input:1x3x224x224 --target cpu --precision int8 --calib-dir multi -o x.engine
[ ! -e x.engine ] && ok "no engine left behind" || bad "x.engine written"
echo "run_images: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
