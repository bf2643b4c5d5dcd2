// ConvTranspose: per group, cols = W^T * X (SGEMM), then col2im scatters into the output.
#include "../cpu/sgemm.h"
#include "conv_geometry.h"

namespace edgert::ops {
namespace {

struct ConvTParams {
  Geometry g;  // in = input extents, out = output extents; pb = begin crop of the full output
  int64_t N = 0, C = 0, M = 0, G = 1;
};

Result<ConvTParams> parseConvT(const NodeContext& c) {
  ConvTParams p;
  const Dims& x = c.dims(0);
  const Dims& w = c.dims(1);
  if (x.size() < 3 || x.size() > 5)
    return c.unsupported("input rank ", x.size(), " (3 to 5 supported)");
  if (w.size() != x.size()) return c.invalid("weight rank differs from input rank");
  EDGERT_TRY_ATTR(p.G, attrInt(c, "group", 1));
  p.N = x[0];
  p.C = x[1];
  if (p.G < 1 || w[0] != p.C || p.C % p.G != 0)
    return c.invalid("weight ", dimsToString(w), " does not fit input channels ", p.C,
                     " and group ", p.G);
  p.M = w[1] * p.G;
  const int n = static_cast<int>(x.size()) - 2;
  std::vector<int64_t> strides, dil, pads, out_pad, out_shape, ks;
  std::string auto_pad;
  EDGERT_TRY_ATTR(strides, attrInts(c, "strides", std::vector<int64_t>(n, 1)));
  EDGERT_TRY_ATTR(dil, attrInts(c, "dilations", std::vector<int64_t>(n, 1)));
  EDGERT_TRY_ATTR(pads, attrInts(c, "pads", std::vector<int64_t>(2 * n, 0)));
  EDGERT_TRY_ATTR(out_pad, attrInts(c, "output_padding", std::vector<int64_t>(n, 0)));
  EDGERT_TRY_ATTR(out_shape, attrInts(c, "output_shape", {}));
  EDGERT_TRY_ATTR(ks, attrInts(c, "kernel_shape", Dims(w.begin() + 2, w.end())));
  EDGERT_TRY_ATTR(auto_pad, attrStr(c, "auto_pad", "NOTSET"));
  if (static_cast<int>(strides.size()) != n || static_cast<int>(dil.size()) != n ||
      static_cast<int>(pads.size()) != 2 * n || static_cast<int>(out_pad.size()) != n ||
      (!out_shape.empty() && static_cast<int>(out_shape.size()) != n) ||
      Dims(ks.begin(), ks.end()) != Dims(w.begin() + 2, w.end()))
    return c.invalid(
        "strides/dilations/pads/output_padding/output_shape/kernel_shape do not match ", n,
        " spatial dims and weight ", dimsToString(w));
  Geometry& g = p.g;
  g.nsp = n;
  const int off = 3 - n;
  for (int i = 0; i < n; ++i) {
    const int j = off + i;
    g.in[j] = x[2 + i];
    g.k[j] = w[2 + i];
    g.s[j] = strides[i];
    g.d[j] = dil[i];
    if (g.s[j] < 1 || g.d[j] < 1 || g.s[j] > 4096 || g.d[j] > 4096 || out_pad[i] < 0 ||
        out_pad[i] >= std::max(g.s[j], g.d[j]))
      return c.invalid("strides, dilations or output_padding out of range");
    const int64_t full = g.s[j] * (g.in[j] - 1) + out_pad[i] + (g.k[j] - 1) * g.d[j] + 1;
    if (!out_shape.empty() || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t target = out_shape.empty() ? g.in[j] * g.s[j] : out_shape[i];
      const int64_t total = full - target;
      g.pb[j] = auto_pad == "SAME_LOWER" ? total - total / 2 : total / 2;
      g.pe[j] = total - g.pb[j];
    } else if (auto_pad == "NOTSET") {
      g.pb[j] = pads[i];
      g.pe[j] = pads[i + n];
    } else if (auto_pad != "VALID") {
      return c.invalid("auto_pad '", auto_pad,
                       "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
    }
    g.out[j] = full - g.pb[j] - g.pe[j];
    if (g.out[j] < 1 || g.out[j] > (int64_t{1} << 24))
      return c.invalid("output extent ", g.out[j], " in spatial dim ", i, " is invalid");
  }
  if (c.has(2) && (c.dims(2).size() != 1 || c.dims(2)[0] != p.M))
    return c.invalid("bias must have shape [", p.M, "]");
  return p;
}

Status inferConvT(NodeContext& c) {
  for (size_t i = 0; i < c.numInputs(); ++i)
    if (c.has(i) && c.dtype(i) != DataType::kFloat32)
      return c.unsupported("the CPU backend runs ConvTranspose in float32");
  ConvTParams p;
  EDGERT_TRY_ATTR(p, parseConvT(c));
  Dims out = {p.N, p.M};
  for (int i = 3 - p.g.nsp; i < 3; ++i) out.push_back(p.g.out[i]);
  c.setOutput(0, DataType::kFloat32, out);
  return Status::Ok();
}

Status runConvT(const ConvTParams& p, const KernelArgs& a) {
  const Geometry& g = p.g;
  const float* x = a.in[0].as<float>();
  const float* w = a.in[1].as<float>();
  const float* bias = a.in.size() > 2 ? a.in[2].as<float>() : nullptr;
  float* y = a.out[0].as<float>();
  float* cols = static_cast<float*>(a.scratch);
  const int64_t cg = p.C / p.G, mg = p.M / p.G, kv = g.kVol(), iv = g.inVol(), ov = g.outVol();
  for (int64_t n = 0; n < p.N; ++n) {
    for (int64_t m = 0; m < p.M; ++m) {
      float* ym = y + (n * p.M + m) * ov;
      std::fill(ym, ym + ov, bias ? bias[m] : 0.f);
    }
    for (int64_t grp = 0; grp < p.G; ++grp) {
      // W_g is [cg, mg*kv]; cols[mg*kv, iv] = W_g^T * X_g[cg, iv].
      cpu::sgemm(true, false, mg * kv, iv, cg, 1.f, w + grp * cg * mg * kv, mg * kv,
                 x + (n * p.C + grp * cg) * iv, iv, 0.f, cols, iv);
      for (int64_t m = 0; m < mg; ++m) {
        float* ym = y + (n * p.M + grp * mg + m) * ov;
        for (int64_t kd = 0; kd < g.k[0]; ++kd)
          for (int64_t kh = 0; kh < g.k[1]; ++kh)
            for (int64_t kw = 0; kw < g.k[2]; ++kw) {
              const float* src = cols + (((m * g.k[0] + kd) * g.k[1] + kh) * g.k[2] + kw) * iv;
              for (int64_t id = 0; id < g.in[0]; ++id) {
                const int64_t od = id * g.s[0] - g.pb[0] + kd * g.d[0];
                if (od < 0 || od >= g.out[0]) continue;
                for (int64_t ih = 0; ih < g.in[1]; ++ih) {
                  const int64_t oh = ih * g.s[1] - g.pb[1] + kh * g.d[1];
                  if (oh < 0 || oh >= g.out[1]) continue;
                  const float* srow = src + (id * g.in[1] + ih) * g.in[2];
                  float* yrow = ym + (od * g.out[1] + oh) * g.out[2];
                  for (int64_t iw = 0; iw < g.in[2]; ++iw) {
                    const int64_t ow = iw * g.s[2] - g.pb[2] + kw * g.d[2];
                    if (ow >= 0 && ow < g.out[2]) yrow[ow] += srow[iw];
                  }
                }
              }
            }
      }
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<Kernel>> createConvT(const NodeContext& c) {
  ConvTParams p;
  EDGERT_TRY_ATTR(p, parseConvT(c));
  const size_t scratch = sizeof(float) * static_cast<size_t>(p.M / p.G * p.g.kVol() * p.g.inVol());
  return makeKernel(std::move(p), &runConvT, scratch);
}

}  // namespace

extern const OpDef kOpConvTranspose = {"ConvTranspose", 2, 3, 1, 1, 0, inferConvT, createConvT};

}  // namespace edgert::ops
