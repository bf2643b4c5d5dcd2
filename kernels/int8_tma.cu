// ---- sm_90: INT8 convolution fed by the Tensor Memory Accelerator ----------------------------
// Included after int8.cu (one translation unit): the tile epilogue and the wgmma helpers are
// its. Session 11 measured the cp.async-fed wgmma kernel (int8-wgmma) at a plateau whatever its
// step depth or copy pattern: every thread computed addresses, copied, and waited at a block
// barrier each step, and the tensor cores read an unswizzled layout. This is the shape Hopper's
// own GEMMs use instead (CUTLASS's sm90 warp-specialised kernels): one producer warp issues TMA
// copies of whole tiles - no per-thread address work - into the 128-byte (or 64-byte) swizzled
// layout wgmma reads without bank conflicts, and stages are handed over by mbarriers, not
// __syncthreads: two consumer warpgroups (64 x 128 or 64 x 64 each) wait only for the stage
// they read.
// A 1x1 stride-1 unpadded convolution over NHWC int8 is a plain GEMM - A the [pixels][C] input,
// B the [Mw][Kp] weights - so both operands are 2-D tensor maps. Any other one-group
// convolution with C % 64 == 0 reads A through an im2col tensor map: TMA walks 128 output
// pixels' filter positions (strides, padding as zeros) for one tap and channel block per
// reduction step, the hardware doing the address work the cp.async kernels do per thread.
// The host encodes the maps.
#include <cuda.h>  // CUtensorMap (an opaque 128-byte parameter the driver encodes)

#include "sm90_tma.h"

namespace {

constexpr int kTBM = 128;

// BN 128 (two m64n128 warpgroups) or 64 (m64n64: 64-channel layers, or narrower tiles for
// more blocks). Stages fill 96 KiB whatever the shape: two blocks per SM.
template <int BK, int BN>
struct TmaTile {
  static_assert(BK == 64 || BK == 128, "one swizzle atom per row");
  static constexpr int kStage = (kTBM + BN) * BK;
  static constexpr int kStages = 98304 / kStage;
  static constexpr int kCRow = BN + 8;  // rows 8 banks apart: conflict-free staging
  static_assert(kTBM * kCRow * 4 <= kStages * kStage, "the accumulator tile fits the stages");
  // + 1 KiB to align the stages to the swizzle pattern's 1024-byte period, + the barriers.
  static constexpr int kSmem = kStages * kStage + 1024 + 2 * kStages * 8;
  static_assert(kSmem <= EDGERT_QCONV_TMA_SMEM, "the host's launch size");
};

// Warpgroup wg's wgmmas over one k-tile - its 64 rows of A at `a`, all of B at `b` (the stage's,
// after A's rows, or a k-tile kept resident) - committed; then waits for the previous step's
// group, whose stage the caller may hand back.
template <int BK, int BN>
__device__ __forceinline__ void mmaKTile(int (&acc)[BN / 2], const int8_t* a, const int8_t* b,
                                         int wg) {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
  for (int ks = 0; ks < BK / 32; ++ks)
    wgmmaN(acc, swizzledDesc<BK>(a + wg * 64 * BK + ks * 32), swizzledDesc<BK>(b + ks * 32));
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
  asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
}

template <int BK, int BN, bool IM2COL>
__device__ __forceinline__ void qconvTma(void* y, const EdgertQEpi& e, long long row0,
                                         long long rows, int ktiles, const EdgertTmaConv& cv,
                                         const CUtensorMap* ta, const CUtensorMap* tb) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using T = TmaTile<BK, BN>;
  extern __shared__ __align__(1024) int8_t tsm_raw[];
  // The swizzle is a function of address bits 4-9: stages start on a 1024-byte boundary.
  int8_t* const tsm = tsm_raw + ((1024 - (smemAddr(tsm_raw) & 1023)) & 1023);
  auto* const full = reinterpret_cast<unsigned long long*>(tsm + T::kStages * T::kStage);
  auto* const empty = full + T::kStages;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const long long p0 = blockIdx.x * static_cast<long long>(kTBM);
  const int n0 = blockIdx.y * BN;
  initStageBarriers<T::kStages>(full, empty);
  if (warp == 8) {
    // The producer: one thread keeps up to kStages tiles in flight.
    if (lane == 0) {
      prefetchTensorMaps(ta, tb);
      // im2col: the tile's first output pixel as the top-left of its filter window, and the
      // reduction position (tap kh, kw; channel block cb) stepped per tile, k = tap * C + c.
      int img = 0, w0 = 0, h0 = 0, cb = 0, tkw = 0, tkh = 0;
      if constexpr (IM2COL) {
        const int q = static_cast<int>(p0), orow = q / cv.ow, ow = q - orow * cv.ow;
        img = orow / cv.oh;
        const int oh = orow - img * cv.oh;
        w0 = ow * cv.sw - cv.pw;
        h0 = oh * cv.sh - cv.ph;
      }
      for (int kt = 0; kt < ktiles; ++kt) {
        const int s = kt % T::kStages;
        if (kt >= T::kStages) mbarWait(&empty[s], (kt / T::kStages - 1) & 1);
        int8_t* const a = tsm + s * T::kStage;
        mbarExpectTx(&full[s], T::kStage);
        if constexpr (IM2COL) {
          tmaLoadIm2col(a, ta, cb * BK, w0, h0, img, static_cast<unsigned short>(tkw * cv.dw),
                        static_cast<unsigned short>(tkh * cv.dh), &full[s]);
          if (++cb == cv.cblocks) {
            cb = 0;
            if (++tkw == cv.kw) tkw = 0, ++tkh;
          }
        } else {
          tmaLoad2d(a, ta, kt * BK, static_cast<int>(p0), &full[s]);
        }
        tmaLoad2d(a + kTBM * BK, tb, kt * BK, n0, &full[s]);
      }
    }
    return;
  }
  // The consumers: warpgroup wg computes rows 64 wg .. 64 wg + 63 of the tile.
  const int wg = warp >> 2;
  int acc[BN / 2];
#pragma unroll
  for (int i = 0; i < BN / 2; ++i) acc[i] = 0;
  for (int kt = 0; kt < ktiles; ++kt) {
    const int s = kt % T::kStages;
    mbarWait(&full[s], (kt / T::kStages) & 1);
    mmaKTile<BK, BN>(acc, tsm + s * T::kStage, tsm + s * T::kStage + kTBM * BK, wg);
    // The previous step's wgmmas are done with their stage: hand it back to the producer.
    if (kt > 0) mbarArrive(&empty[(kt - 1) % T::kStages]);
  }
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
  // Every stage has been read (each consumer waited for every tile): the accumulators go
  // through the stages' memory. Named barrier 1: the 256 consumer threads only.
  asm volatile("bar.sync 1, 256;\n" ::: "memory");
  int* cs = reinterpret_cast<int*>(tsm);
  stageWgmmaAcc<BN>(cs, T::kCRow, acc, wg, warp, lane);
  asm volatile("bar.sync 1, 256;\n" ::: "memory");
  epilogueTile<kTBM, BN, 8>(cs, T::kCRow, e, p0, n0, rows, row0, y);
#else
  __trap();  // the host launches this kernel only from an sm_90a fatbin on sm_90
#endif
}

// The persistent variant: 2 x SMs blocks each walk tiles blockIdx.x, + gridDim.x, ... (the N
// tiles of a pixel tile adjacent, so they share A in L2), and the accumulators are staged in
// their own shared memory, not the stages', so the producer loads the next tile while the
// consumers run this one's epilogue. For the short-reduction layers (ResNet-50's layer1 1x1
// convolutions: one 64-deep k-tile per tile) the non-persistent kernel serialised load,
// multiply and epilogue in every block, the memory latency of each in turn.
// Each consumer warpgroup stages and finishes its own 64 rows, synchronised with its own named
// barrier only: the two drift apart, so one's epilogue overlaps the other's wait for a stage
// (one 256-thread barrier per tile kept both waiting for the slower). An int8 residual tile is
// loaded by the producer with the operands, by TMA into one of two residual buffers, so the
// epilogue reads it from shared memory instead of waiting on global memory for it.
// BRES (layers of one channel tile, M <= BN, K <= EDGERT_QCONV_TMA_PB_MAX_KTILES x 64, no int8
// residual): all of B is loaded once and stays in shared memory, and the stages carry only A.
// A block otherwise re-read the weights with every pixel tile: a third of the stem's and of
// layer1's 3x3 convolutions' operand traffic through L2 on ResNet-50.
template <int BN, bool BRES>
struct TmaPersistTile {
  static constexpr int kBK = 64;
  static constexpr int kStage = (BRES ? kTBM : kTBM + BN) * kBK;
  static constexpr int kCRow = BN + 8;  // rows 8 banks apart: conflict-free staging
  static constexpr int kCBytes = kTBM * kCRow * 4;
  static constexpr int kRBytes = BRES ? 0 : kTBM * BN;  // one int8 residual tile
  static constexpr int kBTile = BN * kBK;
  static constexpr int kStages =
      BRES ? 4 : (EDGERT_QCONV_TMA_P_SMEM - kCBytes - 2 * kRBytes - 1024 - 256) / kStage;
  static constexpr int kBTiles =
      BRES ? (EDGERT_QCONV_TMA_P_SMEM - kStages * kStage - kCBytes - 1024 - 256) / kBTile : 0;
  static_assert(kStages >= 2, "double buffering at least");
  static_assert(!BRES || kBTiles >= EDGERT_QCONV_TMA_PB_MAX_KTILES, "the host's bound");
  static_assert(kCBytes % 1024 == 0 && kRBytes % 1024 == 0 && kStage % 1024 == 0,
                "buffers stay 1024-byte aligned");
  static constexpr int kSmem =
      kStages * kStage + kCBytes + 2 * kRBytes + kBTiles * kBTile + 1024 + 2 * 8 * 8;
  static_assert(kSmem <= EDGERT_QCONV_TMA_P_SMEM, "the host's launch size");
};

template <int BN, bool IM2COL, bool BRES, int RK, int ACT>
__device__ __forceinline__ void qconvTmaPersistent(void* y, const EdgertQEpi& e, long long rows,
                                                   int ktiles, const EdgertTmaConv& cv,
                                                   const CUtensorMap* ta, const CUtensorMap* tb,
                                                   const CUtensorMap* tr) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  using T = TmaPersistTile<BN, BRES>;
  constexpr int BK = T::kBK;
  // int8 residuals arrive through shared memory (the host encodes `tr` for them).
  constexpr bool kResTma = RK == kQResS8 && !BRES;
  extern __shared__ __align__(1024) int8_t tsm_raw[];
  int8_t* const tsm = tsm_raw + ((1024 - (smemAddr(tsm_raw) & 1023)) & 1023);
  int* const cs = reinterpret_cast<int*>(tsm + T::kStages * T::kStage);
  int8_t* const rbuf = tsm + T::kStages * T::kStage + T::kCBytes;
  int8_t* const bsm = rbuf + 2 * T::kRBytes;  // BRES: the resident B k-tiles
  auto* const full = reinterpret_cast<unsigned long long*>(bsm + T::kBTiles * T::kBTile);
  auto* const empty = full + T::kStages;
  auto* const rfull = empty + T::kStages;  // [2]: a residual tile has arrived
  auto* const rempty = rfull + 2;          // [2]: both warpgroups' epilogues have read it
  auto* const bfull = rempty + 2;          // BRES: all of B has arrived
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int ntn = (e.m + BN - 1) / BN;
  const long long tiles = (rows + kTBM - 1) / kTBM * ntn;
  if (tid == 0 && kResTma)
    for (int i = 0; i < 2; ++i) mbarInit(&rfull[i], 1), mbarInit(&rempty[i], 256);
  if (tid == 0 && BRES) mbarInit(bfull, 1);
  initStageBarriers<T::kStages>(full, empty);  // fences and syncs the residual barriers too
  if (warp == 8) {
    if (lane == 0) {
      prefetchTensorMaps(ta, tb);
      if constexpr (BRES) {
        mbarExpectTx(bfull, ktiles * T::kBTile);
        for (int kt = 0; kt < ktiles; ++kt) tmaLoad2d(bsm + kt * T::kBTile, tb, kt * BK, 0, bfull);
      }
      unsigned step = 0;  // over all of the block's k-tiles: stage step % kStages
      unsigned ti = 0;    // the block's tiles: residual buffer ti % 2
      // The loads of qconvTma's producer, per tile. (Moved into one shared helper, the cursor's
      // steps changed the im2col kernels' generated code, which wants a GPU run to land.)
      for (long long t = blockIdx.x; t < tiles; t += gridDim.x, ++ti) {
        const long long p0 = t / ntn * kTBM;
        const int n0 = static_cast<int>(t % ntn) * BN;
        int img = 0, w0 = 0, h0 = 0, cb = 0, tkw = 0, tkh = 0;
        if constexpr (IM2COL) {
          const int q = static_cast<int>(p0), orow = q / cv.ow, ow = q - orow * cv.ow;
          img = orow / cv.oh;
          const int oh = orow - img * cv.oh;
          w0 = ow * cv.sw - cv.pw;
          h0 = oh * cv.sh - cv.ph;
        }
        for (int kt = 0; kt < ktiles; ++kt, ++step) {
          const int s = static_cast<int>(step % T::kStages);
          if (step >= T::kStages) mbarWait(&empty[s], (step / T::kStages - 1) & 1);
          int8_t* const a = tsm + s * T::kStage;
          mbarExpectTx(&full[s], T::kStage);
          if constexpr (IM2COL) {
            tmaLoadIm2col(a, ta, cb * BK, w0, h0, img, static_cast<unsigned short>(tkw * cv.dw),
                          static_cast<unsigned short>(tkh * cv.dh), &full[s]);
            if (++cb == cv.cblocks) {
              cb = 0;
              if (++tkw == cv.kw) tkw = 0, ++tkh;
            }
          } else {
            tmaLoad2d(a, ta, kt * BK, static_cast<int>(p0), &full[s]);
          }
          if constexpr (!BRES) tmaLoad2d(a + kTBM * BK, tb, kt * BK, n0, &full[s]);
          // The residual tile after the tile's first operands (needed later than they are).
          if (kResTma && kt == 0) {
            const unsigned r = ti & 1;
            if (ti >= 2) mbarWait(&rempty[r], ((ti >> 1) - 1) & 1);
            mbarExpectTx(&rfull[r], T::kRBytes);
            tmaLoad2d(rbuf + r * T::kRBytes, tr, n0, static_cast<int>(p0), &rfull[r]);
          }
        }
      }
    }
    return;
  }
  const int wg = warp >> 2;
  unsigned step = 0, ti = 0;
  int* const csw = cs + wg * 64 * T::kCRow;  // the warpgroup's 64 rows
  if constexpr (BRES) mbarWait(bfull, 0);
  for (long long t = blockIdx.x; t < tiles; t += gridDim.x, ++ti) {
    const long long p0 = t / ntn * kTBM;
    const int n0 = static_cast<int>(t % ntn) * BN;
    int acc[BN / 2];
#pragma unroll
    for (int i = 0; i < BN / 2; ++i) acc[i] = 0;
    for (int kt = 0; kt < ktiles; ++kt, ++step) {
      const int s = static_cast<int>(step % T::kStages);
      mbarWait(&full[s], (step / T::kStages) & 1);
      int8_t* const a = tsm + s * T::kStage;
      mmaKTile<BK, BN>(acc, a, BRES ? bsm + kt * T::kBTile : a + kTBM * BK, wg);
      if (kt > 0) mbarArrive(&empty[(step - 1) % T::kStages]);
    }
    asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
    mbarArrive(&empty[(step - 1) % T::kStages]);  // the tile's last stage
    // This warpgroup's previous epilogue has read its rows (named barriers 2 and 3: the
    // warpgroups' 128 threads each); then this tile's are staged and read.
    asm volatile("bar.sync %0, 128;\n" ::"r"(2 + wg) : "memory");
    stageWgmmaAcc<BN>(cs, T::kCRow, acc, wg, warp, lane);
    asm volatile("bar.sync %0, 128;\n" ::"r"(2 + wg) : "memory");
    if constexpr (kResTma) {
      const unsigned r = ti & 1;
      mbarWait(&rfull[r], (ti >> 1) & 1);
      epilogueTile<64, BN, 4, kQResS8Smem, ACT>(csw, T::kCRow, e, p0 + wg * 64, n0, rows, 0, y,
                                                rbuf + r * T::kRBytes + wg * 64 * BN);
      mbarArrive(&rempty[r]);
    } else {
      epilogueTile<64, BN, 4, RK, ACT>(csw, T::kCRow, e, p0 + wg * 64, n0, rows, 0, y);
    }
  }
#else
  __trap();
#endif
}

// One kernel body per activation and residual kind: with the epilogue's variants inside the
// tile loop, their registers and the loop's spilled (1.7 KB a thread).
template <int BN, bool IM2COL, bool BRES>
__device__ __forceinline__ void qconvTmaPersistent(void* y, const EdgertQEpi& e, long long rows,
                                                   int ktiles, const EdgertTmaConv& cv,
                                                   const CUtensorMap* ta, const CUtensorMap* tb,
                                                   const CUtensorMap* tr) {
  withAct(e, [&](auto act) {
    constexpr int A = decltype(act)::value;
    switch (e.res_kind) {
      case kQResS8:
        return qconvTmaPersistent<BN, IM2COL, BRES, kQResS8, A>(y, e, rows, ktiles, cv, ta, tb, tr);
      case kQResF16:
        return qconvTmaPersistent<BN, IM2COL, BRES, kQResF16, A>(y, e, rows, ktiles, cv, ta, tb,
                                                                 tr);
      case kQResF32:
        return qconvTmaPersistent<BN, IM2COL, BRES, kQResF32, A>(y, e, rows, ktiles, cv, ta, tb,
                                                                 tr);
      default:
        return qconvTmaPersistent<BN, IM2COL, BRES, kQResNone, A>(y, e, rows, ktiles, cv, ta, tb,
                                                                  tr);
    }
  });
}

}  // namespace

// `tr`: the int8 residual [rows][M] as a 2-D map of 128 x BN boxes (read only when the
// residual is int8).
#define EDGERT_QCONV_TMA_P(NAME, BN, IM2COL, BRES)                                         \
  extern "C" __global__ void __launch_bounds__(288, 2)                                     \
      NAME(void* y, EdgertQEpi e, long long rows, int ktiles, EdgertTmaConv cv,            \
           const __grid_constant__ CUtensorMap ta, const __grid_constant__ CUtensorMap tb, \
           const __grid_constant__ CUtensorMap tr) {                                       \
    qconvTmaPersistent<BN, IM2COL, BRES>(y, e, rows, ktiles, cv, &ta, &tb, &tr);           \
  }
// 64-channel tiles only: with 128 (its 64 accumulators a thread live across the tile loop)
// ptxas spilled 224 bytes a thread under the two-blocks-per-SM register cap.
EDGERT_QCONV_TMA_P(edgert_qconv_tma_p_k64_n64, 64, false, false)
EDGERT_QCONV_TMA_P(edgert_qconv_tma_p_im2col_k64_n64, 64, true, false)
// B resident (one channel tile: M <= 64).
EDGERT_QCONV_TMA_P(edgert_qconv_tma_pb_k64_n64, 64, false, true)
EDGERT_QCONV_TMA_P(edgert_qconv_tma_pb_im2col_k64_n64, 64, true, true)

// Two blocks of 288 threads (two consumer warpgroups, one producer warp) per SM.
#define EDGERT_QCONV_TMA(NAME, BK, BN, IM2COL)                                                  \
  extern "C" __global__ void __launch_bounds__(288, 2)                                          \
      NAME(void* y, EdgertQEpi e, long long row0, long long rows, int ktiles, EdgertTmaConv cv, \
           const __grid_constant__ CUtensorMap ta, const __grid_constant__ CUtensorMap tb) {    \
    qconvTma<BK, BN, IM2COL>(y, e, row0, rows, ktiles, cv, &ta, &tb);                           \
  }
EDGERT_QCONV_TMA(edgert_qconv_tma_k128, 128, 128, false)
EDGERT_QCONV_TMA(edgert_qconv_tma_k64, 64, 128, false)
EDGERT_QCONV_TMA(edgert_qconv_tma_im2col_k128, 128, 128, true)
EDGERT_QCONV_TMA(edgert_qconv_tma_im2col_k64, 64, 128, true)
EDGERT_QCONV_TMA(edgert_qconv_tma_k128_n64, 128, 64, false)
EDGERT_QCONV_TMA(edgert_qconv_tma_k64_n64, 64, 64, false)
EDGERT_QCONV_TMA(edgert_qconv_tma_im2col_k128_n64, 128, 64, true)
EDGERT_QCONV_TMA(edgert_qconv_tma_im2col_k64_n64, 64, 64, true)
