#include "tensor_calibration.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "../src/tensor_proto.h"
#include "edgert/internal/str.h"

namespace edgert::cli {

namespace fs = std::filesystem;

namespace {

bool isTensorFile(const fs::path& p) {
  const std::string e = p.extension().string();
  return e == ".npy" || e == ".pb";
}

std::vector<std::string> tensorFiles(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && isTensorFile(it->path())) files.push_back(it->path().string());
  std::sort(files.begin(), files.end());
  return files;
}

class TensorFolderSource final : public CalibrationSource {
 public:
  explicit TensorFolderSource(std::vector<std::string> files) : files_(std::move(files)) {}
  int sampleCount() const override { return static_cast<int>(files_.size()); }

  Status getSamples(int first, const std::string& name, const Dims& dims, float* out) override {
    const int64_t per = dims.empty() || dims[0] == 0 ? 0 : volume(dims) / dims[0];
    for (int64_t i = 0; i < (dims.empty() ? 0 : dims[0]); ++i) {
      const std::string& file = files_[(first + i) % files_.size()];
      EDGERT_ASSIGN_OR_RETURN(HostTensor t, readTensorFile(file));
      if (t.dtype() != DataType::kFloat32 || t.numel() != per)
        return Status(StatusCode::kInvalidArgument,
                      strCat(file, ": a ", dataTypeName(t.dtype()), " ", dimsToString(t.dims()),
                             " tensor cannot be a sample of input '", name, "' ",
                             dimsToString(dims), " (float32, one sample each)"));
      std::memcpy(out + i * per, t.data(), static_cast<size_t>(per) * sizeof(float));
    }
    return Status::Ok();
  }

 private:
  std::vector<std::string> files_;
};

}  // namespace

bool holdsTensorFiles(const std::string& dir) {
  return !tensorFiles(dir).empty();
}

Result<std::shared_ptr<CalibrationSource>> tensorFolderCalibration(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Status(StatusCode::kNotFound, strCat(dir, ": calibration folder not found"));
  std::vector<std::string> files = tensorFiles(dir);
  if (files.empty())
    return Status(StatusCode::kInvalidArgument,
                  strCat(dir, ": no .npy or .pb tensor files to calibrate on"));
  return std::shared_ptr<CalibrationSource>(new TensorFolderSource(std::move(files)));
}

}  // namespace edgert::cli
