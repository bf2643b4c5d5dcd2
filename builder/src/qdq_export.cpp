// Quantized ONNX export (edgert quantize, issue #12): see exportQdqOnnx in edgert/builder.h.
//
// The INT8 build's graph is fused (batch norms folded, activations and residual Adds inside
// the convolutions, Pads folded), but its layers keep the ONNX nodes' names and its tensors the
// ONNX tensors' names; so each decision is written back onto the node it came from, in the
// original graph: DequantizeLinear(int8 weights) for its weights, the corrected bias, a
// QuantizeLinear -> DequantizeLinear pair on its input and on the residual its Add reads. The
// activations and Adds stay the model's own nodes: what TensorRT's explicit quantisation
// documents, and what qdq_import.cpp reads back into the same INT8 plan.
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/version_converter/convert.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <queue>
#include <set>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>

#include "build_graph.h"
#include "edgert/edgert.h"
#include "edgert/internal/engine_model.h"
#include "edgert/internal/str.h"

namespace edgert {

namespace {

namespace fs = std::filesystem;

constexpr int kPerChannelOpset = 13;  // DequantizeLinear's axis

Result<onnx::ModelProto> readModel(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kNotFound, strCat(path, ": cannot open"));
  onnx::ModelProto m;
  google::protobuf::io::IstreamInputStream zin(&in);
  google::protobuf::io::CodedInputStream cin(&zin);
  cin.SetTotalBytesLimit(std::numeric_limits<int>::max());
  if (!m.ParseFromCodedStream(&cin) || !cin.ConsumedEntireMessage() || !m.has_graph())
    return Status(StatusCode::kInvalidArgument, strCat(path, ": not a valid ONNX model"));
  for (const onnx::TensorProto& t : m.graph().initializer())
    if (t.data_location() == onnx::TensorProto::EXTERNAL)
      return Status(StatusCode::kUnsupported,
                    strCat(path, ": initializer '", t.name(),
                           "' keeps its data in an external file; edgert quantize writes one "
                           "self-contained model (convert it with onnx.save(..., "
                           "save_as_external_data=False))"));
  return m;
}

int64_t defaultOpset(const onnx::ModelProto& m) {
  for (const auto& o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") return o.version();
  return 0;
}

onnx::TensorProto tensorProto(const std::string& name, int32_t type, const Dims& dims,
                              const void* data, size_t bytes) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(type);
  for (int64_t d : dims) t.add_dims(d);
  t.set_raw_data(data, bytes);
  return t;
}

onnx::TensorProto floats(const std::string& name, const Dims& dims, const std::vector<float>& v) {
  return tensorProto(name, onnx::TensorProto::FLOAT, dims, v.data(), v.size() * sizeof(float));
}

// The ops the version converter rewrites by rank (Softmax and its kin from opset 13) need the
// input's rank, which ONNX's shape inference cannot always find through a model's Reshapes:
// give every tensor whose rank edgert's own shape inference knows a rank-only value_info for
// the conversion, and take them out after it.
Status raiseOpset(onnx::ModelProto& m, const Graph& g, const std::string& origin) {
  std::set<std::string> known;
  for (const auto& v : m.graph().value_info()) known.insert(v.name());
  for (const auto& v : m.graph().input()) known.insert(v.name());
  for (const auto& v : m.graph().output()) known.insert(v.name());
  std::set<std::string> produced;
  for (const auto& n : m.graph().node())
    for (const std::string& o : n.output()) produced.insert(o);
  std::set<std::string> added;
  for (const TensorEntry& t : g.tensors) {
    if (t.isConstant() || t.dims.empty() || known.count(t.name) || !produced.count(t.name) ||
        t.dtype != DataType::kFloat32)
      continue;
    onnx::ValueInfoProto* v = m.mutable_graph()->add_value_info();
    v->set_name(t.name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    for (size_t i = 0; i < t.dims.size(); ++i) tt->mutable_shape()->add_dim();
    added.insert(t.name);
  }
  try {
    m = onnx::version_conversion::ConvertVersion(m, kPerChannelOpset);
  } catch (const std::exception& e) {
    return Status(StatusCode::kUnsupported,
                  strCat(origin, ": opset ", defaultOpset(m),
                         " has no per-channel DequantizeLinear, and ONNX's version converter "
                         "could not raise it to ",
                         kPerChannelOpset, ": ", e.what()));
  }
  auto* vi = m.mutable_graph()->mutable_value_info();
  vi->erase(std::remove_if(vi->begin(), vi->end(),
                           [&](const onnx::ValueInfoProto& v) { return added.count(v.name()); }),
            vi->end());
  return Status::Ok();
}

// The model being edited: its nodes with an order key, and the initializers added.
class Editor {
 public:
  explicit Editor(onnx::ModelProto& m) : m_(m) {
    for (int i = 0; i < m.graph().node_size(); ++i) {
      nodes_.push_back({m.graph().node(i), double(i), false});
      for (const std::string& o : m.graph().node(i).output()) names_.insert(o);
      names_.insert(m.graph().node(i).name());
    }
    for (const auto& t : m.graph().initializer()) names_.insert(t.name());
    for (const auto& v : m.graph().input()) names_.insert(v.name());
  }

  struct Entry {
    onnx::NodeProto node;
    double rank;
    bool dead;
  };
  // A deque: adding nodes keeps references to the others valid (the export edits a node while
  // it adds its pairs).
  std::deque<Entry>& nodes() { return nodes_; }

  int producer(const std::string& t) const {
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (!nodes_[i].dead)
        for (const std::string& o : nodes_[i].node.output())
          if (o == t) return static_cast<int>(i);
    return -1;
  }
  std::vector<int> readers(const std::string& t) const {
    std::vector<int> r;
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (!nodes_[i].dead)
        for (const std::string& in : nodes_[i].node.input())
          if (in == t) {
            r.push_back(static_cast<int>(i));
            break;
          }
    return r;
  }
  bool isGraphOutput(const std::string& t) const {
    for (const auto& v : m_.graph().output())
      if (v.name() == t) return true;
    return false;
  }

  // `base` itself when no tensor, node or initializer has that name yet, else base_2, ...
  std::string fresh(const std::string& base) {
    std::string n = base;
    for (int k = 2; names_.count(n); ++k) n = strCat(base, "_", k);
    names_.insert(n);
    return n;
  }
  void addInitializer(onnx::TensorProto t) {
    *m_.mutable_graph()->add_initializer() = std::move(t);
  }
  int addNode(onnx::NodeProto n, double rank) {
    nodes_.push_back({std::move(n), rank, false});
    return static_cast<int>(nodes_.size()) - 1;
  }

  // The DequantizeLinear output that stands for activation `t` quantised with scale `s` and
  // zero point `z` (0: int8; -128: edgert's unsigned, written as uint8 with zero point 0),
  // made once per tensor.
  Result<std::string> quantized(std::string t, float s, int z, size_t* pairs,
                                size_t* unsigned_pairs) {
    auto it = pairs_.find(t);
    if (it != pairs_.end()) {
      if (it->second.scale != s || it->second.zero != z)
        return Status(StatusCode::kInternal,
                      strCat("tensor '", t, "' is quantised with two scales (", it->second.scale,
                             " and ", s, ")"));
      return it->second.dq;
    }
    const int p = producer(t);
    const double rank = p >= 0 ? nodes_[p].rank + 0.1 : -1.0;
    const std::string scale = fresh(t + "/scale"), zero = fresh(t + "/zero_point");
    addInitializer(floats(scale, {}, {s}));
    const uint8_t zbyte = 0;  // int8 0 or uint8 0
    addInitializer(
        tensorProto(zero, z ? onnx::TensorProto::UINT8 : onnx::TensorProto::INT8, {}, &zbyte, 1));
    onnx::NodeProto q;
    q.set_op_type("QuantizeLinear");
    q.set_name(fresh(t + "/QuantizeLinear"));
    q.add_input(t);
    q.add_input(scale);
    q.add_input(zero);
    q.add_output(fresh(t + "/quantized"));
    onnx::NodeProto dq;
    dq.set_op_type("DequantizeLinear");
    dq.set_name(fresh(t + "/DequantizeLinear"));
    dq.add_input(q.output(0));
    dq.add_input(scale);
    dq.add_input(zero);
    dq.add_output(fresh(t + "/dequantized"));
    const std::string out = dq.output(0);
    addNode(std::move(q), rank);
    addNode(std::move(dq), rank + 0.01);
    pairs_[t] = {s, z, out};
    ++*pairs;
    if (z) ++*unsigned_pairs;
    return out;
  }

  // Writes the nodes back in an order where every input exists before it is read, keeping the
  // ranks' order where the edges allow; drops value_info of tensors no node makes any more.
  Status finish() {
    std::set<std::string> avail = {""};
    for (const auto& t : m_.graph().initializer()) avail.insert(t.name());
    for (const auto& v : m_.graph().input()) avail.insert(v.name());
    std::vector<int> live;
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (!nodes_[i].dead) live.push_back(static_cast<int>(i));
    std::map<std::string, std::vector<int>> waiting;  // tensor -> nodes that need it
    std::vector<int> missing(nodes_.size(), 0);
    using Item = std::pair<double, int>;
    std::priority_queue<Item, std::vector<Item>, std::greater<Item>> ready;
    for (int i : live) {
      std::set<std::string> need;
      for (const std::string& in : nodes_[i].node.input())
        if (!avail.count(in)) need.insert(in);
      missing[i] = static_cast<int>(need.size());
      for (const std::string& t : need) waiting[t].push_back(i);
      if (!missing[i]) ready.push({nodes_[i].rank, i});
    }
    auto* out = m_.mutable_graph()->mutable_node();
    out->Clear();
    std::set<std::string> produced;
    while (!ready.empty()) {
      const int i = ready.top().second;
      ready.pop();
      *out->Add() = nodes_[i].node;
      for (const std::string& o : nodes_[i].node.output()) {
        produced.insert(o);
        auto w = waiting.find(o);
        if (w == waiting.end()) continue;
        for (int r : w->second)
          if (--missing[r] == 0) ready.push({nodes_[r].rank, r});
        waiting.erase(w);
      }
    }
    if (out->size() != static_cast<int>(live.size()))
      return Status(StatusCode::kInternal,
                    strCat("the quantised graph has a cycle or reads a tensor no node makes (",
                           live.size() - out->size(), " node(s) left unordered)"));
    auto* vi = m_.mutable_graph()->mutable_value_info();
    vi->erase(
        std::remove_if(vi->begin(), vi->end(),
                       [&](const onnx::ValueInfoProto& v) { return !produced.count(v.name()); }),
        vi->end());
    return Status::Ok();
  }

  // Initializers and Constant nodes named in `displaced` that nothing reads any more go.
  void dropUnread(const std::set<std::string>& displaced) {
    std::set<std::string> read;
    for (const Entry& e : nodes_)
      if (!e.dead)
        for (const std::string& in : e.node.input()) read.insert(in);
    for (const auto& v : m_.graph().output()) read.insert(v.name());
    auto gone = [&](const std::string& t) { return displaced.count(t) && !read.count(t); };
    for (Entry& e : nodes_)
      if (!e.dead && e.node.op_type() == "Constant" && e.node.output_size() == 1 &&
          gone(e.node.output(0)))
        e.dead = true;
    auto* init = m_.mutable_graph()->mutable_initializer();
    init->erase(std::remove_if(init->begin(), init->end(),
                               [&](const onnx::TensorProto& t) { return gone(t.name()); }),
                init->end());
    auto* in = m_.mutable_graph()->mutable_input();
    in->erase(std::remove_if(in->begin(), in->end(),
                             [&](const onnx::ValueInfoProto& v) { return gone(v.name()); }),
              in->end());
  }

 private:
  struct Pair {
    float scale;
    int zero;
    std::string dq;
  };
  onnx::ModelProto& m_;
  std::deque<Entry> nodes_;
  std::set<std::string> names_;
  std::map<std::string, Pair> pairs_;
};

void setFloatAttr(onnx::NodeProto& n, const std::string& name, float v) {
  for (auto& a : *n.mutable_attribute())
    if (a.name() == name) {
      a.set_f(v);
      return;
    }
  onnx::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

int64_t intAttr(const onnx::NodeProto& n, const std::string& name, int64_t def) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.i();
  return def;
}

void setInput(onnx::NodeProto& n, int slot, const std::string& t) {
  while (n.input_size() <= slot) n.add_input("");
  n.set_input(slot, t);
}

}  // namespace

Status exportQdqOnnx(const std::string& onnx_path, const std::string& output_path,
                     const BuildOptions& options, QdqExportReport* report) {
  QdqExportReport rep;
  BuildOptions opt = options;
  opt.precision = "int8";
  opt.target = "cpu";
  EDGERT_ASSIGN_OR_RETURN(onnx::ModelProto m, readModel(onnx_path));
  // The importer's name for each node (its own, or op_index) -> its first output.
  std::map<std::string, std::string> first_output;
  std::map<std::string, std::string> node_of_output;
  for (int i = 0; i < m.graph().node_size(); ++i) {
    const onnx::NodeProto& n = m.graph().node(i);
    const std::string name = n.name().empty() ? strCat(n.op_type(), "_", i) : n.name();
    if (n.output_size() > 0) {
      first_output[name] = n.output(0);
      node_of_output[n.output(0)] = name;
    }
  }
  // The INT8 build's graph and plan.
  EDGERT_ASSIGN_OR_RETURN(ImportedModel im, importOnnx(onnx_path));
  if (hasQdq(im.graph))
    return Status(StatusCode::kInvalidArgument,
                  strCat(onnx_path,
                         ": already has QuantizeLinear / DequantizeLinear nodes; quantize the "
                         "float model"));
  Graph& g = im.graph;
  PassStats stats;
  QuantizeReport plan;
  EDGERT_RETURN_IF_ERROR(optimizeGraph(g, onnx_path, opt, EngineTarget{}, rep.build, stats, &plan));
  if (opt.progress) opt.progress("write Q/DQ model", 0);
  rep.opset_from = defaultOpset(m);
  if (rep.opset_from < kPerChannelOpset) EDGERT_RETURN_IF_ERROR(raiseOpset(m, g, onnx_path));
  rep.opset_to = defaultOpset(m);
  if (m.ir_version() < 7) m.set_ir_version(7);  // opset 13's

  std::map<std::string, const QuantizedLayer*> int8_layers;
  for (const QuantizedLayer& l : plan.layers) int8_layers[l.name] = &l;
  std::map<std::string, const Node*> float_layers;
  std::set<std::string> internal_names;
  for (const Node& n : g.nodes) {
    internal_names.insert(n.name);
    if (n.op == "Conv" || n.op == "Gemm" || n.op == "MatMul") float_layers[n.name] = &n;
  }
  auto constantOf = [&](int t) -> const HostTensor* {
    return t >= 0 && g.tensors[t].isConstant() ? g.tensors[t].constant.get() : nullptr;
  };

  Editor ed(m);
  std::set<std::string> displaced;  // weights, biases and batch-norm parameters replaced
  auto where = [&](const std::string& layer) { return strCat(onnx_path, ": layer '", layer, "'"); };
  for (const auto& [layer, out0] : first_output) {
    const QuantizedLayer* q8 = int8_layers.count(layer) ? int8_layers[layer] : nullptr;
    const Node* fl = float_layers.count(layer) ? float_layers[layer] : nullptr;
    if (!q8 && !(fl && fl->op == "Conv")) {
      if (fl) ++rep.float_layers;
      continue;
    }
    const int j = ed.producer(out0);
    if (j < 0) return Status(StatusCode::kInternal, strCat(where(layer), " is not in the model"));
    const std::string op = ed.nodes()[j].node.op_type();
    if (op != (q8 ? q8->op : std::string("Conv")))
      return Status(StatusCode::kInternal, strCat(where(layer), " is a ", op, " in the model, a ",
                                                  q8 ? q8->op : "Conv", " in the INT8 plan"));
    const double rank = ed.nodes()[j].rank;
    // A batch norm the build folded into the convolution goes; the convolution writes its
    // output.
    std::string y = out0;
    if (op == "Conv") {
      const std::vector<int> rd = ed.readers(y);
      if (rd.size() == 1 && !ed.isGraphOutput(y) &&
          ed.nodes()[rd[0]].node.op_type() == "BatchNormalization") {
        onnx::NodeProto& bn = ed.nodes()[rd[0]].node;
        auto it = node_of_output.find(bn.output(0));
        if (it != node_of_output.end() && !internal_names.count(it->second)) {
          for (int k = 1; k < bn.input_size(); ++k) displaced.insert(bn.input(k));
          y = bn.output(0);
          ed.nodes()[rd[0]].dead = true;
          ed.nodes()[j].node.set_output(0, y);
          ++rep.folded_batch_norms;
        }
      }
    }
    onnx::NodeProto& n = ed.nodes()[j].node;
    const std::string base = layer;
    if (n.input_size() > 1) displaced.insert(n.input(1));
    if (n.input_size() > 2) displaced.insert(n.input(2));
    if (!q8) {
      // A float convolution: its weights as the build has them (batch norm folded, or
      // equalised against an INT8 neighbour).
      ++rep.float_layers;
      const HostTensor* w = constantOf(fl->inputs.size() > 1 ? fl->inputs[1] : -1);
      const HostTensor* b = constantOf(fl->inputs.size() > 2 ? fl->inputs[2] : -1);
      if (!w || w->dtype() != DataType::kFloat32) continue;  // weights computed: as they are
      const std::string wn = ed.fresh(base + "/weight");
      ed.addInitializer(
          tensorProto(wn, onnx::TensorProto::FLOAT, w->dims(), w->data(), w->bytes()));
      setInput(n, 1, wn);
      if (b) {
        const std::string bname = ed.fresh(base + "/bias");
        ed.addInitializer(
            tensorProto(bname, onnx::TensorProto::FLOAT, b->dims(), b->data(), b->bytes()));
        setInput(n, 2, bname);
      }
      continue;
    }
    ++rep.int8_layers;
    // Weights: int8 in the model's layout, one scale per output channel.
    const bool kn = op == "MatMul" || (op == "Gemm" && intAttr(n, "transB", 0) == 0);
    const HostTensor wq = kn ? transposedInt8(q8->weights) : q8->weights.clone();
    const int64_t M = q8->weights.dims()[0];
    const std::string wq_name = ed.fresh(base + "/weight_quantized");
    const std::string ws_name = ed.fresh(base + "/weight_scale");
    const std::string wz_name = ed.fresh(base + "/weight_zero_point");
    ed.addInitializer(
        tensorProto(wq_name, onnx::TensorProto::INT8, wq.dims(), wq.data(), wq.bytes()));
    ed.addInitializer(floats(ws_name, {M}, q8->weight_scales));
    const std::vector<int8_t> zeros(static_cast<size_t>(M), 0);
    ed.addInitializer(
        tensorProto(wz_name, onnx::TensorProto::INT8, {M}, zeros.data(), zeros.size()));
    onnx::NodeProto dq;
    dq.set_op_type("DequantizeLinear");
    dq.set_name(ed.fresh(base + "/weight_DequantizeLinear"));
    dq.add_input(wq_name);
    dq.add_input(ws_name);
    dq.add_input(wz_name);
    const std::string w_name = ed.fresh(base + "/weight");
    dq.add_output(w_name);
    onnx::AttributeProto* axis = dq.add_attribute();
    axis->set_name("axis");
    axis->set_type(onnx::AttributeProto::INT);
    axis->set_i(kn ? 1 : 0);
    setInput(n, 1, w_name);
    // The bias with the build's correction in it.
    if (!q8->bias.empty()) {
      const std::string b_name = ed.fresh(base + "/bias");
      ed.addInitializer(floats(b_name, {M}, q8->bias));
      if (op == "MatMul") {
        // MatMul has no bias input: an Add after it writes its output.
        const std::string mm_out = ed.fresh(base + "/without_bias");
        n.set_output(0, mm_out);
        onnx::NodeProto add;
        add.set_op_type("Add");
        add.set_name(ed.fresh(base + "/bias_add"));
        add.add_input(mm_out);
        add.add_input(b_name);
        add.add_output(y);
        ed.addNode(std::move(add), rank + 0.5);
      } else {
        setInput(n, 2, b_name);
        if (op == "Gemm") setFloatAttr(n, "beta", 1.f);  // beta is in the bias already
      }
    }
    // Input (and the residual its Add reads): quantise -> dequantise.
    EDGERT_ASSIGN_OR_RETURN(const std::string xd,
                            ed.quantized(n.input(0), q8->x_scale, q8->x_zero, &rep.activation_pairs,
                                         &rep.unsigned_pairs));
    ed.nodes()[j].node.set_input(0, xd);
    ed.addNode(std::move(dq), rank - 0.5);
    if (!q8->residual.empty()) {
      bool placed = false;
      for (int r : ed.readers(y)) {
        onnx::NodeProto& add = ed.nodes()[r].node;
        if (add.op_type() != "Add") continue;
        for (int k = 0; k < add.input_size() && !placed; ++k)
          if (add.input(k) == q8->residual) {
            EDGERT_ASSIGN_OR_RETURN(
                const std::string rd,
                ed.quantized(q8->residual, q8->residual_scale, q8->residual_zero,
                             &rep.activation_pairs, &rep.unsigned_pairs));
            ed.nodes()[r].node.set_input(k, rd);
            placed = true;
          }
      }
      if (!placed)
        return Status(StatusCode::kInternal, strCat(where(layer), ": no Add reads its residual '",
                                                    q8->residual, "' in the model"));
    }
  }
  ed.dropUnread(displaced);
  EDGERT_RETURN_IF_ERROR(ed.finish());
  // ONNX's checker wants a type on every graph output; the importer does not, so a model may
  // lack one: the build knows it.
  for (auto& v : *m.mutable_graph()->mutable_output()) {
    if (v.has_type()) continue;
    for (const TensorEntry& t : g.tensors)
      if (t.name == v.name() && t.dtype == DataType::kFloat32) {
        auto* tt = v.mutable_type()->mutable_tensor_type();
        tt->set_elem_type(onnx::TensorProto::FLOAT);
        for (size_t i = 0; i < t.dims.size(); ++i) tt->mutable_shape()->add_dim();
      }
  }
  m.set_producer_name("edgert quantize");
  m.set_producer_version(versionString());
  try {
    onnx::checker::check_model(m);
  } catch (const std::exception& e) {
    return Status(StatusCode::kInternal,
                  strCat(output_path, ": the quantised model fails ONNX's checker: ", e.what()));
  }
  std::string bytes;
  if (!m.SerializeToString(&bytes))
    return Status(StatusCode::kInternal, strCat(output_path, ": the model did not serialise"));
  EDGERT_RETURN_IF_ERROR(writeFileAtomically(output_path, bytes.data(), bytes.size()));
  if (opt.progress) opt.progress("write Q/DQ model", 1);
  if (report) *report = std::move(rep);
  return Status::Ok();
}

}  // namespace edgert
