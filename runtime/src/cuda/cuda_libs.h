// The CUDA driver, cuDNN and cuBLASLt, loaded with dlopen (as TensorRT does for its
// optional tactic sources): libedgert links none of them, so one build runs on machines
// with and without a GPU. Headers are used for types only.
#pragma once

#include <cublasLt.h>
#include <cuda.h>
#include <cudnn.h>

#include <string>

#include "edgert/status.h"

namespace edgert::cuda {

// clang-format off
#define EDGERT_CU_FUNCS(X) \
  X(cuInit) \
  X(cuDeviceGetCount) \
  X(cuDeviceGet) \
  X(cuDeviceGetAttribute) \
  X(cuDeviceGetName) \
  X(cuDevicePrimaryCtxRetain) \
  X(cuDevicePrimaryCtxRelease) \
  X(cuCtxSetCurrent) \
  X(cuCtxGetCurrent) \
  X(cuModuleLoadData) \
  X(cuModuleUnload) \
  X(cuModuleGetFunction) \
  X(cuFuncSetAttribute) \
  X(cuLaunchKernel) \
  X(cuMemAlloc) \
  X(cuMemFree) \
  X(cuMemcpyHtoD) \
  X(cuMemcpyDtoH) \
  X(cuMemcpyHtoDAsync) \
  X(cuMemcpyDtoHAsync) \
  X(cuMemcpyDtoDAsync) \
  X(cuMemsetD8Async) \
  X(cuStreamCreate) \
  X(cuStreamDestroy) \
  X(cuStreamSynchronize) \
  X(cuStreamBeginCapture) \
  X(cuStreamEndCapture) \
  X(cuGraphInstantiate) \
  X(cuGraphLaunch) \
  X(cuGraphDestroy) \
  X(cuGraphExecDestroy) \
  X(cuGetErrorString) \
  X(cuMemGetInfo) \
  X(cuEventCreate) \
  X(cuEventRecord) \
  X(cuEventSynchronize) \
  X(cuEventElapsedTime) \
  X(cuEventDestroy) \
  X(cuMemAllocHost) \
  X(cuMemFreeHost)

#define EDGERT_CUDNN_FUNCS(X) \
  X(cudnnGetVersion) \
  X(cudnnCreate) \
  X(cudnnDestroy) \
  X(cudnnSetStream) \
  X(cudnnGetErrorString) \
  X(cudnnCreateTensorDescriptor) \
  X(cudnnSetTensorNdDescriptor) \
  X(cudnnSetTensor4dDescriptor) \
  X(cudnnDestroyTensorDescriptor) \
  X(cudnnCreateFilterDescriptor) \
  X(cudnnSetFilterNdDescriptor) \
  X(cudnnDestroyFilterDescriptor) \
  X(cudnnCreateConvolutionDescriptor) \
  X(cudnnSetConvolutionNdDescriptor) \
  X(cudnnSetConvolutionGroupCount) \
  X(cudnnSetConvolutionMathType) \
  X(cudnnDestroyConvolutionDescriptor) \
  X(cudnnGetConvolutionForwardAlgorithm_v7) \
  X(cudnnGetConvolutionForwardWorkspaceSize) \
  X(cudnnConvolutionForward) \
  X(cudnnConvolutionBackwardData) \
  X(cudnnGetConvolutionBackwardDataAlgorithm_v7) \
  X(cudnnGetConvolutionNdForwardOutputDim) \
  X(cudnnBackendCreateDescriptor) \
  X(cudnnBackendDestroyDescriptor) \
  X(cudnnBackendFinalize) \
  X(cudnnBackendSetAttribute) \
  X(cudnnBackendGetAttribute) \
  X(cudnnBackendExecute)

#define EDGERT_CUBLASLT_FUNCS(X) \
  X(cublasLtCreate) \
  X(cublasLtDestroy) \
  X(cublasLtMatmulDescCreate) \
  X(cublasLtMatmulDescDestroy) \
  X(cublasLtMatmulDescSetAttribute) \
  X(cublasLtMatrixLayoutCreate) \
  X(cublasLtMatrixLayoutDestroy) \
  X(cublasLtMatrixLayoutSetAttribute) \
  X(cublasLtMatmulPreferenceCreate) \
  X(cublasLtMatmulPreferenceDestroy) \
  X(cublasLtMatmulPreferenceSetAttribute) \
  X(cublasLtMatmulAlgoGetHeuristic) \
  X(cublasLtMatmul) \
  X(cublasLtGetVersion)

// clang-format on

#define EDGERT_DECLARE_FN(name) decltype(&::name) name = nullptr;

struct Driver {
  EDGERT_CU_FUNCS(EDGERT_DECLARE_FN)
  // Optional (driver >= 12.0; null before): Hopper's TMA tensor maps for the INT8 kernels.
  decltype(&::cuTensorMapEncodeTiled) cuTensorMapEncodeTiled = nullptr;
  decltype(&::cuTensorMapEncodeIm2col) cuTensorMapEncodeIm2col = nullptr;
  // Optional (driver >= 12.0): launches with thread-block clusters (the FP16 split-K kernel).
  decltype(&::cuLaunchKernelEx) cuLaunchKernelEx = nullptr;
  // "cuMemAlloc failed: out of memory" etc.
  Status check(CUresult r, const char* what) const;
};
struct Cudnn {
  EDGERT_CUDNN_FUNCS(EDGERT_DECLARE_FN)
  Status check(cudnnStatus_t r, const char* what) const;
};
struct CublasLt {
  EDGERT_CUBLASLT_FUNCS(EDGERT_DECLARE_FN)
  Status check(cublasStatus_t r, const char* what) const;
};

// Each is loaded once, under a mutex, on first use; the error says which library or
// symbol is missing and which version is needed.
Result<const Driver*> driver();
Result<const Cudnn*> cudnn();
Result<const CublasLt*> cublasLt();

// Device 0's compute capability as 10*major+minor (e.g. 90), name and memory.
struct DeviceInfo {
  int sm = 0;
  int sm_count = 0;     // multiprocessors
  int smem_optin = 0;   // shared memory a block may opt in to (bytes)
  int smem_per_sm = 0;  // shared memory of a multiprocessor (bytes)
  std::string name;
  size_t total_memory = 0;
};
Result<DeviceInfo> deviceInfo();

}  // namespace edgert::cuda
