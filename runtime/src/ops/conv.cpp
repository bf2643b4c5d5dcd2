// Conv: on AVX-512 CPUs one packed GEMM with the im2col in its packing (cpu/conv_gemm.h),
// elsewhere im2col + SGEMM per group (OpenBLAS when present); direct loops for depthwise.
#include <memory>

#include "../cpu/conv_gemm.h"
#include "../cpu/depthwise.h"
#include "../cpu/sgemm.h"
#include "../cpu/thread_pool.h"
#include "conv_common.h"

namespace edgert::ops {
namespace {

Status inferConv(NodeContext& c) {
  for (size_t i = 0; i < c.numInputs(); ++i)
    if (c.has(i) && c.dtype(i) != DataType::kFloat32)
      return c.unsupported("the CPU backend runs Conv in float32; input ", i, " is ",
                           dataTypeName(c.dtype(i)));
  ConvParams p;
  EDGERT_TRY_ATTR(p, parseConv(c));
  Dims out = {p.N, p.M};
  for (int i = 3 - p.g.nsp; i < 3; ++i) out.push_back(p.g.out[i]);
  if (c.has(3) && c.dims(3) != out)
    return c.invalid("fused residual ", dimsToString(c.dims(3)), " does not match the output ",
                     dimsToString(out));
  c.setOutput(0, DataType::kFloat32, out);
  return Status::Ok();
}

bool planar(const Geometry& g) {
  return g.in[0] == 1 && g.k[0] == 1 && g.out[0] == 1;
}

cpu::DepthwiseShape depthwiseShape(const ConvParams& p) {
  const Geometry& g = p.g;
  cpu::DepthwiseShape s;
  s.channels = p.C;
  s.H = g.in[1], s.W = g.in[2], s.OH = g.out[1], s.OW = g.out[2];
  s.kh = g.k[1], s.kw = g.k[2], s.sh = g.s[1], s.sw = g.s[2], s.dh = g.d[1], s.dw = g.d[2];
  s.pad_top = g.pb[1], s.pad_left = g.pb[2];
  return s;
}

void depthwise(const ConvParams& p, const float* x, const float* w, const float* bias, float* y,
               void* scratch, bool with_act) {
  const Geometry& g = p.g;
  if (planar(g)) {
    cpu::DepthwiseShape s = depthwiseShape(p);
    if (with_act) {
      s.act = p.epi.act == Act::kRelu ? cpu::DepthwiseShape::Act::kRelu
                                      : cpu::DepthwiseShape::Act::kClip;
      s.lo = p.epi.alpha, s.hi = p.epi.beta;
    }
    for (int64_t n = 0; n < p.N; ++n)
      cpu::depthwise2d(s, x + n * p.C * g.inVol(), w, bias, y + n * p.C * g.outVol(),
                       static_cast<float*>(scratch));
    return;
  }
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t ch = 0; ch < p.C; ++ch) {
      const float* xc = x + (n * p.C + ch) * g.inVol();
      const float* wc = w + ch * g.kVol();
      float* yc = y + (n * p.C + ch) * g.outVol();
      const float b = bias ? bias[ch] : 0.f;
      for (int64_t od = 0; od < g.out[0]; ++od)
        for (int64_t oh = 0; oh < g.out[1]; ++oh)
          for (int64_t ow = 0; ow < g.out[2]; ++ow) {
            float acc = b;
            for (int64_t kd = 0; kd < g.k[0]; ++kd) {
              const int64_t id = od * g.s[0] - g.pb[0] + kd * g.d[0];
              if (id < 0 || id >= g.in[0]) continue;
              for (int64_t kh = 0; kh < g.k[1]; ++kh) {
                const int64_t ih = oh * g.s[1] - g.pb[1] + kh * g.d[1];
                if (ih < 0 || ih >= g.in[1]) continue;
                const float* xrow = xc + (id * g.in[1] + ih) * g.in[2];
                const float* wrow = wc + (kd * g.k[1] + kh) * g.k[2];
                for (int64_t kw = 0; kw < g.k[2]; ++kw) {
                  const int64_t iw = ow * g.s[2] - g.pb[2] + kw * g.d[2];
                  if (iw >= 0 && iw < g.in[2]) acc += xrow[iw] * wrow[kw];
                }
              }
            }
            yc[(od * g.out[1] + oh) * g.out[2] + ow] = acc;
          }
    }
}

// y[i] = act(y[i] + bias + z[i]) over [b, e); the common activations as loops of their own,
// which the compiler vectorises (the general switch per element it does not).
void epilogueRange(const Epilogue& epi, float bias, float* y, const float* z, int64_t b,
                   int64_t e) {
  if (bias != 0.f)
    for (int64_t i = b; i < e; ++i) y[i] += bias;
  if (z)
    for (int64_t i = b; i < e; ++i) y[i] += z[i];
  switch (epi.act) {
    case Act::kNone:
      return;
    case Act::kRelu:
      for (int64_t i = b; i < e; ++i) y[i] = y[i] > 0.f ? y[i] : 0.f;
      return;
    case Act::kClip:
      for (int64_t i = b; i < e; ++i) y[i] = std::min(epi.beta, std::max(epi.alpha, y[i]));
      return;
    default:
      for (int64_t i = b; i < e; ++i) y[i] = applyAct(epi, y[i]);
  }
}

// Bias (unless already in y), residual add and activation, one pass over the output, its
// channels split over the CPU threads.
void finishOutput(const ConvParams& p, const KernelArgs& a, float* y, const float* bias) {
  if (!bias && p.epi.act == Act::kNone && !p.epi.residual) return;
  const float* z = p.epi.residual && a.in.size() > 3 ? a.in[3].as<float>() : nullptr;
  const int64_t ov = p.g.outVol();
  cpu::parallelFor(p.N * p.M, std::max<int64_t>(1, 16384 / std::max<int64_t>(ov, 1)),
                   [&](int, int64_t r0, int64_t r1) {
                     for (int64_t r = r0; r < r1; ++r)
                       epilogueRange(p.epi, bias ? bias[r % p.M] : 0.f, y + r * ov,
                                     z ? z + r * ov : nullptr, 0, ov);
                   });
}

// Output rows per im2col band: as many as keep the band's columns near 2 MiB, a core's L2 here (0:
// not a 2-D convolution, one im2col of everything).
int64_t im2colTileRows(const ConvParams& p) {
  const Geometry& g = p.g;
  if (!planar(g) || p.pointwise || p.depthwise) return 0;
  const int64_t per_row = p.C / p.G * g.kVol() * g.out[2] * static_cast<int64_t>(sizeof(float));
  return std::clamp<int64_t>((2048 << 10) / std::max<int64_t>(per_row, 1), 1, g.out[1]);
}

// im2col of output rows [oh0, oh1) of a 2-D convolution: cols[k][(oh - oh0) * OW + ow].
void im2colRows(const Geometry& g, int64_t channels, const float* x, float* cols, int64_t oh0,
                int64_t oh1) {
  const int64_t OW = g.out[2], n = (oh1 - oh0) * OW;
  for (int64_t ch = 0; ch < channels; ++ch) {
    const float* xc = x + ch * g.inVol();
    for (int64_t kh = 0; kh < g.k[1]; ++kh)
      for (int64_t kw = 0; kw < g.k[2]; ++kw) {
        float* dst = cols + ((ch * g.k[1] + kh) * g.k[2] + kw) * n;
        const int64_t base = kw * g.d[2] - g.pb[2];
        const int64_t ow0 = firstValid(base, g.s[2], 0);
        const int64_t ow1 = std::min(OW, firstValid(base, g.s[2], g.in[2]));
        for (int64_t oh = oh0; oh < oh1; ++oh) {
          float* row = dst + (oh - oh0) * OW;
          const int64_t ih = oh * g.s[1] - g.pb[1] + kh * g.d[1];
          if (ih < 0 || ih >= g.in[1] || ow0 >= ow1) {
            std::fill(row, row + OW, 0.f);
            continue;
          }
          const float* src = xc + ih * g.in[2] + base;
          std::fill(row, row + ow0, 0.f);
          if (g.s[2] == 1) {
            std::memcpy(row + ow0, src + ow0, sizeof(float) * (ow1 - ow0));
          } else {
            for (int64_t ow = ow0; ow < ow1; ++ow) row[ow] = src[ow * g.s[2]];
          }
          std::fill(row + ow1, row + OW, 0.f);
        }
      }
  }
}

struct ConvKernel {
  ConvParams p;
  std::unique_ptr<const cpu::ConvGemm> gemm;  // weights packed when the kernel was created
  bool gemm_epilogue = false;                 // bias, residual and activation in its stores
  size_t heldBytes() const { return gemm ? gemm->packedBytes() : 0; }
};

cpu::ConvGemmGeometry gemmGeometry(const ConvParams& p) {
  const Geometry& g = p.g;
  cpu::ConvGemmGeometry s;
  s.channels = p.C / p.G;
  if (p.pointwise) {  // one long row: the packing copies whole runs of pixels
    s.H = s.W = s.OH = s.OW = 1;
    s.W = s.OW = g.outVol();
    return s;
  }
  s.H = g.in[1], s.W = g.in[2], s.OH = g.out[1], s.OW = g.out[2];
  s.kh = g.k[1], s.kw = g.k[2], s.sh = g.s[1], s.sw = g.s[2], s.dh = g.d[1], s.dw = g.d[2];
  s.pad_top = g.pb[1], s.pad_left = g.pb[2];
  return s;
}

Status runPackedConv(const ConvKernel& k, const KernelArgs& a) {
  const ConvParams& p = k.p;
  const float* x = a.in[0].as<float>();
  const float* bias = a.in.size() > 2 ? a.in[2].as<float>() : nullptr;
  float* y = a.out[0].as<float>();
  cpu::ConvGemmEpilogue epi;
  if (k.gemm_epilogue) {
    epi.bias = bias;
    epi.residual = p.epi.residual && a.in.size() > 3 ? a.in[3].as<float>() : nullptr;
    epi.act = p.epi.act == Act::kRelu   ? cpu::ConvGemmEpilogue::Act::kRelu
              : p.epi.act == Act::kClip ? cpu::ConvGemmEpilogue::Act::kClip
                                        : cpu::ConvGemmEpilogue::Act::kNone;
    epi.lo = p.epi.alpha, epi.hi = p.epi.beta;
  }
  const int64_t in_img = p.C * p.g.inVol(), out_img = p.M * p.g.outVol();
  for (int64_t n = 0; n < p.N; ++n) {
    cpu::ConvGemmEpilogue e = epi;
    if (e.residual) e.residual += n * out_img;
    k.gemm->run(x + n * in_img, y + n * out_img, e, a.scratch);
  }
  if (!k.gemm_epilogue) finishOutput(p, a, y, bias);
  return Status::Ok();
}

Status runConv(const ConvKernel& k, const KernelArgs& a) {
  if (k.gemm) return runPackedConv(k, a);
  const ConvParams& p = k.p;
  const float* x = a.in[0].as<float>();
  const float* w = a.in[1].as<float>();
  const float* bias = a.in.size() > 2 ? a.in[2].as<float>() : nullptr;
  float* y = a.out[0].as<float>();
  if (p.depthwise) {
    // Relu / Clip in the depthwise kernel's stores where there is no residual to add first.
    const bool fused =
        planar(p.g) && !p.epi.residual && (p.epi.act == Act::kRelu || p.epi.act == Act::kClip);
    depthwise(p, x, w, bias, y, a.scratch, fused);
    if (!fused) finishOutput(p, a, y, nullptr);
    return Status::Ok();
  }
  const Geometry& g = p.g;
  const int64_t cg = p.C / p.G, mg = p.M / p.G, kdim = cg * g.kVol(), ov = g.outVol();
  float* cols = static_cast<float*>(a.scratch);
  const int64_t tile_rows = im2colTileRows(p);
  for (int64_t n = 0; n < p.N; ++n) {
    for (int64_t grp = 0; grp < p.G; ++grp) {
      const float* xg = x + (n * p.C + grp * cg) * g.inVol();
      float* yg = y + (n * p.M + grp * mg) * ov;
      const float* wg = w + grp * mg * kdim;
      if (p.pointwise) {
        cpu::sgemm(false, false, mg, ov, kdim, 1.f, wg, kdim, xg, ov, 0.f, yg, ov);
      } else if (tile_rows > 0) {
        // A band of output rows at a time: its columns stay in cache between im2col and the
        // GEMM (PP-OCRv4's 3x3 layers at 160x160 would otherwise write and read 88 MB).
        for (int64_t oh0 = 0; oh0 < g.out[1]; oh0 += tile_rows) {
          const int64_t oh1 = std::min(g.out[1], oh0 + tile_rows), cols_n = (oh1 - oh0) * g.out[2];
          im2colRows(g, cg, xg, cols, oh0, oh1);
          cpu::sgemm(false, false, mg, cols_n, kdim, 1.f, wg, kdim, cols, cols_n, 0.f,
                     yg + oh0 * g.out[2], ov);
        }
      } else {
        im2col3d(g, cg, xg, cols);
        cpu::sgemm(false, false, mg, ov, kdim, 1.f, wg, kdim, cols, ov, 0.f, yg, ov);
      }
    }
  }
  finishOutput(p, a, y, bias);
  return Status::Ok();
}

Result<std::unique_ptr<Kernel>> createConv(const NodeContext& c) {
  ConvParams p;
  EDGERT_TRY_ATTR(p, parseConv(c));
  const HostTensor* w = c.constant(1);
  if (!p.depthwise && planar(p.g) && w && w->dtype() == DataType::kFloat32 &&
      cpu::ConvGemm::available()) {
    ConvKernel k{p, nullptr, false};
    k.gemm = std::make_unique<const cpu::ConvGemm>(gemmGeometry(p), p.G, p.M / p.G, w->as<float>());
    k.gemm_epilogue = p.epi.act == Act::kNone || p.epi.act == Act::kRelu || p.epi.act == Act::kClip;
    const size_t scratch = k.gemm->scratchBytes();
    return makeKernel(std::move(k), &runConv, scratch);
  }
  const int64_t rows = im2colTileRows(p);
  size_t scratch =
      (p.pointwise || p.depthwise)
          ? 0
          : sizeof(float) * static_cast<size_t>(p.C / p.G * p.g.kVol() *
                                                (rows ? rows * p.g.out[2] : p.g.outVol()));
  if (p.depthwise && planar(p.g))
    scratch = sizeof(float) * static_cast<size_t>(cpu::depthwiseScratchFloats(depthwiseShape(p)));
  return makeKernel(ConvKernel{std::move(p), nullptr, false}, &runConv, scratch);
}

}  // namespace

// Input 3 is the fused residual (builder fusion pass only; ONNX Conv has 2-3 inputs).
extern const OpDef kOpConv = {"Conv", 2, 4, 1, 1, 0, inferConv, createConv};

}  // namespace edgert::ops
