// Conv: im2col + SGEMM per group (OpenBLAS when present), direct loops for depthwise.
#include "../cpu/sgemm.h"
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

// 2-D depthwise as one pass per tap over whole output rows: no bounds test inside the
// row, so the compiler vectorises it (stride 1), ~10x the per-pixel tap loop.
void depthwise2d(const ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  const Geometry& g = p.g;
  const int64_t H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2];
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t ch = 0; ch < p.C; ++ch) {
      const float* xc = x + (n * p.C + ch) * H * W;
      const float* wc = w + ch * g.k[1] * g.k[2];
      float* yc = y + (n * p.C + ch) * OH * OW;
      std::fill(yc, yc + OH * OW, bias ? bias[ch] : 0.f);
      for (int64_t kh = 0; kh < g.k[1]; ++kh) {
        const int64_t offh = kh * g.d[1] - g.pb[1];
        const int64_t oh0 = firstValid(offh, g.s[1], 0);
        const int64_t oh1 = std::min(OH, firstValid(offh, g.s[1], H));
        for (int64_t kw = 0; kw < g.k[2]; ++kw) {
          const float wv = wc[kh * g.k[2] + kw];
          const int64_t offw = kw * g.d[2] - g.pb[2];
          const int64_t ow0 = firstValid(offw, g.s[2], 0);
          const int64_t ow1 = std::min(OW, firstValid(offw, g.s[2], W));
          for (int64_t oh = oh0; oh < oh1; ++oh) {
            const float* xr = xc + (oh * g.s[1] + offh) * W + offw;
            float* yr = yc + oh * OW;
            if (g.s[2] == 1) {
              for (int64_t ow = ow0; ow < ow1; ++ow) yr[ow] += wv * xr[ow];
            } else {
              for (int64_t ow = ow0; ow < ow1; ++ow) yr[ow] += wv * xr[ow * g.s[2]];
            }
          }
        }
      }
    }
}

void depthwise(const ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  const Geometry& g = p.g;
  if (g.in[0] == 1 && g.k[0] == 1 && g.out[0] == 1) return depthwise2d(p, x, w, bias, y);
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

// Residual add and activation after bias (bias is already in y).
void applyEpilogue(const ConvParams& p, const KernelArgs& a, float* y, bool) {
  if (p.epi.act == Act::kNone && !p.epi.residual) return;
  const int64_t n = a.out[0].numel();
  const float* z = p.epi.residual && a.in.size() > 3 ? a.in[3].as<float>() : nullptr;
  for (int64_t i = 0; i < n; ++i) y[i] = applyAct(p.epi, y[i] + (z ? z[i] : 0.f));
}

Status runConv(const ConvParams& p, const KernelArgs& a) {
  const float* x = a.in[0].as<float>();
  const float* w = a.in[1].as<float>();
  const float* bias = a.in.size() > 2 ? a.in[2].as<float>() : nullptr;
  float* y = a.out[0].as<float>();
  if (p.depthwise) {
    depthwise(p, x, w, bias, y);
    applyEpilogue(p, a, y, false);
    return Status::Ok();
  }
  const Geometry& g = p.g;
  const int64_t cg = p.C / p.G, mg = p.M / p.G, kdim = cg * g.kVol(), ov = g.outVol();
  float* cols = static_cast<float*>(a.scratch);
  for (int64_t n = 0; n < p.N; ++n) {
    for (int64_t grp = 0; grp < p.G; ++grp) {
      const float* xg = x + (n * p.C + grp * cg) * g.inVol();
      const float* b = xg;
      if (!p.pointwise) {
        im2col3d(g, cg, xg, cols);
        b = cols;
      }
      float* yg = y + (n * p.M + grp * mg) * ov;
      cpu::sgemm(false, false, mg, ov, kdim, 1.f, w + grp * mg * kdim, kdim, b, ov, 0.f, yg, ov);
    }
    if (bias) {
      for (int64_t m = 0; m < p.M; ++m) {
        float* yr = y + (n * p.M + m) * ov;
        for (int64_t o = 0; o < ov; ++o) yr[o] += bias[m];
      }
    }
  }
  applyEpilogue(p, a, y, false);
  return Status::Ok();
}

Result<std::unique_ptr<Kernel>> createConv(const NodeContext& c) {
  ConvParams p;
  EDGERT_TRY_ATTR(p, parseConv(c));
  const size_t scratch =
      (p.pointwise || p.depthwise)
          ? 0
          : sizeof(float) * static_cast<size_t>(p.C / p.G * p.g.kVol() * p.g.outVol());
  return makeKernel(std::move(p), &runConv, scratch);
}

}  // namespace

// Input 3 is the fused residual (builder fusion pass only; ONNX Conv has 2-3 inputs).
extern const OpDef kOpConv = {"Conv", 2, 4, 1, 1, 0, inferConv, createConv};

}  // namespace edgert::ops
