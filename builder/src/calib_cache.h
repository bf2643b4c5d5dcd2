// The INT8 calibration cache (`--calib-cache FILE`, issue #4): the thresholds calibration
// found, per tensor, so the next build of the same model needs no images. A text file:
//
//   edgert-calibration 3
//   model 9f86d081884c7d65          <- fingerprint of the FP32 graph it was made for
//   algorithm entropy 99.99         <- algorithm and percentile
//   2.8731000000000002 /stem/conv/Conv_output_0
//   ...                             <- threshold (%.17g: exact), one space, the tensor name to the
//                                      end of the line (\n and \\ escaped)
//   mean 3 0.5 -0.25 1.125 /stem/conv/Conv_output_0
//   ...                             <- "mean", the channel count, each channel's mean (%.17g),
//                                      the tensor name: an INT8 layer's input, for bias
//                                      correction; "clipped-mean" lines the same for the values
//                                      clipped to the tensor's threshold.
//   rounding 288 a5ff0c... /blocks.0/dw/Conv
//   ...                             <- "rounding", the weight count, one bit per weight
//                                      (output-major; 1: up from floor(w / s)) as hex, two
//                                      digits per byte, low bit first, the layer name: the
//                                      adaptive rounding of adaptive_rounding.h.
// Files of versions 1 (no means) and 2 (no rounding) are read too.
//
// A cache from another model is rejected by its fingerprint, naming both.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "edgert/status.h"

namespace edgert {

struct CalibrationCache {
  int version = 3;    // of the file it was read from
  std::string model;  // fingerprint
  std::string algorithm;
  double percentile = 99.99;
  std::map<std::string, double> thresholds;  // tensor name -> clipping threshold (> 0)
  // Tensor name -> per-channel (dim 1) mean over the calibration samples, of INT8 layers'
  // inputs: the bias correction of quantizeGraph. Empty in caches of version 1.
  std::map<std::string, std::vector<double>> means;
  // The same for the values clipped to [-threshold, threshold]: what INT8 layers see.
  std::map<std::string, std::vector<double>> clipped_means;
  // Layer name -> one byte per weight, 1 where it rounds up (adaptiveRounding). Empty in
  // caches of versions 1 and 2.
  std::map<std::string, std::vector<uint8_t>> rounding;
};

std::string formatCalibrationCache(const CalibrationCache& cache);
// Reads and parses the file; errors name it (and the line).
Result<CalibrationCache> loadCalibrationCache(const std::string& path);
// Errors name `origin` and the line.
Result<CalibrationCache> parseCalibrationCache(const std::string& text, const std::string& origin);
// An error naming both fingerprints when the cache was made for another model.
Status checkCalibrationModel(const CalibrationCache& cache, const std::string& model_fingerprint,
                             const std::string& origin);

}  // namespace edgert
