#include "passes.h"

#include <map>

#include "../../kernels/kernel_params.h"

#include <algorithm>
#include <cmath>
#include <queue>
#include <set>
#include <unordered_map>

#include "edgert/internal/elementwise_ops.h"
#include "edgert/internal/op.h"
#include "edgert/internal/str.h"

namespace edgert {

void halfInputBindings(Graph& g) {
  std::vector<Node> casts;
  for (Binding& b : g.bindings) {
    if (!b.is_input || g.tensors[b.tensor].dtype != DataType::kFloat32 ||
        g.tensors[b.tensor].isConstant())
      continue;
    TensorEntry half = g.tensors[b.tensor];
    half.dtype = DataType::kFloat16;
    g.tensors[b.tensor].name += "/float32";
    g.tensors.push_back(std::move(half));
    Node cast;
    cast.op = "Cast";
    cast.name = g.tensors.back().name + "/to_float32";
    cast.inputs = {static_cast<int>(g.tensors.size()) - 1};
    cast.outputs = {b.tensor};
    cast.attrs.setInt("to", static_cast<int64_t>(DataType::kFloat32));
    casts.push_back(std::move(cast));
    b.tensor = static_cast<int>(g.tensors.size()) - 1;
  }
  g.nodes.insert(g.nodes.begin(), std::make_move_iterator(casts.begin()),
                 std::make_move_iterator(casts.end()));
}

Status resolveInputShapes(Graph& g, const BuildOptions& opt, const std::string& model) {
  std::set<std::string> known;
  std::vector<std::string> missing;
  for (Binding& b : g.bindings) {
    if (!b.is_input) continue;
    TensorEntry& t = g.tensors[b.tensor];
    known.insert(t.name);
    if (auto f = opt.freeze.find(t.name); f != opt.freeze.end()) {
      const InputValue& v = f->second;
      if (v.dtype != t.dtype)
        return Status(StatusCode::kInvalidArgument,
                      strCat(model, ": frozen value for input '", t.name, "' is ",
                             dataTypeName(v.dtype), ", the input is ", dataTypeName(t.dtype)));
      auto ht = HostTensor::create(v.dtype, v.dims);
      if (!ht.ok() || ht->bytes() != v.data.size())
        return Status(StatusCode::kInvalidArgument,
                      strCat(model, ": frozen value for input '", t.name, "' has the wrong size"));
      if (!v.data.empty()) std::memcpy(ht->mutableData(), v.data.data(), v.data.size());
      t.dims = v.dims;
      t.constant = std::make_shared<const HostTensor>(std::move(ht).value());
      continue;
    }
    auto s = opt.shapes.find(t.name);
    if (s != opt.shapes.end()) {
      const Dims& want = s->second;
      if (want.size() != t.dims.size())
        return Status(StatusCode::kInvalidArgument,
                      strCat(model, ": --shapes gives input '", t.name, "' rank ", want.size(),
                             " (", dimsToString(want), ") but the model declares rank ",
                             t.dims.size(), " (", dimsToString(t.dims), ")"));
      for (size_t i = 0; i < want.size(); ++i) {
        if (want[i] < 0)
          return Status(StatusCode::kInvalidArgument, strCat(model, ": --shapes for input '",
                                                             t.name, "' dim ", i, " is negative"));
        if (t.dims[i] >= 0 && t.dims[i] != want[i])
          return Status(StatusCode::kInvalidArgument,
                        strCat(model, ": --shapes sets input '", t.name, "' dim ", i, " to ",
                               want[i], " but the model fixes it to ", t.dims[i]));
      }
      t.dims = want;
    }
    if (volume(t.dims) > kMaxTensorElements)
      return Status(StatusCode::kUnsupported,
                    strCat(model, ": input '", t.name, "' of shape ", dimsToString(t.dims),
                           " has more than 2^40 elements"));
    for (size_t i = 0; i < t.dims.size(); ++i) {
      if (t.dims[i] >= 0) continue;
      const std::string nm = i < b.dim_names.size() && !b.dim_names[i].empty()
                                 ? strCat(" ('", b.dim_names[i], "')")
                                 : "";
      missing.push_back(strCat("input '", t.name, "' dim ", i, nm, " of ", dimsToString(t.dims)));
    }
  }
  for (const auto& [name, dims] : opt.shapes)
    if (!known.count(name))
      return Status(StatusCode::kInvalidArgument, strCat(model, ": --shapes names '", name,
                                                         "', which is not an input of the model"));
  for (const auto& [name, v] : opt.freeze)
    if (!known.count(name))
      return Status(StatusCode::kInvalidArgument,
                    strCat(model, ": a frozen value names '", name, "', which is not an input"));
  if (!missing.empty()) {
    std::string msg =
        strCat(model, ": the model has dynamic dims; give them with --shapes (e.g. --shapes ");
    bool first = true;
    for (const Binding& b : g.bindings) {
      if (!b.is_input || g.tensors[b.tensor].isConstant()) continue;
      Dims d = g.tensors[b.tensor].dims;
      for (auto& x : d) x = x < 0 ? 1 : x;
      msg += strCat(first ? "" : ",", g.tensors[b.tensor].name, ":", dimsToString(d));
      first = false;
    }
    msg += "):";
    for (const auto& m : missing) msg += "\n  " + m;
    return Status(StatusCode::kInvalidArgument, msg);
  }
  // Frozen inputs are no longer bindings.
  std::erase_if(g.bindings,
                [&](const Binding& b) { return b.is_input && g.tensors[b.tensor].isConstant(); });
  return Status::Ok();
}

namespace {

// Kahn's algorithm; a cycle or a read of an undefined tensor is an error naming the node.
Status topoSort(Graph& g) {
  const size_t n = g.nodes.size();
  std::unordered_map<int, int> producer;
  for (size_t i = 0; i < n; ++i)
    for (int t : g.nodes[i].outputs) producer[t] = static_cast<int>(i);
  std::vector<int> indeg(n, 0);
  std::vector<std::vector<int>> users(n);
  for (size_t i = 0; i < n; ++i)
    for (int t : g.nodes[i].inputs) {
      if (t < 0) continue;
      auto it = producer.find(t);
      if (it == producer.end()) continue;
      ++indeg[i];
      users[it->second].push_back(static_cast<int>(i));
    }
  std::priority_queue<int, std::vector<int>, std::greater<int>>
      ready;  // keeps model order when possible
  for (size_t i = 0; i < n; ++i)
    if (!indeg[i]) ready.push(static_cast<int>(i));
  std::vector<Node> sorted;
  while (!ready.empty()) {
    const int i = ready.top();
    ready.pop();
    sorted.push_back(std::move(g.nodes[i]));
    for (int u : users[i])
      if (--indeg[u] == 0) ready.push(u);
  }
  if (sorted.size() != n) {
    for (size_t i = 0; i < n; ++i)
      if (indeg[i])
        return Status(StatusCode::kInvalidArgument,
                      strCat("node '", g.nodes[i].name, "' is part of a cycle"));
  }
  g.nodes = std::move(sorted);
  return Status::Ok();
}

// Runs one node on the CPU with constant inputs; returns its outputs.
Result<std::vector<HostTensor>> evaluate(const OpDef& def, const NodeContext& c) {
  EDGERT_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> k, def.create_cpu(c));
  std::vector<TensorView> in, out;
  for (const ValueInfo& v : c.in) {
    TensorView tv;
    if (v.present)
      tv =
          TensorView{v.dtype, v.dims, v.constant ? const_cast<void*>(v.constant->data()) : nullptr};
    in.push_back(tv);
  }
  while (!in.empty() && in.back().dtype == DataType::kUndefined) in.pop_back();
  std::vector<HostTensor> results;
  for (const ValueInfo& v : c.out) {
    EDGERT_ASSIGN_OR_RETURN(HostTensor t, HostTensor::create(v.dtype, v.dims));
    results.push_back(std::move(t));
  }
  for (HostTensor& t : results) out.push_back(TensorView{t.dtype(), t.dims(), t.mutableData()});
  AlignedBuffer scratch = allocateAligned(k->scratchBytes());
  EDGERT_RETURN_IF_ERROR(k->run(KernelArgs{in, out, scratch.get()}));
  return results;
}

}  // namespace

// Constants folded at build time become weights; nothing real needs more.
constexpr uint64_t kMaxFoldedBytes = uint64_t{1} << 30;

Status inferAndFold(Graph& g, PassStats& stats, const std::function<void(double)>& progress) {
  EDGERT_RETURN_IF_ERROR(topoSort(g));
  std::vector<Node> kept;
  const size_t total = g.nodes.size();
  for (size_t i = 0; i < total; ++i) {
    Node& n = g.nodes[i];
    if (progress && (i % 16 == 0 || i + 1 == total))
      progress(static_cast<double>(i + 1) / static_cast<double>(total));
    const OpDef* def = findOp(n.op);
    if (!def)
      return Status(StatusCode::kUnsupported,
                    strCat("node '", n.name, "': op ", n.op, " is not supported"));
    const int n_out = static_cast<int>(n.outputs.size());
    if (n_out < def->min_outputs || (def->max_outputs >= 0 && n_out > def->max_outputs))
      return Status(
          StatusCode::kInvalidArgument,
          strCat(n.op, " '", n.name, "': has ", n_out, " outputs, the op allows ", def->min_outputs,
                 " to ",
                 def->max_outputs < 0 ? std::string("any") : std::to_string(def->max_outputs)));
    NodeContext c = nodeContext(g, n, false);
    EDGERT_RETURN_IF_ERROR(inferNode(*def, c));
    if (c.out.size() < n.outputs.size())
      return Status(StatusCode::kInvalidArgument,
                    strCat(n.op, " '", n.name, "': has ", n.outputs.size(),
                           " outputs, the op produces ", c.out.size()));
    for (size_t o = 0; o < n.outputs.size(); ++o) {
      g.tensors[n.outputs[o]].dtype = c.out[o].dtype;
      g.tensors[n.outputs[o]].dims = c.out[o].dims;
    }
    c.out.resize(n.outputs.size());
    bool all_const = true;
    for (const ValueInfo& v : c.in) all_const &= !v.present || v.constant != nullptr;
    const bool static_shape_op = n.op == "Shape" || n.op == "Size";
    uint64_t out_bytes = 0;
    for (const ValueInfo& v : c.out)
      out_bytes += static_cast<uint64_t>(volume(v.dims)) * dataTypeSize(v.dtype);
    if ((all_const || static_shape_op) && out_bytes > kMaxFoldedBytes)
      return Status(StatusCode::kUnsupported,
                    strCat(n.op, " '", n.name, "': folding it would create a ", out_bytes,
                           "-byte constant (limit ", kMaxFoldedBytes, ")"));
    if (all_const || static_shape_op) {
      auto values = evaluate(*def, c);
      if (!values.ok())
        return values.status().withContext(strCat("folding ", n.op, " '", n.name, "'"));
      for (size_t o = 0; o < n.outputs.size(); ++o)
        g.tensors[n.outputs[o]].constant =
            std::make_shared<const HostTensor>(std::move(values.value()[o]));
      ++stats.folded;
      continue;
    }
    kept.push_back(std::move(n));
  }
  g.nodes = std::move(kept);
  return Status::Ok();
}

void removeIdentities(Graph& g, PassStats& stats) {
  std::set<int> outputs;
  for (const Binding& b : g.bindings)
    if (!b.is_input) outputs.insert(b.tensor);
  std::unordered_map<int, int> alias;  // removed output tensor -> its input
  auto resolve = [&](int t) {
    while (t >= 0 && alias.count(t)) t = alias[t];
    return t;
  };
  std::vector<Node> kept;
  for (Node& n : g.nodes) {
    for (int& t : n.inputs) t = resolve(t);
    const bool copy_op = n.op == "Identity" || n.op == "Dropout";
    const bool mask_used = n.op == "Dropout" && n.outputs.size() > 1;
    if (copy_op && !mask_used && !outputs.count(n.outputs[0])) {
      alias[n.outputs[0]] = n.inputs[0];
      ++stats.removed;
      continue;
    }
    kept.push_back(std::move(n));
  }
  g.nodes = std::move(kept);
}

namespace {

std::vector<int64_t> permOf(const Graph& g, const Node& n) {
  std::vector<int64_t> p = n.attrs.getInts("perm", {}).value();
  if (p.empty()) {  // the default reverses the dims
    const int64_t r = static_cast<int64_t>(g.tensors[n.inputs[0]].dims.size());
    for (int64_t i = r - 1; i >= 0; --i) p.push_back(i);
  }
  return p;
}

// Whether transposing `dims` by `perm` keeps every element where it is: the dims other than
// size 1 stay in their order.
bool movesNothing(const Dims& dims, const std::vector<int64_t>& perm) {
  int64_t prev = -1;
  for (int64_t a : perm) {
    if (a < 0 || a >= static_cast<int64_t>(dims.size())) return false;
    if (dims[a] == 1) continue;
    if (a < prev) return false;
    prev = a;
  }
  return true;
}

}  // namespace

void simplifyTransposes(Graph& g, PassStats& stats) {
  std::vector<int> producer(g.tensors.size(), -1);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    if (n.op == "Transpose" && !n.inputs.empty() && n.inputs[0] >= 0) {
      const int src = producer[n.inputs[0]];
      if (src >= 0) {
        // y = T(T(x, p1), p2): output dim k is x's dim p1[p2[k]].
        const std::vector<int64_t> p1 = permOf(g, g.nodes[src]), p2 = permOf(g, n);
        if (p1.size() == p2.size()) {
          std::vector<int64_t> q;
          for (int64_t k : p2) q.push_back(p1[static_cast<size_t>(k)]);
          n.inputs[0] = g.nodes[src].inputs[0];
          n.attrs.setInts("perm", q);
          ++stats.removed;
        }
      }
      const Dims in = g.tensors[n.inputs[0]].dims, out = g.tensors[n.outputs[0]].dims;
      if (movesNothing(in, permOf(g, n)) && in.size() == out.size()) {
        // Same bytes; the dims differ only by where the 1s sit: a Reshape, which is a view.
        const bool same = in == out;
        n.op = same ? "Identity" : "Reshape";
        n.attrs.erase("perm");
        if (!same) {
          HostTensor v =
              HostTensor::create(DataType::kInt64, {static_cast<int64_t>(in.size())}).value();
          std::copy(out.begin(), out.end(), v.mutableAs<int64_t>());
          const int shape =
              g.addConstant(strCat("edgert_transpose_as_reshape_", g.tensors.size()), std::move(v));
          producer.push_back(-1);
          n.inputs.resize(2);
          n.inputs[1] = shape;
          n.attrs.setInt("allowzero", 1);
        }
      }
    }
    for (int t : n.outputs)
      if (t >= 0) producer[t] = n.op == "Transpose" ? static_cast<int>(i) : -1;
  }
}

void eliminateDeadCode(Graph& g, PassStats& stats) {
  std::vector<bool> live(g.tensors.size(), false);
  for (const Binding& b : g.bindings) live[b.tensor] = true;
  std::vector<bool> keep(g.nodes.size(), false);
  for (int i = static_cast<int>(g.nodes.size()) - 1; i >= 0; --i) {
    const Node& n = g.nodes[i];
    bool needed = false;
    for (int t : n.outputs) needed |= live[t];
    if (!needed) continue;
    keep[i] = true;
    for (int t : n.inputs)
      if (t >= 0) live[t] = true;
    for (int t : n.outputs) live[t] = true;  // optional outputs still need a home
  }
  std::vector<Node> nodes;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (keep[i])
      nodes.push_back(std::move(g.nodes[i]));
    else
      ++stats.removed;
  }
  g.nodes = std::move(nodes);
  // Compact tensor ids.
  std::vector<int> remap(g.tensors.size(), -1);
  std::vector<TensorEntry> tensors;
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    if (!live[t]) continue;
    remap[t] = static_cast<int>(tensors.size());
    tensors.push_back(std::move(g.tensors[t]));
  }
  g.tensors = std::move(tensors);
  for (Node& n : g.nodes) {
    for (int& t : n.inputs) t = t >= 0 ? remap[t] : -1;
    for (int& t : n.outputs) t = remap[t];
  }
  for (Binding& b : g.bindings) b.tensor = remap[b.tensor];
}

TensorUses tensorUses(const Graph& g, const std::vector<bool>& dead) {
  TensorUses u;
  u.readers.assign(g.tensors.size(), {});
  u.producer.assign(g.tensors.size(), -1);
  u.is_output.assign(g.tensors.size(), false);
  for (const Binding& b : g.bindings)
    if (!b.is_input) u.is_output[b.tensor] = true;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!dead.empty() && dead[i]) continue;
    for (int t : g.nodes[i].inputs)
      if (t >= 0) u.readers[t].push_back(static_cast<int>(i));
    for (int t : g.nodes[i].outputs) u.producer[t] = static_cast<int>(i);
  }
  return u;
}

namespace {

bool constScalar(const Graph& g, const Node& n, size_t slot, float* v) {
  if (n.inputs.size() <= slot || n.inputs[slot] < 0) return true;  // absent: keep default
  const auto& c = g.tensors[n.inputs[slot]].constant;
  if (!c || c->numel() != 1) return false;
  *v = static_cast<float>(c->doubleAt(0));
  return true;
}

}  // namespace

bool foldablePad(const Graph& g, const Node& pad, const Node& conv, std::vector<int64_t>* pads) {
  if (pad.op != "Pad" || pad.attrs.getString("mode", "constant").value() != "constant")
    return false;
  const int t = pad.outputs[0];
  const int x = pad.inputs[0];
  if (g.tensors[x].isConstant()) return false;
  if (conv.op != "Conv" && conv.op != "EdgertQConv") return false;
  if (conv.inputs[0] != t || conv.attrs.getString("auto_pad", "NOTSET").value() != "NOTSET")
    return false;
  // Zero padding only: another value is not what the convolution pads with.
  float value = 0.f;
  if (!constScalar(g, pad, 2, &value) || value != 0.f) return false;
  const int rank = static_cast<int>(g.tensors[x].dims.size());
  std::vector<int64_t> given;
  if (pad.inputs.size() > 1 && pad.inputs[1] >= 0) {
    if (!g.tensors[pad.inputs[1]].isConstant()) return false;
    given = g.tensors[pad.inputs[1]].constant->toInt64Vector();
  } else {
    given = pad.attrs.getInts("pads").value();
  }
  std::vector<int64_t> axes;
  if (pad.inputs.size() > 3 && pad.inputs[3] >= 0) {
    if (!g.tensors[pad.inputs[3]].isConstant()) return false;
    axes = g.tensors[pad.inputs[3]].constant->toInt64Vector();
  } else {
    for (int a = 0; a < rank; ++a) axes.push_back(a);
  }
  if (given.size() != 2 * axes.size() || rank < 3) return false;
  // Per dim: begin and end padding; the batch and channel dims must get none.
  std::vector<int64_t> begin(rank, 0), end(rank, 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    const int64_t a = axes[k] < 0 ? axes[k] + rank : axes[k];
    if (a < 0 || a >= rank || given[k] < 0 || given[k + axes.size()] < 0) return false;
    begin[a] += given[k];
    end[a] += given[k + axes.size()];
  }
  if (begin[0] || end[0] || begin[1] || end[1]) return false;
  const int nsp = rank - 2;
  std::vector<int64_t> cp = conv.attrs.getInts("pads", std::vector<int64_t>(2 * nsp, 0)).value();
  if (static_cast<int>(cp.size()) != 2 * nsp) return false;
  for (int d = 0; d < nsp; ++d) {
    cp[d] += begin[d + 2];
    cp[d + nsp] += end[d + 2];
  }
  *pads = std::move(cp);
  return true;
}

void foldPadIntoConv(Graph& g, PassStats& stats,
                     const std::function<bool(const Node& conv)>& asymmetric_ok) {
  std::vector<bool> dead(g.nodes.size(), false);
  const TensorUses u = tensorUses(g, dead);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& pad = g.nodes[i];
    if (pad.op != "Pad") continue;
    const int t = pad.outputs[0];
    if (u.is_output[t] || u.readers[t].size() != 1) continue;
    Node& conv = g.nodes[u.readers[t][0]];
    std::vector<int64_t> cp;
    if (conv.op != "Conv" || !foldablePad(g, pad, conv, &cp)) continue;
    const size_t nsp = cp.size() / 2;
    bool symmetric = true;
    for (size_t d = 0; d < nsp; ++d) symmetric &= cp[d] == cp[d + nsp];
    if (!symmetric && !asymmetric_ok(conv)) continue;
    conv.attrs.setInts("pads", cp);
    conv.inputs[0] = pad.inputs[0];
    dead[i] = true;
    ++stats.removed;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!dead[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
}

void foldBatchNorm(Graph& g, PassStats& stats) {
  std::vector<bool> dead(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& conv = g.nodes[i];
    if (dead[i] || conv.op != "Conv" || conv.inputs.size() > 3) continue;
    const TensorUses u = tensorUses(g, dead);
    const int t = conv.outputs[0];
    if (u.is_output[t] || u.readers[t].size() != 1) continue;
    const int bi = u.readers[t][0];
    const Node& bn = g.nodes[bi];
    if (bn.op != "BatchNormalization" || bn.inputs.size() < 5 || bn.outputs.size() != 1) continue;
    const auto& w = g.tensors[conv.inputs[1]].constant;
    if (!w || w->dtype() != DataType::kFloat32) continue;
    bool consts = true;
    for (int k = 1; k < 5; ++k)
      consts &= bn.inputs[k] >= 0 && g.tensors[bn.inputs[k]].constant &&
                g.tensors[bn.inputs[k]].constant->dtype() == DataType::kFloat32;
    const bool has_bias = conv.inputs.size() > 2 && conv.inputs[2] >= 0;
    if (!consts || (has_bias && !g.tensors[conv.inputs[2]].constant)) continue;
    const int64_t M = w->dims()[0];
    const int64_t per = w->numel() / std::max<int64_t>(M, 1);
    const float eps = bn.attrs.getFloat("epsilon", 1e-5f).value();
    const HostTensor& scale = *g.tensors[bn.inputs[1]].constant;
    const HostTensor& shift = *g.tensors[bn.inputs[2]].constant;
    const HostTensor& mean = *g.tensors[bn.inputs[3]].constant;
    const HostTensor& var = *g.tensors[bn.inputs[4]].constant;
    if (scale.numel() != M) continue;
    HostTensor nw = w->clone();
    HostTensor nb = std::move(HostTensor::create(DataType::kFloat32, {M}).value());
    for (int64_t m = 0; m < M; ++m) {
      const double sc = scale.doubleAt(m) / std::sqrt(var.doubleAt(m) + eps);
      for (int64_t k = 0; k < per; ++k)
        nw.mutableAs<float>()[m * per + k] = static_cast<float>(w->as<float>()[m * per + k] * sc);
      const double b = has_bias ? g.tensors[conv.inputs[2]].constant->doubleAt(m) : 0.0;
      nb.mutableAs<float>()[m] =
          static_cast<float>((b - mean.doubleAt(m)) * sc + shift.doubleAt(m));
    }
    conv.inputs.resize(3, -1);
    conv.inputs[1] = g.addConstant(conv.name + ":bn_folded_weight", std::move(nw));
    conv.inputs[2] = g.addConstant(conv.name + ":bn_folded_bias", std::move(nb));
    conv.outputs[0] = bn.outputs[0];
    dead[bi] = true;
    ++stats.removed;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!dead[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
}

void fuseConvEpilogues(Graph& g, PassStats& stats) {
  std::vector<bool> dead(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    // Conv: residual Add and activation; Gemm (bias already in its C): activation.
    const bool is_conv = g.nodes[i].op == "Conv";
    if (dead[i] || (!is_conv && g.nodes[i].op != "Gemm") ||
        g.tensors[g.nodes[i].outputs[0]].dtype != DataType::kFloat32)
      continue;
    // Residual: the conv's only reader is an Add whose other operand already exists.
    TensorUses u = tensorUses(g, dead);
    int t = g.nodes[i].outputs[0];
    if (is_conv && !u.is_output[t] && u.readers[t].size() == 1 &&
        g.nodes[u.readers[t][0]].op == "Add") {
      const int a = u.readers[t][0];
      const Node& add = g.nodes[a];
      const int z = add.inputs[0] == t ? add.inputs[1] : add.inputs[0];
      const bool ready = z >= 0 && z != t && !g.tensors[z].isConstant() &&
                         (u.producer[z] < 0 || u.producer[z] < static_cast<int>(i));
      if (ready && g.tensors[z].dims == g.tensors[t].dims &&
          g.tensors[z].dtype == DataType::kFloat32) {
        Node& conv = g.nodes[i];
        conv.inputs.resize(4, -1);
        conv.inputs[3] = z;
        conv.outputs[0] = add.outputs[0];
        dead[a] = true;
        ++stats.removed;
        u = tensorUses(g, dead);
        t = conv.outputs[0];
      }
    }
    if (u.is_output[t]) continue;
    Node& conv = g.nodes[i];
    const std::vector<int>& rd = u.readers[t];
    if (rd.size() == 1) {
      const Node& act = g.nodes[rd[0]];
      float lo = -3.402823466e38f, hi = 3.402823466e38f;
      std::string name;
      float alpha = 0.f, beta = 0.f;
      if (act.op == "Relu" || act.op == "HardSwish" || act.op == "Sigmoid") {
        name = act.op;
      } else if (act.op == "Gelu") {
        const std::string approx = act.attrs.getString("approximate", "none").value();
        if (approx != "none" && approx != "tanh") continue;  // the op's own error, later
        name = approx == "tanh" ? "GeluTanh" : "Gelu";
      } else if (act.op == "LeakyRelu") {
        name = act.op;
        alpha = act.attrs.getFloat("alpha", 0.01f).value();
      } else if (act.op == "HardSigmoid") {
        name = act.op;
        alpha = act.attrs.getFloat("alpha", 0.2f).value();
        beta = act.attrs.getFloat("beta", 0.5f).value();
      } else if (act.op == "Clip" && constScalar(g, act, 1, &lo) && constScalar(g, act, 2, &hi)) {
        name = "Clip";
        alpha = lo;
        beta = hi;
      }
      if (name.empty()) continue;
      conv.attrs.setString("_act", name);
      conv.attrs.setFloat("_act_alpha", alpha);
      conv.attrs.setFloat("_act_beta", beta);
      conv.outputs[0] = act.outputs[0];
      dead[rd[0]] = true;
      ++stats.removed;
    } else if (rd.size() == 2) {
      // SiLU: Sigmoid(t) read only by Mul(t, sigmoid(t)).
      int s = rd[0], m = rd[1];
      if (g.nodes[s].op != "Sigmoid") std::swap(s, m);
      if (g.nodes[s].op != "Sigmoid" || g.nodes[m].op != "Mul") continue;
      const int so = g.nodes[s].outputs[0];
      const Node& mul = g.nodes[m];
      const bool pattern = u.readers[so].size() == 1 && !u.is_output[so] &&
                           ((mul.inputs[0] == t && mul.inputs[1] == so) ||
                            (mul.inputs[1] == t && mul.inputs[0] == so));
      if (!pattern) continue;
      conv.attrs.setString("_act", "Silu");
      conv.outputs[0] = mul.outputs[0];
      dead[s] = dead[m] = true;
      stats.removed += 2;
    }
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!dead[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
}

namespace {

// One elementwise node as a fused-program instruction.
struct ElemOp {
  int kind = -1;  // 0 unary, 1 binary
  int code = 0;
  bool has_params = false;
  float a = 0, b = 0;
};

bool elementwiseOp(const Graph& g, const Node& n, ElemOp* e) {
  if (n.outputs.size() != 1 || g.tensors[n.outputs[0]].dtype != DataType::kFloat32) return false;
  for (int t : n.inputs)
    if (t < 0 || g.tensors[t].dtype != DataType::kFloat32) return false;
  const NodeContext c = nodeContext(g, n, false);
  if (const auto u = unaryKernelOp(c)) {
    *e = {0, u->code, u->has_params, u->a, u->b};
    return true;
  }
  // PRelu's slope broadcasts by its own rule: it stays a layer of its own.
  if (const auto code = binaryKernelOp(c); code && *code != kBiPRelu) {
    *e = {1, *code, false, 0, 0};
    return true;
  }
  return false;
}

bool scalarConstant(const Graph& g, int t) {
  return g.tensors[t].constant && g.tensors[t].constant->numel() == 1;
}

// An operand the fused kernels can read: the output's shape, one value, or one axis.
bool fusableOperand(const Dims& in, const Dims& out) {
  if (in == out || volume(in) == 1) return true;
  if (in.size() > out.size()) return false;
  const size_t off = out.size() - in.size();
  int axes = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == 1) continue;
    if (in[i] != out[off + i]) return false;
    ++axes;
  }
  return axes == 1;
}

int findRoot(std::vector<int>& parent, int i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

}  // namespace

void fuseElementwise(Graph& g, PassStats& stats) {
  const size_t N = g.nodes.size();
  const TensorUses u = tensorUses(g);
  std::vector<ElemOp> ops(N);
  std::vector<bool> cand(N, false);
  for (size_t i = 0; i < N; ++i) {
    const Node& n = g.nodes[i];
    if (!elementwiseOp(g, n, &ops[i])) continue;
    const Dims& out = g.tensors[n.outputs[0]].dims;
    bool ok = true;
    for (int t : n.inputs) ok &= scalarConstant(g, t) || fusableOperand(g.tensors[t].dims, out);
    // Clip's bounds are parameters, not operands.
    if (n.op == "Clip") ok = fusableOperand(g.tensors[n.inputs[0]].dims, out);
    cand[i] = ok;
  }
  // Join a node with the producer of an operand when that tensor can stay inside the chain:
  // every reader is a candidate with the same output shape and it is no graph output.
  std::vector<int> parent(N);
  for (size_t i = 0; i < N; ++i) parent[i] = static_cast<int>(i);
  for (size_t i = 0; i < N; ++i) {
    if (!cand[i]) continue;
    const Dims& out = g.tensors[g.nodes[i].outputs[0]].dims;
    const size_t operands = g.nodes[i].op == "Clip" ? 1 : g.nodes[i].inputs.size();
    for (size_t k = 0; k < operands; ++k) {
      const int t = g.nodes[i].inputs[k];
      const int p = u.producer[t];
      if (p < 0 || !cand[p] || u.is_output[t] || g.tensors[t].dims != out) continue;
      bool internal = true;
      for (int r : u.readers[t])
        internal &= cand[r] && g.tensors[g.nodes[r].outputs[0]].dims == out;
      if (internal) parent[findRoot(parent, static_cast<int>(i))] = findRoot(parent, p);
    }
  }
  std::map<int, std::vector<int>> groups;
  for (size_t i = 0; i < N; ++i)
    if (cand[i]) groups[findRoot(parent, static_cast<int>(i))].push_back(static_cast<int>(i));
  std::vector<bool> dead(N, false);
  for (auto& [root, members] : groups) {
    if (members.size() < 2) continue;
    std::set<int> in_group(members.begin(), members.end());
    // Exactly one tensor may leave the chain: the last node's output.
    int escapes = 0;
    for (int m : members) {
      const int t = g.nodes[m].outputs[0];
      bool leaves = u.is_output[t];
      for (int r : u.readers[t]) leaves |= !in_group.count(r);
      escapes += leaves;
    }
    const int last = members.back();
    if (escapes != 1) continue;
    std::map<int, int> reg;  // tensor -> register
    std::vector<int> inputs;
    std::vector<float> imm;
    std::vector<int64_t> code;
    bool fits = true;
    const auto operand = [&](int t) -> int {
      if (auto it = reg.find(t); it != reg.end()) return it->second;
      if (scalarConstant(g, t)) {
        imm.push_back(static_cast<float>(g.tensors[t].constant->doubleAt(0)));
        return 200 + static_cast<int>(imm.size()) - 1;
      }
      auto it = std::find(inputs.begin(), inputs.end(), t);
      if (it != inputs.end()) return 100 + static_cast<int>(it - inputs.begin());
      inputs.push_back(t);
      return 100 + static_cast<int>(inputs.size()) - 1;
    };
    for (int m : members) {
      const Node& n = g.nodes[m];
      const ElemOp& e = ops[m];
      const int x = operand(n.inputs[0]);
      int y = -1;
      if (e.kind == 1) {
        y = operand(n.inputs[1]);
      } else if (e.has_params) {
        imm.push_back(e.a);
        imm.push_back(e.b);
        y = static_cast<int>(imm.size()) - 2;
      }
      code.insert(code.end(), {e.kind, e.code, x, y});
      reg[n.outputs[0]] = static_cast<int>(code.size() / 4) - 1;
    }
    fits = code.size() / 4 <= EDGERT_FUSED_MAX_CODE && inputs.size() <= EDGERT_FUSED_MAX_INPUTS &&
           imm.size() <= EDGERT_FUSED_MAX_IMM;
    if (!fits) continue;
    Node& fused = g.nodes[last];
    std::string chain;
    for (int m : members) chain += (chain.empty() ? "" : "+") + g.nodes[m].op;
    fused.op = "EdgertElementwise";
    fused.inputs = inputs;
    fused.attrs = AttrMap();
    fused.attrs.setInts("code", code);
    fused.attrs.setFloats("imm", imm);
    const Dims& out = g.tensors[fused.outputs[0]].dims;
    fused.attrs.setInts("shape", std::vector<int64_t>(out.begin(), out.end()));
    fused.attrs.setString("chain", chain);  // for inspect: what was fused
    for (int m : members)
      if (m != last) dead[m] = true;
    stats.removed += members.size() - 1;
  }
  std::vector<Node> kept;
  for (size_t i = 0; i < N; ++i)
    if (!dead[i]) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
}

void finalizeOutputs(Graph& g) {
  std::set<int> inputs;
  for (const Binding& b : g.bindings)
    if (b.is_input) inputs.insert(b.tensor);
  for (Binding& b : g.bindings) {
    if (b.is_input) continue;
    const bool is_input = inputs.count(b.tensor) != 0;
    if (!g.tensors[b.tensor].isConstant() && !is_input) continue;
    TensorEntry out;
    out.dtype = g.tensors[b.tensor].dtype;
    out.dims = g.tensors[b.tensor].dims;
    if (is_input) {
      // ONNX allows an input to be an output too; the copy needs its own binding name.
      out.name = g.tensors[b.tensor].name + ":output";
    } else {
      out.name = g.tensors[b.tensor].name;
      g.tensors[b.tensor].name += "__constant";
    }
    const int out_id = static_cast<int>(g.tensors.size());
    g.tensors.push_back(std::move(out));
    Node n;
    n.op = "Identity";
    n.name = strCat("output_copy_", g.tensors[out_id].name);
    n.inputs = {b.tensor};
    n.outputs = {out_id};
    g.nodes.push_back(std::move(n));
    b.tensor = out_id;
  }
}

}  // namespace edgert
