// The INT8 quantisation pass (issue #4): Conv, Gemm and MatMul layers with constant weights
// become EdgertQConv layers (symmetric per-tensor int8 activations, per-output-channel int8
// weights, int32 accumulation, fused float epilogue), given each activation's calibrated
// clipping threshold. Runs after the float fusion passes, on the tensors calibration saw.
//
// Conversions are as few as the graph allows: a layer writes int8 when every reader of its
// output is an INT8 layer (as input or fused residual), and float otherwise (the
// dequantisation is part of its epilogue); a QuantizeLinear is inserted only where an INT8
// layer reads a float tensor, once per tensor.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "calib_cache.h"
#include "edgert/internal/graph.h"

namespace edgert {

struct QuantizeReport {
  size_t int8_layers = 0;
  size_t quantize_nodes = 0;             // QuantizeLinear layers inserted
  std::vector<std::string> kept_float;   // candidates kept in float by layer_precisions
  std::vector<std::string> unsupported;  // Conv/Gemm/MatMul that cannot be INT8, and why
};

// Cross-layer equalisation (Nagel et al., "Data-Free Quantization", 2019): for a convolution
// A whose output only convolution B reads, through no activation or a positively homogeneous
// one (ReLU, LeakyReLU), output channel c of A is divided by s_c and B's input channel c
// multiplied by it, s_c = sqrt(range_A(c) / range_B(c)), so both weight ranges become
// sqrt(range_A * range_B). The float function is unchanged; per-tensor INT8 activations then
// no longer crush the channels that had small ranges (MobileNet's depthwise layers). Run on
// the float graph before calibration; returns the pairs equalised.
size_t equalizeCrossLayer(Graph& g);

// Layers that can run in INT8 (in graph order): their names.
std::vector<std::string> int8CandidateLayers(const Graph& g);

// `ranges`: per tensor (and per channel where calibration measured them) the clipping
// thresholds; scale = threshold / 127. Per-channel input scales are folded into the weights
// before those are quantised, so they cost nothing at run time.
// `layer_precisions`: layer name -> "int8", "fp16" or "fp32" ("*": every layer not named); a
// name that is no layer is an error listing every such name. A candidate whose input has no
// threshold is an error naming the tensors (a calibration cache made for other build options).
Result<QuantizeReport> quantizeGraph(Graph& g, const CalibrationCache& ranges,
                                     const std::map<std::string, std::string>& layer_precisions);

// Symmetric per-output-channel quantisation of a float32 weight tensor whose dim 0 is the
// output channel: q = sat(rint(w / s[m])), s[m] = max|w[m]| / 127 (1 where all are zero).
void quantizeWeightsPerChannel(const HostTensor& w, HostTensor* q, std::vector<float>* scales);

}  // namespace edgert
