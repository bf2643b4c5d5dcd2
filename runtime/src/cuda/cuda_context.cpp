// The CUDA execution context: device arena, the engine's constants shared by its contexts,
// one stream, layers enqueued without host syncs or allocation, and the whole network replayed
// as a CUDA graph when every layer runs on the GPU.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>

#include <xxhash.h>

#include "../core/engine_impl.h"
#include "../core/image_input.h"
#include "../core/layer_cost.h"
#include "conv_f16_mma.h"
#include "conv_f16_tma.h"
#include "cuda_libs.h"
#include "cuda_ops.h"
#include "edgert/internal/str.h"

extern const unsigned char edgert_kernels_fatbin[];
extern const size_t edgert_kernels_fatbin_size;

namespace edgert {

namespace cuda {
namespace {

struct Process {
  std::mutex mu;
  bool ready = false;
  Status status;
  CUcontext ctx = nullptr;
  CUmodule module = nullptr;
  std::map<std::string, CUfunction> fns;
  std::map<std::string, int> smem_allowed;  // per kernel: the largest dynamic shared memory allowed
};
Process& process() {
  static Process p;
  return p;
}

// Primary context of device 0 and the embedded kernels, loaded once per process.
Status initProcess() {
  Process& p = process();
  std::lock_guard<std::mutex> lock(p.mu);
  if (p.ready) return p.status;
  p.ready = true;
  auto d = driver();
  if (!d.ok()) return p.status = d.status();
  const Driver* dr = d.value();
  CUdevice dev;
  if (!(p.status = dr->check(dr->cuDeviceGet(&dev, 0), "cuDeviceGet")).ok()) return p.status;
  if (!(p.status = dr->check(dr->cuDevicePrimaryCtxRetain(&p.ctx, dev), "cuDevicePrimaryCtxRetain"))
           .ok())
    return p.status;
  if (!(p.status = dr->check(dr->cuCtxSetCurrent(p.ctx), "cuCtxSetCurrent")).ok()) return p.status;
  p.status = dr->check(dr->cuModuleLoadData(&p.module, edgert_kernels_fatbin),
                       "cuModuleLoadData (the embedded kernels have no code for this GPU)");
  return p.status;
}

Result<CUfunction> function(const Driver* d, const char* name) {
  Process& p = process();
  std::lock_guard<std::mutex> lock(p.mu);
  auto it = p.fns.find(name);
  if (it != p.fns.end()) return it->second;
  CUfunction f;
  EDGERT_RETURN_IF_ERROR(d->check(d->cuModuleGetFunction(&f, p.module, name), name));
  p.fns[name] = f;
  return f;
}

}  // namespace

Status launch(const Env& env, const char* kernel, long long threads, void** args, unsigned block,
              unsigned grid_override) {
  EDGERT_ASSIGN_OR_RETURN(CUfunction f, function(env.d, kernel));
  unsigned grid = grid_override;
  if (!grid)
    grid = static_cast<unsigned>(std::min<long long>((threads + block - 1) / block, 65535LL * 8));
  if (grid == 0) return Status::Ok();
  return env.d->check(
      env.d->cuLaunchKernel(f, grid, 1, 1, block, 1, 1, 0, env.stream, args, nullptr), kernel);
}

Status launchGrid(const Env& env, const char* kernel, unsigned gx, unsigned gy, unsigned bx,
                  unsigned by, void** args, unsigned gz, unsigned smem) {
  EDGERT_ASSIGN_OR_RETURN(CUfunction f, function(env.d, kernel));
  if (!gx || !gy || !gz) return Status::Ok();
  return env.d->check(
      env.d->cuLaunchKernel(f, gx, gy, gz, bx, by, 1, smem, env.stream, args, nullptr), kernel);
}

Status launchCluster(const Env& env, const char* kernel, unsigned gx, unsigned gy, unsigned gz,
                     unsigned bx, unsigned cluster_z, void** args, unsigned smem) {
  if (!env.d->cuLaunchKernelEx)
    return Status(StatusCode::kUnavailable, "the CUDA driver lacks cuLaunchKernelEx (clusters)");
  EDGERT_ASSIGN_OR_RETURN(CUfunction f, function(env.d, kernel));
  if (!gx || !gy || !gz) return Status::Ok();
  CUlaunchAttribute attr{};
  attr.id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
  attr.value.clusterDim.x = 1;
  attr.value.clusterDim.y = 1;
  attr.value.clusterDim.z = cluster_z;
  CUlaunchConfig cfg{};
  cfg.gridDimX = gx;
  cfg.gridDimY = gy;
  cfg.gridDimZ = gz;
  cfg.blockDimX = bx;
  cfg.blockDimY = 1;
  cfg.blockDimZ = 1;
  cfg.sharedMemBytes = smem;
  cfg.hStream = env.stream;
  cfg.attrs = &attr;
  cfg.numAttrs = 1;
  return env.d->check(env.d->cuLaunchKernelEx(&cfg, f, args, nullptr), kernel);
}

Status allowLargeClusters(const Env& env, const char* kernel) {
  EDGERT_ASSIGN_OR_RETURN(CUfunction f, function(env.d, kernel));
  return env.d->check(
      env.d->cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 1),
      strCat("cuFuncSetAttribute (", kernel, ": clusters of more than 8 blocks)").c_str());
}

Status allowDynamicSmem(const Env& env, const char* kernel, int bytes) {
  EDGERT_ASSIGN_OR_RETURN(CUfunction f, function(env.d, kernel));
  // The attribute is the function's, for the whole process: a layer that needs less must not
  // lower it under another layer of the same kernel that needs more.
  Process& p = process();
  std::lock_guard<std::mutex> lock(p.mu);
  int& allowed = p.smem_allowed[kernel];
  if (bytes <= allowed) return Status::Ok();
  EDGERT_RETURN_IF_ERROR(env.d->check(
      env.d->cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes),
      strCat("cuFuncSetAttribute (", kernel, ": ", bytes, " bytes of shared memory)").c_str()));
  allowed = bytes;
  return Status::Ok();
}

namespace {

// Device copies of an engine's constants, shared by its contexts.
struct DeviceWeights {
  const Driver* d = nullptr;
  CUdeviceptr base = 0;
  size_t bytes = 0;
  std::vector<CUdeviceptr> ptr;  // per tensor (0 for activations)
  ~DeviceWeights() {
    if (base) d->cuMemFree(base);
  }
};

// `needed`: the constants some layer reads on the device (NHWC fp16 convolutions keep their
// own fp16 weights). Every context of an engine makes the same layer choices, so the first
// one's set serves all.
Result<std::shared_ptr<DeviceWeights>> deviceWeights(const EngineImpl& e, const Driver* d,
                                                     const std::vector<bool>& needed) {
  std::lock_guard<std::mutex> lock(e.backendMutex());
  if (e.backendState()) return std::static_pointer_cast<DeviceWeights>(e.backendState());
  const Graph& g = e.model().graph;
  auto w = std::make_shared<DeviceWeights>();
  w->d = d;
  w->ptr.assign(g.tensors.size(), 0);
  std::vector<size_t> off(g.tensors.size(), 0);
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    if (!g.tensors[i].isConstant() || !needed[i]) continue;
    off[i] = w->bytes;
    w->bytes += (g.tensors[i].constant->bytes() + 255) / 256 * 256;
  }
  if (w->bytes) {
    EDGERT_RETURN_IF_ERROR(d->check(d->cuMemAlloc(&w->base, w->bytes), "cuMemAlloc (weights)"));
    for (size_t i = 0; i < g.tensors.size(); ++i) {
      if (!g.tensors[i].isConstant() || !needed[i]) continue;
      w->ptr[i] = w->base + off[i];
      const HostTensor& t = *g.tensors[i].constant;
      if (t.bytes())
        EDGERT_RETURN_IF_ERROR(
            d->check(d->cuMemcpyHtoD(w->ptr[i], t.data(), t.bytes()), "upload weights"));
    }
  }
  e.backendState() = w;
  return w;
}

class CudaContext final : public ExecutionContext {
 public:
  ~CudaContext() override;
  static Result<std::unique_ptr<ExecutionContext>> create(std::shared_ptr<const EngineImpl> engine);
  void* tensorData(const std::string& name) override;
  Status setTensorAddress(const std::string& name, void* data) override;
  Status setInput(const std::string& name, const void* host, size_t bytes) override;
  Status getOutput(const std::string& name, void* host, size_t bytes) override;
  Status setImageInput(const std::string& name, int batch, const ImageFrame& frame,
                       const ImagePlacement& placement) override;
  Status checkInputShape(const std::string& name, const Dims& dims) const override {
    return checkInputShapeFor(*engine_, name, dims);
  }
  Backend backend() const override { return Backend::kCuda; }
  Status execute() override;
  Result<std::vector<double>> benchmark(int warmup, int iterations) override;
  Result<std::vector<LayerTiming>> profileLayers(int iterations) override;
  // Layer-owned uploads are weight copies in the layer's own layout (fp16 KRSC filters).
  MemoryUse memoryUse() const override {
    return {owned_bytes_ + (weights_ ? weights_->bytes : 0), arena_bytes_ - scratch_bytes_,
            scratch_bytes_};
  }

 private:
  // A graph node's layer, or a layout conversion of one tensor (node -1) between NCHW
  // float32 and the NHWC fp16 of FP16 layers.
  struct Layer {
    int node = -1;
    std::unique_ptr<GpuLayer> gpu;
    std::unique_ptr<Kernel> cpu;    // fallback
    std::vector<int> in_t, out_t;   // tensor ids (-1: absent optional input)
    std::vector<bool> in_h, out_h;  // read / written as NHWC fp16
    std::vector<CUdeviceptr> in, out;
    CUdeviceptr scratch = 0;  // the layer's workspace, in the arena (see planArena)
  };
  Status planLayouts(std::vector<Layer> node_layers);
  Status planArena();
  void aliasRangeCopies(std::vector<LiveBuffer>& live, BufferAliases& alias,
                        const std::vector<bool>& written_in_place) const;
  CUdeviceptr pointerOf(int t, bool half) const;
  std::string layerName(const Layer& L) const;
  Status enqueueLayer(Layer& L);
  Status enqueueAll();
  Status runFallback(Layer& L);
  void bindPointers();
  int bindingTensor(const std::string& name) const;

  std::shared_ptr<const EngineImpl> engine_;
  std::shared_ptr<DeviceWeights> weights_;
  Env env_;
  std::vector<CUdeviceptr> owned_;
  CUdeviceptr arena_ = 0;
  size_t arena_bytes_ = 0, scratch_bytes_ = 0, owned_bytes_ = 0;
  std::vector<CUdeviceptr> tensor_ptr_;
  // Layouts: the copy a tensor's producer writes (home), and each tensor's NHWC fp16 copy
  // (0 if none); tensor_ptr_ holds the NCHW float32 copies (bindings: the caller's).
  std::vector<bool> home_half_;
  std::vector<CUdeviceptr> half_ptr_;
  std::vector<Layer> layers_;
  bool has_fallback_ = false;
  AlignedBuffer staging_;
  AlignedBuffer cpu_scratch_;
  size_t runs_ = 0;
  CUgraph graph_ = nullptr;
  CUgraphExec graph_exec_ = nullptr;
  CUdeviceptr frame_ = 0;  // staging for setImageInput, grown to the largest frame
  size_t frame_bytes_ = 0;
};

CudaContext::~CudaContext() {
  const Driver* d = env_.d;
  if (!d) return;
  d->cuCtxSetCurrent(process().ctx);
  if (env_.stream) d->cuStreamSynchronize(env_.stream);
  if (graph_exec_) d->cuGraphExecDestroy(graph_exec_);
  if (graph_) d->cuGraphDestroy(graph_);
  layers_.clear();  // descriptors before handles
  if (env_.dnn_handle) env_.dnn->cudnnDestroy(env_.dnn_handle);
  if (env_.lt_handle) env_.lt->cublasLtDestroy(env_.lt_handle);
  for (CUdeviceptr p : owned_) d->cuMemFree(p);
  if (frame_) d->cuMemFree(frame_);
  if (arena_) d->cuMemFree(arena_);
  if (env_.stream) d->cuStreamDestroy(env_.stream);
}

}  // namespace

// Libraries, the process context, a stream and the cuDNN / cuBLASLt handles on it; the
// caller destroys what was created (also on failure).
Status initEnv(Env& env, std::vector<CUdeviceptr>* owned) {
  EDGERT_RETURN_IF_ERROR(initProcess());
  EDGERT_ASSIGN_OR_RETURN(env.d, driver());
  EDGERT_ASSIGN_OR_RETURN(env.dnn, cudnn());
  EDGERT_ASSIGN_OR_RETURN(env.lt, cublasLt());
  const Driver* d = env.d;
  EDGERT_RETURN_IF_ERROR(d->check(d->cuCtxSetCurrent(process().ctx), "cuCtxSetCurrent"));
  env.owned = owned;
  EDGERT_ASSIGN_OR_RETURN(const DeviceInfo info, deviceInfo());
  env.sm = info.sm;
  env.sm_count = info.sm_count;
  env.smem_optin = info.smem_optin;
  env.smem_per_sm = info.smem_per_sm;
  EDGERT_RETURN_IF_ERROR(
      d->check(d->cuStreamCreate(&env.stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate"));
  EDGERT_RETURN_IF_ERROR(env.dnn->check(env.dnn->cudnnCreate(&env.dnn_handle), "cudnnCreate"));
  EDGERT_RETURN_IF_ERROR(
      env.dnn->check(env.dnn->cudnnSetStream(env.dnn_handle, env.stream), "cudnnSetStream"));
  return env.lt->check(env.lt->cublasLtCreate(&env.lt_handle), "cublasLtCreate");
}

namespace {

Result<std::unique_ptr<ExecutionContext>> CudaContext::create(
    std::shared_ptr<const EngineImpl> engine) {
  auto ctx = std::unique_ptr<CudaContext>(new CudaContext());
  ctx->engine_ = engine;
  Env& env = ctx->env_;
  EDGERT_RETURN_IF_ERROR(initEnv(env, &ctx->owned_));
  env.owned_bytes = &ctx->owned_bytes_;
  const Driver* d = env.d;
  const EngineModel& m = engine->model();
  const Graph& g = m.graph;
  size_t cpu_scratch = 0, staging = 0;
  std::vector<bool> home_half(g.tensors.size(), false);
  std::vector<Layer> node_layers;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    NodeContext nc = engine->nodeContext(i);
    Layer L;
    L.node = static_cast<int>(i);
    // FP16 engines: NHWC fp16 for convolutions, and for the layers after them that have an
    // NHWC kernel (so conversions happen only where the chain of such layers ends).
    if (nc.fp16) {
      if (GpuFactory hf = findHalfNhwcOp(nc)) {
        // Convolutions start a chain, and so does an fp16 input binding's Cast; in INT8
        // engines INT8 convolutions and the quantisation of their float inputs.
        bool follow = nc.op == "Conv" || nc.op == "Cast" || nc.op == "EdgertQConv" ||
                      nc.op == "QuantizeLinear";
        for (size_t k = 0; k < nc.in.size(); ++k) {
          const int t = g.nodes[i].inputs[k];
          nc.in_nhwc.push_back(t >= 0 && home_half[t]);
          follow |= nc.in_nhwc.back();
        }
        if (follow) {
          auto layer = hf(nc, env);
          if (layer.ok())
            L.gpu = std::move(layer).value();
          else if (std::getenv("EDGERT_VERBOSE"))
            engine->log(LogSeverity::kInfo,
                        strCat("layer ", i, " (", nc.op, " '", nc.name,
                               "') keeps NCHW fp32: ", layer.status().message()));
        }
      }
    }
    if (!L.gpu) {
      if (GpuFactory f = findGpuOp(nc)) {
        auto layer = f(nc, env);
        if (!layer.ok() && nc.fp16) {  // no FP16 algorithm for this shape: the layer stays FP32
          engine->log(LogSeverity::kWarning, strCat("layer ", i, " (", nc.op, " '", nc.name,
                                                    "') runs in fp32: ", layer.status().message()));
          nc.fp16 = false;
          layer = f(nc, env);
        }
        if (!layer.ok())
          engine->log(LogSeverity::kWarning,
                      strCat("layer ", i, " (", nc.op, " '", nc.name,
                             "') runs on the CPU: ", layer.status().message()));
        if (layer.ok()) L.gpu = std::move(layer).value();
      }
    }
    if (L.gpu) {
      if (std::getenv("EDGERT_VERBOSE"))
        engine->log(LogSeverity::kInfo,
                    strCat("layer ", i, " (", nc.op, " '", nc.name, "'): ", L.gpu->tactic()));
    } else {
      EDGERT_ASSIGN_OR_RETURN(L.cpu, findOp(nc.op)->create_cpu(nc));
      cpu_scratch = std::max(cpu_scratch, L.cpu->scratchBytes());
      size_t bytes = 0;
      for (const ValueInfo& v : nc.in)
        if (v.present) bytes += (volume(v.dims) * dataTypeSize(v.dtype) + 63) / 64 * 64;
      for (const ValueInfo& v : nc.out)
        bytes += (volume(v.dims) * dataTypeSize(v.dtype) + 63) / 64 * 64;
      staging = std::max(staging, bytes);
      ctx->has_fallback_ = true;
    }
    L.in_t = g.nodes[i].inputs;
    L.out_t = g.nodes[i].outputs;
    for (size_t k = 0; k < L.in_t.size(); ++k) L.in_h.push_back(L.gpu && L.gpu->halfIn(k));
    for (size_t k = 0; k < L.out_t.size(); ++k) {
      L.out_h.push_back(L.gpu && L.gpu->halfOut(k));
      home_half[L.out_t[k]] = L.out_h[k];
    }
    node_layers.push_back(std::move(L));
  }
  ctx->home_half_ = std::move(home_half);
  if (staging) ctx->staging_ = allocateAligned(staging);
  if (cpu_scratch) ctx->cpu_scratch_ = allocateAligned(cpu_scratch);
  std::vector<bool> needed(g.tensors.size(), false);
  for (const Layer& L : node_layers)
    for (size_t k = 0; k < L.in_t.size(); ++k)
      if (L.gpu && L.in_t[k] >= 0 && L.gpu->readsInputOnDevice(k)) needed[L.in_t[k]] = true;
  EDGERT_ASSIGN_OR_RETURN(ctx->weights_, deviceWeights(*engine, d, needed));
  ctx->tensor_ptr_.assign(g.tensors.size(), 0);
  for (size_t i = 0; i < g.tensors.size(); ++i)
    if (g.tensors[i].isConstant()) ctx->tensor_ptr_[i] = ctx->weights_->ptr[i];
  EDGERT_RETURN_IF_ERROR(ctx->planLayouts(std::move(node_layers)));
  EDGERT_RETURN_IF_ERROR(ctx->planArena());
  ctx->bindPointers();
  return std::unique_ptr<ExecutionContext>(std::move(ctx));
}

CUdeviceptr CudaContext::pointerOf(int t, bool half) const {
  if (t < 0) return 0;
  return half ? half_ptr_[t] : tensor_ptr_[t];
}

Status CudaContext::planLayouts(std::vector<Layer> node_layers) {
  const Graph& g = engine_->model().graph;
  const size_t T = g.tensors.size();
  std::vector<bool> need_half(T, false), need_float(T, false);
  for (const Layer& L : node_layers)
    for (size_t k = 0; k < L.in_t.size(); ++k) {
      const int t = L.in_t[k];
      if (t < 0 || g.tensors[t].isConstant()) continue;
      (L.in_h[k] ? need_half : need_float)[t] = true;
    }
  for (const Binding& b : g.bindings)
    if (!b.is_input) need_float[b.tensor] = true;
  auto conversion = [&](int t, bool to_half) {
    Layer C;
    C.gpu = makeLayoutConversion(g.tensors[t].dims, to_half, g.tensors[t].dtype);
    C.in_t = {t};
    C.out_t = {t};
    C.in_h = {!to_half};
    C.out_h = {to_half};
    return C;
  };
  for (const Binding& b : g.bindings)
    if (b.is_input && need_half[b.tensor]) layers_.push_back(conversion(b.tensor, true));
  for (Layer& L : node_layers) {
    const std::vector<int> outs = L.out_t;
    layers_.push_back(std::move(L));
    for (int t : outs) {
      if (home_half_[t] && need_float[t]) layers_.push_back(conversion(t, false));
      if (!home_half_[t] && need_half[t]) layers_.push_back(conversion(t, true));
    }
  }
  return Status::Ok();
}

// One arena for every activation copy the layers touch (NCHW float32 and NHWC fp16), planned
// over the layer order with conversions included: first fit, largest first, buffers whose
// lifetimes overlap never share bytes. Inputs live through the whole run (a caller may run
// again on the same input); outputs from their producer to the end. This re-plans the
// engine's stored plan, which counts every activation at its float32 size.
Status CudaContext::planArena() {
  const Graph& g = engine_->model().graph;
  const size_t T = g.tensors.size(), end = layers_.size();
  // [2t]: the float32 copy of tensor t, [2t + 1]: its fp16 copy; untouched ones stay empty
  // (and, never live, collide with nothing).
  std::vector<LiveBuffer> live(2 * T, LiveBuffer{0, std::numeric_limits<int64_t>::max(), 0});
  auto touch = [&](int t, bool half, size_t p) {
    if (t < 0 || g.tensors[t].isConstant()) return;
    LiveBuffer& l = live[2 * t + half];
    l.first = std::min(l.first, static_cast<int64_t>(p));
    l.last = std::max(l.last, static_cast<int64_t>(p));
    const DataType dt = g.tensors[t].dtype;
    l.bytes = (volume(g.tensors[t].dims) * (half ? nhwcElementSize(dt) : dataTypeSize(dt)) + 255) /
              256 * 256;
  };
  for (size_t p = 0; p < end; ++p) {
    const Layer& L = layers_[p];
    for (size_t k = 0; k < L.in_t.size(); ++k) touch(L.in_t[k], L.in_h[k], p);
    for (size_t k = 0; k < L.out_t.size(); ++k) touch(L.out_t[k], L.out_h[k], p);
  }
  for (const Binding& b : g.bindings) {
    touch(b.tensor, false, end);
    if (b.is_input) touch(b.tensor, false, 0);
  }
  // In-place layers: an output takes the buffer of an input whose last reader is the layer
  // (same size and layout, not read through another of the layer's inputs); the shared
  // buffer then lives as long as the output.
  BufferAliases alias(2 * T);
  std::vector<bool> written_in_place(2 * T, false);
  for (size_t p = 0; p < end; ++p) {
    const Layer& L = layers_[p];
    if (!L.gpu) continue;
    for (size_t k = 0; k < L.out_t.size(); ++k) {
      const int j = L.gpu->inPlaceInput(k);
      if (j < 0 || static_cast<size_t>(j) >= L.in_t.size()) continue;
      const int tin = L.in_t[j], tout = L.out_t[k];
      if (tin < 0 || tout < 0 || tin == tout || g.tensors[tin].isConstant()) continue;
      bool shared = false;
      for (size_t m = 0; m < L.in_t.size(); ++m)
        shared |= m != static_cast<size_t>(j) && L.in_t[m] == tin;
      const int64_t bi = 2 * tin + L.in_h[j], bo = 2 * tout + L.out_h[k];
      if (shared || L.in_h[j] != L.out_h[k] || live[bi].bytes != live[bo].bytes ||
          live[bi].last != static_cast<int64_t>(p) || live[bo].first != static_cast<int64_t>(p))
        continue;
      const int64_t r = alias.root(bi);
      live[r].last = std::max(live[r].last, live[bo].last);
      alias.parent[bo] = r;
      written_in_place[bo] = true;
    }
  }
  aliasRangeCopies(live, alias, written_in_place);
  // Layer workspaces live in the arena too, each only while its layer runs (the layers of a
  // context run one after another on its stream): a large one (the first convolution's, say)
  // shares bytes with activations that are dead at that point instead of adding to the peak.
  uint64_t without_scratch = 0;
  placeBuffers(live, alias, &without_scratch);
  std::vector<size_t> scratch_buffer(end, 0);
  for (size_t p = 0; p < end; ++p) {
    const size_t bytes = layers_[p].gpu ? layers_[p].gpu->scratchBytes() : 0;
    if (!bytes) continue;
    scratch_buffer[p] = live.size();
    live.push_back(
        LiveBuffer{(bytes + 255) / 256 * 256, static_cast<int64_t>(p), static_cast<int64_t>(p)});
    alias.parent.push_back(-1);
    alias.offset.push_back(0);
  }
  uint64_t total = 0;
  const std::vector<uint64_t> off = placeBuffers(live, alias, &total);
  arena_bytes_ = std::max<size_t>(256, total);
  scratch_bytes_ = total - std::min(total, without_scratch);
  EDGERT_RETURN_IF_ERROR(
      env_.d->check(env_.d->cuMemAlloc(&arena_, arena_bytes_),
                    strCat("cuMemAlloc of the ", arena_bytes_, "-byte activation arena").c_str()));
  half_ptr_.assign(T, 0);
  for (size_t t = 0; t < T; ++t) {
    if (live[2 * t].bytes) tensor_ptr_[t] = arena_ + off[2 * t];
    if (live[2 * t + 1].bytes) half_ptr_[t] = arena_ + off[2 * t + 1];
  }
  for (size_t p = 0; p < end; ++p)
    layers_[p].scratch = scratch_buffer[p] ? arena_ + off[scratch_buffer[p]] : 0;
  return Status::Ok();
}

// Concat in place and Slice / Split views, where a layer copies whole contiguous byte ranges
// (an outer axis: the batch parts of builder/src/batch_split.cpp, or channels at batch 1 in
// NCHW). A Concat input whose last reader is the Concat is produced in its range of the
// output; a Slice / Split output that is a whole range of its input is that range, which
// then lives as long as the view, unless a layer writes in place into the input's bytes.
// Bindings are never moved: a caller may point them at its own memory.
void CudaContext::aliasRangeCopies(std::vector<LiveBuffer>& live, BufferAliases& alias,
                                   const std::vector<bool>& written_in_place) const {
  const Graph& g = engine_->model().graph;
  const size_t T = g.tensors.size();
  std::vector<bool> binding(2 * T, false);
  for (const Binding& b : g.bindings) binding[2 * b.tensor] = true;
  auto tensorBytes = [&](int t, bool half) {
    const DataType dt = g.tensors[t].dtype;
    return static_cast<uint64_t>(volume(g.tensors[t].dims)) *
           (half ? nhwcElementSize(dt) : dataTypeSize(dt));
  };
  std::vector<bool> has_child(live.size(), false);
  for (size_t b = 0; b < alias.parent.size(); ++b)
    if (alias.parent[b] >= 0) has_child[alias.parent[b]] = true;
  for (size_t p = 0; p < layers_.size(); ++p) {
    const Layer& L = layers_[p];
    if (!L.gpu) continue;
    for (const GpuLayer::RangeCopy& c : L.gpu->rangeCopies()) {
      const int tin = L.in_t[c.in], tout = L.out_t[c.out];
      if (tin < 0 || tout < 0 || tin == tout || g.tensors[tin].isConstant() ||
          L.in_h[c.in] != L.out_h[c.out] || c.in_byte % 256 || c.out_byte % 256)
        continue;
      const int64_t bi = 2 * tin + L.in_h[c.in], bo = 2 * tout + L.out_h[c.out];
      if (std::count(L.in_t.begin(), L.in_t.end(), tin) != 1) continue;
      const int64_t ri = alias.root(bi), ro = alias.root(bo);
      if (ri == ro) continue;
      if (c.in_byte == 0 && c.bytes == tensorBytes(tin, L.in_h[c.in])) {
        // The whole input into a range of the output: produce it there (Concat).
        if (binding[ri] || live[ri].bytes != live[bi].bytes ||
            live[ri].last != static_cast<int64_t>(p) || live[ri].first >= static_cast<int64_t>(p))
          continue;
        alias.parent[ri] = ro;
        alias.offset[ri] = alias.offsetInRoot(bo) + c.out_byte;
        live[ro].first = std::min(live[ro].first, live[ri].first);
        has_child[ro] = true;
      } else if (c.out_byte == 0 && c.bytes == tensorBytes(tout, L.out_h[c.out])) {
        // A whole output from a range of the input: a view (Slice, Split).
        if (binding[bo] || bo != ro || has_child[bo]) continue;
        bool overwritten = false;
        for (size_t b = 0; b < live.size() && !overwritten; ++b)
          overwritten = written_in_place[b] && alias.root(static_cast<int64_t>(b)) == ri;
        if (overwritten) continue;
        alias.parent[bo] = ri;
        alias.offset[bo] = alias.offsetInRoot(bi) + c.in_byte;
        live[ri].last = std::max(live[ri].last, live[bo].last);
        has_child[ri] = true;
      }
    }
  }
}

void CudaContext::bindPointers() {
  for (Layer& L : layers_) {
    L.in.clear();
    L.out.clear();
    for (size_t k = 0; k < L.in_t.size(); ++k) L.in.push_back(pointerOf(L.in_t[k], L.in_h[k]));
    for (size_t k = 0; k < L.out_t.size(); ++k) L.out.push_back(pointerOf(L.out_t[k], L.out_h[k]));
  }
  // Addresses are baked into a captured graph: capture again.
  if (graph_exec_) env_.d->cuGraphExecDestroy(graph_exec_);
  if (graph_) env_.d->cuGraphDestroy(graph_);
  graph_exec_ = nullptr;
  graph_ = nullptr;
  runs_ = 0;
}

int CudaContext::bindingTensor(const std::string& name) const {
  const Graph& g = engine_->model().graph;
  for (const Binding& b : g.bindings)
    if (g.tensors[b.tensor].name == name) return b.tensor;
  return -1;
}

void* CudaContext::tensorData(const std::string& name) {
  const int t = bindingTensor(name);
  return t < 0 ? nullptr : reinterpret_cast<void*>(tensor_ptr_[t]);
}

Status CudaContext::setTensorAddress(const std::string& name, void* data) {
  const int t = bindingTensor(name);
  if (t < 0)
    return Status(StatusCode::kNotFound,
                  strCat("'", name, "' is not an input or output of this engine"));
  if (!data)
    return Status(StatusCode::kInvalidArgument, strCat("null address for tensor '", name, "'"));
  tensor_ptr_[t] = reinterpret_cast<CUdeviceptr>(data);
  bindPointers();
  return Status::Ok();
}

Status CudaContext::setInput(const std::string& name, const void* host, size_t bytes) {
  EDGERT_RETURN_IF_ERROR(checkBindingBytes(*engine_, name, bytes, true));
  env_.d->cuCtxSetCurrent(process().ctx);
  if (!bytes) return Status::Ok();
  return env_.d->check(env_.d->cuMemcpyHtoD(tensor_ptr_[bindingTensor(name)], host, bytes),
                       "cuMemcpyHtoD (input)");
}

Status CudaContext::setImageInput(const std::string& name, int batch, const ImageFrame& frame,
                                  const ImagePlacement& placement) {
  EDGERT_ASSIGN_OR_RETURN(ImageJob job, prepareImageJob(*engine_, name, batch, frame, placement));
  const Driver* d = env_.d;
  d->cuCtxSetCurrent(process().ctx);
  size_t total = 0, offset[3] = {0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    offset[i] = total;
    total += (job.plane_bytes[i] + 255) / 256 * 256;
  }
  if (total > frame_bytes_) {
    // The stream may still read the old staging buffer.
    EDGERT_RETURN_IF_ERROR(d->check(d->cuStreamSynchronize(env_.stream), "cuStreamSynchronize"));
    if (frame_) d->cuMemFree(frame_);
    frame_ = 0;
    frame_bytes_ = 0;
    EDGERT_RETURN_IF_ERROR(d->check(d->cuMemAlloc(&frame_, total), "cuMemAlloc (frame staging)"));
    frame_bytes_ = total;
  }
  // Pageable host memory: the copies complete before returning, so the caller may reuse
  // the frame at once; the kernel is queued ahead of the next execute().
  for (int i = 0; i < 3; ++i) {
    if (!job.plane_bytes[i]) continue;
    EDGERT_RETURN_IF_ERROR(d->check(
        d->cuMemcpyHtoDAsync(frame_ + offset[i], frame.planes[i], job.plane_bytes[i], env_.stream),
        "cuMemcpyHtoDAsync (frame)"));
    job.params.planes[i] = frame_ + offset[i];
  }
  EdgertImage params = job.params;
  CUdeviceptr out = tensor_ptr_[bindingTensor(name)] + job.item_offset * sizeof(float);
  void* args[] = {&params, &out};
  return launch(env_, "edgert_image_to_tensor", static_cast<long long>(params.net_w) * params.net_h,
                args);
}

Status CudaContext::getOutput(const std::string& name, void* host, size_t bytes) {
  EDGERT_RETURN_IF_ERROR(checkBindingBytes(*engine_, name, bytes, false));
  env_.d->cuCtxSetCurrent(process().ctx);
  EDGERT_RETURN_IF_ERROR(
      env_.d->check(env_.d->cuStreamSynchronize(env_.stream), "cuStreamSynchronize"));
  if (!bytes) return Status::Ok();
  return env_.d->check(env_.d->cuMemcpyDtoH(host, tensor_ptr_[bindingTensor(name)], bytes),
                       "cuMemcpyDtoH (output)");
}

Status CudaContext::runFallback(Layer& L) {
  const Driver* d = env_.d;
  const Graph& g = engine_->model().graph;
  const Node& n = g.nodes[L.node];
  EDGERT_RETURN_IF_ERROR(d->check(d->cuStreamSynchronize(env_.stream), "cuStreamSynchronize"));
  uint8_t* p = staging_.get();
  std::vector<TensorView> in, out;
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const int t = n.inputs[k];
    if (t < 0) {
      in.push_back({});
      continue;
    }
    const TensorEntry& te = g.tensors[t];
    const size_t bytes = volume(te.dims) * dataTypeSize(te.dtype);
    void* host = te.isConstant() ? const_cast<void*>(te.constant->data()) : p;
    if (!te.isConstant()) {
      if (bytes)
        EDGERT_RETURN_IF_ERROR(
            d->check(d->cuMemcpyDtoH(p, L.in[k], bytes), "cuMemcpyDtoH (fallback)"));
      p += (bytes + 63) / 64 * 64;
    }
    in.push_back(TensorView{te.dtype, te.dims, host});
  }
  while (!in.empty() && in.back().dtype == DataType::kUndefined) in.pop_back();
  for (int t : n.outputs) {
    const TensorEntry& te = g.tensors[t];
    out.push_back(TensorView{te.dtype, te.dims, p});
    p += (volume(te.dims) * dataTypeSize(te.dtype) + 63) / 64 * 64;
  }
  EDGERT_RETURN_IF_ERROR(L.cpu->run(KernelArgs{in, out, cpu_scratch_.get()}));
  for (size_t k = 0; k < out.size(); ++k)
    if (out[k].bytes())
      EDGERT_RETURN_IF_ERROR(d->check(d->cuMemcpyHtoD(L.out[k], out[k].data, out[k].bytes()),
                                      "cuMemcpyHtoD (fallback)"));
  return Status::Ok();
}

std::string CudaContext::layerName(const Layer& L) const {
  const Graph& g = engine_->model().graph;
  if (L.node >= 0)
    return strCat("layer ", L.node, " (", g.nodes[L.node].op, " '", g.nodes[L.node].name, "')");
  return strCat("layout conversion of '", g.tensors[L.in_t[0]].name, "'");
}

Status CudaContext::enqueueLayer(Layer& L) {
  if (!L.gpu) return runFallback(L);
  GpuArgs a{L.in.data(), L.in.size(), L.out.data(), L.out.size(), L.scratch};
  return L.gpu->enqueue(env_, a);
}

Status CudaContext::enqueueAll() {
  for (Layer& L : layers_) {
    const Status st = enqueueLayer(L);
    if (!st.ok()) return st.withContext(layerName(L));
  }
  return Status::Ok();
}

Status CudaContext::execute() {
  const Driver* d = env_.d;
  EDGERT_RETURN_IF_ERROR(d->check(d->cuCtxSetCurrent(process().ctx), "cuCtxSetCurrent"));
  // The first run is eager (libraries finish their lazy setup); the second captures the
  // whole network into a CUDA graph that later runs replay with one launch.
  const bool use_graph =
      !has_fallback_ && std::getenv("EDGERT_CUDA_GRAPH") == nullptr
          ? true
          : (!has_fallback_ && std::string(std::getenv("EDGERT_CUDA_GRAPH")) != "0");
  if (use_graph && !graph_exec_ && runs_ >= 1) {
    EDGERT_RETURN_IF_ERROR(
        d->check(d->cuStreamBeginCapture(env_.stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                 "cuStreamBeginCapture"));
    Status st = enqueueAll();
    CUgraph graph = nullptr;
    const CUresult end = d->cuStreamEndCapture(env_.stream, &graph);
    if (!st.ok()) return st;
    EDGERT_RETURN_IF_ERROR(d->check(end, "cuStreamEndCapture"));
    graph_ = graph;
    EDGERT_RETURN_IF_ERROR(
        d->check(d->cuGraphInstantiate(&graph_exec_, graph_, 0), "cuGraphInstantiate"));
  }
  ++runs_;
  if (graph_exec_) {
    EDGERT_RETURN_IF_ERROR(d->check(d->cuGraphLaunch(graph_exec_, env_.stream), "cuGraphLaunch"));
  } else {
    EDGERT_RETURN_IF_ERROR(enqueueAll());
  }
  return d->check(d->cuStreamSynchronize(env_.stream), "cuStreamSynchronize (a kernel failed)");
}

Result<std::vector<double>> CudaContext::benchmark(int warmup, int iterations) {
  const Driver* d = env_.d;
  for (int i = 0; i < std::max(warmup, 2); ++i)
    EDGERT_RETURN_IF_ERROR(execute());  // 2: graph captured
  CUevent start, stop;
  EDGERT_RETURN_IF_ERROR(d->check(d->cuEventCreate(&start, CU_EVENT_DEFAULT), "cuEventCreate"));
  EDGERT_RETURN_IF_ERROR(d->check(d->cuEventCreate(&stop, CU_EVENT_DEFAULT), "cuEventCreate"));
  std::vector<double> ms;
  Status st;
  for (int i = 0; i < iterations && st.ok(); ++i) {
    d->cuEventRecord(start, env_.stream);
    st = graph_exec_ ? d->check(d->cuGraphLaunch(graph_exec_, env_.stream), "cuGraphLaunch")
                     : enqueueAll();
    d->cuEventRecord(stop, env_.stream);
    if (st.ok()) st = d->check(d->cuEventSynchronize(stop), "cuEventSynchronize");
    float t = 0;
    if (st.ok()) st = d->check(d->cuEventElapsedTime(&t, start, stop), "cuEventElapsedTime");
    ms.push_back(t);
  }
  d->cuEventDestroy(start);
  d->cuEventDestroy(stop);
  if (!st.ok()) return st;
  return ms;
}

Result<std::vector<LayerTiming>> CudaContext::profileLayers(int iterations) {
  const Driver* d = env_.d;
  EDGERT_RETURN_IF_ERROR(d->check(d->cuCtxSetCurrent(process().ctx), "cuCtxSetCurrent"));
  const Graph& g = engine_->model().graph;
  const size_t n = layers_.size();
  std::vector<CUevent> ev(n + 1);
  for (auto& e : ev)
    EDGERT_RETURN_IF_ERROR(d->check(d->cuEventCreate(&e, CU_EVENT_DEFAULT), "cuEventCreate"));
  std::vector<std::vector<double>> t(n);
  Status st;
  for (int it = 0; it < std::max(iterations, 1) && st.ok(); ++it) {
    d->cuEventRecord(ev[0], env_.stream);
    for (size_t i = 0; i < n && st.ok(); ++i) {
      st = enqueueLayer(layers_[i]);
      d->cuEventRecord(ev[i + 1], env_.stream);
    }
    if (st.ok()) st = d->check(d->cuEventSynchronize(ev[n]), "cuEventSynchronize");
    for (size_t i = 0; i < n && st.ok(); ++i) {
      float ms = 0;
      d->cuEventElapsedTime(&ms, ev[i], ev[i + 1]);
      t[i].push_back(ms);
    }
  }
  for (auto& e : ev) d->cuEventDestroy(e);
  if (!st.ok()) return st;
  std::vector<LayerTiming> out;
  for (size_t i = 0; i < n; ++i) {
    std::sort(t[i].begin(), t[i].end());
    const Layer& L = layers_[i];
    if (L.node >= 0) {
      const LayerCost cost = layerCost(g, g.nodes[L.node]);
      out.push_back({g.nodes[L.node].name, g.nodes[L.node].op,
                     L.gpu ? L.gpu->tactic() : "cpu-fallback", t[i][t[i].size() / 2], cost.flops,
                     cost.bytes});
    } else {  // a layout change: float32 NCHW <-> fp16 NHWC, read once and written once
      const TensorEntry& te = g.tensors[L.in_t[0]];
      out.push_back({te.name, "(layout)", L.gpu->tactic(), t[i][t[i].size() / 2], 0,
                     6.0 * static_cast<double>(volume(te.dims))});
    }
  }
  return out;
}

}  // namespace
}  // namespace cuda

Result<std::unique_ptr<ExecutionContext>> createCudaContext(
    std::shared_ptr<const EngineImpl> engine) {
  return cuda::CudaContext::create(std::move(engine));
}

Status cudaAvailable() {
  auto d = cuda::driver();
  if (!d.ok()) return d.status();
  auto dnn = cuda::cudnn();
  if (!dnn.ok()) return dnn.status();
  auto lt = cuda::cublasLt();
  if (!lt.ok()) return lt.status();
  return Status::Ok();
}

bool cudaBackendCompiled() {
  return true;
}

bool cudaSupportsNode(const NodeContext& node) {
  return cuda::findGpuOp(node) != nullptr || (node.fp16 && cuda::findHalfNhwcOp(node) != nullptr);
}

std::vector<int> cudaDeviceSms() {
  auto info = cuda::deviceInfo();
  if (!info.ok()) return {};
  return {info->sm};
}

size_t cudaFreeDeviceMemory() {
  if (!cuda::initProcess().ok()) return 0;
  auto d = cuda::driver();
  if (!d.ok()) return 0;
  d.value()->cuCtxSetCurrent(cuda::process().ctx);
  size_t free_b = 0, total = 0;
  if (d.value()->cuMemGetInfo(&free_b, &total) != CUDA_SUCCESS) return 0;
  return free_b;
}

std::string cudaTacticSetId() {
  char hash[17];
  std::snprintf(hash, sizeof(hash), "%016llx",
                static_cast<unsigned long long>(
                    XXH3_64bits(edgert_kernels_fatbin, edgert_kernels_fatbin_size)));
  return strCat("edgert ", versionString(), " kernels ", hash);
}

std::string cudaDeviceName() {
  auto info = cuda::deviceInfo();
  if (!info.ok()) return "";
  return strCat("sm_", info->sm, " ", info->name);
}

namespace {

// What the builder times a candidate with: its own stream, handles and buffers, all freed
// on the way out.
struct TimingBench {
  cuda::Env env;
  std::vector<CUdeviceptr> owned;
  CUevent start = nullptr, stop = nullptr;
  ~TimingBench() {
    const cuda::Driver* d = env.d;
    if (!d) return;
    if (env.stream) d->cuStreamSynchronize(env.stream);
    for (CUdeviceptr p : owned) d->cuMemFree(p);
    if (start) d->cuEventDestroy(start);
    if (stop) d->cuEventDestroy(stop);
    if (env.dnn_handle) env.dnn->cudnnDestroy(env.dnn_handle);
    if (env.lt_handle) env.lt->cublasLtDestroy(env.lt_handle);
    if (env.stream) d->cuStreamDestroy(env.stream);
  }
  Result<CUdeviceptr> alloc(size_t bytes) {
    CUdeviceptr p = 0;
    EDGERT_RETURN_IF_ERROR(
        env.d->check(env.d->cuMemAlloc(&p, std::max<size_t>(bytes, 256)), "cuMemAlloc (timing)"));
    owned.push_back(p);
    // Small finite values: no NaN/denormal slow paths skew the timing.
    env.d->cuMemsetD8Async(p, 0x3c, std::max<size_t>(bytes, 256), env.stream);
    return p;
  }
};

}  // namespace

Result<std::vector<TacticTime>> cudaTimeTactics(const NodeContext& node) {
  std::vector<std::string> candidates;
  if (node.op == "Conv" && !node.fp16) {
    for (int a = 0; a < 8; ++a) candidates.push_back(strCat("cudnn-fp32-algo", a));
    candidates.push_back("cublaslt-1x1");
    candidates.push_back("fp32-depthwise");
  }
  // FP16 convolutions run in NHWC fp16 (cuda_nhwc_ops.cpp).
  const bool half = node.op == "Conv" && node.fp16 && cuda::findHalfNhwcOp(node) != nullptr;
  if (half) {
    // Legacy cuDNN algorithms, cuBLASLt for 1x1, our depthwise kernel and cuDNN's graph-API
    // engines; a candidate that does not apply to the node fails to build and is skipped.
    for (int a = 0; a < 8; ++a) candidates.push_back(strCat("cudnn-nhwc16-algo", a));
    candidates.push_back("cublaslt-nhwc16-1x1");
    candidates.push_back("nhwc16-pointwise");
    candidates.push_back("nhwc16-depthwise");
    // Our implicit GEMM, whole or with the reduction split (makeMmaConv refuses splits the
    // output's own tiles make pointless).
    for (int s : {1, 2, 4, 8, 16, 32, 64}) candidates.push_back(strCat(cuda::kMmaConvTactic, s));
    for (int s : {2, 4, 8, 16}) candidates.push_back(strCat(cuda::kMmaClusterConvTactic, s));
    // Hopper: the TMA-fed wgmma kernel.
    for (int bn : {128, 64}) candidates.push_back(strCat(cuda::kTmaConvTactic, bn));
    for (int s : {2, 4, 8, 16}) candidates.push_back(strCat(cuda::kTmaClusterConvTactic, s));
    candidates.push_back("nhwc16-tma-p-n64");
    for (int h = 0; h < cuda::kGraphConvConfigs; ++h)
      candidates.push_back(strCat("cudnn-nhwc16-graph", h));
    // First layers (1-3 input channels): cuDNN's engines on the input padded to 4 channels
    // (padding to 8 was slower still on an H200: ResNet-50's stem 1.06 ms vs 0.76).
    // And for stride 2, over the input's space-to-depth copy (16 channels, stride 1).
    if (node.dims(0).size() == 4 && node.dims(0)[1] < 4)
      for (int h = 0; h < cuda::kGraphConvConfigs; ++h) {
        candidates.push_back(strCat("cudnn-nhwc16-c4-graph", h));
        candidates.push_back(strCat("cudnn-nhwc16-s2d-graph", h));
      }
  }
  // INT8: our implicit-GEMM kernel against cuBLASLt's IMMA GEMM + epilogue (each with im2col
  // where the input channels need it; the names that do not apply fail to build).
  const bool int8_nhwc = node.op == "EdgertQConv" && cuda::findHalfNhwcOp(node) != nullptr;
  if (node.op == "EdgertQConv")
    for (const char* t : {"int8-mma",           "int8-mma-n64",       "int8-mma-wide",
                          "int8-wgmma",         "int8-wgmma-n64",     "int8-tma",
                          "int8-tma-n64",       "int8-im2col-mma",    "int8-im2col-mma-n64",
                          "int8-pad-mma",       "int8-pad-mma-n64",   "int8-s2d-mma",
                          "int8-s2d-mma-n64",   "int8-s2d-mma-wide",  "int8-s2d-wgmma",
                          "int8-s2d-wgmma-n64", "int8-s2d-tma",       "int8-s2d-tma-n64",
                          "int8-tma-p-n64",     "int8-s2d-tma-p-n64", "int8-imma",
                          "int8-im2col-imma",   "int8-pointwise",     "int8-pointwise-mma",
                          "int8-stem"})
      candidates.push_back(t);
  // EDGERT_TACTIC_EXCLUDE=name,name: leave these out (trtexec's --tacticSources=-X), to
  // compare a network built with and without a kernel.
  if (const char* ex = std::getenv("EDGERT_TACTIC_EXCLUDE")) {
    const std::string drop = strCat(",", ex, ",");
    std::erase_if(candidates, [&](const std::string& t) {
      return drop.find(strCat(",", t, ",")) != std::string::npos;
    });
  }
  std::vector<TacticTime> out;
  if (candidates.empty()) return out;
  TimingBench b;
  cuda::Env& env = b.env;
  EDGERT_RETURN_IF_ERROR(cuda::initEnv(env, &b.owned));
  const cuda::Driver* d = env.d;
  EDGERT_RETURN_IF_ERROR(d->check(d->cuEventCreate(&b.start, 0), "cuEventCreate"));
  EDGERT_RETURN_IF_ERROR(d->check(d->cuEventCreate(&b.stop, 0), "cuEventCreate"));
  std::vector<CUdeviceptr> in, outs;
  for (size_t i = 0; i < node.in.size(); ++i) {
    if (!node.has(i)) {
      in.push_back(0);
      continue;
    }
    const size_t bytes = static_cast<size_t>(volume(node.dims(i))) * dataTypeSize(node.dtype(i));
    if (const HostTensor* k = node.constant(i)) {
      EDGERT_ASSIGN_OR_RETURN(CUdeviceptr p, env.upload(k->data(), k->bytes()));
      in.push_back(p);
    } else {
      EDGERT_ASSIGN_OR_RETURN(CUdeviceptr p, b.alloc(bytes));
      in.push_back(p);
    }
  }
  for (const ValueInfo& v : node.out) {
    EDGERT_ASSIGN_OR_RETURN(CUdeviceptr p,
                            b.alloc(static_cast<size_t>(volume(v.dims)) * dataTypeSize(v.dtype)));
    outs.push_back(p);
  }
  // EDGERT_VERBOSE: every candidate's time, or why it was not used.
  const bool verbose = std::getenv("EDGERT_VERBOSE") != nullptr;
  const std::string node_name(node.name);
  // Eight runs of the layer captured in one graph, launched seven times: per-run times.
  auto graphTimes = [&](const cuda::GpuLayer& layer, const cuda::GpuArgs& a,
                        std::vector<double>* ms) {
    constexpr int kPerGraph = 8;
    CUgraph graph = nullptr;
    CUgraphExec exec = nullptr;
    if (d->cuStreamBeginCapture(env.stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL) != CUDA_SUCCESS)
      return false;
    bool ok = true;
    for (int r = 0; r < kPerGraph && ok; ++r) ok = layer.enqueue(env, a).ok();
    const CUresult end = d->cuStreamEndCapture(env.stream, &graph);
    ok = ok && end == CUDA_SUCCESS && graph &&
         d->cuGraphInstantiate(&exec, graph, 0) == CUDA_SUCCESS;
    ok = ok && d->cuGraphLaunch(exec, env.stream) == CUDA_SUCCESS;  // warm-up
    for (int r = 0; r < 7 && ok; ++r) {
      d->cuEventRecord(b.start, env.stream);
      ok = d->cuGraphLaunch(exec, env.stream) == CUDA_SUCCESS;
      d->cuEventRecord(b.stop, env.stream);
      float t = 0;
      ok = ok && d->cuEventSynchronize(b.stop) == CUDA_SUCCESS &&
           d->cuEventElapsedTime(&t, b.start, b.stop) == CUDA_SUCCESS;
      ms->push_back(t / kPerGraph);
    }
    if (exec) d->cuGraphExecDestroy(exec);
    if (graph) d->cuGraphDestroy(graph);
    return ok;
  };
  constexpr size_t kFlushBytes = size_t{256} << 20;  // past any GPU's L2
  CUdeviceptr flush = 0;
  if (std::getenv("EDGERT_TIMING_COLD")) {
    EDGERT_ASSIGN_OR_RETURN(flush, b.alloc(kFlushBytes));
  }
  auto timeOne = [&](const std::string& cand) -> Status {
    NodeContext c = node;
    c.tactic = cand;
    c.strict_tactic = true;
    cuda::GpuFactory f = half || int8_nhwc ? cuda::findHalfNhwcOp(c) : cuda::findGpuOp(c);
    if (!f) return Status::Ok();
    auto layer = f(c, env);
    if (!layer.ok()) {
      if (verbose)
        std::fprintf(stderr, "edgert: timing '%s' %s: not used: %s\n", node_name.c_str(),
                     cand.c_str(), layer.status().message().c_str());
      return Status::Ok();
    }
    // Two names may reach the same implementation (the heuristic's pick): time it once.
    const std::string name = layer.value()->tactic();
    if (name != cand) return Status::Ok();
    EDGERT_ASSIGN_OR_RETURN(CUdeviceptr scratch, b.alloc(layer.value()->scratchBytes()));
    cuda::GpuArgs a{in.data(), in.size(), outs.data(), outs.size(), scratch};
    bool ok = true;
    for (int w = 0; w < 3 && ok; ++w) ok = layer.value()->enqueue(env, a).ok();
    // Timed as the engine runs it, inside a CUDA graph: eager timing charged a tactic of several
    // kernels the host's launch gaps between them, which at batch 1 are as long as the kernels
    // (cuBLASLt's im2col + GEMM + epilogue lost to a single kernel 2.4x slower in the network,
    // and ResNet-50 bs1 INT8 moved between 0.42 and 0.58 ms from build to build). Eager when
    // the layer cannot be captured.
    // Not cuDNN's legacy fp32 algorithms: with them a capture stalled ONNX MobileNetV3-small's
    // fp32 build on an H100 (some of them allocate or synchronise inside).
    std::vector<double> ms;
    const bool capture = !cand.starts_with("cudnn-fp32-algo");
    // EDGERT_TIMING_COLD: eager, each run after the L2 is overwritten, as a layer's weights
    // arrive in the network (from memory, not from the previous run); the launch waits behind
    // the overwrite, so its host overhead is not timed.
    if (ok && (flush || !capture || !graphTimes(*layer.value(), a, &ms))) {
      ms.clear();
      for (int r = 0; r < 15 && ok; ++r) {
        if (flush)
          d->cuMemsetD8Async(flush, static_cast<unsigned char>(r), kFlushBytes, env.stream);
        d->cuEventRecord(b.start, env.stream);
        ok = layer.value()->enqueue(env, a).ok();
        d->cuEventRecord(b.stop, env.stream);
        float t = 0;
        ok = ok && d->cuEventSynchronize(b.stop) == CUDA_SUCCESS &&
             d->cuEventElapsedTime(&t, b.start, b.stop) == CUDA_SUCCESS;
        ms.push_back(t);
      }
    }
    if (!ok) {
      if (verbose)
        std::fprintf(stderr, "edgert: timing '%s' %s: failed to run\n", node_name.c_str(),
                     cand.c_str());
      return Status::Ok();
    }
    std::sort(ms.begin(), ms.end());
    out.push_back({cand, ms[ms.size() / 2], layer.value()->scratchBytes()});
    if (verbose)
      std::fprintf(stderr, "edgert: timing '%s' %s: %.4f ms, scratch %.1f MiB\n", node_name.c_str(),
                   cand.c_str(), out.back().ms, out.back().workspace / 1048576.0);
    return Status::Ok();
  };
  for (const std::string& cand : candidates) EDGERT_RETURN_IF_ERROR(timeOne(cand));
  // A cuDNN algorithm whose workspace grows with the batch (IMPLICIT_PRECOMP_GEMM's indices:
  // 245 MiB for ResNet-50's first layer at batch 128) also runs the batch in parts, small
  // enough for a 64 MiB workspace; the builder weighs the time against the memory.
  const int64_t batch = node.dims(0).empty() ? 1 : node.dims(0)[0];
  const size_t timed = out.size();
  for (size_t k = 0; k < timed; ++k) {
    const TacticTime t = out[k];
    if (t.tactic.rfind("cudnn-nhwc16-algo", 0) != 0 || t.workspace <= (size_t{64} << 20)) continue;
    // Halves, quarters, ... until a part's workspace fits 64 MiB: fewer parts run faster.
    for (int64_t part = batch / 2; part >= 1 && batch % part == 0; part /= 2) {
      EDGERT_RETURN_IF_ERROR(timeOne(strCat(t.tactic, "-n", part)));
      if (t.workspace / static_cast<size_t>(batch / part) <= (size_t{64} << 20) || part % 2) break;
    }
  }
  // EDGERT_TACTIC_PREFER=prefix: where a tactic of that name applies, the fastest of those wins
  // (trtexec's --tacticSources=+X alone), to measure a kernel family across a whole network.
  if (const char* pre = std::getenv("EDGERT_TACTIC_PREFER"))
    if (std::any_of(out.begin(), out.end(),
                    [&](const TacticTime& t) { return t.tactic.starts_with(pre); }))
      std::erase_if(out, [&](const TacticTime& t) { return !t.tactic.starts_with(pre); });
  return out;
}

}  // namespace edgert
