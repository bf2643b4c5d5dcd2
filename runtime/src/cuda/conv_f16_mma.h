// FP16 NHWC convolutions on our implicit-GEMM tensor-core kernel, split-K included
// (conv_f16_mma.cpp, kernels/conv_f16_mma.cu).
#pragma once

#include <memory>
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
// The layer, or kUnsupported naming why the kernel does not apply (group, channel counts, sm,
// activation) or why this split is not worth timing.
Result<std::unique_ptr<GpuLayer>> makeMmaConv(const NodeContext& c, const Env& env,
                                              const ops::Geometry& geo, MmaConvTactic t);

}  // namespace edgert::cuda
