// The op interface. One op = its definition (arity, build-time-constant inputs, shape
// inference that also validates every attribute) + a CPU kernel, registered by name in
// the table the build generates (cmake/EdgertOps.cmake). Shape inference is the gate:
// the builder runs it on import and the loader re-runs it on every engine, so a kernel
// only ever sees attributes and shapes that passed it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgert/internal/attributes.h"
#include "edgert/internal/host_tensor.h"
#include "edgert/internal/str.h"
#include "edgert/status.h"
#include "edgert/types.h"

namespace edgert {

// What is known about one input or output of a node.
struct ValueInfo {
  bool present = false;  // optional inputs may be absent
  DataType dtype = DataType::kUndefined;
  Dims dims;
  const HostTensor* constant = nullptr;  // set when the value is known at build time
};

// Shape inference and kernel creation see a node through this.
struct NodeContext {
  std::string_view op;
  std::string_view name;
  const AttrMap* attrs = nullptr;
  std::vector<ValueInfo> in;
  std::vector<ValueInfo> out;  // inference fills these
  size_t num_outputs = 1;      // outputs the node declares (Split needs it)
  bool fp16 = false;           // the builder chose FP16 for this layer (CUDA tensor cores)
  // The implementation the builder chose by timing ("cudnn-fp32-algo1", "cublaslt-1x1"...);
  // a backend that cannot honour it picks by heuristic, unless `strict_tactic` (timing).
  std::string_view tactic;
  bool strict_tactic = false;
  // CUDA backend: which inputs a layer before this one already holds as NHWC (fp16 / int8);
  // empty elsewhere. A layer that can read NCHW float32 itself (the quantisation of a
  // network's image input) does so only where no NHWC copy exists.
  std::vector<bool> in_nhwc;

  size_t numInputs() const { return in.size(); }
  bool has(size_t i) const { return i < in.size() && in[i].present; }
  DataType dtype(size_t i) const { return in[i].dtype; }
  const Dims& dims(size_t i) const { return in[i].dims; }
  int rank(size_t i) const { return static_cast<int>(in[i].dims.size()); }
  const HostTensor* constant(size_t i) const { return has(i) ? in[i].constant : nullptr; }
  void setOutput(size_t i, DataType t, Dims d) {
    if (out.size() <= i) out.resize(i + 1);
    out[i].present = true;
    out[i].dtype = t;
    out[i].dims = std::move(d);
  }
  // Errors name the op and node: "Conv 'conv1': ...".
  template <class... A>
  Status error(StatusCode code, const A&... a) const {
    return Status(code, strCat(op, " '", name, "': ", a...));
  }
  template <class... A>
  Status invalid(const A&... a) const {
    return error(StatusCode::kInvalidArgument, a...);
  }
  template <class... A>
  Status unsupported(const A&... a) const {
    return error(StatusCode::kUnsupported, a...);
  }
};

// A view of a tensor's memory while a kernel runs.
struct TensorView {
  DataType dtype = DataType::kUndefined;
  Dims dims;
  void* data = nullptr;
  int64_t numel() const { return volume(dims); }
  size_t bytes() const { return static_cast<size_t>(numel()) * dataTypeSize(dtype); }
  template <class T>
  T* as() const {
    return static_cast<T*>(data);
  }
};

struct KernelArgs {
  std::span<const TensorView> in;  // absent optional inputs have data == nullptr
  std::span<const TensorView> out;
  void* scratch = nullptr;  // scratchBytes() of per-context memory
};

// A kernel instance for one node with its shapes fixed; attributes are parsed once when
// the execution context is created, so run() does no parsing and no allocation.
class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual size_t scratchBytes() const { return 0; }
  // Memory the kernel keeps for itself for the context's life (weights repacked for its
  // inner loop), counted in the context's memory use.
  virtual size_t heldBytes() const { return 0; }
  virtual Status run(const KernelArgs& args) const = 0;
};

struct OpDef {
  const char* name;
  int min_inputs;
  int max_inputs;  // -1: variadic
  int min_outputs;
  int max_outputs;
  uint32_t const_inputs;  // bit i set: input i must be known at build time (shape, axes...)
  Status (*infer)(NodeContext& ctx);
  // Called with ctx.out filled by infer().
  Result<std::unique_ptr<Kernel>> (*create_cpu)(const NodeContext& ctx);
};

// Every registered op (generated table), and lookup by ONNX op type.
std::span<const OpDef* const> allOps();
const OpDef* findOp(std::string_view name);
// Ops only builder passes create (fused layers): never imported from ONNX or listed.
inline bool isInternalOp(std::string_view name) {
  return name.rfind("Edgert", 0) == 0;
}

// Arity + const-input checks, then the op's own infer(). Used by builder and loader.
Status inferNode(const OpDef& def, NodeContext& ctx);

}  // namespace edgert
