// Device helpers the NHWC fp16 kernel files share: halves in vector registers, and the
// fixed activations the fused kernels (depthwise, pointwise, epilogue) apply.
#pragma once

#include <cuda_fp16.h>

namespace {

// Halves held in a vector type (uint2: four, one 8-byte load; uint4: eight, one 16-byte
// load) to floats and back.
template <class V>
__device__ __forceinline__ void unpackHalves(const V& v, float* f) {
  const __half2* h = reinterpret_cast<const __half2*>(&v);
#pragma unroll
  for (int j = 0; j < static_cast<int>(sizeof(V) / sizeof(__half2)); ++j) {
    const float2 t = __half22float2(h[j]);
    f[2 * j] = t.x;
    f[2 * j + 1] = t.y;
  }
}

template <class V>
__device__ __forceinline__ V packHalves(const float* f) {
  V v;
  __half2* h = reinterpret_cast<__half2*>(&v);
#pragma unroll
  for (int j = 0; j < static_cast<int>(sizeof(V) / sizeof(__half2)); ++j)
    h[j] = __floats2half2_rn(f[2 * j], f[2 * j + 1]);
  return v;
}

// The activations fused into our kernels, each a few instructions: inlining the
// general edgertUnary switch for every output of a thread filled the instruction cache
// (ncu: a third of the stall cycles were instruction fetch). kActClamp covers identity,
// ReLU, ReLU6 and Clip with (a, b) = (lo, hi).
enum { kActClamp = 0, kActSilu = 1, kActHardSwish = 2 };

template <int A>
__device__ __forceinline__ float dwAct(float x, float a, float b) {
  if (A == kActClamp) return fminf(b, fmaxf(a, x));
  if (A == kActSilu) return x / (1.f + __expf(-x));
  return x * fminf(1.f, fmaxf(0.f, x / 6.f + 0.5f));
}

}  // namespace
