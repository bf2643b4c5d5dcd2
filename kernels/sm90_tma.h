// Hopper (sm_90a) data movement the TMA-fed wgmma kernels share (int8_tma.cu, conv_f16_tma.cu):
// mbarrier hand-over, TMA tile and im2col copies, and the wgmma descriptor of the swizzled
// layout TMA writes. Outside sm_90a the copies compile to nothing (the host launches those
// kernels from an sm_90a fatbin on sm_90 only).
#pragma once

#include <cuda.h>  // CUtensorMap

#include <type_traits>

namespace {

__device__ __forceinline__ unsigned smemAddr(const void* p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

[[maybe_unused]] __device__ __forceinline__ void mbarInit(unsigned long long* b, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smemAddr(b)), "r"(count));
}

// Arrives once and announces `bytes` of TMA transactions the phase must also wait for.
[[maybe_unused]] __device__ __forceinline__ void mbarExpectTx(unsigned long long* b,
                                                              unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smemAddr(b)),
               "r"(bytes)
               : "memory");
}

[[maybe_unused]] __device__ __forceinline__ void mbarArrive(unsigned long long* b) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smemAddr(b)) : "memory");
}

// Until the phase of parity `parity` has completed.
[[maybe_unused]] __device__ __forceinline__ void mbarWait(unsigned long long* b, unsigned parity) {
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "WAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT;\n"
      "}\n" ::"r"(smemAddr(b)),
      "r"(parity)
      : "memory");
}

// The box at (c0 innermost, c1) of a 2-D tensor map into shared memory; completion is counted
// in bytes on `bar`. Out-of-range elements arrive as zeros (and are counted too).
[[maybe_unused]] __device__ __forceinline__ void tmaLoad2d(void* dst, const CUtensorMap* map,
                                                           int c0, int c1,
                                                           unsigned long long* bar) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%2, %3}], [%4];\n" ::"r"(smemAddr(dst)),
      "l"(reinterpret_cast<unsigned long long>(map)), "r"(c0), "r"(c1), "r"(smemAddr(bar))
      : "memory");
#endif
}

// The im2col box of one tap (offsets w, h) and channel block at (c, w, h, n): the map walks
// 128 filter positions from the (w, h, n) given, as the convolution's output pixels do.
[[maybe_unused]] __device__ __forceinline__ void tmaLoadIm2col(void* dst, const CUtensorMap* map,
                                                               int c, int w, int h, int n,
                                                               unsigned short off_w,
                                                               unsigned short off_h,
                                                               unsigned long long* bar) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.im2col.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%2, %3, %4, %5}], [%6], {%7, %8};\n" ::"r"(smemAddr(dst)),
      "l"(reinterpret_cast<unsigned long long>(map)), "r"(c), "r"(w), "r"(h), "r"(n),
      "r"(smemAddr(bar)), "h"(off_w), "h"(off_h)
      : "memory");
#endif
}

// A K-major operand in the swizzled layout TMA wrote: rows of BK bytes, 8-row groups 8 * BK
// bytes apart (SBO); the leading offset is unused when a row is one swizzle atom. Layout type
// (bits 62-63): 1 = 128-byte swizzle, 2 = 64-byte.
template <int BK>
__device__ __forceinline__ unsigned long long swizzledDesc(const void* smem) {
  const unsigned a = smemAddr(smem);
  return static_cast<unsigned long long>((a & 0x3FFFF) >> 4) | 1ULL << 16 |
         static_cast<unsigned long long>(8 * BK >> 4) << 32 |
         static_cast<unsigned long long>(BK == 128 ? 1 : 2) << 62;
}

// The stages' barriers, set up by one thread before the block splits into its roles.
template <int STAGES>
__device__ __forceinline__ void initStageBarriers(unsigned long long* full,
                                                  unsigned long long* empty) {
  if (threadIdx.x == 0) {
    for (int s = 0; s < STAGES; ++s) {
      mbarInit(&full[s], 1);     // the producer's arrival + the stage's bytes
      mbarInit(&empty[s], 256);  // every consumer thread, once its wgmmas have read the stage
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();
}

__device__ __forceinline__ void prefetchTensorMaps(const CUtensorMap* ta, const CUtensorMap* tb) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<unsigned long long>(ta))
               : "memory");
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<unsigned long long>(tb))
               : "memory");
}

// A warpgroup's m64nN accumulators (BN / 2 per thread: int for s8 wgmmas, float for f16 ones)
// into rows 64 wg .. 64 wg + 63 of the staged tile (`ld` elements per row). Layout as mma.sync's
// C fragments: warp w % 4 of the warpgroup holds rows 16 (w % 4) + lane / 4 (+ 8), n-tile j's
// columns 8 j + 2 (lane % 4) (+ 1).
template <int BN, typename T>
__device__ __forceinline__ void stageWgmmaAcc(T* cs, int ld, const T (&acc)[BN / 2], int wg,
                                              int warp, int lane) {
  using V2 = std::conditional_t<std::is_same_v<T, float>, float2, int2>;
  const int grp = lane >> 2, tig = lane & 3;
#pragma unroll
  for (int j = 0; j < BN / 8; ++j)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int r = wg * 64 + (warp & 3) * 16 + grp + h * 8, c = j * 8 + tig * 2;
      *reinterpret_cast<V2*>(cs + r * ld + c) = V2{acc[j * 4 + h * 2], acc[j * 4 + h * 2 + 1]};
    }
}

}  // namespace
