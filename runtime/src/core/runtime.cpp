// Runtime, Engine and the CPU ExecutionContext.
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <sstream>
#include <unordered_map>

#include "../cpu/sgemm.h"
#include "edgert/edgert.h"
#include "edgert/internal/engine_model.h"
#include "edgert/internal/op.h"
#include "edgert/internal/str.h"
#include "engine_impl.h"
#include "image_input.h"
#include "layer_cost.h"

#ifndef EDGERT_VERSION_STRING
#define EDGERT_VERSION_STRING "0.0.0"
#endif

namespace edgert {

const char* versionString() {
  return EDGERT_VERSION_STRING;
}

const char* backendName(Backend b) {
  switch (b) {
    case Backend::kCpu:
      return "cpu";
    case Backend::kCuda:
      return "cuda";
    case Backend::kAuto:
      return "auto";
  }
  return "?";
}

Result<Backend> parseBackend(const std::string& name) {
  if (name == "cpu") return Backend::kCpu;
  if (name == "cuda") return Backend::kCuda;
  if (name == "auto") return Backend::kAuto;
  return Status(StatusCode::kInvalidArgument,
                strCat("unknown backend '", name, "' (expected cpu, cuda or auto)"));
}

namespace {

// Engine files beyond this are refused before reading (the largest vision models are
// far smaller); protects edge devices from allocating what a path merely points at.
constexpr uint64_t kMaxEngineBytes = uint64_t{8} << 30;

class CpuContext final : public ExecutionContext {
 public:
  static Result<std::unique_ptr<ExecutionContext>> create(std::shared_ptr<const EngineImpl> engine);
  void* tensorData(const std::string& name) override;
  Status setTensorAddress(const std::string& name, void* data) override;
  Status checkInputShape(const std::string& name, const Dims& dims) const override;
  Status setInput(const std::string& name, const void* host, size_t bytes) override;
  Status getOutput(const std::string& name, void* host, size_t bytes) override;
  Status setImageInput(const std::string& name, int batch, const ImageFrame& frame,
                       const ImagePlacement& placement) override;
  Backend backend() const override { return Backend::kCpu; }
  Status execute() override;
  Result<std::vector<double>> benchmark(int warmup, int iterations) override;
  Result<std::vector<LayerTiming>> profileLayers(int iterations) override;
  // The weights belong to the engine (shared by its contexts, read in place).
  // Weights: the engine's constants are shared by its contexts; what a context holds itself
  // are the copies its kernels repacked (the AVX-512 convolutions' weight panels).
  MemoryUse memoryUse() const override {
    size_t held = 0;
    for (const auto& k : kernels_) held += k->heldBytes();
    return {held, arena_bytes_, scratch_bytes_};
  }

 private:
  void bindViews();

  std::shared_ptr<const EngineImpl> engine_;
  AlignedBuffer arena_, scratch_;
  size_t arena_bytes_ = 0, scratch_bytes_ = 0;
  std::vector<std::unique_ptr<Kernel>> kernels_;
  std::vector<void*> tensor_ptr_;
  std::vector<std::vector<TensorView>> in_views_, out_views_;
};

}  // namespace

EngineImpl::EngineImpl(EngineModel m, std::string origin, Backend backend, LogCallback log)
    : model_(std::move(m)), origin_(std::move(origin)), backend_(backend), log_(std::move(log)) {
  for (const Binding& b : model_.graph.bindings) {
    const TensorEntry& t = model_.graph.tensors[b.tensor];
    TensorInfo info;
    info.name = t.name;
    info.is_input = b.is_input;
    info.dtype = t.dtype;
    info.dims = t.dims;
    info.model_dims = b.model_dims;
    info.dim_names = b.dim_names;
    bindings_.push_back(std::move(info));
  }
}

const TensorInfo* EngineImpl::binding(const std::string& name) const {
  for (const TensorInfo& b : bindings_)
    if (b.name == name) return &b;
  return nullptr;
}

size_t EngineImpl::weightBytes() const {
  size_t n = 0;
  for (const TensorEntry& t : model_.graph.tensors)
    if (t.isConstant()) n += t.constant->bytes();
  return n;
}

Result<std::unique_ptr<ExecutionContext>> EngineImpl::createExecutionContext() const {
  if (backend_ == Backend::kCuda) return createCudaContext(shared_from_this());
  return createCpuContext(shared_from_this());
}

NodeContext EngineImpl::nodeContext(size_t layer) const {
  return edgert::nodeContext(model_.graph, model_.graph.nodes[layer], true);
}

std::string describeEngine(const EngineModel& model_, const std::string& origin_) {
  const Graph& g = model_.graph;
  size_t weight_bytes = 0;
  for (const TensorEntry& t : g.tensors)
    if (t.isConstant()) weight_bytes += t.constant->bytes();
  std::ostringstream os;
  os << "engine      " << origin_ << "\n";
  os << "model       " << (g.name.empty() ? "(unnamed)" : g.name) << "  from " << model_.source
     << "\n";
  os << "built by    edgert " << model_.edgert_version << "\n";
  os << "target      " << model_.target.toString() << "\n";
  os << "options     " << model_.build_options_json << "\n";
  os << "memory      activations " << model_.plan.arena_bytes << " B (liveness-planned), scratch "
     << model_.plan.scratch_bytes << " B, weights " << weight_bytes << " B\n";
  os << "bindings\n";
  for (const Binding& bd : g.bindings) {
    const TensorEntry& te = g.tensors[bd.tensor];
    TensorInfo b;
    b.name = te.name;
    b.is_input = bd.is_input;
    b.dtype = te.dtype;
    b.dims = te.dims;
    b.model_dims = bd.model_dims;
    b.dim_names = bd.dim_names;
    os << "  " << (b.is_input ? "input " : "output") << "  " << b.name << "  "
       << dataTypeName(b.dtype) << " " << dimsToString(b.dims);
    if (b.model_dims != b.dims) {
      os << "  (model: ";
      for (size_t i = 0; i < b.model_dims.size(); ++i) {
        if (i) os << "x";
        if (b.model_dims[i] < 0)
          os << (i < b.dim_names.size() && !b.dim_names[i].empty() ? b.dim_names[i] : "?");
        else
          os << b.model_dims[i];
      }
      os << ")";
    }
    os << "\n";
  }
  os << "layers (" << g.nodes.size() << ")\n";
  auto tname = [&](int id) {
    if (id < 0) return std::string("-");
    const TensorEntry& t = g.tensors[id];
    // Activations with their element type: where an INT8 engine keeps float tensors shows.
    if (t.isConstant()) return strCat(t.name, "[const ", dimsToString(t.dims), "]");
    return strCat(t.name, "[", dimsToString(t.dims), " ", dataTypeName(t.dtype), "]");
  };
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    os << "  " << std::setw(4) << i << "  " << std::left << std::setw(18) << n.op << std::right
       << " " << n.name << "  " << n.precision << " " << n.tactic << "\n        in:";
    for (int t : n.inputs) os << " " << tname(t);
    os << "\n        out:";
    for (int t : n.outputs) {
      os << " " << tname(t);
      if (t >= 0 && !g.tensors[t].isConstant()) os << "@" << model_.plan.offsets[t];
    }
    os << "\n";
  }
  return os.str();
}

std::string EngineImpl::describe() const {
  return describeEngine(model_, origin_);
}

Result<std::unique_ptr<ExecutionContext>> CpuContext::create(
    std::shared_ptr<const EngineImpl> engine) {
  auto ctx = std::unique_ptr<CpuContext>(new CpuContext());
  ctx->engine_ = engine;
  const EngineModel& m = engine->model();
  const Graph& g = m.graph;
  ctx->arena_bytes_ = m.plan.arena_bytes;
  ctx->arena_ = allocateAligned(std::max<size_t>(ctx->arena_bytes_, 64));
  if (!ctx->arena_)
    return Status(StatusCode::kOutOfMemory,
                  strCat("cannot allocate the ", ctx->arena_bytes_, "-byte activation arena"));
  size_t scratch = 0;
  for (const Node& n : g.nodes) {
    const OpDef* def = findOp(n.op);
    const NodeContext nc = nodeContext(g, n, true);
    auto k = def->create_cpu(nc);
    if (!k.ok()) return k.status();
    scratch = std::max(scratch, k.value()->scratchBytes());
    ctx->kernels_.push_back(std::move(k).value());
  }
  ctx->scratch_bytes_ = scratch;
  if (scratch) {
    ctx->scratch_ = allocateAligned(scratch);
    if (!ctx->scratch_)
      return Status(StatusCode::kOutOfMemory,
                    strCat("cannot allocate ", scratch, " bytes of scratch"));
  }
  ctx->tensor_ptr_.resize(g.tensors.size());
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    ctx->tensor_ptr_[i] = g.tensors[i].isConstant()
                              ? const_cast<void*>(g.tensors[i].constant->data())
                              : ctx->arena_.get() + m.plan.offsets[i];
  }
  ctx->bindViews();
  return std::unique_ptr<ExecutionContext>(std::move(ctx));
}

void CpuContext::bindViews() {
  const Graph& g = engine_->model().graph;
  in_views_.assign(g.nodes.size(), {});
  out_views_.assign(g.nodes.size(), {});
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (int t : g.nodes[i].inputs) {
      TensorView v;
      if (t >= 0) v = TensorView{g.tensors[t].dtype, g.tensors[t].dims, tensor_ptr_[t]};
      in_views_[i].push_back(v);
    }
    // Trailing absent inputs are dropped so kernels can test in.size().
    while (!in_views_[i].empty() && in_views_[i].back().dtype == DataType::kUndefined)
      in_views_[i].pop_back();
    for (int t : g.nodes[i].outputs)
      out_views_[i].push_back(TensorView{g.tensors[t].dtype, g.tensors[t].dims, tensor_ptr_[t]});
  }
}

void* CpuContext::tensorData(const std::string& name) {
  const Graph& g = engine_->model().graph;
  for (const Binding& b : g.bindings)
    if (g.tensors[b.tensor].name == name) return tensor_ptr_[b.tensor];
  return nullptr;
}

Status CpuContext::setTensorAddress(const std::string& name, void* data) {
  const Graph& g = engine_->model().graph;
  if (!data)
    return Status(StatusCode::kInvalidArgument, strCat("null address for tensor '", name, "'"));
  for (const Binding& b : g.bindings) {
    if (g.tensors[b.tensor].name != name) continue;
    tensor_ptr_[b.tensor] = data;
    bindViews();
    return Status::Ok();
  }
  return Status(StatusCode::kNotFound,
                strCat("'", name, "' is not an input or output of this engine"));
}

Status checkInputShapeFor(const EngineImpl& engine, const std::string& name, const Dims& dims) {
  const TensorInfo* info = engine.binding(name);
  if (!info || !info->is_input)
    return Status(StatusCode::kNotFound, strCat("'", name, "' is not an input of this engine"));
  if (dims.size() != info->dims.size())
    return Status(StatusCode::kInvalidArgument,
                  strCat("input '", name, "': rank ", dims.size(), " (", dimsToString(dims),
                         ") but the engine expects ", dimsToString(info->dims)));
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == info->dims[i]) continue;
    const std::string dim_name = i < info->dim_names.size() && !info->dim_names[i].empty()
                                     ? strCat(" ('", info->dim_names[i], "')")
                                     : std::string();
    return Status(StatusCode::kInvalidArgument,
                  strCat("input '", name, "' dim ", i, dim_name, " is ", dims[i],
                         " but the engine was built for ", info->dims[i], " (shape ",
                         dimsToString(info->dims), "); rebuild with --shapes ", name, ":",
                         dimsToString(dims)));
  }
  return Status::Ok();
}

Status CpuContext::checkInputShape(const std::string& name, const Dims& dims) const {
  return checkInputShapeFor(*engine_, name, dims);
}

Status CpuContext::execute() {
  const Graph& g = engine_->model().graph;
  for (size_t i = 0; i < kernels_.size(); ++i) {
    KernelArgs args{in_views_[i], out_views_[i], scratch_.get()};
    Status st = kernels_[i]->run(args);
    if (!st.ok())
      return st.withContext(strCat("layer ", i, " (", g.nodes[i].op, " '", g.nodes[i].name, "')"));
  }
  // Outputs that are graph inputs or constants are aliased by the builder's Identity
  // layers, so nothing else to copy here.
  return Status::Ok();
}

Status checkBindingBytes(const EngineImpl& engine, const std::string& name, size_t bytes,
                         bool input) {
  const TensorInfo* info = engine.binding(name);
  if (!info || (input && !info->is_input))
    return Status(
        StatusCode::kNotFound,
        strCat("'", name, "' is not ", input ? "an input" : "a binding", " of this engine"));
  if (bytes != info->bytes())
    return Status(StatusCode::kInvalidArgument,
                  strCat(input ? "input '" : "output '", name, "': ", bytes,
                         " bytes given, the engine expects ", info->bytes()));
  return Status::Ok();
}

Status CpuContext::setInput(const std::string& name, const void* host, size_t bytes) {
  EDGERT_RETURN_IF_ERROR(checkBindingBytes(*engine_, name, bytes, true));
  if (bytes) std::memcpy(tensorData(name), host, bytes);
  return Status::Ok();
}

Status CpuContext::setImageInput(const std::string& name, int batch, const ImageFrame& frame,
                                 const ImagePlacement& placement) {
  EDGERT_ASSIGN_OR_RETURN(ImageJob job, prepareImageJob(*engine_, name, batch, frame, placement));
  runImageJobCpu(job.params, static_cast<float*>(tensorData(name)) + job.item_offset);
  return Status::Ok();
}

Status CpuContext::getOutput(const std::string& name, void* host, size_t bytes) {
  EDGERT_RETURN_IF_ERROR(checkBindingBytes(*engine_, name, bytes, false));
  if (bytes) std::memcpy(host, tensorData(name), bytes);
  return Status::Ok();
}

Result<std::vector<double>> CpuContext::benchmark(int warmup, int iterations) {
  for (int i = 0; i < warmup; ++i) EDGERT_RETURN_IF_ERROR(execute());
  std::vector<double> ms;
  for (int i = 0; i < iterations; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    EDGERT_RETURN_IF_ERROR(execute());
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return ms;
}

Result<std::vector<LayerTiming>> CpuContext::profileLayers(int iterations) {
  const Graph& g = engine_->model().graph;
  std::vector<std::vector<double>> t(kernels_.size());
  for (int it = 0; it < std::max(iterations, 1); ++it) {
    for (size_t i = 0; i < kernels_.size(); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      EDGERT_RETURN_IF_ERROR(
          kernels_[i]->run(KernelArgs{in_views_[i], out_views_[i], scratch_.get()}));
      t[i].push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  std::vector<LayerTiming> out;
  for (size_t i = 0; i < t.size(); ++i) {
    std::sort(t[i].begin(), t[i].end());
    const LayerCost cost = layerCost(g, g.nodes[i]);
    out.push_back(
        {g.nodes[i].name, g.nodes[i].op, "cpu-ref", t[i][t[i].size() / 2], cost.flops, cost.bytes});
  }
  return out;
}

Result<std::unique_ptr<ExecutionContext>> createCpuContext(
    std::shared_ptr<const EngineImpl> engine) {
  return CpuContext::create(std::move(engine));
}

#ifndef EDGERT_HAVE_CUDA
Result<std::unique_ptr<ExecutionContext>> createCudaContext(std::shared_ptr<const EngineImpl>) {
  return Status(StatusCode::kUnavailable, "this edgert was built without the CUDA backend");
}
Status cudaAvailable() {
  return Status(StatusCode::kUnavailable,
                "the CUDA backend is not available in this build of edgert (configure with "
                "-DEDGERT_WITH_CUDA=ON)");
}
std::vector<int> cudaDeviceSms() {
  return {};
}
bool cudaBackendCompiled() {
  return false;
}
bool cudaSupportsNode(const NodeContext&) {
  return false;
}
Result<std::vector<TacticTime>> cudaTimeTactics(const NodeContext&) {
  return std::vector<TacticTime>{};
}
std::string cudaDeviceName() {
  return "";
}
std::string cudaTacticSetId() {
  return "";
}
size_t cudaFreeDeviceMemory() {
  return 0;
}
#endif

namespace {

class RuntimeImpl final : public Runtime {
 public:
  RuntimeImpl(Backend b, LogCallback log) : backend_(b), log_(std::move(log)) {}
  Backend backend() const override { return backend_; }

  Result<std::shared_ptr<const Engine>> loadEngine(const std::string& path) const override {
    auto bytes = readFileBytes(path, kMaxEngineBytes);
    if (!bytes.ok()) return bytes.status();
    return load(std::move(bytes).value(), path);
  }

  Result<std::shared_ptr<const Engine>> deserializeEngine(
      const void* data, size_t size, const std::string& origin) const override {
    auto bytes = copyFileBytes(data, size, origin);
    if (!bytes.ok()) return bytes.status();
    return load(std::move(bytes).value(), origin);
  }

 private:
  Result<std::shared_ptr<const Engine>> load(std::shared_ptr<const FileBytes> bytes,
                                             const std::string& origin) const {
    auto model = edgert::deserializeEngine(std::move(bytes), origin);
    if (!model.ok()) return model.status();
    const EngineTarget& t = model->target;
    // kAuto runs an engine on the backend it was built for, when this machine has it.
    Backend use = backend_;
    if (use == Backend::kAuto) use = t.backend == "cuda" ? Backend::kCuda : Backend::kCpu;
    if (t.backend != backendName(use))
      return Status(
          StatusCode::kTargetMismatch,
          strCat(origin, ": engine was built for target ", t.toString(),
                 " but this runtime uses the ", backendName(use),
                 " backend; rebuild with --target ", use == Backend::kCpu ? "cpu" : "host"));
    if (t.cpu_arch != "any" && t.cpu_arch != hostCpuArch())
      return Status(StatusCode::kTargetMismatch,
                    strCat(origin, ": engine was built for ", t.cpu_arch, " but this machine is ",
                           hostCpuArch()));
    if (use == Backend::kCuda) {
      Status st = cudaAvailable();
      if (!st.ok()) return st.withContext(strCat(origin, ": engine targets ", t.toString()));
      const std::vector<int> sms = cudaDeviceSms();
      const int sm = sms.empty() ? 0 : sms[0];
      bool match = false;
      for (int s : t.sm) match |= s == sm;
      if (!match)
        return Status(
            StatusCode::kTargetMismatch,
            strCat(origin, ": engine was built for ", t.toString(), " but this GPU is sm_", sm,
                   "; rebuild with --target host (or --target sm_", sm, ")"));
    }
    return std::shared_ptr<const Engine>(
        std::make_shared<EngineImpl>(std::move(model).value(), origin, use, log_));
  }

  Backend backend_;
  LogCallback log_;
};

void defaultLog(LogSeverity s, const std::string& msg) {
  if (s == LogSeverity::kError || s == LogSeverity::kWarning)
    std::fprintf(stderr, "edgert: %s: %s\n", s == LogSeverity::kError ? "error" : "warning",
                 msg.c_str());
}

}  // namespace

Result<std::unique_ptr<Runtime>> Runtime::create(const RuntimeOptions& options) {
  LogCallback log = options.log ? options.log : LogCallback(defaultLog);
  Backend b = options.backend;
  if (b == Backend::kCuda) {
    Status st = cudaAvailable();
    if (!st.ok()) return st;
  }
  if (b == Backend::kAuto) {
    Status st = cudaAvailable();
    if (!st.ok()) {
      log(LogSeverity::kInfo,
          strCat("backend auto: CUDA unavailable (", st.message(), "), using cpu"));
      b = Backend::kCpu;
    }
  }
  return std::unique_ptr<Runtime>(new RuntimeImpl(b, std::move(log)));
}

}  // namespace edgert
