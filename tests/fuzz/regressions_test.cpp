// Inputs the fuzzers once crashed on (tests/fuzz/regressions/<parser>/*) must now give an
// error or a result, never a crash; the sanitizer build (scripts/fuzz.sh) replays them too.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "build_config.h"
#include "edgert/edgert.h"
#include "edgert/internal/npy.h"
#include "onnx_import.h"

namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> readAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(FuzzRegressions, ReplayEveryFinding) {
  const fs::path root = fs::path(EDGERT_SOURCE_DIR) / "tests/fuzz/regressions";
  size_t n = 0;
  edgert::RuntimeOptions ro;
  ro.backend = edgert::Backend::kCpu;
  auto rt = edgert::Runtime::create(ro).value();
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    const auto bytes = readAll(e.path());
    const std::string kind = e.path().parent_path().filename().string();
    if (kind == "onnx") (void)edgert::importOnnxBytes(bytes.data(), bytes.size(), "regression", "");
    if (kind == "npy") (void)edgert::parseNpy(bytes.data(), bytes.size(), "regression");
    if (kind == "yaml")
      (void)edgert::parseBuildConfig(std::string(bytes.begin(), bytes.end()), "regression",
                                     "/nonexistent");
    if (kind == "engine") (void)rt->deserializeEngine(bytes.data(), bytes.size(), "regression");
    ++n;
  }
  EXPECT_GT(n, 0u);
}

}  // namespace
