// INT8 arithmetic shared by the CPU reference kernels and the CUDA kernels, so both produce
// the same integers from the same inputs (issue #4: CPU INT8 emulates the GPU exactly).
//
// Quantisation is symmetric for edgert's own INT8 layers: q = sat(rint(x / s)). Convolutions
// and GEMMs accumulate int8 x int8 products exactly in int32; the accumulator leaves through
// float32, each multiply and add rounded separately (never contracted into an FMA: baseline
// x86-64 has none, and CUDA would otherwise fuse them), in a fixed order:
//   real = float(acc) * acc_scale[c] + bias[c]        acc_scale = x_scale * w_scale[c]
//   real = real + residual * residual_scale           (when a residual is fused)
//   real = act(real)
//   q    = sat(rint(real * inv_y_scale))              (int8 output) or real (float output)
// The CPU sources that use this are compiled with -ffp-contract=off.
// Activations that call exp/erf/tanh may differ in the last float bit between the host's libm
// and CUDA's, which can move q by one step; everything else is bit-identical.
#pragma once

#include <math.h>
#include <stdint.h>

#include "hd.h"

// Round half to even for |v| < 2^22, by adding and removing 1.5 * 2^23 (the sum's rounding
// does it). Same as rintf in the default rounding mode, but inline and vectorisable on CPUs
// without SSE4.1's roundps (baseline x86-64 calls libm for rintf).
EDGERT_HD float roundHalfEven(float v) {
  const float kMagic = 12582912.f;
  return (v + kMagic) - kMagic;
}

// Clamp into int8, then round half to even (NaN becomes 0).
EDGERT_HD int8_t saturateToInt8(float v) {
#if defined(__CUDA_ARCH__)
  // One instruction with the same result: cvt rounds to nearest even and clamps into int8 (a
  // value rounding past 127 or -128 clamps to it, as clamping first does), NaN to 0. The
  // clamp-round-NaN sequence below was about 7 instructions per output in the GPU epilogues.
  int q;
  asm("cvt.rni.sat.s8.f32 %0, %1;" : "=r"(q) : "f"(v));
  return static_cast<int8_t>(q);
#else
  v = v > 127.f ? 127.f : v;
  v = v < -128.f ? -128.f : v;
  v = v == v ? v : 0.f;
  return static_cast<int8_t>(roundHalfEven(v));
#endif
}

EDGERT_HD uint8_t saturateToUInt8(float v) {
  v = v > 255.f ? 255.f : v;
  v = v < 0.f ? 0.f : v;
  v = v == v ? v : 0.f;
  return static_cast<uint8_t>(roundHalfEven(v));
}

// ONNX QuantizeLinear: x / scale rounded half to even (IEEE division on both sides: nvcc
// keeps `/` exact unless fast math is on, which edgert's kernels never use).
EDGERT_HD float quantizeDivide(float x, float scale) {
  return x / scale;
}

// QuantizeLinear's value: round(x / scale) + zero_point, saturated. |x / scale| is clamped
// to 2^21 first, where rounding is still exact and any zero point still saturates.
EDGERT_HD float quantizedValue(float x, float scale, float zero_point) {
  float v = quantizeDivide(x, scale);
  v = v > 2097152.f ? 2097152.f : v;
  v = v < -2097152.f ? -2097152.f : v;
  return roundHalfEven(v) + zero_point;
}

// a * b and a + b, rounded on their own.
EDGERT_HD float mulRn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
EDGERT_HD float addRn(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

// The accumulator into real units (see the file comment for the order).
EDGERT_HD float requantReal(int32_t acc, float acc_scale, float bias) {
  return addRn(mulRn(static_cast<float>(acc), acc_scale), bias);
}

// The activation fused into an INT8 layer, by code (the order of ops::Act: 0 none, 1 Relu,
// 2 Clip(alpha, beta), 3 LeakyRelu(alpha), 4 HardSwish, 5 HardSigmoid(alpha, beta), 6 Sigmoid,
// 7 Silu, 8 Gelu, 9 GeluTanh), each multiply and add rounded on its own like the rest.
EDGERT_HD float int8Act(int act, float v, float alpha, float beta) {
  switch (act) {
    case 1:
      return v > 0.f ? v : 0.f;
    case 2: {
      const float t = alpha < v ? v : alpha;
      return t < beta ? t : beta;
    }
    case 3:
      return v >= 0.f ? v : mulRn(alpha, v);
    case 4: {
      float t = addRn(v / 6.f, 0.5f);
      t = t < 1.f ? t : 1.f;
      t = 0.f < t ? t : 0.f;
      return mulRn(v, t);
    }
    case 5: {
      float t = addRn(mulRn(alpha, v), beta);
      t = t < 1.f ? t : 1.f;
      return 0.f < t ? t : 0.f;
    }
    case 6:
      return 1.f / addRn(1.f, expf(-v));
    case 7:
      return v / addRn(1.f, expf(-v));
    case 8:
      return mulRn(mulRn(0.5f, v), addRn(1.f, erff(mulRn(v, 0.7071067811865476f))));
    case 9: {
      const float cube = mulRn(mulRn(mulRn(0.044715f, v), v), v);
      return mulRn(mulRn(0.5f, v), addRn(1.f, tanhf(mulRn(0.7978845608028654f, addRn(v, cube)))));
    }
    default:
      return v;
  }
}
