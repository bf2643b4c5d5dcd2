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
  size_t int8_pools = 0;                 // MaxPool layers between INT8 layers run on int8
  size_t unsigned_tensors = 0;           // int8 tensors stored with zero point -128
  size_t bias_corrected = 0;             // INT8 layers whose bias absorbs their weights' rounding
  size_t adaptively_rounded = 0;         // INT8 layers with the cache's adaptive rounding
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

// The precision `layer_precisions` gives layer `name`: its own entry, else the "*" entry, else
// null (the build's default).
const std::string* layerPrecision(const std::map<std::string, std::string>& layer_precisions,
                                  const std::string& name);

// `ranges`: each tensor's clipping threshold; scale = threshold / 127, or threshold / 255 for
// non-negative tensors stored with zero point -128 (one per tensor: per-channel activation
// scales, folded into the weights, were tried and overfit the calibration images -
// bench/NOTES.md); and the per-channel means of layer inputs, with which each layer's bias
// absorbs the mean error of its rounded weights (bias correction; none where a cache of
// version 1 has no means).
// `layer_precisions`: layer name -> "int8", "fp16" or "fp32" ("*": every layer not named); a
// name that is no layer is an error listing every such name. A candidate whose input has no
// threshold is an error naming the tensors (a calibration cache made for other build options).
Result<QuantizeReport> quantizeGraph(Graph& g, const CalibrationCache& ranges,
                                     const std::map<std::string, std::string>& layer_precisions);

// Explicit quantisation (issue #4 part 4): models with QuantizeLinear / DequantizeLinear
// (PyTorch's and ONNX Runtime's Q/DQ exports) carry their own scales; no calibration.
//
// Constant folding turns DequantizeLinear(int8 weights) into float weights; record the int8
// values and scales first (keyed by the float tensor's name) so they are used as given.
struct QuantizedWeight {
  HostTensor values;  // int8
  std::vector<float> scales;
  int64_t axis = 0;  // of `scales` when there are several
};
std::map<std::string, QuantizedWeight> recordWeightQuantization(const Graph& imported);
bool hasQdq(const Graph& g);

// DequantizeLinear(x int8, scalar scale, zero 0) -> Conv / Gemm / MatMul with recorded int8
// weights (symmetric, per output channel or per tensor) -> [QuantizeLinear(scalar, zero 0)
// for every reader] becomes one EdgertQConv with the given scales; its output stays int8 when
// every reader was such a QuantizeLinear. Returns the layers made; `skipped` gets the Q/DQ
// convolutions that do not fit (why), which run in float as the model spells them.
size_t fuseExplicitQdq(Graph& g, const std::map<std::string, QuantizedWeight>& weights,
                       std::vector<std::string>* skipped);

// Symmetric per-output-channel quantisation of a float32 weight tensor whose dim 0 is the
// output channel: q = sat(rint(w / s[m])), s[m] = max|w[m]| / 127 (1 where all are zero).
void quantizeWeightsPerChannel(const HostTensor& w, HostTensor* q, std::vector<float>* scales);

}  // namespace edgert
