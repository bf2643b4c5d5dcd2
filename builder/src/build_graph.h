// Building from a graph already in memory: what buildEngine does after importing ONNX. Tests
// use it to build graphs of edgert's internal ops (EdgertQConv...), which ONNX files cannot
// name.
#pragma once

#include <string>
#include <vector>

#include "calib_cache.h"
#include "edgert/builder.h"
#include "edgert/internal/engine_model.h"
#include "onnx_import.h"
#include "passes.h"
#include "quantize_graph.h"

namespace edgert {

Result<std::vector<uint8_t>> buildFromGraph(ImportedModel model, const std::string& origin,
                                            const BuildOptions& options,
                                            BuildReport* report = nullptr);

// The optimisation passes of a build, and for precision int8 the quantisation (calibration or
// cache, or a Q/DQ model's own scales): what the engine's graph is made of. `plan` (may be
// null) gets what quantizeGraph decided per INT8 layer (the Q/DQ export writes it). `calib`
// (may be null): activation thresholds found by an earlier build of the same model, used
// instead of the cache file or calibration, or (when empty) where this build's go.
Status optimizeGraph(Graph& g, const std::string& onnx_path, const BuildOptions& opt,
                     const EngineTarget& target, BuildReport& rep, PassStats& stats,
                     QuantizeReport* plan, CalibrationCache* calib = nullptr);

}  // namespace edgert
