#include "image_calibration.h"

#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <set>

#include "edgert/internal/str.h"

namespace edgert::cli {

namespace fs = std::filesystem;

namespace {

class ImageFolderSource final : public CalibrationSource {
 public:
  ImageFolderSource(std::vector<std::string> files, vision::PreprocessSpec spec)
      : files_(std::move(files)), spec_(spec) {}
  int sampleCount() const override { return static_cast<int>(files_.size()); }

  Status getSamples(int first, const std::string& name, const Dims& dims, float* out) override {
    if (dims.size() != 4)
      return Status(StatusCode::kInvalidArgument,
                    strCat("calibration images feed image inputs; input '", name, "' is ",
                           dimsToString(dims)));
    const int64_t c = spec_.nhwc ? dims[3] : dims[1];
    const int64_t h = spec_.nhwc ? dims[1] : dims[2];
    const int64_t w = spec_.nhwc ? dims[2] : dims[3];
    if (c != 1 && c != 3)
      return Status(StatusCode::kInvalidArgument,
                    strCat("input '", name, "' ", dimsToString(dims), " has ", c, " channels in ",
                           spec_.nhwc ? "NHWC" : "NCHW",
                           " layout; images give 1 or 3 (layout=nhwc for channels-last models)"));
    for (int64_t i = 0; i < dims[0]; ++i) {
      const std::string& file = files_[(first + i) % files_.size()];
      const cv::Mat img = cv::imread(file, cv::IMREAD_COLOR);
      if (img.empty())
        return Status(StatusCode::kInvalidArgument, strCat(file, ": cannot decode as an image"));
      vision::ImageView v;
      v.format = vision::PixelFormat::kBGR;
      v.width = img.cols;
      v.height = img.rows;
      v.planes[0] = img.data;
      v.strides[0] = static_cast<int>(img.step[0]);
      auto r = vision::preprocessImage(v, spec_, static_cast<int>(w), static_cast<int>(h),
                                       static_cast<int>(c), out + i * c * h * w);
      if (!r.ok()) return r.status().withContext(file);
    }
    return Status::Ok();
  }

 private:
  std::vector<std::string> files_;
  vision::PreprocessSpec spec_;
};

}  // namespace

Result<std::vector<std::string>> listImages(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Status(StatusCode::kNotFound, strCat(dir, ": image folder not found"));
  static const std::set<std::string> kExt = {".jpg",  ".jpeg", ".png", ".bmp", ".tif",
                                             ".tiff", ".webp", ".ppm", ".pgm"};
  std::vector<std::string> files;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    std::string ext = it->path().extension().string();
    for (char& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (it->is_regular_file() && kExt.count(ext)) files.push_back(it->path().string());
  }
  if (ec) return Status(StatusCode::kInvalidArgument, strCat(dir, ": ", ec.message()));
  if (files.empty())
    return Status(StatusCode::kInvalidArgument,
                  strCat(dir, ": no images (.jpg, .jpeg, .png, .bmp, .tif, .webp, .ppm, .pgm)"));
  std::sort(files.begin(), files.end());
  return files;
}

Result<std::shared_ptr<CalibrationSource>> imageFolderCalibration(
    const std::string& dir, const vision::PreprocessSpec& spec) {
  EDGERT_ASSIGN_OR_RETURN(std::vector<std::string> files, listImages(dir));
  return std::shared_ptr<CalibrationSource>(new ImageFolderSource(std::move(files), spec));
}

}  // namespace edgert::cli
