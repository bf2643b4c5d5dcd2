#!/usr/bin/env python3
"""Exports the benchmark models (dynamic batch, opset 17) to OUT_DIR. Random weights with a
fixed seed: speed does not depend on weight values. EfficientNet-Lite0 is the real pretrained
ONNX model bundled in configs/models (its PyTorch peers run that graph through onnx_torch.py).
Usage: export_bench_models.py OUT_DIR"""
import inspect
import os
import shutil
import sys

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../tests/models"))
from export_models import TinyYoloV8  # noqa: E402  (the YOLOv8-style detector of the model tests)

MODELS = {
    "resnet50": lambda: torchvision.models.resnet50(),
    "yolov8_tiny": lambda: TinyYoloV8(),
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(),
    "efficientnet_b0": lambda: torchvision.models.efficientnet_b0(),
}
HERE = os.path.dirname(os.path.abspath(__file__))
# Models that exist only as ONNX: name -> file.
ONNX_MODELS = {"efficientnet_lite0": os.path.join(HERE, "../configs/models/efficientnet_lite0.onnx")}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, path in ONNX_MODELS.items():
        shutil.copyfile(path, os.path.join(out, name + ".onnx"))
    kw = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    for name, make in MODELS.items():
        torch.manual_seed(0)
        m = make().eval()
        x = torch.randn(1, 3, 224, 224)
        torch.onnx.export(m, x, os.path.join(out, name + ".onnx"), input_names=["input"], output_names=["output"],
                          opset_version=17, dynamic_axes={"input": {0: "N"}, "output": {0: "N"}}, **kw)


if __name__ == "__main__":
    main()
