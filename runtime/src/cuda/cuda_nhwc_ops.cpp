// FP16 NHWC layers: what FP16 engines run between tensor-core convolutions. cuDNN's FP16
// tensor-core kernels read and write NHWC; keeping activations in that layout (and in half)
// from one convolution to the next, through the pools, concatenations, resizes and
// elementwise ops between them, is what makes FP16 pay (bench/NOTES.md, "FP16 islands").
// The logical tensors stay NCHW: these layers index the physical N,H,W,C order, and the
// context converts where a neighbour has no such layer (cuda_context.cpp).
#include <cstring>
#include <map>
#include <string_view>

#include "../ops/conv_geometry.h"
#include "../ops/fused_elementwise.h"
#include "../ops/op_util.h"
#include "conv_f16_mma.h"
#include "conv_f16_tma.h"
#include "cuda_layers.h"
#include "cudnn_graph_conv.h"
#include "edgert/internal/elementwise_ops.h"
#include "edgert/internal/half.h"

namespace edgert::cuda {

bool halfAct(const NodeContext& c, size_t k) {
  return c.has(k) && !c.constant(k) && c.rank(k) == 4 && c.dtype(k) == DataType::kFloat32;
}

Result<CUdeviceptr> uploadFilterNhwc(const Env& env, const HostTensor& w, const Dims& d,
                                     int64_t padded_c, int64_t row_elems, int64_t rows) {
  const int64_t K = d[0], C = d[1], RS = d[2] * d[3], CP = std::max(C, padded_c);
  const int64_t row = std::max(RS * CP, row_elems);
  std::vector<uint16_t> h(static_cast<size_t>(std::max(K, rows) * row), 0);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < RS; ++p)
        h[static_cast<size_t>(k * row + p * CP + c)] =
            floatToHalf(static_cast<float>(w.doubleAt((k * C + c) * RS + p)));
  return env.upload(h.data(), h.size() * 2);
}

namespace {

bool outputsHalfable(const NodeContext& c) {
  for (const ValueInfo& v : c.out)
    if (!v.present || v.dims.size() != 4 || v.dtype != DataType::kFloat32) return false;
  return !c.out.empty();
}

// NHWC strides of an NCHW-indexed 4-D tensor, per logical axis.
std::vector<int64_t> nhwcStrides(const Dims& d) {
  return {d[1] * d[2] * d[3], 1, d[3] * d[1], d[1]};
}

// Logical (N,C,H,W) order -> physical (N,H,W,C): the order threads walk, for coalescing.
template <class V>
V physical(const V& v) {
  return {v[0], v[2], v[3], v[1]};
}

EdgertStrided nhwcView(const Dims& dims, const std::vector<int64_t>& in_strides,
                       const std::vector<int64_t>& out_strides, int64_t in_off = 0,
                       int64_t out_off = 0) {
  return strided(physical(dims), physical(in_strides), physical(out_strides), in_off, out_off);
}

// A layer reading the inputs `halfAct` names and writing every output as NHWC fp16.
class HalfLayer : public GpuLayer {
 public:
  void readsHalf(const NodeContext& c) {
    for (size_t k = 0; k < c.in.size(); ++k) in_half_.push_back(halfAct(c, k));
  }
  bool halfIn(size_t k) const override { return k < in_half_.size() && in_half_[k]; }
  bool halfOut(size_t) const override { return true; }

 private:
  std::vector<bool> in_half_;
};

// Data movement (Concat, Split, Slice): the FP32 layers' strided copies on 2-byte elements.
class HalfCopyLayer final : public HalfLayer {
 public:
  explicit HalfCopyLayer(std::unique_ptr<GpuLayer> copy) : copy_(std::move(copy)) {}
  const char* tactic() const override { return "nhwc16-copy"; }
  Status enqueue(const Env& env, const GpuArgs& g) const override { return copy_->enqueue(env, g); }
  std::vector<RangeCopy> rangeCopies() const override { return copy_->rangeCopies(); }

 private:
  std::unique_ptr<GpuLayer> copy_;
};

template <class L>
Result<std::unique_ptr<GpuLayer>> finish(std::unique_ptr<L> layer, const NodeContext& c) {
  layer->readsHalf(c);
  return std::unique_ptr<GpuLayer>(std::move(layer));
}

int64_t axisOf(const NodeContext& c, int64_t def) {
  int64_t axis = c.attrs->getInt("axis", def).value();
  return axis < 0 ? axis + 4 : axis;
}

Result<std::unique_ptr<GpuLayer>> makeConcat(const NodeContext& c, const Env&) {
  for (size_t k = 0; k < c.numInputs(); ++k)
    if (!halfAct(c, k)) return c.unsupported("a constant input");
  const int64_t axis = axisOf(c, 0);
  const auto os = nhwcStrides(c.out[0].dims);
  std::vector<StridedPart> parts;
  int64_t off = 0;
  for (size_t k = 0; k < c.numInputs(); ++k) {
    parts.push_back({nhwcView(c.dims(k), nhwcStrides(c.dims(k)), os, 0, off * os[axis]), k, 0});
    off += c.dims(k)[axis];
  }
  return finish(std::make_unique<HalfCopyLayer>(makeStridedLayer(std::move(parts), 2)), c);
}

Result<std::unique_ptr<GpuLayer>> makeSplit(const NodeContext& c, const Env&) {
  const int64_t axis = axisOf(c, 0);
  const auto xs = nhwcStrides(c.dims(0));
  std::vector<StridedPart> parts;
  int64_t off = 0;
  for (size_t o = 0; o < c.out.size(); ++o) {
    parts.push_back(
        {nhwcView(c.out[o].dims, xs, nhwcStrides(c.out[o].dims), off * xs[axis], 0), 0, o});
    off += c.out[o].dims[axis];
  }
  return finish(std::make_unique<HalfCopyLayer>(makeStridedLayer(std::move(parts), 2)), c);
}

Result<std::unique_ptr<GpuLayer>> makeSlice(const NodeContext& c, const Env&) {
  for (size_t k = 1; k < c.numInputs(); ++k)
    if (c.has(k) && !c.constant(k)) return c.unsupported("slice bounds computed at run time");
  int64_t base = 0;
  const std::vector<int64_t> ins = sliceStrides(c, nhwcStrides(c.dims(0)), &base);
  const Dims& out = c.out[0].dims;
  return finish(std::make_unique<HalfCopyLayer>(
                    makeStridedLayer({{nhwcView(out, ins, nhwcStrides(out), base, 0), 0, 0}}, 2)),
                c);
}

// Zero-valued constant Pad: clear the output, copy the input into its interior.
class PadLayer final : public HalfLayer {
 public:
  PadLayer(EdgertStrided interior, size_t out_bytes)
      : interior_(vectorizeCopy({interior, 0, 0}, 2)), bytes_(out_bytes) {}
  const char* tactic() const override { return "nhwc16-pad"; }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    CUdeviceptr y = g.out[0], x = g.in[0];
    EDGERT_RETURN_IF_ERROR(
        env.d->check(env.d->cuMemsetD8Async(y, 0, bytes_, env.stream), "cuMemsetD8Async"));
    EdgertStrided p = interior_.p;
    if (p.total == 0) return Status::Ok();
    void* args[] = {&y, &x, &p};
    return launch(env, stridedCopyKernel(interior_.es), p.total, args);
  }

 private:
  StridedPart interior_;
  size_t bytes_;
};

Result<std::unique_ptr<GpuLayer>> makePad(const NodeContext& c, const Env&) {
  if (c.attrs->getString("mode", "constant").value() != "constant" || c.has(3))
    return c.unsupported("only constant pads");
  const std::vector<int64_t> pads = ops::constInts(c, 1);
  if (pads.size() != 8) return c.unsupported("pads for 4 dims expected");
  for (int64_t p : pads)
    if (p < 0) return c.unsupported("negative pads");
  if (c.has(2)) {
    const HostTensor* v = c.constant(2);
    if (!v || v->numel() != 1 || v->doubleAt(0) != 0.0) return c.unsupported("a non-zero border");
  }
  const Dims& x = c.dims(0);
  const Dims& out = c.out[0].dims;
  const auto os = nhwcStrides(out);
  int64_t off = 0;
  for (size_t i = 0; i < 4; ++i) off += pads[i] * os[i];
  return finish(
      std::make_unique<PadLayer>(nhwcView(x, nhwcStrides(x), os, 0, off), volume(out) * 2), c);
}

// ---- Convolution: cuDNN on NHWC fp16 tensors, FP32 accumulation, our epilogue ------------

// In place y = act(y + bias + residual) after a convolution (inputs 2 and 3 of the node).
struct HalfEpilogue {
  int act = kUnIdentity;
  float a = 0.f, b = 0.f;
  long long elements = 0, channels = 0;
  // The eight-channel kernel with the activation fixed (epilogue.cu), where it fits.
  std::string h8_kernel;
  float h8_a = 0.f, h8_b = 0.f;

  void init(const NodeContext& c) {
    act = convActivation(c);
    a = c.attrs->getFloat("_act_alpha", 0.f).value();
    b = c.attrs->getFloat("_act_beta", 0.f).value();
    elements = n64(volume(c.out[0].dims));
    channels = n64(c.out[0].dims[1]);
    h8_a = a;
    h8_b = b;
    const int fixed = fixedActivation(act, &h8_a, &h8_b);
    if (channels % 8 == 0 && elements / 8 < (1LL << 31) && fixed >= 0)
      h8_kernel = strCat("edgert_bias_act_nhwc_h8_a", fixed);
  }
  Status enqueue(const Env& env, const GpuArgs& g) const {
    CUdeviceptr bias = g.n_in > 2 ? g.in[2] : 0, res = g.n_in > 3 ? g.in[3] : 0;
    if (!bias && !res && act == kUnIdentity) return Status::Ok();
    int op = act;
    float aa = a, bb = b;
    CUdeviceptr y = g.out[0];
    // Activations are 256-byte aligned in the arena; a residual is one of them.
    if (!h8_kernel.empty() && y % 16 == 0 && res % 16 == 0) {
      unsigned n8 = static_cast<unsigned>(elements / 8), c8 = static_cast<unsigned>(channels / 8);
      float fa = h8_a, fb = h8_b;
      void* args[] = {&y, &bias, &res, &n8, &c8, &fa, &fb};
      return launch(env, h8_kernel.c_str(), n8, args);
    }
    if (channels % 2 == 0) {
      long long n2 = elements / 2, c2 = channels / 2;
      void* args[] = {&y, &bias, &res, &n2, &c2, &op, &aa, &bb};
      return launch(env, "edgert_bias_act_nhwc_h2", n2, args);
    }
    long long n = elements, ch = channels;
    void* args[] = {&y, &bias, &res, &n, &ch, &op, &aa, &bb};
    return launch(env, "edgert_bias_act_nhwc_h", n, args);
  }
};

class ConvLayer final : public HalfLayer {
 public:
  bool readsInputOnDevice(size_t k) const override { return k != 1; }  // own fp16 weights
  ~ConvLayer() override {
    if (!dnn_) return;
    if (x_) dnn_->cudnnDestroyTensorDescriptor(x_);
    if (y_) dnn_->cudnnDestroyTensorDescriptor(y_);
    if (w_) dnn_->cudnnDestroyFilterDescriptor(w_);
    if (conv_) dnn_->cudnnDestroyConvolutionDescriptor(conv_);
  }
  size_t scratchBytes() const override { return ws_; }
  const char* tactic() const override { return tactic_.c_str(); }
  // `calls` > 1: the batch in equal parts, one cuDNN call each (descriptors for one part):
  // an algorithm whose workspace grows with the batch (precomputed indices) needs a part's.
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    const float one = 1.f, zero = 0.f;
    for (int64_t k = 0; k < calls_; ++k)
      EDGERT_RETURN_IF_ERROR(env.dnn->check(
          env.dnn->cudnnConvolutionForward(env.dnn_handle, &one, x_,
                                           reinterpret_cast<const void*>(g.in[0] + k * x_part_), w_,
                                           reinterpret_cast<const void*>(w_half_), conv_, algo_,
                                           reinterpret_cast<void*>(g.scratch), ws_, &zero, y_,
                                           reinterpret_cast<void*>(g.out[0] + k * y_part_)),
          "cudnnConvolutionForward (nhwc fp16)"));
    return epi_.enqueue(env, g);
  }
  int64_t calls_ = 1;
  size_t x_part_ = 0, y_part_ = 0;  // bytes per part

  const Cudnn* dnn_ = nullptr;
  cudnnTensorDescriptor_t x_ = nullptr, y_ = nullptr;
  cudnnFilterDescriptor_t w_ = nullptr;
  cudnnConvolutionDescriptor_t conv_ = nullptr;
  cudnnConvolutionFwdAlgo_t algo_{};
  size_t ws_ = 0;
  CUdeviceptr w_half_ = 0;
  HalfEpilogue epi_;
  std::string tactic_;
};

// A convolution through cuDNN's graph API (any group count), then our epilogue; the
// builder's timed choice "cudnn-nhwc16-graph<N>" names the N-th usable heuristic configuration.
class GraphConvLayer final : public HalfLayer {
 public:
  bool readsInputOnDevice(size_t k) const override { return k != 1; }  // own fp16 weights
  size_t scratchBytes() const override { return conv_->workspace(); }
  const char* tactic() const override { return tactic_.c_str(); }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    EDGERT_RETURN_IF_ERROR(conv_->execute(env, g.in[0], w_half_, g.out[0], g.scratch));
    return epi_.enqueue(env, g);
  }

  std::unique_ptr<CudnnGraphConv> conv_;
  CUdeviceptr w_half_ = 0;
  HalfEpilogue epi_;
  std::string tactic_;
};

// The network's first convolution (1-3 input channels, usually the image): it reads the
// float32 NCHW input itself, writes it as NHWC fp16 padded to four or eight channels (the
// tactic says which; the builder times four) into its scratch, and runs cuDNN's graph engines on
// that, where cuDNN may have aligned first-layer kernels (PyTorch's ResNet-50 stem at bs128 ran in
// 0.21 ms in one; ours on C=3 took 0.51-0.56, on C=4 0.77). The conversion replaces the context's
// own to-NHWC pass.
class StemConvLayer final : public HalfLayer {
 public:
  bool halfIn(size_t) const override { return false; }
  bool readsInputOnDevice(size_t k) const override { return k != 1; }  // own fp16 weights
  size_t scratchBytes() const override { return padded_bytes_ + conv_->workspace(); }
  const char* tactic() const override { return tactic_.c_str(); }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    CUdeviceptr padded = g.scratch, x = g.in[0];
    long long n = n_, c = c_, hw = hw_, cp = padded_c_;
    void* args[] = {&padded, &x, &n, &c, &hw, &cp};
    EDGERT_RETURN_IF_ERROR(launch(env, "edgert_nchw_f32_to_nhwc_f16_pad", n_ * hw_ * cp, args));
    EDGERT_RETURN_IF_ERROR(
        conv_->execute(env, padded, w_half_, g.out[0], g.scratch + padded_bytes_));
    return epi_.enqueue(env, g);
  }

  std::unique_ptr<CudnnGraphConv> conv_;
  CUdeviceptr w_half_ = 0;
  HalfEpilogue epi_;
  std::string tactic_;
  long long n_ = 0, c_ = 0, hw_ = 0, padded_c_ = 4;
  size_t padded_bytes_ = 0;
};

// Depthwise convolutions (one filter per channel): our kernel, with the epilogue fused; timed
// against cuDNN's graph engines (its legacy NHWC fp16 grouped kernels were slow and refused
// some batch sizes).
class DepthwiseLayer final : public HalfLayer {
 public:
  bool readsInputOnDevice(size_t k) const override { return k != 1; }  // own fp16 weights
  const char* tactic() const override { return "nhwc16-depthwise"; }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    EdgertDwConv p = p_;
    CUdeviceptr y = g.out[0], x = g.in[0], w = w_half_, bias = g.n_in > 2 ? g.in[2] : 0,
                res = g.n_in > 3 ? g.in[3] : 0;
    void* args[] = {&p, &y, &x, &w, &bias, &res};
    return launch(env, kernel_.c_str(), threads_, args);
  }
  std::string kernel_;  // chosen once for the shape (makeDepthwise)
  EdgertDwConv p_{};    // its parameters
  long long threads_ = 0;
  CUdeviceptr w_half_ = 0;
};

// Index math fits 32 bits (the vectorised kernels use unsigned indices).
bool fits32(const EdgertDwConv& p) {
  return p.n * p.ih * p.iw * p.c < (1LL << 31) &&
         p.n * p.oh * ((p.ow + 3) / 4) * 4 * p.c < (1LL << 31);
}

// The unrolled four-channel kernel (see nhwc_half.cu) for the common shapes and
// activations; empty where the general kernels run. `q` gets its parameters.
std::string h4Kernel(const EdgertDwConv& p, EdgertDwConv* q) {
  if (p.c % 4 || !unrolledDepthwiseShape(p) || !fits32(p)) return "";
  *q = p;
  const int a = fixedActivation(p.act, &q->a, &q->b);
  if (a < 0) return "";
  return strCat("edgert_dwconv_nhwc_h4_k", p.kh, "s", p.sh, "_a", a);
}

Result<std::unique_ptr<GpuLayer>> makeDepthwise(const NodeContext& c, const Env& env,
                                                const ops::Geometry& geo) {
  const Dims& x = c.dims(0);
  const Dims& w = c.dims(1);
  auto L = std::make_unique<DepthwiseLayer>();
  EdgertDwConv& p = L->p_;
  p = depthwiseParams(c, geo);
  // [C][1][kh][kw] -> [kh * kw][C] half: adjacent threads read adjacent weights.
  const HostTensor& wt = *c.constant(1);
  const int64_t C = x[1], KK = w[2] * w[3];
  std::vector<uint16_t> h(static_cast<size_t>(C * KK));
  for (int64_t ch = 0; ch < C; ++ch)
    for (int64_t k = 0; k < KK; ++k)
      h[static_cast<size_t>(k * C + ch)] =
          floatToHalf(static_cast<float>(wt.doubleAt(ch * KK + k)));
  EDGERT_ASSIGN_OR_RETURN(L->w_half_, env.upload(h.data(), h.size() * 2));
  // The unrolled four-channel kernel where it applies; else channel pairs, four adjacent
  // pixels per thread (shared weights and index arithmetic: on an H200 MobileNetV2 fp16
  // bs128 went 4.51 -> 3.61 ms, EfficientNet-B0 7.48 -> 6.43); else one element per thread.
  EdgertDwConv q{};
  if (std::string k4 = h4Kernel(p, &q); !k4.empty()) {
    L->kernel_ = std::move(k4);
    p = q;
    L->threads_ = p.n * p.oh * ((p.ow + 3) / 4) * (p.c / 4);
  } else if (p.c % 2 == 0 && fits32(p)) {
    L->kernel_ = "edgert_dwconv_nhwc_h2x4";
    L->threads_ = p.n * p.oh * ((p.ow + 3) / 4) * (p.c / 2);
  } else {
    L->kernel_ = "edgert_dwconv_nhwc_h";
    L->threads_ = p.n * p.oh * p.ow * p.c;
  }
  return finish(std::move(L), c);
}

// A 1x1 convolution with few input channels (pointwise_small.cu: tensor-core mma.sync, one
// pass writing the output with bias, residual and activation). Timed against cuBLASLt and
// cuDNN.
class PointwiseLayer final : public HalfLayer {
 public:
  bool readsInputOnDevice(size_t k) const override { return k != 1; }  // own fp16 weights
  const char* tactic() const override { return "nhwc16-pointwise"; }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    EdgertPointwise p = p_;
    CUdeviceptr y = g.out[0], x = g.in[0], w = w_half_, bias = g.n_in > 2 ? g.in[2] : 0,
                res = g.n_in > 3 ? g.in[3] : 0;
    void* args[] = {&p, &y, &x, &w, &bias, &res};
    // Warps loop over 16-pixel tiles: each block first stages all the weights in shared
    // memory, once, so the grid is as many blocks as fit on the GPU at a time.
    const long long blocks = ((p_.pixels + 15) / 16 + 7) / 8;
    const unsigned grid = static_cast<unsigned>(std::min<long long>(blocks, grid_));
    return launchGrid(env, kernel_.c_str(), grid, 1, 256, 1, args, 1, smem_);
  }
  std::string kernel_;
  EdgertPointwise p_{};
  CUdeviceptr w_half_ = 0;
  unsigned smem_ = 0;  // B fragments, bias, 8 warps' staged 16 x 64 fp32 outputs
  long long grid_ = 0;
};

Result<std::unique_ptr<GpuLayer>> makePointwise(const NodeContext& c, const Env& env) {
  const Dims& x = c.dims(0);
  const int64_t K = x[1], N = c.out[0].dims[1], pixels = x[0] * x[2] * x[3];
  const int64_t ks = (K + 15) / 16;
  if (env.sm < 80) return c.unsupported("the pointwise kernel needs sm_80 or newer");
  // pointwise_small.cu: the B fragments, the bias, and 8 warps each staging 16 x 72 floats.
  const int64_t smem = N * ks * 32 + N * 4 + 8 * 16 * 72 * 4;
  if (K % 2 || K > 128 || N % 8 || smem > env.smem_optin)
    return c.unsupported("not a small-K pointwise convolution (even C_in <= 128, C_out % 8, ", smem,
                         " bytes of shared memory of ", env.smem_optin, ")");
  auto L = std::make_unique<PointwiseLayer>();
  L->p_.pixels = pixels;
  L->p_.k = static_cast<int>(K);
  L->p_.n = static_cast<int>(N);
  L->p_.a = c.attrs->getFloat("_act_alpha", 0.f).value();
  L->p_.b = c.attrs->getFloat("_act_beta", 0.f).value();
  const int a = fixedActivation(convActivation(c), &L->p_.a, &L->p_.b);
  if (a < 0) return c.unsupported("an activation the pointwise kernel does not fuse");
  L->kernel_ = strCat("edgert_pointwise_mma_ks", ks, "_a", a);
  L->smem_ = static_cast<unsigned>(smem);
  L->grid_ = env.residentGrid(smem);
  EDGERT_RETURN_IF_ERROR(allowDynamicSmem(env, L->kernel_.c_str(), static_cast<int>(smem)));
  EDGERT_ASSIGN_OR_RETURN(L->w_half_, uploadFilterNhwc(env, *c.constant(1), c.dims(1)));
  return finish(std::move(L), c);
}

// A 1x1 convolution (stride 1, no padding, one group) over NHWC is one GEMM:
// Y[NHW x K] = X[NHW x C] * W[K x C]^T. In cuBLASLt's column-major terms Y^T = W * X^T.
class GemmConvLayer final : public HalfLayer {
 public:
  bool readsInputOnDevice(size_t k) const override { return k != 1; }  // own fp16 weights
  ~GemmConvLayer() override {
    if (!lt_) return;
    if (desc_) lt_->cublasLtMatmulDescDestroy(desc_);
    for (auto* l : {w_, x_, y_})
      if (l) lt_->cublasLtMatrixLayoutDestroy(l);
  }
  size_t scratchBytes() const override { return ws_; }
  const char* tactic() const override { return "cublaslt-nhwc16-1x1"; }
  // cuBLASLt computes D = AB + C in place when C and D are one buffer with one layout: the
  // block's output takes the residual's bytes (ResNet-50 bs128: one 200 MB tensor less at
  // the peak). Not when our epilogue runs after the GEMM (it reads the residual).
  int inPlaceInput(size_t) const override { return fused_ ? 3 : -1; }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    // Fused: D = act(W X + residual + bias) in cuBLASLt's epilogue (bias uploaded in fp16,
    // the residual as C with beta 1); otherwise our epilogue kernel afterwards.
    const CUdeviceptr res = fused_ && g.n_in > 3 ? g.in[3] : 0;
    const float one = 1.f, beta = res ? 1.f : 0.f;
    const CUdeviceptr c = res ? res : g.out[0];
    EDGERT_RETURN_IF_ERROR(env.lt->check(
        env.lt->cublasLtMatmul(env.lt_handle, desc_, &one, reinterpret_cast<const void*>(w_half_),
                               w_, reinterpret_cast<const void*>(g.in[0]), x_, &beta,
                               reinterpret_cast<const void*>(c), y_,
                               reinterpret_cast<void*>(g.out[0]), y_, &algo_,
                               reinterpret_cast<void*>(g.scratch), ws_, env.stream),
        "cublasLtMatmul (nhwc fp16 1x1)"));
    return fused_ ? Status::Ok() : epi_.enqueue(env, g);
  }

  const CublasLt* lt_ = nullptr;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t w_ = nullptr, x_ = nullptr, y_ = nullptr;
  cublasLtMatmulAlgo_t algo_{};
  size_t ws_ = 0;
  CUdeviceptr w_half_ = 0, bias_half_ = 0;
  bool fused_ = false;
  HalfEpilogue epi_;
};

bool is1x1(const NodeContext& c) {
  const Dims& w = c.dims(1);
  if (w[2] != 1 || w[3] != 1 || c.attrs->getInt("group", 1).value() != 1) return false;
  for (const char* k : {"strides", "dilations", "pads"}) {
    const std::vector<int64_t> vs = c.attrs->getInts(k, {}).value();
    for (int64_t v : vs)
      if (v != (std::string(k) == "pads" ? 0 : 1)) return false;
  }
  return true;
}

Result<std::unique_ptr<GpuLayer>> makeGemmConv(const NodeContext& c, const Env& env) {
  const Dims& x = c.dims(0);
  const int64_t M = x[0] * x[2] * x[3], C = x[1], K = c.dims(1)[0];
  auto L = std::make_unique<GemmConvLayer>();
  const CublasLt* lt = env.lt;
  L->lt_ = lt;
  EDGERT_RETURN_IF_ERROR(
      ltMatmulDesc(env, CUBLAS_COMPUTE_32F, CUDA_R_32F, CUBLAS_OP_T, CUBLAS_OP_N, &L->desc_));
  L->epi_.init(c);
  // Bias and ReLU (or none) fuse into cuBLASLt's epilogue; other activations run after it.
  if (L->epi_.act == kUnIdentity || L->epi_.act == kUnRelu) {
    L->fused_ = true;
    std::vector<uint16_t> bias(static_cast<size_t>(K), 0);
    if (const HostTensor* b = c.constant(2))
      for (int64_t k = 0; k < K; ++k)
        bias[static_cast<size_t>(k)] = floatToHalf(static_cast<float>(b->doubleAt(k)));
    EDGERT_ASSIGN_OR_RETURN(L->bias_half_, env.upload(bias.data(), bias.size() * 2));
    const void* bp = reinterpret_cast<const void*>(L->bias_half_);
    const cublasLtEpilogue_t epi =
        L->epi_.act == kUnRelu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
    EDGERT_RETURN_IF_ERROR(
        lt->check(lt->cublasLtMatmulDescSetAttribute(L->desc_, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi,
                                                     sizeof(epi)),
                  "cuBLASLt epilogue"));
    EDGERT_RETURN_IF_ERROR(
        lt->check(lt->cublasLtMatmulDescSetAttribute(L->desc_, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                     &bp, sizeof(bp)),
                  "cuBLASLt bias"));
  }
  EDGERT_RETURN_IF_ERROR(
      lt->check(lt->cublasLtMatrixLayoutCreate(&L->w_, CUDA_R_16F, C, K, C), "layout W"));
  EDGERT_RETURN_IF_ERROR(
      lt->check(lt->cublasLtMatrixLayoutCreate(&L->x_, CUDA_R_16F, C, M, C), "layout X"));
  EDGERT_RETURN_IF_ERROR(
      lt->check(lt->cublasLtMatrixLayoutCreate(&L->y_, CUDA_R_16F, K, M, K), "layout Y"));
  if (!ltHeuristicAlgo(env, L->desc_, L->w_, L->x_, L->y_, &L->algo_, &L->ws_))
    return c.unsupported("cuBLASLt has no fp16 algorithm for this 1x1 convolution");
  // KC1x1 float -> KC half: the row-major [K][C] matrix W.
  const HostTensor& wt = *c.constant(1);
  std::vector<uint16_t> h(static_cast<size_t>(K * C));
  for (size_t i = 0; i < h.size(); ++i)
    h[i] = floatToHalf(static_cast<float>(wt.doubleAt(static_cast<int64_t>(i))));
  EDGERT_ASSIGN_OR_RETURN(L->w_half_, env.upload(h.data(), h.size() * 2));
  return finish(std::move(L), c);
}

constexpr const char* kGraphTactic = "cudnn-nhwc16-graph";

// The cuDNN graph plan a "<prefix><rank>" tactic names for a convolution of shape `s` (with
// a tactic that does not start with `prefix`: configuration *rank).
Result<std::unique_ptr<CudnnGraphConv>> graphPlan(const NodeContext& c, const Env& env,
                                                  const GraphConvShape& s, std::string_view prefix,
                                                  int* rank) {
  if (c.tactic.rfind(prefix, 0) == 0)
    *rank = std::atoi(std::string(c.tactic.substr(prefix.size())).c_str());
  auto conv = CudnnGraphConv::create(env, s, *rank, size_t{256} << 20);
  if (!conv.ok()) return c.unsupported(conv.status().message());
  return conv;
}

// The cuDNN graph plan a "<prefix><rank>" tactic names for this convolution; with
// `padded_c`, the input channels (and the filter's) are that many instead.
Result<std::unique_ptr<CudnnGraphConv>> graphPlanFor(const NodeContext& c, const Env& env,
                                                     const ops::Geometry& geo,
                                                     std::string_view prefix, int64_t padded_c,
                                                     int* rank) {
  const Dims& x = c.dims(0);
  const Dims& w = c.dims(1);
  const Dims& y = c.out[0].dims;
  GraphConvShape s{};
  for (int i = 0; i < 4; ++i) {
    s.x[i] = x[i];
    s.w[i] = w[i];
    s.y[i] = y[i];
  }
  if (padded_c) s.x[1] = s.w[1] = padded_c;
  for (int i = 0; i < 2; ++i) {
    s.pre_pad[i] = geo.pb[i + 1];
    s.post_pad[i] = geo.pe[i + 1];
    s.stride[i] = geo.s[i + 1];
    s.dilation[i] = geo.d[i + 1];
  }
  return graphPlan(c, env, s, prefix, rank);
}

Result<std::unique_ptr<GpuLayer>> makeGraphConv(const NodeContext& c, const Env& env,
                                                const ops::Geometry& geo, int rank = 0) {
  EDGERT_ASSIGN_OR_RETURN(auto conv, graphPlanFor(c, env, geo, kGraphTactic, 0, &rank));
  auto L = std::make_unique<GraphConvLayer>();
  L->conv_ = std::move(conv);
  EDGERT_ASSIGN_OR_RETURN(L->w_half_, uploadFilterNhwc(env, *c.constant(1), c.dims(1)));
  L->epi_.init(c);
  L->tactic_ = strCat(kGraphTactic, rank);
  return finish(std::move(L), c);
}

// "cudnn-nhwc16-c<P>-graph<N>": the input padded to P channels, cuDNN configuration N.
constexpr const char* kStemTacticPrefix = "cudnn-nhwc16-c";

Result<std::unique_ptr<GpuLayer>> makeStemConv(const NodeContext& c, const Env& env,
                                               const ops::Geometry& geo) {
  const Dims& x = c.dims(0);
  const std::string_view rest = std::string_view(c.tactic).substr(strlen(kStemTacticPrefix));
  const int64_t padded = rest.rfind("4-graph", 0) == 0 ? 4 : rest.rfind("8-graph", 0) == 0 ? 8 : 0;
  if (!padded) return c.unsupported("unknown first-layer tactic ", c.tactic);
  if (x[1] >= 4 || c.attrs->getInt("group", 1).value() != 1 || c.has(3))
    return c.unsupported("not a first-layer convolution (1-3 input channels, no residual)");
  if (x[0] * x[2] * x[3] * padded >= (int64_t{1} << 31))
    return c.unsupported("input too large for the padding kernel's 32-bit indices");
  const std::string prefix = strCat(kStemTacticPrefix, padded, "-graph");
  int rank = 0;
  EDGERT_ASSIGN_OR_RETURN(auto conv, graphPlanFor(c, env, geo, prefix.c_str(), padded, &rank));
  auto L = std::make_unique<StemConvLayer>();
  L->conv_ = std::move(conv);
  EDGERT_ASSIGN_OR_RETURN(L->w_half_, uploadFilterNhwc(env, *c.constant(1), c.dims(1), padded));
  L->epi_.init(c);
  L->tactic_ = strCat(prefix, rank);
  L->n_ = x[0];
  L->c_ = x[1];
  L->hw_ = x[2] * x[3];
  L->padded_c_ = padded;
  L->padded_bytes_ = align256(static_cast<size_t>(x[0] * x[2] * x[3] * padded * 2));
  return finish(std::move(L), c);
}

// "cudnn-nhwc16-s2d-graph<N>": a stride-2 first convolution (1-3 input channels) as a stride-1
// one over the input's space-to-depth copy (edgert_s2d_*: each 2 x 2 block of pixels' channels,
// padded to 4, as 16 channels; the padding written into the copy), on cuDNN configuration N.
// Its taps are 32-byte runs where the C=4 padded input's were 8: ResNet-50's 7x7 / 2 stem
// becomes a 4x4 / 1 convolution (K = 256, 147 of them real), which at batch 128 had run at 12% of
// its roofline on the padded input (0.614 ms on an H100, bench/NOTES.md session 19). INT8 does
// the same (int8-s2d-*: cuda_int8_ops.cpp).
constexpr const char* kS2dStemTactic = "cudnn-nhwc16-s2d-graph";

class S2dStemLayer final : public HalfLayer {
 public:
  bool halfIn(size_t k) const override { return k == 0 ? src_half_ : HalfLayer::halfIn(k); }
  bool readsInputOnDevice(size_t k) const override { return k != 1; }  // own fp16 weights
  size_t scratchBytes() const override { return copy_bytes_ + conv_->workspace(); }
  const char* tactic() const override { return tactic_.c_str(); }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    CUdeviceptr copy = g.scratch, x = g.in[0];
    unsigned n = n_, c = c_, h = h_, w = w_, hs = hs_, ws = ws_;
    int pt = pt_, pl = pl_;
    void* args[] = {&copy, &x, &n, &c, &h, &w, &hs, &ws, &pt, &pl};
    EDGERT_RETURN_IF_ERROR(
        launch(env, src_half_ ? "edgert_s2d_nhwc_f16" : "edgert_s2d_nchw_f32_to_nhwc_f16",
               static_cast<long long>(n_) * hs_ * ws_, args));
    EDGERT_RETURN_IF_ERROR(conv_->execute(env, copy, w_half_, g.out[0], g.scratch + copy_bytes_));
    return epi_.enqueue(env, g);
  }

  std::unique_ptr<CudnnGraphConv> conv_;
  CUdeviceptr w_half_ = 0;
  HalfEpilogue epi_;
  std::string tactic_;
  bool src_half_ = false;  // the input as NHWC fp16 (else NCHW float32)
  unsigned n_ = 0, c_ = 0, h_ = 0, w_ = 0, hs_ = 0, ws_ = 0;
  int pt_ = 0, pl_ = 0;  // the copy's top / left padding (the convolution's, rounded up to even)
  size_t copy_bytes_ = 0;
};

Result<std::unique_ptr<GpuLayer>> makeS2dStem(const NodeContext& c, const Env& env,
                                              const ops::Geometry& geo) {
  const Dims& x = c.dims(0);
  const Dims& wd = c.dims(1);
  const Dims& y = c.out[0].dims;
  if (x.size() != 4 || x[1] >= 4 || c.attrs->getInt("group", 1).value() != 1 || c.has(3))
    return c.unsupported("not a first-layer convolution (1-3 input channels, no residual)");
  if (geo.s[1] != 2 || geo.s[2] != 2 || geo.d[1] != 1 || geo.d[2] != 1)
    return c.unsupported("the space-to-depth stem needs stride 2 and no dilation");
  // Copy row Y, phase py holds input row 2Y + py - pt2 (pt2: the top padding rounded up to
  // even, e = pt2 - pt), so output row oy's tap ky reads copy row oy + (ky + e) / 2, phase
  // (ky + e) % 2: (KH - 1 + e) / 2 + 1 taps, and the copy has OH + taps - 1 rows.
  const int64_t pt = geo.pb[1], pl = geo.pb[2], eh = pt % 2, ew = pl % 2;
  const int64_t kh = (wd[2] - 1 + eh) / 2 + 1, kw = (wd[3] - 1 + ew) / 2 + 1;
  const int64_t hs = y[2] + kh - 1, ws = y[3] + kw - 1;
  if (x[0] * hs * ws >= (int64_t{1} << 31) || x[0] * x[1] * x[2] * x[3] >= (int64_t{1} << 31))
    return c.unsupported("input too large for the space-to-depth copy's 32-bit indices");
  GraphConvShape s{};
  const int64_t xs[4] = {x[0], 16, hs, ws}, ws4[4] = {wd[0], 16, kh, kw};
  for (int i = 0; i < 4; ++i) {
    s.x[i] = xs[i];
    s.w[i] = ws4[i];
    s.y[i] = y[i];
  }
  for (int i = 0; i < 2; ++i) {
    s.pre_pad[i] = s.post_pad[i] = 0;
    s.stride[i] = s.dilation[i] = 1;
  }
  auto L = std::make_unique<S2dStemLayer>();
  int rank = 0;
  EDGERT_ASSIGN_OR_RETURN(L->conv_, graphPlan(c, env, s, kS2dStemTactic, &rank));
  // The filter as cuDNN's KRSC over the copy: [M][KH'][KW'][16], channel (py * 2 + px) * 4 + ch
  // of tap (a, b) holding w[m][ch][2a + py - eh][2b + px - ew] (zero where that is outside).
  const HostTensor& wt = *c.constant(1);
  const int64_t M = wd[0], C = wd[1];
  std::vector<uint16_t> h(static_cast<size_t>(M * kh * kw * 16), 0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t a = 0; a < kh; ++a)
      for (int64_t b = 0; b < kw; ++b)
        for (int64_t q = 0; q < 4; ++q)
          for (int64_t ch = 0; ch < C; ++ch) {
            const int64_t ky = 2 * a + q / 2 - eh, kx = 2 * b + q % 2 - ew;
            if (ky < 0 || ky >= wd[2] || kx < 0 || kx >= wd[3]) continue;
            h[static_cast<size_t>(((m * kh + a) * kw + b) * 16 + q * 4 + ch)] = floatToHalf(
                static_cast<float>(wt.doubleAt(((m * C + ch) * wd[2] + ky) * wd[3] + kx)));
          }
  EDGERT_ASSIGN_OR_RETURN(L->w_half_, env.upload(h.data(), h.size() * 2));
  L->epi_.init(c);
  L->tactic_ = strCat(kS2dStemTactic, rank);
  L->src_half_ = !c.in_nhwc.empty() && c.in_nhwc[0];
  L->n_ = static_cast<unsigned>(x[0]);
  L->c_ = static_cast<unsigned>(x[1]);
  L->h_ = static_cast<unsigned>(x[2]);
  L->w_ = static_cast<unsigned>(x[3]);
  L->hs_ = static_cast<unsigned>(hs);
  L->ws_ = static_cast<unsigned>(ws);
  L->pt_ = static_cast<int>(pt + eh);
  L->pl_ = static_cast<int>(pl + ew);
  L->copy_bytes_ = align256(static_cast<size_t>(x[0] * hs * ws * 16 * 2));
  return finish(std::move(L), c);
}

Result<std::unique_ptr<GpuLayer>> makeConv(const NodeContext& c, const Env& env) {
  const Dims& x = c.dims(0);
  const Dims& w = c.dims(1);
  const Dims& y = c.out[0].dims;
  if (!c.constant(1) || w.size() != 4) return c.unsupported("weights computed at run time");
  if (c.has(2) && !c.constant(2)) return c.unsupported("bias computed at run time");
  const auto pads = c.attrs->getInts("pads", {0, 0, 0, 0}).value();
  const std::string ap = c.attrs->getString("auto_pad", "NOTSET").value();
  if (ap != "NOTSET" && ap != "VALID") return c.unsupported("auto_pad ", ap);
  EDGERT_ASSIGN_OR_RETURN(
      ops::Geometry geo,
      ops::forwardGeometry(c, Dims(x.begin() + 2, x.end()), Dims(w.begin() + 2, w.end()), false));
  const int64_t group = c.attrs->getInt("group", 1).value();
  if (c.tactic.rfind(kStemTacticPrefix, 0) == 0) {
    auto stem = makeStemConv(c, env, geo);
    if (stem.ok() || c.strict_tactic) return stem;
  }
  if (c.tactic.rfind(kS2dStemTactic, 0) == 0) {
    auto stem = makeS2dStem(c, env, geo);
    if (stem.ok() || c.strict_tactic) return stem;
  }
  if (c.tactic.rfind(kGraphTactic, 0) == 0) {
    // A cuDNN without that configuration (another version than the build's) falls back.
    auto graph = makeGraphConv(c, env, geo);
    if (graph.ok() || c.strict_tactic) return graph;
  }
  // Our kernel pads asymmetrically too (the output size says where the padding ends). Tactic
  // timing asks for each candidate strictly: one that does not apply is refused here, before
  // any weights are converted and uploaded.
  const bool depthwise = group == x[1] && group == y[1] && w[1] == 1;
  if (c.strict_tactic && depthwise != (c.tactic == "nhwc16-depthwise"))
    return c.unsupported(depthwise ? "a depthwise convolution" : "not a depthwise convolution");
  if (depthwise) return makeDepthwise(c, env, geo);
  // Our implicit GEMM pads asymmetrically too.
  if (const MmaConvTactic t = parseMmaConvTactic(c.tactic); t.splits) {
    auto mma = makeMmaConv(c, env, geo, t);
    if (mma.ok() || c.strict_tactic) return mma;
  }
  if (const TmaConvTactic t = parseTmaConvTactic(c.tactic); t.bn) {
    auto tma = makeTmaConv(c, env, geo, t);
    if (tma.ok() || c.strict_tactic) return tma;
  }
  if (pads.size() == 4 && (pads[0] != pads[2] || pads[1] != pads[3])) {
    // cuDNN's legacy API pads symmetrically; its graph API takes begin and end pads. Untimed
    // (or a cached tactic that does not apply): the first graph configuration that builds.
    if (c.strict_tactic) return c.unsupported("asymmetric pads (cuDNN's legacy API)");
    Status why = Status::Ok();
    for (int rank = 0; rank < kGraphConvConfigs; ++rank) {
      auto graph = makeGraphConv(c, env, geo, rank);
      if (graph.ok()) return graph;
      if (why.ok()) why = graph.status();
    }
    return why;
  }
  if (c.tactic == "nhwc16-pointwise") {
    if (is1x1(c)) {
      auto pw = makePointwise(c, env);
      if (pw.ok() || c.strict_tactic) return pw;
    } else if (c.strict_tactic) {
      return c.unsupported("not a 1x1 convolution");
    }
  }
  if (c.tactic == "cublaslt-nhwc16-1x1") {
    if (is1x1(c)) return makeGemmConv(c, env);
    if (c.strict_tactic) return c.unsupported("not a 1x1 convolution");
  }
  const int pad[2] = {static_cast<int>(geo.pb[1]), static_cast<int>(geo.pb[2])};
  const int str[2] = {static_cast<int>(geo.s[1]), static_cast<int>(geo.s[2])};
  const int dil[2] = {static_cast<int>(geo.d[1]), static_cast<int>(geo.d[2])};
  auto L = std::make_unique<ConvLayer>();
  const Cudnn* dnn = env.dnn;
  L->dnn_ = dnn;
  // "cudnn-nhwc16-algo<A>-n<P>": the batch in parts of P images.
  int64_t part = x[0];
  constexpr size_t kAlgoPrefix = 17;  // strlen("cudnn-nhwc16-algo"); "-nhwc16" is not a part
  if (const size_t at = c.tactic.find("-n", kAlgoPrefix);
      c.tactic.rfind("cudnn-nhwc16-algo", 0) == 0 && at != std::string_view::npos) {
    part = std::atoll(std::string(c.tactic.substr(at + 2)).c_str());
    if (part <= 0 || x[0] % part) return c.unsupported("batch ", x[0], " not in parts of ", part);
  }
  L->calls_ = x[0] / part;
  L->x_part_ = static_cast<size_t>(part * x[1] * x[2] * x[3] * 2);
  L->y_part_ = static_cast<size_t>(part * y[1] * y[2] * y[3] * 2);
  EDGERT_RETURN_IF_ERROR(dnn->check(dnn->cudnnCreateTensorDescriptor(&L->x_), "descriptor"));
  EDGERT_RETURN_IF_ERROR(dnn->check(dnn->cudnnCreateTensorDescriptor(&L->y_), "descriptor"));
  EDGERT_RETURN_IF_ERROR(dnn->check(dnn->cudnnCreateFilterDescriptor(&L->w_), "descriptor"));
  EDGERT_RETURN_IF_ERROR(
      dnn->check(dnn->cudnnCreateConvolutionDescriptor(&L->conv_), "descriptor"));
  auto i32 = [](int64_t v) { return static_cast<int>(v); };
  EDGERT_RETURN_IF_ERROR(
      dnn->check(dnn->cudnnSetTensor4dDescriptor(L->x_, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF,
                                                 i32(part), i32(x[1]), i32(x[2]), i32(x[3])),
                 "cudnnSetTensor4dDescriptor (input)"));
  EDGERT_RETURN_IF_ERROR(
      dnn->check(dnn->cudnnSetTensor4dDescriptor(L->y_, CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF,
                                                 i32(part), i32(y[1]), i32(y[2]), i32(y[3])),
                 "cudnnSetTensor4dDescriptor (output)"));
  const int wd[4] = {i32(w[0]), i32(w[1]), i32(w[2]), i32(w[3])};
  EDGERT_RETURN_IF_ERROR(
      dnn->check(dnn->cudnnSetFilterNdDescriptor(L->w_, CUDNN_DATA_HALF, CUDNN_TENSOR_NHWC, 4, wd),
                 "cudnnSetFilterNdDescriptor"));
  cudnnConvolutionFwdAlgoPerf_t perf[16];
  int got = 0;
  // FP32 accumulation on tensor cores first; FP16 accumulation only if cuDNN has nothing else.
  const struct {
    cudnnDataType_t compute;
    cudnnMathType_t math;
    const char* name;
  } kConfigs[] = {{CUDNN_DATA_FLOAT, CUDNN_TENSOR_OP_MATH, "acc32"},
                  {CUDNN_DATA_FLOAT, CUDNN_DEFAULT_MATH, "acc32-default"},
                  {CUDNN_DATA_HALF, CUDNN_TENSOR_OP_MATH, "acc16"}};
  // The builder's timed choice, "cudnn-nhwc16-algo<N>", when this cuDNN offers it.
  int forced = -1;
  if (c.tactic.rfind("cudnn-nhwc16-algo", 0) == 0)
    forced = std::atoi(std::string(c.tactic.substr(17)).c_str());
  int chosen = -1;
  const char* config = "";
  for (const auto& cfg : kConfigs) {
    EDGERT_RETURN_IF_ERROR(
        dnn->check(dnn->cudnnSetConvolutionNdDescriptor(L->conv_, 2, pad, str, dil,
                                                        CUDNN_CROSS_CORRELATION, cfg.compute),
                   "cudnnSetConvolutionNdDescriptor"));
    EDGERT_RETURN_IF_ERROR(
        dnn->check(dnn->cudnnSetConvolutionGroupCount(L->conv_, static_cast<int>(group)),
                   "cudnnSetConvolutionGroupCount"));
    EDGERT_RETURN_IF_ERROR(
        dnn->check(dnn->cudnnSetConvolutionMathType(L->conv_, cfg.math), "math type"));
    EDGERT_RETURN_IF_ERROR(
        dnn->check(dnn->cudnnGetConvolutionForwardAlgorithm_v7(env.dnn_handle, L->x_, L->w_,
                                                               L->conv_, L->y_, 16, &got, perf),
                   "cudnnGetConvolutionForwardAlgorithm_v7"));
    const auto usable = [&](int i) {
      return perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].memory <= (size_t{256} << 20);
    };
    for (int i = 0; i < got && chosen < 0 && forced >= 0; ++i)
      if (usable(i) && perf[i].algo == forced) chosen = i;
    if (forced >= 0 && chosen < 0 && c.strict_tactic)
      return c.unsupported("cuDNN algorithm ", forced, " is not available for this convolution");
    for (int i = 0; i < got && chosen < 0; ++i)
      if (usable(i)) chosen = i;
    if (chosen >= 0) {
      config = cfg.name;
      break;
    }
  }
  if (chosen < 0) return c.unsupported("cuDNN has no NHWC fp16 algorithm for this convolution");
  L->algo_ = perf[chosen].algo;
  L->ws_ = perf[chosen].memory;
  EDGERT_ASSIGN_OR_RETURN(L->w_half_, uploadFilterNhwc(env, *c.constant(1), w));
  L->epi_.init(c);
  L->tactic_ = std::string(config) == "acc32"
                   ? strCat("cudnn-nhwc16-algo", static_cast<int>(L->algo_))
                   : strCat("cudnn-nhwc16-", config, "-algo", static_cast<int>(L->algo_));
  if (L->calls_ > 1) L->tactic_ += strCat("-n", part);
  return finish(std::move(L), c);
}

// ---- Pools and resize -------------------------------------------------------------------

template <class P>
class KernelLayer final : public HalfLayer {
 public:
  KernelLayer(const char* kernel, P p, long long channels, long long threads)
      : kernel_(kernel), p_(p), c_(channels), threads_(threads) {}
  const char* tactic() const override { return "nhwc16"; }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    CUdeviceptr y = g.out[0], x = g.in[0];
    P p = p_;
    long long ch = c_;
    void* args[] = {&y, &x, &p, &ch};
    return launch(env, kernel_, threads_, args);
  }

 private:
  const char* kernel_;
  P p_;
  long long c_, threads_;
};

Result<std::unique_ptr<GpuLayer>> makePool(const NodeContext& c, const Env&) {
  if (c.out.size() != 1) return c.unsupported("MaxPool indices");
  const Dims& x = c.dims(0);
  if (c.attrs->getInts("kernel_shape", {}).value().size() != 2)
    return c.unsupported("not a 2-D pool");
  EDGERT_ASSIGN_OR_RETURN(EdgertPool p, poolParams(c));
  p.nc = x[0];  // channels are innermost here
  const bool small = volume(x) < (int64_t{1} << 31);
  const int lanes = !small ? 1 : x[1] % 8 == 0 ? 8 : x[1] % 2 == 0 ? 2 : 1;
  const char* kernel = lanes == 8   ? "edgert_pool2d_nhwc_h8"
                       : lanes == 2 ? "edgert_pool2d_nhwc_h2"
                                    : "edgert_pool2d_nhwc_h";
  return finish(std::make_unique<KernelLayer<EdgertPool>>(kernel, p, n64(x[1]),
                                                          p.nc * p.oh * p.ow * x[1] / lanes),
                c);
}

// Two stages: blocks over (32 channels, image, share of the pixels) write float partials to
// scratch, then one thread per output combines them; enough blocks for large maps at batch 1.
class GlobalPoolLayer final : public HalfLayer {
 public:
  GlobalPoolLayer(long long n, long long hw, long long c, int is_max)
      : n_(n), hw_(hw), c_(c), is_max_(is_max), splits_(std::clamp<long long>(hw / 256, 1, 64)) {}
  size_t scratchBytes() const override { return static_cast<size_t>(n_ * splits_ * c_) * 4; }
  const char* tactic() const override { return "nhwc16"; }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    CUdeviceptr y = g.out[0], x = g.in[0], part = g.scratch;
    long long hw = hw_, c = c_, n = n_, splits = splits_;
    int mx = is_max_;
    void* a1[] = {&part, &x, &hw, &c, &mx};
    const bool h8 = c_ % 8 == 0;  // eight channels per thread, 16-byte loads
    EDGERT_RETURN_IF_ERROR(
        launchGrid(env, h8 ? "edgert_global_pool_nhwc_part_h8" : "edgert_global_pool_nhwc_part",
                   static_cast<unsigned>(h8 ? (c_ + 255) / 256 : (c_ + 31) / 32),
                   static_cast<unsigned>(n_), 32, 8, a1, static_cast<unsigned>(splits_)));
    void* a2[] = {&y, &part, &n, &splits, &c, &hw, &mx};
    return launch(env, "edgert_global_pool_nhwc_final", n_ * c_, a2);
  }

 private:
  long long n_, hw_, c_;
  int is_max_;
  long long splits_;
};

Result<std::unique_ptr<GpuLayer>> makeGlobalPool(const NodeContext& c, const Env&) {
  const Dims& x = c.dims(0);
  if (x[0] > 65535) return c.unsupported("batch above 65535");
  return finish(std::make_unique<GlobalPoolLayer>(n64(x[0]), n64(x[2] * x[3]), n64(x[1]),
                                                  c.op == "GlobalMaxPool"),
                c);
}

Result<std::unique_ptr<GpuLayer>> makeResize(const NodeContext& c, const Env&) {
  const Dims& x = c.dims(0);
  const Dims& out = c.out[0].dims;
  if (out[0] != x[0] || out[1] != x[1]) return c.unsupported("resizing N or C");
  EDGERT_ASSIGN_OR_RETURN(EdgertResize p, resizeParams(c));
  p.nc = x[0];  // channels are innermost here
  const bool h8 =
      x[1] % 8 == 0 && volume(x) < (int64_t{1} << 31) && volume(out) < (int64_t{1} << 31);
  return finish(std::make_unique<KernelLayer<EdgertResize>>(
                    h8 ? "edgert_resize2d_nhwc_h8" : "edgert_resize2d_nhwc_h", p, n64(x[1]),
                    p.nc * p.oh * p.ow * x[1] / (h8 ? 8 : 1)),
                c);
}

// ---- Elementwise -----------------------------------------------------------------------------

class BinaryLayer final : public HalfLayer {
 public:
  BinaryLayer(EdgertBroadcast p, int op, int half_mask) : p_(p), op_(op), mask_(half_mask) {}
  const char* tactic() const override { return "nhwc16"; }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    CUdeviceptr y = g.out[0], a = g.in[0], b = g.in[1];
    EdgertBroadcast p = p_;
    int op = op_, mask = mask_;
    void* args[] = {&y, &a, &b, &p, &op, &mask};
    return launch(env, "edgert_binary_h", p.total, args);
  }

 private:
  EdgertBroadcast p_;
  int op_, mask_;
};

// x op s with s per (image, channel) or per channel ([N|1, C, 1, 1] or [C, 1, 1]): the
// squeeze-and-excitation gate and per-channel affines, two channels per thread.
class ChannelOpLayer final : public HalfLayer {
 public:
  ChannelOpLayer(size_t x_index, long long n2, long long hw, long long c, long long s_stride_n,
                 int s_half, int op)
      : x_index_(x_index), n2_(n2), hw_(hw), c_(c), sn_(s_stride_n), s_half_(s_half), op_(op) {}
  const char* tactic() const override { return "nhwc16-channel"; }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    CUdeviceptr y = g.out[0], x = g.in[x_index_], sv = g.in[1 - x_index_];
    long long n2 = n2_, hw = hw_, c = c_, sn = sn_;
    int sh = s_half_, op = op_, x_first = x_index_ == 0;
    if (c_ % 8 == 0) {
      long long n8 = n2_ / 4;
      void* a8[] = {&y, &x, &sv, &n8, &hw, &c, &sn, &sh, &op, &x_first};
      return launch(env, "edgert_channel_op_nhwc_h8", n8, a8);
    }
    void* args[] = {&y, &x, &sv, &n2, &hw, &c, &sn, &sh, &op, &x_first};
    return launch(env, "edgert_channel_op_nhwc_h2", n2_, args);
  }

 private:
  size_t x_index_;
  long long n2_, hw_, c_, sn_;
  int s_half_, op_;
};

// The ChannelOpLayer form of a binary node, or null.
std::unique_ptr<ChannelOpLayer> channelOp(const NodeContext& c) {
  const Dims& out = c.out[0].dims;
  if (out[1] % 2 || volume(out) >= (int64_t{1} << 31)) return nullptr;
  for (size_t xi = 0; xi < 2; ++xi) {
    const size_t si = 1 - xi;
    if (!halfAct(c, xi) || c.dims(xi) != out || c.rank(si) > 4) continue;
    Dims d(4 - c.dims(si).size(), 1);
    d.insert(d.end(), c.dims(si).begin(), c.dims(si).end());
    if (d[1] != out[1] || d[2] != 1 || d[3] != 1 || (d[0] != 1 && d[0] != out[0])) continue;
    return std::make_unique<ChannelOpLayer>(xi, n64(volume(out) / 2), n64(out[2] * out[3]),
                                            n64(out[1]), d[0] > 1 ? n64(out[1]) : 0,
                                            halfAct(c, si) ? 1 : 0, *binaryKernelOp(c));
  }
  return nullptr;
}

// Any broadcast: each operand's strides in its own storage (NHWC fp16 activations, or NCHW
// float32 constants and lower-rank tensors), walked in the output's physical order.
Result<std::unique_ptr<GpuLayer>> makeBinary(const NodeContext& c, const Env&) {
  if (auto ch = channelOp(c)) return finish(std::move(ch), c);
  const Dims& out = c.out[0].dims;
  EdgertBroadcast p{};
  p.rank = 4;
  p.total = n64(volume(out));
  const Dims pout = physical(out);
  for (int d = 0; d < 4; ++d) p.dims[d] = pout[d];
  int mask = 0;
  for (size_t k = 0; k < 2; ++k) {
    if (c.rank(k) > 4) return c.unsupported("operand rank above 4");
    Dims d(4 - c.dims(k).size(), 1);
    d.insert(d.end(), c.dims(k).begin(), c.dims(k).end());
    const bool half = halfAct(c, k);
    if (half) mask |= 1 << k;
    std::vector<int64_t> s = half ? nhwcStrides(d) : ops::stridesOf(d);
    for (int i = 0; i < 4; ++i)
      if (d[i] == 1) s[i] = 0;
    const std::vector<int64_t> ps = physical(s);
    for (int i = 0; i < 4; ++i) (k == 0 ? p.a_strides : p.b_strides)[i] = ps[i];
  }
  return finish(std::make_unique<BinaryLayer>(p, *binaryKernelOp(c), mask), c);
}

class FusedLayer final : public HalfLayer {
 public:
  explicit FusedLayer(const EdgertFused& p) : p_(p) {}
  const char* tactic() const override { return "nhwc16-fused"; }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    EdgertFused p = p_;
    for (int k = 0; k < p.n_inputs; ++k) p.in[k] = g.in[k];
    CUdeviceptr y = g.out[0];
    void* args[] = {&p, &y};
    return launch(env, "edgert_fused_h", p.total, args);
  }

 private:
  EdgertFused p_;
};

// Re-indexes a program's inputs for the physical order: full-shape inputs must be NHWC
// activations; an input broadcast along one logical axis reads its 1-D storage with that
// axis's physical stride.
Status toPhysical(const NodeContext& c, EdgertFused& p) {
  const Dims& out = c.out[0].dims;
  const std::vector<int64_t> os = nhwcStrides(out);
  for (int k = 0; k < p.n_inputs; ++k) {
    const bool half = halfAct(c, static_cast<size_t>(k));
    if (half) p.half_mask |= 1 << k;
    if (p.mode[k] == kFusedFull && !half) return c.unsupported("a full-size constant operand");
    if (p.mode[k] != kFusedAxis) continue;
    const Dims& d = c.dims(static_cast<size_t>(k));
    const int off = 4 - static_cast<int>(d.size());
    int axis = -1;
    for (size_t i = 0; i < d.size(); ++i)
      if (d[i] != 1) axis = off + static_cast<int>(i);
    if (axis < 0) return c.unsupported("an unexpected broadcast");
    p.inner[k] = os[axis];
  }
  return Status::Ok();
}

Result<std::unique_ptr<GpuLayer>> makeFused(const NodeContext& c, const Env&) {
  EDGERT_ASSIGN_OR_RETURN(EdgertFused p, ops::fusedProgram(c));
  EDGERT_RETURN_IF_ERROR(toPhysical(c, p));
  return finish(std::make_unique<FusedLayer>(p), c);
}

// A single unary op as a one-instruction program.
Result<std::unique_ptr<GpuLayer>> makeUnary(const NodeContext& c, const Env&) {
  const UnaryKernelOp u = *unaryKernelOp(c);
  EdgertFused p{};
  p.total = n64(volume(c.out[0].dims));
  p.n_code = 1;
  p.n_inputs = 1;
  p.code[0] = 0;
  p.code[1] = u.code;
  p.code[2] = 100;
  p.code[3] = 0;
  p.imm[0] = u.a;
  p.imm[1] = u.b;
  p.mode[0] = kFusedFull;
  p.half_mask = 1;
  return finish(std::make_unique<FusedLayer>(p), c);
}

// NCHW float32 <-> NHWC fp16: a transpose of [C][HW] per image with a type change, in
// shared-memory tiles; an image (C <= 4) to NHWC four pixels per thread instead. The
// one-thread-per-element kernels remain for what those do not fit (and for an input bound
// at an address the vector loads cannot take).
class ConversionLayer final : public GpuLayer {
 public:
  // `half_source`: the NCHW input is fp16 (an input binding built with input_format "fp16",
  // read by its Cast to float32), so going to NHWC fp16 is a transpose of 2-byte elements.
  ConversionLayer(const Dims& d, bool to_half, bool half_source = false)
      : n_(n64(d[0])),
        c_(n64(d[1])),
        hw_(n64(d[2] * d[3])),
        to_half_(to_half),
        half_source_(half_source && to_half) {
    image_ = to_half && c_ <= 4 && hw_ % 4 == 0;
    EdgertTile& t = tile_.t;
    t.batch = n_;
    t.rows = to_half ? c_ : hw_;
    t.cols = to_half ? hw_ : c_;
    t.x_row = t.cols;
    t.y_row = t.rows;
    t.x_batch = t.y_batch = c_ * hw_;
    // One pixel per plane (after a global pool): both layouts are the same order, and a tile
    // transpose would run 1-row tiles (ResNet-50's [128, 2048, 1, 1] took 0.025 ms on an
    // H100); the elementwise kernels are a plain conversion there.
    const bool plain = hw_ == 1 && !half_source_;
    tile_.kernel = !tileGridFits(t) || plain ? nullptr
                   : half_source_            ? "edgert_tile_transpose_b2"
                   : to_half                 ? "edgert_tile_f32_to_f16"
                                             : "edgert_tile_f16_to_f32";
  }
  // An fp16 source has no untiled kernel.
  bool usable() const { return !half_source_ || tile_.kernel || image_; }
  const char* tactic() const override {
    return half_source_ ? "nhwc16-from-f16" : to_half_ ? "to-nhwc16" : "to-nchw32";
  }
  bool halfIn(size_t) const override { return !to_half_; }
  bool halfOut(size_t) const override { return to_half_; }
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    CUdeviceptr y = g.out[0], x = g.in[0];
    // The image kernel loads four pixels of a plane at once: 16 bytes of float, 8 of fp16.
    if (image_ && x % (half_source_ ? 8 : 16) == 0 && y % 8 == 0) {
      long long n = n_, hw = hw_;
      int c = static_cast<int>(c_);
      void* args[] = {&y, &x, &n, &c, &hw};
      return launch(env, half_source_ ? "edgert_image16_to_nhwc_f16" : "edgert_image_to_nhwc_f16",
                    n_ * (hw_ / 4), args);
    }
    if (tile_.kernel) return launchTiled(env, tile_, y, x);
    if (half_source_) return Status(StatusCode::kInternal, "fp16 input: misaligned buffers");
    long long n = n_, c = c_, hw = hw_;
    void* args[] = {&y, &x, &n, &c, &hw};
    return launch(env, to_half_ ? "edgert_nchw_f32_to_nhwc_f16" : "edgert_nhwc_f16_to_nchw_f32",
                  n_ * c_ * hw_, args);
  }

 private:
  long long n_, c_, hw_;
  bool to_half_, half_source_, image_ = false;
  TiledTranspose tile_;
};

// The Cast of an fp16 NCHW input binding to float32, as the NHWC fp16 its readers take.
Result<std::unique_ptr<GpuLayer>> makeHalfInput(const NodeContext& c, const Env&) {
  auto layer = std::make_unique<ConversionLayer>(c.dims(0), true, true);
  if (!layer->usable()) return c.unsupported("too many channels for one transpose grid");
  return std::unique_ptr<GpuLayer>(std::move(layer));
}

}  // namespace

std::unique_ptr<GpuLayer> makeLayoutConversion(const Dims& dims, bool to_half, DataType dtype) {
  if (nhwcElementSize(dtype) == 1) return makeInt8LayoutConversion(dims, to_half);
  return std::make_unique<ConversionLayer>(dims, to_half);
}

GpuFactory findHalfNhwcOp(const NodeContext& c) {
  if (GpuFactory f = findInt8NhwcOp(c)) return f;
  if (!outputsHalfable(c)) return nullptr;
  if (c.op == "Cast" && c.has(0) && !c.constant(0) && c.rank(0) == 4 &&
      c.dtype(0) == DataType::kFloat16)
    return makeHalfInput;
  if (c.op == "Conv") return halfAct(c, 0) ? makeConv : nullptr;
  if (c.op == "Concat") return makeConcat;
  if (c.op == "Split") return halfAct(c, 0) ? makeSplit : nullptr;
  if (c.op == "Slice") return halfAct(c, 0) ? makeSlice : nullptr;
  if (c.op == "Pad") return halfAct(c, 0) ? makePad : nullptr;
  if (c.op == "MaxPool" || c.op == "AveragePool") return halfAct(c, 0) ? makePool : nullptr;
  if (c.op == "GlobalAveragePool" || c.op == "GlobalMaxPool")
    return halfAct(c, 0) ? makeGlobalPool : nullptr;
  if (c.op == "Resize") return halfAct(c, 0) ? makeResize : nullptr;
  for (const ValueInfo& v : c.in)
    if (v.present && v.dtype != DataType::kFloat32) return nullptr;
  if (c.op == "EdgertElementwise") return makeFused;
  if (unaryKernelOp(c)) return halfAct(c, 0) ? makeUnary : nullptr;
  if (binaryKernelOp(c) && c.numInputs() == 2) return makeBinary;
  return nullptr;
}

}  // namespace edgert::cuda
