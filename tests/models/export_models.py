#!/usr/bin/env python3
"""Exports the real-model test set to ONNX with PyTorch (Debian python3-torch), fixed seeds.

For each model writes <out>/<name>.onnx, <name>.input.npy and <name>.output.npy (the
framework's own output), plus manifest.txt with "name input_name shapes_spec".
Usage: export_models.py OUT_DIR [name ...]
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class ConvBnSilu(nn.Module):
    def __init__(self, c1, c2, k=1, s=1):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2)

    def forward(self, x):
        return F.silu(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c, shortcut=True):
        super().__init__()
        self.cv1 = ConvBnSilu(c, c, 3)
        self.cv2 = ConvBnSilu(c, c, 3)
        self.add = shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    def __init__(self, c1, c2, n=1):
        super().__init__()
        self.c = c2 // 2
        self.cv1 = ConvBnSilu(c1, 2 * self.c)
        self.cv2 = ConvBnSilu((2 + n) * self.c, c2)
        self.m = nn.ModuleList(Bottleneck(self.c) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).split((self.c, self.c), 1))
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, c1, c2):
        super().__init__()
        self.cv1 = ConvBnSilu(c1, c1 // 2)
        self.cv2 = ConvBnSilu(c1 * 2, c2)
        self.m = nn.MaxPool2d(5, 1, 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat([x, y1, y2, self.m(y2)], 1))


class TinyYoloV8(nn.Module):
    """YOLOv8-style detector: C2f backbone, SPPF, FPN with upsampling, decoupled head with DFL."""

    def __init__(self, nc=80, reg_max=16):
        super().__init__()
        self.nc, self.reg_max = nc, reg_max
        self.stem = ConvBnSilu(3, 16, 3, 2)
        self.d1 = nn.Sequential(ConvBnSilu(16, 32, 3, 2), C2f(32, 32))
        self.d2 = nn.Sequential(ConvBnSilu(32, 64, 3, 2), C2f(64, 64))
        self.d3 = nn.Sequential(ConvBnSilu(64, 128, 3, 2), C2f(128, 128), SPPF(128, 128))
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.f1 = C2f(128 + 64, 64)
        self.heads_box = nn.ModuleList(nn.Sequential(ConvBnSilu(c, 32, 3), nn.Conv2d(32, 4 * reg_max, 1)) for c in (64, 128))
        self.heads_cls = nn.ModuleList(nn.Sequential(ConvBnSilu(c, 32, 3), nn.Conv2d(32, nc, 1)) for c in (64, 128))
        self.register_buffer("proj", torch.arange(reg_max, dtype=torch.float32))

    def forward(self, x):
        x = self.d1(self.stem(x))
        p4 = self.d2(x)
        p5 = self.d3(p4)
        p4 = self.f1(torch.cat([self.up(p5), p4], 1))
        outs = []
        for i, f in enumerate((p4, p5)):
            b = self.heads_box[i](f)
            n, _, h, w = b.shape
            b = b.view(n, 4, self.reg_max, h * w).softmax(2)
            b = (b * self.proj.view(1, 1, -1, 1)).sum(2)  # DFL
            c = self.heads_cls[i](f).view(n, self.nc, h * w).sigmoid()
            outs.append(torch.cat([b, c], 1))
        return torch.cat(outs, 2).transpose(1, 2)


def models():
    tv = torchvision.models
    return {
        "resnet18": (lambda: tv.resnet18(), (1, 3, 224, 224), False),
        "mobilenet_v3_small": (lambda: tv.mobilenet_v3_small(), (1, 3, 224, 224), False),
        "efficientnet_b0": (lambda: tv.efficientnet_b0(), (1, 3, 224, 224), False),
        "squeezenet1_1": (lambda: tv.squeezenet1_1(), (1, 3, 224, 224), False),
        "shufflenet_v2_x0_5": (lambda: tv.shufflenet_v2_x0_5(), (1, 3, 224, 224), False),
        "deeplabv3_mobilenet_v3_large": (
            lambda: SegWrapper(tv.segmentation.deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None)),
            (1, 3, 160, 160), False),
        "yolov8_tiny": (lambda: TinyYoloV8(), (1, 3, 160, 160), False),
        "vit_tiny": (lambda: tv.VisionTransformer(image_size=64, patch_size=16, num_layers=2, num_heads=4,
                                                   hidden_dim=64, mlp_dim=128, num_classes=10), (1, 3, 64, 64), False),
        "resnet18_dynamic_batch": (lambda: tv.resnet18(num_classes=10), (3, 3, 96, 96), True),
    }


class SegWrapper(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x)["out"]


def export(name, out_dir):
    make, shape, dynamic = models()[name]
    torch.manual_seed(0)
    m = make().eval()
    # Random BN statistics so folding and normalisation are really exercised, and no
    # zero-initialised layer (ViT's head) hides the rest of the network.
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() > 1 and torch.count_nonzero(p) == 0:
                nn.init.normal_(p, std=0.05)
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 1.5)
    x = torch.from_numpy(np.random.default_rng(1).standard_normal(shape).astype(np.float32))
    with torch.no_grad():
        y = m(x)
    path = os.path.join(out_dir, name + ".onnx")
    kwargs = {}
    import inspect
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # the TorchScript exporter, as with PyTorch 1.13
    if dynamic:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    torch.onnx.export(m, x, path, input_names=["input"], output_names=["output"], opset_version=17,
                      do_constant_folding=False, **kwargs)
    np.save(os.path.join(out_dir, name + ".input.npy"), x.numpy())
    np.save(os.path.join(out_dir, name + ".output.npy"), y.numpy())
    return "%s input input:%s" % (name, "x".join(map(str, shape)))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    names = sys.argv[2:] or list(models())
    stamp = os.path.join(out, "manifest.txt")
    if not sys.argv[2:] and os.path.exists(stamp) and os.path.getmtime(stamp) > os.path.getmtime(__file__):
        print("models in %s are up to date" % out)
        return
    lines = [export(n, out) for n in names]
    with open(os.path.join(out, "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
