#include "tma_maps.h"

namespace edgert::cuda {

CUtensorMapSwizzle tmaSwizzle(int row_bytes) {
  return row_bytes == 128 ? CU_TENSOR_MAP_SWIZZLE_128B : CU_TENSOR_MAP_SWIZZLE_64B;
}

Status encodeTiledMap(const Env& env, CUtensorMap* map, TmaElement e, CUdeviceptr base,
                      int64_t inner, int64_t outer, int box_inner, int box_rows,
                      CUtensorMapSwizzle swizzle, std::string_view who) {
  if (!env.d->cuTensorMapEncodeTiled)
    return Status(StatusCode::kUnavailable, "the CUDA driver lacks cuTensorMapEncodeTiled (TMA)");
  if (base % 16 != 0)
    return Status(StatusCode::kInvalidArgument,
                  strCat(who, ": operand address ", base, " is not 16-byte aligned"));
  const cuuint64_t dim[2] = {static_cast<cuuint64_t>(inner), static_cast<cuuint64_t>(outer)};
  const cuuint64_t stride[1] = {static_cast<cuuint64_t>(inner * e.bytes)};
  const cuuint32_t box[2] = {static_cast<cuuint32_t>(box_inner), static_cast<cuuint32_t>(box_rows)},
                   step[2] = {1, 1};
  return env.d->check(env.d->cuTensorMapEncodeTiled(
                          map, e.type, 2, reinterpret_cast<void*>(base), dim, stride, box, step,
                          CU_TENSOR_MAP_INTERLEAVE_NONE, swizzle,
                          CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE),
                      strCat("cuTensorMapEncodeTiled (", who, ")").c_str());
}

Im2colBox im2colBox(const Im2colWalk& g) {
  return {{-g.pw, -g.ph},
          {(g.ow - 1) * g.sw - g.pw - (g.iw - 1), (g.oh - 1) * g.sh - g.ph - (g.ih - 1)}};
}

bool im2colMapFits(const Im2colWalk& g) {
  if (g.sh > 8 || g.sw > 8) return false;
  const Im2colBox b = im2colBox(g);
  for (long long v : {b.lower[0], b.lower[1], b.upper[0], b.upper[1]})
    if (v < -128 || v > 127) return false;
  return true;
}

Status encodeIm2colMap(const Env& env, CUtensorMap* map, TmaElement e, CUdeviceptr x,
                       const Im2colWalk& g, int box_channels, std::string_view who) {
  if (!env.d->cuTensorMapEncodeIm2col)
    return Status(StatusCode::kUnavailable, "the CUDA driver lacks cuTensorMapEncodeIm2col (TMA)");
  if (x % 16 != 0)
    return Status(StatusCode::kInvalidArgument,
                  strCat(who, ": input address ", x, " is not 16-byte aligned"));
  const cuuint64_t dim[4] = {static_cast<cuuint64_t>(g.c), static_cast<cuuint64_t>(g.iw),
                             static_cast<cuuint64_t>(g.ih), static_cast<cuuint64_t>(g.n)};
  const int64_t row = g.c * e.bytes;
  const cuuint64_t stride[3] = {static_cast<cuuint64_t>(row), static_cast<cuuint64_t>(row * g.iw),
                                static_cast<cuuint64_t>(row * g.iw * g.ih)};
  // The layers take this path only with the box inside the map's [-128, 127] range.
  const Im2colBox b = im2colBox(g);
  const int lower[2] = {static_cast<int>(b.lower[0]), static_cast<int>(b.lower[1])};
  const int upper[2] = {static_cast<int>(b.upper[0]), static_cast<int>(b.upper[1])};
  const cuuint32_t step[4] = {1, static_cast<cuuint32_t>(g.sw), static_cast<cuuint32_t>(g.sh), 1};
  return env.d->check(env.d->cuTensorMapEncodeIm2col(
                          map, e.type, 4, reinterpret_cast<void*>(x), dim, stride, lower, upper,
                          static_cast<cuuint32_t>(box_channels), 128, step,
                          CU_TENSOR_MAP_INTERLEAVE_NONE, tmaSwizzle(box_channels * e.bytes),
                          CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE),
                      strCat("cuTensorMapEncodeIm2col (", who, ")").c_str());
}

}  // namespace edgert::cuda
