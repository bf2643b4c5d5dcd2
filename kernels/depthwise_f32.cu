// Depthwise convolutions in NCHW float32 (FP32 engines): cuDNN's kernels for them ran at a
// fraction of memory bandwidth (EfficientNet-B0 bs128: 0.4-0.6 ms per layer on an H200).
// Each thread computes four adjacent outputs of one row of one channel plane; the input
// columns they share are loaded once per kernel row; kernel size, stride and activation
// are template parameters so the taps unroll into registers.
#include "half_vector.h"
#include "kernel_params.h"

namespace {

template <int K, int S, int A>
__device__ __forceinline__ void dwconvF32(const EdgertDwConv& p, float* y, const float* x,
                                          const float* w, const float* bias, const float* res) {
  constexpr int kOut = 4, kCols = (kOut - 1) * S + K;
  const unsigned c = static_cast<unsigned>(p.c), ow = static_cast<unsigned>(p.ow),
                 oh = static_cast<unsigned>(p.oh), iw = static_cast<unsigned>(p.iw);
  const int ih = static_cast<int>(p.ih);
  const unsigned owq = (ow + kOut - 1) / kOut;
  const unsigned total = static_cast<unsigned>(p.n) * c * oh * owq;
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const unsigned oxq = i % owq, t = i / owq, oy = t % oh, plane = t / oh, ch = plane % c;
    const unsigned ox0 = oxq * kOut;
    const float* xp = x + static_cast<size_t>(plane) * ih * iw;
    const float* wc = w + ch * K * K;
    float acc[kOut];
    const float b0 = bias ? bias[ch] : 0.f;
#pragma unroll
    for (int j = 0; j < kOut; ++j) acc[j] = b0;
    const int ix0 = static_cast<int>(ox0) * S - p.pw;
#pragma unroll
    for (int ky = 0; ky < K; ++ky) {
      const int iy = static_cast<int>(oy) * S - p.ph + ky;
      if (iy < 0 || iy >= ih) continue;
      const float* row = xp + static_cast<size_t>(iy) * iw;
      float v[kCols];
#pragma unroll
      for (int col = 0; col < kCols; ++col) {
        const int ix = ix0 + col;
        v[col] = ix >= 0 && ix < static_cast<int>(iw) ? row[ix] : 0.f;
      }
#pragma unroll
      for (int kx = 0; kx < K; ++kx) {
        const float wk = wc[ky * K + kx];
#pragma unroll
        for (int j = 0; j < kOut; ++j) acc[j] += v[j * S + kx] * wk;
      }
    }
    const size_t o = (static_cast<size_t>(plane) * oh + oy) * ow + ox0;
#pragma unroll
    for (int j = 0; j < kOut; ++j) {
      if (ox0 + j >= ow) break;
      float r = acc[j];
      if (res) r += res[o + j];
      y[o + j] = dwAct<A>(r, p.a, p.b);
    }
  }
}

}  // namespace

// The host picks these for square 3x3 / 5x5 kernels, equal strides of 1 or 2, dilation 1,
// the fixed activations and sizes with 32-bit indices.
#define EDGERT_DW_F32(K, S, A)                                                                   \
  extern "C" __global__ void __launch_bounds__(256)                                              \
      edgert_dwconv_f32_k##K##s##S##_a##A(EdgertDwConv p, float* y, const float* x,              \
                                          const float* w, const float* bias, const float* res) { \
    dwconvF32<K, S, A>(p, y, x, w, bias, res);                                                   \
  }
#define EDGERT_DW_F32_ACTS(K, S) \
  EDGERT_DW_F32(K, S, 0) EDGERT_DW_F32(K, S, 1) EDGERT_DW_F32(K, S, 2)
EDGERT_DW_F32_ACTS(3, 1)
EDGERT_DW_F32_ACTS(3, 2)
EDGERT_DW_F32_ACTS(5, 1)
EDGERT_DW_F32_ACTS(5, 2)
#undef EDGERT_DW_F32_ACTS
#undef EDGERT_DW_F32
