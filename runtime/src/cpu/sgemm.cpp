#include "sgemm.h"

#include "thread_pool.h"

#include <algorithm>
#include <vector>

#ifdef EDGERT_HAVE_CBLAS
#include <cblas.h>
#endif

namespace edgert::cpu {

#ifdef EDGERT_HAVE_CBLAS
namespace {

void blas(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
              static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

}  // namespace

// OpenBLAS runs single-threaded inside edgert's own pool: its worker threads yield-spin after
// each call (sched_yield), and beside the pool's threads on a small CPU they took 40% of the
// PP-OCRv4 detector's time. A large product is cut into slices of C of fixed sizes (256
// columns, or 64 rows), the same whatever the thread count: OpenBLAS picks its kernel by the
// shape it is given, so slices that followed the thread count changed the last bits with it
// (EfficientNet-Lite0's classifier head did).
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  static const bool single = (openblas_set_num_threads(1), true);
  (void)single;
  const double flops =
      2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  // Small products stay whole unless B is large: a classifier head (1 x 1280 by 1280 x 1000) is
  // 2.6 MFLOP but 5 MB of weights to stream, which two cores read faster.
  const double b_bytes = 4.0 * static_cast<double>(k) * static_cast<double>(n);
  if (flops < 4e6 && b_bytes < (1 << 20))
    return blas(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (n >= m) {
    constexpr int64_t kCols = 256;
    parallelFor((n + kCols - 1) / kCols, 1, [&](int, int64_t u0, int64_t u1) {
      for (int64_t u = u0; u < u1; ++u) {
        const int64_t n0 = u * kCols, n1 = std::min(n, n0 + kCols);
        blas(trans_a, trans_b, m, n1 - n0, k, alpha, a, lda, trans_b ? b + n0 * ldb : b + n0, ldb,
             beta, c + n0, ldc);
      }
    });
  } else {
    constexpr int64_t kRows = 64;
    parallelFor((m + kRows - 1) / kRows, 1, [&](int, int64_t u0, int64_t u1) {
      for (int64_t u = u0; u < u1; ++u) {
        const int64_t m0 = u * kRows, m1 = std::min(m, m0 + kRows);
        blas(trans_a, trans_b, m1 - m0, n, k, alpha, trans_a ? a + m0 : a + m0 * lda, lda, b, ldb,
             beta, c + m0 * ldc, ldc);
      }
    });
  }
}
const char* sgemmImplementation() {
  return "openblas";
}
#else
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    float* crow = c + i * ldc;
    if (beta == 0.f)
      std::fill(crow, crow + n, 0.f);
    else if (beta != 1.f)
      for (int64_t j = 0; j < n; ++j) crow[j] *= beta;
  }
  constexpr int64_t kBlock = 64;
  for (int64_t p0 = 0; p0 < k; p0 += kBlock) {
    const int64_t p1 = std::min(k, p0 + kBlock);
    for (int64_t i = 0; i < m; ++i) {
      float* crow = c + i * ldc;
      for (int64_t p = p0; p < p1; ++p) {
        const float av = alpha * (trans_a ? a[p * lda + i] : a[i * lda + p]);
        if (av == 0.f) continue;
        if (!trans_b) {
          const float* brow = b + p * ldb;
          for (int64_t j = 0; j < n; ++j) crow[j] += av * brow[j];
        } else {
          for (int64_t j = 0; j < n; ++j) crow[j] += av * b[j * ldb + p];
        }
      }
    }
  }
}
const char* sgemmImplementation() {
  return "builtin";
}
#endif

}  // namespace edgert::cpu
