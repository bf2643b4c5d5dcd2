#include "layer_cost.h"

namespace edgert {
namespace {

double numel(const Dims& d) {
  return static_cast<double>(volume(d));
}

// Bytes per element as the layer holds the tensor: float tensors of an FP16 layer are half.
double elementBytes(const TensorEntry& t, const Node& n) {
  if (t.dtype == DataType::kFloat32 && n.precision == "fp16") return 2;
  return static_cast<double>(dataTypeSize(t.dtype));
}

const TensorEntry* input(const Graph& g, const Node& n, size_t i) {
  return i < n.inputs.size() && n.inputs[i] >= 0 ? &g.tensors[n.inputs[i]] : nullptr;
}

}  // namespace

LayerCost layerCost(const Graph& g, const Node& n) {
  LayerCost c;
  for (int t : n.inputs)
    if (t >= 0) c.bytes += numel(g.tensors[t].dims) * elementBytes(g.tensors[t], n);
  for (int t : n.outputs)
    if (t >= 0) c.bytes += numel(g.tensors[t].dims) * elementBytes(g.tensors[t], n);
  const TensorEntry* x = input(g, n, 0);
  const TensorEntry* w = input(g, n, 1);
  const TensorEntry* y = n.outputs.empty() || n.outputs[0] < 0 ? nullptr : &g.tensors[n.outputs[0]];
  if (!x || !y) return c;
  if ((n.op == "Conv" || n.op == "EdgertQConv") && w && w->dims.size() >= 2) {
    // Each output sums C/G x kernel products: weight dims [M, C/G, k...].
    c.flops = 2 * numel(y->dims) * numel(Dims(w->dims.begin() + 1, w->dims.end()));
  } else if (n.op == "ConvTranspose" && w && w->dims.size() >= 2) {
    // Each input scatters into M/G x kernel outputs: weight dims [C, M/G, k...].
    c.flops = 2 * numel(x->dims) * numel(Dims(w->dims.begin() + 1, w->dims.end()));
  } else if ((n.op == "MatMul" || n.op == "Gemm") && !x->dims.empty()) {
    const auto ta = n.attrs.getInt("transA", 0);
    const bool trans_a = n.op == "Gemm" && ta.ok() && ta.value() != 0;
    const int64_t k = trans_a ? x->dims.front() : x->dims.back();
    c.flops = 2 * numel(y->dims) * static_cast<double>(k);
  }
  return c;
}

}  // namespace edgert
