#include "cudnn_graph_conv.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <vector>

#include "edgert/internal/str.h"

namespace edgert::cuda {
namespace {

// One backend descriptor, destroyed with its owner.
class Desc {
 public:
  Desc(const Cudnn* dnn, cudnnBackendDescriptorType_t type) : dnn_(dnn) {
    if (dnn_->cudnnBackendCreateDescriptor(type, &d_) != CUDNN_STATUS_SUCCESS) d_ = nullptr;
  }
  ~Desc() {
    if (d_) dnn_->cudnnBackendDestroyDescriptor(d_);
  }
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;
  Desc(Desc&& o) noexcept : dnn_(o.dnn_), d_(o.d_) { o.d_ = nullptr; }
  cudnnBackendDescriptor_t get() const { return d_; }
  cudnnBackendDescriptor_t release() {
    cudnnBackendDescriptor_t d = d_;
    d_ = nullptr;
    return d;
  }
  template <class T>
  Status set(cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type, const T* values,
             int64_t count, const char* what) const {
    if (!d_)
      return Status(StatusCode::kInternal, strCat("cudnnBackendCreateDescriptor (", what, ")"));
    return dnn_->check(dnn_->cudnnBackendSetAttribute(d_, name, type, count, values), what);
  }
  Status finalize(const char* what) const {
    if (!d_)
      return Status(StatusCode::kInternal, strCat("cudnnBackendCreateDescriptor (", what, ")"));
    return dnn_->check(dnn_->cudnnBackendFinalize(d_), what);
  }

 private:
  const Cudnn* dnn_;
  cudnnBackendDescriptor_t d_ = nullptr;
};

constexpr auto kGraphHandle = static_cast<cudnnBackendAttributeName_t>(800);
constexpr auto kPlanHandle = static_cast<cudnnBackendAttributeName_t>(400);

// NCHW logical dims with NHWC strides: how the graph API spells a channels-last tensor.
Result<Desc> tensor(const Cudnn* dnn, const int64_t* dims, int64_t uid) {
  Desc t(dnn, CUDNN_BACKEND_TENSOR_DESCRIPTOR);
  const int64_t strides[4] = {dims[1] * dims[2] * dims[3], 1, dims[3] * dims[1], dims[1]};
  const cudnnDataType_t half = CUDNN_DATA_HALF;
  const int64_t align = 16;
  EDGERT_RETURN_IF_ERROR(
      t.set(CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, &half, 1, "tensor type"));
  EDGERT_RETURN_IF_ERROR(
      t.set(CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, dims, 4, "tensor dims"));
  EDGERT_RETURN_IF_ERROR(
      t.set(CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, strides, 4, "tensor strides"));
  EDGERT_RETURN_IF_ERROR(
      t.set(CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, &uid, 1, "tensor id"));
  EDGERT_RETURN_IF_ERROR(
      t.set(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, &align, 1, "tensor alignment"));
  EDGERT_RETURN_IF_ERROR(t.finalize("cuDNN tensor descriptor"));
  return t;
}

// Whether the engine carries one of `wanted` among its notes of this kind.
template <class Note>
bool hasNote(const Cudnn* dnn, cudnnBackendDescriptor_t engine, cudnnBackendAttributeName_t name,
             cudnnBackendAttributeType_t type, std::initializer_list<Note> wanted) {
  Note buf[16];
  int64_t n = 0;
  if (dnn->cudnnBackendGetAttribute(engine, name, type, 16, &n, buf) != CUDNN_STATUS_SUCCESS)
    return false;
  for (int64_t k = 0; k < std::min<int64_t>(n, 16); ++k)
    for (Note w : wanted)
      if (buf[k] == w) return true;
  return false;
}

}  // namespace

CudnnGraphConv::~CudnnGraphConv() {
  if (pack_) dnn_->cudnnBackendDestroyDescriptor(pack_);
  if (plan_) dnn_->cudnnBackendDestroyDescriptor(plan_);
}

Result<std::unique_ptr<CudnnGraphConv>> CudnnGraphConv::create(const Env& env,
                                                               const GraphConvShape& s, int rank,
                                                               size_t max_workspace) {
  const Cudnn* dnn = env.dnn;
  EDGERT_ASSIGN_OR_RETURN(Desc x, tensor(dnn, s.x, 'x'));
  EDGERT_ASSIGN_OR_RETURN(Desc w, tensor(dnn, s.w, 'w'));
  EDGERT_ASSIGN_OR_RETURN(Desc y, tensor(dnn, s.y, 'y'));

  Desc conv(dnn, CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR);
  const cudnnDataType_t acc = CUDNN_DATA_FLOAT;
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  const int64_t spatial = 2;
  EDGERT_RETURN_IF_ERROR(
      conv.set(CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, &acc, 1, "conv type"));
  EDGERT_RETURN_IF_ERROR(conv.set(CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE,
                                  &mode, 1, "conv mode"));
  EDGERT_RETURN_IF_ERROR(
      conv.set(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, &spatial, 1, "conv dims"));
  EDGERT_RETURN_IF_ERROR(conv.set(CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, s.dilation, 2,
                                  "conv dilations"));
  EDGERT_RETURN_IF_ERROR(conv.set(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, s.stride,
                                  2, "conv strides"));
  EDGERT_RETURN_IF_ERROR(
      conv.set(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, s.pre_pad, 2, "conv pads"));
  EDGERT_RETURN_IF_ERROR(
      conv.set(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, s.post_pad, 2, "conv pads"));
  EDGERT_RETURN_IF_ERROR(conv.finalize("cuDNN convolution descriptor"));

  Desc op(dnn, CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR);
  const float alpha = 1.f, beta = 0.f;
  cudnnBackendDescriptor_t xd = x.get(), wd = w.get(), yd = y.get(), cd = conv.get();
  EDGERT_RETURN_IF_ERROR(op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X,
                                CUDNN_TYPE_BACKEND_DESCRIPTOR, &xd, 1, "conv op X"));
  EDGERT_RETURN_IF_ERROR(op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W,
                                CUDNN_TYPE_BACKEND_DESCRIPTOR, &wd, 1, "conv op W"));
  EDGERT_RETURN_IF_ERROR(op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y,
                                CUDNN_TYPE_BACKEND_DESCRIPTOR, &yd, 1, "conv op Y"));
  EDGERT_RETURN_IF_ERROR(op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC,
                                CUDNN_TYPE_BACKEND_DESCRIPTOR, &cd, 1, "conv op desc"));
  EDGERT_RETURN_IF_ERROR(op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT,
                                &alpha, 1, "conv op alpha"));
  EDGERT_RETURN_IF_ERROR(op.set(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT,
                                &beta, 1, "conv op beta"));
  EDGERT_RETURN_IF_ERROR(op.finalize("cuDNN convolution operation"));

  Desc graph(dnn, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
  cudnnBackendDescriptor_t opd = op.get();
  cudnnHandle_t handle = env.dnn_handle;
  EDGERT_RETURN_IF_ERROR(graph.set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                                   &opd, 1, "operation graph ops"));
  // The handle attributes are deprecated in newer cuDNN 9 releases but older ones need them:
  // set by value (clear of the deprecation warning), and a refusal is not an error.
  (void)graph.set(kGraphHandle, CUDNN_TYPE_HANDLE, &handle, 1, "operation graph handle");
  EDGERT_RETURN_IF_ERROR(graph.finalize("cuDNN operation graph"));

  Desc heur(dnn, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
  cudnnBackendDescriptor_t gd = graph.get();
  const cudnnBackendHeurMode_t hm = CUDNN_HEUR_MODE_A;
  EDGERT_RETURN_IF_ERROR(heur.set(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH,
                                  CUDNN_TYPE_BACKEND_DESCRIPTOR, &gd, 1, "heuristics graph"));
  EDGERT_RETURN_IF_ERROR(
      heur.set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, &hm, 1, "heuristics mode"));
  EDGERT_RETURN_IF_ERROR(heur.finalize("cuDNN engine heuristics"));
  int64_t count = 0;
  EDGERT_RETURN_IF_ERROR(
      dnn->check(dnn->cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                               CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, nullptr),
                 "cuDNN heuristics results"));
  count = std::min<int64_t>(count, 32);
  std::vector<Desc> cfgs;
  std::vector<cudnnBackendDescriptor_t> raw;
  for (int64_t i = 0; i < count; ++i) {
    cfgs.emplace_back(dnn, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR);
    raw.push_back(cfgs.back().get());
  }
  int64_t got = 0;
  EDGERT_RETURN_IF_ERROR(dnn->check(
      dnn->cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                    CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &got, raw.data()),
      "cuDNN heuristics results"));

  // EDGERT_VERBOSE: why each configuration was taken or passed over (once per shape).
  const bool verbose = rank == 0 && std::getenv("EDGERT_VERBOSE");
  auto trace = [&](int64_t i, int64_t engine, const std::string& what) {
    if (verbose)
      std::fprintf(stderr, "edgert: cuDNN graph conv x=%s w=%s: config %lld (engine %lld): %s\n",
                   dimsToString(Dims(s.x, s.x + 4)).c_str(),
                   dimsToString(Dims(s.w, s.w + 4)).c_str(), static_cast<long long>(i),
                   static_cast<long long>(engine), what.c_str());
  };
  int usable = 0;
  std::unique_ptr<CudnnGraphConv> chosen;
  for (int64_t i = 0; i < std::min(got, count); ++i) {
    cudnnBackendDescriptor_t cfg = raw[static_cast<size_t>(i)];
    Desc engine(dnn, CUDNN_BACKEND_ENGINE_DESCRIPTOR);
    cudnnBackendDescriptor_t ed = engine.get();
    int64_t n = 0;
    if (dnn->cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE,
                                      CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n,
                                      &ed) != CUDNN_STATUS_SUCCESS)
      continue;
    int64_t idx = -1;
    dnn->cudnnBackendGetAttribute(ed, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &n,
                                  &idx);
    // Runtime-compiled engines cost seconds per layer at build and load; FP16 reductions
    // and down-converted inputs lose the accuracy the FP16 engines promise.
    if (hasNote<cudnnBackendBehaviorNote_t>(dnn, ed, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE,
                                            CUDNN_TYPE_BEHAVIOR_NOTE,
                                            {CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION})) {
      trace(i, idx, "skipped: runtime compilation");
      continue;
    }
    if (hasNote<cudnnBackendNumericalNote_t>(dnn, ed, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE,
                                             CUDNN_TYPE_NUMERICAL_NOTE,
                                             {CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION,
                                              CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS})) {
      trace(i, idx, "skipped: reduced-precision reduction or down-converted inputs");
      continue;
    }
    Desc plan(dnn, CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
    (void)plan.set(kPlanHandle, CUDNN_TYPE_HANDLE, &handle, 1, "plan");
    if (!plan.set(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, &cfg, 1,
                  "plan")
             .ok() ||
        !plan.finalize("plan").ok()) {
      trace(i, idx, "skipped: the plan does not finalize");
      continue;
    }
    int64_t ws = 0;
    if (dnn->cudnnBackendGetAttribute(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                      CUDNN_TYPE_INT64, 1, &n, &ws) != CUDNN_STATUS_SUCCESS ||
        ws < 0 || static_cast<size_t>(ws) > max_workspace) {
      trace(i, idx, strCat("skipped: workspace ", ws, " bytes"));
      continue;
    }
    trace(i, idx, strCat("usable as rank ", usable, ", workspace ", ws, " bytes"));
    if (usable++ != rank) continue;
    chosen = std::unique_ptr<CudnnGraphConv>(new CudnnGraphConv());
    chosen->dnn_ = dnn;
    chosen->workspace_ = static_cast<size_t>(ws);
    chosen->engine_ = idx;
    chosen->plan_ = plan.release();
    if (!verbose) break;  // verbose: list the remaining configurations too
  }
  if (chosen) return chosen;
  return Status(StatusCode::kUnsupported,
                strCat("cuDNN's graph API offers ", usable,
                       " usable engine(s) for this convolution, rank ", rank, " asked"));
}

Status CudnnGraphConv::execute(const Env& env, CUdeviceptr x, CUdeviceptr w, CUdeviceptr y,
                               CUdeviceptr workspace) const {
  const CUdeviceptr now[4] = {x, w, y, workspace};
  if (!pack_ || !std::equal(now, now + 4, pack_ptrs_)) {
    if (pack_) dnn_->cudnnBackendDestroyDescriptor(pack_);
    pack_ = nullptr;
    EDGERT_ASSIGN_OR_RETURN(pack_, variantPack(x, w, y, workspace));
    std::copy(now, now + 4, pack_ptrs_);
  }
  return dnn_->check(dnn_->cudnnBackendExecute(env.dnn_handle, plan_, pack_),
                     "cudnnBackendExecute (convolution)");
}

Result<cudnnBackendDescriptor_t> CudnnGraphConv::variantPack(CUdeviceptr x, CUdeviceptr w,
                                                             CUdeviceptr y,
                                                             CUdeviceptr workspace) const {
  Desc pack(dnn_, CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  void* ptrs[3] = {reinterpret_cast<void*>(x), reinterpret_cast<void*>(w),
                   reinterpret_cast<void*>(y)};
  const int64_t uids[3] = {'x', 'w', 'y'};
  void* ws = reinterpret_cast<void*>(workspace);
  EDGERT_RETURN_IF_ERROR(pack.set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, ptrs,
                                  3, "variant pack"));
  EDGERT_RETURN_IF_ERROR(
      pack.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, uids, 3, "variant pack"));
  EDGERT_RETURN_IF_ERROR(
      pack.set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, &ws, 1, "variant pack"));
  EDGERT_RETURN_IF_ERROR(pack.finalize("cuDNN variant pack"));
  return pack.release();
}

}  // namespace edgert::cuda
