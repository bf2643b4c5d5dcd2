// 1x1 convolutions with few input channels in NHWC fp16 (an inverted-residual block's
// expansion, 16 -> 96 channels at 112x112 in MobileNetV2 and EfficientNet-B0). With K this
// small the layer is bound by writing its wide output, yet cuDNN's and cuBLASLt's kernels
// ran it at a fifth of memory bandwidth and their bias/activation took a second pass over
// the output. Here a warp computes 16 pixels x all N outputs with tensor-core mma.sync
// (m16n8k16, FP32 accumulation), applies bias, residual and activation, and writes each
// output once. A first version on FP32 FMAs with the weights broadcast from shared memory was
// as slow as cuBLASLt: 128-bit shared loads take four cycles even when every lane reads the
// same address.
#include <cuda_fp16.h>

#include "half_vector.h"

#include "kernel_params.h"

namespace {

constexpr int kPwMaxFrags = 4096;  // B fragments (uint2 per lane) in shared memory: 32 KiB

__device__ __forceinline__ unsigned ld32(const __half* p) {
  return *reinterpret_cast<const unsigned*>(p);
}

// A warp takes 16 pixels (rows) at a time; KS k16 steps cover K (zeros beyond it). The
// weights are staged once per block as mma B fragments in each lane's order, so a lane
// reads its fragment with one conflict-free 8-byte load per mma.
template <int KS, int A>
__device__ __forceinline__ void pointwiseMma(const EdgertPointwise& p, __half* y, const __half* x,
                                             const __half* w, const float* bias,
                                             const __half* res) {
#if __CUDA_ARCH__ >= 800
  __shared__ uint2 frags[kPwMaxFrags];
  const int K = p.k, N = p.n, ntiles = N / 8;
  for (int i = threadIdx.x; i < ntiles * KS * 32; i += blockDim.x) {
    const int lane = i % 32, ks = (i / 32) % KS, nt = i / (32 * KS);
    const int n = nt * 8 + (lane >> 2), k0 = ks * 16 + (lane & 3) * 2, k1 = k0 + 8;
    frags[i] = make_uint2(k0 < K ? ld32(w + n * K + k0) : 0u, k1 < K ? ld32(w + n * K + k1) : 0u);
  }
  __syncthreads();
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const long long P = p.pixels, tiles = (P + 15) / 16;
  for (long long tile = (blockIdx.x * (long long)blockDim.x + threadIdx.x) / 32; tile < tiles;
       tile += gridDim.x * (long long)blockDim.x / 32) {
    const long long r0 = tile * 16 + g, r1 = r0 + 8;
    unsigned a[KS][4];
#pragma unroll
    for (int ks = 0; ks < KS; ++ks) {
      const int k0 = ks * 16 + t * 2, k1 = k0 + 8;
      a[ks][0] = r0 < P && k0 < K ? ld32(x + r0 * K + k0) : 0u;
      a[ks][1] = r1 < P && k0 < K ? ld32(x + r1 * K + k0) : 0u;
      a[ks][2] = r0 < P && k1 < K ? ld32(x + r0 * K + k1) : 0u;
      a[ks][3] = r1 < P && k1 < K ? ld32(x + r1 * K + k1) : 0u;
    }
    for (int nt = 0; nt < ntiles; ++nt) {
      float c0 = 0.f, c1 = 0.f, c2 = 0.f, c3 = 0.f;
#pragma unroll
      for (int ks = 0; ks < KS; ++ks) {
        const uint2 b = frags[(nt * KS + ks) * 32 + lane];
        asm volatile(
            "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
            "{%8,%9}, {%0,%1,%2,%3};\n"
            : "+f"(c0), "+f"(c1), "+f"(c2), "+f"(c3)
            : "r"(a[ks][0]), "r"(a[ks][1]), "r"(a[ks][2]), "r"(a[ks][3]), "r"(b.x), "r"(b.y));
      }
      const int n = nt * 8 + t * 2;
      const float b0 = bias ? bias[n] : 0.f, b1 = bias ? bias[n + 1] : 0.f;
      float v[4] = {c0 + b0, c1 + b1, c2 + b0, c3 + b1};
      const long long o0 = r0 * N + n, o1 = r1 * N + n;
      if (res) {
        if (r0 < P) {
          const float2 q = __half22float2(*reinterpret_cast<const __half2*>(res + o0));
          v[0] += q.x;
          v[1] += q.y;
        }
        if (r1 < P) {
          const float2 q = __half22float2(*reinterpret_cast<const __half2*>(res + o1));
          v[2] += q.x;
          v[3] += q.y;
        }
      }
#pragma unroll
      for (int e = 0; e < 4; ++e) v[e] = dwAct<A>(v[e], p.a, p.b);
      if (r0 < P) *reinterpret_cast<__half2*>(y + o0) = __floats2half2_rn(v[0], v[1]);
      if (r1 < P) *reinterpret_cast<__half2*>(y + o1) = __floats2half2_rn(v[2], v[3]);
    }
  }
#else
  __trap();  // the host offers this kernel on sm_80 and newer only
#endif
}

}  // namespace

// The host picks these for even K <= 16 * KS, N % 8 == 0, N / 8 * KS * 32 <= kPwMaxFrags and
// the depthwise kernels' activations (_a0 clamp, _a1 SiLU, _a2 HardSwish).
#define EDGERT_PW(KS, A)                                                                          \
  extern "C" __global__ void __launch_bounds__(256)                                               \
      edgert_pointwise_mma_ks##KS##_a##A(EdgertPointwise p, __half* y, const __half* x,           \
                                         const __half* w, const float* bias, const __half* res) { \
    pointwiseMma<KS, A>(p, y, x, w, bias, res);                                                   \
  }
#define EDGERT_PW_ACTS(KS) EDGERT_PW(KS, 0) EDGERT_PW(KS, 1) EDGERT_PW(KS, 2)
EDGERT_PW_ACTS(1)
EDGERT_PW_ACTS(2)
EDGERT_PW_ACTS(3)
EDGERT_PW_ACTS(4)
#undef EDGERT_PW_ACTS
#undef EDGERT_PW
