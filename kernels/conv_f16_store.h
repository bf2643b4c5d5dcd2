// The store of the FP16 implicit-GEMM convolutions (conv_f16_mma.cu, conv_f16_tma.cu): eight
// channels of an output pixel from their FP32 sums, with the layer's bias, residual and
// activation, as one 16-byte vector; and the split-K store of their cluster variants.
#pragma once

#include <cooperative_groups.h>
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

// Split-K across a thread-block cluster (its blocks the tile's splits): every block's partial
// tile, `rows` x BN floats `ld` apart, lies at `cs` in its shared memory; each block adds up its
// share of the rows from every block's, in rank order (deterministic sums), and stores them
// from pixel p0, channel n0, by threads t of nt. No global memory, atomics or counters between
// the blocks. Every non-exited thread of the cluster calls it.
template <int A, int BN>
__device__ __forceinline__ void clusterSumStore(const EdgertConvMma& p, __half* y,
                                                const float* bias, const __half* res, float* cs,
                                                int ld, int rows, int p0, int n0, int t, int nt) {
#if __CUDA_ARCH__ >= 900
  namespace cg = cooperative_groups;
  cg::cluster_group cluster = cg::this_cluster();
  const int S = static_cast<int>(cluster.num_blocks()),
            rank = static_cast<int>(cluster.block_rank());
  cluster.sync();  // every block's partial tile is in its shared memory
  const int r0 = rank * rows / S, r1 = (rank + 1) * rows / S;
  for (int i = t; i < (r1 - r0) * (BN / 8); i += nt) {
    const int r = r0 + i / (BN / 8), c = (i % (BN / 8)) * 8;
    if (p0 + r >= p.rows || n0 + c >= p.m) continue;
    float f[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
#pragma unroll 4
    for (int z = 0; z < S; ++z) {
      const float* src = cluster.map_shared_rank(cs + r * ld + c, z);
      const float4 lo = *reinterpret_cast<const float4*>(src);
      const float4 hi = *reinterpret_cast<const float4*>(src + 4);
      f[0] += lo.x, f[1] += lo.y, f[2] += lo.z, f[3] += lo.w;
      f[4] += hi.x, f[5] += hi.y, f[6] += hi.z, f[7] += hi.w;
    }
    storeOut8<A>(p, y, bias, res, p0 + r, n0 + c, f);
  }
  cluster.sync();  // the other blocks read this block's tile until here
#else
  __trap();  // the host launches clusters on sm_90 and newer only
#endif
}

}  // namespace
