// FP16 NHWC convolutions on our implicit-GEMM tensor-core kernel, split-K included
// (conv_f16_mma.cpp, kernels/conv_f16_mma.cu).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cuda_layers.h"

namespace edgert::cuda {

// Tactic names: "nhwc16-mma-s<splits>", the reduction split among `splits` blocks per output
// tile that add their sums in global memory (sm_80+), and "nhwc16-mma-c<splits>", split among a
// thread-block cluster's blocks that add them from each other's shared memory (sm_90+).
inline constexpr const char* kMmaConvTactic = "nhwc16-mma-s";
inline constexpr const char* kMmaClusterConvTactic = "nhwc16-mma-c";
struct MmaConvTactic {
  int splits = 0;  // 0: not one of these tactics
  bool cluster = false;
};
MmaConvTactic parseMmaConvTactic(std::string_view tactic);

// What the implicit-GEMM kernels (nhwc16-mma, nhwc16-tma) share: a one-group 2-D convolution
// over NHWC fp16 with C_in and C_out multiples of 8, its geometry (kp and splits left to the
// caller; splits 1) and fused activation (EDGERT_CONV_F16_* kernel suffix), or why `kernel`
// does not apply.
struct ImplicitGemmConv {
  EdgertConvMma p{};
  int act = 0;
  std::vector<bool> in_half;  // which inputs are NHWC fp16 activations
};
Result<ImplicitGemmConv> implicitGemmConv(const NodeContext& c, const ops::Geometry& geo,
                                          const char* kernel);

// The layer both kinds build on: NHWC fp16 activations in and out, its own fp16 weights (the
// graph's weight input is not read on the device), and the kernel, tactic and grid it launches.
class ImplicitGemmLayer : public GpuLayer {
 public:
  explicit ImplicitGemmLayer(const ImplicitGemmConv& g) : in_half_(g.in_half), p_(g.p) {}
  bool halfIn(size_t k) const override { return k < in_half_.size() && in_half_[k]; }
  bool halfOut(size_t) const override { return true; }
  bool readsInputOnDevice(size_t k) const override { return k != 1; }
  const char* tactic() const override { return tactic_.c_str(); }

  std::vector<bool> in_half_;
  EdgertConvMma p_{};
  std::string kernel_, tactic_;
  CUdeviceptr w_ = 0;
  unsigned grid_m_ = 0, grid_n_ = 0;

 protected:
  // The kernels copy and store 16-byte vectors: NHWC fp16 activations with C % 8 == 0 start
  // 256-byte aligned in the arena; a caller's buffer need not. `who` names the kernel.
  static Status checkAligned(const char* who, CUdeviceptr x, CUdeviceptr y, CUdeviceptr res);
};
// The layer, or kUnsupported naming why the kernel does not apply (group, channel counts, sm,
// activation) or why this split is not worth timing.
Result<std::unique_ptr<GpuLayer>> makeMmaConv(const NodeContext& c, const Env& env,
                                              const ops::Geometry& geo, MmaConvTactic t);

}  // namespace edgert::cuda
