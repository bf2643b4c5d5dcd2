// 1x1 convolutions with few input channels in NHWC fp16 (an inverted-residual block's
// expansion, 16 -> 96 channels at 112x112 in MobileNetV2 and EfficientNet-B0): with K this
// small the layer is bound by writing its (wide) output, not by arithmetic, yet cuDNN's
// and cuBLASLt's tensor-core kernels ran it at a fifth of memory bandwidth, and their
// bias/activation ran as a second pass over that output. Here each thread computes eight
// output channels of one pixel in FP32 from the pixel's K inputs and writes them once, with
// the epilogue applied.
#include <cuda_fp16.h>

#include "kernel_params.h"

namespace {

constexpr int kPwMaxWeights = 8192;  // N * K floats in shared memory (32 KiB)

// A warp covers 32 pixels and one group of eight output channels, so every lane reads the
// same weights (shared-memory broadcasts, no bank conflicts); the warps of a block take the
// other channel groups of those pixels, whose inputs then come from L1.
template <int K, int A>
__device__ __forceinline__ void pointwiseSmallK(const EdgertPointwise& p, uint4* y, const uint4* x,
                                                const __half* w, const float* bias,
                                                const uint4* res) {
  __shared__ __align__(16) float ws[kPwMaxWeights];
  for (int i = threadIdx.x; i < p.n * K; i += blockDim.x) ws[i] = __half2float(w[i]);
  __syncthreads();
  const unsigned groups = static_cast<unsigned>(p.n / 8);
  const unsigned pixels = static_cast<unsigned>(p.pixels);
  const unsigned warps = (pixels + 31) / 32 * groups;
  const unsigned lane = threadIdx.x & 31;
  for (unsigned wi = (blockIdx.x * blockDim.x + threadIdx.x) / 32; wi < warps;
       wi += gridDim.x * blockDim.x / 32) {
    const unsigned g = wi % groups, px = (wi / groups) * 32 + lane;
    if (px >= pixels) continue;
    float xv[K];
#pragma unroll
    for (int q = 0; q < K / 8; ++q) unpackHalves(x[px * (K / 8) + q], xv + 8 * q);
    float acc[8];
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      acc[j] = bias ? bias[g * 8 + j] : 0.f;
      const float4* wr = reinterpret_cast<const float4*>(ws + (g * 8 + j) * K);
#pragma unroll
      for (int k4 = 0; k4 < K / 4; ++k4) {
        const float4 v = wr[k4];
        acc[j] +=
            xv[4 * k4] * v.x + xv[4 * k4 + 1] * v.y + xv[4 * k4 + 2] * v.z + xv[4 * k4 + 3] * v.w;
      }
    }
    const unsigned o = px * groups + g;
    if (res) {
      float r[8];
      unpackHalves(res[o], r);
#pragma unroll
      for (int j = 0; j < 8; ++j) acc[j] += r[j];
    }
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[j] = dwAct<A>(acc[j], p.a, p.b);
    y[o] = packHalves<uint4>(acc);
  }
}

}  // namespace

// The host picks these for K in {8, 16, 24, 32}, N % 8 == 0, N * K <= kPwMaxWeights, the
// depthwise kernels' activations and 32-bit sizes.
#define EDGERT_PW(K, A)                                                                            \
  extern "C" __global__ void __launch_bounds__(256)                                                \
      edgert_pointwise_nhwc_h8_k##K##_a##A(EdgertPointwise p, uint4* y, const uint4* x,            \
                                           const __half* w, const float* bias, const uint4* res) { \
    pointwiseSmallK<K, A>(p, y, x, w, bias, res);                                                  \
  }
#define EDGERT_PW_ACTS(K) EDGERT_PW(K, 0) EDGERT_PW(K, 1) EDGERT_PW(K, 2)
EDGERT_PW_ACTS(8)
EDGERT_PW_ACTS(16)
EDGERT_PW_ACTS(24)
EDGERT_PW_ACTS(32)
#undef EDGERT_PW_ACTS
#undef EDGERT_PW
