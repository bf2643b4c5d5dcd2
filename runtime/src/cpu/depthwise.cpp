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

// The zero-padded input split into sh x sw phase planes: plane (qr, qc) holds padded rows qr,
// qr + sh, ... and columns qc, qc + sw, ... So output (oh, ow)'s tap (i, j) reads plane
// ((i dh) % sh, (j dw) % sw) at (oh + i dh / sh, ow + j dw / sw): for every tap, the outputs of
// a channel read one plane at one fixed offset from the flat index oh * pw + ow. The
// convolution becomes one long multiply-add per tap over the flat plane (columns ow >= OW are
// computed and dropped), whatever the stride and however small the rows.
struct Planes {
  int64_t pr, pw;  // rows (one spare, for the dropped columns' reads past the end) and columns
  int64_t plane() const { return pr * pw; }
};

Planes planes(const DepthwiseShape& s) {
  return {s.OH + (s.kh - 1) * s.dh / s.sh + 1, s.OW + (s.kw - 1) * s.dw / s.sw};
}

// The planes, the accumulators and 32 floats of slack after each: the last block of 32 outputs
// is computed whole (its lanes past the end read and write the slack and are dropped), where a
// scalar tail cost more than the vector work on 7 x 7 planes.
int64_t perThread(const DepthwiseShape& s) {
  const Planes p = planes(s);
  return s.sh * s.sw * p.plane() + 32 + s.OH * p.pw + 32;
}

// Sixteen floats as one value (GCC / Clang vector extension): one zmm register where AVX-512
// is enabled, split into narrower ones otherwise (each element's arithmetic
// is the same either way: the same bits in every clone). Moved in and out with memcpy
// (unaligned, and no function passes one by value: Clang refuses that across the clones' ABIs).
typedef float V16 __attribute__((vector_size(64)));

// Lanes 0, 2, ..., 30 of the 32 in (a, b) (a macro: no function takes a vector by value).
#if defined(__clang__)
#define EDGERT_EVEN_LANES(a, b) \
  __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#else
typedef int V16i __attribute__((vector_size(64)));
#define EDGERT_EVEN_LANES(a, b) \
  __builtin_shuffle(a, b, V16i{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30})
#endif

EDGERT_CPU_CLONES
void channel(const DepthwiseShape& s, const Planes& pl, const int64_t* off, const float* xc,
             const float* wc, float b, float* yc, float* buf) {
  // The phase planes.
  for (int64_t qr = 0; qr < s.sh; ++qr)
    for (int64_t qc = 0; qc < s.sw; ++qc) {
      float* plane = buf + (qr * s.sw + qc) * pl.plane();
      // Columns j whose input column j sw + qc - pad_left is inside the row.
      const int64_t first = qc - s.pad_left;  // input column of j = 0
      const int64_t j0 = first >= 0 ? 0 : (-first + s.sw - 1) / s.sw;
      const int64_t j1 = std::clamp<int64_t>((s.W - first + s.sw - 1) / s.sw, j0, pl.pw);
      for (int64_t i = 0; i < pl.pr; ++i) {
        float* dst = plane + i * pl.pw;
        const int64_t ih = i * s.sh + qr - s.pad_top;
        if (ih < 0 || ih >= s.H || j0 >= j1) {
          std::fill_n(dst, pl.pw, 0.f);
          continue;
        }
        const float* src = xc + ih * s.W + first;  // src[j sw]: column j
        std::fill_n(dst, j0, 0.f);
        if (s.sw == 1) {
          std::memcpy(dst + j0, src + j0, sizeof(float) * (j1 - j0));
        } else if (s.sw == 2) {
          int64_t j = j0;
          // 16 columns from 32 consecutive inputs, their even lanes (one two-vector shuffle);
          // strictly inside the row, so the odd lane after the last is never read.
          for (; j + 16 < j1; j += 16) {
            V16 lo, hi;
            std::memcpy(&lo, src + 2 * j, sizeof(V16));
            std::memcpy(&hi, src + 2 * j + 16, sizeof(V16));
            const V16 even = EDGERT_EVEN_LANES(lo, hi);
            std::memcpy(dst + j, &even, sizeof(V16));
          }
          for (; j < j1; ++j) dst[j] = src[2 * j];
        } else {
          for (int64_t j = j0; j < j1; ++j) dst[j] = src[j * s.sw];
        }
        std::fill(dst + j1, dst + pl.pw, 0.f);
      }
    }
  // The flat multiply-adds: 32 outputs in two 16-float accumulators, each tap one broadcast
  // and two loads + multiplies + adds.
  std::fill_n(buf + s.sh * s.sw * pl.plane(), 32, 0.f);  // the last block's reads past the planes
  float* acc = buf + s.sh * s.sw * pl.plane() + 32;
  const int64_t taps = s.kh * s.kw, total = s.OH * pl.pw;
  for (int64_t i = 0; i < total; i += 32) {
    V16 a0 = V16{} + b, a1 = a0;
    for (int64_t t = 0; t < taps; ++t) {
      const float* src = buf + off[t] + i;
      const float wv = wc[t];
      V16 x0, x1;
      std::memcpy(&x0, src, sizeof(V16));
      std::memcpy(&x1, src + 16, sizeof(V16));
      a0 += wv * x0;
      a1 += wv * x1;
    }
    std::memcpy(acc + i, &a0, sizeof(V16));
    std::memcpy(acc + i + 16, &a1, sizeof(V16));
  }
  for (int64_t oh = 0; oh < s.OH; ++oh) {
    float* yr = yc + oh * s.OW;
    const float* ar = acc + oh * pl.pw;
    switch (s.act) {
      case DepthwiseShape::Act::kNone:
        std::memcpy(yr, ar, sizeof(float) * s.OW);
        break;
      case DepthwiseShape::Act::kRelu:
        for (int64_t j = 0; j < s.OW; ++j) yr[j] = ar[j] > 0.f ? ar[j] : 0.f;
        break;
      case DepthwiseShape::Act::kClip:
        for (int64_t j = 0; j < s.OW; ++j) yr[j] = std::min(s.hi, std::max(s.lo, ar[j]));
        break;
    }
  }
}

}  // namespace

int64_t depthwiseScratchFloats(const DepthwiseShape& s) {
  return perThread(s) * cpuThreads();
}

void depthwise2d(const DepthwiseShape& s, const float* x, const float* w, const float* bias,
                 float* y, float* scratch) {
  const Planes pl = planes(s);
  const int64_t taps = s.kh * s.kw;
  // Each tap's plane and offset from the flat output index.
  std::vector<int64_t> off(static_cast<size_t>(taps));
  for (int64_t i = 0; i < s.kh; ++i)
    for (int64_t j = 0; j < s.kw; ++j) {
      const int64_t r = i * s.dh, c = j * s.dw;
      off[i * s.kw + j] =
          ((r % s.sh) * s.sw + c % s.sw) * pl.plane() + (r / s.sh) * pl.pw + c / s.sw;
    }
  const int64_t per = perThread(s);
  parallelFor(s.channels, 4, [&](int part, int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      channel(s, pl, off.data(), x + c * s.H * s.W, w + c * taps, bias ? bias[c] : 0.f,
              y + c * s.OH * s.OW, scratch + part * per);
  });
}

}  // namespace edgert::cpu
