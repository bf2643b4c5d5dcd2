#include "sgemm.h"

#include <algorithm>
#include <vector>

#ifdef EDGERT_HAVE_CBLAS
#include <cblas.h>
#endif

namespace edgert::cpu {

#ifdef EDGERT_HAVE_CBLAS
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
              static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
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
