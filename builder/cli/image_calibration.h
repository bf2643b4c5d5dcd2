// Calibration images for `edgert build --precision int8 --calib-dir DIR`: every image file
// under the folder (sorted by path), decoded with OpenCV and pre-processed exactly as the
// deployed element does (libedgert_vision's preprocessImage), so the thresholds fit what the
// engine will see. Built only with OpenCV (EDGERT_WITH_OPENCV).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "edgert/builder.h"
#include "edgert/vision/preprocess.h"
#include "input_files.h"

namespace edgert::cli {

// Decodes `files` with OpenCV and pre-processes file i into sample i of `out`, an image input
// `name` of `dims` (NCHW, or NHWC when the spec says layout=nhwc). Errors name the file or the
// input and its dims.
Status readImageBatch(const std::vector<std::string>& files, const vision::PreprocessSpec& spec,
                      const std::string& name, const Dims& dims, float* out);

// Errors name the folder (missing, or holding no image).
Result<std::shared_ptr<CalibrationSource>> imageFolderCalibration(
    const std::string& dir, const vision::PreprocessSpec& spec);

}  // namespace edgert::cli
