// The Engine implementation shared by the backends' execution contexts.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "edgert/edgert.h"
#include "edgert/internal/backends.h"
#include "edgert/internal/engine_model.h"
#include "edgert/internal/op.h"

namespace edgert {

class EngineImpl final : public Engine, public std::enable_shared_from_this<EngineImpl> {
 public:
  EngineImpl(EngineModel m, std::string origin, Backend backend, LogCallback log = {});
  // Warnings from context creation (e.g. a layer that cannot run in its chosen precision).
  void log(LogSeverity s, const std::string& msg) const {
    if (log_) log_(s, msg);
  }
  const std::vector<TensorInfo>& bindings() const override { return bindings_; }
  const TensorInfo* binding(const std::string& name) const override;
  size_t weightBytes() const override;
  std::string describe() const override;
  Result<std::unique_ptr<ExecutionContext>> createExecutionContext() const override;

  const EngineModel& model() const { return model_; }
  const std::string& origin() const { return origin_; }
  Backend backend() const { return backend_; }
  // Shape-inferred view of a layer for kernel creation (outputs filled from the graph).
  NodeContext nodeContext(size_t layer) const;

  // Backend-specific state built once per engine (the CUDA backend's device weights).
  std::mutex& backendMutex() const { return backend_mu_; }
  std::shared_ptr<void>& backendState() const { return backend_state_; }

 private:
  EngineModel model_;
  std::string origin_;
  Backend backend_;
  LogCallback log_;
  std::vector<TensorInfo> bindings_;
  mutable std::mutex backend_mu_;
  mutable std::shared_ptr<void> backend_state_;
};

// The shape check both backends' contexts use: names the input, dim and expected value.
Status checkInputShapeFor(const EngineImpl& engine, const std::string& name, const Dims& dims);

// setInput/getOutput's argument check, shared by the backends: the binding exists (an
// input when `input`), and `bytes` is its size.
Status checkBindingBytes(const EngineImpl& engine, const std::string& name, size_t bytes,
                         bool input);

Result<std::unique_ptr<ExecutionContext>> createCpuContext(
    std::shared_ptr<const EngineImpl> engine);
Result<std::unique_ptr<ExecutionContext>> createCudaContext(
    std::shared_ptr<const EngineImpl> engine);

}  // namespace edgert
