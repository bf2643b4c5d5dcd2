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

// What quantizeGraph decided for one INT8 layer, in the terms of the float layer it replaced:
// what a Q/DQ ONNX export (qdq_export.h) writes.
struct QuantizedLayer {
  std::string name;                  // the layer (the ONNX node's name)
  std::string op;                    // Conv, Gemm or MatMul
  float x_scale = 0;                 // its input's
  int x_zero = 0;                    // 0, or -128 for an unsigned tensor
  HostTensor weights;                // int8, [outputs, ...] (Gemm / MatMul: [N, K])
  std::vector<float> weight_scales;  // per output
  // The float bias with bias correction and Gemm's beta in it, one per output; empty when the
  // layer has none. (The zero points' parts stay out: they are the integer kernels' business.)
  std::vector<float> bias;
  std::string residual;  // an int8 residual the layer adds (fused Add), else empty
  float residual_scale = 0;
  int residual_zero = 0;
};

struct QuantizeReport {
  size_t int8_layers = 0;
  size_t quantize_nodes = 0;             // QuantizeLinear layers inserted
  size_t int8_pools = 0;                 // MaxPool layers between INT8 layers run on int8
  size_t unsigned_tensors = 0;           // int8 tensors stored with zero point -128
  size_t bias_corrected = 0;             // INT8 layers whose bias absorbs their weights' rounding
  size_t adaptively_rounded = 0;         // INT8 layers with the cache's adaptive rounding
  std::vector<std::string> kept_float;   // candidates kept in float by layer_precisions
  std::vector<std::string> unsupported;  // Conv/Gemm/MatMul that cannot be INT8, and why
  std::vector<QuantizedLayer> layers;    // every INT8 layer, in graph order
};

// Int8 weights as a Q/DQ model gives them (DequantizeLinear of an int8 constant), keyed by the
// float tensor's name: constant folding dequantises them, so recordWeightQuantization keeps the
// integers first.
struct QuantizedWeight {
  HostTensor values;  // int8
  std::vector<float> scales;
  int64_t axis = 0;  // of `scales` when there are several
};

struct QuantizeOptions {
  // Non-negative tensors an INT8 layer writes are stored unsigned (zero point -128); false:
  // every tensor symmetric, as TensorRT's explicit quantisation requires.
  bool allow_unsigned = true;
  bool correct_bias = true;  // with the cache's means (none: no correction)
  // Explicit quantisation (a Q/DQ model): weights used as given where the layer's weight
  // tensor is named here; per tensor, the zero point the model asked for (0 or -128: it must
  // be what edgert would store, else an error); candidates whose input has no threshold stay
  // float instead of being an error.
  const std::map<std::string, QuantizedWeight>* given_weights = nullptr;
  const std::map<std::string, int>* zero_points = nullptr;
  bool float_without_threshold = false;
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
                                     const std::map<std::string, std::string>& layer_precisions,
                                     const QuantizeOptions& options = {});

// Explicit quantisation (issue #4 part 4): models with QuantizeLinear / DequantizeLinear
// (PyTorch's, ONNX Runtime's and edgert's own Q/DQ exports) carry their own scales; no
// calibration. The int8 weights of DequantizeLinear(int8 constant) nodes, by the name of the
// float tensor they make.
std::map<std::string, QuantizedWeight> recordWeightQuantization(const Graph& imported);
bool hasQdq(const Graph& g);

// [K, N] int8 weights as [N, K] (and back): Gemm (transB = 0) and MatMul store [K, N],
// EdgertQConv and QuantizedLayer::weights hold [outputs, K].
HostTensor transposedInt8(const HostTensor& w);

// Symmetric per-output-channel quantisation of a float32 weight tensor whose dim 0 is the
// output channel: q = sat(rint(w / s[m])), s[m] = max|w[m]| / 127 (1 where all are zero).
void quantizeWeightsPerChannel(const HostTensor& w, HostTensor* q, std::vector<float>* scales);

}  // namespace edgert
