#!/usr/bin/env python3
"""An ONNX model as a PyTorch module, for the PyTorch peers of a model that exists only as ONNX
(EfficientNet-Lite0 of ../shared/assets): its initializers become the module's parameters and
its nodes run as torch ops, so eager PyTorch and torch.compile run exactly the network edgert
imports. Shape arithmetic (Shape, Gather, Slice, Concat ... feeding Pad or Reshape) is evaluated
once with numpy for the given input shape, as edgert's constant folding does, so the forward
pass holds only tensor ops (no graph breaks under torch.compile).

    module = OnnxModule(onnx.load(path), {"input": (1, 3, 224, 224)})
    logits = module(x)      # one output: a tensor; several: a tuple in graph order

Ops: Conv, Gemm, MatMul, Add, Sub, Mul, Div, Clip, Relu, Sigmoid, HardSigmoid, HardSwish, Pad,
GlobalAveragePool, AveragePool, MaxPool, BatchNormalization, Flatten, Reshape, Transpose,
Softmax, Concat, Identity, and the shape ops above. Any other is an error naming all of them."""
import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

TENSOR_OPS = {"Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Clip", "Relu", "Sigmoid",
              "HardSigmoid", "HardSwish", "Pad", "GlobalAveragePool", "AveragePool", "MaxPool",
              "BatchNormalization", "Flatten", "Reshape", "Transpose", "Softmax", "Concat",
              "Identity"}
SHAPE_OPS = {"Shape", "Gather", "Slice", "Concat", "Cast", "Transpose", "Reshape",
             "ConstantOfShape", "Unsqueeze", "Squeeze", "Constant", "Add", "Sub", "Mul", "Div",
             "Identity"}
NP_TYPES = {1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64}


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def eval_static(node, ins):
    """A shape-arithmetic node on numpy values."""
    a, op = attrs(node), node.op_type
    if op == "Constant":
        return numpy_helper.to_array(a["value"]) if "value" in a else np.array(
            a.get("value_float", a.get("value_int", a.get("value_ints", a.get("value_floats")))))
    if op == "Shape":
        return np.array(ins[0].shape, np.int64)
    if op == "Gather":
        return np.take(ins[0], ins[1].astype(np.int64), axis=a.get("axis", 0))
    if op == "Slice":
        x = ins[0]
        starts, ends = ins[1].astype(np.int64), ins[2].astype(np.int64)
        axes = ins[3].astype(np.int64) if len(ins) > 3 and ins[3] is not None else np.arange(len(starts))
        steps = ins[4].astype(np.int64) if len(ins) > 4 and ins[4] is not None else np.ones_like(starts)
        sl = [slice(None)] * x.ndim
        for s, e, ax, st in zip(starts, ends, axes, steps):
            sl[int(ax)] = slice(int(s), int(max(min(e, 2**62), -2**62)), int(st))
        return x[tuple(sl)]
    if op == "Concat":
        return np.concatenate([np.atleast_1d(i) for i in ins], axis=a.get("axis", 0))
    if op == "Cast":
        return ins[0].astype(NP_TYPES[a["to"]])
    if op == "Transpose":
        return np.transpose(ins[0], a.get("perm"))
    if op == "Reshape":
        shape = [int(s) for s in ins[1]]
        shape = [ins[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
        return ins[0].reshape(shape)
    if op == "ConstantOfShape":
        v = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
        return np.full([int(s) for s in ins[0]], v.reshape(-1)[0], v.dtype)
    if op == "Unsqueeze":
        axes = [int(v) for v in (ins[1] if len(ins) > 1 else a["axes"])]
        out = ins[0]
        for ax in sorted(ax % (out.ndim + len(axes)) for ax in axes):
            out = np.expand_dims(out, ax)
        return out
    if op == "Squeeze":
        axes = ins[1] if len(ins) > 1 else a.get("axes")
        return np.squeeze(ins[0], axis=None if axes is None else tuple(int(v) for v in axes))
    if op == "Identity":
        return ins[0]
    return {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](ins[0], ins[1])


class OnnxModule(torch.nn.Module):
    """forward(*inputs). For torch.compile, prefer traced(): the same graph as straight-line
    code (torch.fx), which Dynamo compiles without guarding the interpreter's loop."""

    def __init__(self, model, input_shapes):
        super().__init__()
        g = model.graph
        unsupported = sorted({n.op_type for n in g.node} - TENSOR_OPS - SHAPE_OPS)
        if unsupported:
            raise ValueError("onnx_torch: unsupported ops: " + ", ".join(unsupported))
        self.inputs = [i.name for i in g.input if i.name in input_shapes]
        self.outputs = [o.name for o in g.output]
        inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        # Static values: initializers, constants and shape arithmetic on the given input shapes.
        static = dict(inits)
        shapes = {k: tuple(v) for k, v in input_shapes.items()}
        shape_of = dict(shapes)  # tensor name -> shape, for Shape of a runtime tensor
        self.params = torch.nn.ParameterDict()
        self._pname = {}
        self.steps = []
        x = {k: torch.zeros(v) for k, v in shapes.items()}  # one float pass to learn shapes
        for node in g.node:
            ins = list(node.input)
            if node.op_type == "Shape":
                is_static = ins[0] in shape_of or ins[0] in static
            else:
                is_static = node.op_type in SHAPE_OPS and all(i == "" or i in static for i in ins)
            if is_static:
                vals = [None if i == "" else (static[i] if i in static else np.zeros(shape_of[i], np.float32))
                        for i in ins]
                static[node.output[0]] = eval_static(node, vals)
                continue
            if node.op_type not in TENSOR_OPS:
                raise ValueError("onnx_torch: %s (%s) computes on runtime values" % (node.name, node.op_type))
            for i in ins:
                # Weights, and float constants of elementwise ops: parameters, so that .cuda() and
                # .half() move them with the module.
                value = inits.get(i, static.get(i) if node.op_type in ("Add", "Sub", "Mul", "Div") else None)
                if value is not None and i not in self._pname and np.asarray(value).dtype == np.float32:
                    p = "p%d" % len(self._pname)
                    self._pname[i] = p
                    self.params[p] = torch.nn.Parameter(torch.from_numpy(np.array(value)), requires_grad=False)
            consts = {i: static[i] for i in ins if i in static and i not in self._pname}
            self.steps.append((node, self._prepare(node, attrs(node), ins, consts)))
            args = [None if i == "" else (x[i] if i in x else self._param(i)) for i in ins]
            with torch.no_grad():
                x[node.output[0]] = self._run(node, self.steps[-1][1], args)
            shape_of[node.output[0]] = tuple(x[node.output[0]].shape)

    def _param(self, name):
        """A parameter, or None for a static input (_prepare holds it in the attributes)."""
        return self.params[self._pname[name]] if name in self._pname else None

    @staticmethod
    def _prepare(node, a, ins, consts):
        """Static inputs as Python values in the attributes, so that forward() runs no numpy
        (torch.compile would trace numpy calls on them)."""
        a = dict(a)
        c = [None if i == "" or i not in consts else np.asarray(consts[i]) for i in ins]
        op = node.op_type
        if op == "Clip":
            if len(c) > 1 and c[1] is not None:
                a["min"] = float(c[1].reshape(-1)[0])
            if len(c) > 2 and c[2] is not None:
                a["max"] = float(c[2].reshape(-1)[0])
        elif op == "Pad":
            if len(c) > 1 and c[1] is not None:
                a["pads"] = [int(p) for p in c[1].reshape(-1)]
            if len(c) > 2 and c[2] is not None:
                a["value"] = float(c[2].reshape(-1)[0])
        elif op == "Reshape":
            a["shape"] = [int(s) for s in c[1].reshape(-1)]
        elif any(v is not None for v in c):
            raise ValueError("onnx_torch: %s (%s) takes a constant input it cannot hold" % (node.name, op))
        return a

    @staticmethod
    def _run(node, a, v):
        op = node.op_type
        if op == "Conv":
            pads = a.get("pads", [0, 0, 0, 0])
            x = v[0]
            if pads[0] != pads[2] or pads[1] != pads[3]:
                x = F.pad(x, (pads[1], pads[3], pads[0], pads[2]))
                pads = [0, 0, 0, 0]
            return F.conv2d(x, v[1], v[2] if len(v) > 2 else None, stride=a.get("strides", [1, 1]),
                            padding=(pads[0], pads[1]), dilation=a.get("dilations", [1, 1]),
                            groups=a.get("group", 1))
        if op == "Gemm":
            A = v[0].t() if a.get("transA", 0) else v[0]
            B = v[1].t() if a.get("transB", 0) else v[1]
            y = a.get("alpha", 1.0) * (A @ B)
            return y + a.get("beta", 1.0) * v[2] if len(v) > 2 and v[2] is not None else y
        if op == "MatMul":
            return v[0] @ v[1]
        if op in ("Add", "Sub", "Mul", "Div"):
            return {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div}[op](v[0], v[1])
        if op == "Clip":
            return torch.clamp(v[0], a.get("min", None), a.get("max", None))
        if op == "Relu":
            return F.relu(v[0])
        if op == "Sigmoid":
            return torch.sigmoid(v[0])
        if op == "HardSigmoid":
            return torch.clamp(a.get("alpha", 0.2) * v[0] + a.get("beta", 0.5), 0, 1)
        if op == "HardSwish":
            return F.hardswish(v[0])
        if op == "Pad":
            pads = a["pads"]
            n = len(pads) // 2
            tp = []
            for d in reversed(range(n)):
                tp += [pads[d], pads[d + n]]
            while len(tp) > 2 and tp[-1] == 0 and tp[-2] == 0:
                tp = tp[:-2]
            mode = a.get("mode", b"constant")
            mode = mode.decode() if isinstance(mode, bytes) else mode
            value = a.get("value", 0.0)
            return F.pad(v[0], tp, mode=mode, value=value) if mode == "constant" else F.pad(v[0], tp, mode=mode)
        if op == "GlobalAveragePool":
            return v[0].mean(dim=(2, 3), keepdim=True)
        if op == "AveragePool":
            p = a.get("pads", [0, 0, 0, 0])
            return F.avg_pool2d(v[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]), (p[0], p[1]),
                                count_include_pad=bool(a.get("count_include_pad", 0)))
        if op == "MaxPool":
            p = a.get("pads", [0, 0, 0, 0])
            return F.max_pool2d(v[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]), (p[0], p[1]),
                                ceil_mode=bool(a.get("ceil_mode", 0)))
        if op == "BatchNormalization":
            return F.batch_norm(v[0], v[3], v[4], v[1], v[2], False, 0.0, a.get("epsilon", 1e-5))
        if op == "Flatten":
            return torch.flatten(v[0], a.get("axis", 1))
        if op == "Reshape":
            shape = [v[0].shape[i] if s == 0 else s for i, s in enumerate(a["shape"])]
            return v[0].reshape(shape)
        if op == "Transpose":
            return v[0].permute(*a["perm"])
        if op == "Softmax":
            return torch.softmax(v[0], dim=a.get("axis", -1))
        if op == "Concat":
            return torch.cat(v, dim=a["axis"])
        if op == "Identity":
            return v[0]
        raise ValueError("onnx_torch: unsupported op " + op)

    def forward(self, *inputs):
        x = dict(zip(self.inputs, inputs))
        for node, a in self.steps:
            args = [None if i == "" else (x[i] if i in x else self._param(i)) for i in node.input]
            x[node.output[0]] = self._run(node, a, args)
        outs = tuple(x[o] for o in self.outputs)
        return outs[0] if len(outs) == 1 else outs

    def traced(self):
        """This module as a torch.fx GraphModule of one input: straight-line code."""
        inner = self

        class One(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.m = inner

            def forward(self, x):
                return self.m(x)

        return torch.fx.symbolic_trace(One())
