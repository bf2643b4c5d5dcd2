// 2-D depthwise convolution (one filter per channel) for the CPU backend's float Conv.
#pragma once

#include <cstdint>

namespace edgert::cpu {

struct DepthwiseShape {
  int64_t channels = 0, H = 0, W = 0, OH = 0, OW = 0;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pad_top = 0, pad_left = 0;
  // Applied as each output row is stored, as conv.cpp's epilogue pass would: y > 0 ? y : 0
  // (kRelu) or min(hi, max(lo, y)) (kClip).
  enum class Act { kNone, kRelu, kClip } act = Act::kNone;
  float lo = 0.f, hi = 0.f;
};

// Floats of scratch depthwise2d needs: per thread, one channel's phase planes and outputs.
int64_t depthwiseScratchFloats(const DepthwiseShape& s);

// y[c] = bias[c] + conv(x[c], w[c]) for every channel of one image, NCHW; `bias` may be null.
// Channels are split over the CPU threads (thread_pool.h).
// Each channel's input is copied once into zero-padded sh x sw phase planes, so that every tap
// is one long multiply-add over contiguous floats with no bounds test (depthwise.cpp), 32
// outputs held in registers over all taps. Built for AVX-512, AVX2 and baseline x86-64, picked
// at load time; all three give the same bits (no FMA contraction, taps summed in one order).
void depthwise2d(const DepthwiseShape& s, const float* x, const float* w, const float* bias,
                 float* y, float* scratch);

}  // namespace edgert::cpu
