// Convolution as one GEMM with the im2col folded into the packing of the input, for x86-64
// CPUs with AVX-512F: the weights are packed once (panels of 12 output channels), each
// thread packs a block of input columns straight from the image into panels of 32 pixels
// (stride-1 windows larger than 1x1 instead read a zero-padded copy of the image in place),
// and a 12 x 32 register-tile kernel runs over them with bias, residual and Relu / Clip in
// its last store. Elsewhere (aarch64, older x86) conv.cpp keeps im2col + SGEMM.
//
// Every output is one chain of fused multiply-adds in the order of k (input channel, then
// kernel row, then column), from 0, whatever the blocking or the number of threads: the same
// bits on every run and every thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace edgert::cpu {

struct ConvGemmGeometry {
  int64_t channels = 0;  // input channels of one group
  int64_t H = 0, W = 0, OH = 0, OW = 0;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, pad_top = 0, pad_left = 0;
};

// Applied to each output as y = act(y + bias + residual), the order conv.cpp's own pass uses.
struct ConvGemmEpilogue {
  enum class Act { kNone, kRelu, kClip };
  const float* bias = nullptr;      // [M], all groups
  const float* residual = nullptr;  // laid out as y
  Act act = Act::kNone;
  float lo = 0.f, hi = 0.f;  // kClip
};

class ConvGemm {
 public:
  // Whether this CPU runs the kernel (AVX-512F); EDGERT_CPU_CONV_GEMM=0 turns it off (and
  // EDGERT_CPU_CONV_DIRECT=0 the in-place path for stride-1 windows), for A/B timing.
  static bool available();

  // weights: [groups * out_per_group][channels * kh * kw], ONNX's layout.
  ConvGemm(const ConvGemmGeometry& g, int64_t groups, int64_t out_per_group, const float* weights);
  ~ConvGemm();
  ConvGemm(const ConvGemm&) = delete;
  ConvGemm& operator=(const ConvGemm&) = delete;

  // Bytes of scratch run() needs (one packed block of input columns per CPU thread).
  size_t scratchBytes() const;
  // Bytes of the packed weights this object holds.
  size_t packedBytes() const;

  // One image: x [groups * channels][H][W], y [groups * out_per_group][OH][OW].
  void run(const float* x, float* y, const ConvGemmEpilogue& epi, void* scratch) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgert::cpu
