// The store of the FP16 implicit-GEMM convolutions (conv_f16_mma.cu, conv_f16_tma.cu): eight
// channels of an output pixel from their FP32 sums, with the layer's bias, residual and
// activation, as one 16-byte vector.
#pragma once

#include <cuda_fp16.h>

#include "half_vector.h"
#include "kernel_params.h"

namespace {

// Output pixel `pix`, channels m .. m + 7 (p.m % 8 == 0: one 16-byte vector of the output and
// of the residual): bias, residual, activation, fp16.
template <int A>
__device__ __forceinline__ void storeOut8(const EdgertConvMma& p, __half* y, const float* bias,
                                          const __half* res, int pix, int m, float (&f)[8]) {
  if (bias) {
#pragma unroll
    for (int e = 0; e < 8; ++e) f[e] += __ldg(bias + m + e);
  }
  const long long o = static_cast<long long>(pix) * p.m + m;
  if (res) {
    float rv[8];
    unpackHalves(reinterpret_cast<const uint4*>(res)[o >> 3], rv);
#pragma unroll
    for (int e = 0; e < 8; ++e) f[e] += rv[e];
  }
#pragma unroll
  for (int e = 0; e < 8; ++e) f[e] = dwAct<A>(f[e], p.a, p.b);
  reinterpret_cast<uint4*>(y)[o >> 3] = packHalves<uint4>(f);
}

}  // namespace
