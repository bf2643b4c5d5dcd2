// Explicit quantisation (a Q/DQ model: PyTorch's, ONNX Runtime's and edgert's own exports) as
// an INT8 build with the model's scales. Each QuantizeLinear -> DequantizeLinear pair on an
// activation that a Conv / Gemm / MatMul reads as its input (directly or through a zero Pad),
// or that an Add reads, gives that tensor's threshold and zero point - what calibration gives -
// and leaves the graph; the int8 weights of DequantizeLinear(int8 constant) are used as given.
// quantizeGraph then fuses and places conversions as for a calibrated build, so a model written
// by `edgert quantize` builds into the engine its calibration cache builds (issue #12).
//
// Schemes taken: int8 with zero point 0 or uint8 with 128 (symmetric), int8 with -128 or uint8
// with 0 (unsigned: edgert's zero point -128). Pairs of other zero points, per-channel
// activation scales, or pairs that other ops read stay layers and run in float as the model
// spells them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "calib_cache.h"
#include "edgert/internal/graph.h"
#include "quantize_graph.h"

namespace edgert {

struct ExplicitQuantization {
  CalibrationCache thresholds;             // thresholds only: scale * 127, or * 255 unsigned
  std::map<std::string, int> zero_points;  // tensor -> 0 or -128
  std::map<std::string, QuantizedWeight> weights;
  size_t pairs_taken = 0;
};

// Takes the pairs out of `g` (the imported graph, before constant folding).
ExplicitQuantization takeExplicitQuantization(Graph& g);

}  // namespace edgert
