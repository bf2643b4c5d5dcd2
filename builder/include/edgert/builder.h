// edgert builder: ONNX model -> optimised, verified engine file.
//
//   edgert::BuildOptions opt;
//   opt.shapes["input"] = {1, 3, 224, 224};      // resolves dynamic dims
//   auto st = edgert::buildEngineFile("model.onnx", "model.engine", opt);
//
// Every failure names the model, and where it applies the node, input and dim.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "edgert/status.h"
#include "edgert/types.h"

namespace edgert {

// A value given at build time for a graph input (TensorRT's shape-tensor values): the
// input becomes a constant and is folded into the network.
struct InputValue {
  DataType dtype = DataType::kUndefined;
  Dims dims;
  std::vector<uint8_t> data;
};

// INT8 calibration data (TensorRT's IInt8Calibrator): samples (images) for the network's
// inputs. Calibration runs the float network in batches of the engine's batch size.
// `edgert build --calib-dir` reads an image folder.
class CalibrationSource {
 public:
  virtual ~CalibrationSource() = default;
  virtual int sampleCount() const = 0;
  // Writes samples first, first + 1, ... (dims[0] of them, wrapping around after the last) of
  // input `name` as float32 of shape `dims` into `out`.
  virtual Status getSamples(int first, const std::string& name, const Dims& dims, float* out) = 0;
};

struct BuildOptions {
  std::string precision = "fp32";  // fp32, fp16 (CUDA backend), int8 (both)
  std::string target = "cpu";      // cpu | host | cuda | jetson-orin | jetson-thor | sm_XX[,sm_YY]
  std::map<std::string, Dims> shapes;        // input name -> dims for dynamic inputs
  std::map<std::string, InputValue> freeze;  // input name -> value fixed at build time
  // Fuse chains of elementwise ops into single layers (off only to compare against).
  bool fuse_elementwise = true;
  // Building for the GPU in this machine: time every implementation of each convolution
  // and keep the fastest (TensorRT's tactic selection). Off: cuDNN's heuristic choice.
  bool tactic_timing = true;
  // Tactic timings are read from and added to this file (created if missing), so the next
  // build of this or another model with the same layers on the same GPU skips the timing.
  std::string timing_cache;
  // The most scratch memory a timed tactic may ask for (TensorRT's workspace limit): the
  // context allocates the largest any layer chose. On an H200, ResNet-50 fp16 bs128 took
  // 4.13 ms with 767 MiB under the default and 4.56 ms with 530 MiB under 32 (the stem and
  // large 3x3 layers have faster algorithms that want more scratch).
  size_t max_workspace_mib = 256;
  // Memory at large batch: chains of per-sample layers (convolutions, pools, activations)
  // around the largest activations run in parts of at most this many images where that
  // lowers the activation memory by 5% or more; 0: never. At batch 128 on an H100,
  // MobileNetV2 fp16 needs 453 MiB whole and 348 MiB in parts of 64, 1% slower.
  int batch_split = 64;
  // "fp16": float32 inputs become float16 bindings (TensorRT's --inputIOFormats=fp16:chw), so
  // a caller with fp16 data hands it over as is and the context holds half the input bytes;
  // the engine converts them where it reads them. Outputs stay as the model declares them.
  std::string input_format = "fp32";
  // INT8: where the activation thresholds come from. `calib_cache` is read when it exists
  // (no source needed) and written after calibrating otherwise; a cache made for another
  // model is an error naming both.
  std::shared_ptr<CalibrationSource> calibration;
  // percentile (default) | entropy | minmax. Percentile, because on the real models of
  // ../shared/assets it kept more accuracy than TensorRT's default (entropy), which clips the
  // rare large activations a text detector depends on (bench/NOTES.md, INT8).
  std::string calib_algo = "percentile";
  double calib_percentile = 99.99;
  int calib_batches = 0;  // at most this many batches; 0: every sample once
  std::string calib_cache;
  // The model's image pre-processing (edgert::vision's CLI form): how calibration images were
  // pre-processed, recorded in the engine so `edgert run` and `edgert compare` feed images the
  // same way (any precision).
  std::string calib_preprocess;
  // Layer name -> "int8" | "fp16" | "fp32": layers kept out of INT8 (TensorRT's per-layer
  // precision). Names are the optimised network's layers (`edgert inspect`).
  std::map<std::string, std::string> layer_precisions;
  // Automatic mixed precision: when > 0, the INT8 network's outputs are compared with the
  // float network's on the first `int8_check_batches` calibration batches; while the worst
  // sample's cosine similarity is below this, the layer whose INT8 costs most (each measured
  // alone) is kept in float, the next, ... Needs calibration samples (not only a cache).
  double int8_min_cosine = 0;
  // The same for a classifier's top-1: while the fraction of check samples whose first output
  // has the same arg-max in INT8 as in float is below this (1: every sample), keep the next
  // costliest layer in float. Both targets may be set; both must be met.
  double int8_min_top1 = 0;
  int int8_check_batches = 8;
  // Every int8 tensor symmetric (zero point 0), as TensorRT's explicit quantisation requires.
  // Off (default): non-negative tensors (ReLU / Clip(0, ...) outputs) are stored unsigned, with
  // half the rounding step (EfficientNet-Lite0, entropy: top-1 agreement 91.7% -> 97.2%).
  bool int8_symmetric = false;
  // INT8 GPU builds with tactic timing: each INT8 layer is also timed in FP16 (as the FP16
  // engine would run it); the engines with the layers faster in FP16 moved there, with only
  // the clearly faster ones, and with every candidate in FP16 are timed whole on this GPU
  // against the all-INT8 one, and the fastest is kept (TensorRT's choice with --int8 --fp16).
  // layer_precisions entries are never overridden. Off: every candidate INT8.
  bool int8_timed_precision = true;
  // Called with a stage name and progress in [0, 1].
  std::function<void(const std::string& stage, double fraction)> progress;
};

// Counts from the last build, for the CLI's summary line.
struct BuildReport {
  size_t onnx_nodes = 0;
  size_t layers = 0;
  size_t folded_nodes = 0;
  size_t removed_nodes = 0;
  uint64_t arena_bytes = 0;
  uint64_t weight_bytes = 0;
  uint64_t engine_bytes = 0;
  // CUDA targets: layers with no GPU implementation, run on the CPU inside the GPU
  // context (with copies); listed so it is never a silent slowdown.
  std::vector<std::string> cpu_fallback_layers;
  // Tactic selection: layers timed on the GPU now, and layers whose choice came from the
  // timing cache.
  size_t tactics_timed = 0;
  size_t tactics_cached = 0;
  // Batch splitting (BuildOptions::batch_split): chains run in parts, their layers, and
  // the planned activation bytes before it.
  size_t split_chains = 0;
  size_t split_layers = 0;
  uint64_t arena_unsplit_bytes = 0;
  // INT8: layers in INT8, QuantizeLinear layers added, candidates kept in float, Conv/Gemm/
  // MatMul layers that cannot be INT8 and why; calibration batches run (0: from the cache).
  size_t int8_layers = 0;
  size_t quantize_layers = 0;
  size_t int8_pools = 0;                  // max pools between INT8 layers, run on int8
  size_t int8_equalized_pairs = 0;        // convolution pairs cross-layer equalised
  size_t int8_bias_corrected = 0;         // INT8 layers whose bias absorbs their weights' rounding
  size_t int8_unsigned_tensors = 0;       // non-negative int8 tensors stored with zero point -128
  bool int8_cache_without_means = false;  // a version-1 calibration cache: no bias correction
  size_t int8_adaptively_rounded = 0;     // INT8 layers whose weights round against their inputs
  bool int8_cache_without_rounding = false;  // a calibration cache before version 3
  bool int8_explicit = false;                // a Q/DQ model: its own scales, no calibration
  std::vector<std::string> int8_kept_float;
  std::vector<std::string> int8_unsupported;
  // With int8_min_cosine: the worst cosine of the INT8 network before and after keeping
  // layers in float, and the layers kept (in the order chosen) with their cosine when alone
  // in INT8. int8_cosine is -2 when not measured. The top-1 agreement (fraction of check
  // samples, first output) before and after, and how many samples it was measured on.
  double int8_cosine_all = -2, int8_cosine = -2;
  double int8_top1_all = -1, int8_top1 = -1;
  int64_t int8_check_samples = 0;
  std::vector<std::pair<std::string, double>> int8_auto_float;
  // int8_timed_precision: the INT8 layers faster in FP16 alone (layer, best INT8 ms, best FP16
  // ms; graph order); each engine timed whole on this GPU (median ms): every candidate INT8
  // first, then each choice of layers moved to FP16; and the index of the one kept (fastest).
  struct TimedLayer {
    std::string layer;
    double int8_ms = 0, fp16_ms = 0;
  };
  std::vector<TimedLayer> int8_faster_in_fp16;
  struct TimedEngine {
    std::string choice;  // "all INT8", "faster in FP16", "over 1.4x faster in FP16", "all FP16"
    size_t fp16_layers = 0;
    double ms = 0;
  };
  std::vector<TimedEngine> int8_timed_engines;
  size_t int8_timed_kept = 0;
  // Why the choice did not run, or a timing in it that failed (empty when all went through).
  std::string int8_timed_note;
  int calib_batches_run = 0;
  double calib_seconds = 0;
  std::string calib_cache_written;
};

// Builds and returns the serialised engine.
Result<std::vector<uint8_t>> buildEngine(const std::string& onnx_path, const BuildOptions& options,
                                         BuildReport* report = nullptr);

// The same for a model held in memory; `origin` names it in errors. External data is
// refused (there is no folder to resolve it against).
Result<std::vector<uint8_t>> buildEngineFromMemory(const void* onnx_bytes, size_t size,
                                                   const std::string& origin,
                                                   const BuildOptions& options,
                                                   BuildReport* report = nullptr);

// Builds and writes atomically (temp file + rename): an interrupted build leaves nothing.
Status buildEngineFile(const std::string& onnx_path, const std::string& engine_path,
                       const BuildOptions& options, BuildReport* report = nullptr);

// Quantized ONNX export (`edgert quantize`): what an INT8 build of `onnx_path` decides -
// calibration (options.calibration, calib_cache, calib_algo), mixed precision
// (layer_precisions, int8_min_cosine / int8_min_top1), bias correction, adaptive rounding -
// written as the same model with QuantizeLinear / DequantizeLinear pairs, for TensorRT 10
// (trtexec --int8), ONNX Runtime, or `edgert build` (which honours the scales and builds the
// engine the calibration cache builds). Activations per tensor, symmetric unless
// options.int8_symmetric is false (then ReLU / Clip(0, ...) outputs are uint8 with zero point
// 0, which TensorRT does not take); weights int8 per output channel, as DequantizeLinear of
// int8 initializers; layers kept in float unquantised. Batch norms that follow convolutions are
// folded into them, the opset raised to 13 where it is lower, and the result checked with
// ONNX's checker before it is written atomically. options.target and precision are not used.
struct QdqExportReport {
  size_t int8_layers = 0;
  size_t float_layers = 0;        // Conv / Gemm / MatMul left unquantised
  size_t activation_pairs = 0;    // QuantizeLinear -> DequantizeLinear pairs on activations
  size_t unsigned_pairs = 0;      // of which uint8
  size_t folded_batch_norms = 0;  // BatchNormalization nodes folded into convolutions
  int64_t opset_from = 0, opset_to = 0;
  BuildReport build;  // calibration and quantisation counts
};
Status exportQdqOnnx(const std::string& onnx_path, const std::string& output_path,
                     const BuildOptions& options, QdqExportReport* report = nullptr);

// Parses "input:1x3x224x224,mask:1x1" into the shapes map.
Result<std::map<std::string, Dims>> parseShapes(const std::string& spec);

// The ops the builder accepts, sorted (registry + importer-level ops such as Upsample).
std::vector<std::string> supportedOps();

}  // namespace edgert
