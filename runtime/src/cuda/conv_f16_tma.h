// FP16 NHWC convolutions on the TMA-fed wgmma kernel (conv_f16_tma.cpp,
// kernels/conv_f16_tma.cu): Hopper only, for the large-batch layers where cuDNN's kernels stop
// at a quarter of the tensor cores' rate.
#pragma once

#include <memory>
#include <string_view>

#include "cuda_layers.h"

namespace edgert::cuda {

// Tactic names "nhwc16-tma-n128" and "nhwc16-tma-n64": output tiles of 128 pixels x 128 or 64
// channels; "nhwc16-tma-n64-c<S>": 64-wide tiles with the reduction split among a
// thread-block cluster's S (2-16) blocks; "nhwc16-tma-p-n64": 64-wide tiles, persistent blocks
// (the next tile's loads under this one's epilogue).
inline constexpr const char* kTmaConvTactic = "nhwc16-tma-n";
inline constexpr const char* kTmaClusterConvTactic = "nhwc16-tma-n64-c";
struct TmaConvTactic {
  int bn = 0;  // 0: not one of these tactics
  int splits = 1;
  bool persist = false;
};
TmaConvTactic parseTmaConvTactic(std::string_view tactic);
// The layer, or kUnsupported naming why the kernel does not apply (sm, driver, group, channel
// counts, window geometry, activation) or why this split is not worth timing.
Result<std::unique_ptr<GpuLayer>> makeTmaConv(const NodeContext& c, const Env& env,
                                              const ops::Geometry& geo, TmaConvTactic t);

}  // namespace edgert::cuda
