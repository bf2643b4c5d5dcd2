// Ampere (sm_80+) data movement the tensor-core kernels share: asynchronous global -> shared
// copies and ldmatrix fragment loads. Below sm_80 they compile to nothing (the host offers
// those kernels on sm_80 and newer only).
#pragma once

namespace {

__device__ __forceinline__ void cpAsync16(void* smem, const void* gmem, bool valid) {
#if __CUDA_ARCH__ >= 800
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem),
               "r"(valid ? 16 : 0));
#endif
}

// Four 8x16-byte matrices from shared memory (ldmatrix .x4): lane l gives the row address of
// matrix l / 8 and receives, of each matrix, 4 bytes of row l / 4 - exactly an s8 mma fragment
// (and, in 2-byte units, an f16 one).
__device__ __forceinline__ void ldmatrix4(unsigned (&r)[4], const void* smem) {
#if __CUDA_ARCH__ >= 800
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
#endif
}

}  // namespace
