// Single-precision GEMM for the CPU backend: OpenBLAS when the build found it, otherwise
// a cache-blocked fallback so the reference backend builds with a bare compiler.
#pragma once

#include <cstdint>

namespace edgert::cpu {

// Row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Which implementation is compiled in ("openblas" or "builtin").
const char* sgemmImplementation();

}  // namespace edgert::cpu
