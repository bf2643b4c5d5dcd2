// Calibration from tensors already pre-processed: `--calib-dir DIR` holding .npy (or ONNX .pb)
// float32 files, read in sorted order. A file of rank 4 or more holds a batch ([1, C, H, W] or
// [N, C, H, W]: N samples); a smaller one holds one sample shaped like the input without its
// batch dim. A model with several inputs takes one sub-folder per input name (DIR/<input>/...,
// the same number of samples in each). What TensorRT users feed a calibrator when their
// pre-processing lives elsewhere, and how a machine without OpenCV calibrates.
#pragma once

#include <memory>
#include <string>

#include "edgert/builder.h"

namespace edgert::cli {

// Whether `dir` holds tensor files (.npy / .pb) rather than images.
bool holdsTensorFiles(const std::string& dir);

// Errors name the folder (missing, empty, sub-folders of different sample counts) and, when
// sampled, the file and both shapes.
Result<std::shared_ptr<CalibrationSource>> tensorFolderCalibration(const std::string& dir);

}  // namespace edgert::cli
