// edgert runtime API, in the spirit of TensorRT:
//
//   auto rt = edgert::Runtime::create({.backend = edgert::Backend::kAuto});
//   auto engine = rt.value()->loadEngine("model.engine");     // verified before use
//   auto ctx = engine.value()->createExecutionContext();      // owns its activation arena
//   std::memcpy(ctx.value()->tensorData("input"), pixels, bytes);
//   ctx.value()->execute();                                   // no allocation per call
//   const float* logits = static_cast<const float*>(ctx.value()->tensorData("logits"));
//
// An Engine is immutable and may be shared by threads; an ExecutionContext belongs to
// one thread (or stream) at a time. Every failure is a Status naming what and where.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "edgert/image_input.h"
#include "edgert/status.h"
#include "edgert/types.h"

namespace edgert {

// "0.1.0"
const char* versionString();

enum class Backend {
  kCpu,   // the reference backend: exact, runs everywhere
  kCuda,  // NVIDIA GPUs; an error if no GPU or CUDA driver is present
  kAuto,  // CUDA when available, else CPU (logged once)
};
const char* backendName(Backend b);
// Parses "cpu", "cuda" or "auto".
Result<Backend> parseBackend(const std::string& name);

enum class LogSeverity { kError, kWarning, kInfo, kVerbose };
using LogCallback = std::function<void(LogSeverity, const std::string&)>;

// Description of one input or output binding of an engine.
struct TensorInfo {
  std::string name;
  bool is_input = false;
  DataType dtype = DataType::kUndefined;
  Dims dims;                           // the shape the engine was built for
  Dims model_dims;                     // the shape declared by the model (-1 = dynamic)
  std::vector<std::string> dim_names;  // symbolic names of model dims ("" if none)
  size_t bytes() const { return static_cast<size_t>(volume(dims)) * dataTypeSize(dtype); }
};

// Time spent in one layer (ExecutionContext::profileLayers).
struct LayerTiming {
  std::string name;
  std::string op;
  std::string tactic;
  double ms = 0;  // median over the profiled runs
  // What the layer's shapes imply at least: arithmetic (a multiply-add counts two; 0 for ops
  // that do little) and bytes of inputs, weights and outputs moved once in the layer's
  // precision. Divided by `ms` they place the layer against the device's roofline.
  double flops = 0;
  double bytes = 0;
};

class ExecutionContext {
 public:
  virtual ~ExecutionContext() = default;
  // The buffer the context owns for an input or output: host memory for the CPU backend,
  // a device pointer (CUdeviceptr) for the CUDA backend. Null if `name` is no binding.
  virtual void* tensorData(const std::string& name) = 0;
  // Use caller memory for a binding instead of the context's own buffer (zero copy): host
  // memory for the CPU backend, device memory for the CUDA backend. It must hold
  // TensorInfo::bytes() and stay valid while executing.
  virtual Status setTensorAddress(const std::string& name, void* data) = 0;
  // Copies host data into an input / an output into host memory, on any backend. `bytes`
  // must equal TensorInfo::bytes().
  virtual Status setInput(const std::string& name, const void* host, size_t bytes) = 0;
  virtual Status getOutput(const std::string& name, void* host, size_t bytes) = 0;
  // Writes one frame into batch item `batch` of an image input (float32, [N, C, H, W] or
  // [N, H, W, C] with C = 1 or 3): see image_input.h. On the CUDA backend it is queued on
  // the context's stream ahead of the next execute().
  virtual Status setImageInput(const std::string& name, int batch, const ImageFrame& frame,
                               const ImagePlacement& placement) = 0;
  // The backend this context runs on.
  virtual Backend backend() const = 0;
  // Checks the shape a caller means to feed; the error names the input, dim and expected
  // value when it differs from what the engine was built for.
  virtual Status checkInputShape(const std::string& name, const Dims& dims) const = 0;
  // Runs the network synchronously.
  virtual Status execute() = 0;
  // Runs `warmup` then `iterations` executions and returns each one's time in ms: CUDA
  // events around each launch on the CUDA backend (graph replay included), a steady
  // clock on the CPU backend. For `edgert bench`.
  virtual Result<std::vector<double>> benchmark(int warmup, int iterations) = 0;
  // Runs the network layer by layer (no CUDA graph) `iterations` times and returns each
  // layer's median time, for finding where the time goes (`edgert bench --per-layer`).
  virtual Result<std::vector<LayerTiming>> profileLayers(int iterations) = 0;
  // Memory this context holds (device memory on the CUDA backend, host memory on the CPU
  // backend), by purpose; `edgert bench` prints it.
  struct MemoryUse {
    size_t weights = 0;      // constants in the layout and precision the layers read them
    size_t activations = 0;  // the arena: inputs, outputs and intermediate tensors
    size_t workspace = 0;    // what layer scratch (cuDNN / cuBLASLt workspaces) adds to the
                             // arena, where it shares bytes with activations dead by then
    size_t total() const { return weights + activations + workspace; }
  };
  virtual MemoryUse memoryUse() const = 0;
  size_t deviceMemoryBytes() const { return memoryUse().total(); }
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual const std::vector<TensorInfo>& bindings() const = 0;
  virtual const TensorInfo* binding(const std::string& name) const = 0;
  // Human-readable, layer by layer (what `edgert inspect` prints).
  virtual std::string describe() const = 0;
  // Bytes of constant weights the engine holds.
  virtual size_t weightBytes() const = 0;
  virtual Result<std::unique_ptr<ExecutionContext>> createExecutionContext() const = 0;
};

struct RuntimeOptions {
  Backend backend = Backend::kAuto;
  LogCallback log;  // optional; default writes warnings and errors to stderr
};

class Runtime {
 public:
  virtual ~Runtime() = default;
  static Result<std::unique_ptr<Runtime>> create(const RuntimeOptions& options = {});
  // The backend actually in use (kAuto resolved).
  virtual Backend backend() const = 0;
  // Loads and verifies an engine file: checksum, format version, target, structure and
  // shapes. Any problem is an error naming the file and the cause.
  virtual Result<std::shared_ptr<const Engine>> loadEngine(const std::string& path) const = 0;
  // The same from bytes in memory; `origin` names them in errors.
  virtual Result<std::shared_ptr<const Engine>> deserializeEngine(
      const void* data, size_t size, const std::string& origin = "<memory>") const = 0;
};

}  // namespace edgert
