// INT8 layers on the GPU (issue #4): QuantizeLinear, DequantizeLinear and EdgertQConv, over
// the kernels of kernels/int8.cu. In INT8 engines activations between INT8 layers are NHWC
// int8 (the NHWC copies FP16 engines use, one byte per element), so 1x1 convolutions are
// GEMMs on the tensor as it lies and the float layers around them run in NHWC fp16.
//
// EdgertQConv runs, by shape: our implicit-GEMM tensor-core kernel (kernels/int8.cu, mma.sync
// m16n8k32 s8, sm_80+) with the epilogue fused, on the input as it lies when C % 4 == 0 and on
// im2col columns otherwise (stems); cuBLASLt's IMMA GEMM to int32 plus our epilogue kernel on
// sm_75; a four-channel depthwise kernel; a direct kernel for the rest (grouped). Exact int32
// accumulation is the same on every path and the epilogue is kernels/int8_math.h's, so outputs
// match the CPU reference's integers. The im2col paths run in chunks of rows to bound their
// workspace.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "../ops/conv_common.h"
#include "../ops/qdq_params.h"
#include "cuda_layers.h"
#include "tma_maps.h"

namespace edgert::cuda {

namespace {

int64_t roundUp(int64_t v, int64_t m) {
  return (v + m - 1) / m * m;
}

bool isQuantType(DataType t) {
  return t == DataType::kInt8 || t == DataType::kUInt8;
}

// ---- QuantizeLinear / DequantizeLinear ---------------------------------------------------

class QdqLayer final : public GpuLayer {
 public:
  const char* tactic() const override {
    return image_ ? "int8-nchw32-to-nhwc" : nhwc_ ? "int8-nhwc-qdq" : "int8-qdq";
  }
  bool halfIn(size_t k) const override { return nhwc_ && !image_ && k == 0; }
  bool halfOut(size_t) const override { return nhwc_; }
  bool readsInputOnDevice(size_t k) const override { return k == 0; }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    CUdeviceptr y = g.out[0], x = g.in[0], s = scale_, z = zp_;
    long long n = n_, ch = channels_, inner = inner_;
    if (image_) {
      long long images = n_ / (channels_ * inner_), hw = inner_;
      int c = static_cast<int>(channels_);
      void* args[] = {&y, &x, &images, &c, &hw, &s, &z};
      return launch(env, kernel_, images * (hw / 4), args);
    }
    // (An input viewed at an offset into another buffer may not be 16-byte aligned.)
    if (kernel8_ && (x % 16 == 0) && (y % 8 == 0)) {
      long long n8 = n_ / 8;
      void* args[] = {&y, &x, &n8, &s, &z};
      return launch(env, kernel8_, n8, args);
    }
    void* args[] = {&y, &x, &n, &ch, &inner, &s, &z};
    return launch(env, kernel_, n_, args);
  }

  const char* kernel_ = nullptr;
  // One scale, fp16 in, n % 8 == 0: eight values per thread.
  const char* kernel8_ = nullptr;
  bool nhwc_ = false;
  // NCHW float32 in (an image input no earlier layer converted), NHWC int8 out in one pass:
  // on ResNet-50 at bs128 the conversion to NHWC fp16 and the quantisation after it took
  // 0.055 + 0.025 ms on an H100.
  bool image_ = false;
  long long n_ = 0, channels_ = 1, inner_ = 1;
  CUdeviceptr scale_ = 0, zp_ = 0;
};

Result<std::unique_ptr<GpuLayer>> makeQdq(const NodeContext& c, const Env& env, bool quantize,
                                          bool nhwc) {
  // The layout and its checks are the CPU op's (ops/qdq_params.h); the GPU adds constant
  // scales and zero points, and channels as the only per-axis axis in NHWC.
  EDGERT_ASSIGN_OR_RETURN(const ops::QdqParams p, ops::parseQdq(c, quantize));
  const HostTensor* scale = c.constant(1);
  if (!scale) return c.unsupported("a non-constant scale");
  if (c.has(2) && !c.constant(2)) return c.unsupported("a non-constant zero point");
  if (nhwc && p.axis >= 0 && p.axis != 1)
    return c.unsupported("per-axis scales on an axis other than channels");
  auto L = std::make_unique<QdqLayer>();
  L->nhwc_ = nhwc;
  L->n_ = volume(c.dims(0));
  L->channels_ = p.channels;
  L->inner_ = p.axis < 0 ? 1 : nhwc ? 1 : p.inner;
  const int64_t ns = scale->numel();
  std::vector<float> s(scale->as<float>(), scale->as<float>() + ns);
  EDGERT_ASSIGN_OR_RETURN(L->scale_, env.upload(s.data(), s.size() * 4));
  const DataType qt = p.qtype;
  if (const HostTensor* z = c.constant(2)) {
    if (quantize) {
      std::vector<float> zf(static_cast<size_t>(ns));
      for (int64_t i = 0; i < ns; ++i) zf[i] = static_cast<float>(z->doubleAt(i));
      EDGERT_ASSIGN_OR_RETURN(L->zp_, env.upload(zf.data(), zf.size() * 4));
    } else {
      std::vector<long long> zi(static_cast<size_t>(ns));
      for (int64_t i = 0; i < ns; ++i) zi[i] = static_cast<long long>(z->doubleAt(i));
      EDGERT_ASSIGN_OR_RETURN(L->zp_, env.upload(zi.data(), zi.size() * 8));
    }
  }
  if (quantize) {
    if (!isQuantType(qt)) return c.unsupported("quantising to ", dataTypeName(qt));
    const bool s8 = qt == DataType::kInt8;
    L->kernel_ = nhwc ? (s8 ? "edgert_quantize_f16_s8" : "edgert_quantize_f16_u8")
                      : (s8 ? "edgert_quantize_f32_s8" : "edgert_quantize_f32_u8");
    if (nhwc && ns == 1 && L->n_ % 8 == 0)
      L->kernel8_ = s8 ? "edgert_quantize8_f16_s8" : "edgert_quantize8_f16_u8";
    const Dims& d = c.dims(0);
    if (nhwc && ns == 1 && c.rank(0) == 4 && c.dtype(0) == DataType::kFloat32 && d[1] <= 4 &&
        (d[2] * d[3]) % 4 == 0 && (c.in_nhwc.empty() || !c.in_nhwc[0])) {
      L->image_ = true;
      L->channels_ = d[1];
      L->inner_ = d[2] * d[3];
      L->kernel_ = s8 ? "edgert_quantize_image_s8" : "edgert_quantize_image_u8";
    }
  } else if (nhwc) {
    if (qt != DataType::kInt8) return c.unsupported("NHWC dequantisation of ", dataTypeName(qt));
    L->kernel_ = "edgert_dequantize_s8_f16";
  } else {
    L->kernel_ = qt == DataType::kInt8    ? "edgert_dequantize_s8_f32"
                 : qt == DataType::kUInt8 ? "edgert_dequantize_u8_f32"
                 : qt == DataType::kInt32 ? "edgert_dequantize_s32_f32"
                                          : nullptr;
    if (!L->kernel_) return c.unsupported("dequantising ", dataTypeName(qt));
  }
  return std::unique_ptr<GpuLayer>(std::move(L));
}

Result<std::unique_ptr<GpuLayer>> makeQuantize(const NodeContext& c, const Env& env) {
  return makeQdq(c, env, true, false);
}
Result<std::unique_ptr<GpuLayer>> makeDequantize(const NodeContext& c, const Env& env) {
  return makeQdq(c, env, false, false);
}
Result<std::unique_ptr<GpuLayer>> makeQuantizeNhwc(const NodeContext& c, const Env& env) {
  return makeQdq(c, env, true, true);
}
Result<std::unique_ptr<GpuLayer>> makeDequantizeNhwc(const NodeContext& c, const Env& env) {
  return makeQdq(c, env, false, true);
}

// ---- MaxPool ------------------------------------------------------------------------------

// MaxPool over NHWC int8 (the builder keeps a max pool between INT8 layers in int8:
// quantize_graph.cpp), 16, 4 or 1 channels per thread.
class MaxPoolS8Layer final : public GpuLayer {
 public:
  const char* tactic() const override { return "int8-nhwc-pool"; }
  bool halfIn(size_t k) const override { return k == 0; }
  bool halfOut(size_t) const override { return true; }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    CUdeviceptr y = g.out[0], x = g.in[0];
    EdgertPool p = p_;
    long long c = c_;
    void* args[] = {&y, &x, &p, &c};
    return launch(env, kernel_, threads_, args);
  }

  const char* kernel_ = nullptr;
  EdgertPool p_{};
  long long c_ = 0, threads_ = 0;
};

Result<std::unique_ptr<GpuLayer>> makeMaxPoolS8Nhwc(const NodeContext& c, const Env&) {
  if (c.out.size() != 1) return c.unsupported("MaxPool indices");
  const Dims& x = c.dims(0);
  if (c.attrs->getInts("kernel_shape", {}).value().size() != 2)
    return c.unsupported("not a 2-D pool");
  if (volume(x) >= (int64_t{1} << 31)) return c.unsupported("2^31 elements or more");
  auto L = std::make_unique<MaxPoolS8Layer>();
  EDGERT_ASSIGN_OR_RETURN(L->p_, poolParams(c));
  EdgertPool& p = L->p_;
  // A window wholly in the padding has no int8 maximum (the CPU's would be its type's lowest).
  if (p.ph >= p.kh || p.pw >= p.kw || p.pe_h >= p.kh || p.pe_w >= p.kw)
    return c.unsupported("pads as large as the window");
  p.nc = x[0];  // channels are innermost here
  L->c_ = x[1];
  const int lanes = x[1] % 16 == 0 ? 16 : x[1] % 4 == 0 ? 4 : 1;
  L->kernel_ = lanes == 16  ? "edgert_maxpool2d_nhwc_s8x16"
               : lanes == 4 ? "edgert_maxpool2d_nhwc_s8x4"
                            : "edgert_maxpool2d_nhwc_s8";
  L->threads_ = p.nc * p.oh * p.ow * x[1] / lanes;
  return std::unique_ptr<GpuLayer>(std::move(L));
}

// ---- EdgertQConv -------------------------------------------------------------------------

// cuBLASLt's int8 GEMM for `rows` output pixels: D[rows x Mp] (int32, column-major Mp x rows)
// = A^T B with A the weights (Kp x Mp) and B the columns (Kp x rows, ld `ldb`).
struct ImmaGemm {
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulAlgo_t algo{};
  size_t ws = 0;
};

// What the TMA kernels' im2col map walks over a layer's input.
Im2colWalk im2colWalk(const EdgertQConvGeom& g) {
  return {g.n, g.ih, g.iw, g.c, g.oh, g.ow, g.sh, g.sw, g.ph, g.pw};
}

// How a layer runs (tactic names in `edgert inspect`).
enum class QPath {
  kMma,        // our implicit-GEMM tensor-core kernel, epilogue fused (C % 4 == 0, sm_80+)
  kIm2colMma,  // columns first (other C), then the same kernel over them
  kPadMma,     // other C: the input copied with its channels zero-padded to a multiple of 4
  kS2dMma,     // stride-2 stems: the input copied space-to-depth, a stride-1 convolution over it
  kImma,       // cuBLASLt int32 GEMM + epilogue kernel (sm_75, or no sm_80 kernel fits)
  kIm2colImma,
  kPointwise,      // 1x1 stride 1 with 16 to 64 input channels: dp4a, weights in registers
  kPointwiseMma,   // 1x1 stride 1 with up to 128 input channels: mma.sync, staged stores
  kStem,           // 3x3 with 1 to 4 input channels: shared-memory row tiles, dp4a per pixel
  kDepthwise8,     // depthwise 3x3 / 5x5, stride 1 / 2, C % 8 == 0: eight channels, two pixels
  kDepthwiseTile,  // the same with C % 16 == 0: shared-memory row tiles, dp4a over the taps
  kDepthwise4,     // other depthwise, four channels per thread
  kDirect,         // anything else (grouped, depthwise with C % 4 != 0)
};

class QConvLayer final : public GpuLayer {
 public:
  ~QConvLayer() override {
    if (!lt_) return;
    if (desc_) lt_->cublasLtMatmulDescDestroy(desc_);
    for (ImmaGemm* m : {&full_, &tail_})
      for (auto* l : {m->a, m->b, m->d})
        if (l) lt_->cublasLtMatrixLayoutDestroy(l);
  }
  const char* tactic() const override {
    switch (path_) {
      case QPath::kMma:
        return persist_  ? "int8-tma-p-n64"
               : tma_    ? (mma_bn_ == 64 ? "int8-tma-n64" : "int8-tma")
               : wgmma_  ? (mma_bn_ == 64 ? "int8-wgmma-n64" : "int8-wgmma")
               : wide_   ? "int8-mma-wide"
               : narrow_ ? "int8-mma-n64"
                         : "int8-mma";
      case QPath::kIm2colMma:
        return narrow_ ? "int8-im2col-mma-n64" : "int8-im2col-mma";
      case QPath::kPadMma:
        return narrow_ ? "int8-pad-mma-n64" : "int8-pad-mma";
      case QPath::kS2dMma:
        return persist_  ? "int8-s2d-tma-p-n64"
               : tma_    ? (mma_bn_ == 64 ? "int8-s2d-tma-n64" : "int8-s2d-tma")
               : wgmma_  ? (mma_bn_ == 64 ? "int8-s2d-wgmma-n64" : "int8-s2d-wgmma")
               : wide_   ? "int8-s2d-mma-wide"
               : narrow_ ? "int8-s2d-mma-n64"
                         : "int8-s2d-mma";
      case QPath::kImma:
        return "int8-imma";
      case QPath::kIm2colImma:
        return "int8-im2col-imma";
      case QPath::kPointwise:
        return "int8-pointwise";
      case QPath::kPointwiseMma:
        return "int8-pointwise-mma";
      case QPath::kStem:
        return "int8-stem";
      case QPath::kDepthwise8:
        return "int8-depthwise8";
      case QPath::kDepthwiseTile:
        return "int8-depthwise-tile";
      case QPath::kDepthwise4:
        return "int8-depthwise4";
      default:
        return "int8-direct";
    }
  }
  bool halfIn(size_t k) const override { return nhwc_ && (k == 0 || k == 3); }
  bool halfOut(size_t) const override { return nhwc_; }
  // Weights, bias and scales are the layer's own device copies.
  bool readsInputOnDevice(size_t k) const override { return k == 0 || k == 3; }
  size_t scratchBytes() const override { return scratch_; }

  Status enqueue(const Env& env, const GpuArgs& g) const override {
    EdgertQEpi e = epi_;
    e.res = g.n_in > 3 ? g.in[3] : 0;
    if (!e.res) e.res_kind = kQResNone;
    CUdeviceptr y = g.out[0], x = g.in[0], w = w_;
    EdgertQConvGeom geom = geom_;
    const long long pixels = geom_.n * geom_.oh * geom_.ow;
    switch (path_) {
      case QPath::kDepthwise8: {
        constexpr int kPix = EDGERT_QCONV_DW8_PIXELS, kCh = EDGERT_QCONV_DW8_CHANNELS;
        unsigned total = static_cast<unsigned>(geom_.n * geom_.oh * ((geom_.ow + kPix - 1) / kPix) *
                                               (geom_.c / kCh));
        void* args[] = {&y, &x, &w, &geom, &e, &total};
        return launch(env, dw_kernel_.c_str(), total, args);
      }
      case QPath::kDepthwiseTile: {
        EdgertDwTile t = dw_tile_;
        void* args[] = {&y, &x, &w, &geom, &e, &t};
        const unsigned grid =
            static_cast<unsigned>(geom_.n * t.oht * (geom_.c / EDGERT_QCONV_DWT_CHANNELS));
        return launchGrid(env, dw_kernel_.c_str(), grid, 1, dw_threads_, 1, args, 1, dw_smem_);
      }
      case QPath::kStem: {
        EdgertStemTile t = stem_tile_;
        void* args[] = {&y, &x, &w, &geom, &e, &t};
        const unsigned grid = static_cast<unsigned>(geom_.n * t.oht);
        return launchGrid(env, dw_kernel_.c_str(), grid, 1, dw_threads_, 1, args, 1, dw_smem_);
      }
      case QPath::kPointwise: {
        // A block: 256 / (M / 4) pixels of M / 4 lanes; enough blocks for the GPU, each
        // walking several pixels so the weights it loads serve many.
        long long px = pixels;
        const unsigned lanes = static_cast<unsigned>(geom_.m / 4), per = 256 / lanes;
        const unsigned grid =
            static_cast<unsigned>(std::min<long long>((px + per - 1) / per, 1024));
        void* args[] = {&y, &x, &w, &geom, &e, &px};
        return launch(env, dw_kernel_.c_str(), 0, args, lanes * per, grid);
      }
      case QPath::kPointwiseMma: {
        // Warps loop over 16-pixel tiles; as many blocks as fit at once (each stages all the
        // weights once).
        long long px = pixels;
        const long long blocks = ((px + 15) / 16 + 7) / 8;
        const unsigned grid = static_cast<unsigned>(std::min<long long>(blocks, pw_grid_));
        void* args[] = {&y, &x, &w, &geom, &e, &px};
        return launchGrid(env, dw_kernel_.c_str(), grid, 1, 256, 1, args, 1, dw_smem_);
      }
      case QPath::kDepthwise4: {
        void* args[] = {&y, &x, &w, &geom, &e};
        return launch(env, "edgert_qconv_dw4", pixels * geom_.m / 4, args);
      }
      case QPath::kDirect: {
        void* args[] = {&y, &x, &w, &geom, &e};
        return launch(env, "edgert_qconv_direct", pixels * geom_.m, args);
      }
      case QPath::kMma:
        if (tma_) return launchTma(env, y, x, e, pixels);
        return launchMma(env, y, x, geom_, e, 0, pixels);
      case QPath::kPadMma: {
        CUdeviceptr xp = g.scratch;
        long long in_pixels = geom_.n * geom_.ih * geom_.iw;
        int c = static_cast<int>(geom_.c), c4 = static_cast<int>(copy_geom_.c);
        void* args[] = {&xp, &x, &in_pixels, &c, &c4};
        EDGERT_RETURN_IF_ERROR(launch(env, "edgert_pad_channels_s8", in_pixels, args));
        return launchMma(env, y, xp, copy_geom_, e, 0, pixels);
      }
      case QPath::kS2dMma: {
        CUdeviceptr xs = g.scratch;
        const EdgertQConvGeom& s = copy_geom_;
        EdgertS2dCopy p = s2d_copy_;
        void* args[] = {&xs, &x, &p};
        EDGERT_RETURN_IF_ERROR(
            launch(env, "edgert_space_to_depth2_s8", s.n * s.ih * s.iw * (s.c / 16), args));
        if (tma_) return launchTma(env, y, xs, e, pixels);
        return launchMma(env, y, xs, s, e, 0, pixels);
      }
      default:
        break;
    }
    const CUdeviceptr cols = g.scratch, acc = g.scratch + cols_bytes_, ws = acc + acc_bytes_;
    for (int64_t r0 = 0; r0 < rows_; r0 += chunk_) {
      const long long n = std::min<int64_t>(chunk_, rows_ - r0);
      CUdeviceptr b = x + static_cast<CUdeviceptr>(r0 * ldb_);
      if (path_ != QPath::kImma) {
        EdgertIm2col p{geom_, r0, n, static_cast<int>(kp_)};
        CUdeviceptr c = cols;
        void* args[] = {&c, &x, &p};
        EDGERT_RETURN_IF_ERROR(launch(env, "edgert_im2col_s8", n * kp_ / 4, args));
        b = cols;
      }
      if (path_ == QPath::kIm2colMma) {
        // The columns as the input of a 1x1 convolution over n pixels of kp channels.
        EdgertQConvGeom v{};
        v.n = n;
        v.ih = v.iw = v.oh = v.ow = 1;
        v.c = kp_;
        v.m = geom_.m;
        v.kh = v.kw = v.sh = v.sw = v.dh = v.dw = v.groups = 1;
        v.cg = static_cast<int>(kp_);
        v.mg = geom_.m;
        EDGERT_RETURN_IF_ERROR(launchMma(env, y, b, v, e, r0, n));
        continue;
      }
      const ImmaGemm& m = n == chunk_ ? full_ : tail_;
      const int32_t one = 1, zero = 0;
      EDGERT_RETURN_IF_ERROR(env.lt->check(
          env.lt->cublasLtMatmul(env.lt_handle, desc_, &one, reinterpret_cast<const void*>(w_), m.a,
                                 reinterpret_cast<const void*>(b), m.b, &zero,
                                 reinterpret_cast<const void*>(acc), m.d,
                                 reinterpret_cast<void*>(acc), m.d, &m.algo,
                                 reinterpret_cast<void*>(ws), m.ws, env.stream),
          "cublasLtMatmul (int8)"));
      EdgertQEpi ec = e;
      ec.rows = n;
      ec.ld = static_cast<int>(mp_);
      long long row0 = r0;
      CUdeviceptr a = acc;
      void* args[] = {&y, &a, &ec, &row0};
      if (e.m % 4 == 0)
        EDGERT_RETURN_IF_ERROR(launch(env, "edgert_qconv_epilogue4", n * e.m / 4, args));
      else
        EDGERT_RETURN_IF_ERROR(launch(env, "edgert_qconv_epilogue", n * e.m, args));
    }
    return Status::Ok();
  }

  Status launchMma(const Env& env, CUdeviceptr y, CUdeviceptr x, const EdgertQConvGeom& geom,
                   const EdgertQEpi& e, long long row0, long long rows) const {
    CUdeviceptr w = w_;
    EdgertQConvGeom g = geom;
    EdgertQEpi ec = e;
    int kp = static_cast<int>(kp_);
    void* args[] = {&y, &x, &w, &g, &ec, &kp, &row0, &rows};
    return launchGrid(env, mma_kernel_.c_str(), static_cast<unsigned>((rows + 127) / 128),
                      static_cast<unsigned>((geom.m + mma_bn_ - 1) / mma_bn_), wide_ ? 128 : 256, 1,
                      args, 1, bigTileSmem());
  }

  // The TMA kernel's A operand is the input as it lies ([rows][C] for a 1x1 convolution, else
  // the NHWC tensor walked by an im2col map): its tensor map names the input's address, so it
  // is encoded per launch (a host-only call; CUDA graphs keep the parameter bytes of their
  // capture).
  Status launchTma(const Env& env, CUdeviceptr y, CUdeviceptr x, const EdgertQEpi& e,
                   long long rows) const {
    CUtensorMap ta;  // the type is aligned as the driver needs (128 bytes)
    if (tma_im2col_)
      EDGERT_RETURN_IF_ERROR(encodeIm2colMap(env, &ta, x));
    else
      EDGERT_RETURN_IF_ERROR(encodeTmaMap(env, &ta, x, kernelGeom().c, rows, tma_bk_, 128));
    EdgertQEpi ec = e;
    long long row0 = 0, r = rows;
    int ktiles = static_cast<int>(kp_ / tma_bk_);
    EdgertTmaConv cv = tma_conv_;
    CUtensorMap tb = tb_;
    if (persist_) {
      // An int8 residual is read by TMA too: [rows][M] in boxes of the kernel's 128 x 64 tiles.
      CUtensorMap tr{};
      if (ec.res_kind == kQResS8)
        EDGERT_RETURN_IF_ERROR(encodeTmaMap(env, &tr, ec.res, geom_.m, rows, mma_bn_, 128,
                                            CU_TENSOR_MAP_SWIZZLE_NONE));
      void* args[] = {&y, &ec, &r, &ktiles, &cv, &ta, &tb, &tr};
      return launchGrid(env, mma_kernel_.c_str(), persist_blocks_, 1, 288, 1, args, 1,
                        EDGERT_QCONV_TMA_P_SMEM);
    }
    void* args[] = {&y, &ec, &row0, &r, &ktiles, &cv, &ta, &tb};
    return launchGrid(env, mma_kernel_.c_str(), static_cast<unsigned>((rows + 127) / 128),
                      static_cast<unsigned>((geom_.m + mma_bn_ - 1) / mma_bn_), 288, 1, args, 1,
                      EDGERT_QCONV_TMA_SMEM);
  }

  // A [outer][inner] int8 matrix as a 2-D tensor map of inner-dimension boxes `bk` bytes wide
  // and `box_rows` tall, swizzled as the kernel's wgmma descriptors expect.
  static Status encodeTmaMap(const Env& env, CUtensorMap* map, CUdeviceptr base, int64_t inner,
                             int64_t outer, int bk, int box_rows,
                             std::optional<CUtensorMapSwizzle> swizzle = std::nullopt) {
    return encodeTiledMap(env, map, kTmaInt8, base, inner, outer, bk, box_rows,
                          swizzle.value_or(tmaSwizzle(bk)), "int8-tma");
  }

  // The NHWC input [N][IH][IW][C] as an im2col map: boxes of tma_bk_ channels of 128 filter
  // positions (setUpMma took this path only with the corners within the map's range).
  Status encodeIm2colMap(const Env& env, CUtensorMap* map, CUdeviceptr x) const {
    return cuda::encodeIm2colMap(env, map, kTmaInt8, x, im2colWalk(kernelGeom()), tma_bk_,
                                 "int8-tma");
  }

  // Dynamic shared memory of the kernel (0: the 32-deep kernels' is static).
  int bigTileSmem() const {
    if (wgmma_) return mma_bn_ == 64 ? EDGERT_QCONV_WGMMA64_SMEM : EDGERT_QCONV_WIDE_SMEM;
    return wide_ ? EDGERT_QCONV_WIDE_SMEM : 0;
  }

  Status makeGemm(const Env& env, ImmaGemm* m, int64_t rows) const {
    const CublasLt* lt = env.lt;
    EDGERT_RETURN_IF_ERROR(
        lt->check(lt->cublasLtMatrixLayoutCreate(&m->a, CUDA_R_8I, kp_, mp_, kp_), "layout A"));
    EDGERT_RETURN_IF_ERROR(
        lt->check(lt->cublasLtMatrixLayoutCreate(&m->b, CUDA_R_8I, kp_, rows, ldb_), "layout B"));
    EDGERT_RETURN_IF_ERROR(
        lt->check(lt->cublasLtMatrixLayoutCreate(&m->d, CUDA_R_32I, mp_, rows, mp_), "layout D"));
    if (!ltHeuristicAlgo(env, desc_, m->a, m->b, m->d, &m->algo, &m->ws))
      return Status(StatusCode::kUnsupported, "cuBLASLt has no int8 algorithm for this GEMM");
    return Status::Ok();
  }

  const CublasLt* lt_ = nullptr;
  cublasLtMatmulDesc_t desc_ = nullptr;
  ImmaGemm full_, tail_;
  bool nhwc_ = false;
  QPath path_ = QPath::kDirect;
  std::string mma_kernel_;
  std::string dw_kernel_;       // kDepthwise8: edgert_qconv_dw8_k<K>s<S> (Tile: dwt)
  EdgertDwTile dw_tile_{};      // kDepthwiseTile: its launch
  EdgertStemTile stem_tile_{};  // kStem: its launch
  unsigned dw_threads_ = 0, dw_smem_ = 0;
  long long pw_grid_ = 0;  // kPointwiseMma: blocks resident at once
  int mma_bn_ = 128;
  bool narrow_ = false;       // 64-channel tiles for M > 64: half the registers, twice the blocks
  bool wide_ = false;         // 128 x 128 blocks of four 64 x 64 warp tiles (C % 16 == 0, M > 64)
  bool wgmma_ = false;        // 128 x 128 blocks of two wgmma warpgroups (sm_90a, as wide_)
  bool tma_ = false;          // the same fed by TMA (sm_90a; see setUpMma)
  bool tma_im2col_ = false;   // its input through an im2col map (not a 1x1 stride-1 GEMM)
  EdgertTmaConv tma_conv_{};  // what the im2col kernel steps
  int tma_bk_ = 128;          // its reduction step in bytes (128 or 64: the swizzle width)
  bool persist_ = false;      // its persistent variant (64-channel tiles, 64-byte steps)
  unsigned persist_blocks_ = 0;
  CUtensorMap tb_{};             // its weights' tensor map (the type is 128-byte aligned)
  EdgertQConvGeom copy_geom_{};  // kPadMma / kS2dMma: the geometry over the copied input
  EdgertS2dCopy s2d_copy_{};     // kS2dMma: what the copy kernel writes
  // The convolution the tensor-core kernel runs: over the copy where there is one.
  const EdgertQConvGeom& kernelGeom() const {
    return path_ == QPath::kPadMma || path_ == QPath::kS2dMma ? copy_geom_ : geom_;
  }
  EdgertQConvGeom geom_{};
  EdgertQEpi epi_{};
  CUdeviceptr w_ = 0;
  int64_t rows_ = 0, chunk_ = 0, kp_ = 0, mp_ = 0, ldb_ = 0;
  size_t cols_bytes_ = 0, acc_bytes_ = 0, scratch_ = 0;
};

// The im2col paths' workspace per chunk of rows (columns, and cuBLASLt's int32 accumulators).
constexpr int64_t kChunkBytes = int64_t{64} << 20;

// Weights [M][C][KH][KW] -> [rows_to][kp] (zero padded), column k = (kh * KW + kw) * C + c.
std::vector<int8_t> gemmWeights(const EdgertQConvGeom& g, const int8_t* w, int64_t rows_to,
                                int64_t kp) {
  std::vector<int8_t> wp(static_cast<size_t>(rows_to * kp), 0);
  const int64_t taps = int64_t{g.kh} * g.kw;
  for (int64_t m = 0; m < g.m; ++m)
    for (int64_t ch = 0; ch < g.c; ++ch)
      for (int64_t tap = 0; tap < taps; ++tap)
        wp[m * kp + tap * g.c + ch] = w[(m * g.c + ch) * taps + tap];
  return wp;
}

bool pointwiseGeom(const EdgertQConvGeom& g) {
  return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
}

// Which variant of our tensor-core kernel a layer asks for (its tactic name, or the EDGERT_INT8_*
// variables that force one to compare).
struct MmaVariant {
  bool pad = true;       // C % 4 != 0: the input padded to 4 channels (else im2col columns)
  bool s2d = false;      // stride 2, C < 16: over a space-to-depth copy of the input
  bool narrow = false;   // 64-channel tiles for M > 64 (with wgmma: m64n64 tiles, M > 32)
  bool wide = false;     // 128 x 128 blocks of 64 x 64 warp tiles (C % 16 == 0, M > 64)
  bool wgmma = false;    // the same on Hopper's warpgroup MMAs (sm_90 GPU, sm_90a fatbin)
  bool tma = false;      // wgmma fed by TMA (sm_90; which convolutions: setUpMma)
  bool persist = false;  // its persistent variant (with `narrow`; see int8_tma.cu)
  bool forced = false;   // by a variable: also on grids the rules below would leave it off
};

int64_t floorDiv2(int64_t v) {
  return v >= 0 ? v / 2 : -((1 - v) / 2);
}

// A stride-2 convolution of few channels (stems: C = 3) as a stride-1 convolution over the
// input's space-to-depth copy: [N][ceil(IH/2)][ceil(IW/2)][4 * C4], channel (py * 2 + px) * C4 +
// c holding x[2Y + py][2X + px][c] (C4 = C rounded up to 4). Tap ky of the original reads
// input row 2 oy - ph + ky = 2 (oy + floor((ky - ph) / 2)) + (ky - ph) mod 2, so the copy's
// taps run from -ceil(ph / 2) to floor((KH - 1 - ph) / 2): ResNet's 7x7 stem becomes a 4x4
// convolution over 16 channels (K = 256 of which 147 real, vs 196 with 4 padded channels),
// whose 16-byte channel runs the big-tile kernels read. The sums are the same products plus
// zeros, so the int32 accumulators are exact as before.
//
// For the TMA kernel (whose im2col map needs 64-channel taps) the copy also unfolds the rows:
// copy pixel (Y, X) holds the KW' space-to-depth pixels X - PW' .. X - PW' + KW' - 1 side by
// side (`unfold`), channels rounded up to 64, and the convolution is KH' x 1 over them (the
// stem: 4 x 1 over 64 channels). The copy is KW' times larger (ResNet-50's stem at batch 128:
// 98 MiB of workspace), traffic the TMA kernel's speed pays for where tactic timing says so.
bool s2dGeom(const EdgertQConvGeom& o, EdgertQConvGeom* s, EdgertS2dCopy* copy, bool unfold) {
  if (o.groups != 1 || o.sh != 2 || o.sw != 2 || o.dh != 1 || o.dw != 1 || o.c >= 16 ||
      int64_t{o.kh} * o.kw < 2)
    return false;
  *s = o;
  s->ih = (o.ih + 1) / 2;
  s->iw = (o.iw + 1) / 2;
  s->c = s->cg = 4 * roundUp(o.c, 4);
  s->sh = s->sw = 1;
  s->ph = (o.ph + 1) / 2;
  s->pw = (o.pw + 1) / 2;
  s->kh = static_cast<int>(floorDiv2(o.kh - 1 - o.ph) + s->ph + 1);
  s->kw = static_cast<int>(floorDiv2(o.kw - 1 - o.pw) + s->pw + 1);
  if (s->kh < 1 || s->kw < 1) return false;
  *copy = {};
  copy->pixels = s->n * s->ih * s->iw;
  copy->ih = o.ih;
  copy->iw = o.iw;
  copy->h2 = s->ih;
  copy->w = s->iw;
  copy->c = static_cast<int>(o.c);
  copy->c4 = static_cast<int>(s->c / 4);
  copy->taps = 1;
  copy->pad = 0;
  copy->c_out = static_cast<int>(s->c);
  if (unfold) {
    copy->taps = s->kw;
    copy->pad = s->pw;
    copy->c_out = static_cast<int>(roundUp(int64_t{s->kw} * s->c, 64));
    s->iw = copy->w = s->ow;
    copy->pixels = s->n * s->ih * s->iw;
    s->c = s->cg = copy->c_out;
    s->kw = 1;
    s->pw = 0;
  }
  return true;
}

// The weights [M][C][KH][KW] rearranged for s2dGeom's convolution: [M][C'][KH'][KW'], channel
// c' = t * 4 C4 + (py * 2 + px) * C4 + c for unfolded column t (t = 0 and KW' columns when not
// unfolded).
std::vector<int8_t> s2dWeights(const EdgertQConvGeom& o, const EdgertQConvGeom& s,
                               const EdgertS2dCopy& copy, const int8_t* w) {
  std::vector<int8_t> ws(static_cast<size_t>(int64_t{s.m} * s.c * s.kh * s.kw), 0);
  const int64_t c4 = copy.c4, per_tap = 4 * c4;
  for (int64_t m = 0; m < o.m; ++m)
    for (int64_t ch = 0; ch < o.c; ++ch)
      for (int64_t ky = 0; ky < o.kh; ++ky)
        for (int64_t kx = 0; kx < o.kw; ++kx) {
          const int64_t ay = floorDiv2(ky - o.ph), ax = floorDiv2(kx - o.pw);
          const int64_t py = ky - o.ph - 2 * ay, px = kx - o.pw - 2 * ax;
          const int64_t ty = ay + s.ph;
          int64_t cs = (py * 2 + px) * c4 + ch, tx = ax + s.pw;
          if (copy.taps > 1 || copy.c_out != per_tap) {  // unfolded: the column is a channel block
            cs += (ax + copy.pad) * per_tap;
            tx = 0;
          }
          ws[((m * s.c + cs) * s.kh + ty) * s.kw + tx] =
              w[((m * o.c + ch) * o.kh + ky) * o.kw + kx];
        }
  return ws;
}

// Our tensor-core kernel (sm_80+): on the input as it lies when C % 4 == 0, else (`pad`) on a
// copy of the input with C rounded up to 4 and zero weights for the added channels, or on
// im2col columns. The builder times the variants per layer; ncu showed the 128-wide tiles of
// small-K layers latency-bound at a quarter occupancy (hence `narrow`), and the 32 x 32 / 64 x
// 32 warp tiles spending their issue slots on everything but MMAs (hence `wide` and `wgmma`).
Status setUpMma(QConvLayer* L, const Env& env, const int8_t* w, const MmaVariant& v) {
  const bool s2d = v.s2d && s2dGeom(L->geom_, &L->copy_geom_, &L->s2d_copy_, v.tma);
  const bool padded = !s2d && v.pad && L->geom_.c % 4 != 0;
  std::vector<int8_t> w_pad;
  if (s2d) {
    w_pad = s2dWeights(L->geom_, L->copy_geom_, L->s2d_copy_, w);
    w = w_pad.data();
  } else if (padded) {
    const EdgertQConvGeom& o = L->geom_;
    EdgertQConvGeom& p = L->copy_geom_;
    p = o;
    p.c = p.cg = roundUp(o.c, 4);
    const int64_t taps = int64_t{o.kh} * o.kw;
    w_pad.assign(static_cast<size_t>(o.m * p.c * taps), 0);
    for (int64_t m = 0; m < o.m; ++m)
      for (int64_t ch = 0; ch < o.c; ++ch)
        std::copy_n(w + (m * o.c + ch) * taps, taps, w_pad.data() + (m * p.c + ch) * taps);
    w = w_pad.data();
  }
  const EdgertQConvGeom& g = padded || s2d ? L->copy_geom_ : L->geom_;
  const int64_t K = int64_t{g.kh} * g.kw * g.c;
  // The narrow tiles only for grids two waves deep or more, the big ones for one wave or more:
  // with few blocks each won its layer's timing but lost the network (ResNet-50 bs1: 0.42 ->
  // 0.46 ms with narrow tiles, 0.455 -> 0.499 with wgmma on two layer3 convolutions).
  const int64_t blocks128 = (g.n * g.oh * g.ow + 127) / 128 * ((g.m + 127) / 128);
  const int64_t sms = std::max(env.sm_count, 1);
  // wgmma's 64-channel tiles also serve M = 33..64 (ResNet-50's 64-channel layer1 layers).
  // 16-byte input runs (the big tiles, TMA); the big tiles only on grids a wave deep.
  const bool runs16 = !padded && g.c % 16 == 0;
  const bool big_tiles = runs16 && (v.forced || blocks128 >= sms);
#if defined(EDGERT_KERNELS_SM90A)
  // TMA: a 1x1 stride-1 convolution as a GEMM (C % 16 == 0), else through an im2col map when
  // each reduction step is one tap's channel block (C % 64 == 0) and the window's corners and
  // strides are within the map's ranges.
  const bool im2col_fits =
      g.c % 64 == 0 && g.groups == 1 && g.dw == 1 && g.dh == 1 && im2colMapFits(im2colWalk(g));
  const bool gemm_fits = pointwiseGeom(g);
  // On any grid: the single-kernel TMA path is offered to small (batch-1) grids too, where
  // tactic timing in CUDA graphs weighs it against cuBLASLt's split-K GEMM + epilogue.
  L->tma_ = v.tma && runs16 && env.sm == 90 && (g.m > 64 || (v.narrow && g.m > 32)) &&
            ((gemm_fits && env.d->cuTensorMapEncodeTiled) ||
             (im2col_fits && env.d->cuTensorMapEncodeIm2col && env.d->cuTensorMapEncodeTiled));
  L->tma_im2col_ = L->tma_ && !gemm_fits;
  L->wgmma_ =
      !L->tma_ && v.wgmma && big_tiles && env.sm == 90 && (g.m > 64 || (v.narrow && g.m > 32));
#endif
  L->wide_ = !L->tma_ && !L->wgmma_ && v.wide && big_tiles && g.m > 64;
  L->kp_ = roundUp(K, L->tma_ || L->wide_ || L->wgmma_ ? 64 : 32);
  // An int8 residual goes through a TMA map too, whose row stride needs 16-byte multiples.
  L->persist_ = L->tma_ && v.persist && v.narrow && (L->epi_.res_kind != kQResS8 || g.m % 16 == 0);
  L->tma_bk_ = !L->persist_ && (L->tma_im2col_ ? g.c % 128 == 0 : L->kp_ % 128 == 0) ? 128 : 64;
  if (L->tma_im2col_)
    L->tma_conv_ = {static_cast<int>(g.ow),
                    static_cast<int>(g.oh),
                    g.sw,
                    g.sh,
                    g.pw,
                    g.ph,
                    g.kw,
                    g.dw,
                    g.dh,
                    static_cast<int>(g.c / L->tma_bk_)};
  L->narrow_ = !L->tma_ && !L->wide_ && !L->wgmma_ && v.narrow && g.m > 64 &&
               (v.forced || blocks128 >= 2 * sms);
  L->mma_bn_ = L->tma_ || L->wgmma_      ? (v.narrow ? 64 : 128)
               : g.m <= 32               ? 32
               : g.m <= 64 || L->narrow_ ? 64
                                         : 128;
  // Input runs as wide as the channel count allows (each within one tap); the columns of the
  // im2col path are 32-byte aligned rows.
  const int piece = g.c % 4 != 0 ? 16 : g.c % 16 == 0 ? 16 : g.c % 8 == 0 ? 8 : 4;
  L->mma_kernel_ = strCat("edgert_qconv_mma_n", L->mma_bn_, "_p", piece);
  if (L->wide_ || L->wgmma_) {
    L->mma_kernel_ = !L->wgmma_         ? "edgert_qconv_mma_wide"
                     : L->mma_bn_ == 64 ? "edgert_qconv_wgmma_n64"
                                        : "edgert_qconv_wgmma";
    EDGERT_RETURN_IF_ERROR(allowDynamicSmem(env, L->mma_kernel_.c_str(), L->bigTileSmem()));
  }
  if (L->tma_) {
    // The persistent kernel keeps all of B in shared memory where one channel tile covers M and
    // it fits (int8 residuals keep the variant that loads them by TMA).
    const bool b_resident = L->persist_ && g.m <= 64 &&
                            L->kp_ / 64 <= EDGERT_QCONV_TMA_PB_MAX_KTILES &&
                            L->epi_.res_kind != kQResS8;
    L->mma_kernel_ =
        strCat("edgert_qconv_tma",
               b_resident    ? "_pb"
               : L->persist_ ? "_p"
                             : "",
               L->tma_im2col_ ? "_im2col" : "", "_k", L->tma_bk_, L->mma_bn_ == 64 ? "_n64" : "");
    EDGERT_RETURN_IF_ERROR(
        allowDynamicSmem(env, L->mma_kernel_.c_str(),
                         L->persist_ ? EDGERT_QCONV_TMA_P_SMEM : EDGERT_QCONV_TMA_SMEM));
    // The persistent kernel: two blocks per SM (its shared memory's share), or one per tile.
    const int64_t tiles = (g.n * g.oh * g.ow + 127) / 128 * ((g.m + 63) / 64);
    int64_t blocks = std::min<int64_t>(tiles, 2 * sms);
    // EDGERT_INT8_TMA_P_BLOCKS=n: at most n blocks, so that tests walk several tiles per block
    // on small grids.
    if (const char* cap = std::getenv("EDGERT_INT8_TMA_P_BLOCKS"))
      blocks = std::clamp<int64_t>(std::atoll(cap), 1, blocks);
    L->persist_blocks_ = static_cast<unsigned>(blocks);
  }
  const std::vector<int8_t> wp = gemmWeights(g, w, roundUp(g.m, 128), L->kp_);
  EDGERT_ASSIGN_OR_RETURN(L->w_, env.upload(wp.data(), wp.size()));
  if (L->tma_)
    EDGERT_RETURN_IF_ERROR(QConvLayer::encodeTmaMap(env, &L->tb_, L->w_, L->kp_, roundUp(g.m, 128),
                                                    L->tma_bk_, L->mma_bn_));
  L->rows_ = g.n * g.oh * g.ow;
  if (s2d) {
    L->path_ = QPath::kS2dMma;
    L->scratch_ = align256(static_cast<size_t>(g.n * g.ih * g.iw * g.c));
    return Status::Ok();
  }
  if (padded) {
    L->path_ = QPath::kPadMma;
    L->scratch_ = align256(static_cast<size_t>(g.n * g.ih * g.iw * g.c));
    return Status::Ok();
  }
  if (g.c % 4 == 0) {
    L->path_ = QPath::kMma;
    return Status::Ok();
  }
  L->path_ = QPath::kIm2colMma;
  L->chunk_ = std::min(L->rows_, std::max<int64_t>(256, kChunkBytes / L->kp_));
  L->cols_bytes_ = align256(static_cast<size_t>(L->chunk_ * L->kp_));
  L->scratch_ = L->cols_bytes_;
  return Status::Ok();
}

Status setUpImma(QConvLayer* L, const Env& env, const int8_t* w) {
  const EdgertQConvGeom& g = L->geom_;
  const int64_t K = int64_t{g.kh} * g.kw * g.c;
  const bool im2col = !(pointwiseGeom(g) && g.c % 16 == 0);
  L->kp_ = roundUp(K, 16);
  L->mp_ = roundUp(g.m, 16);
  L->ldb_ = im2col ? L->kp_ : g.c;
  L->rows_ = g.n * g.oh * g.ow;
  const int64_t per_row = L->mp_ * 4 + (im2col ? L->kp_ : 0);
  L->chunk_ = std::min(L->rows_, std::max<int64_t>(256, kChunkBytes / per_row));
  const CublasLt* lt = env.lt;
  L->lt_ = lt;
  EDGERT_RETURN_IF_ERROR(
      ltMatmulDesc(env, CUBLAS_COMPUTE_32I, CUDA_R_32I, CUBLAS_OP_T, CUBLAS_OP_N, &L->desc_));
  EDGERT_RETURN_IF_ERROR(L->makeGemm(env, &L->full_, L->chunk_));
  const int64_t tail = L->rows_ % L->chunk_;
  if (tail) EDGERT_RETURN_IF_ERROR(L->makeGemm(env, &L->tail_, tail));
  const std::vector<int8_t> wp = gemmWeights(g, w, L->mp_, L->kp_);
  EDGERT_ASSIGN_OR_RETURN(L->w_, env.upload(wp.data(), wp.size()));
  L->cols_bytes_ = im2col ? align256(static_cast<size_t>(L->chunk_ * L->kp_)) : 0;
  L->acc_bytes_ = align256(static_cast<size_t>(L->chunk_ * L->mp_ * 4));
  L->scratch_ = L->cols_bytes_ + L->acc_bytes_ + std::max(L->full_.ws, L->tail_.ws);
  L->path_ = im2col ? QPath::kIm2colImma : QPath::kImma;
  return Status::Ok();
}

Result<std::unique_ptr<GpuLayer>> makeQConv(const NodeContext& c, const Env& env, bool nhwc) {
  if (c.dtype(0) != DataType::kInt8 || c.dtype(1) != DataType::kInt8 || !c.constant(1) ||
      !c.constant(4) || (c.has(2) && !c.constant(2)))
    return c.unsupported("int8 input and constant int8 weights, bias and scales");
  const bool linear = c.rank(0) == 2;
  auto L = std::make_unique<QConvLayer>();
  L->nhwc_ = nhwc;
  EdgertQConvGeom& g = L->geom_;
  ops::Epilogue epi;
  bool pads_none = true;
  if (linear) {
    EDGERT_ASSIGN_OR_RETURN(epi, ops::parseEpilogue(c));
    g.n = c.dims(0)[0];
    g.c = c.dims(0)[1];
    g.m = static_cast<int>(c.dims(1)[0]);
    g.ih = g.iw = g.oh = g.ow = 1;
    g.kh = g.kw = g.sh = g.sw = g.dh = g.dw = 1;
    g.groups = 1;
  } else {
    if (c.rank(0) != 4) return c.unsupported("INT8 convolutions with other than 2 spatial dims");
    ops::ConvParams p;
    EDGERT_ASSIGN_OR_RETURN(p, ops::parseConv(c));
    epi = p.epi;
    g.n = p.N;
    g.c = p.C;
    g.m = static_cast<int>(p.M);
    g.ih = p.g.in[1];
    g.iw = p.g.in[2];
    g.oh = p.g.out[1];
    g.ow = p.g.out[2];
    g.kh = static_cast<int>(p.g.k[1]);
    g.kw = static_cast<int>(p.g.k[2]);
    g.sh = static_cast<int>(p.g.s[1]);
    g.sw = static_cast<int>(p.g.s[2]);
    g.dh = static_cast<int>(p.g.d[1]);
    g.dw = static_cast<int>(p.g.d[2]);
    g.ph = static_cast<int>(p.g.pb[1]);
    g.pw = static_cast<int>(p.g.pb[2]);
    g.groups = static_cast<int>(p.G);
    for (int j = 0; j < 3; ++j) pads_none &= p.g.pb[j] == 0 && p.g.pe[j] == 0;
  }
  g.cg = static_cast<int>(g.c / g.groups);
  g.mg = g.m / g.groups;
  // The input's zero point, which the window reads outside it. Only the direct and depthwise
  // kernels pad with it; the builder gives other convolutions one only where they do not pad.
  EDGERT_ASSIGN_OR_RETURN(const int8_t xpad, ops::parseXPad(c));
  g.xpad = xpad;
  if (g.xpad != 0 && g.groups == 1 && !pads_none)
    return c.unsupported("a padded convolution of one group whose input's zero point (x_pad ",
                         g.xpad, ") is not 0");
  const int64_t M = g.m;
  // The epilogue's constants.
  EdgertQEpi& e = L->epi_;
  e.m = g.m;
  e.act = static_cast<int>(epi.act);
  e.alpha = epi.alpha;
  e.beta = epi.beta;
  // The kernels run Relu as Clip(0, +inf) (one instance for both: see actOf in int8.cu).
  if (epi.act == ops::Act::kRelu) {
    e.alpha = 0.f;
    e.beta = std::numeric_limits<float>::infinity();
  }
  std::vector<float> y_scales, r_scales;
  EDGERT_ASSIGN_OR_RETURN(y_scales, ops::attrFloats(c, "y_scales"));
  EDGERT_ASSIGN_OR_RETURN(r_scales, ops::attrFloats(c, "r_scales"));
  if ((!y_scales.empty() && static_cast<int64_t>(y_scales.size()) != M) ||
      (!r_scales.empty() && static_cast<int64_t>(r_scales.size()) != M))
    return c.invalid("y_scales and r_scales need one value per output channel (", M, ")");
  if (!y_scales.empty()) {
    e.out_kind = kQOutS8;
    std::vector<float> inv(y_scales.size());
    for (size_t i = 0; i < inv.size(); ++i) inv[i] = 1.f / y_scales[i];
    EDGERT_ASSIGN_OR_RETURN(e.inv_y, env.upload(inv.data(), inv.size() * 4));
  } else {
    e.out_kind = nhwc ? kQOutF16 : kQOutF32;
  }
  if (c.has(3)) {
    const DataType rt = c.dtype(3);
    e.res_kind = rt == DataType::kInt8 ? kQResS8 : nhwc ? kQResF16 : kQResF32;
    if (rt != DataType::kInt8 && rt != DataType::kFloat32)
      return c.unsupported("a residual of dtype ", dataTypeName(rt));
    if (r_scales.empty()) r_scales.assign(static_cast<size_t>(M), 1.f);
    EDGERT_ASSIGN_OR_RETURN(e.r_scale, env.upload(r_scales.data(), r_scales.size() * 4));
  }
  const HostTensor& s = *c.constant(4);
  if (s.numel() != M || s.dtype() != DataType::kFloat32)
    return c.invalid("accumulator scales must be float32 [", M, "]");
  EDGERT_ASSIGN_OR_RETURN(e.acc_scale, env.upload(s.data(), s.bytes()));
  if (const HostTensor* b = c.constant(2)) {
    if (b->numel() != M || b->dtype() != DataType::kFloat32)
      return c.invalid("bias must be float32 [", M, "]");
    EDGERT_ASSIGN_OR_RETURN(e.bias, env.upload(b->data(), b->bytes()));
  }
  const int8_t* w = c.constant(1)->as<int8_t>();
  // Short-K pointwise layers: the dp4a kernel where the builder's tactic timing chose it
  // (EDGERT_INT8_PW=1 forces it where it applies, to compare).
  const bool want_pw = c.tactic == "int8-pointwise" || std::getenv("EDGERT_INT8_PW") != nullptr;
  if (want_pw) {
    const bool fits =
        g.groups == 1 && pointwiseGeom(g) && pads_none &&
        (g.c == 16 || g.c == 24 || g.c == 32 || g.c == 40 || g.c == 48 || g.c == 64) &&
        g.m % 4 == 0 && g.m <= 1024 && g.n * g.oh * g.ow < (int64_t{1} << 40);
    if (fits) {
      L->path_ = QPath::kPointwise;
      L->dw_kernel_ = strCat("edgert_qconv_pw_c", g.c);
      EDGERT_ASSIGN_OR_RETURN(L->w_, env.upload(w, static_cast<size_t>(M * g.c)));
      return std::unique_ptr<GpuLayer>(std::move(L));
    }
    if (c.tactic == "int8-pointwise")
      return c.unsupported(
          "int8-pointwise takes 1x1 stride-1 convolutions of 16, 24, 32, 40, 48 "
          "or 64 input channels and a multiple of 4 outputs");
  }
  // Pointwise layers with up to 128 input channels on mma.sync (int8.cu), where tactic timing
  // chose it (EDGERT_INT8_PW_MMA=1 forces it where it applies, to compare).
  if (c.tactic == "int8-pointwise-mma" || std::getenv("EDGERT_INT8_PW_MMA") != nullptr) {
    const int64_t ks = (g.c + 31) / 32;
    // B fragments, three constants per channel, 8 warps' 16 x 72 int32 tiles.
    const int64_t smem = int64_t{g.m} * ks * 32 + 12 * int64_t{g.m} + 8 * 16 * 72 * 4;
    const bool fits = env.sm >= 80 && g.groups == 1 && pointwiseGeom(g) && pads_none &&
                      g.c % 4 == 0 && g.c <= 128 && g.m % 8 == 0 && smem <= env.smem_optin &&
                      g.n * g.oh * g.ow < (int64_t{1} << 40);
    if (!fits && c.tactic == "int8-pointwise-mma")
      return c.unsupported(
          "int8-pointwise-mma takes 1x1 stride-1 convolutions of up to 128 input channels (a "
          "multiple of 4) and a multiple of 8 outputs, on sm_80 or newer");
    if (fits) {
      L->path_ = QPath::kPointwiseMma;
      L->dw_kernel_ = strCat("edgert_qconv_pw_mma_ks", ks);
      L->dw_smem_ = static_cast<unsigned>(smem);
      L->pw_grid_ = env.residentGrid(smem);
      EDGERT_RETURN_IF_ERROR(allowDynamicSmem(env, L->dw_kernel_.c_str(), static_cast<int>(smem)));
      EDGERT_ASSIGN_OR_RETURN(L->w_, env.upload(w, static_cast<size_t>(M * g.c)));
      return std::unique_ptr<GpuLayer>(std::move(L));
    }
  }
  // 3x3 stems of 1 to 4 channels: the shared-memory dp4a kernel where the builder's tactic
  // timing chose it (EDGERT_INT8_STEM=1 forces it where it applies, to compare).
  if (c.tactic == "int8-stem" || std::getenv("EDGERT_INT8_STEM") != nullptr) {
    EdgertStemTile t{};
    t.cw = static_cast<int>((g.ow - 1) * g.sw + 3);
    const auto bytes = [&](int th) { return (int64_t{th - 1} * g.sh + 3) * t.cw * 4; };
    t.th = static_cast<int>(std::min<int64_t>(8, g.oh));
    while (t.th > 1 && bytes(t.th) > 48 * 1024) --t.th;
    const bool fits = g.groups == 1 && g.c >= 1 && g.c <= 4 && g.kh == 3 && g.kw == 3 &&
                      g.sh == g.sw && (g.sh == 1 || g.sh == 2) && g.dh == 1 && g.dw == 1 &&
                      g.m % 4 == 0 && g.m <= 256 && bytes(t.th) <= 48 * 1024;
    if (fits) {
      t.oht = static_cast<int>((g.oh + t.th - 1) / t.th);
      L->path_ = QPath::kStem;
      L->dw_kernel_ = strCat("edgert_qconv_stem3_s", g.sh);
      L->stem_tile_ = t;
      const int lanes = g.m / 4;
      L->dw_threads_ = static_cast<unsigned>(256 / lanes * lanes);
      L->dw_smem_ = static_cast<unsigned>(bytes(t.th));
      // [M][9] words: a tap's input channels, zero-padded to four bytes.
      std::vector<int8_t> wd(static_cast<size_t>(M * 9 * 4), 0);
      for (int64_t m = 0; m < M; ++m)
        for (int64_t ch = 0; ch < g.c; ++ch)
          for (int64_t k = 0; k < 9; ++k) wd[(m * 9 + k) * 4 + ch] = w[(m * g.c + ch) * 9 + k];
      EDGERT_ASSIGN_OR_RETURN(L->w_, env.upload(wd.data(), wd.size()));
      return std::unique_ptr<GpuLayer>(std::move(L));
    }
    if (c.tactic == "int8-stem")
      return c.unsupported(
          "int8-stem takes 3x3 convolutions of one group with 1 to 4 input channels, stride 1 "
          "or 2 and a multiple of 4 outputs up to 256");
  }
  // One group on tensor cores: our kernel on sm_80+ unless the builder's tactic timing chose
  // cuBLASLt's (EDGERT_INT8_IMMA=1 forces it, EDGERT_INT8_N64=1 our 64-channel tiles,
  // EDGERT_INT8_WIDE=1 the 64 x 64 warp tiles, EDGERT_INT8_WGMMA=1 Hopper's wgmma, to compare),
  // cuBLASLt's IMMA on sm_75.
  const bool want_imma = c.tactic == "int8-imma" || c.tactic == "int8-im2col-imma" ||
                         std::getenv("EDGERT_INT8_IMMA") != nullptr;
  const bool mma_fits = g.n * g.oh * g.ow < (int64_t{1} << 31);  // its 32-bit pixel indices
  if (g.groups == 1 && env.sm >= 80 && !want_imma && mma_fits) {
    // The tactic names (tactic() above) spell the variant: "-n64" the narrow tiles, "-wide" the
    // 64 x 64 warp tiles, "im2col" columns instead of padded channels for C % 4 != 0
    // (ResNet-50's stem at bs128 on an H100: 0.45 ms padded vs 1.27 im2col).
    auto env_set = [](const char* n) { return std::getenv(n) != nullptr; };
    MmaVariant v;
    const bool f_n64 = env_set("EDGERT_INT8_N64"), f_wide = env_set("EDGERT_INT8_WIDE"),
               f_wgmma = env_set("EDGERT_INT8_WGMMA"), f_tma = env_set("EDGERT_INT8_TMA");
    const std::string_view t = c.tactic;
    v.forced = f_n64 || f_wide || f_wgmma || f_tma;
    v.narrow = t.ends_with("-n64") || f_n64;  // with wgmma: its 64-channel tiles
    v.wide = t.ends_with("-wide") || f_wide;
    v.wgmma = t.starts_with("int8-wgmma") || t.starts_with("int8-s2d-wgmma") || f_wgmma;
    v.tma = t.starts_with("int8-tma") || t.starts_with("int8-s2d-tma") || f_tma;
    v.persist = t.find("-tma-p-") != std::string_view::npos || env_set("EDGERT_INT8_TMA_P");
    v.pad = t.find("im2col") == std::string_view::npos && !env_set("EDGERT_INT8_IM2COL");
    v.s2d = t.starts_with("int8-s2d-") || env_set("EDGERT_INT8_S2D");
    EDGERT_RETURN_IF_ERROR(setUpMma(L.get(), env, w, v));
  } else if (g.groups == 1 && env.lt && env.sm >= 75) {
    const Status st = setUpImma(L.get(), env, w);
    if (!st.ok() && c.strict_tactic) return st;
  }
  const bool gemm = L->path_ != QPath::kDirect;
  const int64_t taps = int64_t{g.kh} * g.kw;
  if (!gemm && g.groups == g.c && g.m == g.c && g.c % 4 == 0) {
    // Depthwise: weights [KH][KW][C]. Eight channels and two pixels per thread where the
    // kernel is instantiated (sizes below 2^32 - 2^20 threads, the kernel's 32-bit indices).
    const bool dw8 = g.c % EDGERT_QCONV_DW8_CHANNELS == 0 && g.kh == g.kw &&
                     (g.kh == 3 || g.kh == 5) && g.sh == g.sw && (g.sh == 1 || g.sh == 2) &&
                     g.dh == 1 && g.dw == 1 &&
                     g.n * g.oh * ((g.ow + EDGERT_QCONV_DW8_PIXELS - 1) / EDGERT_QCONV_DW8_PIXELS) *
                             (g.c / EDGERT_QCONV_DW8_CHANNELS) <
                         (int64_t{1} << 32) - (1 << 20) &&
                     std::getenv("EDGERT_INT8_DW4") == nullptr;
    L->path_ = dw8 ? QPath::kDepthwise8 : QPath::kDepthwise4;
    if (dw8) L->dw_kernel_ = strCat("edgert_qconv_dw8_k", g.kh, "s", g.sh);
    // Shared-memory row tiles where 16 channels of at least one output row's input rows fit in
    // 48 KiB (up to 8 rows; EDGERT_INT8_DW8=1 keeps edgert_qconv_dw8, to compare).
    if (dw8 && g.c % EDGERT_QCONV_DWT_CHANNELS == 0 && std::getenv("EDGERT_INT8_DW8") == nullptr) {
      const int K = g.kh, S = g.sh, kw4 = (K + 3) / 4, nw = (3 * S + 4 * kw4 + 3) / 4;
      EdgertDwTile t{};
      t.owg = static_cast<int>((g.ow + 3) / 4);
      t.cww = (t.owg - 1) * S + nw;
      t.cww += ((2 - t.cww) % 8 + 8) % 8;  // = 2 mod 8: a warp's reads spread over the banks
      const auto bytes = [&](int th) {
        return (int64_t{th - 1} * S + K) * EDGERT_QCONV_DWT_CHANNELS * t.cww * 4 +
               int64_t{EDGERT_QCONV_DWT_CHANNELS} * K * kw4 * 4;
      };
      t.th = static_cast<int>(std::min<int64_t>(8, g.oh));
      while (t.th > 1 && bytes(t.th) > 48 * 1024) --t.th;
      if (bytes(t.th) <= 48 * 1024) {
        t.oht = static_cast<int>((g.oh + t.th - 1) / t.th);
        L->path_ = QPath::kDepthwiseTile;
        L->dw_kernel_ = strCat("edgert_qconv_dwt_k", K, "s", S);
        L->dw_tile_ = t;
        const int64_t tasks = int64_t{t.th} * t.owg * (EDGERT_QCONV_DWT_CHANNELS / 4);
        L->dw_threads_ = static_cast<unsigned>(std::min<int64_t>(256, (tasks + 31) / 32 * 32));
        L->dw_smem_ = static_cast<unsigned>(bytes(t.th));
      }
    }
    std::vector<int8_t> wd(static_cast<size_t>(M * taps));
    for (int64_t m = 0; m < M; ++m)
      for (int64_t t = 0; t < taps; ++t) wd[t * M + m] = w[m * taps + t];
    EDGERT_ASSIGN_OR_RETURN(L->w_, env.upload(wd.data(), wd.size()));
  } else if (!gemm) {
    // Weights [M][C/G][KH][KW] -> [M][KH][KW][C/G]: a tap's channels together.
    std::vector<int8_t> wd(static_cast<size_t>(M * taps * g.cg));
    for (int64_t m = 0; m < M; ++m)
      for (int64_t ch = 0; ch < g.cg; ++ch)
        for (int64_t t = 0; t < taps; ++t)
          wd[(m * taps + t) * g.cg + ch] = w[(m * g.cg + ch) * taps + t];
    EDGERT_ASSIGN_OR_RETURN(L->w_, env.upload(wd.data(), wd.size()));
  }
  return std::unique_ptr<GpuLayer>(std::move(L));
}

Result<std::unique_ptr<GpuLayer>> makeQConvLinear(const NodeContext& c, const Env& env) {
  return makeQConv(c, env, false);
}
Result<std::unique_ptr<GpuLayer>> makeQConvNhwc(const NodeContext& c, const Env& env) {
  return makeQConv(c, env, true);
}

bool runtimeAct(const NodeContext& c, size_t k) {
  return c.has(k) && !c.constant(k) && c.rank(k) == 4;
}

}  // namespace

GpuFactory findInt8Op(const NodeContext& c) {
  if (c.op == "QuantizeLinear" && c.has(0) && c.dtype(0) == DataType::kFloat32) return makeQuantize;
  if (c.op == "DequantizeLinear" && c.has(0) && c.out[0].dtype == DataType::kFloat32)
    return makeDequantize;
  if (c.op == "EdgertQConv" && c.rank(0) == 2) return makeQConvLinear;
  return nullptr;
}

GpuFactory findInt8NhwcOp(const NodeContext& c) {
  if (c.op == "QuantizeLinear" && runtimeAct(c, 0) && c.dtype(0) == DataType::kFloat32 &&
      isQuantType(c.out[0].dtype))
    return makeQuantizeNhwc;
  if (c.op == "DequantizeLinear" && runtimeAct(c, 0) && c.dtype(0) == DataType::kInt8 &&
      c.out[0].dtype == DataType::kFloat32)
    return makeDequantizeNhwc;
  if (c.op == "EdgertQConv" && runtimeAct(c, 0)) return makeQConvNhwc;
  if (c.op == "MaxPool" && runtimeAct(c, 0) && c.dtype(0) == DataType::kInt8)
    return makeMaxPoolS8Nhwc;
  return nullptr;
}

std::unique_ptr<GpuLayer> makeInt8LayoutConversion(const Dims& d, bool to_nhwc) {
  const std::vector<int64_t> nchw = {d[1] * d[2] * d[3], d[2] * d[3], d[3], 1};
  const std::vector<int64_t> nhwc = {d[1] * d[2] * d[3], 1, d[3] * d[1], d[1]};
  // Walk the destination's physical order, so writes are contiguous.
  StridedPart part;
  if (to_nhwc)
    part.p = strided({d[0], d[2], d[3], d[1]}, {nchw[0], nchw[2], nchw[3], nchw[1]},
                     {nhwc[0], nhwc[2], nhwc[3], nhwc[1]});
  else
    part.p = strided(d, nhwc, nchw);
  part.in_index = part.out_index = 0;
  return makeStridedLayer({part}, 1);
}

}  // namespace edgert::cuda
