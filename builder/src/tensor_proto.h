// ONNX TensorProto <-> HostTensor, with every size checked against the real data.
#pragma once

#include <string>

#include "edgert/internal/host_tensor.h"

namespace onnx {
class TensorProto;
}

namespace edgert {

// Converts a TensorProto; `base_dir` resolves external data (empty: external data is an
// error). `what` names the tensor in errors.
Result<HostTensor> tensorFromProto(const onnx::TensorProto& t, const std::string& base_dir,
                                   const std::string& what);

// Reads a serialised TensorProto file (.pb, as in ONNX's test data).
Result<HostTensor> readTensorProtoFile(const std::string& path);
// Reads a tensor file by extension: .npy or .pb (ONNX TensorProto).
Result<HostTensor> readTensorFile(const std::string& path);

// Maps an ONNX element type to ours; kUndefined when unsupported.
DataType dataTypeFromOnnx(int32_t onnx_type);

}  // namespace edgert
