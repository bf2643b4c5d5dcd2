// Convolutions over NHWC fp16 as one implicit GEMM on tensor cores (mma.sync m16n8k16, FP32
// accumulation), bias, residual and activation applied as the tile is written, and split-K for
// layers whose output is too small to fill the GPU. cuDNN's kernels at batch 1 ran ResNet-50's
// layer4 3x3 convolutions (49 output pixels x 512 channels, a 4608-deep reduction) in 22 us for
// 4.7 MB of weights - too few blocks for 132 multiprocessors - and each cuDNN convolution took a
// second kernel for its epilogue (bench/NOTES.md, session 19's per-layer table).
//
// A block computes 64 output pixels x 64 output channels over k-tiles [kt0, kt1) of the
// reduction, four warps of 32 x 32, four cp.async stages of 32-deep k-tiles. The A side gathers
// each pixel's window straight from the input (C % 8 == 0: a 16-byte piece lies within one filter
// tap; taps outside the input read zeros), the B side is the weights [M][kp] (k = (kh * KW + kw) *
// C + c, zero padded). With `splits` > 1, the tile's blocks add their FP32 partial sums into the
// tile's sum buffer and count themselves in the tile's counter; the last one writes the output
// and leaves sum and counter zero for the next launch (one stream runs a layer, so launches of
// it never overlap).
#include <cuda_fp16.h>

#include "conv_f16_store.h"
#include "half_vector.h"
#include "kernel_params.h"
#include "sm80_copy.h"

namespace {

constexpr int kFBM = 64, kFBN = 64, kFBK = 32;  // pixels, channels, reduction halves per k-tile
// Six stages: a split block's whole share of a batch-1 reduction (up to 5 k-tiles) is in flight
// after the prologue, so its loads cost one memory latency, not one per k-tile.
constexpr int kFStages = 6;
constexpr int kFRow = 80;  // bytes per shared row: 64 + 16 of padding (ldmatrix conflict-free)
constexpr int kFStage = (kFBM + kFBN) * kFRow;
constexpr int kFCRow = kFBN + 4;  // floats per staged output row
static_assert(kFBM * kFCRow * 4 <= kFStages * kFStage, "the output tile fits the stages");
static_assert(kFStages * kFStage == EDGERT_CONV_MMA_SMEM, "the host's launch size");

// bench/micro/conv_mma_probe.cu builds this file with a stage left out, to time each stage by
// difference: 1 returns at once, 2 after the main loop, 3 skips the loads, 4 the split sums.
#ifndef EDGERT_MMA_PROBE
#define EDGERT_MMA_PROBE 0
#endif
constexpr int kProbe = EDGERT_MMA_PROBE;

template <int A, bool kCluster>
__device__ __forceinline__ void convF16Mma(const EdgertConvMma& p, __half* y, const __half* x,
                                           const __half* w, const float* bias, const __half* res,
                                           float* part, unsigned* counters) {
#if __CUDA_ARCH__ >= 800
  if constexpr (kProbe == 1) return;
  extern __shared__ __align__(16) unsigned char mma_smem[];
  unsigned char* const smem = mma_smem;
  __shared__ bool last;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp >> 1, wn = warp & 1;
  const int p0 = blockIdx.x * kFBM, n0 = blockIdx.y * kFBN;
  const int T = p.kp / kFBK;
  const int kt0 = static_cast<int>(static_cast<long long>(T) * blockIdx.z / p.splits);
  const int kt1 = static_cast<int>(static_cast<long long>(T) * (blockIdx.z + 1) / p.splits);
  const int nk = kt1 - kt0;

  // Thread tid copies row tid / 2 of the A and B tiles: 16-byte pieces 2 (tid & 1) and + 1.
  const int row = tid >> 1, seg0 = (tid & 1) * 2;
  const int C = p.c, K = p.kh * p.kw * p.c;
  const unsigned IH = static_cast<unsigned>(p.ih), IW = static_cast<unsigned>(p.iw);
  const int ap = p0 + row;
  const bool live = ap < p.rows;
  int ih0 = 0, iw0 = 0;
  const __half* img = x;
  if (live) {
    const int ox = ap % p.ow, r = ap / p.ow, oy = r % p.oh, n = r / p.oh;
    ih0 = oy * p.sh - p.ph;
    iw0 = ox * p.sw - p.pw;
    img = x + static_cast<long long>(n) * p.ih * p.iw * C;
  }
  // Each piece's reduction position (tap kh, kw and channel c), stepped per k-tile: a division
  // per piece and k-tile would cost more than the MMAs.
  int pk[2], pc[2], pkh[2], pkw[2];
#pragma unroll
  for (int j = 0; j < 2; ++j) {
    pk[j] = kt0 * kFBK + (seg0 + j) * 8;
    const int tap = pk[j] / C;
    pc[j] = pk[j] - tap * C;
    pkh[j] = tap / p.kw;
    pkw[j] = tap - pkh[j] * p.kw;
  }
  const __half* wrow = w + static_cast<long long>(n0 + row) * p.kp + seg0 * 8;
  auto load = [&](int stage, int kt) {
    if constexpr (kProbe == 3) return;
    unsigned char* as = smem + stage * kFStage + row * kFRow + seg0 * 16;
    unsigned char* bs = as + kFBM * kFRow;
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      const int ih = ih0 + pkh[j] * p.dh, iw = iw0 + pkw[j] * p.dw;
      const bool v =
          live && pk[j] < K && static_cast<unsigned>(ih) < IH && static_cast<unsigned>(iw) < IW;
      const __half* src = v ? img + (static_cast<long long>(ih) * p.iw + iw) * C + pc[j] : x;
      cpAsync16(as + j * 16, src, v);
      pk[j] += kFBK;
      for (pc[j] += kFBK; pc[j] >= C; pc[j] -= C)
        if (++pkw[j] == p.kw) pkw[j] = 0, ++pkh[j];
      cpAsync16(bs + j * 16, wrow + static_cast<long long>(kt) * kFBK + j * 8, true);
    }
  };

  float acc[2][4][4];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.f;
#pragma unroll
  for (int s = 0; s < kFStages - 1; ++s) {
    if (s < nk) load(s, kt0 + s);
    asm volatile("cp.async.commit_group;\n" ::);
  }
  // ldmatrix row addresses (bytes): A matrices (rows 0-7 | 8-15) x (k 0-7 | 8-15); B matrices
  // (k 0-7 | 8-15) x (n 0-7 | 8-15), so registers 0, 1 are n-tile 2j's and 2, 3 are 2j + 1's.
  const int a_ld = (lane & 15) * kFRow + (lane >> 4) * 16;
  const int b_ld = ((lane & 7) + (lane >> 4) * 8) * kFRow + ((lane >> 3) & 1) * 16;
  for (int i = 0; i < nk; ++i) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(kFStages - 2));
    __syncthreads();
    // Refill the stage the previous step read (every warp is past it after the barrier).
    const int next = i + kFStages - 1;
    if (next < nk) load(next % kFStages, kt0 + next);
    asm volatile("cp.async.commit_group;\n" ::);
    const unsigned char* a = smem + (i % kFStages) * kFStage;
    const unsigned char* b = a + kFBM * kFRow;
#pragma unroll
    for (int ks = 0; ks < 2; ++ks) {
      unsigned af[2][4], bf[2][4];
#pragma unroll
      for (int mi = 0; mi < 2; ++mi)
        ldmatrix4(af[mi], a + (wm * 32 + mi * 16) * kFRow + a_ld + ks * 32);
#pragma unroll
      for (int j = 0; j < 2; ++j) ldmatrix4(bf[j], b + (wn * 32 + j * 16) * kFRow + b_ld + ks * 32);
#pragma unroll
      for (int mi = 0; mi < 2; ++mi)
#pragma unroll
        for (int nt = 0; nt < 4; ++nt)
          asm volatile(
              "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
              "{%8,%9}, {%0,%1,%2,%3};\n"
              : "+f"(acc[mi][nt][0]), "+f"(acc[mi][nt][1]), "+f"(acc[mi][nt][2]),
                "+f"(acc[mi][nt][3])
              : "r"(af[mi][0]), "r"(af[mi][1]), "r"(af[mi][2]), "r"(af[mi][3]),
                "r"(bf[nt / 2][(nt & 1) * 2]), "r"(bf[nt / 2][(nt & 1) * 2 + 1]));
    }
  }
  asm volatile("cp.async.wait_group 0;\n" ::);
  __syncthreads();
  if constexpr (kProbe == 2) {
    if (acc[0][0][0] == 1234.5f) y[tid] = __float2half(acc[1][3][3]);  // keep the work
    return;
  }

  // The tile in shared memory (c0, c1: row g, columns 2t, 2t + 1; c2, c3: row g + 8), so that
  // each thread then writes eight consecutive channels of a pixel with one 16-byte store.
  float* cs = reinterpret_cast<float*>(smem);
  const int g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int mi = 0; mi < 2; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int nt = 0; nt < 4; ++nt) {
        const int r = wm * 32 + mi * 16 + g + h * 8, c = wn * 32 + nt * 8 + t * 2;
        *reinterpret_cast<float2*>(cs + r * kFCRow + c) =
            make_float2(acc[mi][nt][h * 2], acc[mi][nt][h * 2 + 1]);
      }
  __syncthreads();

  if constexpr (kCluster && kProbe != 4) {
    // The split blocks of a tile are one cluster (its z extent).
    clusterSumStore<A, kFBN>(p, y, bias, res, cs, kFCRow, kFBM, p0, n0, tid, blockDim.x);
    return;
  }
  if (p.splits > 1 && !kCluster && kProbe != 4) {
    // The tile's sum lives in `part` (zero between launches): every block adds its partial in
    // L2 (vector reductions, fire and forget), counts itself in, and the last one reads the sum
    // once, zeroes it for the next launch and writes the output. (Each block writing its own
    // partial for the last to add up cost the last block one memory latency per split.)
    const int tile = blockIdx.y * gridDim.x + blockIdx.x;
    float* sum = part + static_cast<long long>(tile) * (kFBM * kFBN);
    for (int i = tid; i < kFBM * kFBN / 4; i += blockDim.x) {
      const int r = i >> 4, c = (i & 15) * 4;
      if (p0 + r >= p.rows || n0 + c >= p.m) continue;
      const float4 v = *reinterpret_cast<const float4*>(cs + r * kFCRow + c);
      float* d = sum + r * kFBN + c;
#if __CUDA_ARCH__ >= 900
      atomicAdd(reinterpret_cast<float4*>(d), v);
#else
      atomicAdd(d, v.x), atomicAdd(d + 1, v.y), atomicAdd(d + 2, v.z), atomicAdd(d + 3, v.w);
#endif
    }
    // The reductions performed before the count says they are.
    __threadfence();
    __syncthreads();
    if (tid == 0) last = atomicAdd(counters + tile, 1u) == static_cast<unsigned>(p.splits - 1);
    __syncthreads();
    if (!last) return;
    __threadfence();
    for (int i = tid; i < kFBM * kFBN / 4; i += blockDim.x) {
      const int r = i >> 4, c = (i & 15) * 4;
      if (p0 + r >= p.rows || n0 + c >= p.m) continue;
      float4* d = reinterpret_cast<float4*>(sum + r * kFBN + c);
      *reinterpret_cast<float4*>(cs + r * kFCRow + c) = __ldcg(d);  // L2: other blocks' sums
      __stcg(d, make_float4(0.f, 0.f, 0.f, 0.f));
    }
    if (tid == 0) counters[tile] = 0;
    __syncthreads();
  }

  // p.m % 8 == 0: a pixel's eight channels are one 16-byte vector of the output (and residual).
  for (int i = tid; i < kFBM * (kFBN / 8); i += blockDim.x) {
    const int r = i >> 3, c = (i & 7) * 8;
    if (p0 + r >= p.rows || n0 + c >= p.m) continue;
    const float4 lo = *reinterpret_cast<const float4*>(cs + r * kFCRow + c);
    const float4 hi = *reinterpret_cast<const float4*>(cs + r * kFCRow + c + 4);
    float f[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
    storeOut8<A>(p, y, bias, res, p0 + r, n0 + c, f);
  }
#else
  __trap();  // the host offers this kernel on sm_80 and newer only
#endif
}

}  // namespace

// The host picks these (tactics nhwc16-mma-s<splits>, and -c<splits> for the _cluster kernels)
// for one group, C % 8 == 0, M % 8 == 0, pixel and element counts below 2^31, on sm_80 and newer
// (clusters: sm_90): 128 threads, EDGERT_CONV_MMA_SMEM bytes of dynamic shared memory, a grid of
// (ceil(rows / 64), ceil(M / 64), splits), clusters of (1, 1, splits); for the others with splits
// > 1, `part` 64 x 64 zeroed floats and `counters` one zeroed word per output tile. _a0 clamp
// (identity, ReLU, Clip), _a1 SiLU, _a2 HardSwish.
#define EDGERT_CONV_F16_MMA(A)                                                         \
  extern "C" __global__ void __launch_bounds__(128) edgert_conv_f16_mma_a##A(          \
      EdgertConvMma p, __half* y, const __half* x, const __half* w, const float* bias, \
      const __half* res, float* part, unsigned* counters) {                            \
    convF16Mma<A, false>(p, y, x, w, bias, res, part, counters);                       \
  }                                                                                    \
  extern "C" __global__ void __launch_bounds__(128) edgert_conv_f16_mma_cluster_a##A(  \
      EdgertConvMma p, __half* y, const __half* x, const __half* w, const float* bias, \
      const __half* res, float* part, unsigned* counters) {                            \
    convF16Mma<A, true>(p, y, x, w, bias, res, part, counters);                        \
  }
EDGERT_CONV_F16_MMA(0)
EDGERT_CONV_F16_MMA(1)
EDGERT_CONV_F16_MMA(2)
#undef EDGERT_CONV_F16_MMA
