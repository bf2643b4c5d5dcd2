// `edgert compare`: an engine (INT8, FP16 ...) against the ONNX model run in FP32 on the CPU
// reference backend, on a folder of real images pre-processed as the engine's calibration
// was (or --preprocess). Per output: cosine similarity, relative error, top-1 / top-5
// agreement of classifier outputs, IoU of thresholded maps (--mask-threshold), accuracy with
// --labels. --per-layer: the cosine each INT8 layer gives when it alone is INT8 (needs the
// calibration cache), to pick the layers to keep in FP16.
#pragma once

#include <string>

namespace edgert::cli {

struct CompareFlags {
  std::string onnx, engine, data, labels, preprocess, json, calib_cache;
  std::string backend = "auto";
  bool per_layer = false;
  double mask_threshold = -1;  // < 0: no IoU
};

int cmdCompare(const CompareFlags& flags);

}  // namespace edgert::cli
