// What the builder may ask of the backends compiled into libedgert.
#pragma once

#include <string>
#include <vector>

#include "edgert/internal/op.h"
#include "edgert/status.h"

namespace edgert {

// OK when the CUDA backend is compiled in and this machine has a GPU, cuDNN and cuBLASLt.
Status cudaAvailable();
// Whether this libedgert has the CUDA backend (it was built with nvcc), GPU or not.
bool cudaBackendCompiled();
// Compute capabilities of this machine's GPUs (10*major+minor); empty without one.
std::vector<int> cudaDeviceSms();
// Whether a node (with shapes) has a CUDA implementation (with `fp16`: in FP32 or NHWC
// FP16); false without the CUDA backend.
bool cudaSupportsNode(const NodeContext& node);

// Times every implementation this GPU offers for a node (convolutions: each cuDNN
// algorithm, and 1x1 convolutions as a cuBLASLt GEMM) on scratch buffers: warm-up, then
// the median of repeated CUDA-event-timed runs. Empty when the node has no alternatives.
struct TacticTime {
  std::string tactic;
  double ms = 0;
  size_t workspace = 0;  // scratch bytes the implementation asks for
};
Result<std::vector<TacticTime>> cudaTimeTactics(const NodeContext& node);
// A name for this GPU in timing caches ("sm_90 NVIDIA H200"); empty without one.
std::string cudaDeviceName();
// Which candidates this build of edgert times ("edgert 0.3.0 kernels 1a2b..."): the edgert
// version and a hash of its embedded kernels. Timing caches key their entries with it, so a
// cache from another build is re-timed rather than trusted (its winner may be gone, or a new
// kernel may beat it - as TensorRT's timing caches are tied to its version). Empty without CUDA.
std::string cudaTacticSetId();
// Free device memory in bytes (cuMemGetInfo in edgert's context); 0 without a GPU.
size_t cudaFreeDeviceMemory();

}  // namespace edgert
