#include "qdq_import.h"

#include "passes.h"

namespace edgert {

namespace {

// A one-element float constant input `slot` of `n`.
bool scalarScale(const Graph& g, const Node& n, float* s) {
  if (n.inputs.size() < 2 || n.inputs[1] < 0) return false;
  const TensorEntry& t = g.tensors[n.inputs[1]];
  if (!t.isConstant() || t.constant->dtype() != DataType::kFloat32 || t.constant->numel() != 1)
    return false;
  *s = t.constant->as<float>()[0];
  return true;
}

// The zero point of a QuantizeLinear / DequantizeLinear: its type and value (absent: uint8 0,
// QuantizeLinear's default). False when it is not one constant.
bool zeroPoint(const Graph& g, const Node& n, DataType* dt, int* z) {
  if (n.inputs.size() < 3 || n.inputs[2] < 0) {
    *dt = DataType::kUInt8;
    *z = 0;
    return true;
  }
  const TensorEntry& t = g.tensors[n.inputs[2]];
  if (!t.isConstant() || t.constant->numel() != 1) return false;
  *dt = t.constant->dtype();
  *z = static_cast<int>(t.constant->intAt(0));
  return true;
}

bool isZeroPad(const Graph& g, const Node& n) {
  if (n.op != "Pad") return false;
  const Result<std::string> mode = n.attrs.getString("mode", "constant");  // not checked yet
  if (!mode.ok() || mode.value() != "constant") return false;
  if (n.inputs.size() < 3 || n.inputs[2] < 0) return true;
  const TensorEntry& v = g.tensors[n.inputs[2]];
  return v.isConstant() && v.constant->numel() == 1 && v.constant->doubleAt(0) == 0.0;
}

// Readers that take the pair's input instead: the INT8 candidates' inputs (and a zero Pad
// before one), and Adds (the residual an INT8 layer fuses).
bool takesQuantized(const Node& r, int t) {
  if (r.op == "Conv" || r.op == "Gemm" || r.op == "MatMul" || r.op == "Pad")
    return !r.inputs.empty() && r.inputs[0] == t;
  return r.op == "Add";
}

}  // namespace

ExplicitQuantization takeExplicitQuantization(Graph& g) {
  ExplicitQuantization eq;
  eq.weights = recordWeightQuantization(g);
  const TensorUses u = tensorUses(g);
  std::vector<bool> dead(g.nodes.size(), false);
  auto record = [&](int t, double threshold, int zero) {
    const std::string& name = g.tensors[t].name;
    eq.thresholds.thresholds.emplace(name, threshold);
    eq.zero_points.emplace(name, zero);
  };
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& dq = g.nodes[i];
    if (dq.op != "DequantizeLinear" || dq.inputs.size() < 2 || dq.outputs.empty()) continue;
    const int q = dq.inputs[0];
    const int qi = q >= 0 ? u.producer[q] : -1;
    if (qi < 0 || g.nodes[qi].op != "QuantizeLinear" || g.nodes[qi].inputs.empty()) continue;
    const Node& qn = g.nodes[qi];
    float s = 0, s2 = 0;
    DataType dt, dt2;
    int z = 0, z2 = 0;
    if (!scalarScale(g, qn, &s) || !scalarScale(g, dq, &s2) || s != s2 || !(s > 0) ||
        !zeroPoint(g, qn, &dt, &z) || !zeroPoint(g, dq, &dt2, &z2) || z != z2 || dt != dt2)
      continue;
    int zero;
    double threshold;
    if ((dt == DataType::kInt8 && z == 0) || (dt == DataType::kUInt8 && z == 128)) {
      zero = 0;
      threshold = double(s) * 127.0;
    } else if ((dt == DataType::kInt8 && z == -128) || (dt == DataType::kUInt8 && z == 0)) {
      zero = -128;
      threshold = double(s) * 255.0;
    } else {
      continue;
    }
    const int x = qn.inputs[0], d = dq.outputs[0];
    if (x < 0 || d < 0) continue;
    bool all = !u.is_output[d], any = false;
    for (int r : u.readers[d]) {
      Node& rn = g.nodes[r];
      if (!takesQuantized(rn, d)) {
        all = false;
        continue;
      }
      for (int& t : rn.inputs)
        if (t == d) t = x;
      any = true;
    }
    if (!any) continue;
    record(x, threshold, zero);
    // Through a zero Pad (EfficientNet's "same" padding): a target that folds the Pad into the
    // convolution before quantising reads the Pad's input.
    const int p = u.producer[x];
    if (p >= 0 && isZeroPad(g, g.nodes[p]) && g.nodes[p].inputs[0] >= 0)
      record(g.nodes[p].inputs[0], threshold, zero);
    ++eq.pairs_taken;
    if (all) {
      dead[i] = true;
      if (u.readers[q].size() == 1 && !u.is_output[q]) dead[qi] = true;
    }
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!dead[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
  return eq;
}

}  // namespace edgert
