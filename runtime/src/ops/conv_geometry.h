// Spatial geometry shared by Conv, ConvTranspose and the pools: kernel, strides,
// dilations and pads (explicit or auto_pad), for 1 to 3 spatial dims. Kernels work in
// 3-D; 1-D and 2-D problems are mapped onto it with leading extents of 1.
#pragma once

#include "op_util.h"

namespace edgert::ops {

struct Geometry {
  int nsp = 0;                // spatial dims in the model (1..3)
  int64_t in[3] = {1, 1, 1};  // input extents (3-D mapped)
  int64_t out[3] = {1, 1, 1};
  int64_t k[3] = {1, 1, 1};
  int64_t s[3] = {1, 1, 1};
  int64_t d[3] = {1, 1, 1};
  int64_t pb[3] = {0, 0, 0};  // pad at the beginning
  int64_t pe[3] = {0, 0, 0};  // pad at the end
  int64_t inVol() const { return in[0] * in[1] * in[2]; }
  int64_t outVol() const { return out[0] * out[1] * out[2]; }
  int64_t kVol() const { return k[0] * k[1] * k[2]; }
};

// Parses strides/dilations/pads/auto_pad for a forward window op (Conv, pools) and
// computes output extents. `spatial_in` and `kernel` have nsp entries.
inline Result<Geometry> forwardGeometry(const NodeContext& c, const Dims& spatial_in,
                                        const Dims& kernel, bool ceil_mode) {
  Geometry g;
  const int n = static_cast<int>(spatial_in.size());
  if (n < 1 || n > 3) return c.unsupported(n, " spatial dims (1 to 3 are supported)");
  if (static_cast<int>(kernel.size()) != n)
    return c.invalid("kernel has ", kernel.size(), " dims, input has ", n, " spatial dims");
  g.nsp = n;
  std::vector<int64_t> strides, dil, pads;
  std::string auto_pad;
  EDGERT_TRY_ATTR(strides, attrInts(c, "strides", std::vector<int64_t>(n, 1)));
  EDGERT_TRY_ATTR(dil, attrInts(c, "dilations", std::vector<int64_t>(n, 1)));
  EDGERT_TRY_ATTR(pads, attrInts(c, "pads", std::vector<int64_t>(2 * n, 0)));
  EDGERT_TRY_ATTR(auto_pad, attrStr(c, "auto_pad", "NOTSET"));
  if (static_cast<int>(strides.size()) != n || static_cast<int>(dil.size()) != n ||
      static_cast<int>(pads.size()) != 2 * n)
    return c.invalid("strides/dilations/pads do not match ", n, " spatial dims");
  const int off = 3 - n;
  for (int i = 0; i < n; ++i) {
    const int j = off + i;
    g.in[j] = spatial_in[i];
    g.k[j] = kernel[i];
    g.s[j] = strides[i];
    g.d[j] = dil[i];
    if (g.k[j] < 1 || g.s[j] < 1 || g.d[j] < 1 || g.k[j] > (int64_t{1} << 20) ||
        g.s[j] > (int64_t{1} << 20) || g.d[j] > (int64_t{1} << 20))
      return c.invalid("kernel, strides and dilations must be positive");
    const int64_t ext = g.d[j] * (g.k[j] - 1) + 1;
    if (auto_pad == "NOTSET") {
      g.pb[j] = pads[i];
      g.pe[j] = pads[i + n];
      if (g.pb[j] < 0 || g.pe[j] < 0 || g.pb[j] > (int64_t{1} << 20) ||
          g.pe[j] > (int64_t{1} << 20))
        return c.invalid("pads must be non-negative");
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t o = (g.in[j] + g.s[j] - 1) / g.s[j];
      const int64_t total = std::max<int64_t>(0, (o - 1) * g.s[j] + ext - g.in[j]);
      g.pb[j] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pe[j] = total - g.pb[j];
    } else if (auto_pad != "VALID") {
      return c.invalid("auto_pad '", auto_pad,
                       "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
    }
    const int64_t span = g.in[j] + g.pb[j] + g.pe[j] - ext;
    if (span < 0)
      return c.invalid("kernel extent ", ext, " exceeds the padded input ",
                       g.in[j] + g.pb[j] + g.pe[j], " in spatial dim ", i);
    g.out[j] = (ceil_mode ? (span + g.s[j] - 1) / g.s[j] : span / g.s[j]) + 1;
    // A last window that would start inside the end padding is dropped (PyTorch, ONNX).
    if (ceil_mode && (g.out[j] - 1) * g.s[j] >= g.in[j] + g.pb[j]) --g.out[j];
  }
  return g;
}

}  // namespace edgert::ops
