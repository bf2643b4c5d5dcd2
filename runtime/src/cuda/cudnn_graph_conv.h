// Convolutions through cuDNN's graph (backend) API. The legacy cudnnConvolutionForward
// reaches only the eight classic algorithms; the graph API's engine list also holds cuDNN's
// Hopper kernels (warpgroup implicit GEMM, the C=4 first-layer kernel, specialised
// depthwise kernels), which PyTorch reaches through the same API.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "cuda_ops.h"

namespace edgert::cuda {

// An NHWC fp16 convolution with FP32 accumulation; logical dims NCHW / KCRS (C per group).
struct GraphConvShape {
  int64_t x[4], w[4], y[4];
  int64_t pre_pad[2], post_pad[2], stride[2], dilation[2];
};

class CudnnGraphConv {
 public:
  // The plan of the `rank`-th engine configuration cuDNN's heuristics offer for this shape,
  // counting only those that compile ahead of time, accumulate in FP32 and need at most
  // `max_workspace` bytes. An error when there is no such configuration.
  static Result<std::unique_ptr<CudnnGraphConv>> create(const Env& env, const GraphConvShape& s,
                                                        int rank, size_t max_workspace);
  ~CudnnGraphConv();
  CudnnGraphConv(const CudnnGraphConv&) = delete;
  CudnnGraphConv& operator=(const CudnnGraphConv&) = delete;

  size_t workspace() const { return workspace_; }
  int64_t engine() const { return engine_; }  // cuDNN's global engine index, for reports
  // The variant pack (the pointers) is built on the first call and whenever the pointers
  // change, so a steady stream of executions allocates nothing on the host. One context
  // owns the layer and executes from one thread at a time.
  Status execute(const Env& env, CUdeviceptr x, CUdeviceptr w, CUdeviceptr y,
                 CUdeviceptr workspace) const;

 private:
  CudnnGraphConv() = default;
  Result<cudnnBackendDescriptor_t> variantPack(CUdeviceptr x, CUdeviceptr w, CUdeviceptr y,
                                               CUdeviceptr workspace) const;
  const Cudnn* dnn_ = nullptr;
  cudnnBackendDescriptor_t plan_ = nullptr;
  mutable cudnnBackendDescriptor_t pack_ = nullptr;
  mutable CUdeviceptr pack_ptrs_[4] = {0, 0, 0, 0};
  size_t workspace_ = 0;
  int64_t engine_ = -1;
};

}  // namespace edgert::cuda
