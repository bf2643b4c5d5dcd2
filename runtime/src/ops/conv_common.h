// Convolution parameters and column building shared by Conv and the INT8 convolution
// (EdgertQConv): one parser for the attributes and geometry, one im2col for any element type.
#pragma once

#include "../cpu/window.h"
#include "conv_geometry.h"
#include "epilogue.h"

namespace edgert::ops {

struct ConvParams {
  Epilogue epi;
  Geometry g;
  int64_t N = 0, C = 0, M = 0, G = 1;
  bool pointwise = false;  // 1x1, stride 1, no pad: the input is already the column matrix
  bool depthwise = false;  // one input and one output channel per group
};

inline Result<ConvParams> parseConv(const NodeContext& c) {
  ConvParams p;
  const Dims& x = c.dims(0);
  const Dims& w = c.dims(1);
  if (x.size() < 3) return c.invalid("input must have rank >= 3, got ", dimsToString(x));
  if (w.size() != x.size())
    return c.invalid("weight rank ", w.size(), " differs from input rank ", x.size());
  EDGERT_TRY_ATTR(p.G, attrInt(c, "group", 1));
  p.N = x[0];
  p.C = x[1];
  p.M = w[0];
  if (p.G < 1 || p.C % p.G != 0 || p.M % p.G != 0 || w[1] != p.C / p.G)
    return c.invalid("group ", p.G, " does not fit input channels ", p.C, " and weight ",
                     dimsToString(w));
  Dims kernel(w.begin() + 2, w.end());
  std::vector<int64_t> ks;
  EDGERT_TRY_ATTR(ks, attrInts(c, "kernel_shape", kernel));
  if (Dims(ks.begin(), ks.end()) != kernel)
    return c.invalid("kernel_shape does not match weight dims ", dimsToString(w));
  EDGERT_TRY_ATTR(p.g, forwardGeometry(c, Dims(x.begin() + 2, x.end()), kernel, false));
  if (c.has(2) && (c.dims(2).size() != 1 || c.dims(2)[0] != p.M))
    return c.invalid("bias must have shape [", p.M, "], got ", dimsToString(c.dims(2)));
  EDGERT_TRY_ATTR(p.epi, parseEpilogue(c));
  const Geometry& g = p.g;
  p.pointwise = g.kVol() == 1 && g.s[0] == 1 && g.s[1] == 1 && g.s[2] == 1 &&
                g.pb[0] + g.pb[1] + g.pb[2] + g.pe[0] + g.pe[1] + g.pe[2] == 0;
  p.depthwise = p.G == p.C && p.M == p.C;
  return p;
}

// EdgertQConv's `x_pad`: the int8 value its window reads outside the input (the input's zero
// point; absent: 0).
inline Result<int8_t> parseXPad(const NodeContext& c) {
  int64_t v = 0;
  EDGERT_TRY_ATTR(v, attrInt(c, "x_pad", 0));
  if (v < -128 || v > 127) return c.invalid("x_pad must be an int8 value, got ", v);
  return static_cast<int8_t>(v);
}

// cols[(c*kvol + kk) * outVol + o] = x[c, o*s - pb + kk*d] (`pad` outside).
template <class T>
void im2col3d(const Geometry& g, int64_t channels, const T* x, T* cols, T pad = T(0)) {
  const int64_t ov = g.outVol();
  for (int64_t ch = 0; ch < channels; ++ch) {
    const T* xc = x + ch * g.inVol();
    for (int64_t kd = 0; kd < g.k[0]; ++kd)
      for (int64_t kh = 0; kh < g.k[1]; ++kh)
        for (int64_t kw = 0; kw < g.k[2]; ++kw) {
          T* dst = cols + (((ch * g.k[0] + kd) * g.k[1] + kh) * g.k[2] + kw) * ov;
          for (int64_t od = 0; od < g.out[0]; ++od) {
            const int64_t id = od * g.s[0] - g.pb[0] + kd * g.d[0];
            for (int64_t oh = 0; oh < g.out[1]; ++oh) {
              T* row = dst + (od * g.out[1] + oh) * g.out[2];
              const int64_t ih = oh * g.s[1] - g.pb[1] + kh * g.d[1];
              if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1]) {
                std::fill(row, row + g.out[2], pad);
                continue;
              }
              const T* src = xc + (id * g.in[1] + ih) * g.in[2];
              const int64_t base = kw * g.d[2] - g.pb[2];
              if (g.s[2] == 1 && base >= 0 && base + g.out[2] <= g.in[2]) {
                std::memcpy(row, src + base, sizeof(T) * g.out[2]);
                continue;
              }
              for (int64_t ow = 0; ow < g.out[2]; ++ow) {
                const int64_t iw = base + ow * g.s[2];
                row[ow] = (iw >= 0 && iw < g.in[2]) ? src[iw] : pad;
              }
            }
          }
        }
  }
}

using cpu::firstValid;

}  // namespace edgert::ops
