// INT8 (issue #4): the quantisation pass and EdgertQConv against float references, through
// the real builder (calibration from an in-memory source). INT8 engines run on the CPU backend
// (the reference the GPU kernels must match), whatever backend the suite tests.
#include <gtest/gtest.h>

#include <cmath>

#include "../../builder/src/calibrator.h"
#include "../../builder/src/onnx_import.h"
#include "../../builder/src/passes.h"
#include "../../builder/src/quantize_graph.h"
#include "../../kernels/int8_math.h"
#include "edgert/internal/backends.h"
#include "onnx_model.h"
#include "test_util.h"

using namespace edgert;
using namespace edgert::test;

namespace {

HostTensor scalarF(float v) {
  HostTensor t = HostTensor::create(DataType::kFloat32, {}).value();
  *t.mutableAs<float>() = v;
  return t;
}

HostTensor randomWeights(const Dims& d, std::mt19937& r, float scale = 0.3f) {
  return randomTensor(DataType::kFloat32, d, r, -scale, scale);
}

double cosine(const HostTensor& a, const HostTensor& b) {
  double ab = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = a.as<float>()[i], y = b.as<float>()[i];
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / std::sqrt(aa * bb + 1e-30);
}

struct Pair {
  std::vector<uint8_t> fp32, int8;
  BuildReport report;
};

Pair buildBoth(const std::string& model, const Dims& x, std::mt19937& r, int samples = 8,
               BuildOptions int8_opt = {}) {
  Pair p;
  BuildOptions f;
  f.target = "cpu";
  auto a = buildEngine(model, f);
  EXPECT_TRUE(a.ok()) << a.status().toString();
  std::vector<HostTensor> s;
  for (int i = 0; i < samples; ++i) {
    Dims one = x;
    one[0] = 1;
    s.push_back(randomTensor(DataType::kFloat32, one, r));
  }
  int8_opt.target = "cpu";
  int8_opt.precision = "int8";
  int8_opt.calibration = std::make_shared<MemorySource>(std::move(s));
  auto b = buildEngine(model, int8_opt, &p.report);
  EXPECT_TRUE(b.ok()) << b.status().toString();
  if (a.ok()) p.fp32 = a.value();
  if (b.ok()) p.int8 = b.value();
  return p;
}

// Output `name` of both engines of `p` on the CPU backend for one fresh random input `x`.
struct BothOutputs {
  HostTensor fp32, int8;
};
Result<BothOutputs> runBoth(const Pair& p, const Dims& x, std::mt19937& r, const char* name) {
  const HostTensor in = randomTensor(DataType::kFloat32, x, r);
  EDGERT_ASSIGN_OR_RETURN(auto a, runEngineBytes(p.fp32, {{"x", &in}}, Backend::kCpu));
  EDGERT_ASSIGN_OR_RETURN(auto b, runEngineBytes(p.int8, {{"x", &in}}, Backend::kCpu));
  return BothOutputs{std::move(a.at(name)), std::move(b.at(name))};
}

TEST(Int8Math, RoundsHalfToEvenAndSaturates) {
  EXPECT_EQ(saturateToInt8(2.5f), 2);
  EXPECT_EQ(saturateToInt8(3.5f), 4);
  EXPECT_EQ(saturateToInt8(-2.5f), -2);
  EXPECT_EQ(saturateToInt8(1000.f), 127);
  EXPECT_EQ(saturateToInt8(-1000.f), -128);
  EXPECT_EQ(saturateToInt8(NAN), 0);
  EXPECT_EQ(saturateToUInt8(-3.f), 0);
  EXPECT_EQ(saturateToUInt8(255.5f), 255);
}

TEST(Int8Weights, PerChannelScalesRoundTripWithinHalfAStep) {
  std::mt19937 r(std::random_device{}());
  HostTensor w = randomWeights({6, 3, 3, 3}, r);
  w.mutableAs<float>()[27] = 2.5f;                              // channel 1 has a much larger range
  for (int i = 54; i < 81; ++i) w.mutableAs<float>()[i] = 0.f;  // channel 2 is all zero
  HostTensor q;
  std::vector<float> s;
  quantizeWeightsPerChannel(w, &q, &s);
  ASSERT_EQ(s.size(), 6u);
  EXPECT_FLOAT_EQ(s[1], 2.5f / 127.f);
  EXPECT_EQ(s[2], 1.f);
  for (int64_t i = 0; i < w.numel(); ++i) {
    const float sc = s[i / 27];
    EXPECT_LE(std::fabs(q.as<int8_t>()[i] * sc - w.as<float>()[i]), sc / 2 + 1e-7f) << i;
  }
  EXPECT_EQ(q.as<int8_t>()[27], 127);
}

// One convolution of each kind (dense 3x3 with padding and stride, grouped, depthwise, 1x1,
// with fused ReLU and residual) against the float engine: INT8 keeps cosine >= 0.999.
TEST(Int8Build, ConvolutionsTrackTheFloatEngine) {
  std::mt19937 r(std::random_device{}());
  struct Case {
    const char* name;
    int64_t c, m, k, group, stride, pad;
  };
  for (const Case& cs : {Case{"dense3x3", 8, 16, 3, 1, 1, 1}, Case{"strided", 8, 16, 3, 1, 2, 1},
                         Case{"grouped", 8, 16, 3, 4, 1, 1}, Case{"depthwise", 8, 8, 3, 8, 1, 1},
                         Case{"pointwise", 8, 16, 1, 1, 1, 0}}) {
    SCOPED_TRACE(cs.name);
    OnnxGraph g(13);
    const Dims x = {2, cs.c, 12, 12};
    g.input("x", DataType::kFloat32, x);
    g.constant("w", randomWeights({cs.m, cs.c / cs.group, cs.k, cs.k}, r));
    g.constant("b", randomWeights({cs.m}, r, 0.1f));
    g.node("Conv", {"x", "w", "b"}, {"y"},
           {attrInts("pads", {cs.pad, cs.pad, cs.pad, cs.pad}),
            attrInts("strides", {cs.stride, cs.stride}), attrInt("group", cs.group)});
    g.node("Relu", {"y"}, {"z"});
    g.output("z");
    Pair p = buildBoth(g.save(cs.name), x, r);
    EXPECT_EQ(p.report.int8_layers, 1u);
    EXPECT_EQ(p.report.quantize_layers, 1u);
    auto o = runBoth(p, x, r, "z");
    ASSERT_TRUE(o.ok()) << o.status().toString();
    EXPECT_GT(cosine(o->fp32, o->int8), 0.999);
    EXPECT_LT(relativeL2(o->int8, o->fp32), 0.03);
  }
}

// conv -> conv (int8 between them, no Quantize layer) with a residual from the first conv.
TEST(Int8Build, ChainsStayInInt8WithResidual) {
  std::mt19937 r(std::random_device{}());
  OnnxGraph g(13);
  const Dims x = {1, 8, 10, 10};
  g.input("x", DataType::kFloat32, x);
  g.constant("w1", randomWeights({8, 8, 3, 3}, r));
  g.constant("w2", randomWeights({8, 8, 3, 3}, r));
  g.constant("w3", randomWeights({4, 8, 1, 1}, r));
  const auto pads = attrInts("pads", {1, 1, 1, 1});
  g.node("Conv", {"x", "w1"}, {"a"}, {pads});
  g.node("Relu", {"a"}, {"ar"});
  g.node("Conv", {"ar", "w2"}, {"b"}, {pads});
  g.node("Add", {"b", "ar"}, {"c"});
  g.node("Relu", {"c"}, {"cr"});
  g.node("Conv", {"cr", "w3"}, {"y"});
  g.output("y");
  Pair p = buildBoth(g.save("int8_chain"), x, r);
  EXPECT_EQ(p.report.int8_layers, 3u);
  EXPECT_EQ(p.report.quantize_layers, 1u);  // only the network input
  auto o = runBoth(p, x, r, "y");
  ASSERT_TRUE(o.ok()) << o.status().toString();
  EXPECT_GT(cosine(o->fp32, o->int8), 0.995);
}

// A stem (stride-2 conv + ReLU) -> MaxPool -> conv: the pool runs on int8 with the scale of its
// output (the stem writes int8 straight away, no QuantizeLinear after the pool); a pool whose
// output is also a network output stays float.
TEST(Int8Build, MaxPoolBetweenInt8LayersRunsOnInt8) {
  std::mt19937 r(std::random_device{}());
  for (const bool pool_is_output : {false, true}) {
    SCOPED_TRACE(pool_is_output ? "pool output is a network output" : "int8 pool");
    OnnxGraph g(13);
    const Dims x = {2, 3, 20, 20};
    g.input("x", DataType::kFloat32, x);
    g.constant("w1", randomWeights({16, 3, 7, 7}, r));
    g.constant("w2", randomWeights({8, 16, 1, 1}, r));
    g.node("Conv", {"x", "w1"}, {"a"},
           {attrInts("pads", {3, 3, 3, 3}), attrInts("strides", {2, 2})});
    g.node("Relu", {"a"}, {"ar"});
    g.node("MaxPool", {"ar"}, {"p"},
           {attrInts("kernel_shape", {3, 3}), attrInts("strides", {2, 2}),
            attrInts("pads", {1, 1, 1, 1})});
    g.node("Conv", {"p", "w2"}, {"y"});
    g.output("y");
    if (pool_is_output) g.output("p");
    Pair p = buildBoth(g.save(pool_is_output ? "int8_pool_out" : "int8_pool"), x, r);
    EXPECT_EQ(p.report.int8_layers, 2u);
    EXPECT_EQ(p.report.int8_pools, pool_is_output ? 0u : 1u);
    EXPECT_EQ(p.report.quantize_layers, pool_is_output ? 2u : 1u);
    auto o = runBoth(p, x, r, "y");
    ASSERT_TRUE(o.ok()) << o.status().toString();
    EXPECT_GT(cosine(o->fp32, o->int8), 0.995);
  }
}

TEST(Int8Build, GemmAndMatMulWithConstantWeights) {
  std::mt19937 r(std::random_device{}());
  OnnxGraph g(13);
  const Dims x = {3, 32};
  g.input("x", DataType::kFloat32, x);
  g.constant("w", randomWeights({16, 32}, r));
  g.constant("c", randomWeights({16}, r, 0.1f));
  g.constant("m", randomWeights({16, 10}, r));
  g.node("Gemm", {"x", "w", "c"}, {"h"}, {attrInt("transB", 1), attrFloat("alpha", 0.5f)});
  g.node("Relu", {"h"}, {"hr"});
  g.node("MatMul", {"hr", "m"}, {"y"});
  g.output("y");
  // Few values per sample: the range of many samples, not a histogram method.
  BuildOptions minmax;
  minmax.calib_algo = "minmax";
  Pair p = buildBoth(g.save("int8_gemm"), x, r, 64, minmax);
  EXPECT_EQ(p.report.int8_layers, 2u);
  auto o = runBoth(p, x, r, "y");
  ASSERT_TRUE(o.ok()) << o.status().toString();
  EXPECT_GT(cosine(o->fp32, o->int8), 0.995);
}

// Non-negative tensors (ReLU, Clip(0, 6) outputs) are stored with zero point -128 and all 256
// codes, where every reader can pad with the zero point: a depthwise convolution with padding
// can, a padded dense one (one group) cannot, so a tensor it reads stays symmetric. Unsigned
// storage halves those tensors' rounding step, so the INT8 network tracks the float one more
// closely than with EDGERT_INT8_SYMMETRIC=1 (every tensor symmetric).
TEST(Int8Build, NonNegativeTensorsAreStoredUnsigned) {
  std::mt19937 r(std::random_device{}());
  OnnxGraph g(13);
  const Dims x = {2, 8, 12, 12};
  g.input("x", DataType::kFloat32, x);
  g.constant("w1", randomWeights({16, 8, 3, 3}, r));
  g.constant("w2", randomWeights({16, 1, 3, 3}, r, 1.f));
  g.constant("w3", randomWeights({8, 16, 1, 1}, r));
  g.constant("w4", randomWeights({8, 16, 3, 3}, r));
  g.constant("lo", scalarF(0.f));
  g.constant("hi", scalarF(6.f));
  const auto pads = attrInts("pads", {1, 1, 1, 1});
  g.node("Conv", {"x", "w1"}, {"a"}, {pads});
  g.node("Clip", {"a", "lo", "hi"}, {"a6"});
  g.node("Conv", {"a6", "w2"}, {"b"}, {pads, attrInt("group", 16)});
  g.node("Relu", {"b"}, {"br"});
  g.node("Conv", {"br", "w3"}, {"c"});
  g.node("Conv", {"br", "w4"}, {"d"}, {pads});
  g.output("c");
  g.output("d");
  const std::string model = g.save("int8_unsigned");
  const uint32_t seed = r();
  auto errors = [&](bool symmetric, size_t* unsigned_tensors) {
    if (symmetric) setenv("EDGERT_INT8_SYMMETRIC", "1", 1);
    std::mt19937 same(seed);  // the same calibration and test inputs both times
    Pair p = buildBoth(model, x, same, 16);
    unsetenv("EDGERT_INT8_SYMMETRIC");
    EXPECT_EQ(p.report.int8_layers, 4u);
    *unsigned_tensors = p.report.int8_unsigned_tensors;
    double err = 0;
    for (int i = 0; i < 4; ++i) {
      auto o = runBoth(p, x, same, "c");
      EXPECT_TRUE(o.ok()) << o.status().toString();
      if (!o.ok()) return 1.0;
      EXPECT_GT(cosine(o->fp32, o->int8), 0.995);
      err += relativeL2(o->int8, o->fp32) / 4;
    }
    return err;
  };
  size_t uns = 0, sym = 0;
  const double e_uns = errors(false, &uns), e_sym = errors(true, &sym);
  EXPECT_EQ(uns, 1u);  // a6; br is read by the padded dense convolution
  EXPECT_EQ(sym, 0u);
  EXPECT_LT(e_uns, e_sym) << "unsigned " << e_uns << ", symmetric " << e_sym;
}

namespace {

// An INT8 CPU engine of `model` calibrated by minmax on copies of `calib`, with the environment
// variable `off` (a step to compare without) set to 1 during the build when given.
Result<std::vector<uint8_t>> buildMinmaxInt8(const std::string& model,
                                             const std::vector<HostTensor>& calib, const char* off,
                                             BuildReport* rep) {
  if (off) setenv(off, "1", 1);
  BuildOptions o;
  o.target = "cpu";
  o.precision = "int8";
  o.calib_algo = "minmax";
  std::vector<HostTensor> samples;
  for (const HostTensor& t : calib) samples.push_back(t.clone());
  o.calibration = std::make_shared<MemorySource>(std::move(samples));
  auto int8 = buildEngine(model, o, rep);
  if (off) unsetenv(off);
  return int8;
}

}  // namespace

// Bias correction: inputs with a large mean (uniform in [2, 4]) turn each weight's rounding error
// into a shift of its output's mean; the bias takes it back, so the INT8 layer's per-channel
// mean error shrinks to the noise of the activations' rounding.
TEST(Int8Build, BiasCorrectionRemovesTheMeanShiftOfRoundedWeights) {
  std::mt19937 r(std::random_device{}());
  OnnxGraph g(13);
  const Dims x = {1, 32, 8, 8};
  g.input("x", DataType::kFloat32, x);
  g.constant("w", randomWeights({16, 32, 1, 1}, r));
  g.node("Conv", {"x", "w"}, {"y"});
  g.output("y");
  const std::string model = g.save("int8_bias_correction");
  BuildOptions f;
  f.target = "cpu";
  auto fp32 = buildEngine(model, f);
  ASSERT_TRUE(fp32.ok()) << fp32.status().toString();
  std::vector<HostTensor> calib, test;
  for (int i = 0; i < 16; ++i) calib.push_back(randomTensor(DataType::kFloat32, x, r, 2.f, 4.f));
  for (int i = 0; i < 8; ++i) test.push_back(randomTensor(DataType::kFloat32, x, r, 2.f, 4.f));
  auto meanError = [&](bool correct, size_t* corrected) {
    BuildReport rep;
    auto int8 =
        buildMinmaxInt8(model, calib, correct ? nullptr : "EDGERT_INT8_NO_BIAS_CORRECTION", &rep);
    EXPECT_TRUE(int8.ok()) << int8.status().toString();
    if (!int8.ok()) return 1.0;
    *corrected = rep.int8_bias_corrected;
    std::vector<double> diff(16, 0.0);  // per output channel: mean of int8 - fp32
    for (const HostTensor& in : test) {
      auto a = runEngineBytes(fp32.value(), {{"x", &in}}, Backend::kCpu);
      auto b = runEngineBytes(int8.value(), {{"x", &in}}, Backend::kCpu);
      EXPECT_TRUE(a.ok() && b.ok());
      if (!a.ok() || !b.ok()) return 1.0;
      const float* fa = a->at("y").as<float>();
      const float* fb = b->at("y").as<float>();
      for (int64_t i = 0; i < 16 * 64; ++i) diff[i / 64] += (fb[i] - fa[i]) / (64.0 * test.size());
    }
    double mean_abs = 0;
    for (double d : diff) mean_abs += std::fabs(d) / 16;
    return mean_abs;
  };
  size_t with_n = 0, without_n = 0;
  const double with = meanError(true, &with_n), without = meanError(false, &without_n);
  EXPECT_EQ(with_n, 1u);
  EXPECT_EQ(without_n, 0u);
  EXPECT_LT(with, 0.5 * without) << "corrected " << with << ", uncorrected " << without;
}

// Adaptive rounding: a depthwise layer on smooth inputs (a random level and slope per sample
// and channel, as in images) sees windows whose values move together, so what costs is the
// sum of a window's weight errors; rounding against the window covariance cancels it, where
// nearest rounding leaves it to chance. The inputs are integers in [-127, 127], 127 included,
// so minmax calibration quantises them exactly and the weights' rounding is all the error.
TEST(Int8Build, AdaptiveRoundingCancelsWeightErrorsOverCorrelatedWindows) {
  std::mt19937 r(std::random_device{}());
  OnnxGraph g(13);
  const int64_t C = 32, H = 12, W = 12;
  const Dims x = {1, C, H, W};
  g.input("x", DataType::kFloat32, x);
  g.constant("w", randomWeights({C, 1, 3, 3}, r, 1.f));
  g.node("Conv", {"x", "w"}, {"y"}, {attrInts("pads", {1, 1, 1, 1}), attrInt("group", C)});
  g.output("y");
  const std::string model = g.save("int8_adaptive_rounding");
  auto smooth = [&](std::mt19937& rr) {
    std::uniform_real_distribution<float> level(-60.f, 60.f), slope(-2.f, 2.f), noise(-.5f, .5f);
    HostTensor t = HostTensor::create(DataType::kFloat32, x).value();
    float* v = t.mutableAs<float>();
    for (int64_t c = 0; c < C; ++c) {
      const float a = level(rr), dy = slope(rr), dx = slope(rr);
      for (int64_t i = 0; i < H * W; ++i)
        v[c * H * W + i] = std::round(a + dy * (i / W) + dx * (i % W) + noise(rr));
    }
    v[0] = 127.f;
    return t;
  };
  BuildOptions f;
  f.target = "cpu";
  auto fp32 = buildEngine(model, f);
  ASSERT_TRUE(fp32.ok()) << fp32.status().toString();
  std::vector<HostTensor> calib, test;
  for (int i = 0; i < 32; ++i) calib.push_back(smooth(r));
  for (int i = 0; i < 8; ++i) test.push_back(smooth(r));
  auto error = [&](bool adaptive, size_t* rounded) {
    BuildReport rep;
    auto int8 = buildMinmaxInt8(model, calib,
                                adaptive ? nullptr : "EDGERT_INT8_NO_ADAPTIVE_ROUNDING", &rep);
    EXPECT_TRUE(int8.ok()) << int8.status().toString();
    if (!int8.ok()) return 1.0;
    *rounded = rep.int8_adaptively_rounded;
    double err = 0;
    for (const HostTensor& in : test) {
      auto a = runEngineBytes(fp32.value(), {{"x", &in}}, Backend::kCpu);
      auto b = runEngineBytes(int8.value(), {{"x", &in}}, Backend::kCpu);
      EXPECT_TRUE(a.ok() && b.ok());
      if (!a.ok() || !b.ok()) return 1.0;
      err += relativeL2(b->at("y"), a->at("y")) / static_cast<double>(test.size());
    }
    return err;
  };
  size_t with_n = 0, without_n = 0;
  const double with = error(true, &with_n), without = error(false, &without_n);
  EXPECT_EQ(with_n, 1u);
  EXPECT_EQ(without_n, 0u);
  EXPECT_LT(with, 0.7 * without) << "adaptive " << with << ", nearest " << without;
}

// Cross-layer equalisation changes the weights, not the function, and leaves both layers'
// per-channel weight ranges equal.
TEST(Int8Equalize, KeepsTheFunctionAndEqualisesRanges) {
  std::mt19937 r(std::random_device{}());
  OnnxGraph og(13);
  const Dims x = {2, 4, 9, 9};
  og.input("x", DataType::kFloat32, x);
  HostTensor w1 = randomWeights({4, 4, 1, 1}, r);
  for (int i = 0; i < 4; ++i) w1.mutableAs<float>()[i] *= 30.f;  // channel 0 is large
  og.constant("w1", w1);
  og.constant("b1", randomWeights({4}, r));
  og.constant("w2", randomWeights({4, 1, 3, 3}, r));
  og.node("Conv", {"x", "w1", "b1"}, {"a"});
  og.node("Relu", {"a"}, {"ar"});
  og.node("Conv", {"ar", "w2"}, {"y"}, {attrInt("group", 4), attrInts("pads", {1, 1, 1, 1})});
  og.output("y");
  auto im = importOnnx(og.save("cle"));
  ASSERT_TRUE(im.ok()) << im.status().toString();
  Graph g = std::move(im->graph);
  PassStats stats;
  ASSERT_TRUE(inferAndFold(g, stats, {}).ok());
  fuseConvEpilogues(g, stats);
  Graph eq = g;
  EXPECT_EQ(equalizeCrossLayer(eq), 1u);
  std::vector<HostTensor> s;
  for (int i = 0; i < 2; ++i) s.push_back(randomTensor(DataType::kFloat32, {1, 4, 9, 9}, r));
  MemorySource src(std::move(s));
  auto before = runOnSamples(g, src, 1);
  auto after = runOnSamples(eq, src, 1);
  ASSERT_TRUE(before.ok() && after.ok()) << before.status().toString() << after.status().toString();
  EXPECT_GT(minCosine(g, before.value(), after.value()), 1 - 1e-9);
  const HostTensor& a1 = *eq.tensors[eq.nodes[0].inputs[1]].constant;
  const HostTensor& a2 = *eq.tensors[eq.nodes[1].inputs[1]].constant;
  for (int c = 0; c < 4; ++c) {
    float r1 = 0, r2 = 0;
    for (int i = 0; i < 4; ++i) r1 = std::max(r1, std::fabs(a1.as<float>()[c * 4 + i]));
    for (int i = 0; i < 9; ++i) r2 = std::max(r2, std::fabs(a2.as<float>()[c * 9 + i]));
    EXPECT_NEAR(r1, r2, 1e-4f * r1) << c;
  }
}

// Calibration runs the float network on the GPU when there is one: its thresholds must be
// the CPU reference's (the float results differ in the last bits only).
TEST(Int8Calibration, GpuThresholdsMatchTheCpu) {
  if (!cudaAvailable().ok()) GTEST_SKIP() << "no GPU: " << cudaAvailable().message();
  std::mt19937 r(std::random_device{}());
  OnnxGraph og(13);
  const Dims x = {2, 8, 16, 16};
  og.input("x", DataType::kFloat32, x);
  og.constant("w1", randomWeights({16, 8, 3, 3}, r));
  og.constant("w2", randomWeights({8, 16, 1, 1}, r));
  og.node("Conv", {"x", "w1"}, {"a"}, {attrInts("pads", {1, 1, 1, 1})});
  og.node("Relu", {"a"}, {"ar"});
  og.node("Conv", {"ar", "w2"}, {"y"});
  og.output("y");
  auto im = importOnnx(og.save("gpu_calib"));
  ASSERT_TRUE(im.ok());
  Graph g = std::move(im->graph);
  PassStats stats;
  ASSERT_TRUE(inferAndFold(g, stats, {}).ok());
  fuseConvEpilogues(g, stats);
  std::vector<HostTensor> s;
  for (int i = 0; i < 8; ++i) s.push_back(randomTensor(DataType::kFloat32, {1, 8, 16, 16}, r));
  MemorySource src(std::move(s));
  for (CalibAlgo algo : {CalibAlgo::kMinMax, CalibAlgo::kPercentile}) {
    auto gpu = calibrate(g, src, 0, algo, 99.9, {}, true);
    auto cpu = calibrate(g, src, 0, algo, 99.9, {}, false);
    ASSERT_TRUE(gpu.ok() && cpu.ok()) << gpu.status().toString() << cpu.status().toString();
    EXPECT_EQ(gpu->backend, "cuda");
    EXPECT_EQ(cpu->backend, "cpu");
    ASSERT_EQ(gpu->thresholds.size(), cpu->thresholds.size());
    for (const auto& [name, t] : cpu->thresholds) {
      // A percentile lands on a bin edge: one bin of 2048 apart at most.
      EXPECT_NEAR(gpu->thresholds.at(name), t, t * 1e-3) << name;
    }
  }
}

// --int8-min-top1's measure: per sample (dim 0 of the input binding), does the first output's
// arg-max agree? Random scores, then some samples' winners moved in the second run.
TEST(Int8Calibration, Top1AgreementComparesEachSamplesArgMax) {
  std::mt19937 r(std::random_device{}());
  Graph g;
  TensorEntry t;
  t.name = "x";
  t.dims = {4, 3};
  g.tensors.push_back(t);
  Binding b;
  b.tensor = 0;
  b.is_input = true;
  g.bindings.push_back(b);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  BatchOutputs a(2), c;
  for (auto& batch : a) {
    batch.resize(2);  // a first output of 4 samples x 10 classes, and a second one ignored
    for (auto& o : batch) {
      o.resize(40);
      for (float& v : o) v = u(r);
    }
  }
  c = a;
  EXPECT_EQ(top1Agreement(g, a, c), (std::pair<double, int64_t>{1.0, 8}));
  // Sample 1 of batch 0 and sample 3 of batch 1 get a new winner; a second-output change and a
  // change below the winner do not count.
  auto moveWinner = [](std::vector<float>& v, size_t from) {
    const size_t top = std::max_element(v.begin() + from, v.begin() + from + 10) - v.begin();
    v[from + (top - from + 1) % 10] = 5.f;
  };
  moveWinner(c[0][0], 10);
  moveWinner(c[1][0], 30);
  c[1][1][0] = 9.f;
  auto& s2 = c[0][0];
  const auto top = std::max_element(s2.begin() + 20, s2.begin() + 30);
  *std::min_element(s2.begin() + 20, s2.begin() + 30) = *top - 0.5f;
  const auto got = top1Agreement(g, a, c);
  EXPECT_EQ(got.second, 8);
  EXPECT_DOUBLE_EQ(got.first, 6.0 / 8);
}

TEST(Int8Build, LayerPrecisionsKeepLayersInFloatAndUnknownNamesAreErrors) {
  std::mt19937 r(std::random_device{}());
  OnnxGraph g(13);
  const Dims x = {1, 4, 6, 6};
  g.input("x", DataType::kFloat32, x);
  g.constant("w", randomWeights({4, 4, 1, 1}, r));
  g.node("Conv", {"x", "w"}, {"y"});
  g.proto().mutable_graph()->mutable_node(0)->set_name("the_conv");
  g.output("y");
  const std::string path = g.save("int8_override");
  BuildOptions o;
  o.layer_precisions["the_conv"] = "fp16";
  Pair p = buildBoth(path, x, r, 2, o);
  EXPECT_EQ(p.report.int8_layers, 0u);
  ASSERT_EQ(p.report.int8_kept_float.size(), 1u);
  o.layer_precisions = {{"no_such_layer", "fp16"}, {"other", "fp32"}};
  o.precision = "int8";
  o.target = "cpu";
  std::vector<HostTensor> one;
  one.push_back(randomTensor(DataType::kFloat32, x, r));
  o.calibration = std::make_shared<MemorySource>(std::move(one));
  auto b = buildEngine(path, o);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("'no_such_layer', 'other'"), std::string::npos)
      << b.status().message();
}

TEST(Int8Build, WithoutCalibrationDataTheErrorSaysWhatToGive) {
  OnnxGraph g(13);
  std::mt19937 r(1);
  g.input("x", DataType::kFloat32, {1, 4, 6, 6});
  g.constant("w", randomWeights({4, 4, 1, 1}, r));
  g.node("Conv", {"x", "w"}, {"y"});
  g.output("y");
  BuildOptions o;
  o.precision = "int8";
  o.target = "cpu";
  auto b = buildEngine(g.save("int8_nocalib"), o);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("--calib-dir"), std::string::npos) << b.status().message();
}

}  // namespace

namespace {

HostTensor zerosI8(const Dims& d) {
  return HostTensor::create(DataType::kInt8, d).value();
}

// x -> Q -> DQ -> (layer with DQ(int8 weights)) -> [Relu] -> Q -> DQ -> y, as PyTorch's Q/DQ
// export writes it. `matmul`: a MatMul with [K, N] weights and per-column scales (axis 1).
std::string qdqModel(bool matmul, std::mt19937& r, const char* name) {
  OnnxGraph g(13);
  const Dims x = matmul ? Dims{2, 16} : Dims{1, 4, 8, 8};
  const Dims wd = matmul ? Dims{16, 8} : Dims{8, 4, 3, 3};
  const int64_t outs = 8;
  g.input("x", DataType::kFloat32, x);
  g.constant("sx", scalarF(0.02f));
  g.constant("zx", zerosI8({}));
  g.constant("sy", scalarF(0.05f));
  HostTensor wq = HostTensor::create(DataType::kInt8, wd).value();
  std::uniform_int_distribution<int> d(-127, 127);
  for (int64_t i = 0; i < wq.numel(); ++i) wq.mutableAs<int8_t>()[i] = static_cast<int8_t>(d(r));
  g.constant("wq", wq);
  HostTensor sw = HostTensor::create(DataType::kFloat32, {outs}).value();
  for (int64_t i = 0; i < outs; ++i) sw.mutableAs<float>()[i] = 0.002f * (i + 1);
  g.constant("sw", sw);
  g.constant("zw", zerosI8({outs}));
  g.node("QuantizeLinear", {"x", "sx", "zx"}, {"xq"});
  g.node("DequantizeLinear", {"xq", "sx", "zx"}, {"xd"});
  g.node("DequantizeLinear", {"wq", "sw", "zw"}, {"w"}, {attrInt("axis", matmul ? 1 : 0)});
  if (matmul) {
    g.node("MatMul", {"xd", "w"}, {"h"});
  } else {
    g.constant("b", randomWeights({outs}, r, 0.1f));
    g.node("Conv", {"xd", "w", "b"}, {"h"}, {attrInts("pads", {1, 1, 1, 1})});
  }
  g.node("Relu", {"h"}, {"hr"});
  g.node("QuantizeLinear", {"hr", "sy", "zx"}, {"yq"});
  g.node("DequantizeLinear", {"yq", "sy", "zx"}, {"y"});
  g.output("y");
  return g.save(name);
}

}  // namespace

// Explicit quantisation: the model's scales are used as given, without calibration, and the
// INT8 engine computes what the Q/DQ graph says (the float engine runs those ops one by one):
// at most one output step apart, nearly always equal.
TEST(Int8Explicit, QdqModelsBuildIntoInt8LayersThatHonourTheirScales) {
  std::mt19937 r(std::random_device{}());
  for (bool matmul : {false, true}) {
    SCOPED_TRACE(matmul ? "MatMul" : "Conv");
    const std::string path = qdqModel(matmul, r, matmul ? "qdq_matmul" : "qdq_conv");
    BuildOptions f;
    f.target = "cpu";
    auto a = buildEngine(path, f);
    BuildOptions q = f;
    q.precision = "int8";  // no calibration source: none is needed
    BuildReport rep;
    auto b = buildEngine(path, q, &rep);
    ASSERT_TRUE(a.ok() && b.ok()) << a.status().toString() << b.status().toString();
    EXPECT_TRUE(rep.int8_explicit);
    EXPECT_EQ(rep.int8_layers, 1u);
    // The input pair becomes the INT8 layer's quantisation: Conv: Q, QConv (+Relu), then the
    // output pair, which only the graph output reads, stays the model's fake quantisation (Q,
    // DQ). MatMul has no fused activation: Q, QConv, Relu, Q, DQ.
    EXPECT_EQ(rep.layers, matmul ? 5u : 4u);
    const Dims x = matmul ? Dims{2, 16} : Dims{1, 4, 8, 8};
    const HostTensor in = randomTensor(DataType::kFloat32, x, r, -2.f, 2.f);
    auto ya = runEngineBytes(a.value(), {{"x", &in}}, Backend::kCpu);
    auto yb = runEngineBytes(b.value(), {{"x", &in}}, Backend::kCpu);
    ASSERT_TRUE(ya.ok() && yb.ok());
    const HostTensor &A = ya->at("y"), &B = yb->at("y");
    int64_t same = 0;
    for (int64_t i = 0; i < A.numel(); ++i) {
      const float d = std::fabs(A.as<float>()[i] - B.as<float>()[i]);
      EXPECT_LE(d, 0.05f + 1e-6f) << i;
      same += d < 1e-6f;
    }
    EXPECT_GE(same, A.numel() * 97 / 100);
  }
}

namespace {

// x -> Conv 3x3 -> BatchNormalization -> Relu -> a; a -> Conv 1x1 -> Add(a) -> Relu -> Conv 1x1
// -> Gemm-free head y: a residual, a batch norm to fold, padding, unsigned ReLU outputs.
std::string residualModel(std::mt19937& r) {
  OnnxGraph g(11);  // below 13: the export raises the opset
  g.input("x", DataType::kFloat32, {1, 4, 8, 8});
  g.constant("w1", randomWeights({8, 4, 3, 3}, r));
  g.constant("bn_s", randomWeights({8}, r, 1.f));
  g.constant("bn_b", randomWeights({8}, r, 0.2f));
  g.constant("bn_m", randomWeights({8}, r, 0.1f));
  HostTensor var = randomWeights({8}, r, 0.5f);
  for (int64_t i = 0; i < 8; ++i) var.mutableAs<float>()[i] = 0.6f + std::fabs(var.as<float>()[i]);
  g.constant("bn_v", var);
  g.constant("w2", randomWeights({8, 8, 1, 1}, r));
  g.constant("b2", randomWeights({8}, r, 0.1f));
  g.constant("w3", randomWeights({6, 8, 1, 1}, r));
  g.node("Conv", {"x", "w1"}, {"c1"}, {attrInts("pads", {1, 1, 1, 1})});
  g.node("BatchNormalization", {"c1", "bn_s", "bn_b", "bn_m", "bn_v"}, {"n1"});
  g.node("Relu", {"n1"}, {"a"});
  g.node("Conv", {"a", "w2", "b2"}, {"c2"});
  g.node("Add", {"c2", "a"}, {"s"});
  g.node("Relu", {"s"}, {"b"});
  g.node("Conv", {"b", "w3"}, {"y"});
  g.output("y");
  return g.save("qdq_export_residual");
}

}  // namespace

// edgert quantize's export (issue #12) reads back into the engine its calibration cache builds,
// bit for bit, with activations symmetric (TensorRT's form) or unsigned; the batch norm is
// folded and the opset raised to 13.
TEST(QdqExport, RoundTripBuildsTheEngineOfTheCalibrationCache) {
  std::mt19937 r(std::random_device{}());
  const std::string model = residualModel(r);
  std::vector<HostTensor> calib;
  for (int i = 0; i < 6; ++i)
    calib.push_back(randomTensor(DataType::kFloat32, {1, 4, 8, 8}, r, -2.f, 2.f));
  const std::string cache = model + ".calib";
  std::remove(cache.c_str());
  for (bool symmetric : {true, false}) {
    SCOPED_TRACE(symmetric ? "symmetric" : "unsigned");
    BuildOptions o;
    o.target = "cpu";
    o.precision = "int8";
    o.calib_algo = "minmax";
    o.calib_cache = cache;
    o.int8_symmetric = symmetric;
    std::vector<HostTensor> samples;
    for (const HostTensor& t : calib) samples.push_back(t.clone());
    o.calibration = std::make_shared<MemorySource>(std::move(samples));
    const std::string qdq = model + (symmetric ? ".s.onnx" : ".u.onnx");
    QdqExportReport rep;
    Status st = exportQdqOnnx(model, qdq, o, &rep);
    ASSERT_TRUE(st.ok()) << st.toString();
    EXPECT_EQ(rep.int8_layers, 3u);
    EXPECT_EQ(rep.folded_batch_norms, 1u);
    EXPECT_EQ(rep.opset_from, 11);
    EXPECT_EQ(rep.opset_to, 13);
    // x, a (read by conv2 and, as the residual, by the Add) and b.
    EXPECT_EQ(rep.activation_pairs, 3u);
    // a and b are ReLU outputs that only unpadded convolutions read: both unsigned.
    EXPECT_EQ(rep.unsigned_pairs, symmetric ? 0u : 2u);
    BuildOptions from_qdq;
    from_qdq.target = "cpu";
    from_qdq.precision = "int8";
    BuildReport qrep;
    auto a = buildEngine(qdq, from_qdq, &qrep);
    ASSERT_TRUE(a.ok()) << a.status().toString();
    EXPECT_TRUE(qrep.int8_explicit);
    EXPECT_EQ(qrep.int8_layers, 3u);
    BuildOptions from_cache = o;
    from_cache.calibration = nullptr;
    auto b = buildEngine(model, from_cache);
    ASSERT_TRUE(b.ok()) << b.status().toString();
    for (int k = 0; k < 3; ++k) {
      const HostTensor in = randomTensor(DataType::kFloat32, {1, 4, 8, 8}, r, -2.f, 2.f);
      auto ya = runEngineBytes(a.value(), {{"x", &in}}, Backend::kCpu);
      auto yb = runEngineBytes(b.value(), {{"x", &in}}, Backend::kCpu);
      ASSERT_TRUE(ya.ok() && yb.ok());
      const HostTensor &A = ya->at("y"), &B = yb->at("y");
      ASSERT_EQ(A.numel(), B.numel());
      EXPECT_EQ(std::memcmp(A.data(), B.data(), A.bytes()), 0);
    }
  }
  std::remove(cache.c_str());
}

// A Q/DQ model may ask for an unsigned tensor only where edgert can store one: an error naming
// the tensor otherwise (here the network input, which no INT8 layer writes).
TEST(Int8Explicit, UnsignedWhereEdgertCannotStoreItIsAnError) {
  std::mt19937 r(3);
  OnnxGraph g(13);
  g.input("x", DataType::kFloat32, {1, 4, 6, 6});
  g.constant("sx", scalarF(0.02f));
  g.constant("zx", HostTensor::create(DataType::kUInt8, {}).value());
  g.constant("w", randomWeights({4, 4, 1, 1}, r));
  g.node("QuantizeLinear", {"x", "sx", "zx"}, {"xq"});
  g.node("DequantizeLinear", {"xq", "sx", "zx"}, {"xd"});
  g.node("Conv", {"xd", "w"}, {"y"});
  g.output("y");
  BuildOptions o;
  o.target = "cpu";
  o.precision = "int8";
  auto b = buildEngine(g.save("qdq_unsigned_input"), o);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("tensor 'x': the model quantises it unsigned"),
            std::string::npos)
      << b.status().message();
}
