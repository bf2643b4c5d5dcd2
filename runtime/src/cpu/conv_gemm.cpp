#include "conv_gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "thread_pool.h"

#if defined(__x86_64__)
#include <immintrin.h>
// GCC 12's AVX-512 max / min intrinsics pass an _mm512_undefined_ps() it then warns about.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace edgert::cpu {
namespace {

constexpr int kMR = 12;  // output channels per register tile: 24 of the 32 zmm accumulate
constexpr int kNR = 32;  // pixels per register tile (two zmm)
// Depth of a block: a 12-channel slice of it (12 KiB) stays in L1 while the kernel walks the
// block's column panels.
constexpr int64_t kKC = 256;
// Columns of a block: 256 x 1024 floats is 1 MiB, half a core's L2 on the machines measured.
constexpr int64_t kNC = 1024;

int64_t ceilDiv(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// First output index o >= 0 with o * s + off >= lo.
int64_t firstValid(int64_t off, int64_t s, int64_t lo) {
  const int64_t num = lo - off;
  return num <= 0 ? 0 : (num + s - 1) / s;
}

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};

#if defined(__x86_64__)
// Packs rows [k0, k0 + kc) and columns [n0, n0 + ncols) of the image's im2col matrix into
// panels of kNR columns (dst[panel][kk][lane]), zero past the last column. A panel's 32 lanes
// cover one or more runs of an output row; each run is one masked load per 16 lanes (a
// gather where the stride is not 1), the lanes whose window falls in the padding masked off.
__attribute__((target("avx512f"))) void packColumns(const ConvGemmGeometry& g, const float* x,
                                                    int64_t n0, int64_t ncols, int64_t k0,
                                                    int64_t kc, float* dst) {
  constexpr int64_t kMaxPanels = kNC / kNR;
  const int64_t kvol = g.kh * g.kw, npanels = ceilDiv(ncols, kNR);
  int64_t first_oh[kMaxPanels], first_ow[kMaxPanels];
  for (int64_t p = 0; p < npanels; ++p)
    first_oh[p] = (n0 + p * kNR) / g.OW, first_ow[p] = (n0 + p * kNR) % g.OW;
  const __m512i lane_stride =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(static_cast<int>(g.sw)));
  for (int64_t kk = 0; kk < kc; ++kk) {
    const int64_t k = k0 + kk, ch = k / kvol, i = k % kvol / g.kw, j = k % g.kw;
    const float* xc = x + ch * g.H * g.W;
    const int64_t base = j * g.dw - g.pad_left;  // input column = ow * sw + base
    const int64_t valid0 = std::min(g.OW, firstValid(base, g.sw, 0));
    const int64_t valid1 = std::max(valid0, std::min(g.OW, firstValid(base, g.sw, g.W)));
    for (int64_t p = 0; p < npanels; ++p) {
      __m512 v[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
      const int64_t lanes = std::min<int64_t>(kNR, ncols - p * kNR);
      int64_t oh = first_oh[p], ow = first_ow[p];
      for (int64_t l = 0; l < lanes; ow = 0, ++oh) {
        const int64_t run = std::min(g.OW - ow, lanes - l), lane0 = l;
        l += run;
        const int64_t ih = oh * g.sh - g.pad_top + i * g.dh;
        if (ih < 0 || ih >= g.H) continue;
        // Lanes [a, b) read the input; lane t reads column (ow + t - lane0) * sw + base.
        const int64_t a = lane0 + std::max<int64_t>(0, valid0 - ow);
        const int64_t b = lane0 + std::min<int64_t>(run, valid1 - ow);
        if (a >= b) continue;
        const uint32_t mask =
            static_cast<uint32_t>((b >= 32 ? ~0ull : (1ull << b) - 1) & ~((1ull << a) - 1));
        const float* src = xc + ih * g.W + (ow - lane0) * g.sw + base;  // lane 0's column
        for (int h = 0; h < 2; ++h) {
          const __mmask16 m = static_cast<__mmask16>(mask >> (16 * h));
          if (!m) continue;
          const float* s16 = src + 16 * h * g.sw;
          v[h] = g.sw == 1 ? _mm512_mask_loadu_ps(v[h], m, s16)
                           : _mm512_mask_i32gather_ps(v[h], m, lane_stride, s16, 4);
        }
      }
      float* d = dst + (p * kc + kk) * kNR;
      _mm512_store_ps(d, v[0]);
      _mm512_store_ps(d + 16, v[1]);
    }
  }
}
#else
void packColumns(const ConvGemmGeometry&, const float*, int64_t, int64_t, int64_t, int64_t,
                 float*) {
  std::abort();  // available() is false: never called
}
#endif

struct TileEpilogue {
  const float* bias;      // at the tile's first channel, or null
  const float* residual;  // at the tile's first output, or null
  ConvGemmEpilogue::Act act;
  float lo, hi;
};

#if defined(__x86_64__)
// C[mr x nr] (ldc apart) = [C +] A[kc x 12] * B[kc x 32], then the epilogue when `e` is set.
// One fused multiply-add chain per output in the order of k.
__attribute__((target("avx512f"))) void tile12x32(int64_t kc, const float* a, const float* b,
                                                  float* c, int64_t ldc, int mr, int nr,
                                                  bool accumulate, const TileEpilogue* e) {
  const __mmask16 m0 = nr >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << nr) - 1);
  const __mmask16 m1 =
      nr <= 16 ? 0 : (nr >= 32 ? 0xFFFF : static_cast<__mmask16>((1u << (nr - 16)) - 1));
  __m512 c0[kMR], c1[kMR];
#pragma GCC unroll 12
  for (int r = 0; r < kMR; ++r) {
    if (accumulate && r < mr) {
      c0[r] = _mm512_maskz_loadu_ps(m0, c + r * ldc);
      c1[r] = _mm512_maskz_loadu_ps(m1, c + r * ldc + 16);
    } else {
      c0[r] = _mm512_setzero_ps();
      c1[r] = _mm512_setzero_ps();
    }
  }
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
    for (int r = 0; r < kMR; ++r) {
      const __m512 av = _mm512_set1_ps(a[r]);
      c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
    }
    a += kMR, b += kNR;
  }
#pragma GCC unroll 12
  for (int r = 0; r < kMR; ++r) {
    if (r >= mr) break;
    __m512 v0 = c0[r], v1 = c1[r];
    if (e) {
      if (e->bias && e->bias[r] != 0.f) {
        const __m512 bb = _mm512_set1_ps(e->bias[r]);
        v0 = _mm512_add_ps(v0, bb), v1 = _mm512_add_ps(v1, bb);
      }
      if (e->residual) {
        v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, e->residual + r * ldc));
        v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, e->residual + r * ldc + 16));
      }
      // max / min return their second operand on NaN or equal values: as conv.cpp's
      // `y > 0 ? y : 0` and `min(hi, max(lo, y))`.
      if (e->act == ConvGemmEpilogue::Act::kRelu) {
        v0 = _mm512_max_ps(v0, _mm512_setzero_ps()), v1 = _mm512_max_ps(v1, _mm512_setzero_ps());
      } else if (e->act == ConvGemmEpilogue::Act::kClip) {
        const __m512 lo = _mm512_set1_ps(e->lo), hi = _mm512_set1_ps(e->hi);
        v0 = _mm512_min_ps(_mm512_max_ps(v0, lo), hi),
        v1 = _mm512_min_ps(_mm512_max_ps(v1, lo), hi);
      }
    }
    _mm512_mask_storeu_ps(c + r * ldc, m0, v0);
    _mm512_mask_storeu_ps(c + r * ldc + 16, m1, v1);
  }
}
#else
void tile12x32(int64_t, const float*, const float*, float*, int64_t, int, int, bool,
               const TileEpilogue*) {
  std::abort();  // available() is false: never called
}
#endif

}  // namespace

struct ConvGemm::Impl {
  ConvGemmGeometry g;
  int64_t groups = 1, mg = 0, K = 0, N = 0, panels = 0, kc = 0;
  int threads = 1;
  std::unique_ptr<float, FreeDeleter> a;  // [groups][panels][K][kMR]

  size_t blockFloats() const { return static_cast<size_t>(kc * kNC); }

  // Columns [n0, n1) of output channel panels [p0, p1) of one group.
  void runRange(const float* x, float* y, const float* ag, const ConvGemmEpilogue& epi,
                const float* bias, const float* residual, int64_t n0, int64_t n1, int64_t p0,
                int64_t p1, float* block) const {
    for (int64_t nb = n0; nb < n1; nb += kNC) {
      const int64_t ncols = std::min(kNC, n1 - nb), npanels = ceilDiv(ncols, kNR);
      for (int64_t k0 = 0; k0 < K; k0 += kc) {
        const int64_t kcur = std::min(kc, K - k0);
        packColumns(g, x, nb, ncols, k0, kcur, block);
        const bool last = k0 + kcur == K;
        for (int64_t p = p0; p < p1; ++p) {
          const int64_t m0 = p * kMR;
          const int mr = static_cast<int>(std::min<int64_t>(kMR, mg - m0));
          const float* ap = ag + (p * K + k0) * kMR;
          for (int64_t jp = 0; jp < npanels; ++jp) {
            const int64_t col = nb + jp * kNR;
            const int nr = static_cast<int>(std::min<int64_t>(kNR, nb + ncols - col));
            TileEpilogue te{bias ? bias + m0 : nullptr,
                            residual ? residual + m0 * N + col : nullptr, epi.act, epi.lo, epi.hi};
            tile12x32(kcur, ap, block + jp * kcur * kNR, y + m0 * N + col, N, mr, nr, k0 > 0,
                      last ? &te : nullptr);
          }
        }
      }
    }
  }
};

bool ConvGemm::available() {
#if defined(__x86_64__)
  static const bool ok = [] {
    const char* env = std::getenv("EDGERT_CPU_CONV_GEMM");
    if (env && std::strcmp(env, "0") == 0) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return ok;
#else
  return false;
#endif
}

ConvGemm::ConvGemm(const ConvGemmGeometry& g, int64_t groups, int64_t out_per_group,
                   const float* weights)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.g = g;
  s.groups = groups;
  s.mg = out_per_group;
  s.K = g.channels * g.kh * g.kw;
  s.N = g.OH * g.OW;
  s.panels = ceilDiv(s.mg, kMR);
  s.kc = ceilDiv(s.K, ceilDiv(s.K, kKC));  // equal blocks: no thin last one
  s.threads = cpuThreads();
  const size_t n = static_cast<size_t>(groups * s.panels * s.K * kMR);
  s.a.reset(static_cast<float*>(std::aligned_alloc(64, ceilDiv(n * sizeof(float), 64) * 64)));
  if (!s.a) throw std::bad_alloc();
  float* dst = s.a.get();
  for (int64_t grp = 0; grp < groups; ++grp)
    for (int64_t p = 0; p < s.panels; ++p)
      for (int64_t k = 0; k < s.K; ++k)
        for (int r = 0; r < kMR; ++r) {
          const int64_t m = p * kMR + r;
          *dst++ = m < s.mg ? weights[(grp * s.mg + m) * s.K + k] : 0.f;
        }
}

ConvGemm::~ConvGemm() = default;

size_t ConvGemm::scratchBytes() const {
  return (impl_->blockFloats() * static_cast<size_t>(impl_->threads)) * sizeof(float) + 64;
}

size_t ConvGemm::packedBytes() const {
  return static_cast<size_t>(impl_->groups * impl_->panels * impl_->K * kMR) * sizeof(float);
}

void ConvGemm::run(const float* x, float* y, const ConvGemmEpilogue& epi, void* scratch) const {
  const Impl& s = *impl_;
  float* blocks =
      reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch) + 63) & ~uintptr_t{63});
  const int64_t col_panels = ceilDiv(s.N, kNR);
  const double panel_flops = 2.0 * static_cast<double>(s.mg * s.K) * kNR;
  for (int64_t grp = 0; grp < s.groups; ++grp) {
    const float* xg = x + grp * s.g.channels * s.g.H * s.g.W;
    float* yg = y + grp * s.mg * s.N;
    const float* ag = s.a.get() + grp * s.panels * s.K * kMR;
    const float* bias = epi.bias ? epi.bias + grp * s.mg : nullptr;
    const float* res = epi.residual ? epi.residual + grp * s.mg * s.N : nullptr;
    // Columns split over the threads where there are enough of them; otherwise output channels,
    // each thread packing the (small) column block itself.
    if (col_panels >= 4 * s.threads || s.panels == 1) {
      const int64_t min_panels = std::max<int64_t>(1, static_cast<int64_t>(2e6 / panel_flops));
      parallelFor(col_panels, min_panels, [&](int part, int64_t b, int64_t e) {
        s.runRange(xg, yg, ag, epi, bias, res, b * kNR, std::min(s.N, e * kNR), 0, s.panels,
                   blocks + part * s.blockFloats());
      });
    } else {
      const double rows_flops = 2.0 * kMR * static_cast<double>(s.K * s.N);
      const int64_t min_rows = std::max<int64_t>(1, static_cast<int64_t>(2e6 / rows_flops));
      parallelFor(s.panels, min_rows, [&](int part, int64_t b, int64_t e) {
        s.runRange(xg, yg, ag, epi, bias, res, 0, s.N, b, e, blocks + part * s.blockFloats());
      });
    }
  }
}

}  // namespace edgert::cpu
