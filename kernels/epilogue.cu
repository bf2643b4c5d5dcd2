// The epilogue after a convolution that cuDNN ran without it: in place
// y = act(y + bias[c] + res). NHWC fp16: eight channels (one 16-byte vector) per thread;
// NCHW fp32: four pixels of one channel per thread. The activation is a template parameter. ncu on
// an H200: the two-channel kernel with the general activation switch moved 1.2 TB/s (25% of DRAM
// bandwidth, 17 cycles per issued instruction) after MobileNetV2's first convolution; it runs after
// every cuDNN convolution of an FP16 engine.
#include <cuda_fp16.h>

#include "half_vector.h"

namespace {

template <int A>
__device__ __forceinline__ void biasActH8(uint4* y, const float* bias, const uint4* res,
                                          unsigned n8, unsigned c8, float a, float b) {
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n8; i += gridDim.x * blockDim.x) {
    float v[8];
    unpackHalves(y[i], v);
    if (bias) {
      const float* bc = bias + (i % c8) * 8;
#pragma unroll
      for (int e = 0; e < 8; ++e) v[e] += bc[e];
    }
    if (res) {
      float r[8];
      unpackHalves(res[i], r);
#pragma unroll
      for (int e = 0; e < 8; ++e) v[e] += r[e];
    }
#pragma unroll
    for (int e = 0; e < 8; ++e) v[e] = dwAct<A>(v[e], a, b);
    y[i] = packHalves<uint4>(v);
  }
}

// NCHW float32: `inner4` float4 vectors per channel plane (H*W a multiple of 4).
template <int A>
__device__ __forceinline__ void biasActF4(float4* y, const float* bias, const float4* res,
                                          unsigned n4, unsigned inner4, unsigned channels, float a,
                                          float b) {
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += gridDim.x * blockDim.x) {
    float4 v = y[i];
    if (bias) {
      const float c = bias[(i / inner4) % channels];
      v.x += c;
      v.y += c;
      v.z += c;
      v.w += c;
    }
    if (res) {
      const float4 r = res[i];
      v.x += r.x;
      v.y += r.y;
      v.z += r.z;
      v.w += r.w;
    }
    y[i] = make_float4(dwAct<A>(v.x, a, b), dwAct<A>(v.y, a, b), dwAct<A>(v.z, a, b),
                       dwAct<A>(v.w, a, b));
  }
}

}  // namespace

#define EDGERT_BIAS_ACT_F4(A)                                                        \
  extern "C" __global__ void edgert_bias_act_f32_v4_a##A(                            \
      float4* y, const float* bias, const float4* res, unsigned n4, unsigned inner4, \
      unsigned channels, float a, float b) {                                         \
    biasActF4<A>(y, bias, res, n4, inner4, channels, a, b);                          \
  }
EDGERT_BIAS_ACT_F4(0)
EDGERT_BIAS_ACT_F4(1)
EDGERT_BIAS_ACT_F4(2)
#undef EDGERT_BIAS_ACT_F4

// The host picks these for c % 8 == 0, fewer than 2^31 vectors and the fixed activations
// (_a0 clamp: identity / ReLU / ReLU6 / Clip, _a1 SiLU, _a2 HardSwish).
#define EDGERT_BIAS_ACT_H8(A)                                                                      \
  extern "C" __global__ void edgert_bias_act_nhwc_h8_a##A(                                         \
      uint4* y, const float* bias, const uint4* res, unsigned n8, unsigned c8, float a, float b) { \
    biasActH8<A>(y, bias, res, n8, c8, a, b);                                                      \
  }
EDGERT_BIAS_ACT_H8(0)
EDGERT_BIAS_ACT_H8(1)
EDGERT_BIAS_ACT_H8(2)
#undef EDGERT_BIAS_ACT_H8
