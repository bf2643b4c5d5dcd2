#include "onnx_import.h"

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>

#include "edgert/internal/op.h"
#include "edgert/internal/str.h"
#include "tensor_proto.h"

namespace edgert {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kMinOpset = 1;  // ops unchanged since early opsets import as-is
constexpr int64_t kMaxOpset = 20;

class Importer {
 public:
  Importer(std::string path, std::string base_dir)
      : path_(std::move(path)), base_dir_(std::move(base_dir)) {}
  Result<ImportedModel> run(const onnx::ModelProto& model);

 private:
  Status err(StatusCode c, const std::string& msg) const {
    return Status(c, strCat(path_, ": ", msg));
  }
  int addTensor(const std::string& name, DataType dt = DataType::kUndefined, Dims dims = {});
  int addConstant(const std::string& name, HostTensor t);
  int newConstant(const std::string& hint, HostTensor t);
  Result<AttrMap> convertAttrs(const onnx::NodeProto& n, const std::string& where);
  Status importNode(const onnx::NodeProto& n, size_t index);
  // Opset upgrades: rewrite an older form of an op into the newest.
  Status normalize(Node& node);
  int constInts(const std::string& hint, const std::vector<int64_t>& v);
  int constFloats(const std::string& hint, const std::vector<float>& v, bool scalar = false);

  std::string path_, base_dir_;
  int64_t opset_ = 0;
  Graph g_;
  std::unordered_map<std::string, int> by_name_;
  size_t auto_names_ = 0;
};

int Importer::addTensor(const std::string& name, DataType dt, Dims dims) {
  auto it = by_name_.find(name);
  if (it != by_name_.end()) return it->second;
  TensorEntry t;
  t.name = name;
  t.dtype = dt;
  t.dims = std::move(dims);
  g_.tensors.push_back(std::move(t));
  const int id = static_cast<int>(g_.tensors.size()) - 1;
  by_name_[name] = id;
  return id;
}

int Importer::addConstant(const std::string& name, HostTensor t) {
  const int id = addTensor(name, t.dtype(), t.dims());
  g_.tensors[id].dtype = t.dtype();
  g_.tensors[id].dims = t.dims();
  g_.tensors[id].constant = std::make_shared<const HostTensor>(std::move(t));
  return id;
}

int Importer::newConstant(const std::string& hint, HostTensor t) {
  std::string name = hint;
  while (by_name_.count(name)) name = strCat(hint, "_", ++auto_names_);
  return addConstant(name, std::move(t));
}

int Importer::constInts(const std::string& hint, const std::vector<int64_t>& v) {
  HostTensor t =
      std::move(HostTensor::create(DataType::kInt64, {static_cast<int64_t>(v.size())}).value());
  if (!v.empty()) std::memcpy(t.mutableData(), v.data(), v.size() * 8);
  return newConstant(hint, std::move(t));
}

int Importer::constFloats(const std::string& hint, const std::vector<float>& v, bool scalar) {
  Dims d = scalar ? Dims{} : Dims{static_cast<int64_t>(v.size())};
  HostTensor t = std::move(HostTensor::create(DataType::kFloat32, d).value());
  if (!v.empty()) std::memcpy(t.mutableData(), v.data(), v.size() * 4);
  return newConstant(hint, std::move(t));
}

Result<AttrMap> Importer::convertAttrs(const onnx::NodeProto& n, const std::string& where) {
  AttrMap m;
  for (const auto& a : n.attribute()) {
    Attribute at;
    switch (a.type()) {
      case onnx::AttributeProto::INT:
        at.kind = Attribute::Kind::kInt;
        at.i = a.i();
        break;
      case onnx::AttributeProto::FLOAT:
        at.kind = Attribute::Kind::kFloat;
        at.f = a.f();
        break;
      case onnx::AttributeProto::STRING:
        at.kind = Attribute::Kind::kString;
        at.s = a.s();
        break;
      case onnx::AttributeProto::INTS:
        at.kind = Attribute::Kind::kInts;
        at.ints.assign(a.ints().begin(), a.ints().end());
        break;
      case onnx::AttributeProto::FLOATS:
        at.kind = Attribute::Kind::kFloats;
        at.floats.assign(a.floats().begin(), a.floats().end());
        break;
      case onnx::AttributeProto::TENSOR: {
        at.kind = Attribute::Kind::kTensor;
        auto t = tensorFromProto(a.t(), base_dir_, strCat(where, " attribute '", a.name(), "'"));
        if (!t.ok()) return t.status();
        at.tensor = std::make_shared<HostTensor>(std::move(t).value());
        break;
      }
      default: {
        // Old exporters omit `type`; infer it from the populated field.
        if (a.type() == onnx::AttributeProto::UNDEFINED) {
          if (a.has_i()) {
            at.kind = Attribute::Kind::kInt;
            at.i = a.i();
            break;
          }
          if (a.has_f()) {
            at.kind = Attribute::Kind::kFloat;
            at.f = a.f();
            break;
          }
          if (a.has_s()) {
            at.kind = Attribute::Kind::kString;
            at.s = a.s();
            break;
          }
          if (a.ints_size()) {
            at.kind = Attribute::Kind::kInts;
            at.ints.assign(a.ints().begin(), a.ints().end());
            break;
          }
          if (a.floats_size()) {
            at.kind = Attribute::Kind::kFloats;
            at.floats.assign(a.floats().begin(), a.floats().end());
            break;
          }
        }
        return err(StatusCode::kUnsupported,
                   strCat(where, ": attribute '", a.name(), "' has type ",
                          onnx::AttributeProto_AttributeType_Name(a.type()),
                          ", which edgert does not support"));
      }
    }
    m.set(a.name(), std::move(at));
  }
  return m;
}

Status Importer::normalize(Node& n) {
  const std::string& op = n.op;
  auto moveInts = [&](const char* name, size_t slot) {
    const Attribute* a = n.attrs.find(name);
    if (!a) return;
    if (n.inputs.size() <= slot) n.inputs.resize(slot + 1, -1);
    n.inputs[slot] = constInts(strCat(n.name, "_", name), a->ints);
    n.attrs.erase(name);
  };
  auto moveFloat = [&](const char* name, size_t slot) {
    const Attribute* a = n.attrs.find(name);
    if (!a) return;
    if (n.inputs.size() <= slot) n.inputs.resize(slot + 1, -1);
    n.inputs[slot] =
        constFloats(strCat(n.name, "_", name),
                    {a->kind == Attribute::Kind::kInt ? static_cast<float>(a->i) : a->f}, true);
    n.attrs.erase(name);
  };
  if (op == "Clip" && opset_ < 11) {
    if (!n.attrs.has("min")) n.attrs.setFloat("min", -std::numeric_limits<float>::max());
    if (!n.attrs.has("max")) n.attrs.setFloat("max", std::numeric_limits<float>::max());
    moveFloat("min", 1);
    moveFloat("max", 2);
  } else if (op == "Pad" && opset_ < 11) {
    moveInts("pads", 1);
    if (n.attrs.has("value")) moveFloat("value", 2);
  } else if (op == "Slice" && opset_ < 10) {
    moveInts("starts", 1);
    moveInts("ends", 2);
    moveInts("axes", 3);
  } else if (op == "TopK" && opset_ < 10) {
    const Attribute* a = n.attrs.find("k");
    if (a) {
      n.inputs.resize(2, -1);
      n.inputs[1] = constInts(strCat(n.name, "_k"), {a->i});
      n.attrs.erase("k");
    }
  } else if ((op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") && opset_ < 13) {
    n.attrs.setInt("_coerce_2d", 1);
  } else if (op == "Upsample" || (op == "Resize" && opset_ < 11)) {
    // Upsample (7-9) and Resize-10 scale with asymmetric coordinates.
    if (n.inputs.empty() || n.inputs[0] < 0)
      return err(StatusCode::kInvalidArgument, strCat(op, " '", n.name, "' has no input"));
    auto mode_attr = n.attrs.getString("mode", "nearest");
    if (!mode_attr.ok())
      return err(StatusCode::kInvalidArgument,
                 strCat(op, " '", n.name, "': ", mode_attr.status().message()));
    std::string mode = mode_attr.value();
    if (mode == "bilinear") mode = "linear";
    n.attrs.setString("mode", mode);
    n.attrs.setString("coordinate_transformation_mode", "asymmetric");
    n.attrs.setString("nearest_mode", "floor");
    int scales = n.inputs.size() > 1 ? n.inputs[1] : -1;
    if (const Attribute* a = n.attrs.find("scales")) {
      scales = constFloats(strCat(n.name, "_scales"), a->floats);
      n.attrs.erase("scales");
    }
    n.inputs = {n.inputs[0], -1, scales};
    n.op = "Resize";
  } else if (op == "BatchNormalization") {
    n.attrs.erase("spatial");
    n.attrs.erase("is_test");
    n.attrs.erase("momentum");
  } else if (op == "Dropout") {
    n.attrs.erase("is_test");
    n.attrs.erase("ratio");
  }
  n.attrs.erase("consumed_inputs");
  return Status::Ok();
}

Status Importer::importNode(const onnx::NodeProto& pn, size_t index) {
  Node n;
  n.op = pn.op_type();
  n.name = pn.name().empty() ? strCat(pn.op_type(), "_", index) : pn.name();
  const std::string where = strCat("node '", n.name, "' (", n.op, ")");
  EDGERT_ASSIGN_OR_RETURN(n.attrs, convertAttrs(pn, where));
  for (const std::string& in : pn.input()) {
    if (in.empty()) {
      n.inputs.push_back(-1);
      continue;
    }
    auto it = by_name_.find(in);
    if (it == by_name_.end())
      return err(
          StatusCode::kInvalidArgument,
          strCat(where, " reads '", in,
                 "', which is neither a graph input, an initializer nor an earlier node's output"));
    n.inputs.push_back(it->second);
  }
  // Optional outputs given as "" get a private tensor; trailing ones are dropped.
  int last = pn.output_size() - 1;
  while (last >= 0 && pn.output(last).empty()) --last;
  for (int i = 0; i <= last; ++i) {
    std::string name = pn.output(i);
    if (name.empty()) name = strCat(n.name, "__unused_output_", i);
    if (by_name_.count(name))
      return err(StatusCode::kInvalidArgument,
                 strCat(where, " writes '", name, "', which is already defined"));
    n.outputs.push_back(addTensor(name));
  }
  if (n.op == "Constant") {
    if (n.outputs.size() != 1)
      return err(StatusCode::kInvalidArgument, strCat(where, " must have one output"));
    const Attribute* a = nullptr;
    for (const auto& [k, v] : n.attrs.all()) a = &v, (void)k;
    if (n.attrs.all().size() != 1 || !a)
      return err(StatusCode::kInvalidArgument,
                 strCat(where, " must have exactly one value attribute"));
    const std::string key = n.attrs.all().begin()->first;
    HostTensor t;
    if (key == "value" && a->tensor)
      t = a->tensor->clone();
    else if (key == "value_float") {
      t = std::move(HostTensor::create(DataType::kFloat32, {}).value());
      *t.mutableAs<float>() = a->f;
    } else if (key == "value_int") {
      t = std::move(HostTensor::create(DataType::kInt64, {}).value());
      *t.mutableAs<int64_t>() = a->i;
    } else if (key == "value_floats") {
      t = std::move(
          HostTensor::create(DataType::kFloat32, {static_cast<int64_t>(a->floats.size())}).value());
      std::copy(a->floats.begin(), a->floats.end(), t.mutableAs<float>());
    } else if (key == "value_ints") {
      t = std::move(
          HostTensor::create(DataType::kInt64, {static_cast<int64_t>(a->ints.size())}).value());
      std::copy(a->ints.begin(), a->ints.end(), t.mutableAs<int64_t>());
    } else {
      return err(StatusCode::kUnsupported,
                 strCat(where, ": constant attribute '", key, "' is not supported"));
    }
    const int id = n.outputs[0];
    g_.tensors[id].dtype = t.dtype();
    g_.tensors[id].dims = t.dims();
    g_.tensors[id].constant = std::make_shared<const HostTensor>(std::move(t));
    return Status::Ok();
  }
  EDGERT_RETURN_IF_ERROR(normalize(n));
  g_.nodes.push_back(std::move(n));
  return Status::Ok();
}

Result<ImportedModel> Importer::run(const onnx::ModelProto& model) {
  for (const auto& os : model.opset_import()) {
    if (os.domain().empty() || os.domain() == "ai.onnx") opset_ = os.version();
  }
  if (opset_ == 0 && model.opset_import_size() == 0) opset_ = 1;
  if (opset_ < kMinOpset || opset_ > kMaxOpset)
    return err(StatusCode::kUnsupported,
               strCat("ONNX opset ", opset_, " is not supported (edgert imports opsets ", kMinOpset,
                      " to ", kMaxOpset, ")"));
  if (!model.has_graph()) return err(StatusCode::kInvalidArgument, "the model has no graph");
  const onnx::GraphProto& graph = model.graph();
  g_.name = graph.name();

  // Every unsupported op at once, before any other work.
  std::map<std::string, std::vector<std::string>> unsupported;
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto& n = graph.node(i);
    const bool default_domain = n.domain().empty() || n.domain() == "ai.onnx";
    const std::string& op = n.op_type();
    const bool known =
        default_domain && !isInternalOp(op) && (findOp(op) || op == "Constant" || op == "Upsample");
    if (!known) {
      const std::string key = default_domain ? op : strCat(n.domain(), "::", op);
      unsupported[key].push_back(n.name().empty() ? strCat(op, "_", i) : n.name());
    }
  }
  if (!unsupported.empty()) {
    std::string msg = strCat(unsupported.size(), " unsupported op type(s):");
    for (const auto& [op, nodes] : unsupported) {
      msg += strCat("\n  ", op, " (", nodes.size(), " node", nodes.size() > 1 ? "s" : "", ": ");
      for (size_t k = 0; k < nodes.size() && k < 5; ++k)
        msg += strCat(k ? ", " : "", "'", nodes[k], "'");
      if (nodes.size() > 5) msg += ", ...";
      msg += ")";
    }
    return err(StatusCode::kUnsupported, msg);
  }

  for (const auto& init : graph.initializer()) {
    if (init.name().empty()) return err(StatusCode::kInvalidArgument, "an initializer has no name");
    auto t = tensorFromProto(init, base_dir_, strCat("initializer '", init.name(), "'"));
    if (!t.ok()) return t.status().withContext(path_);
    addConstant(init.name(), std::move(t).value());
  }
  for (const auto& in : graph.input()) {
    if (by_name_.count(in.name())) continue;  // initializers listed as inputs (IR < 4)
    const auto& tt = in.type().tensor_type();
    if (!in.type().has_tensor_type())
      return err(StatusCode::kUnsupported, strCat("graph input '", in.name(), "' is not a tensor"));
    const DataType dt = dataTypeFromOnnx(tt.elem_type());
    if (dt == DataType::kUndefined)
      return err(StatusCode::kUnsupported,
                 strCat("graph input '", in.name(), "' has an unsupported element type"));
    Binding b;
    b.is_input = true;
    Dims dims;
    if (!tt.has_shape())
      return err(StatusCode::kUnsupported,
                 strCat("graph input '", in.name(), "' has no shape (rank unknown)"));
    for (const auto& d : tt.shape().dim()) {
      if (d.has_dim_value() && d.dim_value() >= 0) {
        dims.push_back(d.dim_value());
        b.dim_names.push_back("");
      } else {
        dims.push_back(-1);
        b.dim_names.push_back(d.has_dim_param() ? d.dim_param() : "");
      }
    }
    b.model_dims = dims;
    b.tensor = addTensor(in.name(), dt, dims);
    g_.bindings.push_back(std::move(b));
  }
  for (int i = 0; i < graph.node_size(); ++i)
    EDGERT_RETURN_IF_ERROR(importNode(graph.node(i), static_cast<size_t>(i)));
  ImportedModel m;
  for (const auto& out : graph.output()) {
    auto it = by_name_.find(out.name());
    if (it == by_name_.end())
      return err(StatusCode::kInvalidArgument,
                 strCat("graph output '", out.name(), "' is never produced"));
    Binding b;
    b.is_input = false;
    b.tensor = it->second;
    const auto& tt = out.type().tensor_type();
    for (const auto& d : tt.shape().dim()) {
      b.model_dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
      b.dim_names.push_back(d.has_dim_param() ? d.dim_param() : "");
    }
    g_.bindings.push_back(std::move(b));
  }
  if (graph.output_size() == 0)
    return err(StatusCode::kInvalidArgument, "the graph has no outputs");
  m.graph = std::move(g_);
  m.opset = opset_;
  m.producer = model.producer_name() +
               (model.producer_version().empty() ? "" : " " + model.producer_version());
  return m;
}

}  // namespace

namespace {
Result<ImportedModel> importParsed(bool parsed, const onnx::ModelProto& model,
                                   const std::string& origin, const std::string& base_dir) {
  if (!parsed)
    return Status(StatusCode::kInvalidArgument,
                  strCat(origin,
                         ": not a valid ONNX model (protobuf parsing failed; the file may be "
                         "truncated or not ONNX)"));
  if (model.ir_version() <= 0 || !model.has_graph())
    return Status(StatusCode::kInvalidArgument,
                  strCat(origin, ": not a valid ONNX model (no ir_version or graph)"));
  Importer imp(origin, base_dir);
  return imp.run(model);
}
}  // namespace

Result<ImportedModel> importOnnxBytes(const void* data, size_t size, const std::string& origin,
                                      const std::string& base_dir) {
  if (size == 0)
    return Status(StatusCode::kInvalidArgument, strCat(origin, ": empty, not an ONNX model"));
  if (size > static_cast<size_t>(std::numeric_limits<int>::max()))
    return Status(StatusCode::kUnsupported,
                  strCat(origin, ": larger than 2 GiB; use external data"));
  onnx::ModelProto model;
  const bool ok = model.ParseFromArray(data, static_cast<int>(size));
  return importParsed(ok, model, origin, base_dir);
}

Result<ImportedModel> importOnnx(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    return Status(StatusCode::kNotFound, strCat(path, ": no such file"));
  const auto size = fs::file_size(path, ec);
  if (ec) return Status(StatusCode::kIoError, strCat(path, ": cannot stat"));
  if (size == 0)
    return Status(StatusCode::kInvalidArgument, strCat(path, ": file is empty, not an ONNX model"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::kIoError, strCat(path, ": cannot open"));
  onnx::ModelProto model;
  bool ok;
  {
    google::protobuf::io::IstreamInputStream zin(&in);
    google::protobuf::io::CodedInputStream cin(&zin);
    cin.SetTotalBytesLimit(std::numeric_limits<int>::max());
    ok = model.ParseFromCodedStream(&cin) && cin.ConsumedEntireMessage();
  }
  const std::string dir =
      fs::path(path).has_parent_path() ? fs::path(path).parent_path().string() : ".";
  return importParsed(ok, model, path, dir);
}

}  // namespace edgert
