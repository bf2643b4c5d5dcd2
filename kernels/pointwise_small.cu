// 1x1 convolutions with few input channels in NHWC fp16 (an inverted-residual block's
// expansion, 16 -> 96 channels at 112x112 in MobileNetV2 and EfficientNet-B0). With K this
// small the layer is bound by writing its wide output, yet cuDNN's and cuBLASLt's kernels
// ran it at a fifth of memory bandwidth and their bias/activation took a second pass over
// the output. Here a warp computes 16 pixels x all N outputs with tensor-core mma.sync
// (m16n8k16, FP32 accumulation), applies bias, residual and activation, and writes each
// output once; K up to 128 (the weights as fragments in shared memory). A first version on
// FP32 FMAs with the weights broadcast from shared memory was as slow as cuBLASLt: 128-bit
// shared loads take four cycles even when every lane reads the same address.
#include <cuda_fp16.h>

#include "half_vector.h"

#include "kernel_params.h"

namespace {

constexpr int kPwRow = 72;  // floats per staged output row: 64 channels + 8 (no bank conflicts)

__device__ __forceinline__ unsigned ld32(const __half* p) {
  return *reinterpret_cast<const unsigned*>(p);
}

// A warp takes 16 pixels (rows) at a time; KS k16 steps cover K (zeros beyond it). The
// weights are staged once per block as mma B fragments in each lane's order, so a lane
// reads its fragment with one conflict-free 8-byte load per mma. Outputs go out 64 channels
// at a time through a per-warp fp32 tile in shared memory: the 16 pixels' rows of a chunk
// are 128-byte runs, written as 16-byte vectors (the first version stored each lane's two
// halves directly: 4-byte stores 16 rows apart, a quarter of memory bandwidth at 96 outputs).
// The residual is read the same way, and the activation applied, on the way out.
template <int KS, int A>
__device__ __forceinline__ void pointwiseMma(const EdgertPointwise& p, __half* y, const __half* x,
                                             const __half* w, const float* bias,
                                             const __half* res) {
#if __CUDA_ARCH__ >= 800
  extern __shared__ __align__(16) unsigned char pw_smem[];
  const int K = p.k, N = p.n, ntiles = N / 8;
  uint2* frags = reinterpret_cast<uint2*>(pw_smem);
  for (int i = threadIdx.x; i < ntiles * KS * 32; i += blockDim.x) {
    const int lane = i % 32, ks = (i / 32) % KS, nt = i / (32 * KS);
    const int n = nt * 8 + (lane >> 2), k0 = ks * 16 + (lane & 3) * 2, k1 = k0 + 8;
    frags[i] = make_uint2(k0 < K ? ld32(w + n * K + k0) : 0u, k1 < K ? ld32(w + n * K + k1) : 0u);
  }
  // The bias beside them: a global load per 8 outputs kept the L1 pipe 80% busy.
  float* sbias = reinterpret_cast<float*>(frags + ntiles * KS * 32);
  for (int i = threadIdx.x; i < N; i += blockDim.x) sbias[i] = bias ? bias[i] : 0.f;
  __syncthreads();
  const int lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3, warp = threadIdx.x >> 5;
  float* stage = sbias + N + warp * 16 * kPwRow;
  const long long P = p.pixels, tiles = (P + 15) / 16;
  const long long step = gridDim.x * (long long)blockDim.x / 32;
  // A fragments of tile `tl` (zeros past the last pixel or K).
  auto loadA = [&](unsigned(&a)[KS][4], long long tl) {
    const long long r0 = tl * 16 + g, r1 = r0 + 8;
#pragma unroll
    for (int ks = 0; ks < KS; ++ks) {
      const int k0 = ks * 16 + t * 2, k1 = k0 + 8;
      a[ks][0] = r0 < P && k0 < K ? ld32(x + r0 * K + k0) : 0u;
      a[ks][1] = r1 < P && k0 < K ? ld32(x + r1 * K + k0) : 0u;
      a[ks][2] = r0 < P && k1 < K ? ld32(x + r0 * K + k1) : 0u;
      a[ks][3] = r1 < P && k1 < K ? ld32(x + r1 * K + k1) : 0u;
    }
  };
  // With few k steps the next tile's inputs are loaded before this tile's outputs are
  // computed and written: a warp's loop is otherwise one load latency per tile.
  constexpr bool kPrefetch = KS <= 4;
  unsigned a[KS][4], next[KS][4];
  long long tile = (blockIdx.x * (long long)blockDim.x + threadIdx.x) / 32;
  if (kPrefetch && tile < tiles) loadA(next, tile);
  for (; tile < tiles; tile += step) {
    if (kPrefetch) {
#pragma unroll
      for (int ks = 0; ks < KS; ++ks)
#pragma unroll
        for (int e = 0; e < 4; ++e) a[ks][e] = next[ks][e];
      if (tile + step < tiles) loadA(next, tile + step);
    } else {
      loadA(a, tile);
    }
    for (int c0 = 0; c0 < N; c0 += 64) {
      const int width = min(64, N - c0);
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        if (j * 8 >= width) break;
        const int nt = c0 / 8 + j;
        float c[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
        for (int ks = 0; ks < KS; ++ks) {
          const uint2 b = frags[(nt * KS + ks) * 32 + lane];
          asm volatile(
              "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
              "{%8,%9}, {%0,%1,%2,%3};\n"
              : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
              : "r"(a[ks][0]), "r"(a[ks][1]), "r"(a[ks][2]), "r"(a[ks][3]), "r"(b.x), "r"(b.y));
        }
        const int n = j * 8 + t * 2;
        const float2 bb = *reinterpret_cast<const float2*>(sbias + c0 + n);
        const float b0 = bb.x, b1 = bb.y;
        *reinterpret_cast<float2*>(stage + g * kPwRow + n) = make_float2(c[0] + b0, c[1] + b1);
        *reinterpret_cast<float2*>(stage + (g + 8) * kPwRow + n) =
            make_float2(c[2] + b0, c[3] + b1);
      }
      __syncwarp();
      const int vpr = width / 8;  // 16-byte vectors per pixel in this chunk
      for (int i = lane; i < 16 * vpr; i += 32) {
        const int row = width == 64 ? i >> 3 : i / vpr, v = i - row * vpr;
        const long long pix = tile * 16 + row;
        if (pix >= P) continue;
        const float4 lo = *reinterpret_cast<const float4*>(stage + row * kPwRow + v * 8);
        const float4 hi = *reinterpret_cast<const float4*>(stage + row * kPwRow + v * 8 + 4);
        float f[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
        const long long o = pix * N + c0 + v * 8;
        if (res) {
          float r[8];
          const uint4 q = reinterpret_cast<const uint4*>(res)[o >> 3];
          unpackHalves(q, r);
#pragma unroll
          for (int e = 0; e < 8; ++e) f[e] += r[e];
        }
#pragma unroll
        for (int e = 0; e < 8; ++e) f[e] = dwAct<A>(f[e], p.a, p.b);
        // Indexed as uint4 (o % 8 == 0): through a __half pointer nvcc split the store into
        // four 4-byte ones (ncu: 8 of each 32-byte sector used per thread).
        reinterpret_cast<uint4*>(y)[o >> 3] = packHalves<uint4>(f);
      }
      __syncwarp();
    }
  }
#else
  __trap();  // the host offers this kernel on sm_80 and newer only
#endif
}

}  // namespace

// The host picks these for even K <= 16 * KS, N % 8 == 0, the depthwise kernels' activations
// (_a0 clamp, _a1 SiLU, _a2 HardSwish), 256 threads and N * KS * 32 + N * 4 + 8 * 16 * 72 * 4
// bytes of dynamic shared memory (the B fragments, the bias, then each warp's staged outputs).
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
EDGERT_PW_ACTS(5)
EDGERT_PW_ACTS(6)
EDGERT_PW_ACTS(7)
EDGERT_PW_ACTS(8)
#undef EDGERT_PW_ACTS
#undef EDGERT_PW
