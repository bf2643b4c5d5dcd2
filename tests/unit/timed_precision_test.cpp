// INT8 layers kept in FP16 where FP16 is faster (BuildOptions::int8_timed_precision): the
// per-layer choice (no GPU needed) and, on the GPU, a build whose timing cache says which
// precision wins per layer - the choice must follow the cache, respect layer_precisions, keep
// the mixed engine only when it timed faster whole, and still compute the network.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "onnx_model.h"
#include "test_util.h"
#include "timed_precision.h"

using namespace edgert;
using namespace edgert::test;
namespace fs = std::filesystem;

namespace {

TEST(TimedPrecision, FasterInFp16KeepsGraphOrderAndSkipsNamedLayers) {
  const std::vector<std::pair<std::string, double>> int8 = {
      {"c", 1.0}, {"a", 0.5}, {"b", 0.2}, {"d", 0.3}};
  const std::map<std::string, double> fp16 = {{"a", 0.4}, {"b", 0.25}, {"c", 0.5}, {"d", 0.29}};
  auto all = layersFasterInFp16(int8, fp16, {}, 0.95);
  ASSERT_EQ(all.size(), 2u);  // d is 3% faster: within the margin, stays INT8
  EXPECT_EQ(all[0].layer, "c");
  EXPECT_EQ(all[1].layer, "a");
  EXPECT_DOUBLE_EQ(all[1].int8_ms, 0.5);
  EXPECT_DOUBLE_EQ(all[1].fp16_ms, 0.4);
  auto clear = layersFasterInFp16(int8, fp16, {}, 1 / 1.4);
  ASSERT_EQ(clear.size(), 1u);  // c is 2x faster in FP16, a only 1.25x
  EXPECT_EQ(clear[0].layer, "c");
  EXPECT_EQ(layersFasterInFp16(int8, fp16, {{"c", "int8"}}, 0.95).size(), 1u);
  EXPECT_TRUE(layersFasterInFp16(int8, fp16, {{"*", "int8"}}, 0.95).empty());
  EXPECT_TRUE(layersFasterInFp16(int8, {}, {}, 0.95).empty());  // no FP16 time: INT8
}

TEST(TimedPrecision, ChoicesAreDistinctSetsOfUnpinnedLayers) {
  const std::vector<std::pair<std::string, double>> int8 = {
      {"a", 1.0}, {"b", 0.5}, {"c", 0.2}, {"p", 0.9}};
  // a 2x faster in FP16, b 1.25x, c slower; p faster but pinned.
  const std::map<std::string, double> fp16 = {{"a", 0.5}, {"b", 0.4}, {"c", 0.3}, {"p", 0.1}};
  const std::map<std::string, std::string> pinned = {{"p", "int8"}};
  auto ch = precisionChoices(int8, fp16, pinned);
  ASSERT_EQ(ch.size(), 3u);
  EXPECT_EQ(ch[0].layers, (std::set<std::string>{"a", "b"}));
  EXPECT_EQ(ch[1].layers, (std::set<std::string>{"a"}));
  EXPECT_EQ(ch[2].layers, (std::set<std::string>{"a", "b", "c"}));  // every unpinned candidate
  EXPECT_EQ(ch[2].name, "all FP16");
  // Sets that coincide are built once; nothing faster in FP16: nothing to time.
  auto one = precisionChoices({{"a", 1.0}}, {{"a", 0.5}}, {});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].name, "faster in FP16");
  EXPECT_TRUE(precisionChoices({{"a", 1.0}, {"b", 1.0}}, {{"a", 1.0}, {"b", 2.0}}, {}).empty());
}

// x -> Conv_1 3x3 (+Relu_2) -> Conv_3 1x1 (+Relu_4) -> Conv_5 3x3 -> y (OnnxGraph names nodes
// from 1)
std::string chainNet(std::mt19937& r) {
  OnnxGraph g(13);
  g.input("x", DataType::kFloat32, {4, 16, 24, 24});
  g.constant("w0", randomTensor(DataType::kFloat32, {32, 16, 3, 3}, r, -.2f, .2f));
  g.constant("b0", randomTensor(DataType::kFloat32, {32}, r, -.1f, .1f));
  g.constant("w2", randomTensor(DataType::kFloat32, {32, 32, 1, 1}, r, -.3f, .3f));
  g.constant("w4", randomTensor(DataType::kFloat32, {16, 32, 3, 3}, r, -.2f, .2f));
  g.node("Conv", {"x", "w0", "b0"}, {"c0"}, {attrInts("pads", {1, 1, 1, 1})});
  g.node("Relu", {"c0"}, {"r0"});
  g.node("Conv", {"r0", "w2"}, {"c2"});
  g.node("Relu", {"c2"}, {"r2"});
  g.node("Conv", {"r2", "w4"}, {"y"}, {attrInts("pads", {1, 1, 1, 1})});
  g.output("y");
  return g.save("timed_precision");
}

// Every cached time of layers whose signature starts with `op ` becomes `ms`.
void setCachedTimes(const std::string& path, const std::string& op, const std::string& ms) {
  std::ifstream in(path);
  std::ostringstream out;
  std::string line;
  while (std::getline(in, line)) {
    const size_t sig = line.find('\t');
    if (sig != std::string::npos && line.compare(sig + 1, op.size() + 1, op + " ") == 0)
      line = line.substr(0, line.rfind('\t') + 1) + ms;
    out << line << "\n";
  }
  in.close();
  std::ofstream(path) << out.str();
}

class TimedPrecisionGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testBackend() != Backend::kCuda)
      GTEST_SKIP() << "the timed precision choice needs the CUDA backend (runtime_cuda)";
    if (const std::string why = backendUnavailableReason(); !why.empty()) GTEST_SKIP() << why;
  }
};

TEST_F(TimedPrecisionGpu, FollowsTheTimesAndKeepsTheFasterEngine) {
  std::mt19937 r(std::random_device{}());
  const std::string model = chainNet(r);
  const fs::path dir = fs::temp_directory_path() / ("edgert_timed" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::vector<HostTensor> samples;
  for (int i = 0; i < 8; ++i)
    samples.push_back(randomTensor(DataType::kFloat32, {1, 16, 24, 24}, r));
  BuildOptions opt;
  opt.target = "cuda";
  opt.precision = "int8";
  opt.calibration = std::make_shared<MemorySource>(std::move(samples));
  opt.calib_cache = (dir / "net.calib").string();
  opt.timing_cache = (dir / "timing.cache").string();
  BuildReport first;
  auto e1 = buildEngine(model, opt, &first);
  ASSERT_TRUE(e1.ok()) << e1.status().toString();
  // (This build may already move layers to FP16: the real times decide.)
  ASSERT_EQ(first.int8_layers + first.int8_timed_engines.at(first.int8_timed_kept).fp16_layers, 3u);
  opt.calibration = nullptr;  // the cache from here on

  // The cache says every INT8 layer is slow and every FP16 one fast; Conv_3 is pinned to INT8.
  setCachedTimes(opt.timing_cache, "EdgertQConv", "50");
  setCachedTimes(opt.timing_cache, "Conv", "0.001");
  opt.layer_precisions = {{"Conv_3", "int8"}};
  BuildReport rep;
  auto e2 = buildEngine(model, opt, &rep);
  ASSERT_TRUE(e2.ok()) << e2.status().toString();
  ASSERT_EQ(rep.int8_faster_in_fp16.size(), 2u);
  EXPECT_EQ(rep.int8_faster_in_fp16[0].layer, "Conv_1");
  EXPECT_EQ(rep.int8_faster_in_fp16[1].layer, "Conv_5");
  EXPECT_DOUBLE_EQ(rep.int8_faster_in_fp16[0].int8_ms, 50);
  EXPECT_DOUBLE_EQ(rep.int8_faster_in_fp16[1].fp16_ms, 0.001);
  // One choice (the three sets are the same two layers): all INT8, then those in FP16.
  ASSERT_EQ(rep.int8_timed_engines.size(), 2u);
  EXPECT_EQ(rep.int8_timed_engines[0].fp16_layers, 0u);
  EXPECT_EQ(rep.int8_timed_engines[1].fp16_layers, 2u);
  EXPECT_GT(rep.int8_timed_engines[0].ms, 0);
  EXPECT_GT(rep.int8_timed_engines[1].ms, 0);
  const bool mixed = rep.int8_timed_engines[1].ms < rep.int8_timed_engines[0].ms;
  EXPECT_EQ(rep.int8_timed_kept, mixed ? 1u : 0u);
  EXPECT_EQ(rep.int8_layers, mixed ? 1u : 3u);

  // The engine is what the report says, and computes the network: against the CPU engine
  // of the same precisions (float layers in fp32 there, fp16 here).
  std::string description;
  const HostTensor x = randomTensor(DataType::kFloat32, {4, 16, 24, 24}, r);
  auto got = runEngineBytes(e2.value(), {{"x", &x}}, Backend::kCuda, 1, nullptr, &description);
  ASSERT_TRUE(got.ok()) << got.status().toString();
  for (const std::string layer : {"Conv_1", "Conv_5"}) {
    const size_t at = description.find(" " + layer + "  ");
    ASSERT_NE(at, std::string::npos) << description;
    const size_t line = description.rfind('\n', at) + 1;
    const bool int8 = description.substr(line, at - line).find("EdgertQConv") != std::string::npos;
    EXPECT_EQ(int8, !mixed) << layer << " in\n" << description;
  }
  BuildOptions cpu = opt;
  cpu.target = "cpu";
  cpu.timing_cache.clear();
  if (mixed) cpu.layer_precisions = {{"Conv_1", "fp32"}, {"Conv_5", "fp32"}};
  auto ce = buildEngine(model, cpu);
  ASSERT_TRUE(ce.ok()) << ce.status().toString();
  auto want = runEngineBytes(ce.value(), {{"x", &x}}, Backend::kCpu);
  ASSERT_TRUE(want.ok()) << want.status().toString();
  EXPECT_LT(relativeL2(got->at("y"), want->at("y")), 0.03);

  // The cache the other way round: nothing is faster in FP16, no engine is timed whole.
  setCachedTimes(opt.timing_cache, "EdgertQConv", "0.001");
  setCachedTimes(opt.timing_cache, "Conv", "50");
  opt.layer_precisions.clear();
  BuildReport none;
  ASSERT_TRUE(buildEngine(model, opt, &none).ok());
  EXPECT_TRUE(none.int8_faster_in_fp16.empty());
  EXPECT_TRUE(none.int8_timed_engines.empty());
  EXPECT_EQ(none.int8_layers, 3u);

  // Off: every candidate INT8 whatever the times say.
  setCachedTimes(opt.timing_cache, "EdgertQConv", "50");
  setCachedTimes(opt.timing_cache, "Conv", "0.001");
  opt.int8_timed_precision = false;
  BuildReport off;
  ASSERT_TRUE(buildEngine(model, opt, &off).ok());
  EXPECT_TRUE(off.int8_faster_in_fp16.empty());
  EXPECT_EQ(off.int8_layers, 3u);
  fs::remove_all(dir);
}

}  // namespace
