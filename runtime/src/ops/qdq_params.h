// QuantizeLinear / DequantizeLinear's layout, validated once for the CPU kernels and the CUDA
// layers alike: which scale each element takes, and the quantised side's dtype.
#pragma once

#include "op_util.h"

namespace edgert::ops {

struct QdqParams {
  int64_t outer = 1, channels = 1, inner = 1;  // scale index = (i / inner) % channels
  int axis = -1;                               // the scales' axis; -1: one scale
  DataType qtype = DataType::kUInt8;           // the quantised side's dtype
  bool has_zero_point = false;
};

// Checks the node (block_size, the scale's and zero point's dtype and shape, the quantised
// dtype) and returns its layout, or an error naming what is unsupported or invalid.
Result<QdqParams> parseQdq(const NodeContext& c, bool quantize);

}  // namespace edgert::ops
