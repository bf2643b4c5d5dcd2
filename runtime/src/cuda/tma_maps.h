// Tensor maps for the TMA-fed wgmma kernels (kernels/int8_tma.cu, kernels/conv_f16_tma.cu): a
// row-major matrix as 2-D boxes, and an NHWC tensor as im2col boxes (the filter positions of
// consecutive output pixels for one tap and channel block). Rows one swizzle atom wide, the
// layout the kernels' wgmma descriptors read.
#pragma once

#include <cstdint>
#include <string_view>

#include "cuda_ops.h"

namespace edgert::cuda {

struct TmaElement {
  CUtensorMapDataType type;
  int bytes;
};
inline constexpr TmaElement kTmaInt8{CU_TENSOR_MAP_DATA_TYPE_UINT8, 1};
inline constexpr TmaElement kTmaHalf{CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2};

// The swizzle matching a row of `row_bytes` (128 or 64) bytes.
CUtensorMapSwizzle tmaSwizzle(int row_bytes);

// [outer][inner] elements at `base` as boxes of `box_inner` x `box_rows`; elements past either
// bound arrive as zeros. `who` names the layer kind in errors.
Status encodeTiledMap(const Env& env, CUtensorMap* map, TmaElement e, CUdeviceptr base,
                      int64_t inner, int64_t outer, int box_inner, int box_rows,
                      CUtensorMapSwizzle swizzle, std::string_view who);

// What an im2col map walks: the NHWC input, the output size, strides and begin pads.
struct Im2colWalk {
  int64_t n, ih, iw, c, oh, ow;
  int sh, sw, ph, pw;
};

// The bounding box of filter-window corners the map walks, offsets W then H (the dimensions
// innermost first): the begin pads below zero, and the last window's corner relative to the
// input's last pixel. A 4-D map takes corners in [-128, 127].
struct Im2colBox {
  long long lower[2], upper[2];
};
Im2colBox im2colBox(const Im2colWalk& g);
// Whether a 4-D im2col map can walk it: strides up to 8, corners within [-128, 127].
bool im2colMapFits(const Im2colWalk& g);

// The input as im2col boxes of `box_channels` channels x 128 output pixels, walked with the
// convolution's strides; taps are offsets given per copy.
Status encodeIm2colMap(const Env& env, CUtensorMap* map, TmaElement e, CUdeviceptr x,
                       const Im2colWalk& g, int box_channels, std::string_view who);

}  // namespace edgert::cuda
