#include "onnx_model.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

namespace edgert::test {

OnnxGraph& OnnxGraph::input(const std::string& name, DataType dt, const Dims& dims) {
  auto* in = model_.mutable_graph()->add_input();
  in->set_name(name);
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(static_cast<int32_t>(dt));
  auto* shape = tt->mutable_shape();
  for (int64_t d : dims) {
    auto* dim = shape->add_dim();
    if (d >= 0)
      dim->set_dim_value(d);
    else
      dim->set_dim_param("N");
  }
  return *this;
}

OnnxGraph& OnnxGraph::constant(const std::string& name, const HostTensor& t) {
  auto* init = model_.mutable_graph()->add_initializer();
  init->set_name(name);
  init->set_data_type(static_cast<int32_t>(t.dtype()));
  for (int64_t d : t.dims()) init->add_dims(d);
  init->set_raw_data(t.data(), t.bytes());
  return *this;
}

OnnxGraph& OnnxGraph::node(const std::string& op, const std::vector<std::string>& inputs,
                           const std::vector<std::string>& outputs,
                           std::vector<onnx::AttributeProto> attrs) {
  auto* n = model_.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(op + "_" + std::to_string(model_.graph().node_size()));
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  for (auto& a : attrs) *n->add_attribute() = std::move(a);
  return *this;
}

OnnxGraph& OnnxGraph::output(const std::string& name) {
  model_.mutable_graph()->add_output()->set_name(name);
  return *this;
}

std::string OnnxGraph::save(const std::string& stem) const {
  static std::atomic<int> counter{0};
  onnx::ModelProto m = model_;
  m.set_ir_version(8);
  m.mutable_graph()->set_name(stem);
  auto* os = m.add_opset_import();
  os->set_domain("");
  os->set_version(opset_);
  const auto dir =
      std::filesystem::temp_directory_path() / ("edgert-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / (stem + "_" + std::to_string(counter++) + ".onnx");
  std::ofstream out(path, std::ios::binary);
  m.SerializeToOstream(&out);
  return path.string();
}

onnx::AttributeProto attrInt(const std::string& name, int64_t v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INT);
  a.set_i(v);
  return a;
}
onnx::AttributeProto attrFloat(const std::string& name, float v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::FLOAT);
  a.set_f(v);
  return a;
}
onnx::AttributeProto attrString(const std::string& name, const std::string& v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::STRING);
  a.set_s(v);
  return a;
}
onnx::AttributeProto attrInts(const std::string& name, const std::vector<int64_t>& v) {
  onnx::AttributeProto a;
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a.add_ints(x);
  return a;
}

HostTensor ints1d(const std::vector<int64_t>& v) {
  HostTensor t =
      std::move(HostTensor::create(DataType::kInt64, {static_cast<int64_t>(v.size())}).value());
  std::copy(v.begin(), v.end(), t.mutableAs<int64_t>());
  return t;
}

}  // namespace edgert::test
