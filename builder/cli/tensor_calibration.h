// Calibration from tensors already pre-processed: `--calib-dir DIR` holding .npy (or ONNX .pb)
// files, one sample each, float32, shaped like the input without its batch dim (or with a batch
// of 1). What TensorRT users feed a calibrator when their pre-processing lives elsewhere, and
// how a machine without OpenCV calibrates.
#pragma once

#include <memory>
#include <string>

#include "edgert/builder.h"

namespace edgert::cli {

// Whether `dir` holds tensor files (.npy / .pb) rather than images.
bool holdsTensorFiles(const std::string& dir);

// Errors name the folder (missing or empty) and, when sampled, the file and both shapes.
Result<std::shared_ptr<CalibrationSource>> tensorFolderCalibration(const std::string& dir);

}  // namespace edgert::cli
