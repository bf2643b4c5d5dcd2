// INT8 arithmetic shared by the CPU reference kernels and the CUDA kernels, so both produce
// the same integers from the same inputs (issue #4: CPU INT8 emulates the GPU exactly).
//
// Quantisation is symmetric for edgert's own INT8 layers: q = sat(rint(x / s)). Convolutions
// and GEMMs accumulate int8 x int8 products exactly in int32; the accumulator leaves through
// float32 with fused multiply-adds in a fixed order:
//   real = fma(float(acc), acc_scale[c], bias[c])     acc_scale = x_scale * w_scale[c]
//   real = fma(residual, residual_scale, real)        (when a residual is fused)
//   real = act(real)
//   q    = sat(rint(real * inv_y_scale))              (int8 output) or real (float output)
// Activations that call exp/erf/tanh may differ in the last float bit between the host's libm
// and CUDA's, which can move q by one step; everything else is bit-identical.
#pragma once

#include <math.h>
#include <stdint.h>

#include "hd.h"

// Round half to even, then clamp into int8 (NaN becomes 0).
EDGERT_HD int8_t saturateToInt8(float v) {
  if (!(v == v)) return 0;
  v = rintf(v);
  return static_cast<int8_t>(v > 127.f ? 127.f : (v < -128.f ? -128.f : v));
}

EDGERT_HD uint8_t saturateToUInt8(float v) {
  if (!(v == v)) return 0;
  v = rintf(v);
  return static_cast<uint8_t>(v > 255.f ? 255.f : (v < 0.f ? 0.f : v));
}

// ONNX QuantizeLinear: x / scale rounded half to even (IEEE division on both sides: nvcc
// keeps `/` exact unless fast math is on, which edgert's kernels never use).
EDGERT_HD float quantizeDivide(float x, float scale) {
  return x / scale;
}

// The accumulator into real units (see the file comment for the order).
EDGERT_HD float requantReal(int32_t acc, float acc_scale, float bias) {
  return fmaf(static_cast<float>(acc), acc_scale, bias);
}
