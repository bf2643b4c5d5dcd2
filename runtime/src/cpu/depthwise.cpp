#include "depthwise.h"

#include "thread_pool.h"

#include <algorithm>
#include <cstring>
#include <vector>

#if defined(__x86_64__) && !defined(EDGERT_NO_CPU_CLONES)
#define EDGERT_CPU_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define EDGERT_CPU_CLONES
#endif

namespace edgert::cpu {

namespace {

// The padded plane: rows cover every row a window reads, columns every column; phase q holds
// columns q, q + sw, q + 2 sw, ... of it.
struct Planes {
  int64_t rows, cols, phase_cols;
};

Planes planes(const DepthwiseShape& s) {
  Planes p;
  p.rows = (s.OH - 1) * s.sh + (s.kh - 1) * s.dh + 1;
  p.cols = (s.OW - 1) * s.sw + (s.kw - 1) * s.dw + 1;
  p.phase_cols = (p.cols + s.sw - 1) / s.sw + 1;
  return p;
}

#if defined(__GNUC__) && !defined(__clang__)
// The helpers below pass 32-byte vectors by value; they are inlined, so the note that their
// ABI differs with and without AVX concerns no call.
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
// Eight floats as one value (GCC / Clang vector extension): one ymm register where AVX is
// enabled, two xmm registers otherwise.
typedef float V8 __attribute__((vector_size(32)));

[[gnu::always_inline]] inline V8 load8(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
[[gnu::always_inline]] inline void store8(float* p, V8 v) {
  std::memcpy(p, &v, sizeof v);
}
[[gnu::always_inline]] inline V8 splat(float b) {
  return V8{b, b, b, b, b, b, b, b};
}

EDGERT_CPU_CLONES
void channel(const DepthwiseShape& s, const Planes& pl, const int64_t* off, const float* xc,
             const float* wc, float b, float* yc, float* buf) {
  // Zero-padded copy, split by column phase.
  for (int64_t r = 0; r < pl.rows; ++r) {
    const int64_t ih = r - s.pad_top;
    if (ih < 0 || ih >= s.H) {
      for (int64_t q = 0; q < s.sw; ++q)
        std::fill_n(buf + (q * pl.rows + r) * pl.phase_cols, pl.phase_cols, 0.f);
      continue;
    }
    // The pad columns at both ends, then the row's values.
    for (int64_t q = 0; q < s.sw; ++q) {
      float* dst = buf + (q * pl.rows + r) * pl.phase_cols;
      const int64_t lead = std::min(pl.phase_cols, (s.pad_left - q + s.sw - 1) / s.sw);
      std::fill_n(dst, std::max<int64_t>(0, lead), 0.f);
      const int64_t tail = (s.W + s.pad_left - q + s.sw - 1) / s.sw;  // first column past the row
      if (tail < pl.phase_cols)
        std::fill_n(dst + std::max<int64_t>(0, tail), pl.phase_cols - std::max<int64_t>(0, tail),
                    0.f);
    }
    const float* src = xc + ih * s.W - s.pad_left;  // src[c]: padded column c
    const int64_t c0 = std::max<int64_t>(0, s.pad_left);
    const int64_t c1 = std::min(pl.cols, s.W + s.pad_left);
    if (s.sw == 1) {
      std::memcpy(buf + r * pl.phase_cols + c0, src + c0, sizeof(float) * (c1 - c0));
      continue;
    }
    if (s.sw == 2 && c0 % 2 == 0) {
      // Even and odd columns apart in one pass (vectorised as loads and permutes).
      float* d0 = buf + r * pl.phase_cols;
      float* d1 = buf + (pl.rows + r) * pl.phase_cols;
      const int64_t pairs = (c1 - c0) / 2;
      const float* sp = src + c0;
      for (int64_t k = 0; k < pairs; ++k) {
        d0[c0 / 2 + k] = sp[2 * k];
        d1[c0 / 2 + k] = sp[2 * k + 1];
      }
      if ((c1 - c0) % 2) d0[c0 / 2 + pairs] = sp[2 * pairs];
      continue;
    }
    for (int64_t q = 0; q < s.sw; ++q) {
      float* dst = buf + (q * pl.rows + r) * pl.phase_cols;
      // Columns c = q + k * sw in [c0, c1).
      for (int64_t k = (std::max(c0, q) - q + s.sw - 1) / s.sw, c = q + k * s.sw; c < c1;
           ++k, c += s.sw)
        dst[k] = src[c];
    }
  }
  const int64_t taps = s.kh * s.kw;
  for (int64_t oh = 0; oh < s.OH; ++oh) {
    const float* row = buf + oh * s.sh * pl.phase_cols;
    float* yr = yc + oh * s.OW;
    int64_t ow = 0;
    // 32 outputs in four 8-float accumulators (one ymm each with AVX, two xmm without): each
    // tap is one broadcast and four loads + multiply-adds, nothing stored until the end.
    for (; ow + 32 <= s.OW; ow += 32) {
      V8 a0 = splat(b), a1 = a0, a2 = a0, a3 = a0;
      for (int64_t t = 0; t < taps; ++t) {
        const float* src = row + off[t] + ow;
        const float wv = wc[t];
        a0 += wv * load8(src);
        a1 += wv * load8(src + 8);
        a2 += wv * load8(src + 16);
        a3 += wv * load8(src + 24);
      }
      store8(yr + ow, a0);
      store8(yr + ow + 8, a1);
      store8(yr + ow + 16, a2);
      store8(yr + ow + 24, a3);
    }
    for (; ow + 8 <= s.OW; ow += 8) {
      V8 a0 = splat(b);
      for (int64_t t = 0; t < taps; ++t) a0 += wc[t] * load8(row + off[t] + ow);
      store8(yr + ow, a0);
    }
    for (; ow < s.OW; ++ow) {
      float acc = b;
      for (int64_t t = 0; t < taps; ++t) acc += wc[t] * row[off[t] + ow];
      yr[ow] = acc;
    }
  }
}

}  // namespace

int64_t depthwiseScratchFloats(const DepthwiseShape& s) {
  const Planes p = planes(s);
  return p.rows * p.phase_cols * s.sw * cpuThreads();  // a plane per thread
}

void depthwise2d(const DepthwiseShape& s, const float* x, const float* w, const float* bias,
                 float* y, float* scratch) {
  const Planes pl = planes(s);
  const int64_t taps = s.kh * s.kw;
  // Each tap's offset into the phase planes, relative to output (oh, ow) = (0, 0).
  std::vector<int64_t> off(static_cast<size_t>(taps));
  for (int64_t i = 0; i < s.kh; ++i)
    for (int64_t j = 0; j < s.kw; ++j) {
      const int64_t c = j * s.dw;
      off[i * s.kw + j] = ((c % s.sw) * pl.rows + i * s.dh) * pl.phase_cols + c / s.sw;
    }
  const int64_t plane = depthwiseScratchFloats(s) / cpuThreads();
  parallelFor(s.channels, 4, [&](int part, int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      channel(s, pl, off.data(), x + c * s.H * s.W, w + c * taps, bias ? bias[c] : 0.f,
              y + c * s.OH * s.OW, scratch + part * plane);
  });
}

}  // namespace edgert::cpu
