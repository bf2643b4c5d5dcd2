// Real models exported by PyTorch (tests/models/export_models.py): each builds and matches
// the framework's output with relative L2 error below 1e-4 on the CPU backend.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "edgert/internal/npy.h"
#include "test_util.h"

namespace fs = std::filesystem;
using namespace edgert;

namespace {

std::string modelsDir() {
  const char* e = std::getenv("EDGERT_MODELS_DIR");
  return e ? e : "models";
}

struct ModelCase {
  std::string name, input, shapes;
};

std::vector<ModelCase> manifest() {
  std::vector<ModelCase> v;
  std::ifstream in(fs::path(modelsDir()) / "manifest.txt");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    ModelCase c;
    if (ss >> c.name >> c.input >> c.shapes) v.push_back(c);
  }
  return v;
}

class ExportedModel : public ::testing::TestWithParam<ModelCase> {};

TEST_P(ExportedModel, MatchesPyTorch) {
  if (const std::string why = test::backendUnavailableReason(); !why.empty()) GTEST_SKIP() << why;
  const ModelCase& c = GetParam();
  const fs::path dir = modelsDir();
  BuildOptions opt;
  opt.target = test::testTarget();
  // EDGERT_TEST_PRECISION=fp16 (GPU suite): tensor-core layers in FP16, judged at 1e-2.
  const char* prec = std::getenv("EDGERT_TEST_PRECISION");
  const bool fp16 = prec && std::string(prec) == "fp16";
  if (fp16) opt.precision = "fp16";
  opt.shapes = parseShapes(c.shapes).value();
  auto engine = buildEngine((dir / (c.name + ".onnx")).string(), opt);
  ASSERT_TRUE(engine.ok()) << engine.status().toString();
  auto x = readNpy((dir / (c.name + ".input.npy")).string());
  auto want = readNpy((dir / (c.name + ".output.npy")).string());
  ASSERT_TRUE(x.ok() && want.ok());
  auto outs = test::runEngineBytes(engine.value(), {{c.input, &x.value()}});
  ASSERT_TRUE(outs.ok()) << outs.status().toString();
  const HostTensor& got = outs->at("output");
  ASSERT_EQ(got.dims(), want->dims());
  const double err = test::relativeL2(got, want.value());
  EXPECT_LT(err, fp16 ? 1e-2 : 1e-4) << c.name;
  std::printf("%-32s %s %s rel L2 %.3g\n", c.name.c_str(), test::testTarget().c_str(),
              fp16 ? "fp16" : "fp32", err);
}

INSTANTIATE_TEST_SUITE_P(Models, ExportedModel, ::testing::ValuesIn(manifest()),
                         [](const auto& p) { return p.param.name; });

TEST(DynamicBatch, MissingShapesNamesTheDim) {
  const fs::path model = fs::path(modelsDir()) / "resnet18_dynamic_batch.onnx";
  if (!fs::exists(model)) GTEST_SKIP() << "exported models missing";
  auto engine = buildEngine(model.string(), {});
  ASSERT_FALSE(engine.ok());
  EXPECT_NE(engine.status().message().find("input 'input' dim 0 ('batch')"), std::string::npos)
      << engine.status().message();
  EXPECT_NE(engine.status().message().find("--shapes"), std::string::npos);
}

TEST(DynamicBatch, BuildsForAnyBatchAndRejectsOthersAtRun) {
  const fs::path model = fs::path(modelsDir()) / "resnet18_dynamic_batch.onnx";
  if (!fs::exists(model)) GTEST_SKIP() << "exported models missing";
  BuildOptions opt;
  opt.shapes["input"] = {1, 3, 96, 96};
  auto engine = buildEngine(model.string(), opt);
  ASSERT_TRUE(engine.ok()) << engine.status().toString();
  RuntimeOptions ro;
  ro.backend = Backend::kCpu;
  auto rt = Runtime::create(ro).value();
  auto e = rt->deserializeEngine(engine->data(), engine->size()).value();
  auto ctx = e->createExecutionContext().value();
  Status st = ctx->checkInputShape("input", {2, 3, 96, 96});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("input 'input' dim 0 ('batch') is 2 but the engine was built for 1"),
            std::string::npos)
      << st.message();
}

}  // namespace
