// Batch splitting for peak memory: at large batch the activation arena is set by one or two
// huge tensors early in the network (MobileNetV2's 16 -> 96 channel expansion at 112x112 is
// 294 MiB in fp16 at batch 128, more than half its arena). Every op of such a chain works on
// each image alone, so the chain can run in parts of the batch: the big tensor then only
// ever exists one part at a time. The parts read batch slices of the chain's input and write
// batch slices of its output; both are byte ranges (the batch axis is outermost in NCHW and
// NHWC), which the CUDA context maps onto the whole tensors instead of copying (Slice views,
// Concat in place), as the CPU plan does for the Concat. The same idea as MCUNetV2's
// patch-based inference, over the batch instead of the image.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "edgert/internal/str.h"
#include "passes.h"

namespace edgert {
namespace {

uint64_t bytesOf(const TensorEntry& t) {
  return static_cast<uint64_t>(volume(t.dims)) * dataTypeSize(t.dtype);
}

// The activation input of a node that computes each batch item from the same item of that
// input alone (constants are weights or per-channel / scalar operands), or -1.
int perSampleInput(const Graph& g, const Node& n) {
  static const std::set<std::string> kPerSample = {
      "Conv",      "MaxPool",  "AveragePool", "GlobalAveragePool",  "GlobalMaxPool", "Relu",
      "LeakyRelu", "Sigmoid",  "Tanh",        "HardSwish",          "Clip",          "HardSigmoid",
      "Elu",       "Softplus", "Gelu",        "BatchNormalization", "Cast"};
  static const std::set<std::string> kBroadcast = {"Add", "Sub", "Mul",   "Div",
                                                   "Max", "Min", "PRelu", "EdgertElementwise"};
  bool per_sample = kPerSample.count(n.op) > 0;
  const bool broadcast = kBroadcast.count(n.op) > 0;
  if (n.op == "Pad" && n.inputs.size() >= 2 && n.inputs[1] >= 0 &&
      g.tensors[n.inputs[1]].isConstant() && (n.inputs.size() < 4 || n.inputs[3] < 0)) {
    // Padding that leaves the batch axis alone (EfficientNet-Lite's explicit "same" pads).
    const std::vector<int64_t> pads = g.tensors[n.inputs[1]].constant->toInt64Vector();
    per_sample = pads.size() >= 2 && pads[0] == 0 && pads[pads.size() / 2] == 0;
  }
  if ((!per_sample && !broadcast) || n.outputs.size() != 1) return -1;
  const TensorEntry& out = g.tensors[n.outputs[0]];
  if (out.dims.size() < 2) return -1;
  int data = -1;
  for (int t : n.inputs) {
    if (t < 0) continue;
    const TensorEntry& in = g.tensors[t];
    if (!in.isConstant()) {
      if (data >= 0 && data != t) return -1;  // a second activation operand (a residual)
      data = t;
      continue;
    }
    // A constant operand of a broadcasting op must not vary over the batch.
    if (broadcast && in.dims.size() == out.dims.size() && in.dims[0] != 1) return -1;
  }
  if (data < 0 || g.tensors[data].dims.size() != out.dims.size() ||
      g.tensors[data].dims[0] != out.dims[0])
    return -1;
  return data;
}

struct Uses {
  std::vector<std::vector<int>> readers;  // node indices, one entry per reading node
  std::vector<int> producer;
  std::vector<bool> binding;
};

Uses uses(const Graph& g) {
  Uses u;
  u.readers.resize(g.tensors.size());
  u.producer.assign(g.tensors.size(), -1);
  u.binding.assign(g.tensors.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    std::set<int> seen;
    for (int t : g.nodes[i].inputs)
      if (t >= 0 && seen.insert(t).second) u.readers[t].push_back(static_cast<int>(i));
    for (int t : g.nodes[i].outputs) u.producer[t] = static_cast<int>(i);
  }
  for (const Binding& b : g.bindings) u.binding[b.tensor] = true;
  return u;
}

// The activation memory of a graph as the CUDA context would lay it out: tensors placed by
// lifetime (inputs from the start, outputs to the end; the CPU plan lets inputs die), batch
// slices as views and batch concatenations in place; `bytes` is that arena and `live` the
// tensors live at the step where most bytes are. `half`: an FP16 engine, whose activations
// the context keeps in fp16 between layers (bindings stay float32, and an input gets an fp16
// copy for its readers other than batch slices, which read the float32 input).
struct Peak {
  uint64_t bytes = 0;
  std::vector<int> live;
};
Peak peakOf(const Graph& g, bool half) {
  const int n = static_cast<int>(g.nodes.size());
  const size_t T = g.tensors.size();
  std::vector<LiveBuffer> buf(T, LiveBuffer{0, n + 1, -1});
  for (int i = 0; i < n; ++i) {
    for (int t : g.nodes[i].outputs) buf[t].first = std::min<int64_t>(buf[t].first, i);
    for (int t : g.nodes[i].inputs)
      if (t >= 0) buf[t].last = std::max<int64_t>(buf[t].last, i);
  }
  std::vector<bool> binding(T, false);
  for (const Binding& b : g.bindings) {
    binding[b.tensor] = true;
    if (b.is_input) buf[b.tensor].first = 0;
    buf[b.tensor].last = n;
  }
  auto bytes = [&](size_t t) {
    const uint64_t b = bytesOf(g.tensors[t]);
    return half && !binding[t] && g.tensors[t].dtype == DataType::kFloat32 ? b / 2 : b;
  };
  for (size_t t = 0; t < T; ++t)
    if (!g.tensors[t].isConstant() && buf[t].first <= buf[t].last)
      buf[t].bytes = (bytes(t) + 255) / 256 * 256;
  BufferAliases alias(T);
  for (int i = 0; i < n; ++i) {
    const Node& node = g.nodes[i];
    if (node.op == "Concat" && node.attrs.getInt("axis", 1).value() == 0) {
      uint64_t offset = 0;
      for (int x : node.inputs) {
        if (x >= 0 && !binding[x] && alias.parent[x] < 0 && buf[x].last == i &&
            std::count(node.inputs.begin(), node.inputs.end(), x) == 1 && offset % 256 == 0) {
          alias.parent[x] = node.outputs[0];
          alias.offset[x] = offset;
          buf[node.outputs[0]].first = std::min(buf[node.outputs[0]].first, buf[x].first);
        }
        offset += x >= 0 ? bytes(x) : 0;
      }
    } else if (node.op == "Slice" && node.inputs.size() == 4 && node.inputs[3] >= 0 &&
               g.tensors[node.inputs[3]].isConstant() &&
               g.tensors[node.inputs[3]].constant->toInt64Vector() == std::vector<int64_t>{0} &&
               g.tensors[node.inputs[1]].isConstant()) {
      const int x = node.inputs[0], y = node.outputs[0];
      const int64_t r = alias.root(x);
      alias.parent[y] = r;
      alias.offset[y] = alias.offsetInRoot(x) +
                        static_cast<uint64_t>(g.tensors[node.inputs[1]].constant->intAt(0)) *
                            (bytes(x) / g.tensors[x].dims[0]);
      buf[r].last = std::max(buf[r].last, buf[y].last);
    }
  }
  for (size_t t = 0; t < T; ++t) {
    if (!half || !binding[t] || buf[t].first != 0 || g.tensors[t].dtype != DataType::kFloat32)
      continue;
    int copy_last = -1;
    for (int i = 0; i < n; ++i)
      for (int x : g.nodes[i].inputs)
        if (x == static_cast<int>(t) && g.nodes[i].op != "Slice") copy_last = i;
    if (copy_last < 0) continue;
    buf.push_back(LiveBuffer{(bytesOf(g.tensors[t]) / 2 + 255) / 256 * 256, 0, copy_last});
    alias.parent.push_back(-1);
    alias.offset.push_back(0);
  }
  Peak p;
  placeBuffers(buf, alias, &p.bytes);
  std::vector<uint64_t> at(n + 1, 0);
  for (size_t b = 0; b < buf.size(); ++b)
    if (alias.parent[b] < 0)
      for (int64_t i = std::max<int64_t>(buf[b].first, 0); i <= buf[b].last && i <= n; ++i)
        at[i] += buf[b].bytes;
  const int64_t step = std::max_element(at.begin(), at.end()) - at.begin();
  for (size_t t = 0; t < T; ++t)
    if (buf[t].bytes && buf[t].first <= step && step <= buf[t].last)
      p.live.push_back(static_cast<int>(t));
  return p;
}

// A chain of per-sample nodes around `big` whose intermediate tensors have one reader each,
// extended while the tensors at its ends are still large (a quarter of `big` or more).
std::vector<int> chainAround(const Graph& g, const Uses& u, int big) {
  const int a = u.producer[big];
  if (a < 0 || u.binding[big] || u.readers[big].size() != 1) return {};
  const int b = u.readers[big][0];
  if (perSampleInput(g, g.nodes[a]) < 0 || perSampleInput(g, g.nodes[b]) != big) return {};
  const uint64_t large = bytesOf(g.tensors[big]) / 4;
  std::vector<int> chain = {a, b};
  for (;;) {  // backwards
    const int x = perSampleInput(g, g.nodes[chain.front()]);
    const int p = u.producer[x];
    if (p < 0 || u.binding[x] || u.readers[x].size() != 1 || bytesOf(g.tensors[x]) < large ||
        perSampleInput(g, g.nodes[p]) < 0)
      break;
    chain.insert(chain.begin(), p);
  }
  for (;;) {  // forwards
    const int y = g.nodes[chain.back()].outputs[0];
    if (u.binding[y] || u.readers[y].size() != 1 || bytesOf(g.tensors[y]) < large) break;
    const int r = u.readers[y][0];
    if (perSampleInput(g, g.nodes[r]) != y) break;
    chain.push_back(r);
  }
  return chain;
}

int constInt64(Graph& g, const std::string& name, int64_t v) {
  HostTensor h = HostTensor::create(DataType::kInt64, {1}).value();
  h.mutableAs<int64_t>()[0] = v;
  return g.addConstant(name, std::move(h));
}

// Replaces `chain` by `parts` copies, each on a batch slice, and a Concat of their outputs
// into the chain's output tensor (its readers are unchanged).
void splitChain(Graph& g, const std::vector<int>& chain, int64_t parts) {
  const int x = perSampleInput(g, g.nodes[chain.front()]);
  const int y = g.nodes[chain.back()].outputs[0];
  const int64_t n = g.tensors[x].dims[0], part = n / parts;
  const int axes = constInt64(g, strCat(g.tensors[x].name, "/batch_axis"), 0);
  std::vector<Node> added;
  Node concat;
  concat.op = "Concat";
  concat.name = strCat(g.nodes[chain.back()].name, "/batch_concat");
  concat.attrs.setInt("axis", 0);
  concat.outputs = {y};
  for (int64_t k = 0; k < parts; ++k) {
    const std::string suffix = strCat("/batch", k * part, "-", (k + 1) * part);
    auto newTensor = [&](int like) {
      TensorEntry t = g.tensors[like];
      t.name += suffix;
      t.dims[0] = part;
      g.tensors.push_back(std::move(t));
      return static_cast<int>(g.tensors.size()) - 1;
    };
    Node slice;
    slice.op = "Slice";
    slice.name = g.tensors[x].name + suffix;
    const int xs = newTensor(x);
    slice.inputs = {x, constInt64(g, slice.name + "/start", k * part),
                    constInt64(g, slice.name + "/end", (k + 1) * part), axes};
    slice.outputs = {xs};
    added.push_back(std::move(slice));
    int cur = xs;
    for (int i : chain) {
      Node c = g.nodes[i];
      const int in = perSampleInput(g, c);
      for (int& t : c.inputs)
        if (t == in) t = cur;
      c.name += suffix;
      cur = newTensor(c.outputs[0]);
      c.outputs = {cur};
      added.push_back(std::move(c));
    }
    concat.inputs.push_back(cur);
  }
  added.push_back(std::move(concat));
  // Everything the chain reads exists before its first node, and the chain's output is read
  // only after its last: the parts go where the first node was.
  const std::set<int> drop(chain.begin(), chain.end());
  const int at = *std::min_element(chain.begin(), chain.end());
  std::vector<Node> nodes;
  for (int i = 0; i < static_cast<int>(g.nodes.size()); ++i) {
    if (i == at)
      for (Node& a : added) nodes.push_back(std::move(a));
    if (!drop.count(i)) nodes.push_back(std::move(g.nodes[i]));
  }
  g.nodes = std::move(nodes);
}

}  // namespace

BatchSplitReport splitBatchForMemory(Graph& g, int64_t max_part, bool half) {
  BatchSplitReport rep;
  rep.arena_before = planMemory(g).arena_bytes;
  if (max_part <= 0) return rep;
  // Each round splits the chain holding the largest tensor at the peak, if that lowers the
  // peak by 5% or more; the next round looks at the new peak.
  Peak peak = peakOf(g, half);
  // EDGERT_VERBOSE: each round's peak and why each candidate was split or not.
  const bool verbose = std::getenv("EDGERT_VERBOSE") != nullptr;
  auto mib = [](uint64_t b) { return static_cast<double>(b) / 1048576.0; };
  for (int round = 0; round < 8; ++round) {
    const Uses u = uses(g);
    std::vector<int> live = peak.live;
    std::sort(live.begin(), live.end(),
              [&](int a, int b) { return bytesOf(g.tensors[a]) > bytesOf(g.tensors[b]); });
    if (verbose) std::fprintf(stderr, "batch split: peak %.1f MiB\n", mib(peak.bytes));
    bool split = false;
    for (int t : live) {
      const std::vector<int> chain = chainAround(g, u, t);
      if (chain.empty()) {
        if (verbose)
          std::fprintf(stderr, "  '%s': no chain of per-sample layers\n",
                       g.tensors[t].name.c_str());
        continue;
      }
      const int64_t n = g.tensors[t].dims[0];
      int64_t parts = 2;
      while (parts <= n && (n % parts != 0 || n / parts > max_part)) ++parts;
      if (parts > 16 || parts > n || n <= max_part) continue;
      Graph trial = g;
      splitChain(trial, chain, parts);
      Peak trial_peak = peakOf(trial, half);
      const bool worth = trial_peak.bytes * 20 <= peak.bytes * 19;
      if (verbose)
        std::fprintf(stderr, "  '%s': %zu layers in %lld parts: peak %.1f MiB%s\n",
                     g.tensors[t].name.c_str(), chain.size(), static_cast<long long>(parts),
                     mib(trial_peak.bytes), worth ? "" : " (kept whole)");
      if (!worth) continue;
      g = std::move(trial);
      peak = std::move(trial_peak);
      rep.chains += 1;
      rep.layers += chain.size();
      split = true;
      break;
    }
    if (!split) break;
  }
  return rep;
}

}  // namespace edgert
