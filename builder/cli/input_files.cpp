#include "input_files.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "edgert/internal/str.h"

namespace edgert::cli {

namespace fs = std::filesystem;

bool isImageFile(const std::string& path) {
  static const std::set<std::string> kExt = {".jpg",  ".jpeg", ".png", ".bmp", ".tif",
                                             ".tiff", ".webp", ".ppm", ".pgm"};
  std::string ext = fs::path(path).extension().string();
  for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return kExt.count(ext) > 0;
}

Result<std::vector<std::string>> listImages(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Status(StatusCode::kNotFound, strCat(dir, ": image folder not found"));
  std::vector<std::string> files;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec))
    if (it->is_regular_file() && isImageFile(it->path().string()))
      files.push_back(it->path().string());
  if (ec) return Status(StatusCode::kInvalidArgument, strCat(dir, ": ", ec.message()));
  if (files.empty())
    return Status(StatusCode::kInvalidArgument,
                  strCat(dir, ": no images (.jpg, .jpeg, .png, .bmp, .tif, .webp, .ppm, .pgm)"));
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace edgert::cli
