// Tactic selection: on the GPU the builder times each convolution's implementations
// (cuDNN algorithms, 1x1 convolutions as cuBLASLt GEMMs), keeps the fastest, and records
// it in a timing cache that the next build reads instead of timing again. The chosen
// engine must still match the CPU reference. Without a GPU only the cache file checks run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "onnx_model.h"
#include "test_util.h"

using namespace edgert;
using namespace edgert::test;

namespace {

namespace fs = std::filesystem;

std::string convNet(std::mt19937& r) {
  OnnxGraph g(13);
  g.input("x", DataType::kFloat32, {2, 16, 20, 20});
  g.constant("w1", randomTensor(DataType::kFloat32, {32, 16, 1, 1}, r));
  g.constant("b1", randomTensor(DataType::kFloat32, {32}, r));
  g.constant("w2", randomTensor(DataType::kFloat32, {8, 32, 3, 3}, r));
  g.node("Conv", {"x", "w1", "b1"}, {"c1"});
  g.node("Relu", {"c1"}, {"r1"});
  g.node("Conv", {"r1", "w2"}, {"y"}, {attrInts("pads", {1, 1, 1, 1})});
  g.output("y");
  return g.save("tactics");
}

fs::path tempDir(const char* tag) {
  const fs::path d = fs::temp_directory_path() / (std::string(tag) + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

TEST(TimingCache, MalformedFilesAreNamedErrors) {
  std::mt19937 r(5);
  const std::string model = convNet(r);
  const fs::path dir = tempDir("edgert_tc");
  BuildOptions opt;
  opt.timing_cache = (dir / "bad.cache").string();
  std::ofstream(opt.timing_cache) << "not a cache\n";
  auto e = buildEngine(model, opt);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("bad.cache:1:"), std::string::npos) << e.status().message();
  std::ofstream(opt.timing_cache) << "# edgert timing cache v1\nsm_90 X\tConv\tcublaslt-1x1\n";
  e = buildEngine(model, opt);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("bad.cache:2:"), std::string::npos) << e.status().message();
  fs::remove_all(dir);
}

class Tactics : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testBackend() != Backend::kCuda) GTEST_SKIP() << "tactic timing needs the CUDA backend";
    if (const std::string why = backendUnavailableReason(); !why.empty()) GTEST_SKIP() << why;
  }
};

TEST_F(Tactics, TimedOnceThenFromTheCache) {
  std::mt19937 r(std::random_device{}());
  const std::string model = convNet(r);
  const fs::path dir = tempDir("edgert_tactics");
  BuildOptions opt;
  opt.target = "cuda";
  opt.timing_cache = (dir / "timing.cache").string();
  BuildReport first;
  auto engine = buildEngine(model, opt, &first);
  ASSERT_TRUE(engine.ok()) << engine.status().toString();
  EXPECT_EQ(first.tactics_timed, 2u);
  EXPECT_EQ(first.tactics_cached, 0u);
  // The cache names each layer's winner.
  std::ifstream in(opt.timing_cache);
  std::string line;
  int entries = 0;
  std::getline(in, line);
  EXPECT_EQ(line, "# edgert timing cache v1");
  while (std::getline(in, line)) {
    ++entries;
    EXPECT_TRUE(line.find("\tcudnn-fp32-algo") != std::string::npos ||
                line.find("\tcublaslt-1x1\t") != std::string::npos)
        << line;
  }
  EXPECT_EQ(entries, 2);
  // The engine with the chosen tactics matches the CPU.
  HostTensor x = randomTensor(DataType::kFloat32, {2, 16, 20, 20}, r);
  auto gpu = runEngineBytes(engine.value(), {{"x", &x}});
  ASSERT_TRUE(gpu.ok()) << gpu.status().toString();
  // The CPU reference on the CPU backend (a CUDA runtime refuses CPU engines).
  RuntimeOptions ro;
  ro.backend = Backend::kCpu;
  auto rt = Runtime::create(ro).value();
  const auto ref_bytes = buildEngine(model, BuildOptions{}).value();
  auto ctx = rt->deserializeEngine(ref_bytes.data(), ref_bytes.size())
                 .value()
                 ->createExecutionContext()
                 .value();
  ASSERT_TRUE(ctx->setInput("x", x.data(), x.bytes()).ok());
  ASSERT_TRUE(ctx->execute().ok());
  HostTensor ref = std::move(HostTensor::create(DataType::kFloat32, {2, 8, 20, 20}).value());
  ASSERT_TRUE(ctx->getOutput("y", ref.mutableData(), ref.bytes()).ok());
  EXPECT_LT(relativeL2(gpu->at("y"), ref), 1e-5);
  // A second build reads the cache.
  BuildReport second;
  ASSERT_TRUE(buildEngine(model, opt, &second).ok());
  EXPECT_EQ(second.tactics_timed, 0u);
  EXPECT_EQ(second.tactics_cached, 2u);
  // Entries another build of edgert made (another kernel hash in their device key) are timed
  // again, not trusted: their winner may not exist here, or a new kernel may beat it.
  std::ifstream cached(opt.timing_cache);
  std::string text((std::istreambuf_iterator<char>(cached)), std::istreambuf_iterator<char>());
  cached.close();
  int replaced = 0;
  for (size_t k = text.find(" kernels "); k != std::string::npos;
       k = text.find(" kernels ", k + 10), ++replaced)
    text.insert(k + 9, "0");
  EXPECT_EQ(replaced, 2) << text;
  std::ofstream(opt.timing_cache) << text;
  BuildReport third;
  ASSERT_TRUE(buildEngine(model, opt, &third).ok());
  EXPECT_EQ(third.tactics_timed, 2u);
  EXPECT_EQ(third.tactics_cached, 0u);
  fs::remove_all(dir);
}

// FP16 engines time NHWC fp16 candidates (cuDNN algorithms, 1x1 convolutions as one
// cuBLASLt GEMM over all pixels). A cache that names the GEMM for every layer forces it
// where it applies (the 1x1 convolution); the engine must still match the CPU reference.
// A 1x1 convolution whose output adds the input back, then ReLU (ResNet's bottleneck end):
// the GEMM takes the residual as its C matrix, bias and ReLU in its epilogue.
std::string residualNet(std::mt19937& r) {
  OnnxGraph g(13);
  g.input("x", DataType::kFloat32, {2, 16, 20, 20});
  g.constant("w0", randomTensor(DataType::kFloat32, {16, 16, 3, 3}, r, -.2f, .2f));
  g.constant("w1", randomTensor(DataType::kFloat32, {8, 16, 1, 1}, r));
  g.constant("b1", randomTensor(DataType::kFloat32, {8}, r));
  g.constant("w2", randomTensor(DataType::kFloat32, {8, 8, 1, 1}, r));
  g.node("Conv", {"x", "w0"}, {"c0"}, {attrInts("pads", {1, 1, 1, 1})});
  g.node("Conv", {"c0", "w1", "b1"}, {"c1"});
  g.node("Conv", {"c1", "w2"}, {"c2"});
  g.node("Add", {"c2", "c1"}, {"s"});
  g.node("Relu", {"s"}, {"y"});
  g.output("y");
  return g.save("tactics_residual");
}

// ResNet's bottleneck end: the 1x1 GEMM adds a residual that is not its own input and dies
// there, so the GEMM writes its result over the residual (in place, cuBLASLt's C == D).
std::string bottleneckNet(std::mt19937& r) {
  OnnxGraph g(13);
  g.input("x", DataType::kFloat32, {2, 16, 20, 20});
  g.constant("w0", randomTensor(DataType::kFloat32, {16, 16, 3, 3}, r, -.2f, .2f));
  g.constant("w1", randomTensor(DataType::kFloat32, {8, 16, 1, 1}, r));
  g.constant("w2", randomTensor(DataType::kFloat32, {16, 8, 1, 1}, r));
  g.constant("b2", randomTensor(DataType::kFloat32, {16}, r));
  g.constant("w3", randomTensor(DataType::kFloat32, {8, 16, 1, 1}, r));
  g.node("Conv", {"x", "w0"}, {"c0"}, {attrInts("pads", {1, 1, 1, 1})});
  g.node("Conv", {"c0", "w1"}, {"c1"});
  g.node("Relu", {"c1"}, {"r1"});
  g.node("Conv", {"r1", "w2", "b2"}, {"c2"});
  g.node("Add", {"c2", "c0"}, {"s"});
  g.node("Relu", {"s"}, {"rs"});
  g.node("Conv", {"rs", "w3"}, {"y"});
  g.output("y");
  return g.save("tactics_bottleneck");
}

// An image network's first layers: a k x k convolution of three input channels, stride 2, with
// bias and ReLU (ResNet's 7x7 by default; `pads` top, left, bottom, right), then a 1x1
// convolution: 40x40 in, 20x20 out.
std::string stemNet(std::mt19937& r, int64_t k = 7, std::vector<int64_t> pads = {3, 3, 3, 3}) {
  OnnxGraph g(13);
  g.input("x", DataType::kFloat32, {2, 3, 40, 40});
  g.constant("w0", randomTensor(DataType::kFloat32, {16, 3, k, k}, r, -.2f, .2f));
  g.constant("b0", randomTensor(DataType::kFloat32, {16}, r));
  g.constant("w1", randomTensor(DataType::kFloat32, {8, 16, 1, 1}, r));
  g.node("Conv", {"x", "w0", "b0"}, {"c0"},
         {attrInts("pads", std::move(pads)), attrInts("strides", {2, 2})});
  g.node("Relu", {"c0"}, {"r0"});
  g.node("Conv", {"r0", "w1"}, {"y"});
  g.output("y");
  return g.save("tactics_stem");
}

HostTensor scalarTensor(float v) {
  HostTensor t = HostTensor::create(DataType::kFloat32, {}).value();
  t.mutableAs<float>()[0] = v;
  return t;
}

// An inverted-residual block's 1x1 convolutions with few input channels: 16 -> 32 with
// ReLU6 (Clip), 32 -> 24 with SiLU (Sigmoid * x), 24 -> 8.
std::string expansionNet(std::mt19937& r) {
  OnnxGraph g(13);
  g.input("x", DataType::kFloat32, {2, 16, 20, 20});
  g.constant("w0", randomTensor(DataType::kFloat32, {16, 16, 3, 3}, r, -.2f, .2f));
  g.constant("w1", randomTensor(DataType::kFloat32, {32, 16, 1, 1}, r));
  g.constant("b1", randomTensor(DataType::kFloat32, {32}, r));
  g.constant("w2", randomTensor(DataType::kFloat32, {24, 32, 1, 1}, r, -.3f, .3f));
  g.constant("b2", randomTensor(DataType::kFloat32, {24}, r));
  g.constant("w3", randomTensor(DataType::kFloat32, {8, 24, 1, 1}, r, -.3f, .3f));
  g.constant("lo", scalarTensor(0.f));
  g.constant("hi", scalarTensor(6.f));
  g.node("Conv", {"x", "w0"}, {"c0"}, {attrInts("pads", {1, 1, 1, 1})});
  g.node("Conv", {"c0", "w1", "b1"}, {"c1"});
  g.node("Clip", {"c1", "lo", "hi"}, {"r1"});
  g.node("Conv", {"r1", "w2", "b2"}, {"c2"});
  g.node("Sigmoid", {"c2"}, {"s2"});
  g.node("Mul", {"c2", "s2"}, {"r2"});
  g.node("Conv", {"r2", "w3"}, {"y"});
  g.output("y");
  return g.save("tactics_expansion");
}

// 1x1 convolutions with up to 128 input channels (seven k16 steps here), outputs in 64-channel
// chunks (200 = 3 x 64 + 8, 104 = 64 + 40), the weights past 48 KiB of shared memory, a
// residual, and 126 pixels (not a whole number of 16-pixel tiles): 104 -> 200 with ReLU6,
// 200 -> 104 (K too large for the kernel), 104 -> 104 + residual + ReLU, 104 -> 8.
std::string wideExpansionNet(std::mt19937& r) {
  OnnxGraph g(13);
  g.input("x", DataType::kFloat32, {2, 16, 9, 7});
  g.constant("w0", randomTensor(DataType::kFloat32, {104, 16, 3, 3}, r, -.2f, .2f));
  g.constant("w1", randomTensor(DataType::kFloat32, {200, 104, 1, 1}, r, -.1f, .1f));
  g.constant("b1", randomTensor(DataType::kFloat32, {200}, r));
  g.constant("w2", randomTensor(DataType::kFloat32, {104, 200, 1, 1}, r, -.1f, .1f));
  g.constant("w3", randomTensor(DataType::kFloat32, {104, 104, 1, 1}, r, -.1f, .1f));
  g.constant("b3", randomTensor(DataType::kFloat32, {104}, r));
  g.constant("w4", randomTensor(DataType::kFloat32, {8, 104, 1, 1}, r, -.1f, .1f));
  g.constant("lo", scalarTensor(0.f));
  g.constant("hi", scalarTensor(6.f));
  g.node("Conv", {"x", "w0"}, {"c0"}, {attrInts("pads", {1, 1, 1, 1})});
  g.node("Conv", {"c0", "w1", "b1"}, {"c1"});
  g.node("Clip", {"c1", "lo", "hi"}, {"r1"});
  g.node("Conv", {"r1", "w2"}, {"c2"});
  g.node("Conv", {"c2", "w3", "b3"}, {"c3"});
  g.node("Add", {"c3", "c2"}, {"s3"});
  g.node("Relu", {"s3"}, {"r3"});
  g.node("Conv", {"r3", "w4"}, {"y"});
  g.output("y");
  return g.save("tactics_wide_expansion");
}

// Batch-1 shapes whose reductions our implicit GEMM splits (ResNet's layer4 in small): 3x3
// stride 2 with pads only after (TensorFlow's 'same'), 7 x 6 out; 3x3 dilated by 2 adding the
// first's output, then ReLU; 1x1 128 -> 96 (two channel tiles, the second partly empty) with
// HardSwish. Reductions of 9, 36 and 4 k-tiles.
std::string splitKNet(std::mt19937& r) {
  OnnxGraph g(14);
  g.input("x", DataType::kFloat32, {1, 32, 15, 13});
  g.constant("w0", randomTensor(DataType::kFloat32, {128, 32, 3, 3}, r, -.15f, .15f));
  g.constant("b0", randomTensor(DataType::kFloat32, {128}, r));
  g.constant("w1", randomTensor(DataType::kFloat32, {128, 128, 3, 3}, r, -.05f, .05f));
  g.constant("w2", randomTensor(DataType::kFloat32, {96, 128, 1, 1}, r, -.15f, .15f));
  g.constant("b2", randomTensor(DataType::kFloat32, {96}, r));
  g.node("Conv", {"x", "w0", "b0"}, {"c0"},
         {attrInts("pads", {0, 0, 1, 1}), attrInts("strides", {2, 2})});
  g.node("Conv", {"c0", "w1"}, {"c1"},
         {attrInts("pads", {2, 2, 2, 2}), attrInts("dilations", {2, 2})});
  g.node("Add", {"c1", "c0"}, {"s1"});
  g.node("Relu", {"s1"}, {"r1"});
  g.node("Conv", {"r1", "w2", "b2"}, {"c2"});
  g.node("HardSwish", {"c2"}, {"y"});
  g.output("y");
  return g.save("tactics_split_k");
}

// Shapes for the TMA-fed wgmma kernel (conv_f16_tma.cu), three images of 11 x 9 so that its
// 128-pixel tiles cross images and end part-empty: a 3x3 64 -> 128 with bias and ReLU (the
// im2col map); a 3x3 stride 2 128 -> 72 padded only after (TensorFlow's 'same'; the second
// channel tile mostly empty); a 1x1 72 -> 72 (a GEMM whose 72-channel rows the map fills with
// zeros to the 128-byte step) adding the previous output, then SiLU; a 1x1 72 -> 8.
std::string tmaNet(std::mt19937& r) {
  OnnxGraph g(14);
  g.input("x", DataType::kFloat32, {3, 64, 11, 9});
  g.constant("w0", randomTensor(DataType::kFloat32, {128, 64, 3, 3}, r, -.05f, .05f));
  g.constant("b0", randomTensor(DataType::kFloat32, {128}, r));
  g.constant("w1", randomTensor(DataType::kFloat32, {72, 128, 3, 3}, r, -.04f, .04f));
  g.constant("w2", randomTensor(DataType::kFloat32, {72, 72, 1, 1}, r, -.15f, .15f));
  g.constant("b2", randomTensor(DataType::kFloat32, {72}, r));
  g.constant("w3", randomTensor(DataType::kFloat32, {8, 72, 1, 1}, r, -.15f, .15f));
  g.node("Conv", {"x", "w0", "b0"}, {"c0"}, {attrInts("pads", {1, 1, 1, 1})});
  g.node("Relu", {"c0"}, {"r0"});
  g.node("Conv", {"r0", "w1"}, {"c1"},
         {attrInts("pads", {0, 0, 1, 1}), attrInts("strides", {2, 2})});
  g.node("Conv", {"c1", "w2", "b2"}, {"c2"});
  g.node("Add", {"c2", "c1"}, {"s2"});
  g.node("Sigmoid", {"s2"}, {"g2"});
  g.node("Mul", {"s2", "g2"}, {"a2"});
  g.node("Conv", {"a2", "w3"}, {"y"});
  g.output("y");
  return g.save("tactics_tma");
}

// Batch 1 on 7 x 7 (ResNet's layer4 in small: one part-empty 128-pixel tile): a 3x3 256 -> 64
// with bias and ReLU (36 k-tiles, room for 16 splits), a 3x3 64 -> 64 adding the first's output.
std::string tmaSplitNet(std::mt19937& r) {
  OnnxGraph g(14);
  g.input("x", DataType::kFloat32, {1, 256, 7, 7});
  g.constant("w0", randomTensor(DataType::kFloat32, {64, 256, 3, 3}, r, -.03f, .03f));
  g.constant("b0", randomTensor(DataType::kFloat32, {64}, r));
  g.constant("w1", randomTensor(DataType::kFloat32, {64, 64, 3, 3}, r, -.05f, .05f));
  g.node("Conv", {"x", "w0", "b0"}, {"c0"}, {attrInts("pads", {1, 1, 1, 1})});
  g.node("Relu", {"c0"}, {"r0"});
  g.node("Conv", {"r0", "w1"}, {"c1"}, {attrInts("pads", {1, 1, 1, 1})});
  g.node("Add", {"c1", "r0"}, {"y"});
  g.output("y");
  return g.save("tactics_tma_split");
}

// A depthwise convolution (bias, ReLU fused) between two ordinary ones, MobileNet style.
std::string depthwiseNet(std::mt19937& r) {
  OnnxGraph g(13);
  g.input("x", DataType::kFloat32, {2, 16, 20, 20});
  g.constant("w0", randomTensor(DataType::kFloat32, {16, 16, 3, 3}, r, -.2f, .2f));
  g.constant("wd", randomTensor(DataType::kFloat32, {16, 1, 3, 3}, r));
  g.constant("bd", randomTensor(DataType::kFloat32, {16}, r));
  g.constant("w2", randomTensor(DataType::kFloat32, {8, 16, 1, 1}, r));
  g.node("Conv", {"x", "w0"}, {"c0"}, {attrInts("pads", {1, 1, 1, 1})});
  g.node("Conv", {"c0", "wd", "bd"}, {"c1"},
         {attrInts("pads", {1, 1, 1, 1}), attrInt("group", 16)});
  g.node("Relu", {"c1"}, {"r1"});
  g.node("Conv", {"r1", "w2"}, {"y"});
  g.output("y");
  return g.save("tactics_depthwise");
}

// Builds `model` in fp16 timing every convolution, then rewrites the timing cache so that
// `tactic` wins everywhere and rebuilds: `expected` layers must run it (it applies to those;
// the others fall back to the default choice), and the engine must match the CPU.
// `min_sm`: a tactic for newer GPUs only (clusters: 90); on an older one no layer may run it.
void fp16TacticFromCache(const std::string& model, size_t convs, const std::string& tactic,
                         size_t expected, std::mt19937& r, const Dims& x_dims = {2, 16, 20, 20},
                         const std::string& precision = "fp16", int min_sm = 0) {
  const fs::path dir = tempDir("edgert_tactics16");
  const bool fp16 = precision == "fp16";
  BuildOptions opt;
  opt.target = "cuda";
  opt.precision = precision;
  opt.timing_cache = (dir / "timing.cache").string();
  BuildReport first;
  ASSERT_TRUE(buildEngine(model, opt, &first).ok());
  EXPECT_EQ(first.tactics_timed, convs);
  std::ifstream in(opt.timing_cache);
  std::string line, forced;
  std::getline(in, line);
  forced = line + "\n";
  while (std::getline(in, line)) {
    if (fp16) {
      EXPECT_NE(line.find("nhwc16"), std::string::npos) << line;
    }
    // <device> TAB <signature> TAB <tactic> TAB <ms>: name the GEMM as the winner.
    if (line.starts_with("sm_") && std::atoi(line.c_str() + 3) < min_sm) expected = 0;
    const size_t t2 = line.rfind('\t'), t1 = line.rfind('\t', t2 - 1);
    forced += line.substr(0, t1 + 1) + tactic + line.substr(t2) + "\n";
  }
  in.close();
  std::ofstream(opt.timing_cache) << forced;
  BuildReport second;
  auto engine = buildEngine(model, opt, &second);
  ASSERT_TRUE(engine.ok()) << engine.status().toString();
  EXPECT_EQ(second.tactics_cached, convs);
  RuntimeOptions ro;
  ro.backend = Backend::kCuda;
  auto rt = Runtime::create(ro).value();
  auto e = rt->deserializeEngine(engine->data(), engine->size()).value();
  auto ctx = e->createExecutionContext().value();
  HostTensor x = randomTensor(DataType::kFloat32, x_dims, r);
  ASSERT_TRUE(ctx->setInput("x", x.data(), x.bytes()).ok());
  const Status ran_ok = ctx->execute();
  ASSERT_TRUE(ran_ok.ok()) << tactic << ": " << ran_ok.toString();
  HostTensor y = std::move(HostTensor::create(DataType::kFloat32, e->binding("y")->dims).value());
  ASSERT_TRUE(ctx->getOutput("y", y.mutableData(), y.bytes()).ok());
  auto layers = ctx->profileLayers(1);
  ASSERT_TRUE(layers.ok());
  size_t ran = 0;
  for (const LayerTiming& t : layers.value()) ran += t.tactic == tactic;
  EXPECT_EQ(ran, expected) << tactic;
  RuntimeOptions cpu;
  cpu.backend = Backend::kCpu;
  auto crt = Runtime::create(cpu).value();
  const auto ref_bytes = buildEngine(model, BuildOptions{}).value();
  auto cctx = crt->deserializeEngine(ref_bytes.data(), ref_bytes.size())
                  .value()
                  ->createExecutionContext()
                  .value();
  ASSERT_TRUE(cctx->setInput("x", x.data(), x.bytes()).ok());
  ASSERT_TRUE(cctx->execute().ok());
  HostTensor ref = std::move(HostTensor::create(DataType::kFloat32, y.dims()).value());
  ASSERT_TRUE(cctx->getOutput("y", ref.mutableData(), ref.bytes()).ok());
  EXPECT_LT(relativeL2(y, ref), fp16 ? 1e-2 : 1e-5);
  // Again, through state a layer keeps between runs (split-K sums and counters, zero between
  // launches) and after profileLayers' runs.
  ASSERT_TRUE(ctx->execute().ok());
  ASSERT_TRUE(ctx->getOutput("y", y.mutableData(), y.bytes()).ok());
  EXPECT_LT(relativeL2(y, ref), fp16 ? 1e-2 : 1e-5) << tactic << ", second run";
  fs::remove_all(dir);
}

TEST_F(Tactics, Fp16GemmTacticFromTheCacheMatchesTheCpu) {
  std::mt19937 r(std::random_device{}());
  fp16TacticFromCache(convNet(r), 2, "cublaslt-nhwc16-1x1", 1, r);
  fp16TacticFromCache(residualNet(r), 3, "cublaslt-nhwc16-1x1", 2, r);
  fp16TacticFromCache(bottleneckNet(r), 4, "cublaslt-nhwc16-1x1", 3, r);
}

// cuDNN's graph-API engines (any group count, depthwise included) and our depthwise kernel.
TEST_F(Tactics, Fp16GraphAndDepthwiseTacticsFromTheCacheMatchTheCpu) {
  std::mt19937 r(std::random_device{}());
  fp16TacticFromCache(residualNet(r), 3, "cudnn-nhwc16-graph0", 3, r);
  fp16TacticFromCache(depthwiseNet(r), 3, "cudnn-nhwc16-graph0", 3, r);
  fp16TacticFromCache(depthwiseNet(r), 3, "nhwc16-depthwise", 1, r);
  fp16TacticFromCache(stemNet(r), 2, "cudnn-nhwc16-c4-graph0", 1, r, {2, 3, 40, 40});
}

// Stride-2 stems over the input's space-to-depth copy: ResNet's 7x7 (odd padding: the copy
// starts one row and column early), a 3x3 with padding 1, and TensorFlow's 'same' 3x3 (padding
// only after: none before, even).
TEST_F(Tactics, Fp16SpaceToDepthStemFromTheCacheMatchesTheCpu) {
  std::mt19937 r(std::random_device{}());
  fp16TacticFromCache(stemNet(r), 2, "cudnn-nhwc16-s2d-graph0", 1, r, {2, 3, 40, 40});
  fp16TacticFromCache(stemNet(r, 3, {1, 1, 1, 1}), 2, "cudnn-nhwc16-s2d-graph0", 1, r,
                      {2, 3, 40, 40});
  fp16TacticFromCache(stemNet(r, 3, {0, 0, 1, 1}), 2, "cudnn-nhwc16-s2d-graph0", 1, r,
                      {2, 3, 40, 40});
}

// Asymmetric pads (TensorFlow's "same" at stride 2, folded from a Pad): the stem over the input
// padded to 4 channels, and a tactic that cannot pad so (cuDNN's legacy API) falling back to
// cuDNN's graph API for that layer while the 1x1 layer after it runs the tactic.
TEST_F(Tactics, Fp16AsymmetricPadsFromTheCacheMatchTheCpu) {
  std::mt19937 r(std::random_device{}());
  fp16TacticFromCache(stemNet(r, 3, {0, 0, 1, 1}), 2, "cudnn-nhwc16-c4-graph0", 1, r,
                      {2, 3, 40, 40});
  fp16TacticFromCache(stemNet(r, 3, {0, 0, 1, 1}), 2, "cudnn-nhwc16-algo1", 1, r, {2, 3, 40, 40});
}

// Our small-K 1x1 kernel (pointwise_small.cu): bias, residual and each activation family.
TEST_F(Tactics, Fp16PointwiseTacticFromTheCacheMatchesTheCpu) {
  std::mt19937 r(std::random_device{}());
  fp16TacticFromCache(residualNet(r), 3, "nhwc16-pointwise", 2, r);
  fp16TacticFromCache(bottleneckNet(r), 4, "nhwc16-pointwise", 3, r);
  fp16TacticFromCache(expansionNet(r), 4, "nhwc16-pointwise", 3, r);
  fp16TacticFromCache(wideExpansionNet(r), 5, "nhwc16-pointwise", 3, r, {2, 16, 9, 7});
}

// Our implicit-GEMM kernel (conv_f16_mma.cu): every kernel size, stride, dilation and pad here,
// bias, residual and the three activation families, whole and with the reduction split among 2,
// 4 and 8 blocks (where a split needs more k-tiles than a layer has, the layer falls back).
TEST_F(Tactics, Fp16ImplicitGemmTacticFromTheCacheMatchesTheCpu) {
  std::mt19937 r(std::random_device{}());
  fp16TacticFromCache(residualNet(r), 3, "nhwc16-mma-s1", 3, r);
  fp16TacticFromCache(expansionNet(r), 4, "nhwc16-mma-s1", 4, r);
  fp16TacticFromCache(wideExpansionNet(r), 5, "nhwc16-mma-s1", 5, r, {2, 16, 9, 7});
  fp16TacticFromCache(wideExpansionNet(r), 5, "nhwc16-mma-s2", 5, r, {2, 16, 9, 7});
  fp16TacticFromCache(splitKNet(r), 3, "nhwc16-mma-s1", 3, r, {1, 32, 15, 13});
  fp16TacticFromCache(splitKNet(r), 3, "nhwc16-mma-s4", 2, r, {1, 32, 15, 13});
  fp16TacticFromCache(splitKNet(r), 3, "nhwc16-mma-s8", 1, r, {1, 32, 15, 13});
  // Split among a cluster's blocks (sm_90): up to 16, the non-portable size.
  fp16TacticFromCache(wideExpansionNet(r), 5, "nhwc16-mma-c2", 5, r, {2, 16, 9, 7}, "fp16", 90);
  fp16TacticFromCache(splitKNet(r), 3, "nhwc16-mma-c2", 3, r, {1, 32, 15, 13}, "fp16", 90);
  fp16TacticFromCache(splitKNet(r), 3, "nhwc16-mma-c8", 1, r, {1, 32, 15, 13}, "fp16", 90);
  fp16TacticFromCache(splitKNet(r), 3, "nhwc16-mma-c16", 1, r, {1, 32, 15, 13}, "fp16", 90);
}

// The TMA-fed wgmma kernel (sm_90): the im2col and GEMM paths, 128- and 64-channel tiles (the
// 8-channel layer takes only the 64-wide one), bias, residual, ReLU and SiLU; whole and with
// the reduction split among a cluster's 2-16 blocks (where a layer has too few k-tiles for a
// split, it falls back).
TEST_F(Tactics, Fp16TmaTacticFromTheCacheMatchesTheCpu) {
  std::mt19937 r(std::random_device{}());
  const Dims x = {3, 64, 11, 9}, x1 = {1, 256, 7, 7};
  fp16TacticFromCache(tmaNet(r), 4, "nhwc16-tma-n128", 3, r, x, "fp16", 90);
  fp16TacticFromCache(tmaNet(r), 4, "nhwc16-tma-n64", 4, r, x, "fp16", 90);
  fp16TacticFromCache(tmaNet(r), 4, "nhwc16-tma-p-n64", 4, r, x, "fp16", 90);
  // Persistent blocks walking several tiles each (the 3x3 layers' six tiles on two blocks).
  setenv("EDGERT_TMA_P_BLOCKS", "2", 1);
  fp16TacticFromCache(tmaNet(r), 4, "nhwc16-tma-p-n64", 4, r, x, "fp16", 90);
  unsetenv("EDGERT_TMA_P_BLOCKS");
  fp16TacticFromCache(tmaNet(r), 4, "nhwc16-tma-n64-c2", 2, r, x, "fp16", 90);
  fp16TacticFromCache(tmaNet(r), 4, "nhwc16-tma-n64-c4", 2, r, x, "fp16", 90);
  fp16TacticFromCache(tmaNet(r), 4, "nhwc16-tma-n64-c8", 1, r, x, "fp16", 90);
  fp16TacticFromCache(tmaSplitNet(r), 2, "nhwc16-tma-n64", 2, r, x1, "fp16", 90);
  fp16TacticFromCache(tmaSplitNet(r), 2, "nhwc16-tma-n64-c4", 2, r, x1, "fp16", 90);
  fp16TacticFromCache(tmaSplitNet(r), 2, "nhwc16-tma-n64-c16", 1, r, x1, "fp16", 90);
}

// FP32 engines: our NCHW depthwise kernel (bias and ReLU fused), timed against cuDNN.
TEST_F(Tactics, Fp32DepthwiseTacticFromTheCacheMatchesTheCpu) {
  std::mt19937 r(std::random_device{}());
  fp16TacticFromCache(depthwiseNet(r), 3, "fp32-depthwise", 1, r, {2, 16, 20, 20}, "fp32");
}

// A legacy cuDNN algorithm run over the batch in parts (one image per call here).
TEST_F(Tactics, Fp16BatchPartsTacticFromTheCacheMatchesTheCpu) {
  std::mt19937 r(std::random_device{}());
  fp16TacticFromCache(residualNet(r), 3, "cudnn-nhwc16-algo1-n1", 3, r);
}

}  // namespace
