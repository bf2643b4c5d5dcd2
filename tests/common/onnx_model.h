// Builds one-node ONNX models in memory so op tests go through the real importer.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

#include "edgert/internal/host_tensor.h"

namespace edgert::test {

class OnnxGraph {
 public:
  explicit OnnxGraph(int opset = 17) : opset_(opset) {}
  // A runtime input.
  OnnxGraph& input(const std::string& name, DataType dt, const Dims& dims);
  // A constant (initializer).
  OnnxGraph& constant(const std::string& name, const HostTensor& t);
  OnnxGraph& node(const std::string& op, const std::vector<std::string>& inputs,
                  const std::vector<std::string>& outputs,
                  std::vector<onnx::AttributeProto> attrs = {});
  OnnxGraph& output(const std::string& name);
  // Writes the model to a unique temporary file and returns its path.
  std::string save(const std::string& stem) const;
  onnx::ModelProto& proto() { return model_; }

 private:
  int opset_;
  onnx::ModelProto model_;
};

onnx::AttributeProto attrInt(const std::string& name, int64_t v);
onnx::AttributeProto attrFloat(const std::string& name, float v);
onnx::AttributeProto attrString(const std::string& name, const std::string& v);
onnx::AttributeProto attrInts(const std::string& name, const std::vector<int64_t>& v);

HostTensor ints1d(const std::vector<int64_t>& v);

}  // namespace edgert::test
