#include "edgert/internal/graph.h"

#include <algorithm>
#include <limits>
#include <set>
#include <string>

#include "edgert/internal/op.h"
#include "edgert/internal/str.h"

namespace edgert {

int Graph::addConstant(const std::string& tensor_name, HostTensor value) {
  TensorEntry t;
  t.name = tensor_name;
  t.dtype = value.dtype();
  t.dims = value.dims();
  t.constant = std::make_shared<const HostTensor>(std::move(value));
  tensors.push_back(std::move(t));
  return static_cast<int>(tensors.size()) - 1;
}

int Graph::findTensor(const std::string& tensor_name) const {
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].name == tensor_name) return static_cast<int>(i);
  }
  return -1;
}

NodeContext nodeContext(const Graph& g, const Node& n, bool with_outputs) {
  NodeContext c;
  c.op = n.op;
  c.name = n.name;
  c.attrs = &n.attrs;
  c.num_outputs = n.outputs.size();
  // INT8 layers run on the GPU where FP16 layers do: over NHWC copies (int8 ones), their
  // float outputs in fp16.
  c.fp16 = n.precision == "fp16" || n.precision == "int8";
  c.tactic = n.tactic;
  for (int t : n.inputs) {
    ValueInfo v;
    if (t >= 0 && t < static_cast<int>(g.tensors.size())) {
      v.present = true;
      v.dtype = g.tensors[t].dtype;
      v.dims = g.tensors[t].dims;
      v.constant = g.tensors[t].constant.get();
    }
    c.in.push_back(std::move(v));
  }
  if (with_outputs) {
    for (int t : n.outputs)
      c.out.push_back(ValueInfo{true, g.tensors[t].dtype, g.tensors[t].dims, nullptr});
  }
  return c;
}

std::vector<uint64_t> placeBuffers(const std::vector<LiveBuffer>& buffers, uint64_t* total) {
  std::vector<size_t> order(buffers.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return buffers[a].bytes > buffers[b].bytes; });
  std::vector<uint64_t> offsets(buffers.size(), 0);
  std::vector<size_t> placed;
  *total = 0;
  for (size_t i : order) {
    const LiveBuffer& b = buffers[i];
    std::vector<std::pair<uint64_t, uint64_t>> busy;  // [begin, end) of overlapping lifetimes
    for (size_t o : placed)
      if (buffers[o].first <= b.last && b.first <= buffers[o].last)
        busy.push_back({offsets[o], offsets[o] + buffers[o].bytes});
    std::sort(busy.begin(), busy.end());
    uint64_t off = 0;
    for (const auto& [begin, end] : busy) {
      if (off + b.bytes <= begin) break;
      off = std::max(off, end);
    }
    offsets[i] = off;
    *total = std::max(*total, off + b.bytes);
    placed.push_back(i);
  }
  return offsets;
}

std::vector<uint64_t> placeBuffers(const std::vector<LiveBuffer>& buffers,
                                   const BufferAliases& aliases, uint64_t* total) {
  std::vector<LiveBuffer> roots = buffers;
  for (size_t b = 0; b < roots.size(); ++b)
    if (aliases.parent[b] >= 0) roots[b].bytes = 0;
  std::vector<uint64_t> off = placeBuffers(roots, total);
  for (size_t b = 0; b < off.size(); ++b) {
    const int64_t i = static_cast<int64_t>(b);
    if (aliases.parent[b] >= 0) off[b] = off[aliases.root(i)] + aliases.offsetInRoot(i);
  }
  return off;
}

MemoryPlan planMemory(const Graph& g, uint64_t alignment) {
  const int n_nodes = static_cast<int>(g.nodes.size());
  const size_t n = g.tensors.size();
  std::vector<int> first(n, std::numeric_limits<int>::max()),
      last(n, std::numeric_limits<int>::min());
  // Bindings live to the end; inputs from the start, so they keep their values through the
  // run: a caller may execute again on the same input and must get the same outputs.
  for (const Binding& b : g.bindings) {
    last[b.tensor] = n_nodes;
    if (b.is_input) first[b.tensor] = -1;
  }
  for (int i = 0; i < n_nodes; ++i) {
    for (int t : g.nodes[i].outputs) {
      first[t] = std::min(first[t], i);
      last[t] = std::max(last[t], i);
    }
    for (int t : g.nodes[i].inputs) {
      if (t >= 0) last[t] = std::max(last[t], i);
    }
  }
  // Views: Reshape and its kin only relabel the dims, so their output takes the input's
  // bytes where the input dies there. Concat along an axis with nothing outer to it: each
  // input whose only reader is the Concat is computed in place in its slice of the output.
  // (The copy kernels skip a copy onto itself.) A root's [first, last] covers all the
  // tensors that share its buffer.
  BufferAliases alias(n);
  auto root = [&](int t) { return static_cast<int>(alias.root(t)); };
  auto bytesOf = [&](int t) {
    return static_cast<uint64_t>(volume(g.tensors[t].dims)) * dataTypeSize(g.tensors[t].dtype);
  };
  for (int i = 0; i < n_nodes; ++i) {
    const Node& node = g.nodes[i];
    static const std::set<std::string> kViews = {"Reshape", "Flatten", "Squeeze", "Unsqueeze",
                                                 "Identity"};
    if (!kViews.count(node.op) || node.inputs.empty() || node.outputs.size() != 1) continue;
    const int in = node.inputs[0], out = node.outputs[0];
    if (in < 0 || g.tensors[in].isConstant() || last[in] != i || first[out] != i ||
        bytesOf(in) != bytesOf(out))
      continue;
    const int r = root(in);
    last[r] = std::max(last[r], last[out]);
    alias.parent[out] = r;
  }
  std::vector<bool> binding(n, false);
  for (const Binding& b : g.bindings) binding[b.tensor] = true;
  for (int i = 0; i < n_nodes; ++i) {
    const Node& node = g.nodes[i];
    if (node.op != "Concat" || node.outputs.size() != 1) continue;
    const int out = node.outputs[0];
    const Dims& od = g.tensors[out].dims;
    int64_t axis = node.attrs.getInt("axis", 0).value();
    if (axis < 0) axis += static_cast<int64_t>(od.size());
    if (axis < 0 || axis >= static_cast<int64_t>(od.size()) ||
        volume(Dims(od.begin(), od.begin() + axis)) != 1 || alias.parent[out] >= 0)
      continue;
    uint64_t prefix = 0;
    for (int t : node.inputs) {
      const uint64_t bytes = t >= 0 ? bytesOf(t) : 0;
      const int x = t >= 0 ? root(t) : -1;
      const bool once = std::count(node.inputs.begin(), node.inputs.end(), t) == 1;
      if (x >= 0 && bytes && once && !g.tensors[t].isConstant() && !binding[x] && x != out &&
          last[x] == i && first[x] < i && bytesOf(x) == bytes && prefix % alignment == 0) {
        alias.parent[x] = out;
        alias.offset[x] = prefix;
        first[out] = std::min(first[out], first[x]);
      }
      prefix += bytes;
    }
  }
  // Constants and tensors nothing touches take no bytes (and land at offset 0).
  std::vector<LiveBuffer> buffers(n);
  for (size_t t = 0; t < n; ++t) {
    const int i = static_cast<int>(t);
    buffers[t] = {0, first[t], last[t]};
    if (!g.tensors[t].isConstant() && first[t] <= last[t])
      buffers[t].bytes =
          (std::max<uint64_t>(bytesOf(i), 1) + alignment - 1) / alignment * alignment;
  }
  MemoryPlan plan;
  plan.offsets = placeBuffers(buffers, alias, &plan.arena_bytes);
  return plan;
}

namespace {
// Far beyond any vision model, small enough that sizes never overflow 64 bits.
constexpr int64_t kMaxElements = int64_t{1} << 40;

Status checkTensorEntry(const TensorEntry& t) {
  if (!isValidDataType(static_cast<int32_t>(t.dtype)))
    return Status(StatusCode::kCorruptFile, strCat("tensor '", t.name, "' has an invalid dtype"));
  if (t.dims.size() > static_cast<size_t>(kMaxRank))
    return Status(StatusCode::kCorruptFile,
                  strCat("tensor '", t.name, "' has rank ", t.dims.size()));
  int64_t n = 1;
  for (int64_t d : t.dims) {
    if (d < 0 || (d > 0 && n > kMaxElements / d))
      return Status(StatusCode::kCorruptFile,
                    strCat("tensor '", t.name, "' has invalid dims ", dimsToString(t.dims)));
    n *= d;
  }
  if (t.constant && (t.constant->dtype() != t.dtype || t.constant->dims() != t.dims))
    return Status(StatusCode::kCorruptFile,
                  strCat("constant '", t.name, "' does not match its declared type"));
  return Status::Ok();
}
}  // namespace

Status validateGraph(const Graph& g) {
  const int n = static_cast<int>(g.tensors.size());
  for (const TensorEntry& t : g.tensors) EDGERT_RETURN_IF_ERROR(checkTensorEntry(t));
  std::vector<bool> defined(n, false);
  for (int i = 0; i < n; ++i) defined[i] = g.tensors[i].isConstant();
  bool has_input = false, has_output = false;
  for (const Binding& b : g.bindings) {
    if (b.tensor < 0 || b.tensor >= n)
      return Status(StatusCode::kCorruptFile, "binding refers to a missing tensor");
    if (b.is_input) {
      if (defined[b.tensor])
        return Status(StatusCode::kCorruptFile,
                      strCat("input '", g.tensors[b.tensor].name, "' is defined twice"));
      defined[b.tensor] = true;
      has_input = true;
    } else {
      has_output = true;
    }
  }
  if (!has_output) return Status(StatusCode::kCorruptFile, "the network has no outputs");
  (void)has_input;
  for (const Node& node : g.nodes) {
    const OpDef* def = findOp(node.op);
    if (!def)
      return Status(StatusCode::kUnsupported,
                    strCat("layer '", node.name, "' uses unknown op '", node.op, "'"));
    const int n_out = static_cast<int>(node.outputs.size());
    if (n_out < def->min_outputs || (def->max_outputs >= 0 && n_out > def->max_outputs))
      return Status(StatusCode::kCorruptFile,
                    strCat("layer '", node.name, "' has ", n_out, " outputs, op ", node.op,
                           " allows ", def->min_outputs, " to ", def->max_outputs));
    NodeContext ctx;
    ctx.num_outputs = node.outputs.size();
    ctx.op = node.op;
    ctx.name = node.name;
    ctx.attrs = &node.attrs;
    for (int t : node.inputs) {
      ValueInfo v;
      if (t >= 0) {
        if (t >= n || !defined[t])
          return Status(
              StatusCode::kCorruptFile,
              strCat("layer '", node.name, "' reads a tensor that is not defined before it"));
        v.present = true;
        v.dtype = g.tensors[t].dtype;
        v.dims = g.tensors[t].dims;
        v.constant = g.tensors[t].constant.get();
      } else if (t != -1) {
        return Status(StatusCode::kCorruptFile,
                      strCat("layer '", node.name, "' has a bad input id"));
      }
      ctx.in.push_back(std::move(v));
    }
    EDGERT_RETURN_IF_ERROR(inferNode(*def, ctx));
    if (ctx.out.size() < node.outputs.size())
      return Status(StatusCode::kCorruptFile,
                    strCat("layer '", node.name, "' declares more outputs than its op produces"));
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      const int t = node.outputs[o];
      if (t < 0 || t >= n || defined[t])
        return Status(
            StatusCode::kCorruptFile,
            strCat("layer '", node.name, "' writes an invalid or already defined tensor"));
      const TensorEntry& te = g.tensors[t];
      if (te.dtype != ctx.out[o].dtype || te.dims != ctx.out[o].dims)
        return Status(
            StatusCode::kCorruptFile,
            strCat("layer '", node.name, "' output '", te.name, "' is stored as ",
                   dataTypeName(te.dtype), " ", dimsToString(te.dims), " but the op infers ",
                   dataTypeName(ctx.out[o].dtype), " ", dimsToString(ctx.out[o].dims)));
      defined[t] = true;
    }
  }
  for (const Binding& b : g.bindings) {
    if (!b.is_input && !defined[b.tensor])
      return Status(StatusCode::kCorruptFile,
                    strCat("output '", g.tensors[b.tensor].name, "' is never computed"));
  }
  return Status::Ok();
}

}  // namespace edgert
