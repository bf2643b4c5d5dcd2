// Which command-line inputs are images: by file name, so that the runtime-only `edgert`
// (no OpenCV) can say what to install instead of failing to parse a JPEG as .npy.
#pragma once

#include <string>
#include <vector>

#include "edgert/status.h"

namespace edgert::cli {

// Whether the file name ends as an image OpenCV reads (.jpg, .png, .bmp, .tif, .webp, .ppm ...).
bool isImageFile(const std::string& path);

// The image files under `dir`, sorted by path; errors name the folder (missing, or holding no
// image).
Result<std::vector<std::string>> listImages(const std::string& dir);

}  // namespace edgert::cli
