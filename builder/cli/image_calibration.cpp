#include "image_calibration.h"

#include <filesystem>
#include <opencv2/imgcodecs.hpp>

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
    std::vector<std::string> batch;
    for (int64_t i = 0; i < (dims.empty() ? 0 : dims[0]); ++i)
      batch.push_back(files_[(first + i) % files_.size()]);
    return readImageBatch(batch, spec_, name, dims, out);
  }

 private:
  std::vector<std::string> files_;
  vision::PreprocessSpec spec_;
};

}  // namespace

Status readImageBatch(const std::vector<std::string>& files, const vision::PreprocessSpec& spec,
                      const std::string& name, const Dims& dims, float* out) {
  if (dims.size() != 4)
    return Status(StatusCode::kInvalidArgument,
                  strCat("images feed image inputs ([N, C, H, W] or [N, H, W, C]); input '", name,
                         "' is ", dimsToString(dims)));
  const int64_t c = spec.nhwc ? dims[3] : dims[1];
  const int64_t h = spec.nhwc ? dims[1] : dims[2];
  const int64_t w = spec.nhwc ? dims[2] : dims[3];
  if (c != 1 && c != 3)
    return Status(StatusCode::kInvalidArgument,
                  strCat("input '", name, "' ", dimsToString(dims), " has ", c, " channels in ",
                         spec.nhwc ? "NHWC" : "NCHW",
                         " layout; images give 1 or 3 (layout=nhwc for channels-last models)"));
  if (static_cast<int64_t>(files.size()) > dims[0])
    return Status(StatusCode::kInternal, strCat(files.size(), " images for a batch of ", dims[0]));
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& file = files[i];
    const cv::Mat img = cv::imread(file, cv::IMREAD_COLOR);
    if (img.empty())
      return Status(StatusCode::kInvalidArgument, strCat(file, ": cannot decode as an image"));
    vision::ImageView v;
    v.format = vision::PixelFormat::kBGR;
    v.width = img.cols;
    v.height = img.rows;
    v.planes[0] = img.data;
    v.strides[0] = static_cast<int>(img.step[0]);
    auto r =
        vision::preprocessImage(v, spec, static_cast<int>(w), static_cast<int>(h),
                                static_cast<int>(c), out + static_cast<int64_t>(i) * c * h * w);
    if (!r.ok()) return r.status().withContext(file);
  }
  return Status::Ok();
}

Result<std::shared_ptr<CalibrationSource>> imageFolderCalibration(
    const std::string& dir, const vision::PreprocessSpec& spec) {
  EDGERT_ASSIGN_OR_RETURN(std::vector<std::string> files, listImages(dir));
  return std::shared_ptr<CalibrationSource>(new ImageFolderSource(std::move(files), spec));
}

}  // namespace edgert::cli
