// ---- sm_90: FP16 convolution fed by the Tensor Memory Accelerator --------------------------
// The INT8 TMA kernel's design (int8_tma.cu) for NHWC fp16: one producer warp issues TMA copies
// of whole tiles into the 128-byte swizzled layout, two consumer warpgroups run wgmma
// m64nBNk16 (FP32 accumulation) on each stage as its mbarrier says it has arrived, and the
// tile leaves through shared memory with bias, residual and activation fused (storeOut8). A
// 1x1 stride-1 unpadded convolution reads A as the [pixels][C] matrix (C % 8 == 0, the map's
// zero fill past C); any other one-group convolution with C % 64 == 0 reads it through an
// im2col map, one tap's 64-channel block per k-tile. cuDNN's kernels ran ResNet-50's 3x3
// layers at batch 128 at 26% of the H100's fp16 roofline (bench/NOTES.md, session 19); the
// same design took the INT8 layers past cuBLASLt's.
// Split-K (batch 1-8, where the output tiles alone leave most SMs idle): the blocks of a
// thread-block cluster (its z extent) each reduce a contiguous range of k-tiles, then add up
// their share of the tile's rows from every block's shared memory in rank order, as
// conv_f16_mma.cu's cluster variant does (deterministic sums, no global round trip).
#include <cuda.h>
#include <cuda_fp16.h>

#include "conv_f16_store.h"
#include "kernel_params.h"
#include "sm90_tma.h"

namespace {

constexpr int kHBM = 128;  // output pixels per tile (two warpgroups of 64)
constexpr int kHBK = 128;  // reduction bytes per k-tile: 64 halves, one swizzle atom per row

// Stages fill 96 KiB whatever BN (128: 3 stages, 64: 4): two blocks per SM.
template <int BN>
struct HalfTmaTile {
  static constexpr int kStage = (kHBM + BN) * kHBK;
  static constexpr int kStages = 98304 / kStage;
  static constexpr int kCRow = BN + 8;  // floats per staged row: rows 8 banks apart
  static_assert(kHBM * kCRow * 4 <= kStages * kStage, "the accumulator tile fits the stages");
  static constexpr int kSmem = kStages * kStage + 1024 + 2 * kStages * 8;
  static_assert(kSmem <= EDGERT_CONV_TMA_SMEM, "the host's launch size");
};

// One m64nBNk16 step: f16 A and B from shared memory (descriptors), FP32 accumulators.
__device__ __forceinline__ void wgmmaF16(float (&d)[64], unsigned long long da,
                                         unsigned long long db) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 "
      "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%"
      "22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%"
      "42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%"
      "62,%63}"
      ", %64, %65, 1, 1, 1, 0, 0;\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),
        "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]),
        "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]),
        "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]),
        "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]),
        "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]),
        "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]),
        "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]),
        "+f"(d[63])
      : "l"(da), "l"(db));
#endif
}

__device__ __forceinline__ void wgmmaF16(float (&d)[32], unsigned long long da,
                                         unsigned long long db) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 "
      "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%"
      "22,%23,%24,%25,%26,%27,%28,%29,%30,%31}"
      ", %32, %33, 1, 1, 1, 0, 0;\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),
        "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]),
        "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]),
        "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]),
        "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "l"(da), "l"(db));
#endif
}

// Warpgroup wg's wgmmas over one k-tile (its 64 rows of A, all of B: four k16 steps of 32
// bytes within the swizzle atom), committed; then waits for the previous step's group, whose
// stage the caller may hand back.
template <int BN>
__device__ __forceinline__ void mmaKTileF16(float (&acc)[BN / 2], const unsigned char* a,
                                            const unsigned char* b, int wg) {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
  for (int ks = 0; ks < kHBK / 32; ++ks)
    wgmmaF16(acc, swizzledDesc<kHBK>(a + wg * 64 * kHBK + ks * 32),
             swizzledDesc<kHBK>(b + ks * 32));
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
  asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
}

// The producer's copies of one output tile's k-tiles [kt0, kt0 + nk), continuing the block's
// sequence of stages at `step` (stage step % STAGES, phase step / STAGES).
template <int STAGES, int STAGE, bool IM2COL>
__device__ __forceinline__ void loadTileF16(unsigned char* tsm, unsigned long long* full,
                                            unsigned long long* empty, unsigned& step, int p0,
                                            int n0, int kt0, int nk, const EdgertTmaConv& cv,
                                            const CUtensorMap* ta, const CUtensorMap* tb) {
  // im2col: the tile's first output pixel as the top-left of its filter window, and the
  // reduction position (tap kh, kw; channel block cb) stepped per k-tile, k = tap * C + c.
  int img = 0, w0 = 0, h0 = 0, cb = 0, tkw = 0, tkh = 0;
  if constexpr (IM2COL) {
    const int orow = p0 / cv.ow, ow = p0 - orow * cv.ow;
    img = orow / cv.oh;
    const int oh = orow - img * cv.oh;
    w0 = ow * cv.sw - cv.pw;
    h0 = oh * cv.sh - cv.ph;
    const int tap = kt0 / cv.cblocks;
    cb = kt0 - tap * cv.cblocks;
    tkh = tap / cv.kw;
    tkw = tap - tkh * cv.kw;
  }
  for (int kt = 0; kt < nk; ++kt, ++step) {
    const int s = static_cast<int>(step % STAGES);
    if (step >= STAGES) mbarWait(&empty[s], (step / STAGES - 1) & 1);
    unsigned char* const a = tsm + s * STAGE;
    mbarExpectTx(&full[s], STAGE);
    if constexpr (IM2COL) {
      tmaLoadIm2col(a, ta, cb * (kHBK / 2), w0, h0, img, static_cast<unsigned short>(tkw * cv.dw),
                    static_cast<unsigned short>(tkh * cv.dh), &full[s]);
      if (++cb == cv.cblocks) {
        cb = 0;
        if (++tkw == cv.kw) tkw = 0, ++tkh;
      }
    } else {
      tmaLoad2d(a, ta, (kt0 + kt) * (kHBK / 2), p0, &full[s]);
    }
    tmaLoad2d(a + kHBM * kHBK, tb, (kt0 + kt) * (kHBK / 2), n0, &full[s]);
  }
}

// A consumer warpgroup's wgmmas over one tile's nk k-tiles, continuing at `step`. Each stage is
// handed back once the next step's wait has shown its wgmmas done; the last one is the caller's
// to hand back (after wgmma.wait_group 0) where the producer will wait for it.
template <int BN, int STAGES, int STAGE>
__device__ __forceinline__ void mmaTileF16(float (&acc)[BN / 2], unsigned char* tsm,
                                           unsigned long long* full, unsigned long long* empty,
                                           unsigned& step, int nk, int wg) {
  for (int kt = 0; kt < nk; ++kt, ++step) {
    const int s = static_cast<int>(step % STAGES);
    mbarWait(&full[s], (step / STAGES) & 1);
    mmaKTileF16<BN>(acc, tsm + s * STAGE, tsm + s * STAGE + kHBM * kHBK, wg);
    if (kt > 0) mbarArrive(&empty[(step - 1) % STAGES]);
  }
}

// Rows [0, rows) of a staged tile (`ld` floats per row) to the output, from pixel p0 and channel
// n0, by threads t of nt.
template <int A, int BN>
__device__ __forceinline__ void storeTileF16(const EdgertConvMma& p, __half* y, const float* bias,
                                             const __half* res, const float* cs, int ld, int p0,
                                             int n0, int rows, int t, int nt) {
  // p.m % 8 == 0: a pixel's eight channels are one 16-byte vector of the output (and residual).
  for (int i = t; i < rows * (BN / 8); i += nt) {
    const int r = i / (BN / 8), c = (i % (BN / 8)) * 8;
    if (p0 + r >= p.rows || n0 + c >= p.m) continue;
    const float4 lo = *reinterpret_cast<const float4*>(cs + r * ld + c);
    const float4 hi = *reinterpret_cast<const float4*>(cs + r * ld + c + 4);
    float f[8] = {lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w};
    storeOut8<A>(p, y, bias, res, p0 + r, n0 + c, f);
  }
}

template <int BN, bool IM2COL, int A, bool kCluster>
__device__ __forceinline__ void convF16Tma(const EdgertConvMma& p, const EdgertTmaConv& cv,
                                           __half* y, const float* bias, const __half* res,
                                           int ktiles, const CUtensorMap* ta,
                                           const CUtensorMap* tb) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using T = HalfTmaTile<BN>;
  extern __shared__ __align__(1024) unsigned char hsm_raw[];
  // The swizzle is a function of address bits 4-9: stages start on a 1024-byte boundary.
  unsigned char* const tsm = hsm_raw + ((1024 - (smemAddr(hsm_raw) & 1023)) & 1023);
  auto* const full = reinterpret_cast<unsigned long long*>(tsm + T::kStages * T::kStage);
  auto* const empty = full + T::kStages;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int p0 = blockIdx.x * kHBM, n0 = blockIdx.y * BN;
  // This block's k-tiles [kt0, kt0 + nk) (all of them unless split).
  const int kt0 = static_cast<int>(static_cast<long long>(ktiles) * blockIdx.z / gridDim.z);
  const int nk =
      static_cast<int>(static_cast<long long>(ktiles) * (blockIdx.z + 1) / gridDim.z) - kt0;
  initStageBarriers<T::kStages>(full, empty);
  if (warp == 8) {
    // The producer: one thread keeps up to kStages tiles in flight.
    if (lane == 0) {
      prefetchTensorMaps(ta, tb);
      unsigned step = 0;
      loadTileF16<T::kStages, T::kStage, IM2COL>(tsm, full, empty, step, p0, n0, kt0, nk, cv, ta,
                                                 tb);
    }
    return;
  }
  // The consumers: warpgroup wg computes rows 64 wg .. 64 wg + 63 of the tile.
  const int wg = warp >> 2;
  float acc[BN / 2];
#pragma unroll
  for (int i = 0; i < BN / 2; ++i) acc[i] = 0.f;
  unsigned step = 0;
  mmaTileF16<BN, T::kStages, T::kStage>(acc, tsm, full, empty, step, nk, wg);
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
  // Every stage has been read: the sums go through the stages' memory. Named barrier 1: the
  // 256 consumer threads only.
  asm volatile("bar.sync 1, 256;\n" ::: "memory");
  float* const cs = reinterpret_cast<float*>(tsm);
  stageWgmmaAcc<BN>(cs, T::kCRow, acc, wg, warp, lane);
  asm volatile("bar.sync 1, 256;\n" ::: "memory");
  if constexpr (kCluster) {
    // The producer warps have exited: the cluster barriers wait for the threads that have not.
    clusterSumStore<A, BN>(p, y, bias, res, cs, T::kCRow, kHBM, p0, n0, tid, 256);
  } else {
    storeTileF16<A, BN>(p, y, bias, res, cs, T::kCRow, p0, n0, kHBM, tid, 256);
  }
#else
  __trap();  // the host launches this kernel only from an sm_90a fatbin on sm_90
#endif
}

// The persistent variant (the INT8 path's tma-p shape): 2 x SMs blocks each walk output tiles
// blockIdx.x, + gridDim.x, ... (a pixel tile's channel tiles adjacent, so they share A in L2),
// the accumulators staged in their own shared memory rather than the stages', so the producer
// loads the next tile while the consumers run this one's epilogue; each warpgroup stages and
// stores its own 64 rows behind its own named barrier, so one's epilogue overlaps the other's
// wait for a stage. The non-persistent kernel serialised load, multiply and store in every block:
// at batch 128, where K is short (ResNet-50's layer1 3x3: nine k-tiles), the tensor cores idled
// through each block's fill and epilogue.
struct HalfTmaPersistTile {
  static constexpr int kBN = 64;
  static constexpr int kStage = (kHBM + kBN) * kHBK;
  static constexpr int kCRow = kBN + 8;
  static constexpr int kCBytes = kHBM * kCRow * 4;
  static constexpr int kStages = (EDGERT_CONV_TMA_P_SMEM - kCBytes - 1024 - 256) / kStage;
  static_assert(kStages >= 3, "a load in flight while a stage is read");
  static_assert(kCBytes % 1024 == 0 && kStage % 1024 == 0, "buffers stay 1024-byte aligned");
  static constexpr int kSmem = kStages * kStage + kCBytes + 1024 + 2 * kStages * 8;
  static_assert(kSmem <= EDGERT_CONV_TMA_P_SMEM, "the host's launch size");
};

template <bool IM2COL, int A>
__device__ __forceinline__ void convF16TmaPersistent(const EdgertConvMma& p,
                                                     const EdgertTmaConv& cv, __half* y,
                                                     const float* bias, const __half* res,
                                                     int ktiles, const CUtensorMap* ta,
                                                     const CUtensorMap* tb) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using T = HalfTmaPersistTile;
  constexpr int BN = T::kBN;
  extern __shared__ __align__(1024) unsigned char hsp_raw[];
  unsigned char* const tsm = hsp_raw + ((1024 - (smemAddr(hsp_raw) & 1023)) & 1023);
  float* const cs = reinterpret_cast<float*>(tsm + T::kStages * T::kStage);
  auto* const full =
      reinterpret_cast<unsigned long long*>(tsm + T::kStages * T::kStage + T::kCBytes);
  auto* const empty = full + T::kStages;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int ntn = (p.m + BN - 1) / BN;
  const int tiles = (p.rows + kHBM - 1) / kHBM * ntn;
  initStageBarriers<T::kStages>(full, empty);
  if (warp == 8) {
    if (lane == 0) {
      prefetchTensorMaps(ta, tb);
      unsigned step = 0;
      for (int t = blockIdx.x; t < tiles; t += gridDim.x)
        loadTileF16<T::kStages, T::kStage, IM2COL>(tsm, full, empty, step, t / ntn * kHBM,
                                                   t % ntn * BN, 0, ktiles, cv, ta, tb);
    }
    return;
  }
  const int wg = warp >> 2;
  unsigned step = 0;
  for (int t = blockIdx.x; t < tiles; t += gridDim.x) {
    const int p0 = t / ntn * kHBM, n0 = t % ntn * BN;
    float acc[BN / 2];
#pragma unroll
    for (int i = 0; i < BN / 2; ++i) acc[i] = 0.f;
    mmaTileF16<BN, T::kStages, T::kStage>(acc, tsm, full, empty, step, ktiles, wg);
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
    mbarArrive(&empty[(step - 1) % T::kStages]);  // the tile's last stage
    // This warpgroup's previous epilogue has read its rows (named barriers 2 and 3: each
    // warpgroup's 128 threads); then this tile's are staged and stored.
    asm volatile("bar.sync %0, 128;\n" ::"r"(2 + wg) : "memory");
    stageWgmmaAcc<BN>(cs, T::kCRow, acc, wg, warp, lane);
    asm volatile("bar.sync %0, 128;\n" ::"r"(2 + wg) : "memory");
    storeTileF16<A, BN>(p, y, bias, res, cs + wg * 64 * T::kCRow, T::kCRow, p0 + wg * 64, n0, 64,
                        tid & 127, 128);
  }
#else
  __trap();
#endif
}

}  // namespace

// The host picks these (tactics nhwc16-tma-n128 / -n64) for one group, C_out % 8 == 0, on
// sm_90: 288 threads (two consumer warpgroups, one producer warp), EDGERT_CONV_TMA_SMEM bytes
// of dynamic shared memory, a grid of (ceil(rows / 128), ceil(M / BN)); `ta` the input (a
// [rows][C] map of 64 x 128 boxes, or an im2col map of 64 channels x 128 pixels), `tb` the
// weights [ceil(M / 128) * 128][kp] in 64 x BN boxes, both 128-byte swizzled; `ktiles` = kp / 64.
// The _c kernels: a grid z extent of `splits` blocks launched as clusters of (1, 1, splits).
// _a0 clamp (identity, ReLU, Clip), _a1 SiLU, _a2 HardSwish.
#define EDGERT_CONV_F16_TMA(NAME, BN, IM2COL, A, CLUSTER)                                      \
  extern "C" __global__ void __launch_bounds__(288, 2)                                         \
      NAME(EdgertConvMma p, EdgertTmaConv cv, __half* y, const float* bias, const __half* res, \
           int ktiles, const __grid_constant__ CUtensorMap ta,                                 \
           const __grid_constant__ CUtensorMap tb) {                                           \
    convF16Tma<BN, IM2COL, A, CLUSTER>(p, cv, y, bias, res, ktiles, &ta, &tb);                 \
  }
#define EDGERT_CONV_F16_TMA_ACT(A)                                               \
  EDGERT_CONV_F16_TMA(edgert_conv_f16_tma_n128_a##A, 128, false, A, false)       \
  EDGERT_CONV_F16_TMA(edgert_conv_f16_tma_n64_a##A, 64, false, A, false)         \
  EDGERT_CONV_F16_TMA(edgert_conv_f16_tma_im2col_n128_a##A, 128, true, A, false) \
  EDGERT_CONV_F16_TMA(edgert_conv_f16_tma_im2col_n64_a##A, 64, true, A, false)   \
  EDGERT_CONV_F16_TMA(edgert_conv_f16_tma_n64_c_a##A, 64, false, A, true)        \
  EDGERT_CONV_F16_TMA(edgert_conv_f16_tma_im2col_n64_c_a##A, 64, true, A, true)
EDGERT_CONV_F16_TMA_ACT(0)
EDGERT_CONV_F16_TMA_ACT(1)
EDGERT_CONV_F16_TMA_ACT(2)
#undef EDGERT_CONV_F16_TMA_ACT
#undef EDGERT_CONV_F16_TMA

// The persistent kernels (tactic nhwc16-tma-p-n64): as above with 64-wide tiles, a 1-D grid of
// up to 2 x SMs blocks and EDGERT_CONV_TMA_P_SMEM bytes of dynamic shared memory.
#define EDGERT_CONV_F16_TMA_P(NAME, IM2COL, A)                                                 \
  extern "C" __global__ void __launch_bounds__(288, 2)                                         \
      NAME(EdgertConvMma p, EdgertTmaConv cv, __half* y, const float* bias, const __half* res, \
           int ktiles, const __grid_constant__ CUtensorMap ta,                                 \
           const __grid_constant__ CUtensorMap tb) {                                           \
    convF16TmaPersistent<IM2COL, A>(p, cv, y, bias, res, ktiles, &ta, &tb);                    \
  }
EDGERT_CONV_F16_TMA_P(edgert_conv_f16_tma_p_n64_a0, false, 0)
EDGERT_CONV_F16_TMA_P(edgert_conv_f16_tma_p_n64_a1, false, 1)
EDGERT_CONV_F16_TMA_P(edgert_conv_f16_tma_p_n64_a2, false, 2)
EDGERT_CONV_F16_TMA_P(edgert_conv_f16_tma_p_im2col_n64_a0, true, 0)
EDGERT_CONV_F16_TMA_P(edgert_conv_f16_tma_p_im2col_n64_a1, true, 1)
EDGERT_CONV_F16_TMA_P(edgert_conv_f16_tma_p_im2col_n64_a2, true, 2)
#undef EDGERT_CONV_F16_TMA_P
