#include "conv_gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "thread_pool.h"
#include "window.h"

#if defined(__x86_64__)
#include <immintrin.h>
// GCC 12's AVX-512 max / min intrinsics pass an _mm512_undefined_ps() it then warns about.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
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

// Bit l set for the lanes l in [lo, hi) of a 32-lane tile.
uint32_t laneBits(int64_t lo, int64_t hi) {
  return static_cast<uint32_t>((hi >= 32 ? ~0ull : (1ull << hi) - 1) & ~((1ull << lo) - 1));
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
        const uint32_t mask = laneBits(a, b);
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
  const float* residual;  // laid out as y (the tile's TileMap applies), or null
  ConvGemmEpilogue::Act act;
  float lo, hi;
};

// Where a tile's 32 lanes live in the output (and the residual): segment s holds lanes
// [lane0, lane1) at y + base[s] + lane, the rest are not written. Packed columns are one
// segment; the padded-width columns of the direct path drop each row's last Wp - OW lanes.
struct TileMap {
  static constexpr int kMax = kNR;
  int n = 0;
  uint16_t m0[kMax], m1[kMax];  // the segment's lanes in each half
  int64_t base[kMax];
  void add(int lane0, int lane1, int64_t y_first) {
    const uint32_t bits = laneBits(lane0, lane1);
    m0[n] = static_cast<uint16_t>(bits & 0xFFFF);
    m1[n] = static_cast<uint16_t>((bits >> 16) & 0xFFFF);
    base[n++] = y_first - lane0;
  }
};

#if defined(__x86_64__)
// C[mr x 32 lanes] (rows ldc apart, lanes as `map` says) = [C +] A[kc x 12] * B[kc x 32], then
// the epilogue when `e` is set. B is packed (row k at b + 32 k) or, kDirect, read in place (row
// k at b + boff[k]). One fused multiply-add chain per output in the order of k.
template <bool kDirect>
__attribute__((target("avx512f"))) void tile12x32(int64_t kc, const float* a, const float* b,
                                                  const int64_t* boff, float* c, int64_t ldc,
                                                  int mr, const TileMap& map, bool accumulate,
                                                  const TileEpilogue* e) {
  __m512 c0[kMR], c1[kMR];
#pragma GCC unroll 12
  for (int r = 0; r < kMR; ++r) {
    c0[r] = _mm512_setzero_ps();
    c1[r] = _mm512_setzero_ps();
    if (accumulate && r < mr)
      for (int sg = 0; sg < map.n; ++sg) {
        const float* p = c + r * ldc + map.base[sg];
        c0[r] = _mm512_mask_loadu_ps(c0[r], map.m0[sg], p);
        c1[r] = _mm512_mask_loadu_ps(c1[r], map.m1[sg], p + 16);
      }
  }
  for (int64_t k = 0; k < kc; ++k) {
    __m512 b0, b1;
    if constexpr (kDirect) {
      const float* bk = b + boff[k];
      b0 = _mm512_loadu_ps(bk), b1 = _mm512_loadu_ps(bk + 16);
    } else {
      b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
      b += kNR;
    }
    // The weights stream from memory where a layer's do not stay in cache (ResNet's last
    // layers, 9.4 MiB each): fetched 2 KiB ahead, the next panel's included.
    _mm_prefetch(reinterpret_cast<const char*>(a + 512), _MM_HINT_T0);
#pragma GCC unroll 12
    for (int r = 0; r < kMR; ++r) {
      const __m512 av = _mm512_set1_ps(a[r]);
      c0[r] = _mm512_fmadd_ps(av, b0, c0[r]);
      c1[r] = _mm512_fmadd_ps(av, b1, c1[r]);
    }
    a += kMR;
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
        __m512 z0 = _mm512_setzero_ps(), z1 = _mm512_setzero_ps();
        for (int sg = 0; sg < map.n; ++sg) {
          const float* p = e->residual + r * ldc + map.base[sg];
          z0 = _mm512_mask_loadu_ps(z0, map.m0[sg], p);
          z1 = _mm512_mask_loadu_ps(z1, map.m1[sg], p + 16);
        }
        v0 = _mm512_add_ps(v0, z0), v1 = _mm512_add_ps(v1, z1);
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
    for (int sg = 0; sg < map.n; ++sg) {
      float* p = c + r * ldc + map.base[sg];
      _mm512_mask_storeu_ps(p, map.m0[sg], v0);
      _mm512_mask_storeu_ps(p + 16, map.m1[sg], v1);
    }
  }
}
#else
template <bool kDirect>
void tile12x32(int64_t, const float*, const float*, const int64_t*, float*, int64_t, int,
               const TileMap&, bool, const TileEpilogue*) {
  std::abort();  // available() is false: never called
}
#endif

}  // namespace

struct ConvGemm::Impl {
  ConvGemmGeometry g;
  int64_t groups = 1, mg = 0, K = 0, N = 0, panels = 0, kc = 0;
  int threads = 1;
  // [groups][depth block][panels][kc][kMR]: for one depth block the panels follow each other,
  // so the loops over them stream the weights in order (panel-major, each panel's 12 channels
  // 221 KiB apart in ResNet's last layers, the prefetchers lost every 12 KiB).
  std::unique_ptr<float, FreeDeleter> a;
  // Direct path (stride 1): the input copied once into a zero-padded image of Hp x Wp planes,
  // where row k of the im2col matrix is the image itself from offset boff[k] on, for outputs
  // numbered q = oh * Wp + ow (the last Wp - OW of each row computed and dropped). No packing.
  bool direct = false;
  int64_t Hp = 0, Wp = 0, padded_floats = 0, direct_cols = 0;
  std::vector<int64_t> boff;

  size_t blockFloats() const { return static_cast<size_t>(kc * kNC); }

  // Packed path: columns [n0, n1) of output channel panels [p0, p1) of one group.
  void runPacked(const float* x, float* y, const float* ag, const ConvGemmEpilogue& epi,
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
          const float* ap = ag + (k0 * panels + p * kcur) * kMR;
          for (int64_t jp = 0; jp < npanels; ++jp) {
            const int64_t col = nb + jp * kNR;
            TileMap map;
            map.add(0, static_cast<int>(std::min<int64_t>(kNR, nb + ncols - col)), col);
            TileEpilogue te{bias ? bias + m0 : nullptr, residual ? residual + m0 * N : nullptr,
                            epi.act, epi.lo, epi.hi};
            tile12x32<false>(kcur, ap, block + jp * kcur * kNR, nullptr, y + m0 * N, N, mr, map,
                             k0 > 0, last ? &te : nullptr);
          }
        }
      }
    }
  }

  // Direct path: padded-width column panels [j0, j1) of output channel panels [p0, p1).
  void runDirect(const float* xp, float* y, const float* ag, const ConvGemmEpilogue& epi,
                 const float* bias, const float* residual, int64_t j0, int64_t j1, int64_t p0,
                 int64_t p1) const {
    for (int64_t jb = j0; jb < j1; jb += kNC / kNR) {
      const int64_t jend = std::min(j1, jb + kNC / kNR);
      for (int64_t k0 = 0; k0 < K; k0 += kc) {
        const int64_t kcur = std::min(kc, K - k0);
        const bool last = k0 + kcur == K;
        for (int64_t p = p0; p < p1; ++p) {
          const int64_t m0 = p * kMR;
          const int mr = static_cast<int>(std::min<int64_t>(kMR, mg - m0));
          TileEpilogue te{bias ? bias + m0 : nullptr, residual ? residual + m0 * N : nullptr,
                          epi.act, epi.lo, epi.hi};
          for (int64_t jp = jb; jp < jend; ++jp) {
            const int64_t q0 = jp * kNR;
            TileMap map;
            for (int l = 0; l < kNR;) {
              const int64_t q = q0 + l, oh = q / Wp, ow = q % Wp;
              if (oh >= g.OH) break;
              const int run = static_cast<int>(std::min<int64_t>(kNR - l, Wp - ow));
              if (ow < g.OW)
                map.add(l, l + static_cast<int>(std::min<int64_t>(run, g.OW - ow)), oh * g.OW + ow);
              l += run;
            }
            tile12x32<true>(kcur, ag + (k0 * panels + p * kcur) * kMR, xp + q0, boff.data() + k0,
                            y + m0 * N, N, mr, map, k0 > 0, last ? &te : nullptr);
          }
        }
      }
    }
  }

  // The input into the zero-padded image, split over the threads by rows as the direct path's
  // columns are (a thread then mostly reads what it wrote, not the other core's cache).
  void padInput(const float* x, float* xp) const {
    parallelFor(Hp, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, g.channels * Wp)),
                [&](int, int64_t r0, int64_t r1) {
                  for (int64_t ch = 0; ch < g.channels; ++ch)
                    for (int64_t r = r0; r < r1; ++r) {
                      float* row = xp + (ch * Hp + r) * Wp;
                      const int64_t h = r - g.pad_top;
                      const int64_t copy = h >= 0 && h < g.H ? std::min(g.W, Wp - g.pad_left) : 0;
                      std::fill(row, row + (copy ? g.pad_left : Wp), 0.f);
                      if (!copy) continue;
                      std::memcpy(row + g.pad_left, x + (ch * g.H + h) * g.W,
                                  sizeof(float) * static_cast<size_t>(copy));
                      std::fill(row + g.pad_left + copy, row + Wp, 0.f);
                    }
                });
    // Lanes past the last output read up to (kw - 1) * dw + 32 floats beyond the image.
    std::fill(xp + g.channels * Hp * Wp, xp + padded_floats, 0.f);
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
  static const bool direct_off = [] {
    const char* e = std::getenv("EDGERT_CPU_CONV_DIRECT");
    return e && std::strcmp(e, "0") == 0;
  }();
  // Not for 1 x 1 layers: their packing is a plain copy, and reading B in place walks one image
  // plane (a page or more apart) per k, which thrashed the TLB on EfficientNet-Lite0's project
  // convolutions (blocks.0: 0.19 -> 0.34 ms).
  s.direct = g.sh == 1 && g.sw == 1 && g.kh * g.kw > 1 && !direct_off;
  if (s.direct) {
    s.Hp = g.OH + (g.kh - 1) * g.dh;
    s.Wp = g.OW + (g.kw - 1) * g.dw;
    s.padded_floats = g.channels * s.Hp * s.Wp + (g.kw - 1) * g.dw + kNR;
    s.direct_cols = ceilDiv(g.OH * s.Wp, kNR);
    s.boff.resize(static_cast<size_t>(s.K));
    for (int64_t k = 0; k < s.K; ++k) {
      const int64_t ch = k / (g.kh * g.kw), i = k % (g.kh * g.kw) / g.kw, j = k % g.kw;
      s.boff[static_cast<size_t>(k)] = ch * s.Hp * s.Wp + i * g.dh * s.Wp + j * g.dw;
    }
  }
  const size_t n = static_cast<size_t>(groups * s.panels * s.K * kMR);
  s.a.reset(static_cast<float*>(std::aligned_alloc(64, ceilDiv(n * sizeof(float), 64) * 64)));
  if (!s.a) throw std::bad_alloc();
  float* dst = s.a.get();
  for (int64_t grp = 0; grp < groups; ++grp)
    for (int64_t k0 = 0; k0 < s.K; k0 += s.kc)
      for (int64_t p = 0; p < s.panels; ++p)
        for (int64_t k = k0; k < std::min(s.K, k0 + s.kc); ++k)
          for (int r = 0; r < kMR; ++r) {
            const int64_t m = p * kMR + r;
            *dst++ = m < s.mg ? weights[(grp * s.mg + m) * s.K + k] : 0.f;
          }
}

ConvGemm::~ConvGemm() = default;

size_t ConvGemm::scratchBytes() const {
  const Impl& s = *impl_;
  if (s.direct) return static_cast<size_t>(s.padded_floats) * sizeof(float) + 64;
  return (s.blockFloats() * static_cast<size_t>(s.threads)) * sizeof(float) + 64;
}

size_t ConvGemm::packedBytes() const {
  return static_cast<size_t>(impl_->groups * impl_->panels * impl_->K * kMR) * sizeof(float);
}

void ConvGemm::run(const float* x, float* y, const ConvGemmEpilogue& epi, void* scratch) const {
  const Impl& s = *impl_;
  float* buf =
      reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch) + 63) & ~uintptr_t{63});
  const int64_t col_panels = s.direct ? s.direct_cols : ceilDiv(s.N, kNR);
  const double panel_flops = 2.0 * static_cast<double>(s.mg * s.K) * kNR;
  for (int64_t grp = 0; grp < s.groups; ++grp) {
    const float* xg = x + grp * s.g.channels * s.g.H * s.g.W;
    float* yg = y + grp * s.mg * s.N;
    const float* ag = s.a.get() + grp * s.panels * s.K * kMR;
    const float* bias = epi.bias ? epi.bias + grp * s.mg : nullptr;
    const float* res = epi.residual ? epi.residual + grp * s.mg * s.N : nullptr;
    if (s.direct) s.padInput(xg, buf);
    // Columns split over the threads where there are enough of them; otherwise output channels
    // (on the packed path each thread then packs the small column block itself).
    if (col_panels >= 4 * s.threads || s.panels == 1) {
      const int64_t min_panels = std::max<int64_t>(1, static_cast<int64_t>(2e6 / panel_flops));
      parallelFor(col_panels, min_panels, [&](int part, int64_t b, int64_t e) {
        if (s.direct)
          s.runDirect(buf, yg, ag, epi, bias, res, b, e, 0, s.panels);
        else
          s.runPacked(xg, yg, ag, epi, bias, res, b * kNR, std::min(s.N, e * kNR), 0, s.panels,
                      buf + part * s.blockFloats());
      });
    } else {
      const double rows_flops = 2.0 * kMR * static_cast<double>(s.K * s.N);
      const int64_t min_rows = std::max<int64_t>(1, static_cast<int64_t>(2e6 / rows_flops));
      parallelFor(s.panels, min_rows, [&](int part, int64_t b, int64_t e) {
        if (s.direct)
          s.runDirect(buf, yg, ag, epi, bias, res, 0, col_panels, b, e);
        else
          s.runPacked(xg, yg, ag, epi, bias, res, 0, s.N, b, e, buf + part * s.blockFloats());
      });
    }
  }
}

}  // namespace edgert::cpu
