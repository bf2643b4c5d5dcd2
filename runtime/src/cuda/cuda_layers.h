// Pieces the CUDA layer files share (cuda_ops.cpp: the FP32 NCHW layers; cuda_nhwc_ops.cpp:
// the FP16 NHWC ones).
#pragma once

#include <memory>
#include <vector>

#include "../../../kernels/kernel_params.h"
#include "../ops/conv_geometry.h"
#include "cuda_ops.h"

namespace edgert::cuda {

inline long long n64(int64_t v) {
  return static_cast<long long>(v);
}

inline size_t align256(size_t b) {
  return (b + 255) / 256 * 256;
}

// The activations our fixed-activation kernels (depthwise h4, small-K pointwise, epilogues;
// kernels/half_vector.h) fuse: the kernel variant (0 clamp, 1 SiLU, 2 HardSwish; -1 none fits) and
// its (a, b), the clamp bounds for identity / ReLU / Clip.
inline int fixedActivation(int act, float* a, float* b) {
  constexpr float kMax = 3.402823466e38f;
  switch (act) {
    case kUnIdentity:
      *a = -kMax;
      *b = kMax;
      return 0;
    case kUnRelu:
      *a = 0.f;
      *b = kMax;
      return 0;
    case kUnClip:  // (a, b) are already (lo, hi)
      return 0;
    case kUnSilu:
      return 1;
    case kUnHardSwish:
      return 2;
    default:
      return -1;
  }
}

// A 2-D depthwise convolution node's parameters (x NCHW [N,C,H,W], w [C,1,kh,kw]), with the
// activation the builder fused (`act`, and its `a`, `b` as stored).
EdgertDwConv depthwiseParams(const NodeContext& c, const ops::Geometry& g);
// Whether the unrolled depthwise kernels (fp32 NCHW, fp16 NHWC h4) cover the shape: a square
// 3x3 or 5x5 kernel, equal strides of 1 or 2, no dilation.
inline bool unrolledDepthwiseShape(const EdgertDwConv& p) {
  return p.kh == p.kw && (p.kh == 3 || p.kh == 5) && p.sh == p.sw && (p.sh == 1 || p.sh == 2) &&
         p.dh == 1 && p.dw == 1;
}

// One strided copy of a layer: from input `in_index` to output `out_index`.
struct StridedPart {
  EdgertStrided p;
  size_t in_index, out_index;
  size_t es = 0;  // element size the copy runs with (set by makeStridedLayer)
};

// A copy that is a batch of 2-D transposes (see EdgertTile), in shared-memory tiles.
struct TiledTranspose {
  EdgertTile t{};
  CUdeviceptr x_offset = 0, y_offset = 0;  // bytes
  const char* kernel = nullptr;
};
// The tiled form of `part` (after vectorizeCopy), if it is one: its innermost output dim
// is strided in the input, one other dim is contiguous in the input, and at most one dim
// is left over as the batch.
bool asTiledTranspose(const StridedPart& part, TiledTranspose* out);
// Whether launchTiled's grid can cover `t` (its rows are the grid's y dimension).
bool tileGridFits(const EdgertTile& t);
Status launchTiled(const Env& env, const TiledTranspose& t, CUdeviceptr y, CUdeviceptr x);

// A strided view: output dims with per-dim input and output strides (elements).
EdgertStrided strided(const Dims& dims, const std::vector<int64_t>& in_strides,
                      const std::vector<int64_t>& out_strides, int64_t in_off = 0,
                      int64_t out_off = 0);

// The strided-copy kernel for an element size (1, 2, 4 or 8 bytes; callers check).
const char* stridedCopyKernel(size_t es);

// The same copy with contiguous dims merged and the widest element size that fits (see
// cuda_ops.cpp); `es` is the tensor's element size.
StridedPart vectorizeCopy(StridedPart part, size_t es);

// Transpose, Slice, Concat, Split, Expand, Pad's interior: strided copies in order.
std::unique_ptr<GpuLayer> makeStridedLayer(std::vector<StridedPart> parts, size_t es);

// Slice as a strided view of its input, whose per-axis strides are `xs` (NCHW or NHWC):
// the input strides per output axis (steps applied), and in `base` the first element.
std::vector<int64_t> sliceStrides(const NodeContext& c, const std::vector<int64_t>& xs,
                                  int64_t* base);

// A 2-D MaxPool / AveragePool's parameters, `nc` = N x C planes (NHWC layers set it to N).
Result<EdgertPool> poolParams(const NodeContext& c);
// A 4-D Resize's parameters (nearest or linear), `nc` = N x C planes (NHWC layers: N).
Result<EdgertResize> resizeParams(const NodeContext& c);

// cuBLASLt's first heuristic algorithm for D = op(A) op(B) (+ C) with the given layouts and
// at most 32 MiB of workspace; false when it has none.
bool ltHeuristicAlgo(const Env& env, cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a,
                     cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c, cublasLtMatmulAlgo_t* algo,
                     size_t* workspace);

// A cuBLASLt matmul descriptor with its compute and scale types and the two operations.
Status ltMatmulDesc(const Env& env, cublasComputeType_t compute, cudaDataType_t scale,
                    cublasOperation_t op_a, cublasOperation_t op_b, cublasLtMatmulDesc_t* desc);

// The activation the builder fused into a Conv / Gemm (`_act`), as an EdgertUnary code.
int convActivation(const NodeContext& c);

// KCRS float weights -> KRSC half (cuDNN's NHWC filter layout; k = (r * S + s) * CP + c within
// an output channel's row). `padded_c` (>= C): channels beyond C get zero weights (the stem's
// C=3 -> 4); `row_elems` (>= R * S * CP) and `rows` (>= K): rows padded with zeros to that
// length and count (tiled kernels).
Result<CUdeviceptr> uploadFilterNhwc(const Env& env, const HostTensor& w, const Dims& d,
                                     int64_t padded_c = 0, int64_t row_elems = 0, int64_t rows = 0);

// Input k is an activation the FP16 NHWC layers read as NHWC fp16 (a 4-D float tensor computed
// at run time).
bool halfAct(const NodeContext& c, size_t k);

}  // namespace edgert::cuda
