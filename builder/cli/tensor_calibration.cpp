#include "tensor_calibration.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>

#include "../src/tensor_proto.h"
#include "edgert/internal/str.h"

namespace edgert::cli {

namespace fs = std::filesystem;

namespace {

bool isTensorFile(const fs::path& p) {
  const std::string e = p.extension().string();
  return e == ".npy" || e == ".pb";
}

std::vector<std::string> tensorFiles(const std::string& dir, bool recursive) {
  std::vector<std::string> files;
  std::error_code ec;
  if (recursive) {
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_regular_file(ec) && isTensorFile(it->path())) files.push_back(it->path().string());
  } else {
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_regular_file(ec) && isTensorFile(it->path())) files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The samples of one input: files in order, each holding `counts[i]` samples.
struct SampleFiles {
  std::string folder;
  std::vector<std::string> files;
  std::vector<int64_t> first;  // index of each file's first sample
  int64_t total = 0;
};

Result<SampleFiles> indexFiles(const std::string& folder, std::vector<std::string> files) {
  SampleFiles s;
  s.folder = folder;
  for (const std::string& f : files) {
    EDGERT_ASSIGN_OR_RETURN(HostTensor t, readTensorFile(f));
    const int64_t n = t.dims().size() >= 4 ? t.dims()[0] : 1;
    if (n < 1)
      return Status(StatusCode::kInvalidArgument,
                    strCat(f, ": a ", dimsToString(t.dims()), " tensor holds no sample"));
    s.first.push_back(s.total);
    s.total += n;
  }
  s.files = std::move(files);
  return s;
}

class TensorFolderSource final : public CalibrationSource {
 public:
  // `inputs`: input name -> its files; the key "" serves every input (a single-input model).
  explicit TensorFolderSource(std::map<std::string, SampleFiles> inputs)
      : inputs_(std::move(inputs)) {}
  int sampleCount() const override { return static_cast<int>(inputs_.begin()->second.total); }

  Status getSamples(int first, const std::string& name, const Dims& dims, float* out) override {
    auto it = inputs_.find(name);
    if (it == inputs_.end()) it = inputs_.find("");
    if (it == inputs_.end()) {
      std::string have;
      for (const auto& [k, v] : inputs_) have += strCat(have.empty() ? "" : ", ", k);
      return Status(StatusCode::kInvalidArgument,
                    strCat(inputs_.begin()->second.folder, "/..: no sub-folder for input '", name,
                           "' (the calibration folder has one per input: ", have, ")"));
    }
    const SampleFiles& sf = it->second;
    const int64_t per = dims.empty() || dims[0] == 0 ? 0 : volume(dims) / dims[0];
    for (int64_t i = 0; i < (dims.empty() ? 0 : dims[0]); ++i) {
      const int64_t k = (first + i) % sf.total;
      const size_t f = static_cast<size_t>(std::upper_bound(sf.first.begin(), sf.first.end(), k) -
                                           sf.first.begin() - 1);
      const std::string& file = sf.files[f];
      if (cached_file_ != file) {
        EDGERT_ASSIGN_OR_RETURN(cached_, readTensorFile(file));
        cached_file_ = file;
      }
      const HostTensor& t = cached_;
      const int64_t in_file = t.dims().size() >= 4 ? t.dims()[0] : 1;
      if (t.dtype() != DataType::kFloat32 || t.numel() != per * in_file)
        return Status(StatusCode::kInvalidArgument,
                      strCat(file, ": a ", dataTypeName(t.dtype()), " ", dimsToString(t.dims()),
                             " tensor cannot be a sample of input '", name, "' ",
                             dimsToString(dims), " (float32: [N, ...] batches or single samples)"));
      std::memcpy(out + i * per, t.as<float>() + (k - sf.first[f]) * per,
                  static_cast<size_t>(per) * sizeof(float));
    }
    return Status::Ok();
  }

 private:
  std::map<std::string, SampleFiles> inputs_;
  std::string cached_file_;
  HostTensor cached_;
};

}  // namespace

bool holdsTensorFiles(const std::string& dir) {
  return !tensorFiles(dir, true).empty();
}

Result<std::shared_ptr<CalibrationSource>> tensorFolderCalibration(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Status(StatusCode::kNotFound, strCat(dir, ": calibration folder not found"));
  std::map<std::string, SampleFiles> inputs;
  std::vector<std::string> top = tensorFiles(dir, false);
  if (!top.empty()) {
    EDGERT_ASSIGN_OR_RETURN(inputs[""], indexFiles(dir, std::move(top)));
  } else {
    // No files at the top: one sub-folder per input (or a single-input model's files spread over
    // sub-folders when only one holds any).
    std::vector<fs::path> subs;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_directory(ec) && !tensorFiles(it->path().string(), true).empty())
        subs.push_back(it->path());
    std::sort(subs.begin(), subs.end());
    if (subs.empty())
      return Status(StatusCode::kInvalidArgument,
                    strCat(dir, ": no .npy or .pb tensor files to calibrate on"));
    for (const fs::path& p : subs) {
      EDGERT_ASSIGN_OR_RETURN(inputs[p.filename().string()],
                              indexFiles(p.string(), tensorFiles(p.string(), true)));
    }
    if (subs.size() == 1) {
      SampleFiles only = std::move(inputs.begin()->second);
      inputs.clear();
      inputs[""] = std::move(only);
    }
    for (const auto& [name, sf] : inputs)
      if (sf.total != inputs.begin()->second.total)
        return Status(StatusCode::kInvalidArgument,
                      strCat(dir, ": sub-folders hold different numbers of samples (",
                             inputs.begin()->first, ": ", inputs.begin()->second.total, ", ", name,
                             ": ", sf.total, "); every input needs one per calibration sample"));
  }
  return std::shared_ptr<CalibrationSource>(new TensorFolderSource(std::move(inputs)));
}

}  // namespace edgert::cli
