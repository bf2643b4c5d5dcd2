// INT8 layers kept in FP16 where FP16 is faster (BuildOptions::int8_timed_precision): the
// per-layer choice, kept apart so it can be tested without a GPU, and the whole-engine timing
// that decides whether the mixed engine replaces the all-INT8 one (a layer moved to FP16 can
// add a QuantizeLinear between its neighbours that the per-layer times do not see).
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "edgert/builder.h"

namespace edgert {

// An INT8 layer counts as faster in FP16 when its best FP16 time is below this fraction of its
// best INT8 time (5%: more than timing noise).
constexpr double kFasterInFp16 = 0.95;

// The INT8 layers (graph order, with their best INT8 time) whose best FP16 time is below
// `fraction` of it, unless layer_precisions names them (or "*" names a precision for all).
std::vector<BuildReport::TimedLayer> layersFasterInFp16(
    const std::vector<std::pair<std::string, double>>& int8_ms,
    const std::map<std::string, double>& fp16_ms,
    const std::map<std::string, std::string>& layer_precisions, double fraction);

// A set of INT8 layers to build in FP16 instead, and what it is.
struct PrecisionChoice {
  std::string name;
  std::set<std::string> layers;
};

// The engines worth timing against the all-INT8 one, each set once and none empty: the layers
// faster in FP16 (kFasterInFp16); only those more than 1.4x faster (moving a layer can put a
// QuantizeLinear between its neighbours, which per-layer times do not see); every candidate
// (a network whose INT8 layers barely win pays for the conversions around them: the
// YOLOv8-style detector, 0.22 ms at batch 128). None when no layer is faster in FP16.
std::vector<PrecisionChoice> precisionChoices(
    const std::vector<std::pair<std::string, double>>& int8_ms,
    const std::map<std::string, double>& fp16_ms,
    const std::map<std::string, std::string>& layer_precisions);

// Loads a serialised CUDA engine, runs it on zero inputs and returns its median time (ms) over
// `iterations` CUDA-graph replays after warm-up.
Result<double> medianEngineMs(const std::vector<uint8_t>& engine, const std::string& origin,
                              int iterations = 40);

}  // namespace edgert
