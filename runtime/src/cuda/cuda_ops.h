// CUDA implementations of ops, registered by op name like the CPU kernels. A layer whose
// op (or dtype/attributes) has no CUDA implementation runs on the CPU inside a CUDA
// context, with its tensors copied across; `edgert build` and `inspect` list such layers.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "cuda_libs.h"
#include "edgert/internal/op.h"

namespace edgert::cuda {

// What a layer needs to run: libraries, the stream, and memory it may allocate once at
// creation (freed with the context).
struct Env {
  const Driver* d = nullptr;
  const Cudnn* dnn = nullptr;
  cudnnHandle_t dnn_handle = nullptr;
  const CublasLt* lt = nullptr;
  cublasLtHandle_t lt_handle = nullptr;
  CUstream stream = nullptr;
  int sm = 0;           // compute capability, major * 10 + minor
  int sm_count = 0;     // multiprocessors: sizes grids of kernels that loop over their work
  int smem_optin = 0;   // shared memory a block may opt in to (bytes)
  int smem_per_sm = 0;  // shared memory of a multiprocessor (bytes)
  std::vector<CUdeviceptr>* owned = nullptr;
  size_t* owned_bytes = nullptr;  // grows with each upload when set (the context's total)
  // Uploads host data to a new device buffer owned by the context.
  Result<CUdeviceptr> upload(const void* data, size_t bytes) const;
  // Blocks of a kernel that loops over its work and takes `smem` bytes of dynamic shared
  // memory: as many as are resident at once (1 to 8 per multiprocessor), since each block
  // stages the whole weights once.
  long long residentGrid(long long smem) const;
};

struct GpuArgs {
  const CUdeviceptr* in = nullptr;  // absent optional inputs are 0
  size_t n_in = 0;
  const CUdeviceptr* out = nullptr;
  size_t n_out = 0;
  CUdeviceptr scratch = 0;
};

class GpuLayer {
 public:
  virtual ~GpuLayer() = default;
  virtual size_t scratchBytes() const { return 0; }
  virtual const char* tactic() const { return "kernel"; }
  virtual Status enqueue(const Env& env, const GpuArgs& a) const = 0;
  // FP16 NHWC layers (cuda_nhwc_ops.cpp) read these inputs and write these outputs as NHWC
  // fp16; the context converts where a neighbour keeps NCHW float32.
  virtual bool halfIn(size_t) const { return false; }
  virtual bool halfOut(size_t) const { return false; }
  // False for constant inputs the layer copied at creation (fp16 weights): the context then
  // does not keep a device copy of them.
  virtual bool readsInputOnDevice(size_t) const { return true; }
  // The input whose buffer output `out` may take when this layer is that input's last
  // reader (the layer then computes in place), or -1. The context's memory plan decides.
  virtual int inPlaceInput(size_t /*out*/) const { return -1; }
  // Copies of whole contiguous byte ranges this layer makes (Concat, Split, Slice along an
  // outer axis): the memory plan may place the output range over the input range, and the
  // layer then skips the copy (it compares addresses when it enqueues, so a caller's own
  // binding buffer still gets copied).
  struct RangeCopy {
    size_t in, out;                     // input / output index
    uint64_t in_byte, out_byte, bytes;  // the ranges within them
  };
  virtual std::vector<RangeCopy> rangeCopies() const { return {}; }
};

// Null when the node cannot run on the GPU (the layer falls back to the CPU kernel).
using GpuFactory = Result<std::unique_ptr<GpuLayer>> (*)(const NodeContext& c, const Env& env);
GpuFactory findGpuOp(const NodeContext& c);
// The FP16 NHWC implementation of a node of an FP16 engine, or null.
GpuFactory findHalfNhwcOp(const NodeContext& c);
// Converts a 4-D tensor between its NCHW copy and its NHWC one (`to_half`: to NHWC): float32
// and fp16 for float tensors, int8 both ways for int8 / uint8 ones (cuda_int8_ops.cpp).
std::unique_ptr<GpuLayer> makeLayoutConversion(const Dims& dims, bool to_half,
                                               DataType dtype = DataType::kFloat32);
std::unique_ptr<GpuLayer> makeInt8LayoutConversion(const Dims& dims, bool to_nhwc);
// The INT8 layers (cuda_int8_ops.cpp): in the tensors' own layout (findGpuOp asks), and over
// NHWC copies (findHalfNhwcOp asks; int8 activations' NHWC copy is int8).
GpuFactory findInt8Op(const NodeContext& c);
GpuFactory findInt8NhwcOp(const NodeContext& c);
// Bytes per element of a tensor's NHWC copy: 1 for int8 / uint8 tensors, else 2 (fp16).
inline size_t nhwcElementSize(DataType t) {
  return t == DataType::kInt8 || t == DataType::kUInt8 ? 1 : 2;
}

// cuDNN graph-API engine configurations a convolution's tactics try (cudnn-nhwc16-graph<0..3>
// and the stems' c4-graph / s2d-graph variants).
constexpr int kGraphConvConfigs = 4;

// Launches an embedded kernel by name with a 1-D grid covering `threads`.
Status launch(const Env& env, const char* kernel, long long threads, void** args,
              unsigned block = 256, unsigned grid_override = 0);
// Launches with an explicit 2-D grid and block (and `smem` bytes of dynamic shared memory).
Status launchGrid(const Env& env, const char* kernel, unsigned gx, unsigned gy, unsigned bx,
                  unsigned by, void** args, unsigned gz = 1, unsigned smem = 0);
// Launches with thread-block clusters of `cluster_z` blocks along z (sm_90+, driver >= 12.0);
// beyond 8 (Hopper: up to 16) the kernel must have been allowed them (allowLargeClusters).
Status launchCluster(const Env& env, const char* kernel, unsigned gx, unsigned gy, unsigned gz,
                     unsigned bx, unsigned cluster_z, void** args, unsigned smem);
// Lets `kernel` launch in clusters beyond the portable 8 blocks; at layer set-up.
Status allowLargeClusters(const Env& env, const char* kernel);
// Lets `kernel` launch with `bytes` of dynamic shared memory (past the default 48 KiB); once
// per process is enough, at layer set-up (not while a graph is captured).
Status allowDynamicSmem(const Env& env, const char* kernel, int bytes);

}  // namespace edgert::cuda
