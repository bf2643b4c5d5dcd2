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

namespace edgert::cli {

// The image files under `dir`, sorted by path; errors name the folder (missing, or holding no
// image).
Result<std::vector<std::string>> listImages(const std::string& dir);

// Errors name the folder (missing, or holding no image).
Result<std::shared_ptr<CalibrationSource>> imageFolderCalibration(
    const std::string& dir, const vision::PreprocessSpec& spec);

}  // namespace edgert::cli
