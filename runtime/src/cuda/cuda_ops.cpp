// CUDA layers: cuDNN convolutions, cuBLASLt GEMMs and the embedded kernels for the rest.
// FP32 throughout this first version; layers outside it fall back to the CPU kernels.
#include "cuda_ops.h"

#include "cuda_layers.h"

#include <algorithm>
#include <map>
#include <set>

#include "../../../kernels/kernel_params.h"
#include "../ops/conv_geometry.h"
#include "../ops/fused_elementwise.h"
#include "../ops/op_util.h"
#include "edgert/internal/elementwise_ops.h"

namespace edgert::cuda {

long long Env::residentGrid(long long smem) const {
  // 1 KiB of each block's shared memory is reserved by the hardware; at most 8 blocks of 256
  // threads fit a multiprocessor.
  const long long per_sm = std::clamp<long long>(smem_per_sm / (smem + 1024), 1, 8);
  return std::max(sm_count, 1) * per_sm;
}

Result<CUdeviceptr> Env::upload(const void* data, size_t bytes) const {
  CUdeviceptr p = 0;
  EDGERT_RETURN_IF_ERROR(d->check(d->cuMemAlloc(&p, std::max<size_t>(bytes, 4)), "cuMemAlloc"));
  owned->push_back(p);
  if (owned_bytes) *owned_bytes += std::max<size_t>(bytes, 4);
  if (bytes) EDGERT_RETURN_IF_ERROR(d->check(d->cuMemcpyHtoD(p, data, bytes), "cuMemcpyHtoD"));
  return p;
}

const char* stridedCopyKernel(size_t es) {
  switch (es) {
    case 1:
      return "edgert_strided_copy_b1";
    case 2:
      return "edgert_strided_copy_b2";
    case 4:
      return "edgert_strided_copy_b4";
    case 8:
      return "edgert_strided_copy_b8";
    default:
      return "edgert_strided_copy_b16";
  }
}

// Size-1 dims dropped, dims contiguous in both views merged, and the innermost run copied in
// the widest element (up to 16 bytes) that divides every offset and stride: an NHWC channel
// concat becomes a 2-D copy of 16-byte vectors instead of a 4-D one of halves (YOLOv8's
// concats and splits at batch 128 ran at a tenth of memory bandwidth, dominated by index
// division). The arena aligns every buffer to 256 bytes.
StridedPart vectorizeCopy(StridedPart part, size_t es) {
  EdgertStrided& p = part.p;
  part.es = es;
  if (p.total == 0 || p.in_offset < 0 || p.out_offset < 0) return part;
  std::vector<int64_t> d, is, os;
  for (int i = 0; i < p.rank; ++i) {
    if (p.dims[i] == 1) continue;
    if (p.in_strides[i] < 0 || p.out_strides[i] < 0) return part;
    if (!d.empty() && is.back() == p.in_strides[i] * p.dims[i] &&
        os.back() == p.out_strides[i] * p.dims[i]) {
      d.back() *= p.dims[i];
      is.back() = p.in_strides[i];
      os.back() = p.out_strides[i];
      continue;
    }
    d.push_back(p.dims[i]);
    is.push_back(p.in_strides[i]);
    os.push_back(p.out_strides[i]);
  }
  if (d.empty()) {
    d = {1};
    is = {1};
    os = {1};
  }
  const size_t r = d.size();
  for (size_t w = 16; w > es; w /= 2) {
    const int64_t v = static_cast<int64_t>(w / es);
    bool ok = is[r - 1] == 1 && os[r - 1] == 1 && d[r - 1] % v == 0 && p.in_offset % v == 0 &&
              p.out_offset % v == 0;
    for (size_t i = 0; i + 1 < r && ok; ++i) ok = is[i] % v == 0 && os[i] % v == 0;
    if (!ok) continue;
    d[r - 1] /= v;
    for (size_t i = 0; i + 1 < r; ++i) {
      is[i] /= v;
      os[i] /= v;
    }
    p.in_offset /= v;
    p.out_offset /= v;
    part.es = w;
    break;
  }
  p.rank = static_cast<int>(r);
  p.total = 1;
  for (size_t i = 0; i < r; ++i) {
    p.dims[i] = d[i];
    p.in_strides[i] = is[i];
    p.out_strides[i] = os[i];
    p.total *= d[i];
  }
  return part;
}

bool asTiledTranspose(const StridedPart& part, TiledTranspose* out) {
  const EdgertStrided& p = part.p;
  const int r = p.rank;
  if (p.total == 0 || r < 2 || r > 3 || p.out_strides[r - 1] != 1 || p.in_strides[r - 1] == 1 ||
      (part.es != 2 && part.es != 4 && part.es != 8))
    return false;
  int j = -1;
  for (int k = 0; k < r - 1; ++k)
    if (p.in_strides[k] == 1) j = k;
  if (j < 0) return false;
  EdgertTile& t = out->t;
  t.rows = p.dims[r - 1];
  t.cols = p.dims[j];
  t.x_row = p.in_strides[r - 1];
  t.y_row = p.out_strides[j];
  t.batch = 1;
  t.x_batch = t.y_batch = 0;
  if (r == 3) {
    const int b = j == 0 ? 1 : 0;
    t.batch = p.dims[b];
    t.x_batch = p.in_strides[b];
    t.y_batch = p.out_strides[b];
  }
  if (!tileGridFits(t)) return false;
  out->x_offset = static_cast<CUdeviceptr>(p.in_offset) * part.es;
  out->y_offset = static_cast<CUdeviceptr>(p.out_offset) * part.es;
  out->kernel = part.es == 2   ? "edgert_tile_transpose_b2"
                : part.es == 4 ? "edgert_tile_transpose_b4"
                               : "edgert_tile_transpose_b8";
  return true;
}

bool tileGridFits(const EdgertTile& t) {
  return (t.rows + 31) / 32 <= 65535;  // grid.y: one block row per 32 rows
}

EdgertDwConv depthwiseParams(const NodeContext& c, const ops::Geometry& g) {
  const Dims& x = c.dims(0);
  const Dims& w = c.dims(1);
  const Dims& y = c.out[0].dims;
  EdgertDwConv p{};
  p.n = x[0];
  p.c = x[1];
  p.ih = x[2];
  p.iw = x[3];
  p.oh = y[2];
  p.ow = y[3];
  p.kh = static_cast<int>(w[2]);
  p.kw = static_cast<int>(w[3]);
  p.sh = static_cast<int>(g.s[1]);
  p.sw = static_cast<int>(g.s[2]);
  p.ph = static_cast<int>(g.pb[1]);
  p.pw = static_cast<int>(g.pb[2]);
  p.dh = static_cast<int>(g.d[1]);
  p.dw = static_cast<int>(g.d[2]);
  p.act = convActivation(c);
  p.a = c.attrs->getFloat("_act_alpha", 0.f).value();
  p.b = c.attrs->getFloat("_act_beta", 0.f).value();
  return p;
}

Status launchTiled(const Env& env, const TiledTranspose& t, CUdeviceptr y, CUdeviceptr x) {
  CUdeviceptr yo = y + t.y_offset, xo = x + t.x_offset;
  EdgertTile p = t.t;
  void* args[] = {&yo, &xo, &p};
  return launchGrid(env, t.kernel, static_cast<unsigned>((p.cols + 31) / 32),
                    static_cast<unsigned>((p.rows + 31) / 32), 32, 8, args,
                    static_cast<unsigned>(std::min<long long>(p.batch, 65535)));
}

namespace {

class StridedLayer final : public GpuLayer {
 public:
  StridedLayer(std::vector<StridedPart> parts, size_t es) {
    for (const StridedPart& part : parts) {
      parts_.push_back(vectorizeCopy(part, es));
      tiled_.emplace_back();
      if (!asTiledTranspose(parts_.back(), &tiled_.back())) tiled_.back().kernel = nullptr;
    }
  }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    for (size_t k = 0; k < parts_.size(); ++k) {
      const StridedPart& part = parts_[k];
      CUdeviceptr y = g.out[part.out_index], x = g.in[part.in_index];
      if (contiguous(part) && y + static_cast<CUdeviceptr>(part.p.out_offset) * part.es ==
                                  x + static_cast<CUdeviceptr>(part.p.in_offset) * part.es)
        continue;  // the plan put the output range on the input range
      if (tiled_[k].kernel) {
        EDGERT_RETURN_IF_ERROR(launchTiled(env, tiled_[k], y, x));
        continue;
      }
      EdgertStrided p = part.p;
      if (p.total == 0) continue;
      void* args[] = {&y, &x, &p};
      EDGERT_RETURN_IF_ERROR(launch(env, stridedCopyKernel(part.es), p.total, args));
    }
    return Status::Ok();
  }
  std::vector<RangeCopy> rangeCopies() const override {
    std::vector<RangeCopy> r;
    for (const StridedPart& part : parts_)
      if (contiguous(part))
        r.push_back({part.in_index, part.out_index, n64u(part.p.in_offset) * part.es,
                     n64u(part.p.out_offset) * part.es, n64u(part.p.total) * part.es});
    return r;
  }

 private:
  // After vectorizeCopy a copy of one contiguous range is a 1-D copy with unit strides.
  static bool contiguous(const StridedPart& part) {
    const EdgertStrided& p = part.p;
    return p.total > 0 && p.rank == 1 && p.in_strides[0] == 1 && p.out_strides[0] == 1 &&
           p.in_offset >= 0 && p.out_offset >= 0;
  }
  static uint64_t n64u(long long v) { return static_cast<uint64_t>(v); }
  std::vector<StridedPart> parts_;
  std::vector<TiledTranspose> tiled_;  // kernel null: the general strided copy
};

}  // namespace

std::unique_ptr<GpuLayer> makeStridedLayer(std::vector<StridedPart> parts, size_t es) {
  return std::unique_ptr<GpuLayer>(new StridedLayer(std::move(parts), es));
}

EdgertStrided strided(const Dims& dims, const std::vector<int64_t>& in_strides,
                      const std::vector<int64_t>& out_strides, int64_t in_off, int64_t out_off) {
  EdgertStrided p{};
  p.rank = static_cast<int>(dims.size());
  p.total = n64(volume(dims));
  for (size_t i = 0; i < dims.size(); ++i) {
    p.dims[i] = dims[i];
    p.in_strides[i] = in_strides[i];
    p.out_strides[i] = out_strides[i];
  }
  if (p.rank == 0) {
    p.rank = 1;
    p.dims[0] = 1;
  }
  p.in_offset = in_off;
  p.out_offset = out_off;
  return p;
}

std::vector<int64_t> sliceStrides(const NodeContext& c, const std::vector<int64_t>& xs,
                                  int64_t* base) {
  // Shape inference already validated and clamped; recover starts/steps per axis.
  const Dims& x = c.dims(0);
  const int r = c.rank(0);
  const std::vector<int64_t> starts = ops::constInts(c, 1);
  std::vector<int64_t> axes = ops::constInts(c, 3), steps = ops::constInts(c, 4);
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  std::vector<int64_t> ins(xs);
  *base = 0;
  for (size_t k = 0; k < starts.size(); ++k) {
    const int ax = static_cast<int>(axes[k] < 0 ? axes[k] + r : axes[k]);
    const int64_t d = x[ax], st = steps[k];
    int64_t s = std::clamp<int64_t>(starts[k], -d - 1, d + 1);
    if (s < 0) s += d;
    s = st > 0 ? std::clamp<int64_t>(s, 0, d) : std::clamp<int64_t>(s, 0, d - 1);
    *base += s * xs[ax];
    ins[ax] = xs[ax] * st;
  }
  return ins;
}

Result<EdgertPool> poolParams(const NodeContext& c) {
  const Dims& x = c.dims(0);
  const std::vector<int64_t> ks = c.attrs->getInts("kernel_shape", {}).value();
  const bool ceil_mode = c.attrs->getInt("ceil_mode", 0).value() != 0;
  EDGERT_ASSIGN_OR_RETURN(
      ops::Geometry g,
      ops::forwardGeometry(c, Dims(x.begin() + 2, x.end()), Dims(ks.begin(), ks.end()), ceil_mode));
  EdgertPool p{};
  p.is_max = c.op == "MaxPool";
  p.count_include_pad = c.attrs->getInt("count_include_pad", 0).value() != 0;
  p.nc = x[0] * x[1];
  p.ih = g.in[1];
  p.iw = g.in[2];
  p.oh = g.out[1];
  p.ow = g.out[2];
  p.kh = static_cast<int>(g.k[1]);
  p.kw = static_cast<int>(g.k[2]);
  p.sh = static_cast<int>(g.s[1]);
  p.sw = static_cast<int>(g.s[2]);
  p.ph = static_cast<int>(g.pb[1]);
  p.pw = static_cast<int>(g.pb[2]);
  p.pe_h = static_cast<int>(g.pe[1]);
  p.pe_w = static_cast<int>(g.pe[2]);
  p.dh = static_cast<int>(g.d[1]);
  p.dw = static_cast<int>(g.d[2]);
  return p;
}

Result<EdgertResize> resizeParams(const NodeContext& c) {
  const Dims& x = c.dims(0);
  const Dims& out = c.out[0].dims;
  static const std::map<std::string, int> kCoord = {{"half_pixel", 0},
                                                    {"asymmetric", 1},
                                                    {"align_corners", 2},
                                                    {"pytorch_half_pixel", 3},
                                                    {"tf_half_pixel_for_nn", 4}};
  static const std::map<std::string, int> kNearest = {
      {"round_prefer_floor", 0}, {"round_prefer_ceil", 1}, {"floor", 2}, {"ceil", 3}};
  const std::string mode = c.attrs->getString("mode", "nearest").value();
  const auto coord =
      kCoord.find(c.attrs->getString("coordinate_transformation_mode", "half_pixel").value());
  const auto nearest =
      kNearest.find(c.attrs->getString("nearest_mode", "round_prefer_floor").value());
  if ((mode != "nearest" && mode != "linear") || coord == kCoord.end() || nearest == kNearest.end())
    return c.unsupported("this Resize mode");
  EdgertResize p{};
  p.nc = x[0] * x[1];
  p.ih = x[2];
  p.iw = x[3];
  p.oh = out[2];
  p.ow = out[3];
  p.linear = mode == "linear";
  p.coord = coord->second;
  p.nearest = nearest->second;
  const HostTensor* sc = c.constant(2);
  if (sc && sc->numel() == 4) {
    p.scale_h = static_cast<float>(sc->doubleAt(2));
    p.scale_w = static_cast<float>(sc->doubleAt(3));
  } else {
    p.scale_h = static_cast<float>(out[2]) / static_cast<float>(x[2]);
    p.scale_w = static_cast<float>(out[3]) / static_cast<float>(x[3]);
  }
  return p;
}

Status ltMatmulDesc(const Env& env, cublasComputeType_t compute, cudaDataType_t scale,
                    cublasOperation_t op_a, cublasOperation_t op_b, cublasLtMatmulDesc_t* desc) {
  const CublasLt* lt = env.lt;
  EDGERT_RETURN_IF_ERROR(
      lt->check(lt->cublasLtMatmulDescCreate(desc, compute, scale), "cublasLtMatmulDescCreate"));
  lt->cublasLtMatmulDescSetAttribute(*desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof(op_a));
  lt->cublasLtMatmulDescSetAttribute(*desc, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof(op_b));
  return Status::Ok();
}

bool ltHeuristicAlgo(const Env& env, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a,
                     cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c, cublasLtMatmulAlgo_t* algo,
                     size_t* workspace) {
  const CublasLt* lt = env.lt;
  cublasLtMatmulPreference_t pref;
  lt->cublasLtMatmulPreferenceCreate(&pref);
  const size_t max_ws = size_t{32} << 20;
  lt->cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_ws,
                                           sizeof(max_ws));
  cublasLtMatmulHeuristicResult_t res[1];
  int got = 0;
  const cublasStatus_t hs =
      lt->cublasLtMatmulAlgoGetHeuristic(env.lt_handle, desc, a, b, c, c, pref, 1, res, &got);
  lt->cublasLtMatmulPreferenceDestroy(pref);
  if (hs != CUBLAS_STATUS_SUCCESS || got == 0) return false;
  *algo = res[0].algo;
  *workspace = res[0].workspaceSize;
  return true;
}

int convActivation(const NodeContext& c) {
  static const std::map<std::string, int> kActs = {
      {"", kUnIdentity},           {"Relu", kUnRelu},           {"Clip", kUnClip},
      {"LeakyRelu", kUnLeakyRelu}, {"HardSwish", kUnHardSwish}, {"HardSigmoid", kUnHardSigmoid},
      {"Sigmoid", kUnSigmoid},     {"Silu", kUnSilu},           {"Gelu", kUnGelu},
      {"GeluTanh", kUnGeluTanh}};
  return kActs.at(c.attrs->getString("_act", "").value());
}

namespace {

using ops::BroadcastPlan;

// Float data in and out. Reductions' axes and Resize's sizes are integer constants the
// layer reads at creation, not data.
bool allFloat32(const NodeContext& c) {
  static const std::set<std::string_view> kShapeInputs = {"ReduceSum", "ReduceMean", "ReduceMax",
                                                          "ReduceMin", "Resize"};
  const bool shape_inputs = kShapeInputs.count(c.op) > 0;
  for (size_t k = 0; k < c.in.size(); ++k) {
    const ValueInfo& v = c.in[k];
    if (!v.present || v.dtype == DataType::kFloat32) continue;
    if (k > 0 && shape_inputs && v.constant) continue;
    return false;
  }
  for (const ValueInfo& v : c.out)
    if (v.present && v.dtype != DataType::kFloat32) return false;
  return true;
}

// ---- Unary and copies ----------------------------------------------------------------------

// y = op(x) over n floats (y may be x).
Status launchUnary(const Env& env, CUdeviceptr y, CUdeviceptr x, long long n, int op, float a,
                   float b) {
  void* args[] = {&y, &x, &n, &op, &a, &b};
  return launch(env, "edgert_unary_f32", n, args);
}

class UnaryLayer final : public GpuLayer {
 public:
  UnaryLayer(int op, float a, float b, long long n) : op_(op), a_(a), b_(b), n_(n) {}
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    return launchUnary(env, g.out[0], g.in[0], n_, op_, a_, b_);
  }

 private:
  int op_;
  float a_, b_;
  long long n_;
};

Result<std::unique_ptr<GpuLayer>> makeUnary(const NodeContext& c, const Env&) {
  const UnaryKernelOp u = *unaryKernelOp(c);
  return std::unique_ptr<GpuLayer>(new UnaryLayer(u.code, u.a, u.b, n64(volume(c.out[0].dims))));
}

class CopyLayer final : public GpuLayer {
 public:
  explicit CopyLayer(size_t bytes) : bytes_(bytes) {}
  const char* tactic() const override { return "memcpy"; }
  // Reshape and its kin relabel dims: the memory plan lets the output take the input's
  // bytes when the input dies here, and the copy is skipped.
  int inPlaceInput(size_t) const override { return 0; }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    if (!bytes_ || g.in[0] == g.out[0]) return Status::Ok();
    return env.d->check(env.d->cuMemcpyDtoDAsync(g.out[0], g.in[0], bytes_, env.stream),
                        "cuMemcpyDtoDAsync");
  }

 private:
  size_t bytes_;
};

// Cast between float16 and float32 (an fp16 input binding read by float32 layers).
class CastLayer final : public GpuLayer {
 public:
  CastLayer(long long n, bool to_float) : n_(n), to_float_(to_float) {}
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    CUdeviceptr y = g.out[0], x = g.in[0];
    long long n = n_;
    void* args[] = {&y, &x, &n};
    return launch(env, to_float_ ? "edgert_cast_f16_f32" : "edgert_cast_f32_f16", n_, args);
  }

 private:
  long long n_;
  bool to_float_;
};

Result<std::unique_ptr<GpuLayer>> makeCast(const NodeContext& c, const Env&) {
  return std::unique_ptr<GpuLayer>(
      new CastLayer(n64(volume(c.dims(0))), c.dtype(0) == DataType::kFloat16));
}

Result<std::unique_ptr<GpuLayer>> makeCopy(const NodeContext& c, const Env&) {
  return std::unique_ptr<GpuLayer>(
      new CopyLayer(volume(c.out[0].dims) * dataTypeSize(c.out[0].dtype)));
}

// ---- Strided copies: Transpose, Slice, Concat, Split, Expand ---------------------------------

Result<std::unique_ptr<GpuLayer>> makeTranspose(const NodeContext& c, const Env&) {
  const Dims& x = c.dims(0);
  std::vector<int64_t> perm = c.attrs->getInts("perm", {}).value();
  if (perm.empty())
    for (int i = c.rank(0) - 1; i >= 0; --i) perm.push_back(i);
  const auto xs = ops::stridesOf(x);
  const Dims& out = c.out[0].dims;
  std::vector<int64_t> ins;
  for (int64_t p : perm) ins.push_back(xs[p < 0 ? p + c.rank(0) : p]);
  return std::unique_ptr<GpuLayer>(
      makeStridedLayer({{strided(out, ins, ops::stridesOf(out)), 0, 0}}, dataTypeSize(c.dtype(0))));
}

Result<std::unique_ptr<GpuLayer>> makeConcat(const NodeContext& c, const Env&) {
  const int r = c.rank(0);
  int64_t axis = c.attrs->getInt("axis", 0).value();
  if (axis < 0) axis += r;
  const auto os = ops::stridesOf(c.out[0].dims);
  std::vector<StridedPart> parts;
  int64_t off = 0;
  for (size_t i = 0; i < c.numInputs(); ++i) {
    parts.push_back({strided(c.dims(i), ops::stridesOf(c.dims(i)), os, 0, off * os[axis]), i, 0});
    off += c.dims(i)[axis];
  }
  return (makeStridedLayer(std::move(parts), dataTypeSize(c.dtype(0))));
}

Result<std::unique_ptr<GpuLayer>> makeSplit(const NodeContext& c, const Env&) {
  const int r = c.rank(0);
  int64_t axis = c.attrs->getInt("axis", 0).value();
  if (axis < 0) axis += r;
  const auto xs = ops::stridesOf(c.dims(0));
  std::vector<StridedPart> parts;
  int64_t off = 0;
  for (size_t o = 0; o < c.out.size(); ++o) {
    parts.push_back(
        {strided(c.out[o].dims, xs, ops::stridesOf(c.out[o].dims), off * xs[axis], 0), 0, o});
    off += c.out[o].dims[axis];
  }
  return (makeStridedLayer(std::move(parts), dataTypeSize(c.dtype(0))));
}

Result<std::unique_ptr<GpuLayer>> makeExpand(const NodeContext& c, const Env&) {
  const Dims& out = c.out[0].dims;
  const Dims& x = c.dims(0);
  const auto xs = ops::stridesOf(x);
  std::vector<int64_t> ins(out.size(), 0);
  const size_t off = out.size() - x.size();
  for (size_t i = 0; i < x.size(); ++i) ins[off + i] = x[i] == 1 ? 0 : xs[i];
  return std::unique_ptr<GpuLayer>(
      makeStridedLayer({{strided(out, ins, ops::stridesOf(out)), 0, 0}}, dataTypeSize(c.dtype(0))));
}

Result<std::unique_ptr<GpuLayer>> makeSlice(const NodeContext& c, const Env&) {
  const auto xs = ops::stridesOf(c.dims(0));
  int64_t base = 0;
  const std::vector<int64_t> ins = sliceStrides(c, {xs.begin(), xs.end()}, &base);
  const Dims& out = c.out[0].dims;
  return (makeStridedLayer({{strided(out, ins, ops::stridesOf(out), base, 0), 0, 0}},
                           dataTypeSize(c.dtype(0))));
}

// ---- Reduce over adjacent axes ------------------------------------------------------------

// Kernels over an (outer, n, inner) view taking (y, x, outer, n, inner, flag): axis reductions
// (one thread per output) and softmax (one block per row).
class RowsLayer final : public GpuLayer {
 public:
  RowsLayer(const char* kernel, long long outer, long long n, long long inner, int flag,
            bool block_per_row)
      : kernel_(kernel),
        outer_(outer),
        n_(n),
        inner_(inner),
        flag_(flag),
        block_per_row_(block_per_row) {}
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    CUdeviceptr y = g.out[0], x = g.in[0];
    long long outer = outer_, n = n_, inner = inner_;
    int flag = flag_;
    void* args[] = {&y, &x, &outer, &n, &inner, &flag};
    const long long rows = outer_ * inner_;
    if (block_per_row_)
      return launch(env, kernel_, rows * 256, args, 256, static_cast<unsigned>(rows));
    return launch(env, kernel_, rows, args);
  }

 private:
  const char* kernel_;
  long long outer_, n_, inner_;
  int flag_;
  bool block_per_row_;
};

// The reduced axes as [first, last] when they are adjacent (the common case: one axis).
bool reduceAxes(const NodeContext& c, int* first, int* last) {
  std::vector<int64_t> axes =
      c.has(1) ? ops::constInts(c, 1) : c.attrs->getInts("axes", {}).value();
  const int r = c.rank(0);
  if (axes.empty() || r == 0) return false;
  for (auto& a : axes) a = a < 0 ? a + r : a;
  std::sort(axes.begin(), axes.end());
  for (size_t i = 1; i < axes.size(); ++i)
    if (axes[i] != axes[i - 1] + 1) return false;
  *first = static_cast<int>(axes.front());
  *last = static_cast<int>(axes.back());
  return true;
}

Result<std::unique_ptr<GpuLayer>> makeAxisReduce(const NodeContext& c, const Env&) {
  static const std::map<std::string_view, int> kOps = {
      {"ReduceSum", 0}, {"ReduceMean", 1}, {"ReduceMax", 2}, {"ReduceMin", 3}};
  int f = 0, l = 0;
  reduceAxes(c, &f, &l);
  const Dims& x = c.dims(0);
  return std::unique_ptr<GpuLayer>(
      new RowsLayer("edgert_axis_reduce_f32", n64(volume(Dims(x.begin(), x.begin() + f))),
                    n64(volume(Dims(x.begin() + f, x.begin() + l + 1))),
                    n64(volume(Dims(x.begin() + l + 1, x.end()))), kOps.at(c.op), false));
}

// ---- Constant Pad: fill the output, then copy the input into its interior -------------------

class PadLayer final : public GpuLayer {
 public:
  PadLayer(EdgertStrided interior, uint32_t value, size_t out_bytes, size_t es)
      : interior_(interior), value_(value), out_bytes_(out_bytes), es_(es) {}
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    CUdeviceptr y = g.out[0], x = g.in[0];
    if (value_ == 0 || es_ != 4) {
      EDGERT_RETURN_IF_ERROR(
          env.d->check(env.d->cuMemsetD8Async(y, 0, out_bytes_, env.stream), "cuMemsetD8Async"));
    } else {
      unsigned int v = value_;
      long long n = static_cast<long long>(out_bytes_ / 4);
      void* fargs[] = {&y, &v, &n};
      EDGERT_RETURN_IF_ERROR(launch(env, "edgert_fill_b4", n, fargs));
    }
    EdgertStrided p = interior_;
    if (p.total == 0) return Status::Ok();
    void* args[] = {&y, &x, &p};
    return launch(env, stridedCopyKernel(es_), p.total, args);
  }

 private:
  EdgertStrided interior_;
  uint32_t value_;
  size_t out_bytes_, es_;
};

bool padSupported(const NodeContext& c) {
  if (c.attrs->getString("mode", "constant").value() != "constant" || c.has(3)) return false;
  const std::vector<int64_t> pads = ops::constInts(c, 1);
  for (int64_t p : pads)
    if (p < 0) return false;
  const size_t es = dataTypeSize(c.dtype(0));
  if (es != 1 && es != 2 && es != 4 && es != 8) return false;
  if (c.has(2)) {  // a non-zero border value needs a 4-byte element and a constant
    const HostTensor* v = c.constant(2);
    if (!v) return false;
    bool zero = true;
    for (size_t i = 0; i < v->bytes(); ++i) zero &= static_cast<const uint8_t*>(v->data())[i] == 0;
    if (!zero && es != 4) return false;
  }
  return static_cast<int>(pads.size()) == 2 * c.rank(0);
}

Result<std::unique_ptr<GpuLayer>> makePad(const NodeContext& c, const Env&) {
  const Dims& x = c.dims(0);
  const Dims& out = c.out[0].dims;
  const std::vector<int64_t> pads = ops::constInts(c, 1);
  const auto os = ops::stridesOf(out);
  int64_t off = 0;
  for (size_t i = 0; i < x.size(); ++i) off += pads[i] * os[i];
  uint32_t value = 0;
  if (c.has(2) && dataTypeSize(c.dtype(0)) == 4) std::memcpy(&value, c.constant(2)->data(), 4);
  const size_t es = dataTypeSize(c.dtype(0));
  return std::unique_ptr<GpuLayer>(
      new PadLayer(strided(x, ops::stridesOf(x), os, 0, off), value, volume(out) * es, es));
}

// ---- Binary with broadcasting -----------------------------------------------------------------

class BinaryLayer final : public GpuLayer {
 public:
  BinaryLayer(EdgertBroadcast p, int op) : p_(p), op_(op) {
    // The vectorised forms (elementwise.cu) where the merged broadcast is one of them.
    const long long* as = p.a_strides;
    const long long* bs = p.b_strides;
    if (p.total % 4 || p.total / 4 >= (1LL << 31)) return;
    if (p.rank == 1 && as[0] == 1 && bs[0] == 1) {
      form_ = kSame;
    } else if (p.rank == 2 && p.dims[1] % 4 == 0 && p.dims[0] < (1LL << 31)) {
      if (as[0] == p.dims[1] && as[1] == 1 && bs[0] == 1 && bs[1] == 0) form_ = kRowsB;
      if (bs[0] == p.dims[1] && bs[1] == 1 && as[0] == 1 && as[1] == 0) form_ = kRowsA;
    }
  }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    CUdeviceptr y = g.out[0], a = g.in[0], b = g.in[1];
    int op = op_;
    const bool aligned = y % 16 == 0 && a % 16 == 0 && b % 16 == 0;
    unsigned n4 = static_cast<unsigned>(p_.total / 4);
    if (form_ == kSame && aligned) {
      void* args[] = {&y, &a, &b, &n4, &op};
      return launch(env, "edgert_binary_same_f32_v4", n4, args);
    }
    if ((form_ == kRowsA || form_ == kRowsB) && y % 16 == 0 &&
        (form_ == kRowsB ? a : b) % 16 == 0) {
      CUdeviceptr full = form_ == kRowsB ? a : b, row = form_ == kRowsB ? b : a;
      unsigned inner4 = static_cast<unsigned>(p_.dims[1] / 4);
      int row_first = form_ == kRowsA;
      void* args[] = {&y, &full, &row, &n4, &inner4, &op, &row_first};
      return launch(env, "edgert_binary_rows_f32_v4", n4, args);
    }
    EdgertBroadcast p = p_;
    void* args[] = {&y, &a, &b, &p, &op};
    return launch(env, "edgert_binary_f32", p.total, args);
  }

 private:
  enum Form { kGeneral, kSame, kRowsA, kRowsB };  // kRowsA: a holds the row values
  EdgertBroadcast p_;
  int op_;
  Form form_ = kGeneral;
};

Result<std::unique_ptr<GpuLayer>> makeBinary(const NodeContext& c, const Env&) {
  const Dims& out = c.out[0].dims;
  const BroadcastPlan bp = ops::makeBroadcastPlan(out, {&c.dims(0), &c.dims(1)});
  EdgertBroadcast p{};
  p.rank = bp.rank;
  p.total = n64(bp.total);
  for (int i = 0; i < bp.rank; ++i) {
    p.dims[i] = bp.dims[i];
    p.a_strides[i] = bp.strides[0][i];
    p.b_strides[i] = bp.strides[1][i];
  }
  return std::unique_ptr<GpuLayer>(new BinaryLayer(p, *binaryKernelOp(c)));
}

// ---- BatchNormalization (inference) as a per-channel affine ------------------------------------

class AffineLayer final : public GpuLayer {
 public:
  AffineLayer(CUdeviceptr scale, CUdeviceptr shift, long long n, long long inner, long long ch)
      : scale_(scale), shift_(shift), n_(n), inner_(inner), ch_(ch) {}
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    CUdeviceptr y = g.out[0], x = g.in[0], s = scale_, b = shift_;
    long long n = n_, inner = inner_, ch = ch_;
    void* args[] = {&y, &x, &s, &b, &n, &inner, &ch};
    return launch(env, "edgert_channel_affine_f32", n_, args);
  }

 private:
  CUdeviceptr scale_, shift_;
  long long n_, inner_, ch_;
};

Result<std::unique_ptr<GpuLayer>> makeBatchNorm(const NodeContext& c, const Env& env) {
  const Dims& x = c.dims(0);
  const int64_t C = x[1];
  const float eps = c.attrs->getFloat("epsilon", 1e-5f).value();
  std::vector<float> scale(C), shift(C);
  for (int64_t i = 0; i < C; ++i) {
    const double s = c.constant(1)->doubleAt(i) / std::sqrt(c.constant(4)->doubleAt(i) + eps);
    scale[i] = static_cast<float>(s);
    shift[i] = static_cast<float>(c.constant(2)->doubleAt(i) - c.constant(3)->doubleAt(i) * s);
  }
  EDGERT_ASSIGN_OR_RETURN(CUdeviceptr ds, env.upload(scale.data(), C * 4));
  EDGERT_ASSIGN_OR_RETURN(CUdeviceptr db, env.upload(shift.data(), C * 4));
  return std::unique_ptr<GpuLayer>(
      new AffineLayer(ds, db, n64(volume(x)), n64(volume(Dims(x.begin() + 2, x.end()))), n64(C)));
}

// ---- Pools, softmax, resize -----------------------------------------------------------------

// A kernel taking (y, x, params) by value: pools and resize.
template <class P>
class ParamKernelLayer final : public GpuLayer {
 public:
  ParamKernelLayer(const char* kernel, P p, long long threads)
      : kernel_(kernel), p_(p), threads_(threads) {}
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    CUdeviceptr y = g.out[0], x = g.in[0];
    P p = p_;
    void* args[] = {&y, &x, &p};
    return launch(env, kernel_, threads_, args);
  }

 private:
  const char* kernel_;
  P p_;
  long long threads_;
};

Result<std::unique_ptr<GpuLayer>> makePool(const NodeContext& c, const Env&) {
  EDGERT_ASSIGN_OR_RETURN(EdgertPool p, poolParams(c));
  return std::unique_ptr<GpuLayer>(
      new ParamKernelLayer<EdgertPool>("edgert_pool2d_f32", p, p.nc * p.oh * p.ow));
}

class RowReduceLayer final : public GpuLayer {
 public:
  RowReduceLayer(long long rows, long long n, int is_max) : rows_(rows), n_(n), is_max_(is_max) {}
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    CUdeviceptr y = g.out[0], x = g.in[0];
    long long rows = rows_, n = n_;
    int mx = is_max_;
    void* args[] = {&y, &x, &rows, &n, &mx};
    return launch(env, "edgert_row_reduce_f32", rows_ * 256, args, 256,
                  static_cast<unsigned>(rows_));
  }

 private:
  long long rows_, n_;
  int is_max_;
};

Result<std::unique_ptr<GpuLayer>> makeGlobalPool(const NodeContext& c, const Env&) {
  const Dims& x = c.dims(0);
  return std::unique_ptr<GpuLayer>(new RowReduceLayer(
      n64(x[0] * x[1]), n64(volume(Dims(x.begin() + 2, x.end()))), c.op == "GlobalMaxPool"));
}

Result<std::unique_ptr<GpuLayer>> makeSoftmax(const NodeContext& c, const Env&) {
  const bool coerce = c.attrs->getInt("_coerce_2d", 0).value() != 0;
  int64_t axis = c.attrs->getInt("axis", coerce ? 1 : -1).value();
  const Dims& x = c.dims(0);
  if (axis < 0) axis += c.rank(0);
  const int64_t outer = volume(Dims(x.begin(), x.begin() + axis));
  int64_t n = x[axis], inner = volume(Dims(x.begin() + axis + 1, x.end()));
  if (coerce) {
    n = volume(Dims(x.begin() + axis, x.end()));
    inner = 1;
  }
  if (outer * inner > 2147483647LL) return Status(StatusCode::kUnsupported, "too many rows");
  if (n <= 64)  // a block per row would leave most of its threads idle
    return std::unique_ptr<GpuLayer>(new RowsLayer("edgert_softmax_short_f32", n64(outer), n64(n),
                                                   n64(inner), c.op == "LogSoftmax", false));
  return std::unique_ptr<GpuLayer>(new RowsLayer("edgert_softmax_f32", n64(outer), n64(n),
                                                 n64(inner), c.op == "LogSoftmax", true));
}

Result<std::unique_ptr<GpuLayer>> makeResize(const NodeContext& c, const Env&) {
  EDGERT_ASSIGN_OR_RETURN(EdgertResize p, resizeParams(c));
  return std::unique_ptr<GpuLayer>(
      new ParamKernelLayer<EdgertResize>("edgert_resize2d_f32", p, p.nc * p.oh * p.ow));
}

bool resizeSupported(const NodeContext& c) {
  if (c.rank(0) != 4 || c.out[0].dims[0] != c.dims(0)[0] || c.out[0].dims[1] != c.dims(0)[1])
    return false;
  const std::string mode = c.attrs->getString("mode", "nearest").value();
  const std::string coord =
      c.attrs->getString("coordinate_transformation_mode", "half_pixel").value();
  return (mode == "nearest" || mode == "linear") && coord != "tf_crop_and_resize" &&
         coord != "half_pixel_symmetric";
}

// ---- Conv and ConvTranspose via cuDNN -------------------------------------------------------

// The four cuDNN descriptors of a forward convolution: `in` -> `out` with filter `w`.
// ConvTranspose uses the same description and runs it backwards (backward data).
struct ConvDescriptors {
  const Cudnn* dnn = nullptr;
  cudnnTensorDescriptor_t in = nullptr, out = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;

  ~ConvDescriptors() {
    if (!dnn) return;
    if (in) dnn->cudnnDestroyTensorDescriptor(in);
    if (out) dnn->cudnnDestroyTensorDescriptor(out);
    if (w) dnn->cudnnDestroyFilterDescriptor(w);
    if (conv) dnn->cudnnDestroyConvolutionDescriptor(conv);
  }

  // Re-describes the convolution's compute type and math (FP16 layers try several configs).
  Status setCompute(int nsp, const std::vector<int>& pads, const std::vector<int>& strides,
                    const std::vector<int>& dil, int64_t group, cudnnDataType_t compute,
                    cudnnMathType_t math) {
    EDGERT_RETURN_IF_ERROR(dnn->check(
        dnn->cudnnSetConvolutionNdDescriptor(conv, nsp, pads.data(), strides.data(), dil.data(),
                                             CUDNN_CROSS_CORRELATION, compute),
        "cudnnSetConvolutionNdDescriptor"));
    EDGERT_RETURN_IF_ERROR(
        dnn->check(dnn->cudnnSetConvolutionGroupCount(conv, static_cast<int>(group)),
                   "cudnnSetConvolutionGroupCount"));
    return dnn->check(dnn->cudnnSetConvolutionMathType(conv, math), "cudnnSetConvolutionMathType");
  }

  Status init(const Cudnn* d, const Dims& in_dims, const Dims& out_dims, const Dims& w_dims,
              const std::vector<int>& pads, const std::vector<int>& strides,
              const std::vector<int>& dil, int64_t group, bool fp16 = false) {
    dnn = d;
    const cudnnDataType_t dt = fp16 ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
    auto toInt = [](const Dims& v) { return std::vector<int>(v.begin(), v.end()); };
    EDGERT_RETURN_IF_ERROR(
        d->check(d->cudnnCreateTensorDescriptor(&in), "cudnnCreateTensorDescriptor"));
    EDGERT_RETURN_IF_ERROR(
        d->check(d->cudnnCreateTensorDescriptor(&out), "cudnnCreateTensorDescriptor"));
    EDGERT_RETURN_IF_ERROR(
        d->check(d->cudnnCreateFilterDescriptor(&w), "cudnnCreateFilterDescriptor"));
    EDGERT_RETURN_IF_ERROR(
        d->check(d->cudnnCreateConvolutionDescriptor(&conv), "cudnnCreateConvolutionDescriptor"));
    for (auto [t, dims] : {std::pair{in, &in_dims}, std::pair{out, &out_dims}}) {
      EDGERT_RETURN_IF_ERROR(d->check(
          d->cudnnSetTensorNdDescriptor(t, dt, static_cast<int>(dims->size()), toInt(*dims).data(),
                                        toInt(ops::stridesOf(*dims)).data()),
          "cudnnSetTensorNdDescriptor"));
    }
    EDGERT_RETURN_IF_ERROR(d->check(
        d->cudnnSetFilterNdDescriptor(w, dt, CUDNN_TENSOR_NCHW, static_cast<int>(w_dims.size()),
                                      toInt(w_dims).data()),
        "cudnnSetFilterNdDescriptor"));
    EDGERT_RETURN_IF_ERROR(
        d->check(d->cudnnSetConvolutionNdDescriptor(conv, static_cast<int>(pads.size()),
                                                    pads.data(), strides.data(), dil.data(),
                                                    CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                 "cudnnSetConvolutionNdDescriptor"));
    EDGERT_RETURN_IF_ERROR(d->check(d->cudnnSetConvolutionGroupCount(conv, static_cast<int>(group)),
                                    "cudnnSetConvolutionGroupCount"));
    // FP32 engines keep FP32 accuracy: no TF32 tensor-core math.
    return d->check(d->cudnnSetConvolutionMathType(conv, CUDNN_FMA_MATH),
                    "cudnnSetConvolutionMathType");
  }
};

// The epilogue after cuDNN: y = act(y + bias + residual), skipped when there is nothing to do.
struct Epilogue {
  int act = kUnIdentity;
  float a = 0.f, b = 0.f;
  long long n = 0, inner = 0, ch = 0;
  // In place on fp32, four pixels per thread with the activation fixed (epilogue.cu), where
  // the plane size and activation allow (the one-element kernel with the general activation
  // switch is what the FP16 path measured at a quarter of DRAM bandwidth).
  std::string v4_kernel;
  float v4_a = 0.f, v4_b = 0.f;

  // y = act(x + bias + res); x is y itself (fp32) or, after an FP16 layer, its fp16 result.
  Status enqueue(const Env& env, CUdeviceptr y, CUdeviceptr bias, CUdeviceptr res,
                 CUdeviceptr x_half = 0) const {
    if (!x_half && !bias && !res && act == kUnIdentity) return Status::Ok();
    if (!x_half && !v4_kernel.empty() && y % 16 == 0 && res % 16 == 0) {
      unsigned n4 = static_cast<unsigned>(n / 4), inner4 = static_cast<unsigned>(inner / 4),
               c = static_cast<unsigned>(ch);
      float fa = v4_a, fb = v4_b;
      void* args[] = {&y, &bias, &res, &n4, &inner4, &c, &fa, &fb};
      return launch(env, v4_kernel.c_str(), n4, args);
    }
    CUdeviceptr x = x_half ? x_half : y;
    long long nn = n, in = inner, c = ch;
    int op = act;
    float aa = a, bb = b;
    void* args[] = {&y, &x, &bias, &res, &nn, &in, &c, &op, &aa, &bb};
    return launch(env, x_half ? "edgert_bias_act_h2f" : "edgert_bias_act_f32", n, args);
  }
};

Status toHalf(const Env& env, CUdeviceptr dst, CUdeviceptr src, long long n) {
  void* args[] = {&dst, &src, &n};
  return launch(env, "edgert_f32_to_f16", n, args);
}

// Uploads a constant as fp16 (weights of an FP16 layer).
Result<CUdeviceptr> uploadHalf(const Env& env, const HostTensor& t) {
  std::vector<uint16_t> h(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < h.size(); ++i)
    h[i] = floatToHalf(static_cast<float>(t.doubleAt(static_cast<int64_t>(i))));
  return env.upload(h.data(), h.size() * 2);
}

Epilogue epilogueFor(const Dims& y, int act, float a, float b) {
  Epilogue e;
  e.act = act;
  e.a = a;
  e.b = b;
  e.n = n64(volume(y));
  e.inner = n64(volume(Dims(y.begin() + 2, y.end())));
  e.ch = n64(y[1]);
  e.v4_a = a;
  e.v4_b = b;
  const int fixed = fixedActivation(act, &e.v4_a, &e.v4_b);
  if (fixed >= 0 && e.inner % 4 == 0 && e.n / 4 < (1LL << 31))
    e.v4_kernel = strCat("edgert_bias_act_f32_v4_a", fixed);
  return e;
}

class ConvLayer final : public GpuLayer {
 public:
  size_t scratchBytes() const override {
    return align256(ws_) + align256(x_half_) + align256(y_half_);
  }
  const char* tactic() const override { return tactic_.c_str(); }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    const float one = 1.f, zero = 0.f;
    CUdeviceptr x = g.in[0], w = g.in[1], y = g.out[0];
    // FP16: scratch = [workspace | x in fp16 | y in fp16]; weights were uploaded in fp16.
    const CUdeviceptr xh = g.scratch + align256(ws_), yh = xh + align256(x_half_);
    if (w_half_) {
      EDGERT_RETURN_IF_ERROR(toHalf(env, xh, x, static_cast<long long>(x_half_ / 2)));
      x = xh;
      w = w_half_;
      y = yh;
    }
    EDGERT_RETURN_IF_ERROR(env.dnn->check(
        env.dnn->cudnnConvolutionForward(
            env.dnn_handle, &one, d_.in, reinterpret_cast<const void*>(x), d_.w,
            reinterpret_cast<const void*>(w), d_.conv, algo_, reinterpret_cast<void*>(g.scratch),
            ws_, &zero, d_.out, reinterpret_cast<void*>(y)),
        "cudnnConvolutionForward"));
    return epi_.enqueue(env, g.out[0], g.n_in > 2 ? g.in[2] : 0, g.n_in > 3 ? g.in[3] : 0,
                        w_half_ ? yh : 0);
  }

  CUdeviceptr w_half_ = 0;
  size_t x_half_ = 0, y_half_ = 0;
  ConvDescriptors d_;
  cudnnConvolutionFwdAlgo_t algo_{};
  size_t ws_ = 0;
  Epilogue epi_;
  std::string tactic_;
};

Result<std::unique_ptr<GpuLayer>> makeMatmulLayer(const NodeContext& c, const Env& env, int64_t M,
                                                  int64_t N, int64_t K, bool ta, bool tb,
                                                  int64_t batch, int64_t sa, int64_t sb,
                                                  float alpha, float beta);

// A 1x1 convolution (stride 1, no padding, one group) is a GEMM per image:
// Y[n] (M x HW) = W (M x C) * X[n] (C x HW); cuBLASLt may beat cuDNN on small images.
bool conv1x1AsGemm(const NodeContext& c) {
  const Dims& w = c.dims(1);
  if (c.rank(0) != 4 || w.size() != 4 || w[2] != 1 || w[3] != 1 || c.fp16) return false;
  if (c.attrs->getInt("group", 1).value() != 1) return false;
  for (const char* k : {"strides", "dilations"}) {
    const std::vector<int64_t> vs = c.attrs->getInts(k, {}).value();
    for (int64_t v : vs)
      if (v != 1) return false;
  }
  const std::vector<int64_t> pads = c.attrs->getInts("pads", {}).value();
  for (int64_t v : pads)
    if (v != 0) return false;
  const std::string ap = c.attrs->getString("auto_pad", "NOTSET").value();
  return ap == "NOTSET" || ap == "VALID";
}

class Conv1x1GemmLayer final : public GpuLayer {
 public:
  size_t scratchBytes() const override { return mm_->scratchBytes(); }
  const char* tactic() const override { return "cublaslt-1x1"; }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    const CUdeviceptr ab[2] = {g.in[1], g.in[0]};  // A = weights, B = the image
    GpuArgs m = g;
    m.in = ab;
    m.n_in = 2;
    EDGERT_RETURN_IF_ERROR(mm_->enqueue(env, m));
    return epi_.enqueue(env, g.out[0], g.n_in > 2 ? g.in[2] : 0, g.n_in > 3 ? g.in[3] : 0);
  }
  std::unique_ptr<GpuLayer> mm_;
  Epilogue epi_;
};

Result<std::unique_ptr<GpuLayer>> makeConv1x1Gemm(const NodeContext& c, const Env& env) {
  const Dims& x = c.dims(0);
  const Dims& y = c.out[0].dims;
  const int64_t M = y[1], K = x[1], HW = x[2] * x[3];
  auto L = std::make_unique<Conv1x1GemmLayer>();
  EDGERT_ASSIGN_OR_RETURN(
      L->mm_, makeMatmulLayer(c, env, M, HW, K, false, false, x[0], 0, K * HW, 1.f, 0.f));
  L->epi_ = epilogueFor(y, convActivation(c), c.attrs->getFloat("_act_alpha", 0.f).value(),
                        c.attrs->getFloat("_act_beta", 0.f).value());
  return std::unique_ptr<GpuLayer>(std::move(L));
}

// Depthwise convolution in NCHW fp32 (depthwise_f32.cu), bias, residual and activation fused;
// the tactic "fp32-depthwise", timed against cuDNN.
class DepthwiseF32Layer final : public GpuLayer {
 public:
  const char* tactic() const override { return "fp32-depthwise"; }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    EdgertDwConv p = p_;
    CUdeviceptr y = g.out[0], x = g.in[0], w = g.in[1], bias = g.n_in > 2 ? g.in[2] : 0,
                res = g.n_in > 3 ? g.in[3] : 0;
    void* args[] = {&p, &y, &x, &w, &bias, &res};
    return launch(env, kernel_.c_str(), threads_, args);
  }
  EdgertDwConv p_{};
  std::string kernel_;
  long long threads_ = 0;
};

Result<std::unique_ptr<GpuLayer>> makeDepthwiseF32(const NodeContext& c) {
  const Dims& x = c.dims(0);
  const Dims& w = c.dims(1);
  const Dims& y = c.out[0].dims;
  const int64_t group = c.attrs->getInt("group", 1).value();
  if (c.fp16 || x.size() != 4 || !c.constant(1) || group != x[1] || y[1] != x[1] || w[1] != 1)
    return c.unsupported("not a 2-D fp32 depthwise convolution");
  EDGERT_ASSIGN_OR_RETURN(
      ops::Geometry g,
      ops::forwardGeometry(c, Dims(x.begin() + 2, x.end()), Dims(w.begin() + 2, w.end()), false));
  auto L = std::make_unique<DepthwiseF32Layer>();
  EdgertDwConv& p = L->p_;
  p = depthwiseParams(c, g);
  const int a = fixedActivation(p.act, &p.a, &p.b);
  if (!unrolledDepthwiseShape(p) || a < 0)
    return c.unsupported("a depthwise shape or activation the fp32 kernel does not cover");
  L->threads_ = p.n * p.c * p.oh * ((p.ow + 3) / 4);
  if (L->threads_ >= (1LL << 31) || p.n * p.c * p.ih * p.iw >= (1LL << 31))
    return c.unsupported("too large for the fp32 depthwise kernel's 32-bit indices");
  L->kernel_ = strCat("edgert_dwconv_f32_k", p.kh, "s", p.sh, "_a", a);
  return std::unique_ptr<GpuLayer>(std::move(L));
}

Result<std::unique_ptr<GpuLayer>> makeConv(const NodeContext& c, const Env& env) {
  if (c.tactic == "fp32-depthwise") {
    auto dw = makeDepthwiseF32(c);
    if (dw.ok() || c.strict_tactic) return dw;
  }
  if (c.tactic == "cublaslt-1x1") {
    if (conv1x1AsGemm(c)) return makeConv1x1Gemm(c, env);
    if (c.strict_tactic) return c.unsupported("not a 1x1 convolution cuBLASLt can run");
  }
  // A cuDNN algorithm chosen by the builder's timing: "cudnn-fp32-algo<N>".
  int forced = -1;
  if (c.tactic.rfind("cudnn-fp32-algo", 0) == 0 && !c.fp16)
    forced = std::atoi(std::string(c.tactic.substr(15)).c_str());
  const Dims& x = c.dims(0);
  const Dims& w = c.dims(1);
  const Dims& y = c.out[0].dims;
  EDGERT_ASSIGN_OR_RETURN(
      ops::Geometry g,
      ops::forwardGeometry(c, Dims(x.begin() + 2, x.end()), Dims(w.begin() + 2, w.end()), false));
  std::vector<int> pads, strides, dil;
  for (int i = 3 - g.nsp; i < 3; ++i) {
    pads.push_back(static_cast<int>(g.pb[i]));
    strides.push_back(static_cast<int>(g.s[i]));
    dil.push_back(static_cast<int>(g.d[i]));
  }
  auto L = std::make_unique<ConvLayer>();
  const Cudnn* dnn = env.dnn;
  const bool fp16 = c.fp16 && c.constant(1) != nullptr;
  EDGERT_RETURN_IF_ERROR(
      L->d_.init(dnn, x, y, w, pads, strides, dil, c.attrs->getInt("group", 1).value(), fp16));
  if (fp16) {
    EDGERT_ASSIGN_OR_RETURN(L->w_half_, uploadHalf(env, *c.constant(1)));
    L->x_half_ = volume(x) * 2;
    L->y_half_ = volume(y) * 2;
  }
  cudnnConvolutionFwdAlgoPerf_t perf[16];
  int got = 0;
  auto query = [&]() {
    return dnn->check(dnn->cudnnGetConvolutionForwardAlgorithm_v7(
                          env.dnn_handle, L->d_.in, L->d_.w, L->d_.conv, L->d_.out, 16, &got, perf),
                      "cudnnGetConvolutionForwardAlgorithm_v7");
  };
  auto anySupported = [&]() {
    for (int i = 0; i < got; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS) return true;
    return false;
  };
  EDGERT_RETURN_IF_ERROR(query());
  const char* config = fp16 ? "fp16" : "fp32";
  if (fp16 && !anySupported()) {
    // cuDNN versions differ in which FP16 configurations the legacy API accepts for NCHW:
    // try FP32 accumulation without forced tensor-op math, then FP16 accumulation.
    const struct {
      cudnnDataType_t compute;
      cudnnMathType_t math;
      const char* name;
    } kConfigs[] = {{CUDNN_DATA_FLOAT, CUDNN_DEFAULT_MATH, "fp16-acc32"},
                    {CUDNN_DATA_FLOAT, CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, "fp16-acc32-conv"},
                    {CUDNN_DATA_HALF, CUDNN_TENSOR_OP_MATH, "fp16-acc16"}};
    for (const auto& cfg : kConfigs) {
      EDGERT_RETURN_IF_ERROR(L->d_.setCompute(static_cast<int>(pads.size()), pads, strides, dil,
                                              c.attrs->getInt("group", 1).value(), cfg.compute,
                                              cfg.math));
      EDGERT_RETURN_IF_ERROR(query());
      if (anySupported()) {
        config = cfg.name;
        break;
      }
    }
  }
  // The builder's timed choice when this cuDNN offers it, else the heuristic's first
  // usable algorithm (workspace within 256 MiB).
  const auto usable = [&](int i) {
    return perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= (size_t{256} << 20);
  };
  int chosen = -1;
  for (int i = 0; i < got && chosen < 0 && forced >= 0; ++i)
    if (usable(i) && perf[i].algo == forced) chosen = i;
  if (forced >= 0 && chosen < 0 && c.strict_tactic)
    return c.unsupported("cuDNN algorithm ", forced, " is not available for this convolution");
  for (int i = 0; i < got && chosen < 0; ++i)
    if (usable(i)) chosen = i;
  const bool found = chosen >= 0;
  if (found) {
    L->algo_ = perf[chosen].algo;
    L->ws_ = perf[chosen].memory;
  }
  if (!found) {
    std::string why;
    for (int i = 0; i < got && i < 4; ++i)
      why += strCat(i ? "; " : "", "algo ", static_cast<int>(perf[i].algo), ": ",
                    dnn->cudnnGetErrorString(perf[i].status), " (", perf[i].memory, " B)");
    return c.unsupported("cuDNN offers no algorithm for this convolution (", got,
                         " candidates: ", why, ")");
  }
  L->tactic_ = strCat("cudnn-", config, "-algo", static_cast<int>(L->algo_));
  L->epi_ = epilogueFor(y, convActivation(c), c.attrs->getFloat("_act_alpha", 0.f).value(),
                        c.attrs->getFloat("_act_beta", 0.f).value());
  return std::unique_ptr<GpuLayer>(std::move(L));
}

bool convSupported(const NodeContext& c) {
  if (c.rank(0) < 3 || c.rank(0) > 5) return false;
  const auto pads = c.attrs->getInts("pads", {}).value();
  const size_t n = pads.size() / 2;
  for (size_t i = 0; i < n; ++i)
    if (pads[i] != pads[i + n]) return false;  // cuDNN pads symmetrically
  const std::string ap = c.attrs->getString("auto_pad", "NOTSET").value();
  return ap == "NOTSET" || ap == "VALID";
}

class ConvTransposeLayer final : public GpuLayer {
 public:
  size_t scratchBytes() const override { return ws_; }
  const char* tactic() const override { return "cudnn-bwd-data"; }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    const float one = 1.f, zero = 0.f;
    // Transposed conv of x = backward data of the forward conv (out = x) -> in = y.
    EDGERT_RETURN_IF_ERROR(env.dnn->check(
        env.dnn->cudnnConvolutionBackwardData(env.dnn_handle, &one, d_.w,
                                              reinterpret_cast<const void*>(g.in[1]), d_.out,
                                              reinterpret_cast<const void*>(g.in[0]), d_.conv,
                                              algo_, reinterpret_cast<void*>(g.scratch), ws_, &zero,
                                              d_.in, reinterpret_cast<void*>(g.out[0])),
        "cudnnConvolutionBackwardData"));
    return epi_.enqueue(env, g.out[0], g.n_in > 2 ? g.in[2] : 0, 0);
  }

  ConvDescriptors d_;
  cudnnConvolutionBwdDataAlgo_t algo_{};
  size_t ws_ = 0;
  Epilogue epi_;
};

// 2-D, symmetric pads, no output_shape: then cuDNN's output size rule matches ONNX's.
bool convTransposeSupported(const NodeContext& c) {
  if (c.rank(0) != 4) return false;
  const auto pads = c.attrs->getInts("pads", {}).value();
  if (pads.size() == 4 && (pads[0] != pads[2] || pads[1] != pads[3])) return false;
  if (c.attrs->has("output_shape")) return false;
  const std::string ap = c.attrs->getString("auto_pad", "NOTSET").value();
  if (ap != "NOTSET" && ap != "VALID") return false;
  const auto op = c.attrs->getInts("output_padding", {}).value();
  const auto st = c.attrs->getInts("strides", {1, 1}).value();
  for (size_t i = 0; i < op.size() && i < st.size(); ++i)
    if (op[i] >= st[i]) return false;
  return true;
}

Result<std::unique_ptr<GpuLayer>> makeConvTranspose(const NodeContext& c, const Env& env) {
  const Dims& x = c.dims(0);
  const Dims& y = c.out[0].dims;
  const auto pads = c.attrs->getInts("pads", {0, 0, 0, 0}).value();
  const auto strides = c.attrs->getInts("strides", {1, 1}).value();
  const auto dil = c.attrs->getInts("dilations", {1, 1}).value();
  auto toInt = [](const std::vector<int64_t>& v, size_t n) {
    return std::vector<int>(v.begin(), v.begin() + n);
  };
  auto L = std::make_unique<ConvTransposeLayer>();
  const Cudnn* dnn = env.dnn;
  EDGERT_RETURN_IF_ERROR(L->d_.init(dnn, y, x, c.dims(1), toInt(pads, 2), toInt(strides, 2),
                                    toInt(dil, 2), c.attrs->getInt("group", 1).value()));
  cudnnConvolutionBwdDataAlgoPerf_t perf[8];
  int got = 0;
  EDGERT_RETURN_IF_ERROR(
      dnn->check(dnn->cudnnGetConvolutionBackwardDataAlgorithm_v7(
                     env.dnn_handle, L->d_.w, L->d_.out, L->d_.conv, L->d_.in, 8, &got, perf),
                 "cudnnGetConvolutionBackwardDataAlgorithm_v7"));
  bool found = false;
  for (int i = 0; i < got && !found; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > (size_t{256} << 20)) continue;
    L->algo_ = perf[i].algo;
    L->ws_ = perf[i].memory;
    found = true;
  }
  if (!found) return c.unsupported("cuDNN offers no algorithm for this transposed convolution");
  L->epi_ = epilogueFor(y, kUnIdentity, 0.f, 0.f);
  return std::unique_ptr<GpuLayer>(std::move(L));
}

// ---- Gemm / MatMul via cuBLASLt ---------------------------------------------------------------

class MatmulLayer final : public GpuLayer {
 public:
  ~MatmulLayer() override {
    if (lt_) {
      if (desc_) lt_->cublasLtMatmulDescDestroy(desc_);
      for (auto* l : {a_, b_, c_})
        if (l) lt_->cublasLtMatrixLayoutDestroy(l);
    }
  }
  size_t scratchBytes() const override {
    return align256(ws_) + align256(a_half_) + align256(b_half_);
  }
  const char* tactic() const override { return fp16_ ? "cublaslt-fp16" : "cublaslt"; }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    if (bias_.total) {  // Gemm's C, broadcast into the output, then beta
      CUdeviceptr y = g.out[0], cc = g.in[2];
      EdgertStrided p = bias_;
      void* args[] = {&y, &cc, &p};
      EDGERT_RETURN_IF_ERROR(launch(env, "edgert_strided_copy_b4", p.total, args));
    }
    // Row-major Y = A B is column-major Y^T = B^T A^T: the operands swap.
    CUdeviceptr A = g.in[0], B = g.in[1];
    const CUdeviceptr Y = g.out[0];
    if (fp16_) {  // scratch = [workspace | A in fp16 | B in fp16 unless its weights are]
      const CUdeviceptr ah = g.scratch + align256(ws_), bh = ah + align256(a_half_);
      EDGERT_RETURN_IF_ERROR(toHalf(env, ah, A, static_cast<long long>(a_half_ / 2)));
      A = ah;
      if (b_const_half_) {
        B = b_const_half_;
      } else {
        EDGERT_RETURN_IF_ERROR(toHalf(env, bh, B, static_cast<long long>(b_half_ / 2)));
        B = bh;
      }
    }
    EDGERT_RETURN_IF_ERROR(env.lt->check(
        env.lt->cublasLtMatmul(env.lt_handle, desc_, &alpha_, reinterpret_cast<const void*>(B), a_,
                               reinterpret_cast<const void*>(A), b_, &beta_,
                               reinterpret_cast<const void*>(Y), c_, reinterpret_cast<void*>(Y), c_,
                               &algo_, reinterpret_cast<void*>(g.scratch), ws_, env.stream),
        "cublasLtMatmul"));
    if (act_ == kUnIdentity) return Status::Ok();
    // Gemm's fused activation, in place (cuBLASLt's GELU epilogue is the tanh form only).
    return launchUnary(env, Y, Y, out_elements_, act_, act_a_, act_b_);
  }

  const CublasLt* lt_ = nullptr;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t a_ = nullptr, b_ = nullptr, c_ = nullptr;  // a_: B's memory, b_: A's
  cublasLtMatmulAlgo_t algo_{};
  size_t ws_ = 0;
  float alpha_ = 1.f, beta_ = 0.f;
  EdgertStrided bias_{};
  int act_ = kUnIdentity;  // Gemm's fused activation
  float act_a_ = 0.f, act_b_ = 0.f;
  long long out_elements_ = 0;
  bool fp16_ = false;
  size_t a_half_ = 0, b_half_ = 0;
  CUdeviceptr b_const_half_ = 0;
};

// M, N, K with A [M,K] (or [K,M] transposed) and B [K,N] (or [N,K]); batch with strides.
Result<std::unique_ptr<GpuLayer>> makeMatmulLayer(const NodeContext& c, const Env& env, int64_t M,
                                                  int64_t N, int64_t K, bool ta, bool tb,
                                                  int64_t batch, int64_t sa, int64_t sb,
                                                  float alpha, float beta) {
  auto L = std::make_unique<MatmulLayer>();
  const CublasLt* lt = env.lt;
  L->lt_ = lt;
  // FP16 operands (tensor cores), FP32 accumulation and output.
  const bool fp16 = c.fp16;
  const cudaDataType_t ab = fp16 ? CUDA_R_16F : CUDA_R_32F;
  if (fp16) {
    L->fp16_ = true;
    L->a_half_ = volume(c.dims(0)) * 2;
    if (c.constant(1)) {
      EDGERT_ASSIGN_OR_RETURN(L->b_const_half_, uploadHalf(env, *c.constant(1)));
    } else {
      L->b_half_ = volume(c.dims(1)) * 2;
    }
  }
  L->alpha_ = alpha;
  L->beta_ = beta;
  // Column-major view: D(N x M) = op(Bmem) (N x K) * op(Amem) (K x M).
  EDGERT_RETURN_IF_ERROR(ltMatmulDesc(env, CUBLAS_COMPUTE_32F, CUDA_R_32F,
                                      tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                      ta ? CUBLAS_OP_T : CUBLAS_OP_N, &L->desc_));
  // Bmem is [K,N] row-major = N x K col-major (ld N), or [N,K] = K x N col-major (ld K).
  EDGERT_RETURN_IF_ERROR(lt->check(
      lt->cublasLtMatrixLayoutCreate(&L->a_, ab, tb ? K : N, tb ? N : K, tb ? K : N), "layout B"));
  EDGERT_RETURN_IF_ERROR(lt->check(
      lt->cublasLtMatrixLayoutCreate(&L->b_, ab, ta ? M : K, ta ? K : M, ta ? M : K), "layout A"));
  EDGERT_RETURN_IF_ERROR(
      lt->check(lt->cublasLtMatrixLayoutCreate(&L->c_, CUDA_R_32F, N, M, N), "layout C"));
  if (batch > 1) {
    const int32_t bc = static_cast<int32_t>(batch);
    const int64_t sc = M * N;
    lt->cublasLtMatrixLayoutSetAttribute(L->a_, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &bc,
                                         sizeof(bc));
    lt->cublasLtMatrixLayoutSetAttribute(L->a_, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &sb,
                                         sizeof(sb));
    lt->cublasLtMatrixLayoutSetAttribute(L->b_, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &bc,
                                         sizeof(bc));
    lt->cublasLtMatrixLayoutSetAttribute(L->b_, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &sa,
                                         sizeof(sa));
    lt->cublasLtMatrixLayoutSetAttribute(L->c_, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &bc,
                                         sizeof(bc));
    lt->cublasLtMatrixLayoutSetAttribute(L->c_, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &sc,
                                         sizeof(sc));
  }
  if (!ltHeuristicAlgo(env, L->desc_, L->a_, L->b_, L->c_, &L->algo_, &L->ws_))
    return c.unsupported("cuBLASLt has no algorithm for this GEMM");
  return std::unique_ptr<GpuLayer>(std::move(L));
}

Result<std::unique_ptr<GpuLayer>> makeGemm(const NodeContext& c, const Env& env) {
  const bool ta = c.attrs->getInt("transA", 0).value() != 0,
             tb = c.attrs->getInt("transB", 0).value() != 0;
  const Dims& a = c.dims(0);
  const Dims& b = c.dims(1);
  const int64_t M = ta ? a[1] : a[0], K = ta ? a[0] : a[1], N = tb ? b[0] : b[1];
  float beta = c.attrs->getFloat("beta", 1.f).value();
  if (!c.has(2)) beta = 0.f;
  EDGERT_ASSIGN_OR_RETURN(auto L, makeMatmulLayer(c, env, M, N, K, ta, tb, 1, 0, 0,
                                                  c.attrs->getFloat("alpha", 1.f).value(), beta));
  if (beta != 0.f) {
    const Dims mn = {M, N};
    const BroadcastPlan bp = ops::makeBroadcastPlan(mn, {&mn, &c.dims(2)});
    std::vector<int64_t> ins, outs;
    Dims dims;
    for (int i = 0; i < bp.rank; ++i) {
      dims.push_back(bp.dims[i]);
      ins.push_back(bp.strides[1][i]);
      outs.push_back(bp.strides[0][i]);
    }
    static_cast<MatmulLayer*>(L.get())->bias_ = strided(dims, ins, outs);
  }
  auto* m = static_cast<MatmulLayer*>(L.get());
  m->act_ = convActivation(c);
  m->act_a_ = c.attrs->getFloat("_act_alpha", 0.f).value();
  m->act_b_ = c.attrs->getFloat("_act_beta", 0.f).value();
  m->out_elements_ = M * N;
  return L;
}

bool matmulSupported(const NodeContext& c) {
  const Dims& a = c.dims(0);
  const Dims& b = c.dims(1);
  if (a.size() < 2 || b.size() < 2) return false;
  // Batch dims: equal, or one side without batch (stride 0).
  const Dims ba(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  return volume(ba) == 1 || volume(bb) == 1 || ba == bb;
}

Result<std::unique_ptr<GpuLayer>> makeMatMul(const NodeContext& c, const Env& env) {
  const Dims& a = c.dims(0);
  const Dims& b = c.dims(1);
  const int64_t M = a[a.size() - 2], K = a.back(), N = b.back();
  const int64_t batch = volume(Dims(c.out[0].dims.begin(), c.out[0].dims.end() - 2));
  const int64_t sa = volume(Dims(a.begin(), a.end() - 2)) == 1 ? 0 : M * K;
  const int64_t sb = volume(Dims(b.begin(), b.end() - 2)) == 1 ? 0 : K * N;
  return makeMatmulLayer(c, env, M, N, K, false, false, batch, sa, sb, 1.f, 0.f);
}

// EdgertElementwise: the fused chain's program as the kernel's parameter block.
class FusedLayer final : public GpuLayer {
 public:
  explicit FusedLayer(const EdgertFused& p) : p_(p) {}
  const char* tactic() const override { return "fused"; }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    EdgertFused p = p_;
    for (int k = 0; k < p.n_inputs; ++k) p.in[k] = g.in[k];
    CUdeviceptr y = g.out[0];
    void* args[] = {&p, &y};
    return launch(env, "edgert_fused_f32", p.total, args);
  }

 private:
  EdgertFused p_;
};

Result<std::unique_ptr<GpuLayer>> makeFused(const NodeContext& c, const Env&) {
  EDGERT_ASSIGN_OR_RETURN(EdgertFused p, ops::fusedProgram(c));
  return std::unique_ptr<GpuLayer>(new FusedLayer(p));
}

}  // namespace

GpuFactory findGpuOp(const NodeContext& c) {
  static const std::map<std::string_view, GpuFactory> kCopyOps = {
      {"Identity", makeCopy}, {"Reshape", makeCopy},   {"Flatten", makeCopy},
      {"Squeeze", makeCopy},  {"Unsqueeze", makeCopy}, {"Transpose", makeTranspose},
      {"Concat", makeConcat}, {"Split", makeSplit},    {"Expand", makeExpand},
      {"Slice", makeSlice}};
  if (auto it = kCopyOps.find(c.op); it != kCopyOps.end()) {
    const size_t es = dataTypeSize(c.dtype(0));
    if (es == 1 || es == 2 || es == 4 || es == 8) return it->second;
  }
  if (c.op == "Dropout" && c.out.size() == 1) return makeCopy;
  if (c.op == "Pad" && padSupported(c)) return makePad;
  if (c.op == "Cast" && c.out.size() == 1 &&
      ((c.dtype(0) == DataType::kFloat16 && c.out[0].dtype == DataType::kFloat32) ||
       (c.dtype(0) == DataType::kFloat32 && c.out[0].dtype == DataType::kFloat16)))
    return makeCast;
  if (GpuFactory f = findInt8Op(c)) return f;
  if (!allFloat32(c)) return nullptr;
  if (c.op == "EdgertElementwise") return makeFused;
  if (unaryKernelOp(c)) return makeUnary;
  if (binaryKernelOp(c)) return makeBinary;
  if (c.op == "BatchNormalization" && c.constant(1) && c.constant(2) && c.constant(3) &&
      c.constant(4))
    return makeBatchNorm;
  if ((c.op == "MaxPool" && c.out.size() == 1) || c.op == "AveragePool")
    return c.rank(0) == 4 ? makePool : nullptr;
  if (c.op == "GlobalAveragePool" || c.op == "GlobalMaxPool") return makeGlobalPool;
  if (c.op == "ReduceSum" || c.op == "ReduceMean" || c.op == "ReduceMax" || c.op == "ReduceMin") {
    int f = 0, l = 0;
    if (!c.attrs->getInt("noop_with_empty_axes", 0).value() && reduceAxes(c, &f, &l))
      return makeAxisReduce;
  }
  if ((c.op == "Softmax" || c.op == "LogSoftmax") && c.rank(0) > 0) return makeSoftmax;
  if (c.op == "Resize" && resizeSupported(c)) return makeResize;
  if (c.op == "Conv" && convSupported(c)) return makeConv;
  if (c.op == "ConvTranspose" && convTransposeSupported(c)) return makeConvTranspose;
  if (c.op == "Gemm") return makeGemm;
  if (c.op == "MatMul" && matmulSupported(c)) return makeMatMul;
  return nullptr;
}

}  // namespace edgert::cuda
